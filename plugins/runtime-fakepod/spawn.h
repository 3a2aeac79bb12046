#pragma once
// Process creation. Everything here forks, so callers run on the IoLoop thread (see io_loop.h),
// and the children only make async-signal-safe calls: all strings are prepared before fork().

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "podterm/result.h"

namespace podterm::plugins::fakepod {

// argv/env of a child, as C arrays built before fork().
class ExecArgs {
 public:
  ExecArgs(std::vector<std::string> argv, std::vector<std::string> env);
  const std::vector<std::string>& argv() const { return argv_; }
  char* const* argvPtrs() const { return argv_ptrs_.data(); }
  char* const* envPtrs() const { return env_ptrs_.data(); }
  const std::vector<std::string>& candidates() const { return candidates_; }

 private:
  std::vector<std::string> argv_;
  std::vector<std::string> env_;
  std::vector<std::string> candidates_;  // where execve() looks for argv[0] (PATH search)
  std::vector<char*> argv_ptrs_;
  std::vector<char*> env_ptrs_;
};

// How to enter a running sandbox.
struct EnterTarget {
  int pod_pidfd = -1;  // pidfd of the sandbox's PID 1; -1: no sandbox (isolation = none)
  int root_fd = -1;    // the sandbox's root directory (O_PATH of /proc/<pid>/root)
  int ns_flags = 0;    // CLONE_NEW* to enter
  std::vector<int> cgroup_join_fds;  // the pod's cgroup `tasks` files, joined before anything else
};

struct ChildStdio {
  int in = -1;
  int out = -1;
  int err = -1;
  bool tty = false;  // `in` is a PTY slave to become the controlling terminal
};

// Starts args inside the pod as a direct child of this process (the entering helper clones it
// with CLONE_PARENT, so waitid() gives its real exit status). The child leads its own session,
// has no capabilities, no_new_privs, PR_SET_PDEATHSIG=SIGKILL and default signal dispositions.
sdk::Result<pid_t> spawnInPod(const EnterTarget& target, const ExecArgs& args,
                              const std::string& cwd, const ChildStdio& stdio);

struct HostSpawn {
  std::vector<std::pair<int, int>> fds;  // (fd here, fd number in the child); 0..2 included
  std::vector<int> cgroup_join_fds;
  long uid = -1;  // >= 0: drop to this uid/gid (no supplementary groups) before exec
  long gid = -1;
};

// Plain fork+exec on the host (bwrap, slirp4netns), PR_SET_PDEATHSIG=SIGKILL.
sdk::Result<pid_t> spawnOnHost(const ExecArgs& args, const HostSpawn& how);

// Finds an executable in the host's PATH; empty when missing.
std::string findInPath(const std::string& name);

}  // namespace podterm::plugins::fakepod
