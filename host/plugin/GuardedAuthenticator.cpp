#include "plugin/GuardedAuthenticator.h"

#include <utility>

namespace podterm::host {

GuardedAuthenticator::GuardedAuthenticator(std::shared_ptr<sdk::Authenticator> inner,
                                           std::string plugin)
    : inner_(std::move(inner)), plugin_(std::move(plugin)) {}

sdk::Result<sdk::AuthDecision> GuardedAuthenticator::authenticate(const sdk::AuthRequest& request) {
  try {
    return inner_->authenticate(request);
  } catch (...) {
    return guard_detail::thrownStatus(plugin_);
  }
}

}  // namespace podterm::host
