#pragma once
// PodExec: one non-tty process in a pod, driven from a worker thread with blocking calls over the
// runtime's asynchronous stream API (sdk::PodRuntime::openStream).
//
// The argv is executed directly (never a shell string built from data). Stdin is written in
// pieces (writeStdin blocks while the runtime's bounded input buffer is full), stdout is either
// pulled chunk by chunk (readStdout, for tar streams read as they arrive) or collected whole
// (run()). stderr is kept up to a bound for error messages.
//
// Threading: one PodExec is used by one thread at a time; the runtime's callbacks arrive on its
// own threads and only queue bytes. Every blocking call stops at the request's deadline; after
// it the process is closed and the result says Timeout.
// Ownership: the PodExec owns the stream; destroying it closes the process (no callback after).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "podterm/runtime.h"

namespace podterm::host {

struct ExecRequest {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string working_dir;  // empty: the pod's workspace
  std::chrono::milliseconds timeout{30000};
  // run(): fail (Internal) when stdout grows beyond this, rather than exhaust memory.
  size_t max_stdout_bytes = 256u * 1024 * 1024;
};

struct ExecResult {
  // Ok when the process ran to its end (whatever its exit code); otherwise why not: the stream
  // failed (pod gone), the deadline passed (Timeout), or stdout was too large.
  sdk::Status error;
  int exit_code = -1;
  int signal = 0;
  std::string stdout_data;  // run() only
  std::string stderr_data;  // the first kMaxStderr bytes

  // Ran to its end and exited 0.
  bool succeeded() const { return error.isOk() && signal == 0 && exit_code == 0; }
  // One line for an operator: "exit 2: tar: x: Cannot open" or the stream error.
  std::string describe() const;
};

class PodExec : private sdk::StreamObserver {
 public:
  static constexpr size_t kMaxStderr = 16 * 1024;

  PodExec(sdk::PodRuntime& runtime, std::string session_id, ExecRequest request);
  ~PodExec() override;
  PodExec(const PodExec&) = delete;
  PodExec& operator=(const PodExec&) = delete;

  // Starts the process; the deadline starts now.
  sdk::Status start();
  // Queues bytes for stdin, waiting (up to the deadline) while the runtime's buffer is full.
  // Unavailable when the process closed its stdin (it exited or stopped reading).
  sdk::Status writeStdin(const char* data, size_t size);
  sdk::Status closeStdin();
  // The next stdout bytes (replacing chunk). Returns false at the end of stdout (the process
  // exited), on a stream error or at the deadline; finish() then says which.
  bool readStdout(std::string& chunk);
  // Closes stdin if still open, discards the stdout not read, waits for the exit.
  ExecResult finish();

  // start + write all of stdin_data + close stdin + collect stdout + finish.
  static ExecResult run(sdk::PodRuntime& runtime, const std::string& session_id,
                        const ExecRequest& request, const std::string& stdin_data = {});

 private:
  using Clock = std::chrono::steady_clock;
  using Lock = std::unique_lock<std::mutex>;

  void onStdout(const char* data, size_t size) override;
  void onStderr(const char* data, size_t size) override;
  void onExit(const sdk::StreamExit& exit) override;
  void closeStream(const sdk::Status& why);

  sdk::PodRuntime& runtime_;
  const std::string session_id_;
  const ExecRequest request_;
  Clock::time_point deadline_;
  sdk::ExecStreamPtr stream_;
  bool stdin_closed_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> stdout_;
  size_t stdout_queued_ = 0;
  bool paused_ = false;
  bool writer_waiting_ = false;  // never pause output while stdin waits (tar -c would deadlock)
  bool exited_ = false;
  sdk::StreamExit exit_;
  sdk::Status local_error_;
  std::string stderr_;
};

}  // namespace podterm::host
