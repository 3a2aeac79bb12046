#pragma once
// One terminal session: its pod, its shell and the clients attached to it.
//
// States: Starting (pod on its way) -> Opening (pod ready, shell starting) -> Ready (bridging)
// -> Ending (closing clients, final sync, deleting the pod) -> Ended. When its pod's maximum
// lifetime (SessionPod: counted from the pod's start, shared by its terminals) runs out, the
// terminal's clients are told shortly before and then it ends like a grace-period end, except that
// its clients stay attached (and hear how the final sync went) until the pod is deleted. Input that
// arrives before Ready is queued (bounded) and answered once per not-ready period with the spec's
// "not ready" text.
//
// Reattach: every byte of (sanitized) output also goes to the session's TerminalHistory,
// under the session's mutex, which already serializes output (it is held while output is sent to
// the clients). A client attaching to a session that has produced output first gets a terminal
// reset and the screen's replay (or, with `since`, exactly the bytes from that offset), taken under
// the same lock, so nothing between the catch-up and the live stream is lost or sent twice.
// The shell exiting starts a fresh one in the same pod (options.on_shell_exit), at most
// options.max_restarts times per options.restart_window. Faults: an exec stream that breaks (an
// error rather than an exit) is reopened in the same pod after a backoff whatever on_shell_exit
// says, and when a pod lost under a live session (evicted, deleted) is replaced by its SessionPod
// (a new one that gets the workspace from storage), a shell starts in the new one. Breaks count
// against the restart limit; a replacement counts against SessionPod's own, and so do the shell's
// death and failed reopens that it caused before the host heard of it. The user hears of each.
// With options.idle_timeout, a session with
// no input, no output and no running command (shell-integration markers) for that long ends like
// a grace-period end, after a notice options.idle_warning before.
//
// Threading: every public method is thread-safe. Runtime callbacks arrive on
// runtime threads and client events on loop threads; one mutex guards the state, and no plugin call
// is made while it is held (a runtime may call back synchronously), except the non-blocking stream
// calls.

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/Executor.h"
#include "common/Metrics.h"
#include "common/Scheduler.h"
#include "podterm/runtime.h"
#include "podterm/sync_policy.h"
#include "session/InputLineTracker.h"
#include "session/MarkerParser.h"
#include "session/PodUser.h"
#include "session/SessionId.h"
#include "session/SessionOptions.h"
#include "session/SessionPod.h"
#include "session/SessionSync.h"
#include "session/ShellIntegration.h"
#include "session/TerminalClient.h"
#include "term/TerminalHistory.h"
#include "ws/Utf8Sanitizer.h"

namespace podterm::host {

enum class SessionState { Starting, Opening, Ready, Ending, Ended };
const char* sessionStateName(SessionState state);

struct TerminalSize {
  uint16_t cols = 0;
  uint16_t rows = 0;
};

class Session : public PodUser,
                public sdk::StreamObserver,
                public std::enable_shared_from_this<Session> {
 public:
  struct Context {
    sdk::PodRuntime& runtime;
    Scheduler& timers;                  // the session's timers
    Executor& blocking;                 // backend calls that may block
    WorkspaceSyncer* syncer = nullptr;  // none: files live only in the pod
    sdk::SyncPolicy* policy = nullptr;  // none: sync only before the pod is deleted
    // The idle and restart clocks; empty: std::chrono::steady_clock (tests use virtual time).
    std::function<std::chrono::steady_clock::time_point()> clock = {};
  };
  // Called once when the session has fully ended (pod deleted or deletion failed).
  using EndedCallback = std::function<void(const std::string& session_id)>;

  // The default terminal of id, with a pod of its own (made and started by start()).
  Session(SessionId id, SessionOptions options, Context context, EndedCallback on_ended);
  // One terminal of id in a pod that others may share: the caller has join()ed the session to
  // it and starts it (SessionManager).
  Session(SessionId id, std::string terminal, std::shared_ptr<SessionPod> pod,
          SessionOptions options, Context context, EndedCallback on_ended);
  ~Session() override;

  // Starts the readiness clock and hears the pod from now on (asking the runtime for it first when
  // the session has a pod of its own).
  void start();
  // since: resume from this offset of the output stream (`?since=N`); without it, a session that
  // has produced output replays its screen to the new client first.
  // With options.attach_mode TakeOver, the clients attached before are told and closed with
  // kTakenOverCode.
  void attach(const std::shared_ptr<TerminalClient>& client, std::optional<TerminalSize> size,
              std::optional<uint64_t> since = std::nullopt);
  static constexpr uint16_t kTakenOverCode = 4001;
  void detach(const TerminalClient* client);
  // A text frame: bytes for the shell, unparsed.
  void onClientInput(std::string_view bytes);
  void resize(TerminalSize size);
  // A client's output buffer drained: the shell may produce again.
  void onClientDrained();
  // Ends the session now: clients get `code`/`reason`, the shell stops, the pod is deleted.
  void end(uint16_t code, const std::string& reason);
  // Ends it like the lifetime end (the admin API): the clients hear `notice`, stay attached (their
  // input ignored) through the final sync and the pod's deletion, hear if the sync failed, and are
  // closed with `code`/`reason` once the pod is gone. Nothing when it is already ending.
  // cause: the reason the host ended it, for podterm_culls_total (culled()).
  void endWithNotice(uint16_t code, const std::string& reason, const std::string& notice,
                     std::optional<metrics::Culled> cause = std::nullopt);
  // Host shutdown: the end that follows still runs the final sync but keeps the pod, for a
  // reconnect through another replica (whose reaper or next session then owns it).
  void keepPodAtEnd() { pod_->keepAtEnd(); }

  const SessionId& id() const { return id_; }
  // The terminal's name (`?term=`; TerminalName::kDefault without it).
  const std::string& terminal() const { return terminal_; }
  // The pod it runs in, perhaps shared with other terminals and sessions.
  const std::shared_ptr<SessionPod>& pod() const { return pod_; }
  SessionState state() const;
  // Why the host ended it (its grace period, the pod's lifetime, idle, an administrator); empty
  // when it ended otherwise (the shell, a failure, a shutdown, a move) or has not ended.
  // SessionManager counts a session id as culled when its last terminal ends so.
  std::optional<metrics::Culled> culled() const;
  size_t clientCount() const;
  // The terminal lost its last client (its grace period began) and none came back through a
  // reconnect counted since: SessionManager counts a session's reconnect once (takeOrphaned()
  // clears it).
  bool orphaned() const;
  void takeOrphaned();
  // After the end: the pod was kept rather than deleted (its files could not be saved) by this
  // session's end, as the pod's last terminal. It still counts against the user's pods.
  bool podKept() const;
  // Heap bytes of the reattach state (screen, scrollback, output log), for memory reports.
  size_t terminalStateBytes() const;
  // The output stream's end offset (bytes of sanitized output produced so far).
  uint64_t outputOffset() const;

  // What an operator sees of a session (the admin API), taken under the session's lock.
  struct Info {
    SessionState state = SessionState::Starting;
    size_t clients = 0;
    sdk::PodStatus pod;  // the last status the session took from the runtime
    int64_t created_unix_ms = 0;
    std::chrono::milliseconds age{0};
    // Since the last input, output or running command (what the idle cull counts), or since the
    // session was created when there was none.
    std::chrono::milliseconds idle{0};
    uint64_t bytes_in = 0;     // typed by its clients
    uint64_t bytes_out = 0;    // sanitized output produced (outputOffset())
    bool syncs_files = false;  // the host saves its files to storage
    bool pod_kept = false;     // see podKept()
  };
  Info info() const;

  // PodUser: the pod's phases (Ready once the workspace is in it), and a pod that was refused.
  void onPodStatus(const sdk::PodStatus& status) override;
  void onPodRefused(const std::string& details) override;
  // The pod was lost and is being replaced: the shell starts again in the new one (Ready).
  void onPodReplacing(const sdk::PodStatus& lost) override;
  // The pod's lifetime: a notice, then the end (clients attached through the final sync).
  void onLifetimeNotice(std::chrono::milliseconds left,
                        std::chrono::milliseconds lifetime) override;
  void onLifetimeOver(std::chrono::milliseconds lifetime) override;
  // A command ended in the shell (from shell integration markers or the input line at Enter):
  // the sync policy decides whether to sync.
  void onCommandFinished(const sdk::FinishedCommand& command);

  // SessionSyncListener
  void onSyncOutcome(const SyncOutcome& outcome, bool is_load, bool failing_changed) override;

  // sdk::StreamObserver
  void onStdout(const char* data, size_t size) override;
  void onStderr(const char* data, size_t size) override;
  void onExit(const sdk::StreamExit& exit) override;

 private:
  using Lock = std::unique_lock<std::mutex>;

  void openShell();
  void loadAndOpenShell();
  void onShellOpened(sdk::Result<sdk::ExecStreamPtr> result);
  void onReadyTimeout();
  void onGraceExpired();
  void fail(const std::string& details);
  // close_after_sync: clients stay attached (input ignored) through the final sync and the pod's
  // deletion, and are closed with code/reason afterwards; otherwise they are closed first.
  void beginEnding(Lock& lock, uint16_t code, const std::string& reason,
                   bool close_after_sync = false);
  // last_user: the session was the pod's last, and ends it (the final sync, the deletion).
  void finishEnding(sdk::ExecStreamPtr stream, uint16_t code, const std::string& reason,
                    bool close_clients, bool last_user);
  void broadcastText(std::string_view text);
  void broadcastEvent(std::string_view json);
  void broadcastNotice(std::string_view text);
  void deliverOutput(const char* data, size_t size);
  void sendOutputLocked(std::string_view text);
  void catchUpLocked(TerminalClient& client, std::optional<uint64_t> since);
  // delay: a broken stream is reopened after a backoff, an exited shell at once.
  void restartShell(Lock& lock, std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  // Counts a restart of the shell in restart_window; false when there were too many:
  // `closing` then says so, naming `what` happened ("the shell exited").
  bool admitRestartLocked(const std::string& what, std::string& closing);
  std::chrono::milliseconds reopenDelayLocked() const;
  std::chrono::steady_clock::time_point now() const;
  void noteActivityLocked();
  void armIdleTimerLocked(std::chrono::milliseconds delay);
  void onIdleCheck();
  void noteTypedLines(std::string_view bytes);
  // Moves stream_ out (mutex_ held), after any input write in flight (input_write_mutex_).
  sdk::ExecStreamPtr takeStreamLocked();
  std::string currentStatusText() const;
  void cancelTimer(std::optional<Scheduler::TimerId>& timer);

  const SessionId id_;
  std::string terminal_ = "default";  // TerminalName::kDefault
  std::shared_ptr<SessionPod> pod_;   // set by the constructor or, for a pod of its own, start()
  const SessionOptions options_;
  Context context_;
  EndedCallback on_ended_;

  mutable std::mutex mutex_;
  // Held instead of mutex_ while typed input is written to stream_: the write wakes the shell and
  // the kernel may preempt the writer before it returns, and the echo the runtime then delivers
  // must not wait for it on mutex_ (two more context switches per keystroke). Taking stream_
  // away (takeStreamLocked) waits for such a write. Order: mutex_, then this.
  std::mutex input_write_mutex_;
  SessionState state_ = SessionState::Starting;
  sdk::PodStatus pod_status_{sdk::PodPhase::Pending, "", ""};
  std::vector<std::shared_ptr<TerminalClient>> clients_;
  sdk::ExecStreamPtr stream_;
  std::string queued_input_;
  // Output that arrived while the shell was opening (a prompt), bounded.
  static constexpr size_t kEarlyOutputLimit = 64 * 1024;
  std::string early_output_;
  bool not_ready_notice_sent_ = false;
  bool input_overflow_noticed_ = false;
  bool output_paused_ = false;
  TerminalSize size_;
  Utf8Sanitizer sanitizer_;
  const std::string nonce_ = makeShellNonce();
  MarkerParser markers_{nonce_};
  InputLineTracker typed_lines_;
  std::string last_typed_line_;
  static constexpr std::chrono::milliseconds kTypedLineSettle{500};
  std::optional<Scheduler::TimerId> ready_timer_;
  std::optional<Scheduler::TimerId> grace_timer_;
  bool pod_kept_ = false;
  std::optional<metrics::Culled> culled_;
  bool orphaned_ = false;
  // Metrics: time to prompt counts from here, once; warm when the pod's first status was Ready.
  const std::chrono::steady_clock::time_point created_at_ = std::chrono::steady_clock::now();
  const std::chrono::system_clock::time_point created_wall_ = std::chrono::system_clock::now();
  uint64_t input_bytes_ = 0;  // for info()
  bool warm_start_ = true;
  bool prompt_timed_ = false;
  std::shared_ptr<SessionSync> sync_;  // set in start() when the host syncs files
  TerminalHistory history_;
  std::deque<std::chrono::steady_clock::time_point> restarts_;  // within restart_window
  size_t restarts_since_shell_ran_ = 0;  // the newest of restarts_, since a shell last opened
  // Faults: a shell that ran once makes a failed open a broken stream (retried), not a failed
  // start; each replacement pod bumps the generation, so a reopen in the lost one drops out.
  bool shell_ran_ = false;
  bool shell_opening_ = false;        // openStream() is under way: an exit now is the new stream's
  bool reopened_after_exit_ = false;  // the shell is being reopened because it exited
  std::optional<sdk::StreamExit> exit_while_opening_;
  uint64_t pod_generation_ = 0;
  std::optional<Scheduler::TimerId> reopen_timer_;
  std::chrono::steady_clock::time_point last_activity_{};
  bool idle_warned_ = false;
  std::optional<Scheduler::TimerId> idle_timer_;
};

}  // namespace podterm::host
