#pragma once
// SyncPolicy: decides whether a finished command may have changed files, so the host syncs the
// pod's workspace back to storage. Pure and fast: called on the host's event loop, must not block.
// Thread-safe (stateless or internally synchronised).

#include <cstdint>
#include <string>

#include "podterm/plugin.h"

namespace podterm::sdk {

struct FinishedCommand {
  std::string session_id;
  std::string command_line;  // as the shell reported it; hostile input, never executed
  int exit_code = 0;
  int64_t duration_ms = 0;
};

enum class SyncDecision : int32_t { Skip = 0, Sync = 1 };

class SyncPolicy : public PluginObject {
 public:
  virtual SyncDecision afterCommand(const FinishedCommand& command) = 0;
};

}  // namespace podterm::sdk
