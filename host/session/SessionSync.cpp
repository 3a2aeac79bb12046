#include "session/SessionSync.h"

#include <Poco/Logger.h>

#include <algorithm>

namespace podterm::host {
namespace {

Poco::Logger& logger() {
  return Poco::Logger::get("podterm.sync");
}

}  // namespace

SessionSync::SessionSync(SessionId id, WorkspaceSyncer& syncer, Executor& blocking,
                         Scheduler& timers, SessionSyncOptions options,
                         SessionSyncListener& listener)
    : id_(std::move(id)),
      syncer_(syncer),
      blocking_(blocking),
      timers_(timers),
      options_(options),
      listener_(listener) {}

SessionSync::~SessionSync() = default;

SyncOutcome SessionSync::load() {
  SyncOutcome outcome = syncer_.load(id_);
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    changed = noteOutcomeLocked(outcome);
  }
  if (!outcome.ok) logger().warning("session=%s load failed: %s", id_.raw, outcome.error);
  listener_.onSyncOutcome(outcome, true, changed);
  return outcome;
}

bool SessionSync::noteOutcomeLocked(const SyncOutcome& outcome) {
  const bool quota = !outcome.ok && outcome.quota_exceeded;
  const bool changed = outcome.ok == failing_ || (!outcome.ok && quota != failing_quota_);
  failing_ = !outcome.ok;
  failing_quota_ = quota;
  return changed;
}

void SessionSync::request() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_) return;
  if (running_) {
    pending_ = true;
    return;
  }
  running_ = true;
  auto self = shared_from_this();
  if (!blocking_.execute([self] { self->run(); })) running_ = false;
}

void SessionSync::run() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    activity_at_sync_ = activity_.load();
  }
  finishRun(syncer_.sync(id_));
}

void SessionSync::finishRun(const SyncOutcome& outcome) {
  bool changed;
  std::chrono::milliseconds retry_in{0};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    changed = noteOutcomeLocked(outcome);
    running_ = false;
    if (outcome.ok) backoff_ = std::chrono::milliseconds(0);
    if (!stopped_ && !outcome.ok && outcome.retryable && !retry_timer_) {
      auto delay = nextBackoff();
      retry_in = delay;
      std::weak_ptr<SessionSync> weak = weak_from_this();
      retry_timer_ = timers_.runAfter(delay, [weak] {
        if (auto self = weak.lock()) {
          {
            std::lock_guard<std::mutex> lock(self->mutex_);
            self->retry_timer_.reset();
          }
          self->request();
        }
      });
    }
    if (pending_ && !stopped_) {
      pending_ = false;
      running_ = true;
      auto self = shared_from_this();
      if (!blocking_.execute([self] { self->run(); })) running_ = false;
    }
  }
  idle_.notify_all();
  if (!outcome.ok) {
    // The retry's delay is logged when this failure scheduled it (a failure while one is
    // scheduled leaves it as it is).
    logger().warning("session=%s sync failed: %s%s", id_.raw, outcome.error,
                     retry_in.count() > 0
                         ? "; retrying in " + std::to_string(retry_in.count()) + " ms"
                         : std::string());
  }
  listener_.onSyncOutcome(outcome, false, changed);
}

std::chrono::milliseconds SessionSync::nextBackoff() {
  backoff_ =
      backoff_.count() == 0 ? options_.retry_min : std::min(backoff_ * 2, options_.retry_max);
  return backoff_;
}

void SessionSync::noteActivity() {
  activity_.fetch_add(1, std::memory_order_relaxed);
  if (options_.idle_after.count() == 0 || idle_armed_.exchange(true)) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_) return;
  activity_at_arm_ = activity_.load();
  std::weak_ptr<SessionSync> weak = weak_from_this();
  idle_timer_ = timers_.runAfter(options_.idle_after, [weak] {
    if (auto self = weak.lock()) self->onIdleTimer();
  });
}

void SessionSync::onIdleTimer() {
  bool sync = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_timer_.reset();
    if (stopped_) return;
    uint64_t now = activity_.load();
    if (now != activity_at_arm_) {
      // Still busy: look again one idle period later.
      activity_at_arm_ = now;
      std::weak_ptr<SessionSync> weak = weak_from_this();
      idle_timer_ = timers_.runAfter(options_.idle_after, [weak] {
        if (auto self = weak.lock()) self->onIdleTimer();
      });
      return;
    }
    idle_armed_.store(false);
    sync = now != activity_at_sync_;
  }
  if (sync) request();
}

bool SessionSync::finalSync() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    stopped_ = true;
    pending_ = false;
    if (retry_timer_) timers_.cancel(*retry_timer_);
    if (idle_timer_) timers_.cancel(*idle_timer_);
    retry_timer_.reset();
    idle_timer_.reset();
    idle_.wait(lock, [this] { return !running_; });
  }
  std::chrono::milliseconds delay = options_.retry_min;
  for (int attempt = 1; attempt <= options_.final_attempts; ++attempt) {
    SyncOutcome outcome = syncer_.sync(id_);
    bool changed;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      changed = noteOutcomeLocked(outcome);
    }
    listener_.onSyncOutcome(outcome, false, changed);
    if (outcome.ok) return true;
    logger().warning("session=%s final sync failed (attempt %d of %d): %s", id_.raw, attempt,
                     options_.final_attempts, outcome.error);
    if (!outcome.retryable || attempt == options_.final_attempts) break;
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait_for(lock, delay);  // nothing notifies it now: a bounded pause between attempts
    delay = std::min(delay * 2, options_.retry_max);
  }
  return false;
}

bool SessionSync::failing() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failing_;
}

}  // namespace podterm::host
