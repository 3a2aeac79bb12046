#include "plugin/GuardedStorage.h"

#include <utility>

namespace podterm::host {

GuardedStorage::GuardedStorage(std::shared_ptr<sdk::Storage> inner, std::string plugin)
    : inner_(std::move(inner)), plugin_(std::move(plugin)) {}

template <class F>
auto GuardedStorage::guarded(F&& call) -> decltype(call()) {
  try {
    return call();
  } catch (...) {
    return guard_detail::thrownStatus(plugin_);
  }
}

sdk::Result<std::vector<sdk::ItemMeta>> GuardedStorage::listManifest(const sdk::WorkspaceId& ws,
                                                                     bool include_deleted) {
  return guarded([&] { return inner_->listManifest(ws, include_deleted); });
}

sdk::Result<std::vector<sdk::Item>> GuardedStorage::readItems(
    const sdk::WorkspaceId& ws, const std::vector<std::string>& paths) {
  return guarded([&] { return inner_->readItems(ws, paths); });
}

sdk::Result<std::vector<sdk::Item>> GuardedStorage::readWorkspace(const sdk::WorkspaceId& ws) {
  return guarded([&] { return inner_->readWorkspace(ws); });
}

sdk::Result<sdk::BatchResult> GuardedStorage::applyBatch(
    const sdk::WorkspaceId& ws, const std::vector<sdk::ItemChange>& changes) {
  return guarded([&] { return inner_->applyBatch(ws, changes); });
}

sdk::Result<sdk::ItemMeta> GuardedStorage::restore(const sdk::WorkspaceId& ws,
                                                   const std::string& path) {
  return guarded([&] { return inner_->restore(ws, path); });
}

sdk::Result<int64_t> GuardedStorage::purgeDeleted(int64_t deleted_before_unix_ms) {
  return guarded([&] { return inner_->purgeDeleted(deleted_before_unix_ms); });
}

sdk::Result<sdk::LeaseGrant> GuardedStorage::acquireLease(const sdk::WorkspaceId& ws,
                                                          const std::string& holder,
                                                          int64_t ttl_ms) {
  return guarded([&] { return inner_->acquireLease(ws, holder, ttl_ms); });
}

sdk::Status GuardedStorage::releaseLease(const sdk::WorkspaceId& ws, const std::string& holder) {
  return guarded([&] { return inner_->releaseLease(ws, holder); });
}

sdk::Result<sdk::LeaseGrant> GuardedStorage::acquireSessionLease(const std::string& session_id,
                                                                 const std::string& holder,
                                                                 int64_t ttl_ms,
                                                                 sdk::LeaseMode mode) {
  return guarded([&] { return inner_->acquireSessionLease(session_id, holder, ttl_ms, mode); });
}

sdk::Status GuardedStorage::releaseSessionLease(const std::string& session_id,
                                                const std::string& holder) {
  return guarded([&] { return inner_->releaseSessionLease(session_id, holder); });
}

sdk::Result<std::vector<sdk::SessionLease>> GuardedStorage::listSessionLeases() {
  return guarded([&] { return inner_->listSessionLeases(); });
}

sdk::Status GuardedStorage::notify(const std::string& channel, const std::string& payload) {
  return guarded([&] { return inner_->notify(channel, payload); });
}

namespace {

// Destroys the plugin's handle first, then lets go of the plugin's storage.
class GuardedSubscription final : public sdk::Subscription {
 public:
  GuardedSubscription(std::shared_ptr<sdk::Storage> storage, sdk::SubscriptionPtr inner)
      : storage_(std::move(storage)), inner_(std::move(inner)) {}
  ~GuardedSubscription() override {
    try {
      inner_.reset();
    } catch (...) {
    }
  }

 private:
  std::shared_ptr<sdk::Storage> storage_;
  sdk::SubscriptionPtr inner_;
};

}  // namespace

sdk::Result<sdk::SubscriptionPtr> GuardedStorage::subscribe(const std::string& channel,
                                                            sdk::NotificationCallback callback) {
  sdk::NotificationCallback safe;
  if (callback) {
    safe = [callback = std::move(callback)](const sdk::Notification& n) {
      try {
        callback(n);
      } catch (...) {
      }
    };
  }
  return guarded([&]() -> sdk::Result<sdk::SubscriptionPtr> {
    auto inner = inner_->subscribe(channel, std::move(safe));
    if (!inner) return inner.status();
    return sdk::SubscriptionPtr(
        std::make_unique<GuardedSubscription>(inner_, std::move(inner).value()));
  });
}

}  // namespace podterm::host
