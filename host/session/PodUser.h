#pragma once
// What a SessionPod tells the terminals that use it (each Session is one): the runtime's phases in
// order (onPodStatus), where Ready means that the workspace has been loaded into the pod too, so
// the user starts its shell; that the pod could not be asked for; that a lost pod is being
// replaced; and every sync outcome.
// Threading: calls arrive on runtime and worker threads, never with the pod's state lock held;
// phases and refusals of one pod are serialized.

#include <chrono>
#include <string>

#include "podterm/runtime.h"
#include "session/SessionSync.h"

namespace podterm::host {

class PodUser : public sdk::PodObserver, public SessionSyncListener {
 public:
  // The runtime refused the pod, or the host could not go on starting it (shutting down).
  virtual void onPodRefused(const std::string& details) = 0;
  // The pod was lost after it was ready (evicted, deleted, its node gone: `lost` says how) and a
  // new one replaces it: the phases that follow are the new pod's, Ready once the workspace has
  // been loaded into it from storage. By default the loss is passed on as a phase.
  virtual void onPodReplacing(const sdk::PodStatus& lost) { onPodStatus(lost); }
  // The pod's lifetime (limits.max_session_lifetime_s, `lifetime` long) ends in `left`.
  virtual void onLifetimeNotice(std::chrono::milliseconds /*left*/,
                                std::chrono::milliseconds /*lifetime*/) {}
  // The pod's lifetime is over: the user ends (its last user's end ends the pod).
  virtual void onLifetimeOver(std::chrono::milliseconds /*lifetime*/) {}
};

}  // namespace podterm::host
