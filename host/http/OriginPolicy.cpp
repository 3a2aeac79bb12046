#include "http/OriginPolicy.h"

#include <algorithm>
#include <cctype>

namespace podterm::host {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

int defaultPort(const std::string& scheme) {
  return scheme == "https" ? 443 : 80;
}

bool parsePort(const std::string& text, int& port) {
  if (text.empty() || text.size() > 5) return false;
  port = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    port = port * 10 + (c - '0');
  }
  return port > 0 && port <= 65535;
}

// Splits "host[:port]" or "[v6][:port]".
bool splitHostPort(const std::string& authority, std::string& host, std::string& port) {
  if (authority.empty()) return false;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) return false;
    host = authority.substr(1, close - 1);
    std::string rest = authority.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    port = rest.substr(1);
    return !port.empty();
  }
  auto colon = authority.find(':');
  host = authority.substr(0, colon);
  if (colon != std::string::npos) {
    port = authority.substr(colon + 1);
    if (port.empty()) return false;
  }
  return !host.empty();
}

bool validHostChars(const std::string& host) {
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == ':' || c == '_';
  });
}

}  // namespace

OriginPolicy::OriginPolicy(OriginConfig config) : allow_loopback_(config.allow_loopback_origins) {
  for (const auto& text : config.allowed_origins) {
    if (auto origin = parseOrigin(text)) allowed_.push_back(*origin);
  }
}

std::optional<OriginPolicy::Origin> OriginPolicy::parseOrigin(const std::string& text) {
  auto sep = text.find("://");
  if (sep == std::string::npos) return std::nullopt;
  Origin origin;
  origin.scheme = lower(text.substr(0, sep));
  if (origin.scheme != "http" && origin.scheme != "https") return std::nullopt;
  std::string authority = text.substr(sep + 3);
  if (authority.find_first_of("/?#@") != std::string::npos) return std::nullopt;
  std::string host, port;
  if (!splitHostPort(authority, host, port)) return std::nullopt;
  origin.host = lower(host);
  if (!validHostChars(origin.host)) return std::nullopt;
  if (port.empty()) {
    origin.port = defaultPort(origin.scheme);
  } else if (!parsePort(port, origin.port)) {
    return std::nullopt;
  }
  return origin;
}

std::optional<OriginPolicy::Origin> OriginPolicy::parseHostHeader(const std::string& text,
                                                                  const std::string& scheme) {
  std::string host, port;
  if (!splitHostPort(text, host, port)) return std::nullopt;
  Origin origin{scheme, lower(host), defaultPort(scheme)};
  if (!validHostChars(origin.host)) return std::nullopt;
  if (!port.empty() && !parsePort(port, origin.port)) return std::nullopt;
  return origin;
}

bool OriginPolicy::isLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8 in dotted form only: four numeric parts, the first 127.
  if (host.rfind("127.", 0) != 0) return false;
  int parts = 2;
  for (size_t i = 4; i < host.size(); ++i) {
    if (host[i] == '.') {
      if (host[i - 1] == '.') return false;
      ++parts;
    } else if (!std::isdigit(static_cast<unsigned char>(host[i]))) {
      return false;
    }
  }
  return parts == 4 && host.back() != '.';
}

std::optional<std::string> OriginPolicy::check(const std::optional<std::string>& origin_header,
                                               const std::string& host_header) const {
  if (!origin_header) return std::nullopt;
  auto origin = parseOrigin(*origin_header);
  if (!origin) return "malformed Origin";
  for (const auto& allowed : allowed_) {
    if (allowed.scheme == origin->scheme && allowed.host == origin->host &&
        allowed.port == origin->port)
      return std::nullopt;
  }
  if (allow_loopback_ && isLoopback(origin->host)) return std::nullopt;
  // Same-origin: the page was served by this host. The Host header carries no scheme, so the
  // origin's scheme decides the default port.
  auto host = parseHostHeader(host_header, origin->scheme);
  if (host && host->host == origin->host && host->port == origin->port) return std::nullopt;
  return "Origin not allowed";
}

}  // namespace podterm::host
