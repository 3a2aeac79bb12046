#include "session/PodReaper.h"

#include <Poco/Logger.h>

#include <set>

#include "common/Metrics.h"

namespace podterm::host {
namespace {

Poco::Logger& logger() {
  return Poco::Logger::get("podterm.reaper");
}

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

PodReaper::PodReaper(sdk::PodRuntime& runtime, SessionManager& sessions, WorkspaceSyncer* syncer,
                     Executor& blocking, Scheduler& timers, PodReaperOptions options)
    : runtime_(runtime),
      sessions_(sessions),
      syncer_(syncer),
      blocking_(blocking),
      timers_(timers),
      options_(options) {}

void PodReaper::start() {
  schedule(std::chrono::milliseconds(0));
}

void PodReaper::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopped_ = true;
  if (timer_) timers_.cancel(*timer_);
  timer_.reset();
}

void PodReaper::schedule(std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_) return;
  timer_ = timers_.runAfter(delay, [this] {
    blocking_.execute([this] {
      reapOnce();
      schedule(options_.interval);
    });
  });
}

size_t PodReaper::reapOnce() {
  auto pods = runtime_.listPods();
  if (!pods) {
    logger().warning("cannot list pods: %s", pods.status().message());
    return 0;
  }
  std::set<std::string> elsewhere;  // pods of a live session on another replica
  if (leases_) {
    auto held = leases_->heldElsewhereNow();
    if (!held) return 0;
    elsewhere = std::move(*held);
  }
  size_t reaped = 0;
  const int64_t now = nowUnixMs();
  // A kept pod that disappeared on its own (evicted, deleted by hand) stops counting against
  // its user.
  std::set<std::string> existing;
  for (const auto& pod : pods.value()) existing.insert(pod.session_id);
  sessions_.retainKeptPods(existing);
  for (const auto& pod : pods.value()) {
    if (sessions_.podInUse(pod.session_id)) continue;
    if (elsewhere.count(pod.session_id) != 0) continue;
    if (now - pod.created_unix_ms < options_.ttl.count()) continue;
    auto id = SessionId::parse(pod.session_id);
    if (!id) {
      logger().warning("pod %s carries an invalid session id; left alone", pod.pod_name);
      continue;
    }
    // The lease is held while the pod is reaped: another replica's reaper leaves it alone, and a
    // client that reconnects elsewhere meanwhile takes it over (seen below).
    if (leases_ && !leases_->claim(pod.session_id)) continue;
    if (syncer_ && pod.status.phase == sdk::PodPhase::Ready) {
      SyncOutcome outcome = syncer_->sync(*id);
      syncer_->forget(*id);
      if (!outcome.ok) {
        if (leases_) leases_->unclaim(pod.session_id);
        logger().warning("session=%s orphaned pod %s kept: its files could not be saved: %s",
                         id->raw, pod.pod_name, outcome.error);
        continue;
      }
    }
    if (sessions_.podInUse(pod.session_id)) continue;          // a client came back meanwhile
    if (leases_ && !leases_->claim(pod.session_id)) continue;  // or through another replica
    sdk::Status deleted = runtime_.deletePod(pod.session_id);
    if (leases_) leases_->unclaim(pod.session_id);
    if (deleted) {
      ++reaped;
      metrics::orphanedPodsDeleted().inc();
      sessions_.onPodDeleted(pod.session_id);
      logger().information("session=%s deleted orphaned pod %s", id->raw, pod.pod_name);
    } else {
      logger().warning("session=%s could not delete orphaned pod %s: %s", id->raw, pod.pod_name,
                       deleted.message());
    }
  }
  metrics::reaperRounds().inc();
  return reaped;
}

}  // namespace podterm::host
