#pragma once
// SyncPolicy: decides when the pod's workspace is synced back to storage. Pure and fast: called on
// the host's event loop, must not block. Thread-safe (stateless or internally synchronised).
// Whatever it answers, the host also syncs before a pod is deleted.

#include <cstdint>
#include <string>

#include "podterm/plugin.h"

namespace podterm::sdk {

struct FinishedCommand {
  std::string session_id;
  // As the shell reported it (or the input line seen at Enter where the shell reports nothing).
  // Hostile input: never executed, only inspected.
  std::string command_line;
  int exit_code = 0;
  int64_t duration_ms = 0;
};

enum class SyncDecision : int32_t { Skip = 0, Sync = 1 };

class SyncPolicy : public PluginObject {
 public:
  virtual SyncDecision afterCommand(const FinishedCommand& command) = 0;
  // Sync after this long without input or output (a program writing files without a command
  // ending, an editor's autosave); 0: never on idle.
  virtual int64_t idleSyncAfterMs() const = 0;
};

}  // namespace podterm::sdk
