#include "plugin/GuardedStorage.h"

#include <utility>

namespace podterm::host {

using guard_detail::thrownStatus;

GuardedStorage::GuardedStorage(std::shared_ptr<sdk::Storage> inner, std::string plugin)
    : inner_(std::move(inner)), plugin_(std::move(plugin)) {}

sdk::Result<std::vector<sdk::ItemMeta>> GuardedStorage::listManifest(const sdk::WorkspaceId& ws) {
  try {
    return inner_->listManifest(ws);
  } catch (...) {
    return thrownStatus(plugin_);
  }
}

sdk::Result<std::string> GuardedStorage::readContent(const sdk::WorkspaceId& ws,
                                                     const std::string& path) {
  try {
    return inner_->readContent(ws, path);
  } catch (...) {
    return thrownStatus(plugin_);
  }
}

sdk::Status GuardedStorage::applyBatch(const sdk::WorkspaceId& ws,
                                       const std::vector<sdk::ItemChange>& changes) {
  try {
    return inner_->applyBatch(ws, changes);
  } catch (...) {
    return thrownStatus(plugin_);
  }
}

}  // namespace podterm::host
