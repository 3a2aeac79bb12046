#pragma once
// The path rules of the sync: what a workspace-relative path may look like, and which paths the
// excludes cover. Paths are byte strings ('/'-separated, any other byte allowed), never decoded.

#include <string>
#include <string_view>
#include <vector>

namespace podterm::host {

// Empty when path is a safe workspace-relative path; otherwise why not, for a report:
// absolute, an empty, "." or ".." part, a NUL byte, or longer than 4096 bytes.
std::string unsafePathReason(std::string_view path);

// The parent path ("" for a top-level name).
std::string_view parentPath(std::string_view path);

// The first proper ancestor of path that is in set (any container with count()), or empty.
template <class Set>
std::string ancestorIn(const std::string& path, const Set& set) {
  std::string_view parent = parentPath(path);
  while (!parent.empty()) {
    std::string p(parent);
    if (set.count(p) != 0) return p;
    parent = parentPath(parent);
  }
  return {};
}

// True when any '/'-separated part of path matches one of the exclude patterns (shell patterns
// matched against a single name, like find -name).
bool isExcluded(std::string_view path, const std::vector<std::string>& excludes);

// Lower-case hex SHA-256.
std::string sha256Hex(std::string_view bytes);

}  // namespace podterm::host
