#include "sync/WorkspacePaths.h"

#include <Poco/SHA2Engine.h>
#include <fnmatch.h>

namespace podterm::host {

namespace {
constexpr size_t kMaxPathBytes = 4096;
}

std::string unsafePathReason(std::string_view path) {
  if (path.empty()) return "empty path";
  if (path.size() > kMaxPathBytes) return "path longer than 4096 bytes";
  if (path.find('\0') != std::string_view::npos) return "NUL byte in path";
  if (path.front() == '/') return "absolute path";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty()) return "empty path component";
    if (part == ".") return "'.' path component";
    if (part == "..") return "'..' path component";
    start = end + 1;
  }
  return {};
}

std::string_view parentPath(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

bool isExcluded(std::string_view path, const std::vector<std::string>& excludes) {
  if (excludes.empty()) return false;
  size_t start = 0;
  std::string part;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    part.assign(path.substr(start, end - start));
    for (const auto& pattern : excludes) {
      if (::fnmatch(pattern.c_str(), part.c_str(), 0) == 0) return true;
    }
    start = end + 1;
  }
  return false;
}

std::string sha256Hex(std::string_view bytes) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(bytes.data(), bytes.size());
  return Poco::DigestEngine::digestToHex(engine.digest());
}

}  // namespace podterm::host
