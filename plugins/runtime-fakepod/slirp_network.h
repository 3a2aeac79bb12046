#pragma once
// SlirpNetwork: gives a pod with its own network namespace user-mode outbound networking through
// slirp4netns, with --disable-host-loopback so 10.0.2.2 does not lead to the host's 127.0.0.1
// services. It exits when its exit pipe closes (we hold the write end) or when killed.

#include <sys/types.h>

#include "podterm/result.h"

namespace podterm::plugins::fakepod {

struct SlirpProcess {
  pid_t pid = -1;
  int pidfd = -1;
  int ready_fd = -1;  // readable ("1") once the tap device is configured
  int exit_fd = -1;   // closing it tells slirp4netns to exit
};

// Call on the IoLoop thread. target_pid: a process inside the pod's network namespace.
sdk::Result<SlirpProcess> startSlirp(const std::string& slirp_path, pid_t target_pid);

}  // namespace podterm::plugins::fakepod
