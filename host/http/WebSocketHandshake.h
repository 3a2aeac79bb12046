#pragma once
// The server side of the RFC 6455 opening handshake, checked before anything else happens, so a
// malformed upgrade gets a plain HTTP error and never a pod.

#include <optional>
#include <string>
#include <vector>

namespace podterm::host {

struct UpgradeRequest {
  std::string method;
  std::string upgrade;     // Upgrade header
  std::string connection;  // Connection header
  std::string version;     // Sec-WebSocket-Version
  std::string key;         // Sec-WebSocket-Key
  std::string protocols;   // Sec-WebSocket-Protocol, comma-separated
};

struct HandshakeRefusal {
  int status;  // 400 or 426
  std::string reason;
};

// nullopt when the request is a well-formed WebSocket upgrade.
std::optional<HandshakeRefusal> validateUpgrade(const UpgradeRequest& request);
// Sec-WebSocket-Accept for a key.
std::string acceptKey(const std::string& key);
// Entries of a Sec-WebSocket-Protocol header, trimmed, in the client's order.
std::vector<std::string> splitProtocols(const std::string& header);
// The first offered protocol this server speaks (podterm.v2, podterm.v1), or "" for none.
std::string chooseSubprotocol(const std::vector<std::string>& offered);

}  // namespace podterm::host
