#include "process_stream.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pidfd.h"

namespace podterm::plugins::fakepod {

namespace {
// After the process exits, how long output fds may stay open (a background job holding the PTY
// or a pipe) before the exit is reported anyway.
constexpr std::chrono::milliseconds kDrainGrace{200};
// Between SIGHUP and SIGKILL when the host closes a stream.
constexpr std::chrono::milliseconds kKillGrace{1000};
// Reads per wake-up before yielding to other fds (fairness for a flooding process).
constexpr int kReadsPerPump = 32;
// A read shorter than this drained what the process had written: deliver without reading on.
constexpr size_t kShortRead = 2048;
}  // namespace

ProcessStream::ProcessStream(IoLoop& loop, sdk::StreamObserver* observer, bool tty, pid_t pid,
                             int pidfd, int in_fd, int out_fd, int err_fd)
    : loop_(loop), observer_(observer), tty_(tty), pid_(pid), pidfd_(pidfd), in_fd_(in_fd) {
  fds_[kOut] = out_fd;
  fds_[kErr] = err_fd;
  fds_[kIn] = tty ? -1 : in_fd;
}

ProcessStream::~ProcessStream() {
  for (int fd : fds_) {  // in_fd_ only ever aliases one of these
    if (fd >= 0) ::close(fd);
  }
  if (pidfd_ >= 0) ::close(pidfd_);
}

sdk::Status ProcessStream::attach() {
  auto self = shared_from_this();
  if ((tokens_[kOut] = loop_.add(fds_[kOut], EPOLLIN | EPOLLRDHUP, self, kOut)) == 0 ||
      (fds_[kErr] >= 0 && (tokens_[kErr] = loop_.add(fds_[kErr], EPOLLIN, self, kErr)) == 0) ||
      (fds_[kIn] >= 0 && (tokens_[kIn] = loop_.add(fds_[kIn], EPOLLOUT, self, kIn)) == 0) ||
      (tokens_[kPid] = loop_.add(pidfd_, EPOLLIN, self, kPid)) == 0) {
    return {sdk::ErrorCode::Internal, std::string("fakepod: epoll_ctl: ") + std::strerror(errno)};
  }
  return {};
}

void ProcessStream::onEvents(int tag, uint32_t events) {
  switch (tag) {
    case kPid:
      reap();
      break;
    case kOut:
      if (tty_ && (events & EPOLLOUT) && input_queued_.load()) {
        std::lock_guard<std::mutex> lock(mu_);
        flushInputLocked();
      }
      if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
        pump(kOut, (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0);
      }
      break;
    case kErr:
      pump(kErr, true);
      break;
    case kIn: {
      std::lock_guard<std::mutex> lock(mu_);
      if (events & (EPOLLERR | EPOLLHUP)) {
        closeInputLocked();  // the process closed its stdin
      } else {
        flushInputLocked();
      }
      break;
    }
    default:
      break;
  }
}

void ProcessStream::pump(int channel, bool to_the_end) {
  pump_scheduled_[channel] = false;
  // A PTY hands out at most one line-discipline buffer (4 KiB) per read. Under a flood the reads
  // are joined into one delivery, so the host frames and sends 64 KiB at a time instead of paying
  // a lock, a frame and a sendmsg per 4 KiB; a short read (typed echo, a prompt) is delivered at
  // once, so interactive output waits for no further read.
  char buf[kReadChunk];
  size_t filled = 0;
  auto flush = [&] {
    if (filled > 0) deliver(channel, buf, filled);
    filled = 0;
  };
  to_the_end = to_the_end || exited_;
  for (int i = 0; i < kReadsPerPump; ++i) {
    if (fds_[channel] < 0 || paused_.load() || closed_.load()) return flush();
    ssize_t n = ::read(fds_[channel], buf + filled, sizeof buf - filled);
    if (n > 0) {
      filled += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < kShortRead || sizeof buf - filled < kShortRead) flush();
      if (!to_the_end && !outputMayBeQueued(channel)) return flush();
      continue;
    }
    const int error = n < 0 ? errno : 0;  // before flush(): the host's callback sets errno too
    if (error == EINTR) continue;
    flush();
    if (error == EAGAIN) return;
    closeChannel(channel);  // EOF, or EIO: the normal end of a PTY whose slave side is closed
    maybeFinish();
    return;
  }
  flush();
  // Still more to read: come back after the loop has served other fds.
  pump_scheduled_[channel] = true;
  auto self = shared_from_this();
  loop_.post([self, channel] {
    self->pump(channel, false);
    self->maybeFinish();
  });
}

bool ProcessStream::outputMayBeQueued(int channel) const {
  // A read of an empty PTY is not a cheap EAGAIN: the line discipline first waits for the kernel's
  // PTY worker to push what the writer left in its buffers, so the reader would sleep on every
  // flood read instead of framing what it has while the worker refills. The edge-triggered loop
  // is woken again by the worker's next push; a hang-up or an exit reads on to the end instead.
  if (!tty_) return true;
  int queued = 0;
  return ::ioctl(fds_[channel], TIOCINQ, &queued) != 0 || queued > 0;
}

void ProcessStream::deliver(int channel, const char* data, size_t size) {
  std::lock_guard<std::mutex> lock(cb_mu_);
  if (closed_.load()) return;
  if (channel == kErr) {
    observer_->onStderr(data, size);
  } else {
    observer_->onStdout(data, size);
  }
}

void ProcessStream::closeChannel(int channel) {
  if (fds_[channel] < 0) return;
  loop_.remove(fds_[channel], tokens_[channel]);
  if (tty_ && channel == kOut) {
    std::lock_guard<std::mutex> lock(mu_);
    in_fd_ = -1;
    stdin_closed_ = true;
    input_.clear();
    input_queued_.store(false);
  }
  ::close(fds_[channel]);
  fds_[channel] = -1;
}

void ProcessStream::flushInputLocked() {
  if (in_fd_ < 0) return;
  while (!input_.empty()) {
    ssize_t n = ::write(in_fd_, input_.data(), input_.size());
    if (n > 0) {
      input_.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    closeInputLocked();
    return;
  }
  input_queued_.store(false);
  if (tty_) watchWritableLocked(false);
  if (eof_requested_) {
    if (tty_) {
      eof_requested_ = false;
      char eof = 4;  // VEOF: what ^D does at the start of a line
      [[maybe_unused]] auto n = ::write(in_fd_, &eof, 1);
    } else {
      closeInputLocked();
    }
  }
}

void ProcessStream::watchWritableLocked(bool on) {
  if (in_fd_ < 0 || writable_watched_ == on) return;
  // Failure means the channel is being closed (removed from the loop), and input with it.
  loop_.modify(in_fd_, tokens_[kOut], EPOLLIN | EPOLLRDHUP | (on ? uint32_t{EPOLLOUT} : 0u));
  writable_watched_ = on;
}

void ProcessStream::closeInputLocked() {
  stdin_closed_ = true;
  input_.clear();
  input_queued_.store(false);
  if (tty_ || in_fd_ < 0) return;  // the PTY master also carries output: closed with it
  loop_.remove(in_fd_, tokens_[kIn]);
  ::close(in_fd_);
  in_fd_ = -1;
  fds_[kIn] = -1;
}

sdk::Status ProcessStream::write(const char* data, size_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_.load() || stdin_closed_ || eof_requested_ || in_fd_ < 0) {
    return {sdk::ErrorCode::Unavailable, "stdin of the process is closed"};
  }
  if (input_.size() + size > kMaxPendingInput) {
    return {sdk::ErrorCode::Unavailable, "the process is not reading its input (buffer full)"};
  }
  size_t done = 0;
  if (input_.empty()) {
    // Write straight from the caller's thread: a keystroke should not wait for a loop wake-up.
    while (done < size) {
      ssize_t n = ::write(in_fd_, data + done, size - done);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      closeInputLocked();
      return {sdk::ErrorCode::Unavailable, "stdin of the process is closed"};
    }
  }
  if (done == size) return {};
  // EPOLLOUT (edge-triggered) flushes the rest. The flag goes up first and the write is tried
  // once more: an EPOLLOUT between the EAGAIN above and the flag would otherwise be missed.
  input_.append(data + done, size - done);
  input_queued_.store(true);
  if (tty_) watchWritableLocked(true);
  flushInputLocked();
  return {};
}

sdk::Status ProcessStream::closeStdin() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stdin_closed_ || in_fd_ < 0) return {};
  eof_requested_ = true;
  if (input_.empty()) flushInputLocked();
  return {};
}

sdk::Status ProcessStream::resize(uint16_t cols, uint16_t rows) {
  if (!tty_) return {sdk::ErrorCode::Unsupported, "resize needs a tty stream"};
  if (cols == 0 || rows == 0) return {sdk::ErrorCode::InvalidArgument, "zero terminal size"};
  std::lock_guard<std::mutex> lock(mu_);
  if (in_fd_ < 0) return {sdk::ErrorCode::Unavailable, "the terminal is closed"};
  winsize ws{};
  ws.ws_col = cols;
  ws.ws_row = rows;
  if (::ioctl(in_fd_, TIOCSWINSZ, &ws) != 0) {  // the kernel sends SIGWINCH to the foreground
    return {sdk::ErrorCode::Internal, std::string("TIOCSWINSZ: ") + std::strerror(errno)};
  }
  return {};
}

void ProcessStream::pauseOutput() {
  paused_.store(true);
}

void ProcessStream::resumeOutput() {
  if (!paused_.exchange(false)) return;
  auto self = shared_from_this();
  loop_.post([self] {
    self->pump(kOut, false);
    self->pump(kErr, true);
    self->maybeFinish();
  });
}

size_t ProcessStream::pendingInput() const {
  std::lock_guard<std::mutex> lock(mu_);
  return input_.size();
}

void ProcessStream::killGroup(int sig) {
  // Called with mu_ held and the process not reaped, so neither number can have been reused.
  ::kill(-pid_, sig);
  ::kill(pid_, sig);
}

void ProcessStream::failWith(const sdk::Status& error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pod_error_.isOk()) pod_error_ = error;
  if (!reaped_.load()) killGroup(SIGKILL);
}

void ProcessStream::close() {
  if (loop_.inLoopThread()) {
    if (closed_.exchange(true)) return;
  } else {
    std::lock_guard<std::mutex> lock(cb_mu_);  // waits for a callback in progress
    if (closed_.exchange(true)) return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    input_.clear();
    input_queued_.store(false);
    if (!reaped_.load()) {
      killGroup(SIGHUP);
      killGroup(SIGCONT);
    }
  }
  auto self = shared_from_this();
  loop_.post([self] {
    self->closeChannel(kOut);
    self->closeChannel(kErr);
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->closeInputLocked();
    }
    if (self->drain_timer_ != 0) self->loop_.cancel(self->drain_timer_);
    if (!self->reaped_.load()) {
      self->kill_timer_ = self->loop_.runAfter(kKillGrace, [self] {
        std::lock_guard<std::mutex> lock(self->mu_);
        if (!self->reaped_.load()) self->killGroup(SIGKILL);
      });
    }
  });
}

void ProcessStream::reap() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (reaped_.load()) return;
    siginfo_t info{};
    if (pidfdWait(pidfd_, &info) == 0) {
      if (info.si_pid == 0) return;  // not exited yet
      if (info.si_code == CLD_EXITED) {
        exit_.exit_code = info.si_status;
      } else {
        exit_.signal = info.si_status;
        exit_.exit_code = 128 + info.si_status;
      }
    } else {
      exit_.exit_code = -1;  // reaped by someone else (the host ignores SIGCHLD?)
    }
    reaped_.store(true);
  }
  loop_.remove(pidfd_, tokens_[kPid]);
  ::close(pidfd_);
  pidfd_ = -1;
  if (kill_timer_ != 0) loop_.cancel(kill_timer_);
  exited_ = true;
  pump(kOut, true);
  pump(kErr, true);
  maybeFinish();
}

void ProcessStream::maybeFinish() {
  if (exit_reported_ || !exited_) return;
  bool open = fds_[kOut] >= 0 || fds_[kErr] >= 0;
  if (open && !closed_.load()) {
    if (paused_.load() || pump_scheduled_[kOut] || pump_scheduled_[kErr]) return;
    if (!drain_expired_) {
      if (drain_timer_ == 0) {
        auto self = shared_from_this();
        drain_timer_ = loop_.runAfter(kDrainGrace, [self] {
          self->drain_timer_ = 0;
          self->drain_expired_ = true;
          self->pump(kOut, true);
          self->pump(kErr, true);
          self->maybeFinish();
        });
      }
      return;
    }
  }
  exit_reported_ = true;
  if (drain_timer_ != 0) loop_.cancel(drain_timer_);
  closeChannel(kOut);
  closeChannel(kErr);
  sdk::StreamExit exit = exit_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closeInputLocked();
    if (!pod_error_.isOk()) exit.error = pod_error_;
  }
  std::lock_guard<std::mutex> lock(cb_mu_);
  if (!closed_.load()) observer_->onExit(exit);
}

}  // namespace podterm::plugins::fakepod
