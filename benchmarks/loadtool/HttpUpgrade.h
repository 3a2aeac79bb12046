#pragma once
// The client side of the HTTP/1.1 WebSocket upgrade, written by hand: the request bytes and a
// parser of the response head. Pure functions, thread-safe.

#include <cstddef>
#include <string>
#include <string_view>

namespace podterm::bench {

// A random 16-byte key, base64 encoded (24 characters).
std::string makeWebSocketKey(unsigned seed);
// base64(SHA-1(key + RFC 6455 GUID)): what the server must answer in Sec-WebSocket-Accept.
std::string expectedAccept(const std::string& key);

std::string buildUpgradeRequest(const std::string& host_port, const std::string& path,
                                const std::string& key, const std::string& subprotocol);

struct UpgradeResponse {
  enum class State { Incomplete, Accepted, Refused, Malformed };
  State state = State::Incomplete;
  int status = 0;
  size_t head_bytes = 0;    // bytes of the head including the blank line (frames follow)
  std::string subprotocol;  // Sec-WebSocket-Protocol, if any
  std::string reason;       // why Refused/Malformed (status line and first body bytes)
};

// Parses the head in `received` (which may hold frames after it) and checks status 101, the
// Upgrade/Connection headers and Sec-WebSocket-Accept against key.
UpgradeResponse parseUpgradeResponse(std::string_view received, const std::string& key);

}  // namespace podterm::bench
