#pragma once
// Syncs after commands that may have written files: the spec's list (touch, `echo >`, `cat >`,
// python, node, vim, nano, pip install, npm install, wget, curl, git clone, any `>`, `>>`, tee),
// what it forgot (rm, mv, cp, mkdir, rmdir, unzip, tar, `sed -i`, ln, chmod, make, git's writing
// subcommands, build tools, scripts run by path...) and the operator's extra_commands.
//
// Every simple command of the line counts (`ls && rm x` syncs), including those after sudo, env,
// command, exec, time, nohup, nice and variable assignments, and inside $( ) and backquotes.
// A line the shell could not report (empty), an incomplete one (unbalanced quote) or one too long
// to inspect syncs: when in doubt, sync.

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "podterm/sync_policy.h"

namespace podterm::sync_commands {

// Immutable after construction: thread-safe, never blocks; linear in the command line's length.
class CommandsSyncPolicy final : public sdk::SyncPolicy {
 public:
  // Lines longer than this are not parsed: they sync.
  static constexpr size_t kMaxInspectedBytes = 64 * 1024;

  // extra_commands: more program names (basenames) that always sync.
  CommandsSyncPolicy(const std::vector<std::string>& extra_commands, int64_t idle_sync_ms);

  sdk::SyncDecision afterCommand(const sdk::FinishedCommand& command) override;
  int64_t idleSyncAfterMs() const override { return idle_sync_ms_; }

  // The decision for one command line (what afterCommand decides).
  bool shouldSync(const std::string& command_line) const;

 private:
  bool commandWrites(const std::vector<std::string>& words) const;

  std::unordered_set<std::string> always_;
  const int64_t idle_sync_ms_;
};

}  // namespace podterm::sync_commands
