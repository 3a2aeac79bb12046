#pragma once
// The host's file sync as sessions and the files API see it: WorkspaceSync (host/sync) with the
// per-session state it needs, events for SSE listeners after each sync, and files written
// through the API pushed into every live pod of their workspace.
// Threading: thread-safe; load/sync/onItemsWritten's pushes run on worker threads.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/Executor.h"
#include "http/WorkspaceEvents.h"
#include "http/WorkspaceWriter.h"
#include "session/WorkspaceSyncer.h"
#include "sync/WorkspaceSync.h"

namespace podterm::host {

class HostWorkspaceSyncer : public WorkspaceSyncer, public WorkspaceWriter {
 public:
  HostWorkspaceSyncer(sdk::PodRuntime& runtime, sdk::Storage& storage, SyncOptions options,
                      WorkspaceEvents& events, Executor& blocking);

  // WorkspaceSyncer
  SyncOutcome load(const SessionId& id) override;
  SyncOutcome sync(const SessionId& id) override;
  void forget(const SessionId& id) override;

  // WorkspaceWriter: a PUT/DELETE/restore through the files API.
  void onItemsWritten(const sdk::WorkspaceId& ws, const std::vector<sdk::Item>& items) override;

 private:
  // One session's sync state; its mutex keeps a push from the API and a sync apart.
  struct SessionEntry {
    SessionId id;
    std::mutex mutex;
    SessionSyncState state;
  };
  std::shared_ptr<SessionEntry> entry(const SessionId& id);
  SyncOutcome toOutcome(const SyncReport& report) const;
  void publish(const SessionId& id, const SyncReport& report);

  WorkspaceSync sync_;
  WorkspaceEvents& events_;
  Executor& blocking_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<SessionEntry>> sessions_;
};

}  // namespace podterm::host
