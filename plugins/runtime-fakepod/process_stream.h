#pragma once
// ProcessStream: one process in a pod and its stdio, driven by the IoLoop. In tty mode one PTY
// master carries input and (merged) output; otherwise three pipes. ExecStreamHandle is what the
// host owns; the loop keeps the ProcessStream alive until its process is reaped.
//
// Threading: the public methods are thread-safe. Output and exit callbacks run on the loop thread
// with cb_mu_ held, so close() from another thread waits for a running callback, and close() from
// inside a callback (same thread) just marks the stream closed.

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "io_loop.h"
#include "podterm/runtime.h"

namespace podterm::plugins::fakepod {

class ProcessStream : public IoLoop::Handler, public std::enable_shared_from_this<ProcessStream> {
 public:
  static constexpr size_t kReadChunk = 64 * 1024;
  static constexpr size_t kMaxPendingInput = 1024 * 1024;

  // Takes ownership of the fds (-1 where unused; in tty mode in_fd == out_fd, err_fd == -1).
  ProcessStream(IoLoop& loop, sdk::StreamObserver* observer, bool tty, pid_t pid, int pidfd,
                int in_fd, int out_fd, int err_fd);
  ~ProcessStream() override;

  // On the loop thread, once, right after construction.
  sdk::Status attach();

  sdk::Status write(const char* data, size_t size);
  sdk::Status closeStdin();
  sdk::Status resize(uint16_t cols, uint16_t rows);
  void pauseOutput();
  void resumeOutput();
  void close();
  size_t pendingInput() const;

  // The pod is being deleted: the exit will carry this error. Thread-safe.
  void failWith(const sdk::Status& error);
  bool finished() const { return reaped_.load(); }

  void onEvents(int tag, uint32_t events) override;

 private:
  enum Tag { kOut = 0, kErr = 1, kIn = 2, kPid = 3 };

  // Reads what `channel` has and delivers it. Without `to_the_end` a PTY found empty ends the
  // pump early (see outputMayBeQueued); with it, the pump reads on to EAGAIN, EOF or EIO.
  void pump(int channel, bool to_the_end);
  // False only for a PTY whose line discipline holds none of the process's output (TIOCINQ); a
  // pipe is always read on to EAGAIN.
  bool outputMayBeQueued(int channel) const;
  void flushInputLocked();
  void closeInputLocked();
  // A PTY's master is watched for EPOLLOUT only while input waits: the tty wakes its writers
  // whenever the shell reads, and each such event would wake the loop (twice per keystroke).
  void watchWritableLocked(bool on);
  void closeChannel(int channel);
  void reap();
  void maybeFinish();
  void killGroup(int sig);
  void deliver(int channel, const char* data, size_t size);

  IoLoop& loop_;
  sdk::StreamObserver* observer_;
  const bool tty_;
  const pid_t pid_;

  // Loop thread only.
  int fds_[3] = {-1, -1, -1};  // out, err, in (in tty mode fds_[kIn] aliases fds_[kOut])
  IoLoop::Token tokens_[4] = {0, 0, 0, 0};
  int pidfd_ = -1;
  bool exited_ = false;
  bool exit_reported_ = false;
  bool drain_expired_ = false;
  uint64_t drain_timer_ = 0;
  uint64_t kill_timer_ = 0;
  bool pump_scheduled_[2] = {false, false};
  sdk::StreamExit exit_;

  mutable std::mutex mu_;  // input side, error, reaped state
  std::string input_;
  // !input_.empty(), readable without mu_: a PTY event that comes with output carries EPOLLOUT
  // too while input waits, and taking mu_ for each would make the echo wait for a keystroke's
  // write that still holds it. Set before the last write attempt, so an EPOLLOUT after it sees it.
  std::atomic<bool> input_queued_{false};
  bool writable_watched_ = false;  // EPOLLOUT in the PTY master's events; guarded by mu_
  bool stdin_closed_ = false;
  bool eof_requested_ = false;
  int in_fd_ = -1;  // the writable fd, guarded by mu_
  sdk::Status pod_error_;
  std::atomic<bool> reaped_{false};

  std::mutex cb_mu_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> paused_{false};
};

class ExecStreamHandle : public sdk::ExecStream {
 public:
  explicit ExecStreamHandle(std::shared_ptr<ProcessStream> stream) : stream_(std::move(stream)) {}
  ~ExecStreamHandle() override { stream_->close(); }
  sdk::Status write(const char* data, size_t size) override { return stream_->write(data, size); }
  sdk::Status closeStdin() override { return stream_->closeStdin(); }
  sdk::Status resize(uint16_t cols, uint16_t rows) override { return stream_->resize(cols, rows); }
  void pauseOutput() override { stream_->pauseOutput(); }
  void resumeOutput() override { stream_->resumeOutput(); }
  void close() override { stream_->close(); }
  size_t pendingInput() const override { return stream_->pendingInput(); }

 private:
  std::shared_ptr<ProcessStream> stream_;
};

}  // namespace podterm::plugins::fakepod
