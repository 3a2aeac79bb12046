#pragma once
// Turns a terminal's raw output bytes into text that is always valid UTF-8, so the host can send
// it in WebSocket text frames (a browser fails the whole connection on invalid UTF-8 in a text
// frame, and a shell happily prints `cat /bin/ls`).
//
// - A character split across two reads is held back (at most 3 bytes) and joined with the next.
// - Each ill-formed sequence becomes one U+FFFD per "maximal subpart" (Unicode chapter 3,
//   "U+FFFD Substitution of Maximal Subparts", which the WHATWG decoder follows): overlongs,
//   surrogates, code points above U+10FFFF, stray continuation bytes and bytes C0, C1, F5..FF.
//
// Threading: not thread-safe; one sanitizer per output stream, fed by one thread at a time.

#include <cstddef>
#include <string>
#include <string_view>

namespace podterm::host {

class Utf8Sanitizer {
 public:
  // Appends the valid UTF-8 for data to out (never clears out).
  void feedInto(std::string& out, const char* data, size_t n);
  std::string feed(const char* data, size_t n) {
    std::string out;
    feedInto(out, data, n);
    return out;
  }
  // As feedInto(), into `scratch` (cleared first), but ASCII with nothing held is returned as data
  // itself, with no copy: the common case of a flood.
  std::string_view feedView(const char* data, size_t n, std::string& scratch);
  // End of stream: a held incomplete character becomes U+FFFD. Returns "" when nothing is held.
  std::string flush();
  void flushInto(std::string& out);

  // Bytes held back from the last feed (0..3).
  size_t heldBytes() const noexcept { return held_len_; }

 private:
  // A character that began in an earlier feed: its bytes so far, how many more it needs and the
  // range its next byte must be in.
  unsigned char held_[4] = {0, 0, 0, 0};
  size_t held_len_ = 0;
  size_t need_ = 0;
  unsigned char lo_ = 0x80;
  unsigned char hi_ = 0xBF;
};

// True when data is well-formed UTF-8 (used by tests and debug checks).
bool isValidUtf8(const char* data, size_t n);

}  // namespace podterm::host
