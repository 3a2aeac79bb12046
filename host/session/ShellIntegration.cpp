#include "session/ShellIntegration.h"

#include <sys/random.h>

#include <cstdint>
#include <random>

namespace podterm::host {

const std::string& shellIntegrationRc() {
  // Notes on the choices below (the rc text itself stays comment-free: it is sent on every start):
  // - No fork on the command path: PS0 prints C as a prompt string (\e and \a are prompt
  //   escapes) and PROMPT_COMMAND prints D with a builtin. Capturing the command line needs
  //   $(history 1), a fork (about 1 ms) before every command's first output, which would double
  //   the command round trip; the host takes the line typed at Enter instead (InputLineTracker).
  // - ${__podterm_z[...]-} expands to nothing; its subscript is arithmetic whose assignment (the
  //   "a command started" flag) happens in the shell itself, since PS0 is expanded there.
  static const std::string rc =
      R"RC(if [[ ${PODTERM_NONCE-} =~ ^[[:alnum:]]+$ ]] && (( BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 404 )); then
__podterm_nonce=$PODTERM_NONCE
__podterm_started=0
declare -a __podterm_z=()
__podterm_precmd() {
  local status=$?
  if (( __podterm_started )); then
    __podterm_started=0
    builtin printf '\e]133;D;%s;%s\a' "$status" "$__podterm_nonce"
  fi
  if [[ $PROMPT_COMMAND != "__podterm_precmd;"* ]]; then
    PROMPT_COMMAND="__podterm_precmd;${PROMPT_COMMAND//__podterm_precmd;/}"
  fi
  return "$status"
}
PS0='${__podterm_z[(__podterm_started=1),0]-}\e]133;C;'"$__podterm_nonce"'\a'"${PS0-}"
PROMPT_COMMAND="__podterm_precmd;${PROMPT_COMMAND-}"
fi
unset PODTERM_NONCE
)RC";
  return rc;
}

const std::string& persistentShellRc() {
  // $$ and the exit status go to the private directory with builtins only (no fork). At exit the
  // shell's jobs get SIGHUP, as when a terminal closes: one left running would hold the pty open
  // and with it the dtach or tmux master, and the exit would never reach the host. Under tmux
  // the two markers are redefined to go through tmux's passthrough; a plain shell keeps
  // shellIntegrationRc()'s definitions byte for byte.
  static const std::string rc =
      R"RC(if [[ ${PODTERM_SHELL_DIR-} == /* ]]; then
__podterm_dir=$PODTERM_SHELL_DIR
builtin printf '%s\n' "$$" > "$__podterm_dir/pid"
trap 'builtin printf "%s\n" "$?" > "$__podterm_dir/status"; builtin kill -HUP $(builtin jobs -p) 2>/dev/null' EXIT
if [[ -n ${TMUX-} && -n ${__podterm_nonce-} ]]; then
__podterm_precmd() {
  local status=$?
  if (( __podterm_started )); then
    __podterm_started=0
    builtin printf '\ePtmux;\e\e]133;D;%s;%s\a\e\\' "$status" "$__podterm_nonce"
  fi
  if [[ $PROMPT_COMMAND != "__podterm_precmd;"* ]]; then
    PROMPT_COMMAND="__podterm_precmd;${PROMPT_COMMAND//__podterm_precmd;/}"
  fi
  return "$status"
}
PS0='${__podterm_z[(__podterm_started=1),0]-}\ePtmux;\e\e]133;C;'"$__podterm_nonce"'\a\e\\'
fi
fi
unset PODTERM_SHELL_DIR PODTERM_PERSIST PODTERM_TMUX_CONF
)RC";
  return rc;
}

std::string reattachMarker(const std::string& shell_nonce, const std::string& nonce) {
  return "\x1b]633;R;" + shell_nonce + ";" + nonce + "\a";
}

std::string newShellMarker(const std::string& keeper, bool again, const std::string& nonce) {
  return "\x1b]633;N;" + keeper + (again ? ";again;" : ";new;") + nonce + "\a";
}

std::string makeShellNonce() {
  unsigned char bytes[8] = {};
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    std::random_device device;
    for (auto& b : bytes) b = static_cast<unsigned char>(device());
  }
  static const char kHex[] = "0123456789abcdef";
  std::string nonce;
  nonce.reserve(2 * sizeof bytes);
  for (unsigned char b : bytes) {
    nonce.push_back(kHex[b >> 4]);
    nonce.push_back(kHex[b & 0xf]);
  }
  return nonce;
}

std::string escapeCommandLine(const std::string& command_line) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  size_t n = command_line.size() < kMaxReportedCommandBytes ? command_line.size()
                                                            : kMaxReportedCommandBytes;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(command_line[i]);
    if (c == ';' || c == '\\' || c < 0x20 || c > 0x7e) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string commandStartMarkers(const std::string& command_line, const std::string& nonce) {
  return "\x1b]633;E;" + escapeCommandLine(command_line) + ";" + nonce + "\a\x1b]133;C;" + nonce +
         "\a";
}

std::string commandEndMarker(int exit_code, const std::string& nonce) {
  return "\x1b]133;D;" + std::to_string(exit_code) + ";" + nonce + "\a";
}

}  // namespace podterm::host
