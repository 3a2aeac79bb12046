#pragma once
// A Storage whose plugin exceptions become Status(Internal, "plugin <name> threw: <what>").
// A thin pass-through: it adds no behaviour of its own.

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
  sdk::Result<sdk::LeaseGrant> acquireSessionLease(const std::string& session_id,
                                                   const std::string& holder, int64_t ttl_ms,
                                                   sdk::LeaseMode mode) override;
  sdk::Status releaseSessionLease(const std::string& session_id,
                                  const std::string& holder) override;
  sdk::Result<std::vector<sdk::SessionLease>> listSessionLeases() override;
  sdk::Status notify(const std::string& channel, const std::string& payload) override;
  // The host's callback runs inside a catch-all (nothing the host throws reaches the plugin's
  // thread), and the handle keeps the plugin's storage alive until it is destroyed.
  sdk::Result<sdk::SubscriptionPtr> subscribe(const std::string& channel,
                                              sdk::NotificationCallback callback) override;

 private:
  template <class F>
  auto guarded(F&& call) -> decltype(call());

  std::shared_ptr<sdk::Storage> inner_;
  std::string plugin_;
};

}  // namespace podterm::host
