#pragma once
// PodRuntime: where sessions' pods live (Kubernetes, local sandboxes, ...).
//
// Threading: every method may be called from any host thread, concurrently, and must not block
// on the pod's start (ensurePod returns at once; progress arrives through PodObserver). Calls that
// talk to a backend (deletePod, podStatus, listPods) may block for a bounded time (the plugin's
// own timeouts) and run on the host's worker threads, never on its event loops.
// Callbacks (PodObserver, StreamObserver) arrive on the runtime's own I/O threads; they must return
// quickly and may call back into the runtime and the stream. A runtime owns a fixed, small number
// of threads: none per pod or per stream.
// Ownership: observers are owned by the host and outlive the pod/stream they observe (the host
// calls stopObserving / ExecStream::close first). Streams are owned by the host through
// std::unique_ptr; destroying one closes it and guarantees no further callbacks after return.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "podterm/plugin.h"
#include "podterm/result.h"

namespace podterm::sdk {

// The Kubernetes-like lifecycle of a pod as the host sees it.
enum class PodPhase : int32_t {
  Pending = 0,    // accepted, not running yet (scheduling, pulling, starting)
  Running = 1,    // running but not ready
  Ready = 2,      // running and ready: exec works
  Failed = 3,     // will not become ready (creation refused, crashed, evicted)
  Terminating = 4,
  Gone = 5,       // does not exist (deleted or never created)
};

inline const char* podPhaseName(PodPhase phase) noexcept {
  switch (phase) {
    case PodPhase::Pending: return "Pending";
    case PodPhase::Running: return "Running";
    case PodPhase::Ready: return "Ready";
    case PodPhase::Failed: return "Failed";
    case PodPhase::Terminating: return "Terminating";
    case PodPhase::Gone: return "Gone";
  }
  return "Unknown";
}

struct PodStatus {
  PodPhase phase = PodPhase::Gone;
  // What a user reads after "Current status:": the phase or a finer reason such as
  // "ContainerCreating" or "ImagePullBackOff". "Retrying" (Pending): the runtime's backend failed
  // for now and the runtime retries; message says why, and the host shows it to the user.
  std::string reason;
  // For Failed: why, for the user's "Details:" line ("Insufficient resources in cluster").
  std::string message;
};

// What the host asks for. The runtime maps session_id to its own names (and must keep ids that
// differ only in case apart).
struct PodSpec {
  std::string session_id;
  std::string user;       // from the session id
  std::string workspace;  // from the session id
  std::map<std::string, std::string> labels;
};

struct PodInfo {
  std::string session_id;
  std::string pod_name;
  PodStatus status;
  int64_t created_unix_ms = 0;
};

class PodObserver {
 public:
  virtual ~PodObserver() = default;
  // Every phase change of the pod, starting with its current state, in order.
  virtual void onPodStatus(const PodStatus& status) = 0;
};

struct StreamSpec {
  std::vector<std::string> argv;  // executed directly, never through a shell string
  std::map<std::string, std::string> env;
  std::string working_dir;        // empty: the pod's workspace
  bool tty = false;               // interactive: a PTY, stdout and stderr merged
  uint16_t cols = 80;
  uint16_t rows = 24;
};

struct StreamExit {
  int exit_code = -1;  // the process's exit status, 128+N when killed by signal N
  int signal = 0;      // the signal that killed it, or 0
  Status error;        // the stream failed (pod gone, connection lost) rather than exited
};

class StreamObserver {
 public:
  virtual ~StreamObserver() = default;
  // Output bytes in order. While the host has paused the stream no further calls arrive
  // (one already running may finish).
  virtual void onStdout(const char* data, size_t size) = 0;
  virtual void onStderr(const char* data, size_t size) = 0;
  // Exactly once, after the last output, unless the host closed the stream first.
  virtual void onExit(const StreamExit& exit) = 0;
};

// A running process in a pod. All methods are non-blocking and thread-safe.
class ExecStream {
 public:
  virtual ~ExecStream() = default;
  // Queues bytes for stdin. Never blocks; the runtime buffers (bounded: Unavailable when the
  // process does not read and the buffer is full).
  virtual Status write(const char* data, size_t size) = 0;
  // Signals EOF on stdin once queued bytes are written (non-tty streams).
  virtual Status closeStdin() = 0;
  virtual Status resize(uint16_t cols, uint16_t rows) = 0;
  // Backpressure: stop reading the process's output until resumeOutput().
  virtual void pauseOutput() = 0;
  virtual void resumeOutput() = 0;
  // Ends the process (SIGHUP then SIGKILL for a tty). No callback arrives after close() returns.
  virtual void close() = 0;
  // Bytes queued for stdin and not yet written.
  virtual size_t pendingInput() const = 0;
};

using ExecStreamPtr = std::unique_ptr<ExecStream>;

struct RuntimeCapabilities {
  bool warm_pool = false;
  bool resource_limits = false;
  bool network_isolation = false;
  bool failure_injection = false;  // the contract suite's failure paths need this
};

class PodRuntime : public PluginObject {
 public:
  // Creates the pod if it does not exist (idempotent: a second call for the same session adopts
  // the existing pod) and reports its phases to observer until stopObserving(session_id). Returns
  // an error only when the request itself is refused (bad spec, backend unreachable): a pod that
  // fails later is reported as PodPhase::Failed.
  virtual Status ensurePod(const PodSpec& spec, PodObserver* observer) = 0;
  // After it returns no further onPodStatus call for this session starts.
  virtual void stopObserving(const std::string& session_id) = 0;
  // Current status; PodPhase::Gone for an unknown session (not an error).
  virtual Result<PodStatus> podStatus(const std::string& session_id) = 0;
  // Starts a process in a Ready pod. NotFound for a missing pod, Unavailable when not ready.
  virtual Result<ExecStreamPtr> openStream(const std::string& session_id, const StreamSpec& spec,
                                           StreamObserver* observer) = 0;
  // Deletes the pod and its volume; its streams end with an error exit. Idempotent: deleting a
  // missing pod is Ok.
  virtual Status deletePod(const std::string& session_id) = 0;
  // Pods this runtime created (for cleanup after a host restart).
  virtual Result<std::vector<PodInfo>> listPods() = 0;
  virtual RuntimeCapabilities capabilities() const = 0;
};

}  // namespace podterm::sdk
