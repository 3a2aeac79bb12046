#pragma once
// Authenticates with a JSON Web Token signed by one configured algorithm (HS256, RS256 or ES256).
// The token's subject must be the user named in the session id; an optional claim lists the
// workspaces the token opens, another (admin_claim, JSON true) grants the admin API.

#include <Poco/Crypto/ECKey.h>
#include <Poco/Crypto/RSAKey.h>
#include <Poco/SharedPtr.h>

#include <cstdint>
#include <memory>
#include <string>

#include "podterm/auth.h"

namespace Poco::JWT {
class Signer;
}

namespace podterm::auth_jwt {

struct JwtConfig {
  std::string algorithm;    // "HS256", "RS256" or "ES256"; tokens with any other alg are refused
  std::string hmac_secret;  // HS256
  Poco::SharedPtr<Poco::Crypto::RSAKey> rsa_key;  // RS256 (public key)
  Poco::SharedPtr<Poco::Crypto::ECKey> ec_key;    // ES256 (public key)
  std::string issuer;                             // checked when not empty
  std::string audience;                           // checked when not empty
  int64_t leeway_s = 30;
  std::string workspace_claim;  // checked when not empty
  // A claim whose JSON value true makes the principal an admin; empty: no token is admin.
  std::string admin_claim;
  std::string cookie;  // cookie name carrying the token; empty: no cookie
  bool allow_query_token = false;
};

// Thread-safe: the configuration is immutable after construction and every call verifies with
// its own digest engines. Never blocks, never logs. Any exception is a refusal (fails closed).
class JwtAuthenticator final : public sdk::Authenticator {
 public:
  // Throws (Poco or std exceptions) when the key does not suit the algorithm.
  explicit JwtAuthenticator(JwtConfig config);
  ~JwtAuthenticator() override;

  sdk::Result<sdk::AuthDecision> authenticate(const sdk::AuthRequest& request) override;
  bool verifiesCredentials() const noexcept override { return true; }

  // Tokens longer than this are refused unread.
  static constexpr size_t kMaxTokenBytes = 8192;

 private:
  sdk::AuthDecision check(const sdk::AuthRequest& request, const std::string& token) const;

  JwtConfig config_;
  std::unique_ptr<Poco::JWT::Signer> signer_;
};

}  // namespace podterm::auth_jwt
