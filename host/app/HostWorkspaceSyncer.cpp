#include "app/HostWorkspaceSyncer.h"

#include <Poco/Logger.h>

#include <chrono>

#include "common/Metrics.h"

namespace podterm::host {
namespace {

Poco::Logger& logger() {
  return Poco::Logger::get("podterm.sync");
}

sdk::WorkspaceId workspaceOf(const SessionId& id) {
  return {id.user, id.workspace};
}

// Every load and save, whatever started it (a command, the idle timer, the final sync).
void countSync(const SyncReport& report, bool load) {
  metrics::syncDuration(load).observe(std::chrono::duration<double>(report.duration).count());
  if (report.bytes > 0) metrics::syncBytes(load).inc(static_cast<uint64_t>(report.bytes));
  if (!report.ok()) metrics::syncsFailed(load).inc();
}

}  // namespace

HostWorkspaceSyncer::HostWorkspaceSyncer(sdk::PodRuntime& runtime, sdk::Storage& storage,
                                         SyncOptions options, WorkspaceEvents& events,
                                         Executor& blocking)
    : sync_(runtime, storage, std::move(options)), events_(events), blocking_(blocking) {}

std::shared_ptr<HostWorkspaceSyncer::SessionEntry> HostWorkspaceSyncer::entry(const SessionId& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = sessions_[id.raw];
  if (!slot) {
    slot = std::make_shared<SessionEntry>();
    slot->id = id;
  }
  return slot;
}

SyncOutcome HostWorkspaceSyncer::load(const SessionId& id) {
  auto session = entry(id);
  std::lock_guard<std::mutex> lock(session->mutex);
  SyncReport report = sync_.load(id.raw, workspaceOf(id), session->state);
  countSync(report, true);
  logger().information("session=%s load: %s", id.raw, report.summary());
  return toOutcome(report);
}

SyncOutcome HostWorkspaceSyncer::sync(const SessionId& id) {
  auto session = entry(id);
  SyncReport report;
  {
    std::lock_guard<std::mutex> lock(session->mutex);
    report = sync_.syncFromPod(id.raw, workspaceOf(id), session->state);
  }
  countSync(report, false);
  logger().debug("session=%s sync: %s", id.raw, report.summary());
  publish(id, report);
  return toOutcome(report);
}

void HostWorkspaceSyncer::forget(const SessionId& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  sessions_.erase(id.raw);
}

void HostWorkspaceSyncer::onItemsWritten(const sdk::WorkspaceId& ws,
                                         const std::vector<sdk::Item>& items) {
  std::vector<std::shared_ptr<SessionEntry>> live;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [raw, session] : sessions_) {
      if (session->id.user == ws.user && session->id.workspace == ws.workspace) {
        live.push_back(session);
      }
    }
  }
  for (auto& session : live) {
    blocking_.execute([this, session, items] {
      std::lock_guard<std::mutex> lock(session->mutex);
      SyncReport report = sync_.writeIntoPod(session->id.raw, items, &session->state);
      if (!report.ok()) {
        logger().warning("session=%s could not write API changes into its pod: %s", session->id.raw,
                         report.status.message());
      }
    });
  }
}

SyncOutcome HostWorkspaceSyncer::toOutcome(const SyncReport& report) const {
  SyncOutcome outcome;
  outcome.ok = report.ok();
  outcome.retryable = report.status.code() == sdk::ErrorCode::Unavailable ||
                      report.status.code() == sdk::ErrorCode::Timeout;
  outcome.error = report.status.message();
  outcome.quota_exceeded = report.quota_exceeded.has_value();
  outcome.pod_had_files = report.pod_had_files;
  outcome.changed = report.created;
  outcome.changed.insert(outcome.changed.end(), report.changed.begin(), report.changed.end());
  outcome.deleted = report.deleted;
  for (const auto& skipped : report.skipped) {
    outcome.notices.push_back("not saved: " + skipped.path + " (" + skipped.reason + ")");
  }
  for (const auto& conflict : report.conflicts) {
    outcome.notices.push_back(
        conflict.copy_path.empty()
            ? conflict.path + " was also changed elsewhere; this version was kept"
            : conflict.path + " was also changed elsewhere; the other version is kept as " +
                  conflict.copy_path);
  }
  return outcome;
}

void HostWorkspaceSyncer::publish(const SessionId& id, const SyncReport& report) {
  if (!report.ok()) {
    events_.publish(workspaceOf(id), "sync-failed",
                    WorkspaceEvents::syncFailedJson(report.status.message()));
    return;
  }
  if (report.created.empty() && report.changed.empty() && report.deleted.empty()) return;
  std::vector<std::string> paths = report.created;
  paths.insert(paths.end(), report.changed.begin(), report.changed.end());
  events_.publish(workspaceOf(id), "sync", WorkspaceEvents::syncJson(paths, report.deleted, 0));
}

}  // namespace podterm::host
