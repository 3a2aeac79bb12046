#include "AlwaysSyncPolicy.h"

namespace podterm::sync_always {

sdk::SyncDecision AlwaysSyncPolicy::afterCommand(const sdk::FinishedCommand& /*command*/) {
  return sdk::SyncDecision::Sync;
}

}  // namespace podterm::sync_always
