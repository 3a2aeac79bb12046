#include "http/WorkspaceRoute.h"

namespace podterm::host {
namespace {

constexpr std::string_view kPrefix = "/api/workspaces/";
// Longer paths are refused before decoding; storage backends limit paths to about this too.
constexpr size_t kMaxItemPathBytes = 4096;

bool isAlnumOrDash(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

size_t fieldLength(std::string_view text) {
  size_t n = 0;
  while (n < text.size() && isAlnumOrDash(text[n])) ++n;
  return n;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

WorkspaceRouteResult refuse(int status, std::string reason) {
  WorkspaceRouteResult result;
  result.status = status;
  result.reason = std::move(reason);
  return result;
}

}  // namespace

// Hand-written like SessionId::parse: it runs on every request before authentication.
std::optional<WorkspaceRef> WorkspaceRef::parse(std::string_view text) {
  std::string_view rest = text;
  if (rest.substr(0, 5) != "user_") return std::nullopt;
  rest.remove_prefix(5);
  const size_t user_len = fieldLength(rest);
  if (user_len == 0 || user_len > 64) return std::nullopt;
  const std::string_view user = rest.substr(0, user_len);
  rest.remove_prefix(user_len);
  if (rest.substr(0, 4) != "_ws_") return std::nullopt;
  rest.remove_prefix(4);
  const size_t ws_len = fieldLength(rest);
  if (ws_len == 0 || ws_len > 64 || ws_len != rest.size()) return std::nullopt;
  return WorkspaceRef{std::string(text), std::string(user), std::string(rest)};
}

std::optional<std::string> percentDecodePath(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hexValue(text[i + 1]);
    const int low = hexValue(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    const char byte = static_cast<char>(high * 16 + low);
    if (byte == '/') return std::nullopt;
    out.push_back(byte);
    i += 2;
  }
  return out;
}

std::optional<std::string> checkItemPath(std::string_view path) {
  if (path.empty()) return std::string("empty path");
  if (path.size() > kMaxItemPathBytes) return std::string("path too long");
  if (path.find('\0') != std::string_view::npos) return std::string("NUL byte in path");
  if (path.front() == '/') return std::string("absolute path");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part.empty()) return std::string("empty path segment");
    if (part == "." || part == "..") return std::string("'.' or '..' in path");
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<std::string> queryValue(std::string_view query, std::string_view key) {
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
    }
    start = end + 1;
  }
  return std::nullopt;
}

WorkspaceRouteResult parseWorkspaceRoute(std::string_view target, std::string_view method) {
  WorkspaceRoute route;
  const size_t question = target.find('?');
  if (question != std::string_view::npos) {
    route.query = std::string(target.substr(question + 1));
    target = target.substr(0, question);
  }
  if (target.substr(0, kPrefix.size()) != kPrefix) return refuse(404, "not found");
  std::string_view rest = target.substr(kPrefix.size());
  const size_t slash = rest.find('/');
  auto workspace = WorkspaceRef::parse(rest.substr(0, slash));
  if (!workspace) {
    return refuse(400,
                  "invalid workspace: expected user_<user>_ws_<workspace> (letters, digits and "
                  "'-')");
  }
  route.workspace = std::move(*workspace);
  if (slash == std::string_view::npos) return refuse(404, "not found");
  rest.remove_prefix(slash + 1);

  if (rest == "items") {
    route.action = WorkspaceAction::Tree;
  } else if (rest == "export") {
    route.action = WorkspaceAction::Export;
  } else if (rest == "events") {
    route.action = WorkspaceAction::Events;
  } else if (rest.substr(0, 6) == "items/") {
    std::string_view encoded = rest.substr(6);
    route.action = WorkspaceAction::Item;
    // The suffix is matched before decoding, so a file really named "x:restore" stays reachable
    // as "x%3Arestore".
    constexpr std::string_view kRestore = ":restore";
    if (method == "POST" && encoded.size() > kRestore.size() &&
        encoded.substr(encoded.size() - kRestore.size()) == kRestore) {
      encoded.remove_suffix(kRestore.size());
      route.action = WorkspaceAction::Restore;
    }
    if (encoded.size() > 3 * kMaxItemPathBytes) return refuse(400, "invalid path: too long");
    auto decoded = percentDecodePath(encoded);
    if (!decoded) return refuse(400, "invalid path: bad percent-encoding or encoded '/'");
    if (auto problem = checkItemPath(*decoded)) return refuse(400, "invalid path: " + *problem);
    route.item_path = std::move(*decoded);
  } else {
    return refuse(404, "not found");
  }
  WorkspaceRouteResult result;
  result.route = std::move(route);
  return result;
}

}  // namespace podterm::host
