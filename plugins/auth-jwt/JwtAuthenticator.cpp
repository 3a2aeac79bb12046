#include "JwtAuthenticator.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Dynamic/Var.h>
#include <Poco/HMACEngine.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/SHA2Engine.h>

#include <chrono>
#include <cmath>
#include <iterator>
#include <optional>
#include <sstream>
#include <utility>

namespace podterm::auth_jwt {

namespace {

constexpr char kSubprotocolPrefix[] = "bearer.";
constexpr size_t kSubprotocolPrefixLength = sizeof(kSubprotocolPrefix) - 1;

sdk::AuthDecision refuse(int status, std::string reason) {
  sdk::AuthDecision d;
  d.allowed = false;
  d.http_status = status;
  d.reason = std::move(reason);
  return d;
}

bool equalsIgnoreCase(const std::string& a, size_t from, const char* b, size_t n) {
  if (a.size() < from + n) return false;
  for (size_t i = 0; i < n; ++i) {
    char c = a[from + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

std::string trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return {};
  size_t end = s.find_last_not_of(" \t");
  return s.substr(begin, end - begin + 1);
}

// The session id's user charset: a subject outside it can never name a session's user.
bool isValidUser(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> fromAuthorization(const sdk::AuthRequest& request) {
  for (const auto& [name, value] : request.headers) {
    if (name != "authorization") continue;
    // RFC 6750: "Bearer" (scheme names are case-insensitive), one space, the token.
    if (equalsIgnoreCase(value, 0, "bearer ", 7)) {
      std::string token = trim(value.substr(7));
      if (!token.empty()) return token;
    }
  }
  return std::nullopt;
}

std::optional<std::string> fromCookie(const sdk::AuthRequest& request, const std::string& cookie) {
  if (cookie.empty()) return std::nullopt;
  for (const auto& [name, value] : request.headers) {
    if (name != "cookie") continue;
    size_t pos = 0;
    while (pos <= value.size()) {
      size_t end = value.find(';', pos);
      if (end == std::string::npos) end = value.size();
      std::string pair = trim(value.substr(pos, end - pos));
      size_t eq = pair.find('=');
      if (eq != std::string::npos && trim(pair.substr(0, eq)) == cookie) {
        std::string token = trim(pair.substr(eq + 1));
        if (token.size() >= 2 && token.front() == '"' && token.back() == '"') {
          token = token.substr(1, token.size() - 2);
        }
        if (!token.empty()) return token;
      }
      pos = end + 1;
    }
  }
  return std::nullopt;
}

// The host passes the request target with its query (AuthRequest::path is the URI, for the
// terminal, files and admin endpoints alike) and never logs it: its log lines name the session
// id or workspace, not the target. So the token is read from there, and it must stay out of this
// plugin's refusal reasons too, which the host does log.
std::optional<std::string> fromQuery(const sdk::AuthRequest& request) {
  size_t q = request.path.find('?');
  if (q == std::string::npos) return std::nullopt;
  size_t pos = q + 1;
  const std::string& p = request.path;
  while (pos <= p.size()) {
    size_t end = p.find('&', pos);
    if (end == std::string::npos) end = p.size();
    if (p.compare(pos, 6, "token=") == 0 && end > pos + 6) return p.substr(pos + 6, end - pos - 6);
    pos = end + 1;
  }
  return std::nullopt;
}

// A compact JWS (RFC 7515 §7.1): three non-empty base64url parts, two dots, nothing else. Poco's
// parser is laxer (it ignores a fourth part), so the shape is checked first.
bool isCompactJws(const std::string& token) {
  int dots = 0;
  char previous = '.';
  for (char c : token) {
    if (c == '.') {
      if (previous == '.') return false;
      ++dots;
    } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_')) {
      return false;
    }
    previous = c;
  }
  return dots == 2 && previous != '.';
}

int base64urlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  return c == '-' ? 62 : 63;
}

// Each part in canonical unpadded base64url: its last character leaves no stray bits, so one
// token has one spelling (no signature malleability).
bool isCanonicalBase64url(const std::string& token) {
  size_t begin = 0;
  while (begin <= token.size()) {
    size_t end = token.find('.', begin);
    if (end == std::string::npos) end = token.size();
    size_t length = end - begin;
    if (length % 4 == 1) return false;
    if (length % 4 != 0) {
      int last = base64urlValue(token[end - 1]);
      if (length % 4 == 2 && (last & 0x0f) != 0) return false;
      if (length % 4 == 3 && (last & 0x03) != 0) return false;
    }
    begin = end + 1;
  }
  return true;
}

// SHA-256 with the block and digest sizes HMACEngine needs.
class Sha256Engine : public Poco::SHA2Engine {
 public:
  enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
  Sha256Engine() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
};

// HS256 verified here rather than by Poco's Signer, whose comparison stops at the first differing
// byte: this one takes the same time wherever the signatures differ. Precondition: isCompactJws.
bool verifyHs256(const std::string& token, const std::string& secret) {
  const size_t last_dot = token.rfind('.');
  Poco::HMACEngine<Sha256Engine> hmac(secret);
  hmac.update(token.data(), last_dot);
  const Poco::DigestEngine::Digest& expected = hmac.digest();
  std::istringstream encoded(token.substr(last_dot + 1));
  Poco::Base64Decoder decoder(encoded, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  std::string given((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
  if (given.size() != expected.size()) return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < given.size(); ++i) {
    difference |= static_cast<unsigned char>(static_cast<unsigned char>(given[i]) ^ expected[i]);
  }
  return difference == 0;
}

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A NumericDate claim (RFC 7519 §2): a JSON number of seconds, or nothing when absent or not one.
std::optional<double> numericDate(const Poco::JSON::Object& payload, const std::string& claim) {
  if (!payload.has(claim)) return std::nullopt;
  Poco::Dynamic::Var v = payload.get(claim);
  if (v.isEmpty() || v.isString() || v.isBoolean() || !v.isNumeric()) return std::nullopt;
  double d = v.convert<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

}  // namespace

JwtAuthenticator::JwtAuthenticator(JwtConfig config) : config_(std::move(config)) {
  signer_ = std::make_unique<Poco::JWT::Signer>();
  if (config_.algorithm == Poco::JWT::Signer::ALGO_HS256) {
    signer_->setHMACKey(config_.hmac_secret);
  } else if (config_.algorithm == Poco::JWT::Signer::ALGO_RS256) {
    signer_->setRSAKey(config_.rsa_key);
  } else if (config_.algorithm == Poco::JWT::Signer::ALGO_ES256) {
    signer_->setECKey(config_.ec_key);
  } else {
    throw std::invalid_argument("unsupported algorithm");
  }
  // Exactly one algorithm: a token naming another one (or "none") never reaches a verifier.
  signer_->setAlgorithms({config_.algorithm});
}

JwtAuthenticator::~JwtAuthenticator() = default;

sdk::Result<sdk::AuthDecision> JwtAuthenticator::authenticate(const sdk::AuthRequest& request) {
  try {
    std::string credential_subprotocol;
    std::optional<std::string> token = fromAuthorization(request);
    // The bearer entry is named whichever source carried the token: the host must never echo it.
    for (const auto& offered : request.offered_subprotocols) {
      if (offered.size() > kSubprotocolPrefixLength &&
          offered.compare(0, kSubprotocolPrefixLength, kSubprotocolPrefix) == 0) {
        credential_subprotocol = offered;
        if (!token) token = offered.substr(kSubprotocolPrefixLength);
        break;
      }
    }
    if (!token) token = fromCookie(request, config_.cookie);
    if (!token && config_.allow_query_token) token = fromQuery(request);

    sdk::AuthDecision decision =
        token ? check(request, *token) : refuse(401, "missing bearer token");
    decision.credential_subprotocol = std::move(credential_subprotocol);
    return decision;
  } catch (...) {
    // Fails closed; the exception's text may quote the token, so it goes nowhere.
    return refuse(401, "invalid token");
  }
}

sdk::AuthDecision JwtAuthenticator::check(const sdk::AuthRequest& request,
                                          const std::string& token) const {
  if (token.size() > kMaxTokenBytes || !isCompactJws(token) || !isCanonicalBase64url(token)) {
    return refuse(401, "invalid token");
  }
  Poco::JWT::Token parsed;
  try {
    // Unverified parse first, so a foreign algorithm is refused by name before any verifier runs.
    Poco::JWT::Token unverified(token);
    if (unverified.getAlgorithm() != config_.algorithm) {
      return refuse(401, "token algorithm not accepted");
    }
    if (config_.algorithm == Poco::JWT::Signer::ALGO_HS256) {
      if (!verifyHs256(token, config_.hmac_secret)) return refuse(401, "invalid token");
      parsed = std::move(unverified);
    } else {
      parsed = signer_->verify(token);
    }
  } catch (...) {
    return refuse(401, "invalid token");
  }
  const Poco::JSON::Object& payload = parsed.payload();

  const double now = static_cast<double>(nowSeconds());
  const double leeway = static_cast<double>(config_.leeway_s);
  std::optional<double> exp = numericDate(payload, Poco::JWT::Token::CLAIM_EXPIRATION);
  if (!exp) return refuse(401, "token has no expiry");
  if (now > *exp + leeway) return refuse(401, "token expired");
  if (payload.has(Poco::JWT::Token::CLAIM_NOT_BEFORE)) {
    std::optional<double> nbf = numericDate(payload, Poco::JWT::Token::CLAIM_NOT_BEFORE);
    if (!nbf) return refuse(401, "invalid token");
    if (now + leeway < *nbf) return refuse(401, "token not yet valid");
  }
  if (!config_.issuer.empty()) {
    Poco::Dynamic::Var iss = payload.get(Poco::JWT::Token::CLAIM_ISSUER);
    if (!iss.isString() || iss.extract<std::string>() != config_.issuer) {
      return refuse(401, "token issuer not accepted");
    }
  }
  if (!config_.audience.empty()) {
    bool found = false;
    for (const auto& aud : parsed.getAudience()) found = found || aud == config_.audience;
    if (!found) return refuse(401, "token audience not accepted");
  }

  Poco::Dynamic::Var sub = payload.get(Poco::JWT::Token::CLAIM_SUBJECT);
  if (!sub.isString()) return refuse(401, "token has no subject");
  const std::string subject = sub.extract<std::string>();
  if (!isValidUser(subject)) return refuse(403, "token subject is not a valid user name");
  if (!request.user.empty() && subject != request.user) {
    return refuse(403, "token does not belong to this session's user");
  }

  if (!config_.workspace_claim.empty() && !request.workspace.empty()) {
    bool found = false;
    Poco::JSON::Array::Ptr workspaces = payload.getArray(config_.workspace_claim);
    if (workspaces) {
      for (size_t i = 0; i < workspaces->size() && !found; ++i) {
        Poco::Dynamic::Var w = workspaces->get(static_cast<unsigned>(i));
        found = w.isString() && w.extract<std::string>() == request.workspace;
      }
    }
    if (!found) return refuse(403, "token does not open this workspace");
  }

  sdk::AuthDecision d;
  d.allowed = true;
  d.http_status = 200;
  d.principal = subject;
  // Admin only for the JSON literal true: not "true", 1 or an array, so a claim an identity
  // provider fills with something else never grants it by accident.
  if (!config_.admin_claim.empty() && payload.has(config_.admin_claim)) {
    Poco::Dynamic::Var admin = payload.get(config_.admin_claim);
    d.admin = admin.isBoolean() && admin.extract<bool>();
  }
  // Clamp: a far-future or fractional exp still gives a sane millisecond time.
  constexpr double kMaxMs = 9.0e15;
  // The socket lives as long as the token is accepted: exp plus the same leeway, so a token let
  // in by the leeway is not closed the moment it opens a socket.
  double ms = (*exp + static_cast<double>(config_.leeway_s)) * 1000.0;
  d.expires_unix_ms = static_cast<int64_t>(ms > kMaxMs ? kMaxMs : (ms < 1.0 ? 1.0 : ms));
  return d;
}

}  // namespace podterm::auth_jwt
