#include "ws/InputBudget.h"

#include <algorithm>
#include <cmath>

namespace podterm::host {

InputBudget::InputBudget(size_t bytes_per_s, size_t burst_bytes)
    : rate_(std::max<size_t>(bytes_per_s, 1)),
      burst_(std::max<size_t>(burst_bytes, 1)),
      tokens_(static_cast<double>(burst_)),
      last_(Clock::now()) {}

void InputBudget::refillLocked(Clock::time_point now) {
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(static_cast<double>(burst_), tokens_ + seconds * static_cast<double>(rate_));
  last_ = now;
}

size_t InputBudget::available(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  refillLocked(now);
  return tokens_ < 1.0 ? 0 : static_cast<size_t>(tokens_);
}

void InputBudget::consume(size_t n, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  refillLocked(now);
  tokens_ -= static_cast<double>(n);
}

std::chrono::milliseconds InputBudget::timeUntil(size_t n, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  refillLocked(now);
  const double want = static_cast<double>(std::min(n, burst_));
  if (tokens_ >= want) return std::chrono::milliseconds(0);
  const double ms = std::ceil((want - tokens_) * 1000.0 / static_cast<double>(rate_));
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

size_t InputBudget::resumeThreshold() const noexcept {
  return std::clamp<size_t>(rate_ / 20, 1, burst_);
}

}  // namespace podterm::host
