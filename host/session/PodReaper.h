#pragma once
// Ends pods that no live session owns: left behind by a host that crashed or was killed before
// its sessions ended. At start and then periodically, it lists the pods the runtime created and,
// for each one older than the TTL that no terminal here uses (SessionManager::podInUse: the pod
// of a session id, or of a workspace with session.pod_scope = "workspace"), syncs its files a last
// time (where the pod is reachable) and deletes it. A pod whose files cannot be saved because
// storage is down is kept for a later round. With several replicas (setLeases), a pod whose
// session lease another replica holds unexpired is that replica's, and left alone; a replica that
// died stops renewing its leases, and once they expired its pods are reaped here (or adopted by a
// reconnect). A round whose leases cannot be read deletes nothing.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>

#include "common/Executor.h"
#include "common/Scheduler.h"
#include "podterm/runtime.h"
#include "session/SessionLeases.h"
#include "session/SessionManager.h"
#include "session/WorkspaceSyncer.h"

namespace podterm::host {

struct PodReaperOptions {
  std::chrono::milliseconds ttl{10 * 60 * 1000};      // younger pods are left alone
  std::chrono::milliseconds interval{5 * 60 * 1000};  // between rounds
};

class PodReaper {
 public:
  PodReaper(sdk::PodRuntime& runtime, SessionManager& sessions, WorkspaceSyncer* syncer,
            Executor& blocking, Scheduler& timers, PodReaperOptions options);
  // Runs a round now (on the executor) and then every interval until stop().
  void start();
  void stop();
  // One round, blocking (worker thread): returns how many pods were deleted.
  size_t reapOnce();
  // Several replicas: the leases that say which pods are another replica's. Before start().
  void setLeases(SessionLeases* leases) { leases_ = leases; }

 private:
  void schedule(std::chrono::milliseconds delay);

  sdk::PodRuntime& runtime_;
  SessionManager& sessions_;
  WorkspaceSyncer* syncer_;
  SessionLeases* leases_ = nullptr;
  Executor& blocking_;
  Scheduler& timers_;
  const PodReaperOptions options_;
  std::mutex mutex_;
  bool stopped_ = false;
  std::optional<Scheduler::TimerId> timer_;
};

}  // namespace podterm::host
