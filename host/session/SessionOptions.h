#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "session/PodScope.h"
#include "session/SessionSync.h"

namespace podterm::host {

// Session behaviour from [session] and [limits] in the config; defaults are those of
// docs/protocol.md.
struct SessionOptions {
  std::chrono::milliseconds ready_timeout{60'000};
  std::chrono::milliseconds grace_period{30'000};
  size_t input_queue_bytes = 64 * 1024;
  std::vector<std::string> shell{"/bin/bash"};
  uint16_t initial_cols = 80;
  uint16_t initial_rows = 24;
  SessionSyncOptions sync;
  // limits.sessions_per_user / limits.pods_per_user (0: unlimited), enforced by
  // SessionManager::admit.
  size_t sessions_per_user = 16;
  size_t pods_per_user = 16;
  // limits.terminals_per_session (0: unlimited): `?term=` terminals of one session id.
  size_t terminals_per_session = 8;
  // session.pod_scope: one pod per session id, or one per workspace shared by its sessions.
  PodScope pod_scope = PodScope::Session;
  // limits.max_session_lifetime_s: a session ends this long after it started (0: never). Its
  // clients are told lifetime_notice before (a tenth of the lifetime when that is shorter).
  std::chrono::milliseconds max_lifetime{86'400'000};
  std::chrono::milliseconds lifetime_notice{300'000};

  // Screen replay on reattach and `?since=N` (session.scrollback_lines, session.output_log_bytes).
  size_t scrollback_lines = 1000;
  size_t output_log_bytes = 1024 * 1024;
  // session.on_shell_exit: a fresh shell in the same pod, or the session ends.
  enum class OnShellExit { Restart, Close };
  OnShellExit on_shell_exit = OnShellExit::Restart;
  // session.attach_mode: every client of a terminal sees its output and may type (Share), or the
  // newest client takes the terminal and the older ones are told and closed (TakeOver).
  enum class AttachMode { Share, TakeOver };
  AttachMode attach_mode = AttachMode::Share;
  // session.persistent_shell = "auto": the shell runs under dtach or tmux in the pod when the image
  // has one (ShellSpec.h), so a new stream re-attaches to it; false ("off"): a plain bash.
  bool persistent_shell = false;
  // At most this many restarts within restart_window; one more ends the session.
  size_t max_restarts = 5;
  std::chrono::milliseconds restart_window{60'000};
  // session.idle_timeout_s (0: off) and session.idle_warning_s: no input, no output and no
  // foreground command for idle_timeout ends the session; a notice comes idle_warning before.
  std::chrono::milliseconds idle_timeout{0};
  std::chrono::milliseconds idle_warning{60'000};
};

}  // namespace podterm::host
