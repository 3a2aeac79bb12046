#pragma once
// The sync side of one session: runs pod -> DB syncs on the worker pool, one at a time. Triggers
// that arrive during a sync coalesce into one more run; a sync that fails because the database is
// unreachable is retried with exponential backoff (up to retry_max) and the user is told once
// that their files are not being saved, and again when they are. Activity (input, output) arms an
// idle sync when the policy asks for one.
// Threading: every method is thread-safe; listener calls come from worker threads, never with a
// lock held.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include "common/Executor.h"
#include "common/Scheduler.h"
#include "session/WorkspaceSyncer.h"

namespace podterm::host {

class SessionSyncListener {
 public:
  virtual ~SessionSyncListener() = default;
  // After every sync or load. `failing_changed`: the outcome started (ok = false) or ended
  // (ok = true) a run of failures, so the user should hear about it.
  virtual void onSyncOutcome(const SyncOutcome& outcome, bool is_load, bool failing_changed) = 0;
};

struct SessionSyncOptions {
  std::chrono::milliseconds retry_min{1000};
  std::chrono::milliseconds retry_max{30'000};
  std::chrono::milliseconds idle_after{0};  // 0: no idle syncs
  int final_attempts = 3;                   // tries of the last sync before the pod is deleted
};

class SessionSync : public std::enable_shared_from_this<SessionSync> {
 public:
  SessionSync(SessionId id, WorkspaceSyncer& syncer, Executor& blocking, Scheduler& timers,
              SessionSyncOptions options, SessionSyncListener& listener);
  ~SessionSync();

  // DB -> pod. Blocking: call on a worker thread, before the shell starts.
  SyncOutcome load();
  // Must be owned by a shared_ptr (queued work keeps it alive).
  // Asks for a pod -> DB sync soon. Cheap; coalesces.
  void request();
  // Input or output happened (hot path: one atomic store, and a timer only when none is armed).
  void noteActivity();
  // The last sync before the pod goes: waits for a running sync, then syncs, retrying up to
  // final_attempts times. Returns whether the workspace is safely in storage. Blocking: worker
  // thread only. After it returns no further syncs start.
  bool finalSync();
  bool failing() const;

 private:
  // Records an outcome (mutex_ held); true when the user should hear about it: saving started
  // or stopped failing, or fails for another reason now (a quota after an outage).
  bool noteOutcomeLocked(const SyncOutcome& outcome);
  void run();
  void finishRun(const SyncOutcome& outcome);
  void onIdleTimer();
  std::chrono::milliseconds nextBackoff();

  const SessionId id_;
  WorkspaceSyncer& syncer_;
  Executor& blocking_;
  Scheduler& timers_;
  const SessionSyncOptions options_;
  SessionSyncListener& listener_;

  mutable std::mutex mutex_;
  std::condition_variable idle_;
  bool running_ = false;
  bool pending_ = false;
  bool stopped_ = false;
  bool failing_ = false;
  bool failing_quota_ = false;  // failing_ because of a workspace quota
  std::chrono::milliseconds backoff_{0};
  std::optional<Scheduler::TimerId> retry_timer_;
  std::optional<Scheduler::TimerId> idle_timer_;
  // Activity is counted, not timed: the idle timer re-arms while the count moves, so idle syncs
  // need no clock on the hot path.
  std::atomic<uint64_t> activity_{0};
  std::atomic<bool> idle_armed_{false};
  uint64_t activity_at_arm_ = 0;
  uint64_t activity_at_sync_ = 0;
};

}  // namespace podterm::host
