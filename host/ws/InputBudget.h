#pragma once
// A token bucket of input bytes, shared by every connection of one session: a socket reads only
// what the bucket holds and stops reading (TCP backpressure) until it refills, so input is slowed
// down, never dropped (a paste arrives whole, just later).
//
// Threading: all methods are thread-safe (the connections of a session may sit on different
// event loops).

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>

namespace podterm::host {

class InputBudget {
 public:
  using Clock = std::chrono::steady_clock;

  // bytes_per_s > 0; burst_bytes > 0 is the most that can be read at once (the bucket starts
  // full).
  InputBudget(size_t bytes_per_s, size_t burst_bytes);

  // Bytes that may be read now.
  size_t available(Clock::time_point now = Clock::now());
  // Takes n bytes that were read (at most available(), or the bucket goes into debt).
  void consume(size_t n, Clock::time_point now = Clock::now());
  // How long until at least n bytes (capped at the burst) are available.
  std::chrono::milliseconds timeUntil(size_t n, Clock::time_point now = Clock::now());
  // What a paused reader waits for before reading again: enough for about 1/20 s of input, so
  // a throttled socket is read in a few chunks per second rather than byte by byte.
  size_t resumeThreshold() const noexcept;

  size_t bytesPerSecond() const noexcept { return rate_; }
  size_t burstBytes() const noexcept { return burst_; }

 private:
  void refillLocked(Clock::time_point now);

  const size_t rate_;
  const size_t burst_;
  std::mutex mutex_;
  double tokens_;
  Clock::time_point last_;
};

using InputBudgetPtr = std::shared_ptr<InputBudget>;

}  // namespace podterm::host
