#pragma once
// Development only: trusts the user named in the session id. Anyone who can reach the host can act
// as any user, so the host must accept it on loopback listeners only.

#include "podterm/auth.h"

namespace podterm::auth_none {

// Allows every request, with principal = request.user and no expiry. Nobody is admin unless the
// config says admin = true, which makes every request admin (development only: anyone who can
// reach the host can then list and end every session). Stateless: thread-safe, never blocks.
class NoneAuthenticator final : public sdk::Authenticator {
 public:
  explicit NoneAuthenticator(bool admin = false) : admin_(admin) {}

  sdk::Result<sdk::AuthDecision> authenticate(const sdk::AuthRequest& request) override;
  bool verifiesCredentials() const noexcept override { return false; }

 private:
  const bool admin_;
};

}  // namespace podterm::auth_none
