#pragma once
// One pod and the terminals that use it: pod ownership, apart from any one terminal. A session's
// terminals (`?term=`), and with session.pod_scope = "workspace" every session of a workspace,
// share one SessionPod. It asks the runtime for the pod once, loads the workspace into it once
// (DB -> pod) when it is ready, then tells each user (PodUser: a Session) Ready, and the user
// starts its shell; syncs (pod -> DB) run through its one SessionSync, per command of any user.
// When the last user leaves, the pod ends: the final sync, then the pod is deleted (or kept when
// its files could not be saved, or at host shutdown).
//
// States: Waiting (made, not started: it succeeds a pod still ending under the same id) ->
// Starting (asked for) -> Loading (ready, workspace loading) -> Ready -> Ending -> Ended. A pod
// that failed, was refused or stopped (lost) takes no new users; its users end, and the next
// terminal gets a successor pod. Except: a pod lost after it was ready (evicted, deleted under its
// users) is replaced while it has users, at most kMaxReplacements times per kReplacementWindow:
// its users hear onPodReplacing(), what is left of it is deleted, a new one is asked for under the
// same id (back to Starting) and loaded from storage, and its users hear Ready again. What was
// written since the last sync was in the lost pod only.
//
// Lifetime (limits.max_session_lifetime_s) is the pod's, not a terminal's: it counts from the
// pod's start, is shared by every terminal that uses the pod (a terminal opened or recreated later
// gets what is left of it), and is not reset by a replacement pod. Its users are told
// onLifetimeNotice() shortly before and onLifetimeOver() at the end (a user welcomed later hears
// it at once), and end; the pod takes no new users from then on, so a reconnect after it gets a
// fresh pod.
//
// A pod whose load found files in it (SyncOutcome::pod_had_files: it was there before this host
// asked for it, adopted after its host died, taken over from another replica or kept) counts its
// lifetime from when the runtime created it (PodInfo::created_unix_ms; a warm-pool pod's is its
// claim), so neither a move to another replica nor a host restart starts the lifetime again.
//
// Threading: every method is thread-safe. No user callback runs with the state mutex held;
// deliveries to users (phases, refusals, and a new user's welcome) are serialized by a second
// mutex, so a user sees the pod's history once and in order. A user gets nothing before
// welcome(). Runtime calls other than stopObserving() are made without either mutex.

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "common/Executor.h"
#include "common/Scheduler.h"
#include "podterm/runtime.h"
#include "podterm/sync_policy.h"
#include "session/PodUser.h"
#include "session/SessionId.h"
#include "session/SessionSync.h"
#include "session/WorkspaceSyncer.h"

namespace podterm::host {

enum class PodLifecycle { Waiting, Starting, Loading, Ready, Ending, Ended };

// How one pod is run, from SessionOptions.
struct PodOptions {
  // limits.max_session_lifetime_s (0: none), and how long before its end users hear.
  std::chrono::milliseconds max_lifetime{0};
  std::chrono::milliseconds lifetime_notice{0};
};

class SessionPod : public sdk::PodObserver,
                   public SessionSyncListener,
                   public std::enable_shared_from_this<SessionPod> {
 public:
  struct Context {
    sdk::PodRuntime& runtime;
    Scheduler& timers;
    Executor& blocking;
    WorkspaceSyncer* syncer = nullptr;  // none: files live only in the pod
    sdk::SyncPolicy* policy = nullptr;  // for its idle-sync delay
  };
  // Called once when the pod has ended (deleted, kept, or never started).
  using EndedCallback = std::function<void(SessionPod& pod)>;

  SessionPod(SessionId id, SessionSyncOptions sync_options, Context context, EndedCallback on_ended,
             PodOptions options = {});
  ~SessionPod() override;

  // The pod's id: what the runtime and the sync know it by (see PodScope).
  const SessionId& id() const { return id_; }
  // Asks the runtime for the pod and starts its lifetime. Once; later calls do nothing. Must be
  // owned by a shared_ptr.
  void start();
  // Adds a user. False when the pod takes no more (ending, ended, lost or past its lifetime): the
  // caller needs a successor pod.
  bool join(const std::shared_ptr<PodUser>& user);
  // Tells a user that joined the pod's last phase (or its refusal), and from then on everything
  // that follows. Call without locks.
  void welcome(PodUser& user);
  // The user leaves. True when it was the last: the pod is ending (no new users) and the caller
  // must call finish() on a worker thread. Call without the user's locks.
  bool leave(const PodUser* user);
  // The end (worker thread, after leave() returned true): the final sync, then the pod deleted
  // or kept. Returns whether its files are safely in storage (or there was nothing to save).
  bool finish();
  // The end keeps the pod (host shutdown: a reconnect elsewhere adopts it).
  void keepAtEnd() { keep_at_end_.store(true); }
  // The end neither syncs nor deletes the pod: another replica took it over (SessionLeases).
  void abandonAtEnd() { abandon_at_end_.store(true); }
  // A shutdown or a move keeps the pod for a host that takes it over: its processes (persistent
  // shells) are left running for it.
  bool handedOver() const { return keep_at_end_.load() || abandon_at_end_.load(); }

  // Null when the host does not sync files.
  const std::shared_ptr<SessionSync>& sync() const { return sync_; }
  PodLifecycle state() const;
  size_t userCount() const;
  // After the end: kept rather than deleted because its files could not be saved.
  bool kept() const;

  // sdk::PodObserver (runtime threads)
  void onPodStatus(const sdk::PodStatus& status) override;
  // SessionSyncListener: every outcome goes to every user.
  void onSyncOutcome(const SyncOutcome& outcome, bool is_load, bool failing_changed) override;

 private:
  struct User {
    std::weak_ptr<PodUser> user;
    const PodUser* key = nullptr;
    bool welcomed = false;
  };
  std::vector<std::shared_ptr<PodUser>> welcomedLocked() const;
  void load();
  void refuse(const std::string& details);
  // The lifetime's timers, due `left` from now (cancelling earlier ones); mutex_ held.
  void armLifetimeLocked(std::chrono::milliseconds left);
  std::vector<std::shared_ptr<PodUser>> lifetimeUsers() const;
  void onLifetimeOver();
  // Worker thread, for a pod that existed before: counts the lifetime from its creation.
  void backdateLifetime();
  void cancelLifetimeLocked();
  // Worker thread: the lost pod deleted, a new one asked for (unless the pod is ending by then).
  void replace(uint64_t generation);

 public:
  static constexpr size_t kMaxReplacements = 3;
  static constexpr std::chrono::minutes kReplacementWindow{5};

 private:
  const SessionId id_;
  Context context_;
  EndedCallback on_ended_;
  std::shared_ptr<SessionSync> sync_;

  mutable std::mutex mutex_;  // the state below
  std::mutex deliver_mutex_;  // one delivery to users at a time (taken before mutex_)
  PodLifecycle state_ = PodLifecycle::Waiting;
  std::vector<User> users_;
  std::optional<sdk::PodStatus> last_status_;
  std::optional<std::string> refused_;
  std::weak_ptr<PodUser> last_user_;  // while ending: the user that left last
  bool lost_ = false;
  // Replacing a lost pod: statuses of the old one are ignored until the new one is asked for.
  bool replacing_ = false;
  uint64_t generation_ = 0;  // of replacements
  std::deque<std::chrono::steady_clock::time_point> replacements_;
  // Keeps replace()'s ensurePod and the end's stopObserving apart (taken before mutex_).
  std::mutex replace_mutex_;
  bool started_ = false;
  bool kept_ = false;
  std::atomic<bool> keep_at_end_{false};
  std::atomic<bool> abandon_at_end_{false};
  const PodOptions options_;
  // Wall time the lifetime counts from: start(), or earlier, the pod's creation (backdateLifetime).
  int64_t lifetime_start_ms_ = 0;
  bool lifetime_over_ = false;
  std::optional<Scheduler::TimerId> lifetime_notice_timer_;
  std::optional<Scheduler::TimerId> lifetime_timer_;
};

}  // namespace podterm::host
