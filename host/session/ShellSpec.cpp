#include "session/ShellSpec.h"

#include "session/ShellIntegration.h"

namespace podterm::host {

const std::string& shellRcFile() {
  static const std::string rc =
      "PS1='\\[\\e[1;32m\\]\\u@podterm\\[\\e[0m\\]:\\[\\e[1;34m\\]\\w\\[\\e[0m\\]\\$ '\n"
      "HISTFILE=\"${HOME:-/tmp}/.bash_history\"\n"
      "HISTCONTROL=ignoreboth\n"
      "shopt -s checkwinsize histappend\n"
      "alias ls='ls --color=auto' grep='grep --color=auto'\n"
      "unset PODTERM_RC\n";
  return rc;
}

sdk::StreamSpec interactiveShellSpec(const std::vector<std::string>& shell,
                                     const std::string& session_id, uint16_t cols, uint16_t rows,
                                     const std::string& nonce) {
  const std::string bash = shell.empty() ? std::string("/bin/bash") : shell.front();
  sdk::StreamSpec spec;
  // $0 is the shell to exec; process substitution hands it the rc text as a file.
  spec.argv = {bash, "-c", "exec \"$0\" --noprofile --rcfile <(printf '%s' \"$PODTERM_RC\") -i",
               bash};
  spec.env = {{"TERM", "xterm-256color"},
              {"LANG", "C.UTF-8"},
              {"PODTERM_SESSION", session_id},
              {"PODTERM_RC", shellRcFile()}};
  if (!nonce.empty()) {
    spec.env["PODTERM_RC"] += shellIntegrationRc();
    spec.env["PODTERM_NONCE"] = nonce;
  }
  spec.tty = true;
  spec.cols = cols;
  spec.rows = rows;
  return spec;
}

}  // namespace podterm::host
