#pragma once
// Shared by the fuzz harnesses: a property check that stops the run with a readable message
// (libFuzzer then saves the input as a crash artifact), and small byte helpers.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

// Aborts with file:line and the failed condition; FUZZ_CHECKF adds a printf-style detail.
#define FUZZ_CHECK(cond) FUZZ_CHECKF(cond, "")
#define FUZZ_CHECKF(cond, ...)                                                           \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      podterm::fuzz::detail(__VA_ARGS__);                                                \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace podterm::fuzz {

template <class... Args>
void detail(const char* format, Args... args) {
  if constexpr (sizeof...(Args) == 0) {
    if (*format != '\0') std::fprintf(stderr, "  %s\n", format);
  } else {
    std::fprintf(stderr, "  ");
    std::fprintf(stderr, format, args...);
    std::fprintf(stderr, "\n");
  }
}

inline std::string_view asText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// RFC 3629 UTF-8, decoded code point by code point: an implementation independent of the one
// under test (table-driven there, arithmetic here).
inline bool referenceUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// Cuts n bytes into chunk lengths drawn from a seed, so a harness can feed an incremental parser
// every kind of split (1-byte pieces, pieces across headers, everything at once).
class Splitter {
 public:
  explicit Splitter(uint32_t seed) : state_(seed * 2654435761u + 1) {}
  size_t next(size_t left) {
    state_ = state_ * 1103515245u + 12345u;
    const uint32_t r = state_ >> 8;
    size_t n;
    switch (r & 3) {
      case 0:
        n = 1;
        break;
      case 1:
        n = 1 + (r >> 2) % 16;
        break;
      case 2:
        n = 1 + (r >> 2) % 512;
        break;
      default:
        n = left;
        break;
    }
    return n < left ? n : left;
  }

 private:
  uint32_t state_;
};

}  // namespace podterm::fuzz
