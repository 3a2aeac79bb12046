#include "http/WebSocketHandshake.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/SHA1Engine.h>
#include <Poco/String.h>

#include <sstream>

namespace podterm::host {
namespace {

bool hasToken(const std::string& header, const std::string& token) {
  std::istringstream in(header);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (Poco::icompare(Poco::trim(part), token) == 0) return true;
  }
  return false;
}

size_t decodedSize(const std::string& base64) {
  try {
    std::istringstream in(base64);
    Poco::Base64Decoder decoder(in);
    std::string decoded((std::istreambuf_iterator<char>(decoder)),
                        std::istreambuf_iterator<char>());
    return decoded.size();
  } catch (...) {
    return 0;
  }
}

}  // namespace

std::optional<HandshakeRefusal> validateUpgrade(const UpgradeRequest& request) {
  if (Poco::icompare(request.upgrade, "websocket") != 0)
    return HandshakeRefusal{426, "this endpoint needs a WebSocket upgrade"};
  if (request.method != "GET") return HandshakeRefusal{400, "a WebSocket upgrade must be a GET"};
  if (!hasToken(request.connection, "upgrade"))
    return HandshakeRefusal{400, "Connection header must contain Upgrade"};
  if (request.version != "13")
    return HandshakeRefusal{426, "unsupported Sec-WebSocket-Version (this server speaks 13)"};
  if (request.key.size() != 24 || decodedSize(request.key) != 16)
    return HandshakeRefusal{400, "malformed Sec-WebSocket-Key"};
  return std::nullopt;
}

std::string acceptKey(const std::string& key) {
  Poco::SHA1Engine sha1;
  sha1.update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  const Poco::DigestEngine::Digest& digest = sha1.digest();
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.write(reinterpret_cast<const char*>(digest.data()),
                static_cast<std::streamsize>(digest.size()));
  encoder.close();
  return out.str();
}

std::vector<std::string> splitProtocols(const std::string& header) {
  std::vector<std::string> result;
  std::istringstream in(header);
  std::string part;
  while (std::getline(in, part, ',')) {
    std::string trimmed = Poco::trim(part);
    if (!trimmed.empty()) result.push_back(trimmed);
  }
  return result;
}

std::string chooseSubprotocol(const std::vector<std::string>& offered) {
  for (const auto& protocol : offered) {
    if (protocol == "podterm.v2" || protocol == "podterm.v1") return protocol;
  }
  return "";
}

}  // namespace podterm::host
