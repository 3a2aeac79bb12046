#include "pod.h"

#include <fcntl.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>

#include "pidfd.h"
#include "sandbox.h"
#include "slirp_network.h"
#include "spawn.h"

namespace podterm::plugins::fakepod {

namespace {

constexpr const char* kWorkspace = "/app/workspace";
constexpr std::chrono::milliseconds kTeardownTimeout{10000};
constexpr std::chrono::milliseconds kTeardownRecheck{5};

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void reapChild(int pidfd) {
  siginfo_t info{};
  pidfdWait(pidfd, &info);
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Pod::Pod(const RuntimeContext& ctx, std::string session_id, std::string name, std::string dir_name,
         std::string cgroup_name)
    : ctx_(ctx),
      loop_(*ctx.loop),
      cgroup_name_(std::move(cgroup_name)),
      created_ms_(nowUnixMs()),
      session_id_(std::move(session_id)),
      name_(std::move(name)),
      dir_name_(std::move(dir_name)) {
  status_.phase = sdk::PodPhase::Pending;
  status_.reason = "ContainerCreating";
}

Pod::~Pod() {
  for (int fd : {bwrap_pidfd_, info_fd_, ready_fd_, stderr_fd_, init_pidfd_, root_fd_, slirp_pidfd_,
                 slirp_ready_fd_, slirp_exit_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

std::string Pod::podDir() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ctx_.config.data_dir + "/pods/" + dir_name_;
}

sdk::PodStatus Pod::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

sdk::PodInfo Pod::info() const {
  std::lock_guard<std::mutex> lock(mu_);
  sdk::PodInfo info;
  info.session_id = session_id_;
  info.pod_name = name_;
  info.status = status_;
  info.created_unix_ms = created_ms_;
  return info;
}

void Pod::setObserver(sdk::PodObserver* observer) {
  uint64_t generation;
  {
    std::unique_lock<std::mutex> lock(cb_mu_, std::defer_lock);
    if (!loop_.inLoopThread()) lock.lock();
    observer_ = observer;
    generation = ++observer_generation_;
  }
  auto self = shared_from_this();
  loop_.post([self, generation] {
    std::lock_guard<std::mutex> lock(self->cb_mu_);
    if (self->observer_ == nullptr || self->observer_generation_ != generation) return;
    self->observer_->onPodStatus(self->status());
  });
}

void Pod::stopObserving() {
  std::unique_lock<std::mutex> lock(cb_mu_, std::defer_lock);
  if (!loop_.inLoopThread()) lock.lock();  // waits for a callback in progress
  observer_ = nullptr;
  ++observer_generation_;
}

void Pod::setStatus(sdk::PodPhase phase, const std::string& reason, const std::string& message) {
  sdk::PodStatus copy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.phase = phase;
    status_.reason = reason;
    status_.message = message;
    copy = status_;
  }
  // Loop thread: no other callback of this pod can be running, cb_mu_ only fences stopObserving.
  std::lock_guard<std::mutex> lock(cb_mu_);
  if (observer_ != nullptr) observer_->onPodStatus(copy);
}

void Pod::start() {
  auto self = shared_from_this();
  if (ctx_.config.start_delay_ms > 0) {
    loop_.runAfter(std::chrono::milliseconds(ctx_.config.start_delay_ms), [self] {
      if (!self->terminating_) self->launch();
    });
  } else {
    launch();
  }
}

void Pod::fail(const std::string& message) {
  if (terminating_) return;
  setStatus(sdk::PodPhase::Failed, "Error", message);
  killSandbox();
}

void Pod::killSandbox() {
  // Kill the namespace's init and let bwrap (its parent) reap it and exit: killing bwrap too
  // would orphan the init's zombie to the host's PID 1, which may never reap it.
  if (init_pidfd_ >= 0) {
    pidfdSignal(init_pidfd_, SIGKILL);
  } else if (!bwrap_reaped_) {
    pidfdSignal(bwrap_pidfd_, SIGKILL);
  }
}

void Pod::launch() {
  if (!ctx_.config.fail_create.empty()) {
    setStatus(sdk::PodPhase::Failed, "CreateContainerError", ctx_.config.fail_create);
    return;
  }
  std::error_code ec;
  const std::string dir = podDir();
  std::filesystem::create_directories(dir + "/workspace", ec);
  if (ec) {
    fail("cannot create the pod's workspace " + dir + "/workspace: " + ec.message());
    return;
  }
  if (ctx_.limits_active) {
    auto cg = CgroupLimits::create(
        cgroup_name_, {ctx_.config.cpu_millis, ctx_.config.memory_mib, ctx_.config.pids_max});
    if (!cg) {
      fail("cannot set the pod's resource limits: " + cg.status().message());
      return;
    }
    cgroup_ = std::move(cg).value();
  }
  if (ctx_.config.isolation == Isolation::None) {
    setStatus(sdk::PodPhase::Running, "Running");
    becomeReady();
    return;
  }
  if (::chown((dir + "/workspace").c_str(), static_cast<uid_t>(ctx_.config.host_uid),
              static_cast<gid_t>(ctx_.config.host_gid)) != 0) {
    fail("cannot hand the workspace to the sandbox uid: " + std::string(std::strerror(errno)));
    return;
  }
  int ws_fd = ::open((dir + "/workspace").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  SandboxOptions options;
  options.bwrap = ctx_.bwrap;
  options.workspace_fd = ws_fd;
  {
    std::lock_guard<std::mutex> lock(mu_);
    options.pod_name = name_;
    options.hostname = session_id_.empty() ? "podterm" : name_;
  }
  options.unshare_net = ctx_.config.network != Network::Host;
  options.host_uid = ctx_.config.host_uid;
  options.host_gid = ctx_.config.host_gid;
  if (cgroup_) options.cgroup_join_fds = cgroup_->joinFds();
  auto started = startSandbox(options);
  if (ws_fd >= 0) ::close(ws_fd);
  if (!started) {
    fail("cannot start the sandbox: " + started.status().message());
    return;
  }
  const SandboxProcess& p = started.value();
  bwrap_pid_ = p.pid;
  bwrap_pidfd_ = p.pidfd;
  bwrap_reaped_ = false;
  info_fd_ = p.info_fd;
  ready_fd_ = p.ready_fd;
  stderr_fd_ = p.stderr_fd;
  auto self = shared_from_this();
  info_token_ = loop_.add(info_fd_, EPOLLIN, self, kInfo);
  ready_token_ = loop_.add(ready_fd_, EPOLLIN, self, kReady);
  stderr_token_ = loop_.add(stderr_fd_, EPOLLIN, self, kStderr);
  bwrap_token_ = loop_.add(bwrap_pidfd_, EPOLLIN, self, kBwrapExit);
}

void Pod::unwatch(int& fd, IoLoop::Token& token, bool close_fd) {
  if (fd < 0) return;
  if (token != 0) loop_.remove(fd, token);
  token = 0;
  if (close_fd) {
    ::close(fd);
    fd = -1;
  }
}

void Pod::onEvents(int tag, uint32_t events) {
  char buf[4096];
  auto drain = [&](int& fd, IoLoop::Token& token, std::string* sink) {
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        if (sink != nullptr && sink->size() < 8192) sink->append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return false;
      unwatch(fd, token, true);
      return true;  // EOF
    }
  };
  switch (tag) {
    case kInfo:
      drain(info_fd_, info_token_, &info_text_);
      if (init_pid_ == 0 && (init_pid_ = parseChildPid(info_text_)) != 0) {
        init_pidfd_ = pidfdOpen(init_pid_);
        if (init_pidfd_ < 0) {
          fail("cannot attach to the sandbox: " + std::string(std::strerror(errno)));
          return;
        }
      }
      maybeUp();
      break;
    case kReady: {
      std::string text;
      drain(ready_fd_, ready_token_, &text);
      if (text.find('R') != std::string::npos) payload_ready_ = true;
      maybeUp();
      break;
    }
    case kStderr:
      drain(stderr_fd_, stderr_token_, &stderr_text_);
      break;
    case kBwrapExit:
      reapChild(bwrap_pidfd_);
      bwrap_reaped_ = true;
      unwatch(bwrap_pidfd_, bwrap_token_, true);
      if (stderr_fd_ >= 0) drain(stderr_fd_, stderr_token_, &stderr_text_);
      if (terminating_) {
        checkTeardown();
      } else if (status().phase != sdk::PodPhase::Failed) {
        std::string why = trimmed(stderr_text_);
        fail("the sandbox exited" + (why.empty() ? std::string() : ": " + why));
      }
      break;
    case kSlirpReady: {
      std::string text;
      bool eof = drain(slirp_ready_fd_, slirp_ready_token_, &text);
      if (!text.empty()) {
        unwatch(slirp_ready_fd_, slirp_ready_token_, true);
        becomeReady();
      } else if (eof) {
        fail("slirp4netns could not set up the pod's network");
      }
      break;
    }
    case kSlirpExit:
      reapChild(slirp_pidfd_);
      unwatch(slirp_pidfd_, slirp_token_, true);
      slirp_pid_ = -1;
      if (!terminating_) fail("the pod's network helper (slirp4netns) exited");
      break;
    default:
      break;
  }
  (void)events;
}

void Pod::maybeUp() {
  if (init_pid_ == 0 || !payload_ready_ || terminating_) return;
  if (status().phase != sdk::PodPhase::Pending) return;
  // Only now: bwrap reports the pid before the sandbox has switched to its new root.
  root_fd_ = ::open(("/proc/" + std::to_string(init_pid_) + "/root").c_str(),
                    O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd_ < 0) {
    fail("cannot attach to the sandbox's root: " + std::string(std::strerror(errno)));
    return;
  }
  setStatus(sdk::PodPhase::Running, "Running");
  if (ctx_.config.network == Network::Outbound) {
    auto slirp = startSlirp(ctx_.slirp, init_pid_);
    if (!slirp) {
      fail("cannot start slirp4netns: " + slirp.status().message());
      return;
    }
    slirp_pid_ = slirp.value().pid;
    slirp_pidfd_ = slirp.value().pidfd;
    slirp_ready_fd_ = slirp.value().ready_fd;
    slirp_exit_fd_ = slirp.value().exit_fd;
    auto self = shared_from_this();
    slirp_token_ = loop_.add(slirp_pidfd_, EPOLLIN, self, kSlirpExit);
    slirp_ready_token_ = loop_.add(slirp_ready_fd_, EPOLLIN, self, kSlirpReady);
    return;
  }
  becomeReady();
}

void Pod::becomeReady() {
  if (terminating_) return;
  if (ctx_.config.never_ready) {
    setStatus(sdk::PodPhase::Running, "ContainersNotReady");
    return;
  }
  setStatus(sdk::PodPhase::Ready, "Ready");
}

bool Pod::claim(const std::string& session_id, const std::string& name,
                const std::string& dir_name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (status_.phase != sdk::PodPhase::Ready) return false;
  std::string from = ctx_.config.data_dir + "/pods/" + dir_name_;
  std::string to = ctx_.config.data_dir + "/pods/" + dir_name;
  // The sandbox bound the directory itself, so renaming it on the host changes nothing inside.
  if (::rename(from.c_str(), to.c_str()) != 0) return false;
  session_id_ = session_id;
  name_ = name;
  dir_name_ = dir_name;
  created_ms_ = nowUnixMs();  // the session's pod from now: its lifetime counts from here
  return true;
}

sdk::Result<sdk::ExecStreamPtr> Pod::openStream(const sdk::StreamSpec& spec,
                                                sdk::StreamObserver* observer) {
  if (status().phase != sdk::PodPhase::Ready) {
    return sdk::Status(sdk::ErrorCode::Unavailable, "the pod is not ready");
  }
  if (spec.argv.empty()) return sdk::Status(sdk::ErrorCode::InvalidArgument, "empty argv");
  const bool isolated = ctx_.config.isolation == Isolation::Bwrap;
  std::map<std::string, std::string> env = {
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
      {"HOME", isolated ? "/root" : podDir() + "/workspace"},
      {"USER", "root"},
      {"LOGNAME", "root"},
      {"SHELL", "/bin/bash"},
      {"LANG", "C.UTF-8"},
      {"TERM", spec.tty ? "xterm-256color" : "dumb"},
  };
  for (const auto& kv : spec.env) {
    if (kv.first.empty() || kv.first.find('=') != std::string::npos) {
      return sdk::Status(sdk::ErrorCode::InvalidArgument, "bad environment variable name");
    }
    env[kv.first] = kv.second;
  }
  env["PODTERM_POD"] = name();
  std::vector<std::string> envv;
  for (const auto& kv : env) envv.push_back(kv.first + "=" + kv.second);
  ExecArgs args(spec.argv, std::move(envv));
  std::string cwd = spec.working_dir.empty()
                        ? (isolated ? std::string(kWorkspace) : podDir() + "/workspace")
                        : spec.working_dir;

  EnterTarget target;
  if (isolated) {
    target.pod_pidfd = init_pidfd_;
    target.root_fd = root_fd_;
    target.ns_flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (ctx_.config.network != Network::Host) target.ns_flags |= CLONE_NEWNET;
  }
  if (cgroup_) target.cgroup_join_fds = cgroup_->joinFds();

  // Our ends: non-blocking and close-on-exec; the child's ends are dup'ed onto 0..2.
  int ours[3] = {-1, -1, -1};  // in (write), out (read), err (read)
  int theirs[3] = {-1, -1, -1};
  auto closeAll = [&] {
    for (int fd : ours) {
      if (fd >= 0) ::close(fd);
    }
    for (int fd : theirs) {
      if (fd >= 0) ::close(fd);
    }
  };
  ChildStdio stdio;
  if (spec.tty) {
    winsize ws{};
    ws.ws_col = spec.cols;
    ws.ws_row = spec.rows;
    int master = -1, slave = -1;
    if (::openpty(&master, &slave, nullptr, nullptr, &ws) != 0) {
      return sdk::Status(sdk::ErrorCode::Unavailable,
                         std::string("openpty: ") + std::strerror(errno));
    }
    ::fcntl(master, F_SETFD, FD_CLOEXEC);
    ::fcntl(slave, F_SETFD, FD_CLOEXEC);
    ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
    ours[1] = master;
    theirs[0] = slave;
    stdio = {slave, slave, slave, true};
  } else {
    int in[2], out[2], err[2];
    bool ok = ::pipe2(in, O_CLOEXEC) == 0;
    if (ok) ok = ::pipe2(out, O_CLOEXEC) == 0 || (::close(in[0]), ::close(in[1]), false);
    if (ok) {
      ok = ::pipe2(err, O_CLOEXEC) == 0 ||
           (::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]), false);
    }
    if (!ok) return sdk::Status(sdk::ErrorCode::Unavailable, "cannot create pipes");
    ours[0] = in[1];
    ours[1] = out[0];
    ours[2] = err[0];
    theirs[0] = in[0];
    theirs[1] = out[1];
    theirs[2] = err[1];
    for (int fd : ours) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    stdio = {in[0], out[1], err[1], false};
  }
  auto pid = spawnInPod(target, args, cwd, stdio);
  if (!pid) {
    closeAll();
    return pid.status();
  }
  for (int& fd : theirs) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int pidfd = pidfdOpen(pid.value());
  if (pidfd < 0) {
    ::kill(pid.value(), SIGKILL);
    ::waitpid(pid.value(), nullptr, 0);
    closeAll();
    return sdk::Status(sdk::ErrorCode::Internal, "pidfd_open failed");
  }
  std::shared_ptr<ProcessStream> stream;
  if (spec.tty) {
    stream = std::make_shared<ProcessStream>(loop_, observer, true, pid.value(), pidfd, ours[1],
                                             ours[1], -1);
  } else {
    stream = std::make_shared<ProcessStream>(loop_, observer, false, pid.value(), pidfd, ours[0],
                                             ours[1], ours[2]);
  }
  auto attached = stream->attach();
  if (!attached) {
    stream->close();
    return attached;
  }
  streams_.erase(std::remove_if(streams_.begin(), streams_.end(),
                                [](const std::weak_ptr<ProcessStream>& w) {
                                  auto s = w.lock();
                                  return !s || s->finished();
                                }),
                 streams_.end());
  streams_.push_back(stream);
  return sdk::ExecStreamPtr(new ExecStreamHandle(std::move(stream)));
}

void Pod::terminate(std::function<void()> done) {
  if (terminating_) {
    auto previous = std::move(on_terminated_);
    on_terminated_ = [previous, done] {
      if (previous) previous();
      if (done) done();
    };
    return;
  }
  terminating_ = true;
  on_terminated_ = std::move(done);
  teardown_deadline_ = IoLoop::Clock::now() + kTeardownTimeout;
  setStatus(sdk::PodPhase::Terminating, "Terminating");
  sdk::Status error(sdk::ErrorCode::Unavailable, "the pod was deleted");
  for (auto& weak : streams_) {
    if (auto s = weak.lock()) s->failWith(error);
  }
  // Killing the PID namespace's init kills every process in it; the kernel finishes that only
  // once the execs (our children) are reaped, which the streams do on this loop.
  killSandbox();
  if (slirp_exit_fd_ >= 0) {
    ::close(slirp_exit_fd_);
    slirp_exit_fd_ = -1;
  }
  if (slirp_pidfd_ >= 0) pidfdSignal(slirp_pidfd_, SIGKILL);
  if (cgroup_) cgroup_->killAll();
  checkTeardown();
}

void Pod::checkTeardown() {
  if (!terminating_ || !on_terminated_) return;
  bool waiting = !bwrap_reaped_ || slirp_pidfd_ >= 0;
  for (auto& weak : streams_) {
    if (auto s = weak.lock(); s && !s->finished()) waiting = true;
  }
  if (cgroup_ && !waiting && !cgroup_->members().empty()) {
    cgroup_->killAll();
    waiting = true;
  }
  if (waiting && !bwrap_reaped_ &&
      IoLoop::Clock::now() > teardown_deadline_ - kTeardownTimeout / 2) {
    pidfdSignal(bwrap_pidfd_, SIGKILL);  // bwrap did not follow its init: stop waiting for it
  }
  if (waiting && IoLoop::Clock::now() < teardown_deadline_) {
    // Exits arrive as pidfd events; this re-check only covers processes we have no pidfd for.
    auto self = shared_from_this();
    loop_.runAfter(kTeardownRecheck, [self] { self->checkTeardown(); });
    return;
  }
  unwatch(info_fd_, info_token_, true);
  unwatch(ready_fd_, ready_token_, true);
  unwatch(stderr_fd_, stderr_token_, true);
  unwatch(slirp_ready_fd_, slirp_ready_token_, true);
  if (cgroup_) {
    cgroup_->remove();
    cgroup_.reset();
  }
  std::error_code ec;
  std::filesystem::remove_all(podDir(), ec);
  setStatus(sdk::PodPhase::Gone, "Gone");
  stopObserving();
  auto done = std::move(on_terminated_);
  on_terminated_ = nullptr;
  if (done) done();
}

}  // namespace podterm::plugins::fakepod
