#pragma once
// Which browser origins may open a terminal. A request without Origin is not from a browser and
// passes (it still authenticates); a browser's Origin must be on the allow-list, be a loopback
// origin when the config allows those, or else name exactly the host the request was sent to.
// Matching is exact (scheme, host, port), never by prefix or suffix.

#include <optional>
#include <string>
#include <vector>

namespace podterm::host {

struct OriginConfig {
  std::vector<std::string> allowed_origins;
  bool allow_loopback_origins = false;
};

class OriginPolicy {
 public:
  explicit OriginPolicy(OriginConfig config);
  // nullopt when allowed, else the reason for a 403.
  std::optional<std::string> check(const std::optional<std::string>& origin,
                                   const std::string& host_header) const;

 private:
  struct Origin {
    std::string scheme;
    std::string host;  // lower-case; IPv6 without brackets
    int port = 0;
  };
  static std::optional<Origin> parseOrigin(const std::string& text);
  static std::optional<Origin> parseHostHeader(const std::string& text, const std::string& scheme);
  static bool isLoopback(const std::string& host);

  std::vector<Origin> allowed_;
  bool allow_loopback_;
};

}  // namespace podterm::host
