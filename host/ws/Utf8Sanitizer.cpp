#include "ws/Utf8Sanitizer.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace podterm::host {

namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
constexpr size_t kReplacementLen = 3;

// What a lead byte needs after it (Unicode Table 3-7, well-formed byte sequences). The second
// byte's narrower range is what rules out overlongs (E0, F0), surrogates (ED) and code points
// above U+10FFFF (F4). need == 0 means the byte can never start a sequence.
struct Lead {
  size_t need;
  unsigned char lo;
  unsigned char hi;
};

Lead classifyLead(unsigned char b) {
  if (b >= 0xC2 && b <= 0xDF) return {1, 0x80, 0xBF};
  if (b == 0xE0) return {2, 0xA0, 0xBF};
  if (b == 0xED) return {2, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {2, 0x80, 0xBF};
  if (b == 0xF0) return {3, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {3, 0x80, 0xBF};
  if (b == 0xF4) return {3, 0x80, 0x8F};
  return {0, 0, 0};  // 80..BF (stray continuation), C0, C1 (always overlong), F5..FF
}

// Index of the first byte >= 0x80 in [i, n), 8 bytes at a time: terminal output is mostly ASCII.
size_t skipAscii(const unsigned char* p, size_t i, size_t n) {
  constexpr uint64_t kHighBits = 0x8080808080808080ULL;
  while (i + 8 <= n) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    if (word & kHighBits) break;
    i += 8;
  }
  while (i < n && p[i] < 0x80) ++i;
  return i;
}

}  // namespace

std::string_view Utf8Sanitizer::feedView(const char* data, size_t n, std::string& scratch) {
  if (held_len_ == 0 && skipAscii(reinterpret_cast<const unsigned char*>(data), 0, n) == n) {
    return {data, n};
  }
  scratch.clear();
  feedInto(scratch, data, n);
  return scratch;
}

void Utf8Sanitizer::feedInto(std::string& out, const char* data, size_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  size_t i = 0;

  // 1. Finish the character held from the previous feed.
  while (held_len_ > 0 && i < n) {
    const unsigned char b = p[i];
    if (b < lo_ || b > hi_) {
      // The held bytes are a maximal subpart on their own; b starts afresh below.
      out.append(kReplacement, kReplacementLen);
      held_len_ = 0;
      need_ = 0;
      break;
    }
    // held_len_ < 4 here (a lead byte needs at most 3 more); the min() only lets -O3 see that
    // held_ is not overrun (-Wstringop-overflow fired without it).
    held_[std::min(held_len_, sizeof held_ - 1)] = b;
    ++held_len_;
    ++i;
    lo_ = 0x80;
    hi_ = 0xBF;
    if (--need_ == 0) {
      out.append(reinterpret_cast<const char*>(held_), held_len_);
      held_len_ = 0;
    }
  }
  if (held_len_ > 0) return;  // all of data went into the held character

  // 2. Copy valid runs in one append each; only errors and the tail break a run.
  size_t run = i;
  while (i < n) {
    i = skipAscii(p, i, n);
    if (i == n) break;
    const Lead lead = classifyLead(p[i]);
    if (lead.need == 0) {
      out.append(data + run, i - run);
      out.append(kReplacement, kReplacementLen);
      run = ++i;
      continue;
    }
    size_t j = i + 1;
    size_t got = 0;
    unsigned char lo = lead.lo;
    unsigned char hi = lead.hi;
    while (got < lead.need && j < n && p[j] >= lo && p[j] <= hi) {
      ++j;
      ++got;
      lo = 0x80;
      hi = 0xBF;
    }
    if (got == lead.need) {
      i = j;  // a valid character: stays in the run
      continue;
    }
    out.append(data + run, i - run);
    if (j == n) {
      // Cut off by the end of this read: hold it for the next one.
      held_len_ = n - i;
      std::memcpy(held_, p + i, held_len_);
      need_ = lead.need - got;
      lo_ = lo;
      hi_ = hi;
      return;
    }
    // p[j] cannot continue the sequence: [i, j) is one maximal subpart.
    out.append(kReplacement, kReplacementLen);
    run = i = j;
  }
  out.append(data + run, i - run);
}

void Utf8Sanitizer::flushInto(std::string& out) {
  if (held_len_ == 0) return;
  out.append(kReplacement, kReplacementLen);
  held_len_ = 0;
  need_ = 0;
}

std::string Utf8Sanitizer::flush() {
  std::string out;
  flushInto(out);
  return out;
}

bool isValidUtf8(const char* data, size_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  size_t i = 0;
  while (i < n) {
    i = skipAscii(p, i, n);
    if (i == n) return true;
    const Lead lead = classifyLead(p[i]);
    if (lead.need == 0 || n - i <= lead.need) return false;
    if (p[i + 1] < lead.lo || p[i + 1] > lead.hi) return false;
    for (size_t k = 2; k <= lead.need; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
    }
    i += lead.need + 1;
  }
  return true;
}

}  // namespace podterm::host
