#include "sync/PodListing.h"

#include <cstdlib>
#include <limits>

namespace podterm::host {

namespace {

bool parseInt(const std::string& text, int base, int64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > (base == 8 ? '7' : '9')) return false;
    const int digit = c - '0';
    // Past int64 is refused, not saturated: no real size, time or mode is that large.
    if (value > (std::numeric_limits<int64_t>::max() - digit) / base) return false;
    value = value * base + digit;
  }
  *out = value;
  return true;
}

}  // namespace

std::vector<std::string> listingCommand(const std::string& root,
                                        const std::vector<std::string>& excludes) {
  // find ROOT -mindepth 1 [ ( -name A -o -name B ) -prune -o ] -printf FORMAT
  // The clock first: entries modified within a clock tick of it are not trusted by mtime.
  std::vector<std::string> argv = {
      "sh", "-c", "date +%s%N && exec \"$@\"", "sh", "find", root, "-mindepth", "1"};
  if (!excludes.empty()) {
    argv.push_back("(");
    for (size_t i = 0; i < excludes.size(); ++i) {
      if (i > 0) argv.push_back("-o");
      argv.push_back("-name");
      argv.push_back(excludes[i]);
    }
    argv.insert(argv.end(), {")", "-prune", "-o"});
  }
  // type, size, mtime, permission bits (octal), path below root, symlink target
  argv.insert(argv.end(), {"-printf", "%y\\0%s\\0%T@\\0%m\\0%P\\0%l\\0"});
  return argv;
}

bool parseFindTime(const std::string& text, int64_t* mtime_ms) {
  size_t dot = text.find('.');
  std::string whole = text.substr(0, dot);
  bool negative = !whole.empty() && whole[0] == '-';
  if (negative) whole.erase(0, 1);
  int64_t sec = 0;
  if (!parseInt(whole, 10, &sec)) return false;
  int64_t ms = 0;
  if (dot != std::string::npos) {
    std::string frac = text.substr(dot + 1);
    for (char c : frac) {
      if (c < '0' || c > '9') return false;
    }
    frac.resize(3, '0');
    ms = std::strtoll(frac.c_str(), nullptr, 10);
  }
  // A time whose milliseconds do not fit in int64 is refused (found by the pod_listing fuzz
  // target: the multiplication overflowed).
  if (sec > (std::numeric_limits<int64_t>::max() - ms) / 1000) return false;
  *mtime_ms = negative ? -(sec * 1000 + ms) : sec * 1000 + ms;
  return true;
}

sdk::Result<PodListing> parseListing(const std::string& output) {
  PodListing listing;
  std::vector<PodEntry>& entries = listing.entries;
  std::vector<std::string> fields;
  size_t start = output.find('\n');
  int64_t clock_ns = 0;
  if (start == std::string::npos || !parseInt(output.substr(0, start), 10, &clock_ns)) {
    return sdk::Status(sdk::ErrorCode::InvalidArgument, "listing without the pod's clock");
  }
  listing.clock_ms = clock_ns / 1000000;
  ++start;
  while (start < output.size()) {
    size_t end = output.find('\0', start);
    if (end == std::string::npos) {
      return sdk::Status(sdk::ErrorCode::InvalidArgument, "listing ends inside a record");
    }
    fields.emplace_back(output, start, end - start);
    start = end + 1;
    if (fields.size() < 6) continue;
    PodEntry entry;
    int64_t mode = 0;
    if (fields[0].size() != 1 || !parseInt(fields[1], 10, &entry.size) ||
        !parseFindTime(fields[2], &entry.mtime_ms) || !parseInt(fields[3], 8, &mode) ||
        fields[4].empty()) {
      return sdk::Status(sdk::ErrorCode::InvalidArgument, "malformed listing record");
    }
    entry.type = fields[0][0];
    entry.mode = static_cast<uint32_t>(mode) & 0777;
    entry.path = std::move(fields[4]);
    entry.link_target = std::move(fields[5]);
    entries.push_back(std::move(entry));
    fields.clear();
  }
  if (!fields.empty()) {
    return sdk::Status(sdk::ErrorCode::InvalidArgument, "listing ends inside a record");
  }
  return listing;
}

}  // namespace podterm::host
