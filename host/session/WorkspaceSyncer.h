#pragma once
// What a session needs from the file sync: load the workspace into its pod before the shell
// starts, and sync the pod back. Blocking: called on worker threads only. Implemented over
// WorkspaceSync (host/sync) in the app, and by fakes in tests.

#include <string>
#include <vector>

#include "session/SessionId.h"

namespace podterm::host {

struct SyncOutcome {
  bool ok = true;
  bool retryable = false;  // the database (or the pod) is unreachable for now: try again later
  // Refused because the result would exceed a workspace quota (nothing was saved); not
  // retryable: the next trigger tries again, and succeeds once the user deleted enough.
  bool quota_exceeded = false;
  std::string error;                 // for the user, when !ok
  std::vector<std::string> changed;  // paths created or updated in storage
  std::vector<std::string> deleted;  // paths soft-deleted in storage
  std::vector<std::string> notices;  // skipped files, conflict copies: one line each for the user
  // A load found files in the pod (it existed before: adopted, kept, taken over) and saved them
  // first (SyncOptions::save_before_load).
  bool pod_had_files = false;
};

class WorkspaceSyncer {
 public:
  virtual ~WorkspaceSyncer() = default;
  // DB -> pod, before the user's shell starts.
  virtual SyncOutcome load(const SessionId& id) = 0;
  // Pod -> DB.
  virtual SyncOutcome sync(const SessionId& id) = 0;
  // The session is over: drop what was kept for it.
  virtual void forget(const SessionId& id) = 0;
};

}  // namespace podterm::host
