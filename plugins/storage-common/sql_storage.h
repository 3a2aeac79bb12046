#pragma once
// Storage over a SQL database through Poco Data: the logic both storage plugins share.
//
// Connects lazily: the constructor never touches the database. The first call (or prepare())
// opens the pool, applies the schema migrations and from then on every call takes one pooled
// session for one transaction. While the database is unreachable every call returns Unavailable
// and a later call tries again, so a host keeps serving terminals when its database is down.
// Thread-safe; at most pool_size calls talk to the database at once, the others wait up to
// timeout_ms for a session and then return Unavailable.

#include <Poco/Data/Session.h>
#include <Poco/Data/SessionPool.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

#include "notifications.h"
#include "podterm/storage.h"
#include "sql_dialect.h"

namespace podterm::storage {

struct SqlStorageOptions {
  std::string connection_string;  // the connector's (may hold a password: never shown)
  int pool_size = 4;
  int64_t timeout_ms = 5000;  // waiting for a session; the dialect applies it to the database too
  // Kept until the pool is gone (see connector_registration.h).
  std::shared_ptr<const void> connector_registration;
};

class SqlStorage final : public sdk::Storage {
 public:
  // notifier: where subscriptions live (storage-postgres: its LISTEN connection); null: an
  // in-process LocalNotifier.
  SqlStorage(SqlDialect dialect, SqlStorageOptions options,
             std::unique_ptr<Notifier> notifier = nullptr);
  ~SqlStorage() override;

  // Connects and migrates now; Unavailable when the database cannot be reached (the object is
  // still usable and tries again on the next call).
  sdk::Status prepare();

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

 private:
  using Work = std::function<sdk::Status(Poco::Data::Session&)>;

  // One transaction on one pooled session: body's error rolls back and is returned; a driver
  // error becomes a Status. what names the call in messages.
  sdk::Status transact(const char* what, bool write, const Work& body);
  sdk::Status ensureReadyLocked();
  sdk::Status errorStatus(const std::string& what, sdk::ErrorCode code,
                          const std::string& detail) const;
  std::string scrub(std::string text) const;
  // Serializes writers of one workspace (a no-op where the dialect's BEGIN already does).
  void lockWorkspace(Poco::Data::Session& session, const sdk::WorkspaceId& ws);
  void lockKey(Poco::Data::Session& session, int64_t key);
  sdk::Result<std::vector<sdk::Item>> readRows(const char* what, const sdk::WorkspaceId& ws,
                                               const std::vector<std::string>* paths);

  const SqlDialect dialect_;
  const SqlStorageOptions options_;

  std::mutex init_mu_;
  std::unique_ptr<Poco::Data::SessionPool> pool_;  // guarded by init_mu_ until ready_
  std::atomic<bool> ready_{false};

  std::mutex slots_mu_;
  std::condition_variable slots_cv_;
  int free_slots_;

  std::unique_ptr<Notifier> notifier_;  // stopped first in the destructor
};

}  // namespace podterm::storage
