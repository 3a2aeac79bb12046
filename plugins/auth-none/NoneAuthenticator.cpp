#include "NoneAuthenticator.h"

namespace podterm::auth_none {

sdk::Result<sdk::AuthDecision> NoneAuthenticator::authenticate(const sdk::AuthRequest& request) {
  sdk::AuthDecision decision;
  decision.allowed = true;
  decision.http_status = 200;
  decision.principal = request.user;
  decision.expires_unix_ms = 0;
  decision.admin = admin_;
  return decision;
}

}  // namespace podterm::auth_none
