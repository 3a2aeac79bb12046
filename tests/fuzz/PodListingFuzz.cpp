// Fuzz target pod_listing: the pod's side of the sync manifest, `date +%s%N` then find's
// NUL-separated records, parsed by parseListing and parseFindTime as hostile input (a user owns
// the pod and every file name in it).
//
// Properties:
//  - parseFindTime agrees with exact (128-bit) arithmetic on what it accepts, and refuses times
//    whose milliseconds do not fit in int64 (either sign) rather than overflowing;
//  - a parsed listing has sane entries (a path, permission bits only) and round-trips: written
//    back in the same format it parses to the same listing;
//  - a listing cut short anywhere inside its records is refused, never half used.

#include <string>

#include "FuzzSupport.h"
#include "sync/PodListing.h"

namespace {

using namespace podterm::host;

// "[-]digits[.digits]" -> milliseconds rounded toward zero, or false when it is not that shape
// (at most 20 digits before the dot) or does not fit in int64.
bool referenceFindTime(const std::string& text, __int128* out) {
  size_t i = 0;
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) i = 1;
  const size_t dot = text.find('.');
  const size_t whole_end = dot == std::string::npos ? text.size() : dot;
  if (whole_end <= i || whole_end - i > 20) return false;
  __int128 sec = 0;
  for (size_t k = i; k < whole_end; ++k) {
    if (text[k] < '0' || text[k] > '9') return false;
    sec = sec * 10 + (text[k] - '0');
  }
  __int128 ms = 0;
  int digits = 0;
  if (dot != std::string::npos) {
    for (size_t k = dot + 1; k < text.size(); ++k) {
      if (text[k] < '0' || text[k] > '9') return false;
      if (digits < 3) ms = ms * 10 + (text[k] - '0');
      ++digits;
    }
  }
  for (; digits < 3; ++digits) ms *= 10;
  const __int128 value = sec * 1000 + ms;
  *out = negative ? -value : value;
  return true;
}

std::string findTime(int64_t ms) {
  const bool negative = ms < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  std::string frac = std::to_string(magnitude % 1000);
  frac.insert(0, 3 - frac.size(), '0');
  return (negative ? "-" : "") + std::to_string(magnitude / 1000) + "." + frac + "0000000";
}

std::string octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%o", mode);
  return buf;
}

std::string write(const PodListing& listing) {
  std::string out = std::to_string(listing.clock_ms * 1000000) + "\n";
  for (const PodEntry& e : listing.entries) {
    for (const std::string& field : {std::string(1, e.type), std::to_string(e.size),
                                     findTime(e.mtime_ms), octal(e.mode), e.path, e.link_target}) {
      out += field;
      out.push_back('\0');
    }
  }
  return out;
}

bool same(const PodEntry& a, const PodEntry& b) {
  return a.type == b.type && a.size == b.size && a.mtime_ms == b.mtime_ms && a.mode == b.mode &&
         a.path == b.path && a.link_target == b.link_target;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  // parseFindTime on the first line (or everything), against exact arithmetic.
  const std::string first = text.substr(0, text.find_first_of(std::string("\n\0", 2)));
  int64_t ms = 0;
  __int128 exact = 0;
  const bool ok = parseFindTime(first, &ms);
  const bool fits = referenceFindTime(first, &exact) && exact >= -INT64_MAX && exact <= INT64_MAX;
  FUZZ_CHECKF(ok == fits, "parseFindTime('%s') %d, reference %d", first.c_str(), ok, fits);
  if (ok) FUZZ_CHECK(ms == exact);

  auto listing = parseListing(text);
  if (!listing) {
    FUZZ_CHECK(listing.status().code() == podterm::sdk::ErrorCode::InvalidArgument);
    return 0;
  }
  const PodListing& l = listing.value();
  for (const PodEntry& e : l.entries) {
    FUZZ_CHECK(!e.path.empty());
    FUZZ_CHECK(e.path.find('\0') == std::string::npos);
    FUZZ_CHECK(e.mode <= 0777);
    FUZZ_CHECK(e.size >= 0);
  }
  const std::string written = write(l);
  auto again = parseListing(written);
  FUZZ_CHECK(again.isOk());
  FUZZ_CHECK(again.value().clock_ms == l.clock_ms);
  FUZZ_CHECK(again.value().entries.size() == l.entries.size());
  for (size_t i = 0; i < l.entries.size(); ++i) {
    FUZZ_CHECKF(same(again.value().entries[i], l.entries[i]), "entry %zu differs", i);
  }
  // Cut inside the records: refused.
  if (!l.entries.empty()) {
    const size_t body = written.find('\n') + 1;
    const size_t cut = body + static_cast<size_t>(data[0]) % (written.size() - body);
    // A cut that happens to fall right after a whole record leaves a valid shorter listing.
    auto cut_listing = parseListing(written.substr(0, cut));
    if (cut_listing) FUZZ_CHECK(cut_listing.value().entries.size() < l.entries.size());
  }
  return 0;
}
