#include "term/TerminalHistory.h"

#include <algorithm>

namespace podterm::host {
namespace {

// Below this the log is too small to hold a useful backlog: the screen is fed at once.
constexpr size_t kMinDeferredLog = 16 * 1024;
constexpr size_t kMinTailBytes = 16 * 1024;
// More queued resizes than this (a client dragging its window during a long quiet backlog):
// apply them now instead of keeping a list.
constexpr size_t kMaxQueuedResizes = 32;

bool isUtf8Continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

TerminalHistory::TerminalHistory(int rows, int cols, size_t scrollbackLines, size_t logBytes,
                                 Clock clock)
    : scrollback_lines_(scrollbackLines),
      clock_(std::move(clock)),
      log_(logBytes),
      rows_(rows),
      cols_(cols),
      catch_up_bytes_(std::min(kCatchUpBytes, logBytes / 2)),
      deferred_(logBytes >= kMinDeferredLog) {}

TerminalHistory::~TerminalHistory() = default;

std::chrono::steady_clock::time_point TerminalHistory::now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

void TerminalHistory::append(std::string_view text) {
  // In pieces of at most catchUpBytes(): the backlog then never exceeds twice that, which the log
  // (at least twice as large) still holds when the screen catches up.
  while (!text.empty()) {
    const std::string_view piece = text.substr(0, deferred_ ? catch_up_bytes_ : text.size());
    text.remove_prefix(piece.size());
    if (!deferred_) {
      consume(piece, false);
      log_.append(piece);
      continue;
    }
    log_.append(piece);
    if (log_.end() - fed_ >= catch_up_bytes_) catchUp(true);
  }
}

void TerminalHistory::catchUp(bool mayFlood) {
  const auto t = now();
  const bool flooding = mayFlood && last_catch_up_ && t - *last_catch_up_ < kFloodWindow;
  last_catch_up_ = t;
  const uint64_t end = log_.end();
  if (!flooding) {
    consumeFromLog(end, false);
    return;
  }
  // Enough of the newest output to redraw the whole screen waits to be fed whole; it starts on a
  // character, since the skim before it drops text.
  const size_t cells =
      static_cast<size_t>(std::max(rows_, 1)) * static_cast<size_t>(std::max(cols_, 1));
  const size_t tail = std::min(catch_up_bytes_ / 2, std::max(kMinTailBytes, 2 * cells));
  uint64_t cut = end - std::min<uint64_t>(tail, end - fed_);
  while (cut > fed_ && isUtf8Continuation(log_.view(cut, cut + 1).first.front())) --cut;
  consumeFromLog(cut, true);
}

void TerminalHistory::consumeFromLog(uint64_t until, bool skim) {
  if (until > fed_) {
    const OutputLog::Pieces pieces = log_.view(fed_, until);
    consume(pieces.first, skim);
    consume(pieces.second, skim);
  }
  applyResizesDue();
}

void TerminalHistory::consume(std::string_view bytes, bool skim) {
  if (bytes.empty()) return;
  ScreenState& screen = ensureScreen();
  while (!bytes.empty()) {
    applyResizesDue();
    size_t n = bytes.size();
    if (!resizes_.empty()) n = std::min<uint64_t>(n, resizes_.front().at - fed_);
    const std::string_view part = bytes.substr(0, n);
    if (skim) {
      screen.skim(part);
      skimmed_ += n;
    } else {
      screen.feed(part);
    }
    fed_ += n;
    bytes.remove_prefix(n);
  }
  applyResizesDue();
}

void TerminalHistory::applyResizesDue() {
  while (!resizes_.empty() && resizes_.front().at <= fed_) {
    rows_ = resizes_.front().rows;
    cols_ = resizes_.front().cols;
    if (screen_) screen_->resize(rows_, cols_);
    resizes_.erase(resizes_.begin());
  }
}

ScreenState& TerminalHistory::ensureScreen() {
  if (!screen_) screen_ = std::make_unique<ScreenState>(rows_, cols_, scrollback_lines_);
  return *screen_;
}

void TerminalHistory::resize(int rows, int cols) {
  resizes_.push_back({log_.end(), rows, cols});
  applyResizesDue();
  if (resizes_.size() > kMaxQueuedResizes) catchUp(false);
}

std::string TerminalHistory::replay() {
  return screen().replay();
}

const ScreenState& TerminalHistory::screen() {
  consumeFromLog(log_.end(), false);
  applyResizesDue();
  return ensureScreen();
}

size_t TerminalHistory::screenBytes() const {
  return screen_ ? screen_->memoryBytes() : 0;
}

}  // namespace podterm::host
