#include "session/SessionPod.h"

#include <Poco/Logger.h>

#include <algorithm>

#include "common/Metrics.h"
#include "session/HostMessages.h"

namespace podterm::host {
namespace {

Poco::Logger& logger() {
  return Poco::Logger::get("podterm.session");
}

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool lostPhase(sdk::PodPhase phase) {
  return phase == sdk::PodPhase::Failed || phase == sdk::PodPhase::Gone;
}

}  // namespace

SessionPod::SessionPod(SessionId id, SessionSyncOptions sync_options, Context context,
                       EndedCallback on_ended, PodOptions options)
    : id_(std::move(id)), context_(context), on_ended_(std::move(on_ended)), options_(options) {
  if (context_.syncer) {
    if (context_.policy && sync_options.idle_after.count() == 0) {
      sync_options.idle_after = std::chrono::milliseconds(context_.policy->idleSyncAfterMs());
    }
    sync_ = std::make_shared<SessionSync>(id_, *context_.syncer, context_.blocking, context_.timers,
                                          sync_options, *this);
  }
}

SessionPod::~SessionPod() = default;

void SessionPod::start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (started_ || state_ != PodLifecycle::Waiting) return;
    started_ = true;
    state_ = PodLifecycle::Starting;
    // The lifetime counts from here, pod start-up included: it bounds what a session may hold.
    if (options_.max_lifetime.count() > 0) {
      lifetime_start_ms_ = nowUnixMs();
      armLifetimeLocked(options_.max_lifetime);
    }
  }
  sdk::PodSpec spec;
  spec.session_id = id_.raw;
  spec.user = id_.user;
  spec.workspace = id_.workspace;
  logger().information("session=%s starting: ensuring its pod", id_.raw);
  sdk::Status status = context_.runtime.ensurePod(spec, this);
  if (!status) refuse(status.message());
}

bool SessionPod::join(const std::shared_ptr<PodUser>& user) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (lost_ || lifetime_over_ || state_ == PodLifecycle::Ending || state_ == PodLifecycle::Ended)
    return false;
  users_.push_back(User{user, user.get(), false});
  return true;
}

void SessionPod::welcome(PodUser& user) {
  bool lifetime_over = false;
  {
    std::lock_guard<std::mutex> deliver(deliver_mutex_);
    std::optional<sdk::PodStatus> status;
    std::optional<std::string> refused;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = std::find_if(users_.begin(), users_.end(),
                             [&user](const User& u) { return u.key == &user; });
      if (it == users_.end() || it->welcomed) return;
      it->welcomed = true;
      status = last_status_;
      refused = refused_;
      lifetime_over = lifetime_over_;
    }
    if (refused) {
      user.onPodRefused(*refused);
    } else if (status) {
      user.onPodStatus(*status);
    }
  }
  // It joined before the lifetime ran out, and was not there to hear it.
  if (lifetime_over) user.onLifetimeOver(options_.max_lifetime);
}

std::vector<std::shared_ptr<PodUser>> SessionPod::welcomedLocked() const {
  std::vector<std::shared_ptr<PodUser>> users;
  for (const auto& u : users_) {
    if (!u.welcomed) continue;
    if (auto user = u.user.lock()) users.push_back(std::move(user));
  }
  return users;
}

// Users hear every phase in order, except that Ready comes after the workspace is loaded: a user
// that hears Ready starts its shell at once.
void SessionPod::onPodStatus(const sdk::PodStatus& status) {
  bool load_now = false;
  {
    std::lock_guard<std::mutex> deliver(deliver_mutex_);
    std::vector<std::shared_ptr<PodUser>> users;
    bool replacing = false;
    uint64_t generation = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (state_ == PodLifecycle::Ending || state_ == PodLifecycle::Ended || replacing_) return;
      const bool was_ready = state_ == PodLifecycle::Loading || state_ == PodLifecycle::Ready;
      const bool lost =
          lostPhase(status.phase) || (was_ready && status.phase == sdk::PodPhase::Terminating);
      if (lost && was_ready && !users_.empty()) {
        const auto now = std::chrono::steady_clock::now();
        while (!replacements_.empty() && now - replacements_.front() >= kReplacementWindow)
          replacements_.pop_front();
        replacing = replacements_.size() < kMaxReplacements;
      }
      if (replacing) {
        replacements_.push_back(std::chrono::steady_clock::now());
        replacing_ = true;
        generation = ++generation_;
        state_ = PodLifecycle::Starting;
        last_status_ =
            sdk::PodStatus{sdk::PodPhase::Pending, "Replacing", "replacing the lost pod"};
        users = welcomedLocked();
      } else if (lost) {
        lost_ = true;
      } else if (status.phase == sdk::PodPhase::Ready) {
        // Told once loaded (load()); a repeated Ready is nothing new.
        if (state_ != PodLifecycle::Starting) return;
        state_ = PodLifecycle::Loading;
        load_now = true;
      }
      if (!load_now && !replacing) {
        last_status_ = status;
        users = welcomedLocked();
      }
    }
    if (replacing) {
      logger().warning("session=%s pod lost (%s%s): replacing it", id_.raw,
                       sdk::podPhaseName(status.phase),
                       status.message.empty() ? "" : ": " + status.message);
      for (auto& user : users) user->onPodReplacing(status);
      auto self = shared_from_this();
      if (!context_.blocking.execute([self, generation] { self->replace(generation); })) {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          replacing_ = false;
        }
        refuse("the host is shutting down");
      }
      return;
    }
    for (auto& user : users) user->onPodStatus(status);
  }
  if (!load_now) return;
  // The workspace goes into the pod before any shell starts, so the first `ls` sees it. Not on
  // this (a runtime) thread: the load blocks.
  auto self = shared_from_this();
  if (!context_.blocking.execute([self] { self->load(); })) refuse("the host is shutting down");
}

void SessionPod::load() {
  // A pod that held files existed before (its files were saved before the load): its lifetime
  // may have begun long before this host asked for it.
  if (sync_ && sync_->load().pod_had_files && options_.max_lifetime.count() > 0) {
    backdateLifetime();
  }
  std::lock_guard<std::mutex> deliver(deliver_mutex_);
  std::vector<std::shared_ptr<PodUser>> users;
  const sdk::PodStatus ready{sdk::PodPhase::Ready, "", ""};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_ != PodLifecycle::Loading || lost_) return;
    state_ = PodLifecycle::Ready;
    last_status_ = ready;
    users = welcomedLocked();
  }
  logger().information("session=%s pod ready for its terminals", id_.raw);
  for (auto& user : users) user->onPodStatus(ready);
}

// No status of the lost pod arrives once stopObserving() returned; the sync state is forgotten
// first, so that no sync takes the new pod, empty until its load, for a list of deletions.
void SessionPod::replace(uint64_t generation) {
  auto current = [this, generation] {
    std::lock_guard<std::mutex> lock(mutex_);
    return state_ == PodLifecycle::Starting && replacing_ && generation_ == generation;
  };
  sdk::Status status;
  {
    std::lock_guard<std::mutex> replacing(replace_mutex_);
    if (!current()) return;
    context_.runtime.stopObserving(id_.raw);
    if (context_.syncer) context_.syncer->forget(id_);
    // What is left of it: a Failed pod (evicted) stays until deleted.
    sdk::Status deleted = context_.runtime.deletePod(id_.raw);
    if (!deleted) {
      logger().warning("session=%s could not delete its lost pod: %s", id_.raw, deleted.message());
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (state_ != PodLifecycle::Starting || !replacing_ || generation_ != generation) return;
      replacing_ = false;
    }
    sdk::PodSpec spec;
    spec.session_id = id_.raw;
    spec.user = id_.user;
    spec.workspace = id_.workspace;
    logger().information("session=%s asking for a new pod", id_.raw);
    status = context_.runtime.ensurePod(spec, this);
  }
  if (!status) refuse(status.message());
}

void SessionPod::refuse(const std::string& details) {
  std::lock_guard<std::mutex> deliver(deliver_mutex_);
  std::vector<std::shared_ptr<PodUser>> users;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_ == PodLifecycle::Ending || state_ == PodLifecycle::Ended) return;
    lost_ = true;
    refused_ = details;
    users = welcomedLocked();
  }
  for (auto& user : users) user->onPodRefused(details);
}

void SessionPod::onSyncOutcome(const SyncOutcome& outcome, bool is_load, bool failing_changed) {
  std::vector<std::shared_ptr<PodUser>> users;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    users = welcomedLocked();
    if (auto last = last_user_.lock()) users.push_back(std::move(last));
  }
  for (auto& user : users) user->onSyncOutcome(outcome, is_load, failing_changed);
}

bool SessionPod::leave(const PodUser* user) {
  bool started;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it =
        std::find_if(users_.begin(), users_.end(), [user](const User& u) { return u.key == user; });
    if (it == users_.end()) return false;
    User leaving = *it;
    users_.erase(it);
    if (!users_.empty() || state_ == PodLifecycle::Ending || state_ == PodLifecycle::Ended)
      return false;
    state_ = PodLifecycle::Ending;
    cancelLifetimeLocked();
    // It hears how the final sync goes.
    if (leaving.welcomed) last_user_ = leaving.user;
    started = started_;
  }
  logger().information("session=%s pod ending: its last terminal left", id_.raw);
  // After it returns no status callback starts: nobody is left to hear it.
  if (started) context_.runtime.stopObserving(id_.raw);
  return true;
}

bool SessionPod::finish() {
  bool started;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_ != PodLifecycle::Ending) return !kept_;
    started = started_;
  }
  if (started) {
    // A replacement asked for while the last user left: no status of it reaches this pod.
    std::lock_guard<std::mutex> replacing(replace_mutex_);
    context_.runtime.stopObserving(id_.raw);
  }
  bool saved = true;
  if (started && abandon_at_end_.load()) {
    if (context_.syncer) context_.syncer->forget(id_);
    logger().information("session=%s left its pod to the replica that took it over", id_.raw);
  } else if (started) {
    // Nothing written in the last seconds is lost: the final sync runs before the pod goes, and
    // a pod whose files could not be saved is kept rather than deleted.
    saved = !sync_ || sync_->finalSync();
    if (context_.syncer) context_.syncer->forget(id_);
    if (saved && keep_at_end_.load()) {
      logger().information("session=%s kept its pod for a reconnect elsewhere", id_.raw);
    } else if (saved) {
      sdk::Status deleted = context_.runtime.deletePod(id_.raw);
      if (!deleted) {
        // Not counted as kept: the pod may well be gone already, and the reaper ends any that is
        // not.
        logger().error("session=%s could not delete its pod: %s", id_.raw, deleted.message());
        metrics::errors(metrics::ErrorKind::PodDelete).inc();
      }
    } else {
      logger().error("session=%s kept its pod: its files could not be saved to storage", id_.raw);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = PodLifecycle::Ended;
    kept_ = !saved;
    last_user_.reset();
  }
  if (on_ended_) on_ended_(*this);
  return saved;
}

void SessionPod::armLifetimeLocked(std::chrono::milliseconds left) {
  cancelLifetimeLocked();
  left = std::max(left, std::chrono::milliseconds(0));
  std::weak_ptr<SessionPod> weak = weak_from_this();
  const auto lead = std::min(options_.lifetime_notice, options_.max_lifetime / 10);
  if (lead.count() > 0 && left.count() > 0) {
    const auto notice_left = std::min(lead, left);
    lifetime_notice_timer_ = context_.timers.runAfter(left - notice_left, [weak, notice_left] {
      auto self = weak.lock();
      if (!self) return;
      {
        std::lock_guard<std::mutex> lock(self->mutex_);
        self->lifetime_notice_timer_.reset();
        if (self->state_ == PodLifecycle::Ending || self->state_ == PodLifecycle::Ended) return;
      }
      for (auto& user : self->lifetimeUsers())
        user->onLifetimeNotice(notice_left, self->options_.max_lifetime);
    });
  }
  lifetime_timer_ = context_.timers.runAfter(std::max(left, std::chrono::milliseconds(1)), [weak] {
    if (auto self = weak.lock()) self->onLifetimeOver();
  });
}

std::vector<std::shared_ptr<PodUser>> SessionPod::lifetimeUsers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return welcomedLocked();
}

void SessionPod::onLifetimeOver() {
  std::vector<std::shared_ptr<PodUser>> users;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    lifetime_timer_.reset();
    if (lifetime_over_ || state_ == PodLifecycle::Ending || state_ == PodLifecycle::Ended) return;
    lifetime_over_ = true;  // no new user from here on: a reconnect gets a new pod
    users = welcomedLocked();
  }
  logger().information("session=%s pod reached its maximum lifetime: ending its %z terminal(s)",
                       id_.raw, users.size());
  for (auto& user : users) user->onLifetimeOver(options_.max_lifetime);
}

// The runtime's creation time is the oldest the pod's lifetime can be (a warm-pool pod counts from
// its claim). Only ever earlier than start(), and by more than a second (Kubernetes' timestamps
// have whole seconds): a clock ahead of ours changes nothing.
void SessionPod::backdateLifetime() {
  auto pods = context_.runtime.listPods();
  if (!pods) {
    logger().warning(
        "session=%s cannot ask the runtime when its pod was created (%s): its "
        "lifetime counts from now",
        id_.raw, pods.status().message());
    return;
  }
  int64_t created = 0;
  for (const auto& info : pods.value()) {
    if (info.session_id == id_.raw) created = info.created_unix_ms;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (created <= 0 || created > lifetime_start_ms_ - 1000 || lifetime_over_ ||
      state_ == PodLifecycle::Ending || state_ == PodLifecycle::Ended) {
    return;
  }
  const auto age = std::chrono::milliseconds(nowUnixMs() - created);
  logger().information("session=%s adopted a pod created %s ago: its lifetime counts from then",
                       id_.raw, messages::formatDuration(age));
  lifetime_start_ms_ = created;
  armLifetimeLocked(options_.max_lifetime - age);
}

void SessionPod::cancelLifetimeLocked() {
  if (lifetime_notice_timer_) context_.timers.cancel(*lifetime_notice_timer_);
  if (lifetime_timer_) context_.timers.cancel(*lifetime_timer_);
  lifetime_notice_timer_.reset();
  lifetime_timer_.reset();
}

PodLifecycle SessionPod::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

size_t SessionPod::userCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return users_.size();
}

bool SessionPod::kept() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return kept_;
}

}  // namespace podterm::host
