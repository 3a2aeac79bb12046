#pragma once
// A SyncPolicy whose plugin exceptions become SyncDecision::Skip and a report.

#include <memory>
#include <string>

#include "plugin/Guard.h"
#include "podterm/sync_policy.h"

namespace podterm::host {

class GuardedSyncPolicy final : public sdk::SyncPolicy {
 public:
  GuardedSyncPolicy(std::shared_ptr<sdk::SyncPolicy> inner, std::string plugin,
                    GuardReporter report = {});

  sdk::SyncDecision afterCommand(const sdk::FinishedCommand& command) override;
  int64_t idleSyncAfterMs() const override;

 private:
  std::shared_ptr<sdk::SyncPolicy> inner_;
  std::string plugin_;
  GuardReporter report_;
};

}  // namespace podterm::host
