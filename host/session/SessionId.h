#pragma once
// The session id from the URL, e.g. user_1_ws_abc123_1234567890_<uuid>. Case-sensitive grammar:
//   ^user_([A-Za-z0-9-]{1,64})_ws_([A-Za-z0-9-]{1,64})_([A-Za-z0-9_-]{1,128})$
// The workspace is the pair (user, ws). Everything else in the host trusts only parsed ids.

#include <optional>
#include <string>
#include <string_view>

namespace podterm::host {

struct SessionId {
  std::string raw;
  std::string user;
  std::string workspace;
  std::string suffix;

  // nullopt when text does not match the grammar.
  static std::optional<SessionId> parse(std::string_view text);
};

}  // namespace podterm::host
