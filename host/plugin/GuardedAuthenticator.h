#pragma once
// An Authenticator whose plugin exceptions become an error result, which the host treats as a
// refusal (fail closed).

#include <memory>
#include <string>

#include "plugin/Guard.h"
#include "podterm/auth.h"

namespace podterm::host {

class GuardedAuthenticator final : public sdk::Authenticator {
 public:
  GuardedAuthenticator(std::shared_ptr<sdk::Authenticator> inner, std::string plugin);

  sdk::Result<sdk::AuthDecision> authenticate(const sdk::AuthRequest& request) override;

 private:
  std::shared_ptr<sdk::Authenticator> inner_;
  std::string plugin_;
};

}  // namespace podterm::host
