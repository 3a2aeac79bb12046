#include "slirp_network.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "pidfd.h"
#include "spawn.h"

namespace podterm::plugins::fakepod {

sdk::Result<SlirpProcess> startSlirp(const std::string& slirp_path, pid_t target_pid) {
  int ready[2], exitp[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    return sdk::Status(sdk::ErrorCode::Internal, std::string("pipe: ") + std::strerror(errno));
  }
  if (::pipe2(exitp, O_CLOEXEC) != 0) {
    ::close(ready[0]);
    ::close(ready[1]);
    return sdk::Status(sdk::ErrorCode::Internal, std::string("pipe: ") + std::strerror(errno));
  }
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ExecArgs args({slirp_path, "--configure", "--mtu=65520", "--disable-host-loopback",
                 "--ready-fd=3", "--exit-fd=4", std::to_string(target_pid), "tap0"},
                {"PATH=/usr/bin:/bin"});
  HostSpawn how;
  how.fds = {{devnull, 0}, {devnull, 1}, {devnull, 2}, {ready[1], 3}, {exitp[0], 4}};
  auto pid = spawnOnHost(args, how);
  ::close(devnull);
  ::close(ready[1]);
  ::close(exitp[0]);
  if (!pid) {
    ::close(ready[0]);
    ::close(exitp[1]);
    return pid.status();
  }
  SlirpProcess p;
  p.pid = pid.value();
  p.pidfd = pidfdOpen(p.pid);
  p.ready_fd = ready[0];
  p.exit_fd = exitp[1];
  ::fcntl(p.ready_fd, F_SETFL, ::fcntl(p.ready_fd, F_GETFL) | O_NONBLOCK);
  if (p.pidfd < 0) {
    ::kill(p.pid, SIGKILL);
    ::waitpid(p.pid, nullptr, 0);
    ::close(p.ready_fd);
    ::close(p.exit_fd);
    return sdk::Status(sdk::ErrorCode::Internal,
                       std::string("pidfd_open: ") + std::strerror(errno));
  }
  return p;
}

}  // namespace podterm::plugins::fakepod
