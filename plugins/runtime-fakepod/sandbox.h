#pragma once
// Sandbox: the bubblewrap process that holds a pod's namespaces. Its PID 1 payload is a
// keep-alive; execs enter it (spawn.h) rather than starting new sandboxes.
//
// bwrap runs as an unprivileged host uid (config host_uid) with --uid 0 inside a new user
// namespace, so the pod's "root" owns nothing on the host; the workspace is passed as an fd
// (--bind-fd) because that uid may not be able to traverse the path to the data dir.

#include <sys/types.h>

#include <string>
#include <vector>

#include "podterm/result.h"

namespace podterm::plugins::fakepod {

struct SandboxOptions {
  std::string bwrap;      // absolute path
  int workspace_fd = -1;  // directory bound at /app/workspace; -1: none (probe)
  std::string hostname = "podterm";
  std::string pod_name;
  bool unshare_net = true;
  long host_uid = 65534;
  long host_gid = 65534;
  std::vector<int> cgroup_join_fds;
};

// The started bwrap and the pipes it reports on (all ours to close).
struct SandboxProcess {
  pid_t pid = -1;  // bwrap itself, our child
  int pidfd = -1;
  int info_fd = -1;    // JSON from --info-fd: "child-pid" is the sandbox's PID 1 (host pid)
  int ready_fd = -1;   // the payload writes "R" once the sandbox is set up
  int stderr_fd = -1;  // bwrap's error messages
};

// Call on the IoLoop thread (see io_loop.h: --die-with-parent is tied to the forking thread).
sdk::Result<SandboxProcess> startSandbox(const SandboxOptions& options);

// Runs a throw-away sandbox to completion (at most timeout_ms), to tell at create() time whether
// bubblewrap works here. The error carries bwrap's own message.
sdk::Status probeSandbox(SandboxOptions options, int timeout_ms);

// The sandbox's PID 1 from bwrap's --info-fd output; 0 when not (yet) there.
pid_t parseChildPid(const std::string& info);

}  // namespace podterm::plugins::fakepod
