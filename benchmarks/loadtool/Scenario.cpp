#include "Scenario.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "HostMetrics.h"
#include "ProcStatus.h"
#include "Terminal.h"
#include "ws/EventLoop.h"

namespace podterm::bench {
namespace {

using std::chrono::milliseconds;

// The host's rc file ends its prompt with "\$ ": "$ " for a user, "# " for root in the sandbox.
const std::vector<std::string> kPrompt = {"$ ", "# "};
// Readline erases the last character with "\b \b" or, on some terminals, "\b\e[K".
const std::vector<std::string> kErase = {"\b \b", "\b\x1b[K"};
// Output after the first prompt (bracketed paste mode, a redraw after the initial resize) is
// waited out before anything is measured.
constexpr milliseconds kSettle{300};
constexpr milliseconds kCloseWait{5000};
constexpr int kMaxNotes = 5;

double micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}
double millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}
// Output for an error message: control characters escaped, at most 200 bytes.
std::string printable(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 200)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", static_cast<unsigned char>(c));
      out += buffer;
    } else {
      out += c;
    }
  }
  return out;
}

std::string fmt(double v, int digits, const char* unit) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f %s", digits, v, unit);
  return buffer;
}

struct Slot {
  TerminalPtr term;
  bool ready = false;    // prompt seen
  bool active = false;   // still doing its workload
  bool counted = false;  // its failure was counted
  int iteration = 0;
  Clock::time_point t0{};
  uint64_t bytes0 = 0;
};

// All members are touched only on the loop thread, except done_/mutex_/cv_.
class Engine {
 public:
  Engine(const LoadOptions& o, host::EventLoop& loop) : o_(o), loop_(loop) {}

  void start() {
    wall_start_ = Clock::now();
    if (o_.host_pid > 0) idle_ = sampleHost();
    slots_.resize(static_cast<size_t>(o_.sessions));
    openMore();
  }

  // Waits for the end or the --duration cap; then closes what is left.
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const bool finished =
        cv_.wait_for(lock, std::chrono::seconds(o_.duration_s), [this] { return phase_done_; });
    if (!finished) {
      lock.unlock();
      loop_.post([this] {
        report_.aborted = true;
        for (auto& s : slots_) {
          if (s.active || (s.term && !s.ready && !s.term->client().isEnded())) fail(s, "aborted");
        }
        closeAll();
      });
      lock.lock();
      cv_.wait_for(lock, kCloseWait + std::chrono::seconds(2), [this] { return all_done_; });
    } else {
      cv_.wait_for(lock, kCloseWait + std::chrono::seconds(2), [this] { return all_done_; });
    }
  }

  // Loop thread (posted after wait()).
  void destroyTerminals() { slots_.clear(); }

  ScenarioReport takeReport() {
    report_.scenario = scenarioName(o_.scenario);
    report_.wall_s = std::chrono::duration<double>(wall_end_ - wall_start_).count();
    auto row = [this](const char* name, const char* unit, const LatencyStats& s) {
      if (s.count() > 0) report_.rows.push_back({name, unit, s.summarize()});
    };
    row("connect to 101", "ms", to_101_);
    row("connect to first prompt", "ms", to_prompt_);
    row("keystroke echo 'x'", "us", echo_x_);
    row("keystroke echo backspace", "us", echo_bs_);
    row("command round trip", "us", command_);
    report_.facts.insert(
        report_.facts.begin(),
        {"sessions ready/asked", std::to_string(ready_count_) + "/" + std::to_string(o_.sessions)});
    return std::move(report_);
  }

 private:
  // ---- open phase -------------------------------------------------------------------------
  void openMore() {
    const int limit = o_.concurrency > 0 ? o_.concurrency : o_.sessions;
    while (!stopping_ && in_flight_ < limit && next_open_ < o_.sessions) {
      openOne(next_open_++);
    }
    if (opened_done_ == o_.sessions && !open_phase_over_) {
      open_phase_over_ = true;
      if (o_.scenario == ScenarioKind::Connect) {
        closeAll();
      } else {
        loop_.runAfter(kSettle, [this] { startWorkload(); });
      }
    }
  }

  void openOne(int index) {
    Slot& s = slots_[static_cast<size_t>(index)];
    s.term = std::make_unique<Terminal>(loop_, o_.host, o_.port, sessionIdFor(o_.id_tag, index),
                                        o_.subprotocol, o_.path, o_.binary_mode);
    if (o_.no_prompt) {
      // No prompt to wait for: the session is ready when the shell has answered a command.
      Terminal* term = s.term.get();
      term->onOpen([term] { term->send("echo RE''ADY\n"); });
    }
    ++in_flight_;
    s.term->onClosed(
        [this, &s](EndReason reason, uint16_t code) { onSessionClosed(s, reason, code); });
    s.term->connect();
    if (s.term->client().isEnded()) {
      // The connect failed at once (counted in onSessionClosed); finish outside this call chain.
      loop_.post([this] { openFinished(); });
      return;
    }
    s.term->expect(readyNeedles(), timeout(), [this, &s](ExpectResult r, Clock::time_point at) {
      if (r != ExpectResult::Matched) {
        if (r == ExpectResult::Timeout) {
          fail(s, "timeout-prompt");
          if (++notes_ <= kMaxNotes)
            std::fprintf(stderr,
                         "podterm-load: %s: no prompt (upgraded: %s, %llu bytes received); "
                         "output so far: '%s' events: '%s'\n",
                         s.term->sessionId().c_str(), s.term->client().isOpen() ? "yes" : "no",
                         static_cast<unsigned long long>(s.term->client().bytesReceived()),
                         printable(s.term->firstOutput()).c_str(),
                         printable(s.term->firstEvents()).c_str());
          s.term->close();
        }
        openFinished();
        return;
      }
      s.ready = true;
      ++ready_count_;
      to_101_.add(millis(s.term->client().openedAt() - s.term->client().connectStart()));
      to_prompt_.add(millis(at - s.term->client().connectStart()));
      openFinished();
    });
  }

  void openFinished() {
    --in_flight_;
    ++opened_done_;
    openMore();
  }

  void onSessionClosed(Slot& s, EndReason reason, uint16_t code) {
    if (closing_) {
      if (reason != EndReason::ClientClosed) fail(s, std::string("close-") + endReasonName(reason));
      ++closed_count_;
      checkAllClosed();
      return;
    }
    std::string what = endReasonName(reason);
    if (reason == EndReason::ServerClosed) what += "-" + std::to_string(code);
    if (!s.counted && reason != EndReason::ClientClosed && ++notes_ <= kMaxNotes) {
      std::fprintf(stderr, "podterm-load: %s ended (%s): %s; output: %s\n",
                   s.term->sessionId().c_str(), what.c_str(), s.term->client().detail().c_str(),
                   printable(s.term->firstOutput()).c_str());
    }
    // A pending expectation has already reported Closed (and the open phase moved on).
    fail(s, what);
  }

  // ---- workload -----------------------------------------------------------------------------
  void startWorkload() {
    if (stopping_) return;
    if (o_.host_pid > 0) with_n_ = sampleHost();
    work_start_ = Clock::now();
    for (auto& s : slots_) {
      if (!s.ready || s.term->client().isEnded()) continue;
      s.active = true;
      ++active_;
    }
    if (active_ == 0) return workloadDone();
    for (auto& s : slots_) {
      if (!s.active) continue;
      switch (o_.scenario) {
        case ScenarioKind::Echo:
          echoStep(s);
          break;
        case ScenarioKind::Command:
        case ScenarioKind::Hold:
          commandStep(s);
          break;
        case ScenarioKind::Throughput:
          throughputStart(s);
          break;
        case ScenarioKind::Connect:
          break;
      }
    }
  }

  // What ends the open phase: a prompt, or the answer to `echo READY` with --no-prompt.
  std::vector<std::string> readyNeedles() const {
    if (o_.no_prompt) return {"READY"};
    return prompts();
  }
  std::vector<std::string> prompts() const { return o_.prompts.empty() ? kPrompt : o_.prompts; }

  int iterations() const { return o_.scenario == ScenarioKind::Hold ? 1 : o_.iterations; }
  milliseconds timeout() const { return milliseconds(int64_t{o_.timeout_s} * 1000); }

  void echoStep(Slot& s) {
    if (!s.active) return;
    if (s.iteration >= iterations()) return sessionDone(s);
    s.t0 = Clock::now();
    s.term->send("x");
    s.term->expect({"x"}, timeout(), [this, &s](ExpectResult r, Clock::time_point at) {
      if (!check(s, r, "timeout-echo")) return;
      echo_x_.add(micros(at - s.t0));
      s.t0 = Clock::now();
      s.term->send("\x7f");
      s.term->expect(kErase, timeout(), [this, &s](ExpectResult r2, Clock::time_point at2) {
        if (!check(s, r2, "timeout-backspace")) return;
        echo_bs_.add(micros(at2 - s.t0));
        ++s.iteration;
        echoStep(s);
      });
    });
  }

  void commandStep(Slot& s) {
    if (!s.active) return;
    if (s.iteration >= iterations()) return sessionDone(s);
    const std::string n = std::to_string(s.iteration);
    // The quotes keep the echoed command line from containing the expanded token.
    s.t0 = Clock::now();
    s.term->send("echo tok''" + n + "\n");
    // A PTY ends the line with CRLF; a pipe (--no-prompt peers) with LF.
    std::vector<std::string> token = {"tok" + n + "\r\n"};
    if (o_.no_prompt) token.push_back("tok" + n + "\n");
    s.term->expect(std::move(token), timeout(), [this, &s](ExpectResult r, Clock::time_point at) {
      if (!check(s, r, "timeout-command")) return;
      command_.add(micros(at - s.t0));
      if (o_.no_prompt) {
        ++s.iteration;
        return commandStep(s);
      }
      s.term->expect(prompts(), timeout(), [this, &s](ExpectResult r2, Clock::time_point) {
        if (!check(s, r2, "timeout-prompt-after-command")) return;
        ++s.iteration;
        commandStep(s);
      });
    });
  }

  void throughputStart(Slot& s) {
    const int64_t bytes = o_.megabytes * 1000000;
    s.t0 = Clock::now();
    s.bytes0 = s.term->textBytes();
    if (o_.host_pid > 0 && thr_cpu0_ < 0) thr_cpu0_ = cpuSeconds(o_.host_pid);
    s.term->send("head -c " + std::to_string(bytes) +
                 " /dev/zero | tr '\\0' a; echo; echo thr''put''done\n");
    const milliseconds limit = milliseconds(int64_t{o_.duration_s} * 1000);
    s.term->expect({"thrputdone"}, limit, [this, &s](ExpectResult r, Clock::time_point at) {
      if (!check(s, r, "timeout-throughput")) return;
      const uint64_t got = s.term->textBytes() - s.bytes0;
      thr_bytes_ += got;
      const double secs = std::chrono::duration<double>(at - s.t0).count();
      thr_rates_.add(static_cast<double>(got) / 1e6 / secs);
      sessionDone(s);
    });
  }

  bool check(Slot& s, ExpectResult r, const char* timeout_reason) {
    if (r == ExpectResult::Matched) return true;
    if (r == ExpectResult::Timeout) {
      if (!s.counted && ++notes_ <= kMaxNotes) {
        std::fprintf(stderr, "podterm-load: %s: %s at iteration %d; unmatched output: '%s'\n",
                     s.term->sessionId().c_str(), timeout_reason, s.iteration,
                     printable(s.term->pendingTail()).c_str());
      }
      fail(s, timeout_reason);
      s.term->close();
    }
    // Closed: counted by onSessionClosed.
    if (s.active) {
      s.active = false;
      --active_;
      if (active_ == 0) workloadDone();
    }
    return false;
  }

  void sessionDone(Slot& s) {
    if (!s.active) return;
    s.active = false;
    if (--active_ == 0) workloadDone();
  }

  void workloadDone() {
    work_end_ = Clock::now();
    const double work_s = std::chrono::duration<double>(work_end_ - work_start_).count();
    if (o_.scenario == ScenarioKind::Throughput && thr_rates_.count() > 0) {
      const Summary t = thr_rates_.summarize();
      report_.facts.push_back({"output per session (p50)", fmt(t.p50, 1, "MB/s")});
      report_.facts.push_back({"output, all sessions", fmt(thr_bytes_ / 1e6 / work_s, 1, "MB/s")});
      report_.facts.push_back({"bytes received", std::to_string(thr_bytes_)});
      const double cpu1 = o_.host_pid > 0 ? cpuSeconds(o_.host_pid) : -1;
      if (thr_cpu0_ >= 0 && cpu1 >= 0 && thr_bytes_ > 0) {
        // Clock ticks are 10 ms: meaningful for runs of a second or more.
        const double cpu = cpu1 - thr_cpu0_;
        report_.facts.push_back(
            {"host CPU", fmt(cpu, 2, "s") + " = " + fmt(cpu / (thr_bytes_ / 1e6), 4, "CPU-s/MB") +
                             " (" + fmt(cpu / (thr_bytes_ / 1e9), 2, "CPU-s/GB") + ")"});
      }
    }
    if (o_.scenario == ScenarioKind::Command && command_.count() > 0) {
      report_.facts.push_back(
          {"round trips per second", fmt(static_cast<double>(command_.count()) / work_s, 0, "/s")});
    }
    if (o_.scenario == ScenarioKind::Hold && o_.host_pid > 0) {
      const ProcSample after = sampleProcess(o_.host_pid);
      const double n = std::max(ready_count_, 1);
      const ProcSample& idle = idle_.process;
      const ProcSample& with_n = with_n_.process;
      report_.facts.push_back(
          {"host RSS idle / with N",
           fmt(idle.rss_kb / 1024.0, 1, "MiB") + " / " + fmt(with_n.rss_kb / 1024.0, 1, "MiB")});
      report_.facts.push_back(
          {"host RSS per session", fmt((with_n.rss_kb - idle.rss_kb) / n, 1, "KiB")});
      report_.facts.push_back({"host threads idle/N/after", std::to_string(idle.threads) + " / " +
                                                                std::to_string(with_n.threads) +
                                                                " / " +
                                                                std::to_string(after.threads)});
      if (idle_.terminal_state_bytes && with_n_.terminal_state_bytes) {
        // Reported apart: it grows with the sessions' output, not their number. (The RSS delta
        // can be smaller: memory freed by an earlier run is reused.)
        const double bytes = *with_n_.terminal_state_bytes - *idle_.terminal_state_bytes;
        report_.facts.push_back(
            {"terminal state per session",
             fmt(bytes / n / 1024.0, 1, "KiB (output log + screen, host count)")});
      }
      report_.facts.push_back({"host fds idle / with N",
                               std::to_string(idle.fds) + " / " + std::to_string(with_n.fds)});
      if (idle_.mem_available_kb > 0 && with_n_.mem_available_kb > 0) {
        report_.facts.push_back(
            {"machine memory per session",
             fmt((idle_.mem_available_kb - with_n_.mem_available_kb) / n / 1024.0, 2,
                 "MiB (MemAvailable drop: host + sandboxes)")});
      }
    }
    closeAll();
  }

  // ---- teardown -----------------------------------------------------------------------------
  void closeAll() {
    if (closing_) return;
    closing_ = true;
    stopping_ = true;
    wall_end_ = Clock::now();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      phase_done_ = true;
    }
    cv_.notify_all();
    for (auto& s : slots_) {
      if (!s.term || s.term->client().isEnded()) continue;
      ++to_close_;
      s.term->close();
    }
    loop_.runAfter(kCloseWait, [this] {
      for (auto& s : slots_) {
        if (s.term && !s.term->client().isEnded()) {
          fail(s, "close-timeout");
          s.term->client().abort();
        }
      }
      markAllDone();
    });
    checkAllClosed();
  }

  void checkAllClosed() {
    if (closing_ && closed_count_ >= to_close_) markAllDone();
  }

  void markAllDone() {
    std::lock_guard<std::mutex> lock(mutex_);
    all_done_ = true;
    cv_.notify_all();
  }

  void fail(Slot& s, const std::string& reason) {
    if (s.counted) return;
    s.counted = true;
    ++report_.failures[reason];
  }

  const LoadOptions& o_;
  host::EventLoop& loop_;
  std::vector<Slot> slots_;
  int next_open_ = 0, in_flight_ = 0, opened_done_ = 0, ready_count_ = 0, active_ = 0;
  int to_close_ = 0, closed_count_ = 0;
  int notes_ = 0;  // failure details printed to stderr (the first kMaxNotes only)
  bool open_phase_over_ = false, stopping_ = false, closing_ = false;
  LatencyStats to_101_, to_prompt_, echo_x_, echo_bs_, command_, thr_rates_;
  uint64_t thr_bytes_ = 0;
  double thr_cpu0_ = -1;  // host CPU seconds when the first throughput run started
  // The host (--host-pid) before the sessions and with all of them open.
  struct HostSample {
    ProcSample process;
    int64_t mem_available_kb = -1;               // the machine's: the sandboxes count too
    std::optional<double> terminal_state_bytes;  // the host's own count (hold; podterm only)
  };
  HostSample sampleHost() const {
    HostSample sample{sampleProcess(o_.host_pid), memAvailableKb(), std::nullopt};
    if (o_.scenario == ScenarioKind::Hold) {
      sample.terminal_state_bytes =
          scrapeHostMetric(o_.host, o_.port, "podterm_terminal_state_bytes");
    }
    return sample;
  }
  HostSample idle_, with_n_;
  Clock::time_point wall_start_{}, wall_end_{}, work_start_{}, work_end_{};
  ScenarioReport report_;

  std::mutex mutex_;
  std::condition_variable cv_;
  bool phase_done_ = false, all_done_ = false;
};

}  // namespace

ScenarioReport runScenario(const LoadOptions& options) {
  host::EventLoop loop("podterm-load");
  loop.start();
  Engine engine(options, loop);
  loop.post([&engine] { engine.start(); });
  engine.wait();
  // Destroy the terminals on the loop thread (they unwatch their fds), then stop it.
  std::mutex m;
  std::condition_variable cv;
  bool destroyed = false;
  loop.post([&] {
    engine.destroyTerminals();
    std::lock_guard<std::mutex> lock(m);
    destroyed = true;
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return destroyed; });
  }
  loop.stop();
  ScenarioReport report = engine.takeReport();
  std::string title = scenarioName(options.scenario);
  if (!options.label.empty()) title += " / " + options.label;
  title += ": " + std::to_string(options.sessions) + " session(s), concurrency " +
           (options.concurrency > 0 ? std::to_string(options.concurrency) : "all") + ", ";
  if (options.scenario == ScenarioKind::Throughput) {
    title += std::to_string(options.megabytes) + " MB";
  } else if (options.scenario == ScenarioKind::Hold) {
    title += "1 command each";
  } else if (options.scenario != ScenarioKind::Connect) {
    title += std::to_string(options.iterations) + " iteration(s) per session";
  } else {
    title += "time to prompt";
  }
  report.title = title;
  return report;
}

}  // namespace podterm::bench
