#pragma once
// WorkspaceSync: keeps a workspace's files in storage (workspace_items) in step with a session's
// pod. DB -> pod when a session starts (load) or when the API writes files (writeIntoPod); pod ->
// DB after file-modifying commands, on idle and before the pod is deleted (syncFromPod).
// The rules (deletes only from complete listings and only for paths the session saw, conflict
// copies, the lease, excludes, the size limit, hostile input) are in docs/sync.md.
//
// Threading: one instance per host; every method blocks (execs in the pod, storage calls) and is
// called from worker threads, never from an event loop. Calls for different sessions may run
// concurrently; a SessionSyncState is used by one call at a time (the caller serialises the
// syncs of one session). Syncs of one workspace are serialised by the storage lease.
// Ownership: runtime and storage are borrowed and must outlive the WorkspaceSync.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "podterm/result.h"
#include "podterm/runtime.h"
#include "podterm/storage.h"
#include "sync/WorkspaceQuota.h"

namespace podterm::host {

struct SyncOptions {
  std::string workspace_root = "/app/workspace";
  int64_t max_file_bytes = 10 * 1024 * 1024;  // larger files are skipped, never truncated
  // Names (shell patterns, matched against each path component) neither listed nor deleted.
  std::vector<std::string> excludes = {"node_modules", ".git", "__pycache__", ".venv"};
  std::chrono::milliseconds lease_ttl{60000};     // longer than one sync's execs
  std::chrono::milliseconds lease_wait{10000};    // how long to wait for another sync's lease
  std::chrono::milliseconds exec_timeout{30000};  // per exec in the pod
  // A sync whose result would exceed it is refused as a whole (see WorkspaceQuota.h).
  WorkspaceQuota quota;
  // load() first lists the pod's workspace and, when it holds anything (a pod that existed
  // before: adopted after its host died, taken over from another replica, kept at a session's
  // end), saves it (pod -> DB, as syncFromPod) before the stored files are written over it, so
  // nothing its last host had not saved is lost (a file changed on both sides keeps the pod's
  // version, the stored one as a conflict copy). A new pod's empty workspace costs one listing.
  bool save_before_load = false;
};

// What the pod held at a path when this session last loaded or listed it.
struct PodFileState {
  sdk::ItemKind kind = sdk::ItemKind::File;
  int64_t size = 0;
  int64_t mtime_ms = 0;
  uint32_t mode = 0;
  std::string link_target;  // symlinks
  // Modified so shortly before the listing that a later write in the same clock tick would
  // leave size and mtime unchanged: not trusted, the next sync fetches and hashes it again.
  bool racy = false;
};

// Per session: what it loaded or saw. Starts empty; load() and syncFromPod() keep it.
struct SessionSyncState {
  // Paths this session loaded or saw, with the stored version it knows. Only these may be
  // deleted by this session's syncs, and only with this version as the compare-and-swap base.
  std::map<std::string, int64_t> versions;
  // The pod's side at the last load or complete listing: a path whose metadata still matches is
  // unchanged in the pod (even if another session has since changed the stored row).
  std::map<std::string, PodFileState> listed;
  bool loaded = false;
  int64_t last_sync_unix_ms = 0;
};

struct SkippedPath {
  std::string path;
  std::string reason;  // "absolute path", "larger than 10485760 bytes", "beneath symlink 'x'"...
};

struct ConflictCopy {
  std::string path;       // the path both sides changed; this sync's content is kept there
  std::string copy_path;  // "<path>.conflict-<UTC time>": the other side's content, or empty
                          // when the other side's change was kept instead (a delete lost)
};

struct SyncReport {
  // Ok, or why nothing was applied: Unavailable (storage down or the lease busy: retry and tell
  // the user), Timeout / Internal (the pod's exec failed), Conflict (lost twice),
  // PermissionDenied (a workspace quota: quota_exceeded says which).
  sdk::Status status;
  std::optional<QuotaExceeded> quota_exceeded;
  std::vector<std::string> created;  // new rows
  std::vector<std::string> changed;  // updated rows
  std::vector<std::string> deleted;  // soft-deleted rows
  std::vector<SkippedPath> skipped;
  std::vector<ConflictCopy> conflicts;
  size_t listed_entries = 0;   // entries in the pod's listing (syncFromPod)
  size_t fetched_files = 0;    // files read from the pod's tar (syncFromPod)
  size_t written_entries = 0;  // entries sent to the pod (load, writeIntoPod)
  // load() with save_before_load: the pod's workspace held files, saved before the load.
  bool pod_had_files = false;
  int64_t bytes = 0;  // content bytes moved either way
  std::chrono::microseconds duration{0};

  bool ok() const { return status.isOk(); }
  // One line for logs and the user: "synced: 2 created, 1 changed, ... in 12 ms" or the error.
  std::string summary() const;
};

class WorkspaceSync {
 public:
  WorkspaceSync(sdk::PodRuntime& runtime, sdk::Storage& storage, SyncOptions options = {});

  // DB -> pod at session start, before the user's shell: every live row as one tar stream,
  // extracted by one exec. Unsafe rows are skipped and reported. Fills state. With
  // options.save_before_load, a pod that holds files is saved first; when that save fails,
  // nothing is loaded (the report says why).
  SyncReport load(const std::string& session_id, const sdk::WorkspaceId& ws,
                  SessionSyncState& state);

  // Pod -> DB: one listing exec, one tar exec for the changed files, one storage batch.
  SyncReport syncFromPod(const std::string& session_id, const sdk::WorkspaceId& ws,
                         SessionSyncState& state);

  // Pushes items (e.g. rows just stored through the API) into a live pod through the same tar
  // path. When state is given, the pushed paths count as loaded by that session.
  SyncReport writeIntoPod(const std::string& session_id, const std::vector<sdk::Item>& items,
                          SessionSyncState* state = nullptr);

  const SyncOptions& options() const { return options_; }

 private:
  struct Snapshot;

  sdk::Status acquireLease(const sdk::WorkspaceId& ws, const std::string& holder);
  SyncReport pushItems(const std::string& session_id, std::vector<sdk::Item> items,
                       SessionSyncState* state, SyncReport report);
  sdk::Status runSync(const std::string& session_id, const sdk::WorkspaceId& ws,
                      SessionSyncState& state, SyncReport& report);

  sdk::PodRuntime& runtime_;
  sdk::Storage& storage_;
  const SyncOptions options_;
};

}  // namespace podterm::host
