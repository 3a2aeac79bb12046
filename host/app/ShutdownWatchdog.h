#pragma once
// Bounds a shutdown: unless disarmed within `deadline`, calls `on_expiry` on its own thread (the
// host logs and ends the process there, so a backend that hangs through the final syncs cannot
// keep a replica alive past its orchestrator's kill timer). Threading: construct, disarm and
// destroy on one thread; on_expiry runs on the watchdog's thread.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace podterm::host {

class ShutdownWatchdog {
 public:
  ShutdownWatchdog(std::chrono::milliseconds deadline, std::function<void()> on_expiry);
  // Disarms (if still armed) and joins the thread.
  ~ShutdownWatchdog();
  ShutdownWatchdog(const ShutdownWatchdog&) = delete;
  ShutdownWatchdog& operator=(const ShutdownWatchdog&) = delete;

  // The shutdown finished in time: on_expiry will not run (unless it already started).
  void disarm();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::thread thread_;  // last: starts after everything it uses
};

}  // namespace podterm::host
