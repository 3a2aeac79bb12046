#include "plugin/GuardedAuthenticator.h"

#include <future>
#include <utility>

namespace podterm::host {

namespace {
constexpr size_t kAuthThreads = 4;
}

GuardedAuthenticator::GuardedAuthenticator(std::shared_ptr<sdk::Authenticator> inner,
                                           std::string plugin, std::chrono::milliseconds timeout)
    : inner_(std::move(inner)), plugin_(std::move(plugin)), timeout_(timeout) {
  if (timeout_.count() > 0) pool_ = std::make_unique<WorkerPool>(kAuthThreads, "auth");
}

GuardedAuthenticator::~GuardedAuthenticator() = default;

sdk::Result<sdk::AuthDecision> GuardedAuthenticator::call(const sdk::AuthRequest& request) {
  try {
    return inner_->authenticate(request);
  } catch (...) {
    return guard_detail::thrownStatus(plugin_);
  }
}

sdk::Result<sdk::AuthDecision> GuardedAuthenticator::authenticate(const sdk::AuthRequest& request) {
  if (!pool_) return call(request);
  // The task owns its copy of the request and the result's promise: a late answer lands in a
  // promise nobody waits for any more.
  auto promise = std::make_shared<std::promise<sdk::Result<sdk::AuthDecision>>>();
  auto answer = promise->get_future();
  bool queued = pool_->execute([this, promise, request] { promise->set_value(call(request)); });
  if (!queued)
    return sdk::Status(sdk::ErrorCode::Unavailable, "plugin " + plugin_ + " is stopping");
  if (answer.wait_for(timeout_) != std::future_status::ready) {
    return sdk::Status(sdk::ErrorCode::Timeout, "plugin " + plugin_ + " gave no answer within " +
                                                    std::to_string(timeout_.count()) + " ms");
  }
  return answer.get();
}

}  // namespace podterm::host
