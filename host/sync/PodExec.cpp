#include "sync/PodExec.h"

#include <algorithm>
#include <utility>

namespace podterm::host {

namespace {
// Stdout queued beyond this pauses the stream until the reader catches up (tar streams of large
// workspaces are read while they arrive, not buffered whole).
constexpr size_t kPauseAbove = 8u * 1024 * 1024;
constexpr size_t kResumeBelow = 1u * 1024 * 1024;
// Stdin is written in pieces no larger than this, and only while the runtime holds less than
// kInputLowWater unsent: the runtime's buffer is bounded and refuses a write that overflows it.
constexpr size_t kInputPiece = 64u * 1024;
constexpr size_t kInputLowWater = 192u * 1024;
// The SDK has no "input drained" callback, so a writer waiting for buffer space re-checks
// pendingInput() this often (woken earlier by any output or the exit).
constexpr std::chrono::milliseconds kInputPoll{1};
}  // namespace

std::string ExecResult::describe() const {
  if (!error.isOk()) return std::string(sdk::errorCodeName(error.code())) + ": " + error.message();
  std::string out = signal != 0 ? "killed by signal " + std::to_string(signal)
                                : "exit " + std::to_string(exit_code);
  std::string err = stderr_data.substr(0, 400);
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
  if (!err.empty()) out += ": " + err;
  return out;
}

PodExec::PodExec(sdk::PodRuntime& runtime, std::string session_id, ExecRequest request)
    : runtime_(runtime), session_id_(std::move(session_id)), request_(std::move(request)) {}

PodExec::~PodExec() {
  stream_.reset();  // closes the process; no callback arrives after this
}

sdk::Status PodExec::start() {
  deadline_ = Clock::now() + request_.timeout;
  sdk::StreamSpec spec;
  spec.argv = request_.argv;
  spec.env = request_.env;
  spec.working_dir = request_.working_dir;
  spec.tty = false;
  auto opened = runtime_.openStream(session_id_, spec, this);
  if (!opened) return opened.status();
  sdk::ExecStreamPtr stream = std::move(opened).value();
  bool pause = false;
  {
    Lock lock(mu_);
    stream_ = std::move(stream);
    pause = paused_;  // output that arrived before openStream returned may already be large
  }
  if (pause) stream_->pauseOutput();
  return {};
}

void PodExec::onStdout(const char* data, size_t size) {
  sdk::ExecStream* to_pause = nullptr;
  {
    Lock lock(mu_);
    stdout_.emplace_back(data, size);
    stdout_queued_ += size;
    if (!paused_ && !writer_waiting_ && stdout_queued_ > kPauseAbove) {
      paused_ = true;
      to_pause = stream_.get();  // null before start() stored it: start() pauses then
    }
  }
  cv_.notify_all();
  if (to_pause != nullptr) to_pause->pauseOutput();
}

void PodExec::onStderr(const char* data, size_t size) {
  Lock lock(mu_);
  if (stderr_.size() < kMaxStderr)
    stderr_.append(data, std::min(size, kMaxStderr - stderr_.size()));
}

void PodExec::onExit(const sdk::StreamExit& exit) {
  {
    Lock lock(mu_);
    exited_ = true;
    exit_ = exit;
  }
  cv_.notify_all();
}

void PodExec::closeStream(const sdk::Status& why) {
  sdk::ExecStreamPtr stream;
  {
    Lock lock(mu_);
    if (local_error_.isOk()) local_error_ = why;
    stream = std::move(stream_);
  }
  stream.reset();  // outside mu_: close() waits for a callback in progress, which takes mu_
  Lock lock(mu_);
  exited_ = true;
}

sdk::Status PodExec::writeStdin(const char* data, size_t size) {
  if (stdin_closed_) return {sdk::ErrorCode::Unavailable, "stdin already closed"};
  size_t done = 0;
  while (done < size) {
    sdk::ExecStream* stream = nullptr;
    {
      Lock lock(mu_);
      if (exited_ || !local_error_.isOk() || !stream_) {
        return {sdk::ErrorCode::Unavailable, "the process ended before reading all its input"};
      }
      stream = stream_.get();
    }
    if (stream->pendingInput() >= kInputLowWater) {
      if (Clock::now() >= deadline_) {
        closeStream({sdk::ErrorCode::Timeout, "the process did not read its input in time"});
        return local_error_;
      }
      Lock lock(mu_);
      writer_waiting_ = true;
      if (paused_) {  // never hold output back while the process may be waiting to write it
        paused_ = false;
        lock.unlock();
        stream->resumeOutput();
        lock.lock();
      }
      cv_.wait_for(lock, kInputPoll);
      writer_waiting_ = false;
      continue;
    }
    size_t n = std::min(kInputPiece, size - done);
    sdk::Status written = stream->write(data + done, n);
    if (!written) return written;
    done += n;
  }
  return {};
}

sdk::Status PodExec::closeStdin() {
  if (stdin_closed_) return {};
  stdin_closed_ = true;
  Lock lock(mu_);
  if (!stream_ || exited_) return {};
  sdk::ExecStream* stream = stream_.get();
  lock.unlock();
  return stream->closeStdin();
}

bool PodExec::readStdout(std::string& chunk) {
  Lock lock(mu_);
  while (stdout_.empty()) {
    if (exited_ || !local_error_.isOk() || !stream_) return false;
    if (cv_.wait_until(lock, deadline_) == std::cv_status::timeout && stdout_.empty() && !exited_) {
      lock.unlock();
      closeStream({sdk::ErrorCode::Timeout, "the process did not finish in time"});
      return false;
    }
  }
  chunk = std::move(stdout_.front());
  stdout_.pop_front();
  stdout_queued_ -= chunk.size();
  if (paused_ && stdout_queued_ < kResumeBelow && stream_) {
    paused_ = false;
    sdk::ExecStream* stream = stream_.get();
    lock.unlock();
    stream->resumeOutput();
  }
  return true;
}

ExecResult PodExec::finish() {
  if (!stdin_closed_) closeStdin();
  std::string discard;
  while (readStdout(discard)) {
  }
  ExecResult result;
  Lock lock(mu_);
  result.stderr_data = stderr_;
  if (!local_error_.isOk()) {
    result.error = local_error_;
  } else if (!stream_) {
    result.error = {sdk::ErrorCode::Internal, "the process was not started"};
  } else {
    result.error = exit_.error;
    result.exit_code = exit_.exit_code;
    result.signal = exit_.signal;
  }
  return result;
}

ExecResult PodExec::run(sdk::PodRuntime& runtime, const std::string& session_id,
                        const ExecRequest& request, const std::string& stdin_data) {
  PodExec exec(runtime, session_id, request);
  ExecResult result;
  if (sdk::Status started = exec.start(); !started) {
    result.error = started;
    return result;
  }
  sdk::Status written = exec.writeStdin(stdin_data.data(), stdin_data.size());
  exec.closeStdin();
  std::string collected;
  std::string chunk;
  bool too_large = false;
  while (exec.readStdout(chunk)) {
    if (collected.size() + chunk.size() > request.max_stdout_bytes) {
      too_large = true;
      exec.closeStream(
          {sdk::ErrorCode::Internal,
           "the output exceeded " + std::to_string(request.max_stdout_bytes) + " bytes"});
      break;
    }
    collected += chunk;
  }
  result = exec.finish();
  if (result.error.isOk() && !too_large && !written) result.error = written;
  result.stdout_data = std::move(collected);
  return result;
}

}  // namespace podterm::host
