#pragma once
// Everything a running host owns, built from a HostConfig in dependency order and torn down in
// reverse. Kept apart from the Poco application so tests can run a whole host in-process.

#include <memory>
#include <string>
#include <vector>

#include "app/OpenFileLimit.h"
#include "common/WorkerPool.h"
#include "config/HostConfig.h"
#include "http/AdminApi.h"
#include "http/HttpFront.h"
#include "http/TerminalEndpoint.h"
#include "http/WorkspaceApi.h"
#include "http/WorkspaceEvents.h"
#include "podterm/auth.h"
#include "podterm/runtime.h"
#include "podterm/storage.h"
#include "podterm/sync_policy.h"
#include "session/SessionManager.h"
#include "ws/EventLoop.h"

namespace podterm::host {

class PluginLoader;
class LoopScheduler;
class HostWorkspaceSyncer;
class PodReaper;
class SessionLeases;

class HostRuntime {
 public:
  // Throws ConfigError / PluginError with a one-line message on any refusal.
  explicit HostRuntime(const HostConfig& config);
  ~HostRuntime();
  void start();
  // Idempotent.
  void stop();
  uint16_t port() const;

 private:
  void schedulePurge();
  // Throws ConfigError when an auth plugin that verifies nothing would serve outside loopback.
  void refuseUnauthenticatedExposure() const;
  // limits.max_connections, or fewer when the open-file limit holds fewer (with a warning).
  size_t maxConnections() const;

 public:
  // Files API: where the sync engine publishes "sync" / "sync-failed" for the workspace's event
  // streams. Always present (publishing with no storage configured reaches nobody).
  WorkspaceEvents& workspaceEvents() { return events_; }
  // The storage plugin (guarded); null when [storage] names no plugin.
  sdk::Storage* storage() const { return storage_.get(); }

 private:
  HostConfig config_;
  OpenFileLimit open_files_;
  std::unique_ptr<PluginLoader> loader_;
  std::shared_ptr<sdk::PodRuntime> runtime_;
  std::shared_ptr<sdk::Authenticator> auth_;
  // Files API (only with a storage plugin). The hub outlives the loops that hold event streams.
  std::shared_ptr<sdk::Storage> storage_;
  WorkspaceEvents events_;
  std::unique_ptr<EventLoopGroup> loops_;
  std::unique_ptr<LoopScheduler> timers_;
  std::unique_ptr<WorkerPool> workers_;
  std::shared_ptr<sdk::SyncPolicy> policy_;  // null: sync after every command
  std::unique_ptr<HostWorkspaceSyncer> syncer_;
  std::unique_ptr<PodReaper> reaper_;  // null without storage
  std::unique_ptr<SessionManager> sessions_;
  // Several replicas on one database: this replica's session leases. Null without storage or
  // with SQLite (one replica).
  std::unique_ptr<SessionLeases> leases_;
  std::unique_ptr<TerminalEndpoint> terminal_;
  std::unique_ptr<WorkspaceApi> workspaces_;  // null without storage
  std::unique_ptr<AdminApi> admin_;
  Readiness readiness_;
  std::unique_ptr<HttpFront> http_;
  bool stopped_ = false;
};

}  // namespace podterm::host
