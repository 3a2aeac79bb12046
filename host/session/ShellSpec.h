#pragma once
// The interactive shell a session runs in its pod.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "podterm/runtime.h"

namespace podterm::host {

// The rc file the shell reads instead of the image's own ~/.bashrc (which may be slow or noisy):
// a prompt, history in the workspace's home, and nothing that depends on the machine.
const std::string& shellRcFile();

// A tty StreamSpec that starts `shell[0]` as an interactive login-free bash reading shellRcFile().
// The rc text travels in an environment variable and the wrapper script is a constant: no shell
// string is ever built from user data.
// nonce (from makeShellNonce(), alphanumeric): when non-empty, the rc also gets
// shellIntegrationRc() and PODTERM_NONCE is set, so the shell emits command markers that a
// MarkerParser built with the same nonce removes. Empty: no markers, the rc is shellRcFile() alone.
// shell_dir (persistentShellDir()): when non-empty, the shell is a persistent one (below).
sdk::StreamSpec interactiveShellSpec(const std::vector<std::string>& shell,
                                     const std::string& session_id, uint16_t cols, uint16_t rows,
                                     const std::string& nonce = std::string(),
                                     const std::string& shell_dir = std::string());

// Persistent shells (session.persistent_shell = "auto"). The spec runs persistentShellScript(),
// which keeps the shell in the pod under `dtach` (preferred: bytes pass untouched) or else `tmux`
// (persistentShellTmuxConf()), or else runs a plain bash as without it. Each terminal has a private
// directory in the pod, $PODTERM_SHELL_DIR (0700, made by the script, refused when it is not the
// pod user's own directory): the master's socket, the shell's pid, rc, nonce, keeper and exit
// status. Opening the stream again (it broke; a new host after a restart) re-attaches to the same
// shell, with its variables, cwd and jobs: the script then prints reattachMarker() with the
// shell's nonce, authenticated by the new host's, before the keeper redraws the screen (dtach
// sends ^L, tmux redraws its own copy). Otherwise it prints newShellMarker() and starts one. The
// stream's exit status is the shell's own (from the status file).
const std::string& persistentShellScript();
// The tmux config the script writes for tmux (no status bar, no prefix or other key binding,
// passthrough of escape sequences, the window following the client's size).
const std::string& persistentShellTmuxConf();
// The terminal's private directory in the pod: a fixed prefix and a 64-bit FNV-1a hash of the
// session id and terminal name in hex (short, so the socket path stays far below 108 bytes; only
// [0-9a-f], so it is safe in any path).
std::string persistentShellDir(const std::string& session_id, const std::string& terminal);

// A non-tty spec that ends the persistent shell of shell_dir (HUP to the shell, KILL after 1 s;
// then TERM to its dtach master, which with no client attached never notices its shell is gone;
// tmux's server is killed) and removes the directory: for a terminal ended on purpose while its
// pod lives on. A constant script; the directory travels in $PODTERM_SHELL_DIR.
sdk::StreamSpec endPersistentShellSpec(const std::vector<std::string>& shell,
                                       const std::string& shell_dir);

// Runs spec in pod_id to its end, waiting at most timeout (then closes it). Blocking: call it on a
// worker thread, without locks. Ok when the process ran to its end.
sdk::Status runToEnd(sdk::PodRuntime& runtime, const std::string& pod_id,
                     const sdk::StreamSpec& spec, std::chrono::milliseconds timeout);

}  // namespace podterm::host
