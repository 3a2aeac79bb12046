#include "sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "pidfd.h"
#include "spawn.h"

namespace podterm::plugins::fakepod {

namespace {

constexpr int kInfoFd = 3;
constexpr int kReadyFd = 4;

std::vector<std::string> bwrapArgs(const SandboxOptions& o, const std::string& payload_script) {
  std::vector<std::string> a = {
      o.bwrap,         "--ro-bind",
      "/usr",          "/usr",
      "--symlink",     "usr/bin",
      "/bin",          "--symlink",
      "usr/lib",       "/lib",
      "--symlink",     "usr/lib64",
      "/lib64",        "--symlink",
      "usr/sbin",      "/sbin",
      "--ro-bind",     "/etc",
      "/etc",          "--tmpfs",
      "/tmp",          "--tmpfs",
      "/root",         "--proc",
      "/proc",         "--dev",
      "/dev",          "--unshare-user",
      "--uid",         "0",
      "--gid",         "0",
      "--unshare-pid", "--unshare-ipc",
      "--unshare-uts", "--hostname",
      o.hostname,      "--die-with-parent",
      "--cap-drop",    "ALL",
      "--info-fd",     std::to_string(kInfoFd),
      "--clearenv",    "--setenv",
      "PATH",          "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "--setenv",      "HOME",
      "/root",         "--setenv",
      "PODTERM_POD",   o.pod_name,
  };
  if (o.unshare_net) a.push_back("--unshare-net");
  if (o.workspace_fd >= 0) {
    a.insert(a.end(), {"--bind-fd", "5", "/app/workspace", "--chdir", "/app/workspace"});
  }
  // A constant script, no data in it: report readiness, then keep the namespaces alive.
  a.insert(a.end(), {"--", "/bin/sh", "-c", payload_script});
  return a;
}

void closeAll(std::initializer_list<int> fds) {
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
}

}  // namespace

sdk::Result<SandboxProcess> startSandbox(const SandboxOptions& options) {
  int info[2], ready[2], err[2];
  if (::pipe2(info, O_CLOEXEC) != 0) {
    return sdk::Status(sdk::ErrorCode::Internal, std::string("pipe: ") + std::strerror(errno));
  }
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    closeAll({info[0], info[1]});
    return sdk::Status(sdk::ErrorCode::Internal, std::string("pipe: ") + std::strerror(errno));
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    closeAll({info[0], info[1], ready[0], ready[1]});
    return sdk::Status(sdk::ErrorCode::Internal, std::string("pipe: ") + std::strerror(errno));
  }
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ExecArgs args(bwrapArgs(options, "printf R >&4; exec 4>&-; exec sleep infinity"),
                {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"});
  HostSpawn how;
  how.fds = {{devnull, 0}, {devnull, 1}, {err[1], 2}, {info[1], kInfoFd}, {ready[1], kReadyFd}};
  if (options.workspace_fd >= 0) how.fds.push_back({options.workspace_fd, 5});
  how.cgroup_join_fds = options.cgroup_join_fds;
  if (options.host_uid > 0) {
    how.uid = options.host_uid;
    how.gid = options.host_gid;
  }
  auto pid = spawnOnHost(args, how);
  closeAll({devnull, info[1], ready[1], err[1]});
  if (!pid) {
    closeAll({info[0], ready[0], err[0]});
    return pid.status();
  }
  SandboxProcess p;
  p.pid = pid.value();
  p.pidfd = pidfdOpen(p.pid);
  p.info_fd = info[0];
  p.ready_fd = ready[0];
  p.stderr_fd = err[0];
  for (int fd : {p.info_fd, p.ready_fd, p.stderr_fd}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  if (p.pidfd < 0) {
    ::kill(p.pid, SIGKILL);
    ::waitpid(p.pid, nullptr, 0);
    closeAll({p.info_fd, p.ready_fd, p.stderr_fd});
    return sdk::Status(sdk::ErrorCode::Internal,
                       std::string("pidfd_open: ") + std::strerror(errno));
  }
  return p;
}

sdk::Status probeSandbox(SandboxOptions options, int timeout_ms) {
  options.pod_name = "probe";
  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) return {sdk::ErrorCode::Internal, "pipe failed"};
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ExecArgs args(bwrapArgs(options, "exit 0"), {"PATH=/usr/bin:/bin"});
  HostSpawn how;
  how.fds = {{devnull, 0}, {devnull, 1}, {err[1], 2}, {devnull, kInfoFd}};
  if (options.workspace_fd >= 0) how.fds.push_back({options.workspace_fd, 5});
  if (options.host_uid > 0) {
    how.uid = options.host_uid;
    how.gid = options.host_gid;
  }
  auto pid = spawnOnHost(args, how);
  closeAll({devnull, err[1]});
  if (!pid) {
    ::close(err[0]);
    return pid.status();
  }
  // bwrap writes its messages and exits; read stderr until EOF (bounded by the deadline).
  std::string message;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{err[0], POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char buf[512];
    ssize_t n = ::read(err[0], buf, sizeof buf);
    if (n <= 0) break;
    if (message.size() < 2048) message.append(buf, static_cast<size_t>(n));
  }
  ::close(err[0]);
  if (timed_out) ::kill(pid.value(), SIGKILL);
  int status = 0;
  while (::waitpid(pid.value(), &status, 0) < 0 && errno == EINTR) {
  }
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
    message.pop_back();
  }
  if (timed_out) return {sdk::ErrorCode::Unavailable, "bubblewrap did not finish in time"};
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return {sdk::ErrorCode::Unavailable,
            message.empty() ? "bubblewrap failed (exit status " + std::to_string(status) + ")"
                            : message};
  }
  return {};
}

pid_t parseChildPid(const std::string& info) {
  auto key = info.find("\"child-pid\"");
  if (key == std::string::npos) return 0;
  auto colon = info.find(':', key);
  if (colon == std::string::npos) return 0;
  size_t i = colon + 1;
  while (i < info.size() && info[i] == ' ') ++i;
  long value = 0;
  size_t digits = 0;
  while (i < info.size() && info[i] >= '0' && info[i] <= '9') {
    value = value * 10 + (info[i++] - '0');
    ++digits;
  }
  if (digits == 0 || i >= info.size()) return 0;  // the number may still be arriving
  return static_cast<pid_t>(value);
}

}  // namespace podterm::plugins::fakepod
