#include "fakepod_runtime.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>

#include "cgroup_limits.h"
#include "pod_names.h"
#include "sandbox.h"
#include "spawn.h"

namespace podterm::plugins::fakepod {

namespace {
constexpr int kProbeTimeoutMs = 10000;
constexpr std::chrono::seconds kDeleteTimeout{15};
constexpr std::chrono::milliseconds kWarmRetry{1000};
constexpr const char* kIsolationHint =
    " (fakepod sandboxes every pod with bubblewrap; on a trusted development machine you may set "
    "isolation = \"none\" to run shells directly on the host, as the host's user)";
}  // namespace

sdk::Result<std::unique_ptr<FakePodRuntime>> FakePodRuntime::create(const FakePodConfig& config,
                                                                    bool network_explicit) {
  std::unique_ptr<FakePodRuntime> rt(new FakePodRuntime());
  rt->ctx_.config = config;
  rt->ctx_.loop = &rt->loop_;
  FakePodConfig& c = rt->ctx_.config;

  if (c.isolation == Isolation::Bwrap) {
    rt->ctx_.bwrap = findInPath("bwrap");
    if (rt->ctx_.bwrap.empty()) {
      return sdk::Status(
          sdk::ErrorCode::Unavailable,
          std::string("fakepod: bubblewrap (bwrap) is not installed") + kIsolationHint);
    }
    if (c.network == Network::Outbound) {
      rt->ctx_.slirp = findInPath("slirp4netns");
      if (rt->ctx_.slirp.empty()) {
        if (network_explicit) {
          return sdk::Status(sdk::ErrorCode::Unavailable,
                             "fakepod: network = \"outbound\" needs slirp4netns, which is not "
                             "installed (install it, or set network = \"none\")");
        }
        c.network = Network::None;  // the default falls back to no network at all
      }
    }
  } else {
    c.network = Network::Host;
  }

  if (c.limits != LimitsMode::Off) {
    auto st = CgroupLimits::probe();
    if (st) {
      rt->ctx_.limits_active = true;
      CgroupLimits::removeStale();
    } else if (c.limits == LimitsMode::Require) {
      return sdk::Status(
          sdk::ErrorCode::Unavailable,
          "fakepod: limits = \"require\" but cgroup v1 limits are unavailable: " + st.message());
    }
  }

  std::error_code ec;
  std::filesystem::create_directories(c.data_dir + "/pods", ec);
  if (ec) {
    return sdk::Status(sdk::ErrorCode::Unavailable,
                       "fakepod: cannot create " + c.data_dir + "/pods: " + ec.message());
  }
  if (c.isolation == Isolation::Bwrap) {
    // One throw-away sandbox, binding the pods directory like a pod binds its workspace: tells
    // whether bubblewrap works here and whether the sandbox uid can reach data_dir.
    SandboxOptions probe;
    probe.bwrap = rt->ctx_.bwrap;
    probe.unshare_net = c.network != Network::Host;
    probe.host_uid = c.host_uid;
    probe.host_gid = c.host_gid;
    probe.workspace_fd = ::open((c.data_dir + "/pods").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    auto st = probeSandbox(probe, kProbeTimeoutMs);
    if (probe.workspace_fd >= 0) ::close(probe.workspace_fd);
    if (!st) {
      std::string hint = st.message().find("source path") != std::string::npos
                             ? " (every directory above " + c.data_dir +
                                   " must be searchable by the sandbox uid " +
                                   std::to_string(c.host_uid) + ": chmod o+x, or move data_dir)"
                             : std::string(kIsolationHint);
      return sdk::Status(
          sdk::ErrorCode::Unavailable,
          "fakepod: bubblewrap cannot create a sandbox here: " + st.message() + hint);
    }
  }
  // Warm sandboxes of an earlier run of this host hold no user data.
  for (const auto& entry : std::filesystem::directory_iterator(c.data_dir + "/pods", ec)) {
    if (entry.path().filename().string().rfind("warm-", 0) == 0) {
      std::filesystem::remove_all(entry.path(), ec);
    }
  }
  auto st = rt->loop_.start();
  if (!st) return st;
  if (c.warm_pool > 0) {
    FakePodRuntime* self = rt.get();
    rt->loop_.post([self] { self->refillWarmPool(); });
  }
  return rt;
}

FakePodRuntime::~FakePodRuntime() {
  std::vector<std::string> sessions;
  std::vector<std::shared_ptr<Pod>> warm;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
    for (const auto& kv : pods_) sessions.push_back(kv.first);
    warm.swap(warm_);
  }
  for (const auto& s : sessions) deletePod(s);
  std::vector<std::future<void>> done;
  for (auto& pod : warm) {
    auto promise = std::make_shared<std::promise<void>>();
    done.push_back(promise->get_future());
    loop_.post([pod, promise] { pod->terminate([promise] { promise->set_value(); }); });
  }
  for (auto& f : done) f.wait_for(kDeleteTimeout);
  loop_.stop();
}

std::shared_ptr<Pod> FakePodRuntime::find(const std::string& session_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pods_.find(session_id);
  return it == pods_.end() ? nullptr : it->second;
}

std::shared_ptr<Pod> FakePodRuntime::makePod(const std::string& session_id, const std::string& name,
                                             const std::string& dir_name) {
  // Called with mu_ held.
  return std::make_shared<Pod>(ctx_, session_id, name, dir_name, CgroupLimits::nameFor(next_id_++));
}

sdk::Status FakePodRuntime::ensurePod(const sdk::PodSpec& spec, sdk::PodObserver* observer) {
  if (spec.session_id.empty()) {
    return {sdk::ErrorCode::InvalidArgument, "fakepod: empty session id"};
  }
  std::shared_ptr<Pod> pod;
  bool fresh = false;
  bool claimed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_) return {sdk::ErrorCode::Unavailable, "fakepod: shutting down"};
    auto it = pods_.find(spec.session_id);
    if (it != pods_.end()) {
      pod = it->second;
    } else {
      std::string name = podNameFor(spec.session_id);
      bool on_disk = std::filesystem::exists(ctx_.config.data_dir + "/pods/" + name);
      for (auto w = warm_.begin(); w != warm_.end() && !on_disk; ++w) {
        if ((*w)->claim(spec.session_id, name, name)) {
          pod = *w;
          warm_.erase(w);
          claimed = true;
          break;
        }
      }
      if (!pod) {
        pod = makePod(spec.session_id, name, name);
        fresh = true;
      }
      pods_[spec.session_id] = pod;
    }
  }
  if (observer != nullptr) pod->setObserver(observer);
  if (fresh) loop_.post([pod] { pod->start(); });
  if (claimed) loop_.post([this] { refillWarmPool(); });
  return {};
}

void FakePodRuntime::refillWarmPool() {
  std::vector<std::shared_ptr<Pod>> started;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_) return;
    // Failed warm pods are dropped (and retried later) rather than handed out.
    for (auto it = warm_.begin(); it != warm_.end();) {
      if ((*it)->status().phase == sdk::PodPhase::Failed) {
        auto failed = *it;
        it = warm_.erase(it);
        failed->terminate(nullptr);
        loop_.runAfter(kWarmRetry, [this] { refillWarmPool(); });
      } else {
        ++it;
      }
    }
    while (static_cast<int>(warm_.size()) < ctx_.config.warm_pool) {
      std::string id = "warm-" + std::to_string(::getpid()) + "-" + std::to_string(next_id_);
      auto pod = makePod("", id, id);
      warm_.push_back(pod);
      started.push_back(pod);
    }
  }
  for (auto& pod : started) pod->start();
}

void FakePodRuntime::stopObserving(const std::string& session_id) {
  if (auto pod = find(session_id)) pod->stopObserving();
}

sdk::Result<sdk::PodStatus> FakePodRuntime::podStatus(const std::string& session_id) {
  if (auto pod = find(session_id)) return pod->status();
  sdk::PodStatus gone;
  gone.phase = sdk::PodPhase::Gone;
  gone.reason = "NotFound";
  return gone;
}

sdk::Result<sdk::ExecStreamPtr> FakePodRuntime::openStream(const std::string& session_id,
                                                           const sdk::StreamSpec& spec,
                                                           sdk::StreamObserver* observer) {
  auto pod = find(session_id);
  if (!pod) {
    return sdk::Status(sdk::ErrorCode::NotFound, "fakepod: no pod for session " + session_id);
  }
  if (observer == nullptr) return sdk::Status(sdk::ErrorCode::InvalidArgument, "no observer");
  sdk::Result<sdk::ExecStreamPtr> result(sdk::ErrorCode::Internal, "not run");
  // Forks happen on the loop thread (see io_loop.h).
  loop_.runSync([&] { result = pod->openStream(spec, observer); });
  return result;
}

sdk::Status FakePodRuntime::deletePod(const std::string& session_id) {
  std::shared_ptr<Pod> pod;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pods_.find(session_id);
    if (it != pods_.end()) {
      pod = it->second;
      pods_.erase(it);
    }
  }
  if (!pod) {
    // Maybe left on disk by an earlier run of the host.
    std::error_code ec;
    std::filesystem::remove_all(ctx_.config.data_dir + "/pods/" + podNameFor(session_id), ec);
    return {};
  }
  if (loop_.inLoopThread()) {
    pod->terminate(nullptr);  // cannot wait on our own thread; it finishes in the background
    return {};
  }
  auto promise = std::make_shared<std::promise<void>>();
  auto future = promise->get_future();
  loop_.post([pod, promise] { pod->terminate([promise] { promise->set_value(); }); });
  if (future.wait_for(kDeleteTimeout) != std::future_status::ready) {
    return {sdk::ErrorCode::Timeout, "fakepod: pod " + pod->name() + " did not stop in time"};
  }
  return {};
}

sdk::Result<std::vector<sdk::PodInfo>> FakePodRuntime::listPods() {
  std::vector<sdk::PodInfo> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& kv : pods_) out.push_back(kv.second->info());
  return out;
}

sdk::RuntimeCapabilities FakePodRuntime::capabilities() const {
  sdk::RuntimeCapabilities caps;
  caps.warm_pool = ctx_.config.warm_pool > 0;
  caps.resource_limits = ctx_.limits_active;
  caps.network_isolation =
      ctx_.config.isolation == Isolation::Bwrap && ctx_.config.network != Network::Host;
  caps.failure_injection = true;
  return caps;
}

}  // namespace podterm::plugins::fakepod
