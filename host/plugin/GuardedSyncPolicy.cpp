#include "plugin/GuardedSyncPolicy.h"

#include <utility>

namespace podterm::host {

GuardedSyncPolicy::GuardedSyncPolicy(std::shared_ptr<sdk::SyncPolicy> inner, std::string plugin,
                                     GuardReporter report)
    : inner_(std::move(inner)), plugin_(std::move(plugin)), report_(std::move(report)) {}

sdk::SyncDecision GuardedSyncPolicy::afterCommand(const sdk::FinishedCommand& command) {
  try {
    return inner_->afterCommand(command);
  } catch (...) {
    // Skipping loses nothing for good: the next sync (or the session's end) picks the files up.
    guard_detail::reportThrown(report_, plugin_);
    return sdk::SyncDecision::Skip;
  }
}

int64_t GuardedSyncPolicy::idleSyncAfterMs() const {
  try {
    return inner_->idleSyncAfterMs();
  } catch (...) {
    guard_detail::reportThrown(report_, plugin_);
    return 0;
  }
}

}  // namespace podterm::host
