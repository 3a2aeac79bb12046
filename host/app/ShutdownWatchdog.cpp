#include "app/ShutdownWatchdog.h"

namespace podterm::host {

ShutdownWatchdog::ShutdownWatchdog(std::chrono::milliseconds deadline,
                                   std::function<void()> on_expiry)
    : thread_([this, deadline, fn = std::move(on_expiry)] {
        std::unique_lock<std::mutex> lock(mutex_);
        if (cv_.wait_for(lock, deadline, [this] { return disarmed_; })) return;
        lock.unlock();
        fn();
      }) {}

ShutdownWatchdog::~ShutdownWatchdog() {
  disarm();
  thread_.join();
}

void ShutdownWatchdog::disarm() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    disarmed_ = true;
  }
  cv_.notify_all();
}

}  // namespace podterm::host
