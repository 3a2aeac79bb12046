#pragma once
// OutputCoalescer: when output read from a process goes to the host. Typed echo and prompts go at
// once. A flood (large reads close together) is held and handed over in large pieces, or after at
// most kHoldLimit: a PTY gives 2-4 KiB per read, and handing each read over costs the host a frame
// and a send and wakes the client once per read, which on two cores steals time from the very
// process producing the output.
//
// Not thread-safe: one per output channel, used on the runtime's loop thread.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace podterm::plugins::fakepod {

class OutputCoalescer {
 public:
  using Clock = std::chrono::steady_clock;
  // A read at least this large, following another within kFloodGap, means a flood.
  static constexpr size_t kLargeRead = 1024;
  static constexpr std::chrono::microseconds kFloodGap{1000};
  // Held output is handed over once it reaches this size...
  static constexpr size_t kHandOverAt = 48 * 1024;
  // ...or when the caller's timer, armed when holding() turns true, fires.
  static constexpr std::chrono::milliseconds kHoldLimit{1};

  // Output just read at `now`. Returns what to hand over now: `data` itself, everything held so
  // far (data included), or nothing (held). A returned view lives until the next call.
  std::string_view offer(std::string_view data, Clock::time_point now);
  // Everything held (the timer fired, or the channel ends); then nothing is held.
  std::string_view drain();
  // Output is held and waits for a hand-over.
  bool holding() const { return !handed_ && !held_.empty(); }
  // Frees the buffer (a flood is over): an idle stream keeps no 48 KiB around.
  void release();

 private:
  std::string held_;
  bool handed_ = false;  // held_ was handed over and is stale
  bool had_large_read_ = false;
  Clock::time_point last_large_read_{};
};

}  // namespace podterm::plugins::fakepod
