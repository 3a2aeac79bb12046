#pragma once
// Where host components run deferred work: the event loop in production, a manual clock in tests.

#include <chrono>
#include <cstdint>
#include <functional>

namespace podterm::host {

class Scheduler {
 public:
  using TimerId = uint64_t;
  virtual ~Scheduler() = default;
  // Runs fn soon on the scheduler's thread. Thread-safe.
  virtual void post(std::function<void()> fn) = 0;
  // Runs fn once after delay unless cancelled first. Thread-safe.
  virtual TimerId runAfter(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  // Cancelling a timer that already fired or was cancelled does nothing. Thread-safe.
  virtual void cancel(TimerId id) = 0;
};

}  // namespace podterm::host
