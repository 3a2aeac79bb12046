#pragma once
// This replica's session leases: the one record of which host replica owns a pod (with several
// replicas on one database). The lease is keyed by the pod id (SessionPod::id(): the session id,
// or user_<u>_ws_<w>_workspace with session.pod_scope = "workspace") and held by this replica's
// holder id (hostname, pid and a random part).
//
// - take(): a pod starts here (a client attached): its lease is taken over (LeaseMode::TakeOver).
//   When that displaced another live holder, a notification on kTakeoverChannel tells it.
// - Every ttl/3 the heartbeat renews each held lease (LeaseMode::Acquire) and refreshes the view
//   of the other replicas' leases that admission counts (othersFor()). A renewal that finds the
//   lease held by another replica means it was taken: the pod is dropped (DropCallback).
// - A takeover notification (or a resync of the channel) makes the named lease (or every lease)
//   be checked at once the same way: a notification is only a hint, the database decides.
// - release(): the pod ended here; stop(): shutdown, every lease released.
// A dropped pod's sessions end without a final sync and without deleting the pod: the replica
// that took the lease drives it now.
//
// Storage calls run on the blocking executor, one at a time; take() and release() only record
// what is wanted and post a reconciliation, so their order on the executor does not matter.
//
// Threading: every public method is thread-safe. The DropCallback runs on an executor thread with
// no lock of this object held. OWNERSHIP: the storage, executor and scheduler outlive it, and no
// job it posted runs after its destruction (stop() it, then stop the executor, then destroy it).

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/Executor.h"
#include "common/Scheduler.h"
#include "podterm/storage.h"

namespace podterm::host {

struct SessionLeaseOptions {
  std::string holder;                    // this replica's id (makeHolderId() when empty)
  std::chrono::milliseconds ttl{30000};  // a lease not renewed for this long is free
};

class SessionLeases {
 public:
  // A pod another replica took: end its sessions here without a final sync or a deletion.
  using DropCallback = std::function<void(const std::string& pod_id, const std::string& holder)>;
  static constexpr const char* kTakeoverChannel = "podterm.session_takeover";
  static constexpr uint16_t kMovedCode = 1012;
  static constexpr const char* kMovedReason = "the session moved to another host";

  SessionLeases(sdk::Storage& storage, Executor& blocking, Scheduler& timers,
                SessionLeaseOptions options, DropCallback drop);
  ~SessionLeases();
  SessionLeases(const SessionLeases&) = delete;
  SessionLeases& operator=(const SessionLeases&) = delete;

  // hostname-pid-random: unique per process, readable in the leases table.
  static std::string makeHolderId();

  // Subscribes to takeovers and starts the heartbeat (its first round at once, on the executor).
  void start();
  // Stops the heartbeat, unsubscribes and releases every lease held (blocking: call it from the
  // thread that shuts down, after the sessions ended).
  void stop();

  // The pod starts here: take its lease (over from any other holder).
  void take(const std::string& pod_id);
  // The pod ended here (deleted or kept): release its lease unless it was taken meanwhile.
  void release(const std::string& pod_id);

  // One heartbeat round, blocking (executor thread; tests call it directly).
  void heartbeat();
  // Checks the leases named (all held ones when empty), blocking: any taken by another replica
  // is dropped.
  void verify(const std::vector<std::string>& pod_ids);
  // Runs what take() and release() asked for (blocking).
  void reconcile(const std::string& pod_id);

  // Pod ids of unexpired leases that other replicas hold, starting with prefix (a user's ids),
  // from the last refresh (the heartbeat's, or othersNow()'s).
  std::vector<std::string> othersFor(const std::string& prefix) const;
  // The same, fresh from the database (blocking: one read), for admission, so that two replicas
  // cannot each admit a user up to a limit; when the database cannot be read, the last refresh's.
  std::vector<std::string> othersNow(const std::string& prefix);
  // Fresh from the database (blocking): pod ids whose unexpired lease another replica holds;
  // nullopt when the database could not be read (the reaper then leaves every pod alone).
  std::optional<std::set<std::string>> heldElsewhereNow();

  // The reaper: takes (or renews) the lease of a pod that no session here uses, if it is free,
  // expired or this replica's (blocking). False when another replica holds it or the database
  // could not be asked (or after stop()). unclaim() releases it.
  bool claim(const std::string& pod_id);
  void unclaim(const std::string& pod_id);

  const std::string& holder() const { return options_.holder; }
  std::chrono::milliseconds ttl() const { return options_.ttl; }
  // Leases this replica holds now.
  std::set<std::string> held() const;

 private:
  void onNotification(const sdk::Notification& notification);
  void scheduleHeartbeat(std::chrono::milliseconds delay);
  void refreshOthers();
  void renew(const std::string& pod_id);
  void drop(const std::string& pod_id, const std::string& holder);

  sdk::Storage& storage_;
  Executor& blocking_;
  Scheduler& timers_;
  SessionLeaseOptions options_;
  DropCallback drop_;

  std::mutex io_mutex_;       // one storage call at a time, and a decision with it (taken first)
  mutable std::mutex mutex_;  // the state below
  std::set<std::string> wanted_;  // pods live here: their lease should be held
  std::set<std::string> held_;    // leases held (granted, not yet released or lost)
  std::set<std::string> others_;  // pod ids of unexpired leases of other holders (last refresh)
  std::optional<Scheduler::TimerId> timer_;
  bool stopped_ = false;
  sdk::SubscriptionPtr subscription_;
};

}  // namespace podterm::host
