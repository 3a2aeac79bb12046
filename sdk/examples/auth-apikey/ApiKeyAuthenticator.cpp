#include "ApiKeyAuthenticator.h"

#include <cctype>

namespace podterm::examples::auth_apikey {
namespace {

sdk::AuthDecision refuse(int http_status, std::string reason) {
  sdk::AuthDecision decision;
  decision.allowed = false;
  decision.http_status = http_status;
  decision.reason = std::move(reason);
  return decision;
}

bool startsWithBearer(const std::string& value) {
  static const std::string kScheme = "bearer ";
  if (value.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return false;
  }
  return true;
}

// Equal strings, in time that depends on the stored key's length only (a byte-by-byte == would
// tell an attacker how much of a guess was right).
bool sameKey(const std::string& given, const std::string& stored) {
  unsigned char diff = given.size() == stored.size() ? 0 : 1;
  for (size_t i = 0; i < stored.size(); ++i) {
    unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(stored[i]));
  }
  return diff == 0;
}

}  // namespace

const ApiKey* ApiKeyAuthenticator::find(const std::string& key) const {
  const ApiKey* found = nullptr;
  for (const ApiKey& entry : keys_) {
    if (sameKey(key, entry.key)) found = &entry;  // no early exit: every key costs the same
  }
  return found;
}

sdk::Result<sdk::AuthDecision> ApiKeyAuthenticator::authenticate(const sdk::AuthRequest& request) {
  const std::string* authorization = nullptr;
  for (const auto& [name, value] : request.headers) {
    if (name != "authorization") continue;
    // Two credentials are ambiguous: which one did the client mean?
    if (authorization != nullptr) return refuse(401, "more than one Authorization header");
    authorization = &value;
  }
  if (authorization == nullptr)
    return refuse(401, "an API key is required (Authorization: Bearer)");
  if (!startsWithBearer(*authorization)) {
    return refuse(401, "expected Authorization: Bearer <API key>");
  }
  const std::string key = authorization->substr(7);
  const ApiKey* entry = key.size() <= kMaxKeyBytes ? find(key) : nullptr;
  if (entry == nullptr) return refuse(401, "invalid API key");
  // A session or workspace route names its user: the key must be one of that user's.
  if (!request.user.empty() && request.user != entry->user) {
    return refuse(403, "this API key does not open user " + request.user + "'s sessions");
  }
  sdk::AuthDecision decision;
  decision.allowed = true;
  decision.http_status = 200;
  decision.principal = entry->user;
  decision.expires_unix_ms = 0;  // static keys do not expire; the host keeps the socket open
  return decision;
}

}  // namespace podterm::examples::auth_apikey
