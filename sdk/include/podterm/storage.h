#pragma once
// Storage: the workspace_items of each workspace (user, ws), the files the sync keeps in step
// with the pod, plus the per-workspace lease that serializes syncs across sessions and replicas.
//
// Threading: thread-safe; every call may block on the database for a bounded time (the plugin's
// timeouts) and the host makes them only from its worker threads, never from an event loop.
// Errors: Unavailable when the database cannot be reached (the host retries and tells the user),
// Conflict when a compare-and-swap lost (nothing of the batch was applied), InvalidArgument for
// a path the plugin refuses. A batch is applied in one transaction: all of it or none of it.
// Paths are relative to the workspace root, '/'-separated, without empty, "." or ".." parts;
// any other byte (spaces, quotes, newlines, non-UTF-8) is allowed and stored byte-exact.

#include <cstdint>
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
};

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
};

}  // namespace podterm::sdk
