#pragma once
// Waiting on conditions with a deadline, instead of sleeping and hoping.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace podterm::host::testing {

inline constexpr std::chrono::seconds kDeadline{10};

// Polls predicate until it holds or the deadline passes; returns its last value. For state that
// has no condition variable (atomics, a connection's counters).
inline bool waitUntil(const std::function<bool()>& predicate,
                      std::chrono::milliseconds deadline = kDeadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > until) return predicate();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A value-less latch with a deadline.
class Signal {
 public:
  void notify() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++count_;
    cv_.notify_all();
  }
  bool waitFor(int count = 1, std::chrono::milliseconds deadline = kDeadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, deadline, [&] { return count_ >= count; });
  }
  int count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int count_ = 0;
};

}  // namespace podterm::host::testing
