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

}  // namespace podterm::host
