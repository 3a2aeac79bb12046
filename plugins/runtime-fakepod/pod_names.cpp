#include "pod_names.h"

#include <cstdint>
#include <cstdio>

namespace podterm::plugins::fakepod {

std::string podNameFor(const std::string& session_id) {
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a 64
  for (unsigned char c : session_id) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  std::string label;
  for (char c : session_id) {
    if (label.size() >= 40) break;
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      label += c;
    } else if (c >= 'A' && c <= 'Z') {
      label += static_cast<char>(c - 'A' + 'a');
    } else if (!label.empty() && label.back() != '-') {
      label += '-';
    }
  }
  while (!label.empty() && label.back() == '-') label.pop_back();
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, "%012llx",
                static_cast<unsigned long long>(hash & 0xffffffffffffULL));
  return "pod-" + (label.empty() ? std::string() : label + "-") + suffix;
}

}  // namespace podterm::plugins::fakepod
