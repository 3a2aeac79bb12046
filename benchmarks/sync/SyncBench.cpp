// Times the sync engine on fakepod: unchanged resync of 10,000 files, one changed file among
// 10,000, the initial load of 1,000 files / 50 MB; and the naive design (a `cat` exec per file
// to read, a `cat >` exec per file to write) on the same data as the baseline.
//
//   podterm-sync-bench [--no-naive]   (--no-naive: the sync engine only, about 10 s instead of 100)

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "FakePodPlugin.h"
#include "InMemoryStorage.h"
#include "sync/PodExec.h"
#include "sync/WorkspacePaths.h"
#include "sync/WorkspaceSync.h"

namespace {

using namespace podterm;
using Clock = std::chrono::steady_clock;

// Waits for Ready through the runtime's status (polled: the benchmark has no observer thread).
class ReadyObserver : public sdk::PodObserver {
 public:
  void onPodStatus(const sdk::PodStatus& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = status.phase;
    cv_.notify_all();
  }
  bool wait() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] {
      return phase_ == sdk::PodPhase::Ready || phase_ == sdk::PodPhase::Failed;
    }) && phase_ == sdk::PodPhase::Ready;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  sdk::PodPhase phase_ = sdk::PodPhase::Pending;
};

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

sdk::Item file(const std::string& path, std::string content, int64_t mtime_ms) {
  sdk::Item item;
  item.meta.path = path;
  item.meta.size = static_cast<int64_t>(content.size());
  item.meta.mode = 0644;
  item.meta.mtime_ms = mtime_ms;
  item.meta.content_hash = host::sha256Hex(content);
  item.content = std::move(content);
  return item;
}

host::ExecResult exec(sdk::PodRuntime& rt, const std::string& session,
                      std::vector<std::string> argv, const std::string& input = {}) {
  host::ExecRequest request;
  request.argv = std::move(argv);
  return host::PodExec::run(rt, session, request, input);
}

}  // namespace

int main(int argc, char** argv) {
  bool naive_too = true;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--no-naive") {
      naive_too = false;
    } else {
      std::fprintf(stderr, "usage: podterm-sync-bench [--no-naive]\n");
      return 2;
    }
  }
  auto created = tests::fakepod::createFakePod({{"network", std::string("none")}});
  if (!created.status) {
    std::fprintf(stderr, "fakepod: %s\n", created.status.message().c_str());
    return 1;
  }
  sdk::PodRuntime& rt = *created.runtime;
  std::vector<std::string> sessions;
  std::vector<std::unique_ptr<ReadyObserver>> observers;
  auto pod = [&](const std::string& name) {
    std::string session = "user_1_ws_bench" + name + "_" + std::to_string(::getpid());
    observers.push_back(std::make_unique<ReadyObserver>());
    sdk::PodSpec spec;
    spec.session_id = session;
    rt.ensurePod(spec, observers.back().get());
    if (!observers.back()->wait()) std::fprintf(stderr, "pod %s not ready\n", name.c_str());
    sessions.push_back(session);
    return session;
  };

  // 1. 10,000 small files: load, unchanged resync, one changed file.
  {
    tests::sync::InMemoryStorage storage;
    sdk::WorkspaceId ws{"user", "bench10k"};
    for (int i = 0; i < 10000; ++i) {
      storage.put(ws,
                  file("d" + std::to_string(i % 100) + "/f" + std::to_string(i) + ".txt",
                       "content " + std::to_string(i) + std::string(200, 'x'), 1700000000000 + i));
    }
    host::WorkspaceSync sync(rt, storage);
    auto session = pod("tenk");
    host::SessionSyncState state;
    auto loaded = sync.load(session, ws, state);
    sync.syncFromPod(session, ws, state);  // stores the 100 directories
    std::vector<double> unchanged, one_changed, fresh;
    for (int i = 0; i < 7; ++i) {
      auto r = sync.syncFromPod(session, ws, state);
      unchanged.push_back(r.duration.count() / 1000.0);
    }
    // The same, a command's length apart: the listing's own CPU (find over 10,000 entries) counts
    // against the pod's 500m quota, which back-to-back resyncs use up within a 100 ms period.
    std::vector<double> spaced;
    for (int i = 0; i < 7; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      auto r = sync.syncFromPod(session, ws, state);
      spaced.push_back(r.duration.count() / 1000.0);
    }
    for (int i = 0; i < 7; ++i) {
      exec(rt, session, {"sh", "-c", "echo change >> d7/f7.txt"});
      auto r = sync.syncFromPod(session, ws, state);
      if (r.changed.size() != 1)
        std::fprintf(stderr, "expected one change: %s\n", r.summary().c_str());
      one_changed.push_back(r.duration.count() / 1000.0);
    }
    for (int i = 0; i < 3; ++i) {
      host::SessionSyncState none;  // compares with the stored manifest only
      auto r = sync.syncFromPod(session, ws, none);
      fresh.push_back(r.duration.count() / 1000.0);
    }
    // Naive: a cat exec per file (1,000 of the 10,000, scaled).
    std::optional<double> naive_1000;
    if (naive_too) {
      auto start = Clock::now();
      for (int i = 0; i < 1000; ++i) {
        exec(rt, session,
             {"cat", "--", "d" + std::to_string(i % 100) + "/f" + std::to_string(i) + ".txt"});
      }
      naive_1000 = ms(Clock::now() - start);
    }
    std::printf("10,000 files (%s)\n", loaded.summary().c_str());
    std::printf("  load, one tar exec:                     %9.1f ms\n",
                loaded.duration.count() / 1000.0);
    std::printf("  unchanged resync (median of 7):         %9.1f ms\n", median(unchanged));
    std::printf("  unchanged resync, 250 ms apart (med7):  %9.1f ms\n", median(spaced));
    std::printf("  one changed file (median of 7):         %9.1f ms\n", median(one_changed));
    std::printf("  unchanged, session knows nothing (med3): %8.1f ms\n", median(fresh));
    if (naive_1000) {
      std::printf("  naive, cat exec per file:               %9.1f ms (1,000 measured: %.1f ms)\n",
                  *naive_1000 * 10, *naive_1000);
    }
  }

  // 2. 1,000 files of 50 KB (50 MB): initial load, versus a `cat >` exec per file.
  {
    tests::sync::InMemoryStorage storage;
    sdk::WorkspaceId ws{"user", "bench50m"};
    std::vector<sdk::Item> items;
    for (int i = 0; i < 1000; ++i) {
      std::string content(50 * 1024, '\0');
      for (size_t j = 0; j < content.size(); ++j) {
        content[j] = static_cast<char>((j * 31u + static_cast<unsigned>(i)) & 0xff);
      }
      items.push_back(file("big/f" + std::to_string(i), std::move(content), 1700000000000));
      storage.put(ws, items.back());
    }
    host::WorkspaceSync sync(rt, storage);
    auto session = pod("load");
    host::SessionSyncState state;
    auto loaded = sync.load(session, ws, state);
    std::optional<double> naive;
    if (naive_too) {
      auto session2 = pod("naive");
      exec(rt, session2, {"mkdir", "big"});
      auto start = Clock::now();
      for (const auto& item : items) {
        exec(rt, session2, {"sh", "-c", "cat > \"$1\"", "sh", item.meta.path}, item.content);
      }
      naive = ms(Clock::now() - start);
    }
    auto first = sync.syncFromPod(session, ws, state);
    std::printf("1,000 files / 50 MB\n");
    std::printf("  load, one tar exec:                     %9.1f ms (%s)\n",
                loaded.duration.count() / 1000.0, loaded.summary().c_str());
    if (naive) std::printf("  naive, cat > exec per file:             %9.1f ms\n", *naive);
    std::printf("  resync after load:                      %9.1f ms\n",
                first.duration.count() / 1000.0);
  }

  for (const auto& s : sessions) {
    rt.stopObserving(s);
    rt.deletePod(s);
  }
  return 0;
}
