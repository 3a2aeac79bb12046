#pragma once
// An example auth plugin: static API keys, each belonging to one user, sent as
// "Authorization: Bearer <key>". A request for a user's session or workspace is allowed with one
// of that user's keys (403 with another user's key, 401 without a valid key); a request for no
// particular user (the workspace list) is allowed with any valid key, as the key's user.
//
// Threading: the table is immutable after construction, so authenticate() is safe from any
// number of host threads at once and never blocks.
// Secrets: no reason, error or log line ever quotes a key, valid or not.

#include <string>
#include <utility>
#include <vector>

#include "podterm/auth.h"

namespace podterm::examples::auth_apikey {

struct ApiKey {
  std::string user;
  std::string key;
};

class ApiKeyAuthenticator final : public sdk::Authenticator {
 public:
  explicit ApiKeyAuthenticator(std::vector<ApiKey> keys) : keys_(std::move(keys)) {}

  sdk::Result<sdk::AuthDecision> authenticate(const sdk::AuthRequest& request) override;
  // It checks a secret, so the host may expose it beyond loopback.
  bool verifiesCredentials() const noexcept override { return true; }

  // Longest key accepted; a longer credential is refused before any comparison.
  static constexpr size_t kMaxKeyBytes = 256;

 private:
  // The user of `key`, or nullptr. Compares against every key, in time that does not depend on
  // where a guess first differs from a real key.
  const ApiKey* find(const std::string& key) const;

  std::vector<ApiKey> keys_;
};

}  // namespace podterm::examples::auth_apikey
