#include "session/ShellSpec.h"

#include <condition_variable>
#include <mutex>

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

const std::string& persistentShellScript() {
  // Notes (the script itself stays comment-free: it travels with every open):
  // - Everything it reads comes from the environment or the private directory; $0 is the shell.
  // - The directory is the pod user's own (mkdir -m 700 by this script, or refused: -O, not a
  //   symlink); a directory that fails the check means a plain shell, as with "off".
  // - Re-attach only to a master that is there: the keeper recorded, its socket, the shell's pid
  //   alive (kill -0, and not a zombie in /proc) and no exit status yet (the shell's EXIT trap
  //   writes it first thing, so a shell on its way out is not attached to). Otherwise a new
  //   shell: "again" when one ran here before (its pid file).
  // - dtach: -E and -z leave ^\ and ^Z to the shell. Its master sets the pty's size only with a
  //   redraw method other than none: the first attach asks for winch (a SIGWINCH to a shell that
  //   has just started), a re-attach for ^L (readline, vim, less and top redraw on it; with winch
  //   dtach signals only the shell's own process group, and bash at its prompt does not redraw).
  // - Not exec'ed under a keeper: the script waits for it and exits with the shell's own status.
  static const std::string script = R"SH(d=${PODTERM_SHELL_DIR-}
n=${PODTERM_NONCE-}
[[ $n =~ ^[[:alnum:]]+$ ]] || n=
keeper=
if [[ ${PODTERM_PERSIST-} == auto && $d == /* ]]; then
  [[ -e $d || -L $d ]] || mkdir -m 700 -- "$d" 2>/dev/null
  if [[ -d $d && ! -L $d && -O $d ]]; then
    if type -P dtach >/dev/null; then keeper=dtach
    elif type -P tmux >/dev/null; then keeper=tmux
    else keeper=bash; fi
  fi
fi
if [[ -z $keeper ]]; then
  unset PODTERM_SHELL_DIR
  exec "$0" --noprofile --rcfile <(builtin printf '%s' "$PODTERM_RC") -i
fi
pid= old= was=
{ read -r pid < "$d/pid"; read -r old < "$d/nonce"; read -r was < "$d/keeper"; } 2>/dev/null
[[ $old =~ ^[[:alnum:]]+$ ]] || old=
st=
[[ $pid =~ ^[0-9]+$ ]] && { read -r _ _ st _ < "/proc/$pid/stat"; } 2>/dev/null
if [[ $keeper != bash && $was == "$keeper" && -S $d/sock && ! -s $d/status && $pid =~ ^[0-9]+$ && $st != Z ]] && kill -0 "$pid" 2>/dev/null; then
  [[ -n $n ]] && builtin printf '\e]633;R;%s;%s\a' "$old" "$n"
  if [[ $keeper == dtach ]]; then
    dtach -a "$d/sock" -E -z -r ctrl_l
  else
    tmux -S "$d/sock" attach-session -t podterm
  fi
else
  again=new
  [[ -e $d/pid ]] && again=again
  : > "$d/status"
  builtin printf '%s\n' "$n" > "$d/nonce"
  builtin printf '%s\n' "$keeper" > "$d/keeper"
  builtin printf '%s' "$PODTERM_RC" > "$d/rc"
  [[ -n $n ]] && builtin printf '\e]633;N;%s;%s;%s\a' "$keeper" "$again" "$n"
  case $keeper in
    dtach) dtach -A "$d/sock" -E -z -r winch "$0" --noprofile --rcfile "$d/rc" -i ;;
    tmux) builtin printf '%s' "${PODTERM_TMUX_CONF-}" > "$d/tmux.conf"
      tmux -S "$d/sock" -f "$d/tmux.conf" new-session -A -s podterm "$0" --noprofile --rcfile "$d/rc" -i ;;
    *) exec "$0" --noprofile --rcfile "$d/rc" -i ;;
  esac
fi
kept=$?
status=
{ read -r status < "$d/status"; } 2>/dev/null
[[ $status =~ ^[0-9]+$ ]] && exit "$status"
exit "$kept"
)SH";
  return script;
}

const std::string& persistentShellTmuxConf() {
  static const std::string conf =
      "set -g prefix None\n"
      "set -g prefix2 None\n"
      "unbind-key -a -T prefix\n"
      "unbind-key -a -T root\n"
      "unbind-key -a -T copy-mode\n"
      "unbind-key -a -T copy-mode-vi\n"
      "set -g status off\n"
      "set -g escape-time 0\n"
      "set -g assume-paste-time 0\n"
      "set -g allow-passthrough on\n"
      "set -g set-clipboard on\n"
      "set -g focus-events on\n"
      "set -g mouse off\n"
      "set -g default-terminal screen-256color\n"
      "set -ga terminal-overrides ',xterm-256color:Tc'\n"
      "set -g window-size latest\n"
      "setw -g aggressive-resize on\n"
      "set -g remain-on-exit off\n"
      "set -g destroy-unattached off\n"
      "set -g exit-empty on\n"
      "set -g visual-bell off\n";
  return conf;
}

std::string persistentShellDir(const std::string& session_id, const std::string& terminal) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (char c : session_id) mix(static_cast<unsigned char>(c));
  mix(0);
  for (char c : terminal) mix(static_cast<unsigned char>(c));
  static const char kHex[] = "0123456789abcdef";
  std::string dir = "/tmp/podterm-";
  for (int shift = 60; shift >= 0; shift -= 4) dir.push_back(kHex[(h >> shift) & 0xf]);
  return dir;
}

sdk::StreamSpec interactiveShellSpec(const std::vector<std::string>& shell,
                                     const std::string& session_id, uint16_t cols, uint16_t rows,
                                     const std::string& nonce, const std::string& shell_dir) {
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
  if (!shell_dir.empty()) {
    spec.argv[2] = persistentShellScript();
    spec.env["PODTERM_RC"] += persistentShellRc();
    spec.env["PODTERM_PERSIST"] = "auto";
    spec.env["PODTERM_SHELL_DIR"] = shell_dir;
    spec.env["PODTERM_TMUX_CONF"] = persistentShellTmuxConf();
  }
  spec.tty = true;
  spec.cols = cols;
  spec.rows = rows;
  return spec;
}

sdk::StreamSpec endPersistentShellSpec(const std::vector<std::string>& shell,
                                       const std::string& shell_dir) {
  static const std::string script = R"SH(d=${PODTERM_SHELL_DIR-}
[[ $d == /* && -d $d && ! -L $d && -O $d ]] || exit 0
pid= was=
{ read -r pid < "$d/pid"; read -r was < "$d/keeper"; } 2>/dev/null
[[ $was == tmux && -S $d/sock ]] && tmux -S "$d/sock" kill-server 2>/dev/null
master= comm=
if [[ $was == dtach && $pid =~ ^[0-9]+$ ]]; then
  { read -r _ _ _ master _ < "/proc/$pid/stat"; read -r comm < "/proc/$master/comm"; } 2>/dev/null
  [[ $master =~ ^[0-9]+$ && $comm == dtach ]] || master=
fi
if [[ $pid =~ ^[0-9]+$ ]] && kill -HUP "$pid" 2>/dev/null; then
  for i in 1 2 3 4 5 6 7 8 9 10; do
    st=X
    { read -r _ _ st _ < "/proc/$pid/stat"; } 2>/dev/null || { kill -0 "$pid" 2>/dev/null || st=; }
    [[ -z $st || $st == Z ]] && break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
fi
[[ -n $master ]] && kill -TERM "$master" 2>/dev/null
rm -rf -- "$d"
exit 0
)SH";
  sdk::StreamSpec spec;
  spec.argv = {shell.empty() ? std::string("/bin/bash") : shell.front(), "-c", script};
  spec.env = {{"PODTERM_SHELL_DIR", shell_dir}};
  spec.tty = false;
  return spec;
}

namespace {

class EndWaiter : public sdk::StreamObserver {
 public:
  void onStdout(const char*, size_t) override {}
  void onStderr(const char*, size_t) override {}
  void onExit(const sdk::StreamExit& exit) override {
    std::lock_guard<std::mutex> lock(mu_);
    exit_ = exit;
    done_ = true;
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout, sdk::StreamExit& exit) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [this] { return done_; })) return false;
    exit = exit_;
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  sdk::StreamExit exit_;
};

}  // namespace

sdk::Status runToEnd(sdk::PodRuntime& runtime, const std::string& pod_id,
                     const sdk::StreamSpec& spec, std::chrono::milliseconds timeout) {
  EndWaiter waiter;
  auto opened = runtime.openStream(pod_id, spec, &waiter);
  if (!opened) return opened.status();
  sdk::ExecStreamPtr stream = std::move(opened).value();
  stream->closeStdin();
  sdk::StreamExit exit;
  const bool ended = waiter.wait(timeout, exit);
  stream->close();  // no callback after it returns: the waiter may go
  if (!ended) return sdk::Status(sdk::ErrorCode::Timeout, "did not end in time");
  return exit.error;
}

}  // namespace podterm::host
