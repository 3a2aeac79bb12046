#include "session/ShellIntegration.h"

#include <sys/random.h>

#include <cstdint>
#include <random>

namespace podterm::host {

const std::string& shellIntegrationRc() {
  // Notes on the choices below (the rc text itself stays comment-free: it is sent on every start):
  // - HISTCONTROL=ignoredups instead of ignoreboth: a line hidden from history (leading space)
  //   cannot be reported, and a sync policy needs it. A duplicate is still reported: it is the same
  //   text as the entry before it.
  // - Whether this line reached history: HISTCMD at the prompt versus HISTCMD in PS0. When it did
  //   not, the last entry is this line only if nothing can drop lines (history on, no
  //   ignorespace/erasedups, no HISTIGNORE); otherwise the line is reported empty (unknown).
  // - ${__podterm_z[...]-} expands to nothing; its subscript is arithmetic whose assignments stay
  // in
  //   the shell (the command substitution after it runs in a subshell and cannot set anything).
  // - printf '%02x' "'c" gives a byte's value under LC_ALL=C.
  static const std::string rc =
      R"RC(if [[ ${PODTERM_NONCE-} =~ ^[[:alnum:]]+$ ]] && (( BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 404 )); then
__podterm_nonce=$PODTERM_NONCE
__podterm_started=0
__podterm_hist=0
__podterm_prev_hist=-1
declare -a __podterm_z=()
HISTCONTROL=ignoredups
__podterm_escape() {
  local LC_ALL=C s=$1 out= c i
  (( ${#s} > 4000 )) && s=${s:0:4000}
  if [[ $s == *[![:print:]]* || $s == *[\;\\]* ]]; then
    for (( i = 0; i < ${#s}; i++ )); do
      c=${s:i:1}
      case $c in
        [\;\\] | [![:print:]]) builtin printf -v c '\\x%02x' "'$c" ;;
      esac
      out+=$c
    done
    s=$out
  fi
  REPLY=$s
}
__podterm_preexec() {
  local line= re='^ *[0-9]+[* ] (.*)$'
  if [[ $__podterm_hist != "$__podterm_prev_hist" ]] ||
     [[ :$SHELLOPTS: == *:history:* && $HISTCONTROL != *ignorespace* && $HISTCONTROL != *ignoreboth* && $HISTCONTROL != *erasedups* && -z ${HISTIGNORE-} ]]; then
    unset HISTTIMEFORMAT
    line=$(builtin history 1)
    if [[ $line =~ $re ]]; then line=${BASH_REMATCH[1]}; else line=; fi
  fi
  __podterm_escape "$line"
  builtin printf '\e]633;E;%s;%s\a\e]133;C;%s\a' "$REPLY" "$__podterm_nonce" "$__podterm_nonce"
}
__podterm_precmd() {
  local status=$?
  if (( __podterm_started )); then
    __podterm_started=0
    builtin printf '\e]133;D;%s;%s\a' "$status" "$__podterm_nonce"
  fi
  __podterm_prev_hist=$HISTCMD
  if [[ $PROMPT_COMMAND != "__podterm_precmd;"* ]]; then
    PROMPT_COMMAND="__podterm_precmd;${PROMPT_COMMAND//__podterm_precmd;/}"
  fi
  return "$status"
}
PS0='${__podterm_z[(__podterm_started=1),(__podterm_hist=HISTCMD),0]-}$(__podterm_preexec)'"${PS0-}"
PROMPT_COMMAND="__podterm_precmd;${PROMPT_COMMAND-}"
fi
unset PODTERM_NONCE
)RC";
  return rc;
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
