#include "HttpUpgrade.h"

#include <Poco/Base64Encoder.h>
#include <Poco/SHA1Engine.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <sstream>

namespace podterm::bench {
namespace {

std::string base64(const unsigned char* data, size_t n) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n));
  encoder.close();
  return out.str();
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string makeWebSocketKey(unsigned seed) {
  std::mt19937 rng(seed);
  unsigned char bytes[16];
  for (auto& b : bytes) b = static_cast<unsigned char>(rng() & 0xff);
  return base64(bytes, sizeof bytes);
}

std::string expectedAccept(const std::string& key) {
  Poco::SHA1Engine sha1;
  sha1.update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  const auto& digest = sha1.digest();
  return base64(digest.data(), digest.size());
}

std::string buildUpgradeRequest(const std::string& host_port, const std::string& path,
                                const std::string& key, const std::string& subprotocol) {
  std::string r = "GET " + path + " HTTP/1.1\r\nHost: " + host_port +
                  "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                  "\r\nSec-WebSocket-Version: 13\r\n";
  if (!subprotocol.empty()) r += "Sec-WebSocket-Protocol: " + subprotocol + "\r\n";
  r += "\r\n";
  return r;
}

UpgradeResponse parseUpgradeResponse(std::string_view received, const std::string& key) {
  UpgradeResponse r;
  const auto end = received.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (received.size() > 16384) {
      r.state = UpgradeResponse::State::Malformed;
      r.reason = "response head longer than 16 KiB";
    }
    return r;
  }
  r.head_bytes = end + 4;
  const std::string_view head = received.substr(0, end);
  const auto first_eol = head.find("\r\n");
  const std::string_view status_line = head.substr(0, first_eol);
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") {
    r.state = UpgradeResponse::State::Malformed;
    r.reason = "bad status line: " + std::string(status_line.substr(0, 80));
    return r;
  }
  r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  if (r.status != 101) {
    r.state = UpgradeResponse::State::Refused;
    r.reason = std::string(status_line) + " " +
               std::string(received.substr(r.head_bytes,
                                           std::min<size_t>(80, received.size() - r.head_bytes)));
    return r;
  }
  bool upgrade = false, connection = false, accept = false;
  size_t pos = first_eol == std::string_view::npos ? head.size() : first_eol + 2;
  while (pos < head.size()) {
    auto eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = head.size();
    const std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string name = lower(trim(line.substr(0, colon)));
    const std::string_view value = trim(line.substr(colon + 1));
    if (name == "upgrade") upgrade = lower(value) == "websocket";
    if (name == "connection") connection = lower(value).find("upgrade") != std::string::npos;
    if (name == "sec-websocket-accept") accept = value == expectedAccept(key);
    if (name == "sec-websocket-protocol") r.subprotocol = std::string(value);
  }
  if (!upgrade || !connection || !accept) {
    r.state = UpgradeResponse::State::Malformed;
    r.reason = std::string("101 without ") + (!upgrade      ? "Upgrade: websocket"
                                              : !connection ? "Connection: Upgrade"
                                                            : "a matching Sec-WebSocket-Accept");
    return r;
  }
  r.state = UpgradeResponse::State::Accepted;
  return r;
}

}  // namespace podterm::bench
