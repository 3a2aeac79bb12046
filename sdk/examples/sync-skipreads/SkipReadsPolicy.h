#pragma once
// An example sync policy: sync after every command except a simple command known to write nothing
// (`ls`, `pwd`, `git status`, ... as configured). Anything it cannot read as one simple command
// (a redirection, a pipe, a list, a substitution) syncs: skipping a sync loses a user's file,
// syncing once too often only costs a round trip.
//
// Threading: immutable after construction, so afterCommand() is safe from any number of threads;
// it is linear in the line's length and never blocks (the host calls it on its event loop).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "podterm/sync_policy.h"

namespace podterm::examples::sync_skipreads {

class SkipReadsPolicy final : public sdk::SyncPolicy {
 public:
  // Each entry is the first word(s) of a command that writes nothing, e.g. {"git", "status"}.
  SkipReadsPolicy(std::vector<std::vector<std::string>> read_only, int64_t idle_sync_ms)
      : read_only_(std::move(read_only)), idle_sync_ms_(idle_sync_ms) {}

  sdk::SyncDecision afterCommand(const sdk::FinishedCommand& command) override;
  int64_t idleSyncAfterMs() const override { return idle_sync_ms_; }

 private:
  std::vector<std::vector<std::string>> read_only_;
  int64_t idle_sync_ms_;
};

// The words of a line split at blanks, or nothing when the line is not one plain simple command
// (it holds a shell metacharacter, a quote, an escape or a control byte). At most `max_words`.
std::vector<std::string> plainWords(const std::string& line, size_t max_words);

}  // namespace podterm::examples::sync_skipreads
