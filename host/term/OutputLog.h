#pragma once
// The most recent output of one terminal, addressed by 64-bit absolute offsets (offset 0 = the
// first byte the session ever produced, counting the sanitized output stream), so a client can
// resume with `?since=N` and get exactly the bytes it missed (issue 9, "Reconnect").
//
// A ring of `capacity` bytes: appending past it forgets the oldest bytes, never the offsets.
// Memory: grows with the output (doubling from 4 KiB) up to capacity bytes; memoryBytes().
//
// Threading: thread-compatible. Const calls may run concurrently with each other; anything
// concurrent with append() must be serialized by the caller (one lock per session).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace podterm::host {

class OutputLog {
 public:
  explicit OutputLog(size_t capacity);

  void append(std::string_view bytes);

  // Offset one past the last byte ever appended (= bytes produced so far).
  uint64_t end() const noexcept { return end_; }
  // Offset of the oldest byte still kept (== end() when nothing is kept).
  uint64_t begin() const noexcept { return end_ - size(); }
  size_t size() const noexcept { return end_ < capacity_ ? static_cast<size_t>(end_) : capacity_; }
  size_t capacity() const noexcept { return capacity_; }
  // Heap bytes held (the ring as allocated so far).
  size_t memoryBytes() const noexcept { return ring_.capacity(); }

  struct Read {
    enum class Status {
      kOk,        // bytes = exactly [since, end)
      kTooOld,    // since < begin(): those bytes are gone; replay the screen instead
      kInFuture,  // since > end(): the client claims bytes this session never produced
    };
    Status status = Status::kOk;
    std::string bytes;
    uint64_t begin = 0;  // the log's begin() and end() when it answered
    uint64_t end = 0;
  };
  Read readFrom(uint64_t since) const;
  // The kept bytes [from, to) in place, as at most two pieces (the ring may wrap between them);
  // valid until the next append(). Requires begin() <= from <= to <= end().
  struct Pieces {
    std::string_view first, second;
  };
  Pieces view(uint64_t from, uint64_t to) const;

 private:
  std::vector<char> ring_;
  size_t capacity_;
  uint64_t end_ = 0;
};

}  // namespace podterm::host
