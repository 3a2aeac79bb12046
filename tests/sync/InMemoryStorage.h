#pragma once
// An in-memory sdk::Storage that keeps the storage.h contract: a version per row that increases
// on every change, compare-and-swap batches applied all or nothing, soft deletes, restore, purge,
// and a per-workspace lease with an expiry, session leases (by this machine's clock) and notify/
// subscribe (delivered synchronously on the notifying thread, outside the lock: simpler than a
// plugin's own thread). Tests can make it unavailable, or run a hook before the next batch
// (another tab writing between a sync's listing and its batch).

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "podterm/storage.h"

namespace podterm::tests::sync {

class InMemoryStorage : public sdk::Storage {
 public:
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
  sdk::Result<sdk::SubscriptionPtr> subscribe(const std::string& channel,
                                              sdk::NotificationCallback callback) override;

  // Test controls.
  void setUnavailable(bool unavailable);
  // Runs once, outside the lock, at the start of the next applyBatch.
  void beforeNextBatch(std::function<void()> hook);
  // Direct row writes (what another session's sync would store), bypassing CAS.
  void put(const sdk::WorkspaceId& ws, sdk::Item item);
  // The live row, if any.
  bool get(const sdk::WorkspaceId& ws, const std::string& path, sdk::Item* out);
  size_t batches() const;
  size_t manifestReads() const;  // listManifest calls

 private:
  struct Row {
    sdk::Item item;
  };
  struct Lease {
    std::string holder;
    int64_t expires_unix_ms = 0;
  };
  using Rows = std::map<std::string, Row>;
  static std::string key(const sdk::WorkspaceId& ws) { return ws.user + '\n' + ws.workspace; }
  sdk::Status check() const;

  mutable std::mutex mu_;
  std::map<std::string, Rows> workspaces_;
  std::map<std::string, Lease> leases_;
  std::map<std::string, Lease> session_leases_;
  struct Subscriber {
    std::string channel;
    std::shared_ptr<sdk::NotificationCallback> callback;
  };
  std::map<uint64_t, Subscriber> subscribers_;
  uint64_t next_subscriber_ = 1;
  int64_t next_version_ = 1;
  bool unavailable_ = false;
  size_t batches_ = 0;
  size_t manifest_reads_ = 0;
  std::function<void()> before_batch_;
};

}  // namespace podterm::tests::sync
