#pragma once
// A Storage whose plugin exceptions become Status(Internal, "plugin <name> threw: <what>").

#include <memory>
#include <string>

#include "plugin/Guard.h"
#include "podterm/storage.h"

namespace podterm::host {

class GuardedStorage final : public sdk::Storage {
 public:
  GuardedStorage(std::shared_ptr<sdk::Storage> inner, std::string plugin);

  sdk::Result<std::vector<sdk::ItemMeta>> listManifest(const sdk::WorkspaceId& ws,
                                                       bool include_deleted) override;
  sdk::Result<std::vector<sdk::Item>> readItems(const sdk::WorkspaceId& ws,
                                                const std::vector<std::string>& paths) override;
  sdk::Result<std::vector<sdk::Item>> readWorkspace(const sdk::WorkspaceId& ws) override;
  sdk::Result<sdk::BatchResult> applyBatch(const sdk::WorkspaceId& ws,
                                           const std::vector<sdk::ItemChange>& changes) override;
  sdk::Result<sdk::ItemMeta> restore(const sdk::WorkspaceId& ws, const std::string& path) override;
  sdk::Result<int64_t> purgeDeleted(int64_t deleted_before_unix_ms) override;
  sdk::Result<sdk::LeaseGrant> acquireLease(const sdk::WorkspaceId& ws, const std::string& holder,
                                            int64_t ttl_ms) override;
  sdk::Status releaseLease(const sdk::WorkspaceId& ws, const std::string& holder) override;

 private:
  template <class F>
  auto guarded(F&& call) -> decltype(call());

  std::shared_ptr<sdk::Storage> inner_;
  std::string plugin_;
};

}  // namespace podterm::host
