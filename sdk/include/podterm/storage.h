#pragma once
// Storage: the workspace_items of each workspace (user, ws), the files the sync keeps in step
// with the pod, plus the per-workspace lease that serializes syncs across sessions and replicas,
// the per-session lease that records which host replica owns a session, and notify/subscribe
// between the replicas that share the database.
//
// Threading: thread-safe; every call may block on the database for a bounded time (the plugin's
// timeouts) and the host makes them only from its worker threads, never from an event loop.
// Errors: Unavailable when the database cannot be reached (the host retries and tells the user),
// Conflict when a compare-and-swap lost (nothing of the batch was applied), InvalidArgument for
// a path the plugin refuses. A batch is applied in one transaction: all of it or none of it.
// Paths are relative to the workspace root, '/'-separated, without empty, "." or ".." parts;
// any other byte (spaces, quotes, newlines, non-UTF-8) is allowed and stored byte-exact.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "podterm/plugin.h"
#include "podterm/result.h"

namespace podterm::sdk {

struct WorkspaceId {
  std::string user;
  std::string workspace;
};

enum class ItemKind : int32_t { File = 0, Directory = 1, Symlink = 2 };

// One row of the manifest: everything but the content.
struct ItemMeta {
  std::string path;
  ItemKind kind = ItemKind::File;
  int64_t size = 0;             // bytes of content (files) or of the target (symlinks)
  uint32_t mode = 0644;         // permission bits only
  int64_t mtime_ms = 0;         // the file's own mtime in the pod
  std::string content_hash;     // hex SHA-256 of the content (files) or the target (symlinks)
  int64_t version = 0;          // set by storage: increases on every change of this row
  bool deleted = false;         // soft-deleted: content kept until purged
  int64_t updated_unix_ms = 0;  // set by storage
  int64_t deleted_unix_ms = 0;  // set by storage when deleted
};

// A row with its content.
struct Item {
  ItemMeta meta;
  std::string content;  // bytes (files), the link target (symlinks), empty (directories)
};

struct ItemChange {
  enum class Op : int32_t { Upsert = 0, Delete = 1 } op = Op::Upsert;
  // Upsert: the new row (path, kind, size, mode, mtime_ms, content_hash; version and timestamps
  // are set by storage) with its content. Delete: only item.meta.path is read; the row is kept
  // with deleted = true and its last content.
  Item item;
  // Compare-and-swap: apply only if the stored version equals this. 0: the row must not exist
  // or be deleted; -1: do not check.
  int64_t expected_version = -1;
};

// What a batch did: the new version of each changed path, in the order of the changes.
struct BatchResult {
  std::vector<int64_t> versions;
};

struct LeaseGrant {
  bool acquired = false;   // false: someone else holds it until expires_unix_ms
  std::string holder;      // the current holder
  int64_t expires_unix_ms = 0;
  // Session leases: the other holder whose unexpired lease a TakeOver ended (it must drop the
  // session); empty otherwise.
  std::string previous_holder{};
};

enum class LeaseMode : int32_t {
  Acquire = 0,   // succeeds when the lease is free, expired or already the holder's (a renewal)
  TakeOver = 1,  // always succeeds: a client reconnected to this replica takes the session over
};

// One session lease as stored. Expiry is by the database's clock, so replicas with skewed clocks
// agree on it: compare with `expired`, not with a local clock.
struct SessionLease {
  std::string session_id;
  std::string holder;
  int64_t expires_unix_ms = 0;
  bool expired = false;  // by the database's clock when it was listed
};

// Notifications: at most kMaxNotificationPayloadBytes bytes of UTF-8 text without NUL
// (PostgreSQL's NOTIFY limit), on a channel of 1 to 63 bytes of [A-Za-z0-9_.:-].
inline constexpr size_t kMaxNotificationPayloadBytes = 7999;

struct Notification {
  std::string channel;
  std::string payload;  // empty for a resync
  // True: notifications on this channel may have been missed (the plugin's listening connection
  // was down and is back, or was not up yet when subscribe returned): re-read the state they
  // stand for. payload is empty.
  bool resync = false;
};

// Runs on a thread of the plugin, one subscription's calls one at a time and in order. Must
// return quickly and must not throw; it may call the storage, and may destroy its own
// subscription (which then only stops further calls).
using NotificationCallback = std::function<void(const Notification&)>;

// Destroying it unsubscribes: when the destructor returns, no call of its callback runs or
// starts (unless it is destroyed inside that callback). Destroy it before the storage object.
class Subscription {
 public:
  virtual ~Subscription() = default;
};
using SubscriptionPtr = std::unique_ptr<Subscription>;

class Storage : public PluginObject {
 public:
  // Every row of the workspace; soft-deleted rows only when include_deleted.
  virtual Result<std::vector<ItemMeta>> listManifest(const WorkspaceId& ws, bool include_deleted) = 0;
  // Rows with content for the given paths (live rows only; missing paths are left out).
  virtual Result<std::vector<Item>> readItems(const WorkspaceId& ws,
                                              const std::vector<std::string>& paths) = 0;
  // Every live row with content (the initial load of a pod).
  virtual Result<std::vector<Item>> readWorkspace(const WorkspaceId& ws) = 0;
  // All or nothing. Conflict names the first path whose expected_version did not match.
  virtual Result<BatchResult> applyBatch(const WorkspaceId& ws,
                                         const std::vector<ItemChange>& changes) = 0;
  // Undeletes a soft-deleted row (NotFound when there is none); returns its new meta.
  virtual Result<ItemMeta> restore(const WorkspaceId& ws, const std::string& path) = 0;
  // Removes rows deleted before the given time; returns how many.
  virtual Result<int64_t> purgeDeleted(int64_t deleted_before_unix_ms) = 0;

  // A lease row per workspace with an expiry: acquire (or renew, for the same holder) succeeds
  // when the lease is free, expired or already held by holder. Never held open across calls.
  virtual Result<LeaseGrant> acquireLease(const WorkspaceId& ws, const std::string& holder,
                                          int64_t ttl_ms) = 0;
  // Releases it if holder holds it (Ok otherwise too).
  virtual Status releaseLease(const WorkspaceId& ws, const std::string& holder) = 0;

  // Session ownership: a row per session id with an expiry computed by the database's clock
  // (now + ttl_ms). Acquire succeeds when the lease is free, expired or holder's own (renewing
  // it: the heartbeat); otherwise acquired = false with the current holder and expiry. TakeOver
  // always succeeds and names the live holder it displaced in previous_holder. Never held open
  // across calls.
  virtual Result<LeaseGrant> acquireSessionLease(const std::string& session_id,
                                                 const std::string& holder, int64_t ttl_ms,
                                                 LeaseMode mode) = 0;
  // Removes the lease if holder holds it (Ok otherwise too, expired or not).
  virtual Status releaseSessionLease(const std::string& session_id,
                                     const std::string& holder) = 0;
  // Every session lease, expired ones included (flagged), in no particular order.
  virtual Result<std::vector<SessionLease>> listSessionLeases() = 0;

  // Sends payload to every subscriber of channel: of this object and of every other storage
  // object on the same database (PostgreSQL: other replicas; SQLite: this object only). No
  // subscriber is fine. Delivery is asynchronous and at most once; a subscriber that may have
  // missed some gets a resync. InvalidArgument for a bad channel or payload.
  virtual Status notify(const std::string& channel, const std::string& payload) = 0;
  // Calls callback for every notification on channel until the handle is destroyed. When it
  // returns with the database reachable, the channel is listened to: a later notify reaches it.
  // When the database is not reachable (or when called inside a callback) it still subscribes,
  // and the callback gets a resync once the channel is listened to.
  virtual Result<SubscriptionPtr> subscribe(const std::string& channel,
                                            NotificationCallback callback) = 0;
};

}  // namespace podterm::sdk
