#include "spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace podterm::plugins::fakepod {

namespace {

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

void writeAll(int fd, const char* text) {
  size_t len = std::strlen(text);
  while (len > 0) {
    ssize_t n = ::write(fd, text, len);
    if (n <= 0) return;
    text += n;
    len -= static_cast<size_t>(n);
  }
}

// In a forked child: default signal dispositions and an empty mask (the host may ignore SIGPIPE,
// which exec would otherwise pass on to the shell).
void resetSignals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// In a forked child: moves the given fds onto 0..n, closing everything else.
bool installFds(const std::vector<std::pair<int, int>>& fds) {
  int highest = 2;
  int temp[16];
  size_t count = fds.size() < 16 ? fds.size() : 16;
  for (size_t i = 0; i < count; ++i) {
    if (fds[i].second > highest) highest = fds[i].second;
  }
  // Copies above every target first, so that no dup2 below overwrites a source still to be moved
  // (and nothing above the open-file limit: a host may run with a low one).
  for (size_t i = 0; i < count; ++i) {
    temp[i] = ::fcntl(fds[i].first, F_DUPFD, highest + 1);
    if (temp[i] < 0) return false;
  }
  for (size_t i = 0; i < count; ++i) {
    if (::dup2(temp[i], fds[i].second) < 0) return false;
  }
  ::close_range(static_cast<unsigned>(highest + 1), ~0U, 0);
  return true;
}

void dropCapabilities() {
  for (int cap = 0; cap <= 63; ++cap) ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  __user_cap_data_struct data[2] = {};
  ::syscall(SYS_capset, &header, data);
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

[[noreturn]] void execOrDie(const ExecArgs& args, const std::vector<std::string>& candidates,
                            char* const* argv, char* const* envp) {
  for (const auto& path : candidates) ::execve(path.c_str(), argv, envp);
  writeAll(2, "podterm: cannot execute ");
  writeAll(2, argv[0]);
  writeAll(2, errno == ENOENT ? ": command not found\r\n" : ": permission denied\r\n");
  ::_exit(127);
}

struct HelperReport {
  int32_t pid;
  int32_t err;
  int32_t stage;
};

const char* stageName(int stage) {
  switch (stage) {
    case 1:
      return "joining the pod's cgroup";
    case 2:
      return "entering the pod's namespaces";
    case 3:
      return "entering the pod's root";
    case 4:
      return "switching to the pod's user";
    case 5:
      return "starting the process";
  }
  return "spawning";
}

}  // namespace

ExecArgs::ExecArgs(std::vector<std::string> argv, std::vector<std::string> env)
    : argv_(std::move(argv)), env_(std::move(env)) {
  const std::string& name = argv_.empty() ? std::string() : argv_[0];
  if (name.find('/') != std::string::npos) {
    candidates_.push_back(name);
  } else if (!name.empty()) {
    std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const auto& kv : env_) {
      if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
    }
    for (const auto& dir : splitPath(path)) candidates_.push_back(dir + "/" + name);
  }
  for (auto& a : argv_) argv_ptrs_.push_back(a.data());
  argv_ptrs_.push_back(nullptr);
  for (auto& e : env_) env_ptrs_.push_back(e.data());
  env_ptrs_.push_back(nullptr);
}

std::string findInPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  for (const auto& dir : splitPath(path ? path : "/usr/local/bin:/usr/bin:/bin")) {
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

sdk::Result<pid_t> spawnInPod(const EnterTarget& target, const ExecArgs& args,
                              const std::string& cwd, const ChildStdio& stdio) {
  if (args.argv().empty()) return sdk::Status(sdk::ErrorCode::InvalidArgument, "empty argv");
  const std::vector<std::pair<int, int>> fds = {{stdio.in, 0}, {stdio.out, 1}, {stdio.err, 2}};
  char* const* argv = args.argvPtrs();
  char* const* envp = args.envPtrs();
  const auto& candidates = args.candidates();
  const bool enter = target.pod_pidfd >= 0;

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return sdk::Status(sdk::ErrorCode::Internal, std::string("pipe: ") + std::strerror(errno));
  }
  pid_t helper = ::fork();
  if (helper < 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    return sdk::Status(sdk::ErrorCode::Unavailable, std::string("fork: ") + std::strerror(err));
  }
  if (helper == 0) {
    // The entering helper: joins cgroup and namespaces, clones the real child as a sibling (a
    // setns() into a PID namespace only applies to children) and exits.
    HelperReport r{0, 0, 0};
    auto fail = [&](int stage) {
      r.err = errno;
      r.stage = stage;
      [[maybe_unused]] auto n = ::write(report[1], &r, sizeof r);
      ::_exit(1);
    };
    for (int fd : target.cgroup_join_fds) {
      if (::write(fd, "0", 1) != 1) fail(1);
    }
    if (enter) {
      if (::setgroups(0, nullptr) != 0) fail(4);
      if (::setns(target.pod_pidfd, target.ns_flags) != 0) fail(2);
      if (::fchdir(target.root_fd) != 0 || ::chroot(".") != 0) fail(3);
      if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) fail(4);
    }
    long child = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (child < 0) fail(5);
    if (child == 0) {
      ::setsid();
      if (!installFds(fds)) ::_exit(126);
      if (stdio.tty) ::ioctl(0, TIOCSCTTY, 0);
      resetSignals();
      if (::chdir(cwd.c_str()) != 0) {
        writeAll(2, "podterm: cannot enter the working directory ");
        writeAll(2, cwd.c_str());
        writeAll(2, "\r\n");
        ::_exit(126);
      }
      ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      if (enter) dropCapabilities();
      execOrDie(args, candidates, argv, envp);
    }
    r.pid = static_cast<int32_t>(child);
    [[maybe_unused]] auto n = ::write(report[1], &r, sizeof r);
    ::_exit(0);
  }
  ::close(report[1]);
  HelperReport r{0, 0, 0};
  ssize_t got;
  do {
    got = ::read(report[0], &r, sizeof r);
  } while (got < 0 && errno == EINTR);
  ::close(report[0]);
  while (::waitpid(helper, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (got != static_cast<ssize_t>(sizeof r) || r.pid <= 0) {
    std::string why = got == static_cast<ssize_t>(sizeof r) ? std::strerror(r.err) : "helper died";
    return sdk::Status(sdk::ErrorCode::Unavailable,
                       std::string("fakepod: failed ") + stageName(r.stage) + ": " + why);
  }
  return static_cast<pid_t>(r.pid);
}

sdk::Result<pid_t> spawnOnHost(const ExecArgs& args, const HostSpawn& how) {
  if (args.argv().empty()) return sdk::Status(sdk::ErrorCode::InvalidArgument, "empty argv");
  char* const* argv = args.argvPtrs();
  char* const* envp = args.envPtrs();
  const auto& candidates = args.candidates();
  pid_t pid = ::fork();
  if (pid < 0) {
    return sdk::Status(sdk::ErrorCode::Unavailable, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    for (int fd : how.cgroup_join_fds) {
      if (::write(fd, "0", 1) != 1) ::_exit(126);
    }
    if (!installFds(how.fds)) ::_exit(126);
    if (how.uid >= 0) {
      if (::setgroups(0, nullptr) != 0 || ::setresgid(how.gid, how.gid, how.gid) != 0 ||
          ::setresuid(how.uid, how.uid, how.uid) != 0) {
        writeAll(2, "podterm: cannot drop to the sandbox uid\n");
        ::_exit(126);
      }
    }
    resetSignals();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    execOrDie(args, candidates, argv, envp);
  }
  return pid;
}

}  // namespace podterm::plugins::fakepod
