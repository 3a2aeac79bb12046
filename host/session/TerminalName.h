#pragma once
// The name of one terminal of a session (`?term=<name>` on the terminal URL): 1 to 32 of
// [a-z0-9_-]. Without `?term`, a client gets the session's default terminal, named kDefault
// (`?term=default` names the same one).

#include <optional>
#include <string>
#include <string_view>

namespace podterm::host {

struct TerminalName {
  static constexpr const char* kDefault = "default";
  static constexpr size_t kMaxLength = 32;
  // nullopt when text does not match the grammar.
  static std::optional<std::string> parse(std::string_view text);
};

}  // namespace podterm::host
