#pragma once
// Shell integration: the session's bash tells the host where each command starts and ends, with
// markers in its output that MarkerParser removes before anyone sees them.
//
// Marker format (OSC 133 as terminals define it, plus VS Code's OSC 633 E for the command line);
// <nonce> is the session's PODTERM_NONCE, and every marker ends with BEL (ESC \ is accepted too):
//
//   ESC ] 633 ; E ; <escaped command line> ; <nonce> BEL   the line about to run (optional: our
//                                                          bash does not print it, see below)
//   ESC ] 133 ; C ; <nonce> BEL                             it starts now (right after the E)
//   ESC ] 133 ; D ; <exit code> ; <nonce> BEL               it ended with $? (before the prompt)
//
// In the command line, `;`, `\`, control characters and every byte above 0x7e are written as
// \xNN (two lower-case hex digits), so the fields never contain `;` or BEL. The shell writes at
// most the first kMaxReportedCommandBytes bytes of a line. An empty Enter, a line abandoned with ^C
// and continuation prompts produce no marker; every C is followed by exactly one D unless the shell
// exits (or execs) first.
//
// How bash does it: PS0 (expanded once per command line after it is read, before it runs; never for
// an empty line) sets a "command started" flag through an arithmetic side effect and prints C as
// a prompt string; PROMPT_COMMAND's first entry prints D with $? and hands $? on unchanged to the
// user's own PROMPT_COMMAND. Nothing forks: the command line, which would need $(history 1), is
// not printed; the host uses the line typed at Enter. Needs bash 4.4 or later; older bash gets no
// markers (the host then falls back to InputLineTracker alone). The nonce lives in a
// non-exported shell variable and PODTERM_NONCE is removed from the environment, so no program
// the user runs inherits it.

#include <cstddef>
#include <string>

namespace podterm::host {

inline constexpr size_t kMaxReportedCommandBytes = 4000;

// The bash snippet that emits the markers; appended to the rc file by interactiveShellSpec() when
// the session has a nonce. Inert when $PODTERM_NONCE is empty or not alphanumeric.
const std::string& shellIntegrationRc();

// Appended after shellIntegrationRc() when the shell runs under persistentShellScript() (see
// ShellSpec.h); inert without $PODTERM_SHELL_DIR. It records the shell's pid (for the liveness
// check on re-attach and the end script) and, at exit, its status in the private directory, and
// under tmux (which swallows OSC 133) wraps the markers in tmux's passthrough DCS
// (ESC P tmux; ... ESC \, inner ESCs doubled; needs allow-passthrough).
const std::string& persistentShellRc();

// The wrapper's own markers (OSC 633 with podterm's letters, last field the *host's* nonce, which
// authenticates them; printed before the shell runs, never by it):
//   ESC ] 633 ; R ; <shell nonce> ; <nonce> BEL      re-attached to a shell still running in the
//       pod, whose markers carry <shell nonce> (the one its first host gave it, kept 0600 in the
//       private directory). The parser then accepts <shell nonce> as well as its own.
//   ESC ] 633 ; N ; <keeper> ; <new|again> ; <nonce> BEL   a new shell starts, kept by <keeper>
//       (dtach, tmux, or bash: nothing keeps it); "again": a shell of this terminal ran in this pod
//       before and is gone.
std::string reattachMarker(const std::string& shell_nonce, const std::string& nonce);
std::string newShellMarker(const std::string& keeper, bool again, const std::string& nonce);

// 16 random lower-case hex characters (from getrandom, else std::random_device).
std::string makeShellNonce();

// The markers bash prints, built the same way (for tests and benchmarks).
std::string escapeCommandLine(const std::string& command_line);
std::string commandStartMarkers(const std::string& command_line, const std::string& nonce);
std::string commandEndMarker(int exit_code, const std::string& nonce);

}  // namespace podterm::host
