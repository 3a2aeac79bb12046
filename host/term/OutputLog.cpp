#include "term/OutputLog.h"

#include <algorithm>
#include <cstring>

namespace podterm::host {

OutputLog::OutputLog(size_t capacity) : capacity_(capacity) {}

void OutputLog::append(std::string_view bytes) {
  if (capacity_ == 0 || bytes.empty()) {
    end_ += bytes.size();
    return;
  }
  // Only the last capacity_ bytes of a large append can survive it.
  if (bytes.size() > capacity_) {
    end_ += bytes.size() - capacity_;
    bytes.remove_prefix(bytes.size() - capacity_);
  }
  // Until the ring first wraps, bytes sit at [0, end_): grow by doubling, so a session that has
  // said little costs little (most idle sessions never fill the ring).
  if (ring_.size() < capacity_) {
    const uint64_t needed = end_ + bytes.size();
    if (needed > ring_.size()) {
      const uint64_t grown = std::max<uint64_t>(needed, std::max<size_t>(4096, 2 * ring_.size()));
      const size_t target = static_cast<size_t>(std::min<uint64_t>(grown, capacity_));
      ring_.reserve(target);  // exactly: resize() alone may round the allocation past capacity
      ring_.resize(target);
    }
  }
  size_t at = static_cast<size_t>(end_ % capacity_);
  size_t first = std::min(bytes.size(), capacity_ - at);
  std::memcpy(ring_.data() + at, bytes.data(), first);
  std::memcpy(ring_.data(), bytes.data() + first, bytes.size() - first);
  end_ += bytes.size();
}

OutputLog::Read OutputLog::readFrom(uint64_t since) const {
  Read r;
  r.begin = begin();
  r.end = end_;
  if (since > end_) {
    r.status = Read::Status::kInFuture;
    return r;
  }
  if (since < r.begin) {
    r.status = Read::Status::kTooOld;
    return r;
  }
  const size_t n = static_cast<size_t>(end_ - since);
  if (n == 0) return r;
  r.bytes.resize(n);
  size_t at = static_cast<size_t>(since % capacity_);
  size_t first = std::min(n, capacity_ - at);
  std::memcpy(r.bytes.data(), ring_.data() + at, first);
  std::memcpy(r.bytes.data() + first, ring_.data(), n - first);
  return r;
}

OutputLog::Pieces OutputLog::view(uint64_t from, uint64_t to) const {
  Pieces p;
  if (from < begin() || to > end_ || from >= to) return p;
  const size_t n = static_cast<size_t>(to - from);
  const size_t at = static_cast<size_t>(from % capacity_);
  const size_t first = std::min(n, capacity_ - at);
  p.first = std::string_view(ring_.data() + at, first);
  if (first < n) p.second = std::string_view(ring_.data(), n - first);
  return p;
}

}  // namespace podterm::host
