// Fuzz target workspace_paths: the path rules every name from a pod, a tar stream or the REST API
// passes before the sync stores it or hands it to tar (unsafePathReason, parentPath, isExcluded).
//
// Properties:
//  - unsafePathReason accepts exactly the paths an independent check accepts: non-empty, at most
//    4096 bytes, relative, no NUL, and no empty, "." or ".." component; so an accepted path can
//    never leave the workspace;
//  - the parent of an accepted path is "" or itself accepted, and parent + "/" + name gives the
//    path back;
//  - isExcluded matches a path by any one of its components (patterns escaped to match
//    literally), never by a part of a component, and never with no patterns;
//  - sha256Hex is 64 lower-case hex digits.

#include <string>
#include <vector>

#include "FuzzSupport.h"
#include "sync/WorkspacePaths.h"

namespace {

using namespace podterm::host;

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) return parts;
    start = slash + 1;
  }
}

bool referenceSafe(std::string_view path) {
  if (path.empty() || path.size() > 4096) return false;
  for (char c : path) {
    if (c == '\0') return false;
  }
  if (path[0] == '/') return false;
  for (std::string_view part : components(path)) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

// A shell pattern that matches s literally.
std::string escapePattern(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view path = podterm::fuzz::asText(data, size);
  const std::string reason = unsafePathReason(path);
  const bool safe = referenceSafe(path);
  FUZZ_CHECKF(reason.empty() == safe, "reason '%s', reference %s", reason.c_str(),
              safe ? "safe" : "unsafe");
  if (!safe) return 0;

  FUZZ_CHECK(path.front() != '/' && path.back() != '/');
  const std::string_view parent = parentPath(path);
  if (parent.empty()) {
    FUZZ_CHECK(path.find('/') == std::string_view::npos);
  } else {
    FUZZ_CHECK(unsafePathReason(parent).empty());
    FUZZ_CHECK(path.substr(0, parent.size()) == parent && path[parent.size()] == '/');
    FUZZ_CHECK(path.find('/', parent.size() + 1) == std::string_view::npos);
  }

  FUZZ_CHECK(!isExcluded(path, {}));
  const std::vector<std::string_view> parts = components(path);
  // Each component, as a literal pattern, excludes the path; the same with one byte more or less
  // matches only if some other component equals it.
  const std::string_view part = parts[data[0] % parts.size()];
  FUZZ_CHECK(isExcluded(path, {escapePattern(part)}));
  const std::string longer = std::string(part) + "x";
  bool other = false;
  for (std::string_view p : parts) other = other || p == longer;
  FUZZ_CHECK(isExcluded(path, {escapePattern(longer)}) == other);

  const std::string hash = sha256Hex(path);
  FUZZ_CHECK(hash.size() == 64 && hash.find_first_not_of("0123456789abcdef") == std::string::npos);
  return 0;
}
