#pragma once
// An Authenticator that fails closed: plugin exceptions become an error result and, with a time
// limit, a call that has not answered in time is refused while it finishes in the background.

#include <chrono>
#include <memory>
#include <string>

#include "common/WorkerPool.h"
#include "plugin/Guard.h"
#include "podterm/auth.h"

namespace podterm::host {

class GuardedAuthenticator final : public sdk::Authenticator {
 public:
  // timeout zero: calls run on the caller's thread, unbounded. Otherwise they run on a few
  // threads of the guard's own, so a hung plugin stalls only them, never the HTTP threads.
  GuardedAuthenticator(std::shared_ptr<sdk::Authenticator> inner, std::string plugin,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  ~GuardedAuthenticator() override;

  sdk::Result<sdk::AuthDecision> authenticate(const sdk::AuthRequest& request) override;
  bool verifiesCredentials() const noexcept override { return inner_->verifiesCredentials(); }

 private:
  sdk::Result<sdk::AuthDecision> call(const sdk::AuthRequest& request);

  std::shared_ptr<sdk::Authenticator> inner_;
  std::string plugin_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<WorkerPool> pool_;
};

}  // namespace podterm::host
