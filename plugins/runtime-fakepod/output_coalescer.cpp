#include "output_coalescer.h"

namespace podterm::plugins::fakepod {

std::string_view OutputCoalescer::offer(std::string_view data, Clock::time_point now) {
  if (handed_) {
    held_.clear();
    handed_ = false;
  }
  const bool large = data.size() >= kLargeRead;
  const bool flood = large && had_large_read_ && now - last_large_read_ <= kFloodGap;
  if (large) {
    had_large_read_ = true;
    last_large_read_ = now;
  }
  // Held output goes first, so anything read while holding joins it, small reads too.
  if (!flood && held_.empty()) return data;
  held_.append(data);
  if (held_.size() < kHandOverAt) return {};
  handed_ = true;
  return held_;
}

std::string_view OutputCoalescer::drain() {
  if (handed_ || held_.empty()) return {};
  handed_ = true;
  return held_;
}

void OutputCoalescer::release() {
  std::string().swap(held_);
  handed_ = false;
}

}  // namespace podterm::plugins::fakepod
