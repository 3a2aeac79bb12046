#pragma once
// What a reattaching client needs of one terminal's past: the OutputLog (the exact recent bytes,
// for `?since=N`) and the ScreenState (the screen and scrollback, for a replay), kept so that the
// output path pays only for a copy into the log.
//
// Why lazily: libvterm moves the whole screen buffer for every line it scrolls (about 70 KB on
// 80x24), so feeding it on the output path bounded a session's output at 11-17 MB/s against
// 109 MB/s for a bare PTY, and its buffers cost ~140 KB per session that never reattaches. Here
// the screen follows the log behind the stream instead:
// - append() copies the bytes into the log. Only when kCatchUpBytes of them have not reached the
//   screen yet does it feed them (the log still holds them), and the screen is created on first
//   use, so an idle session that printed a prompt holds no screen at all;
// - when those catch-ups come faster than one per kFloodWindow (sustained output above
//   ~1.3 MB/s, a `cat` of a big file), the older part of the backlog is skimmed (ScreenState::
//   skim: escape sequences and the cursor's line, so modes, pen and alternate screen stay right)
//   and the newest (two screenfuls, at least 16 KiB) wait; a pause in the output or a replay feeds
//   them whole, so the screen after a flood shows its end exactly; only the scrollback misses the
//   skimmed lines;
// - replay() and screen() first feed whatever the screen has not seen; resize() is queued at
//   its offset in the stream and applied when the screen reaches it.
// With a log smaller than 16 KiB there is nothing to defer from: every byte is fed at
// once (the exact, slow way).
//
// Threading: not thread-safe; the session's lock serializes every call (as for ScreenState).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "term/OutputLog.h"
#include "term/ScreenState.h"

namespace podterm::host {

class TerminalHistory {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr size_t kCatchUpBytes = 64 * 1024;
  static constexpr std::chrono::milliseconds kFloodWindow{50};

  // clock: empty for std::chrono::steady_clock (tests pass virtual time).
  TerminalHistory(int rows, int cols, size_t scrollbackLines, size_t logBytes, Clock clock = {});
  ~TerminalHistory();
  TerminalHistory(const TerminalHistory&) = delete;
  TerminalHistory& operator=(const TerminalHistory&) = delete;

  // Sanitized output, in order.
  void append(std::string_view text);
  // The client's terminal changed size from this point of the stream on.
  void resize(int rows, int cols);

  // The byte stream that rebuilds the screen on a freshly reset terminal (see ScreenState).
  std::string replay();
  // The screen as of end() (tests, diagnostics).
  const ScreenState& screen();
  OutputLog::Read readFrom(uint64_t since) const { return log_.readFrom(since); }
  // Bytes produced so far (the stream offset of the next byte).
  uint64_t end() const noexcept { return log_.end(); }

  // Heap bytes: the log as allocated, and the screen state when it exists.
  size_t logBytes() const noexcept { return log_.memoryBytes(); }
  size_t screenBytes() const;
  // Bytes the screen saw only skimmed (diagnostics, tests).
  uint64_t skimmedBytes() const noexcept { return skimmed_; }

 private:
  struct PendingResize {
    uint64_t at;  // stream offset from which the new size holds
    int rows;
    int cols;
  };
  // mayFlood: skim when the previous catch-up was less than kFloodWindow ago.
  void catchUp(bool mayFlood);
  void applyResizesDue();
  // Hands the screen bytes [fed_, fed_ + bytes.size()), applying the resizes queued inside them.
  void consume(std::string_view bytes, bool skim);
  void consumeFromLog(uint64_t until, bool skim);
  ScreenState& ensureScreen();
  std::chrono::steady_clock::time_point now() const;

  const size_t scrollback_lines_;
  const Clock clock_;
  OutputLog log_;
  std::unique_ptr<ScreenState> screen_;  // null until first needed
  int rows_;                             // the size the screen has (or starts with) at offset fed_
  int cols_;
  uint64_t fed_ = 0;  // stream offset up to which the screen has consumed the output
  uint64_t skimmed_ = 0;
  std::vector<PendingResize> resizes_;  // in stream order, all at offsets >= fed_
  const size_t catch_up_bytes_;
  const bool deferred_;  // false: the log is too small to defer from; feed every byte at once
  std::optional<std::chrono::steady_clock::time_point> last_catch_up_;
};

}  // namespace podterm::host
