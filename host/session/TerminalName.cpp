#include "session/TerminalName.h"

namespace podterm::host {

std::optional<std::string> TerminalName::parse(std::string_view text) {
  if (text.empty() || text.size() > kMaxLength) return std::nullopt;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return std::nullopt;
  }
  return std::string(text);
}

}  // namespace podterm::host
