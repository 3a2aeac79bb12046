#include "session/SessionId.h"

namespace podterm::host {
namespace {

bool isAlnumOrDash(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// Consumes [A-Za-z0-9-]{1,max} up to the next '_' and returns it, or nullopt.
std::optional<std::string_view> takeField(std::string_view& rest, size_t max) {
  size_t n = 0;
  while (n < rest.size() && isAlnumOrDash(rest[n])) ++n;
  if (n == 0 || n > max) return std::nullopt;
  std::string_view field = rest.substr(0, n);
  rest.remove_prefix(n);
  return field;
}

bool takeLiteral(std::string_view& rest, std::string_view literal) {
  if (rest.substr(0, literal.size()) != literal) return false;
  rest.remove_prefix(literal.size());
  return true;
}

}  // namespace

// Hand-written rather than std::regex: this runs on every request before authentication, and
// std::regex is slow and recursive on long hostile input.
std::optional<SessionId> SessionId::parse(std::string_view text) {
  std::string_view rest = text;
  if (!takeLiteral(rest, "user_")) return std::nullopt;
  auto user = takeField(rest, 64);
  if (!user || !takeLiteral(rest, "_ws_")) return std::nullopt;
  auto workspace = takeField(rest, 64);
  if (!workspace || !takeLiteral(rest, "_")) return std::nullopt;
  if (rest.empty() || rest.size() > 128) return std::nullopt;
  for (char c : rest) {
    if (!isAlnumOrDash(c) && c != '_') return std::nullopt;
  }
  return SessionId{std::string(text), std::string(*user), std::string(*workspace),
                   std::string(rest)};
}

}  // namespace podterm::host
