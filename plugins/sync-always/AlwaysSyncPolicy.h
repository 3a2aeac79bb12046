#pragma once
// Syncs after every command, whatever it was: the simplest policy that never misses a write made
// by a command (writes made without one are caught by the idle sync).

#include <cstdint>

#include "podterm/sync_policy.h"

namespace podterm::sync_always {

// Immutable after construction: thread-safe, never blocks.
class AlwaysSyncPolicy final : public sdk::SyncPolicy {
 public:
  explicit AlwaysSyncPolicy(int64_t idle_sync_ms) : idle_sync_ms_(idle_sync_ms) {}

  sdk::SyncDecision afterCommand(const sdk::FinishedCommand& command) override;
  int64_t idleSyncAfterMs() const override { return idle_sync_ms_; }

 private:
  const int64_t idle_sync_ms_;
};

}  // namespace podterm::sync_always
