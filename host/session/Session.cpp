#include "session/Session.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "common/Metrics.h"
#include "session/HostMessages.h"
#include "session/ShellSpec.h"

namespace podterm::host {
namespace {

Poco::Logger& logger() {
  return Poco::Logger::get("podterm.session");
}

// A host notice in the client's protocol: an event for v2, a text line for v1.
void sendNotice(TerminalClient& client, std::string_view text) {
  if (client.wantsEvents()) {
    client.sendEvent(messages::noticeEvent(text));
  } else {
    client.sendText(messages::noticeLine(text));
  }
}

bool isUtf8Continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

std::string formatSeconds(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) return std::to_string(duration.count() / 1000) + " s";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(duration.count()) / 1000.0);
  return text;
}

}  // namespace

const char* sessionStateName(SessionState state) {
  switch (state) {
    case SessionState::Starting:
      return "starting";
    case SessionState::Opening:
      return "opening";
    case SessionState::Ready:
      return "ready";
    case SessionState::Ending:
      return "ending";
    case SessionState::Ended:
      return "ended";
  }
  return "unknown";
}

Session::Session(SessionId id, SessionOptions options, Context context, EndedCallback on_ended)
    : id_(std::move(id)),
      options_(std::move(options)),
      context_(context),
      on_ended_(std::move(on_ended)),
      size_{options_.initial_cols, options_.initial_rows},
      history_(options_.initial_rows, options_.initial_cols, options_.scrollback_lines,
               options_.output_log_bytes, context_.clock) {}

Session::Session(SessionId id, std::string terminal, std::shared_ptr<SessionPod> pod,
                 SessionOptions options, Context context, EndedCallback on_ended)
    : Session(std::move(id), std::move(options), context, std::move(on_ended)) {
  terminal_ = std::move(terminal);
  pod_ = std::move(pod);
}

Session::~Session() = default;

void Session::start() {
  const bool own_pod = !pod_;
  if (own_pod) {
    pod_ = std::make_shared<SessionPod>(
        id_, options_.sync,
        SessionPod::Context{context_.runtime, context_.timers, context_.blocking, context_.syncer,
                            context_.policy},
        nullptr, PodOptions{options_.max_lifetime, options_.lifetime_notice});
    pod_->join(shared_from_this());
  }
  logger().information("session=%s terminal %s starting in pod %s", id_.raw, terminal_,
                       pod_->id().raw);
  {
    Lock lock(mutex_);
    sync_ = pod_->sync();
    auto self = weak_from_this();
    if (options_.idle_timeout.count() > 0) {
      last_activity_ = now();
      armIdleTimerLocked(options_.idle_timeout -
                         std::min(options_.idle_warning, options_.idle_timeout));
    }
    ready_timer_ = context_.timers.runAfter(options_.ready_timeout, [self] {
      if (auto session = self.lock()) session->onReadyTimeout();
    });
    // The lifetime is the pod's (SessionPod), shared by its terminals: it tells this one.
  }
  // From here on the session hears the pod: its last phase first.
  pod_->welcome(*this);
  if (own_pod) pod_->start();
}

void Session::attach(const std::shared_ptr<TerminalClient>& client,
                     std::optional<TerminalSize> size, std::optional<uint64_t> since) {
  Lock lock(mutex_);
  if (state_ == SessionState::Ending || state_ == SessionState::Ended) {
    lock.unlock();
    client->close(1013, "session is ending, try again");
    return;
  }
  metrics::connects(client->wantsEvents()).inc();
  cancelTimer(grace_timer_);
  std::vector<std::shared_ptr<TerminalClient>> displaced;
  if (options_.attach_mode == SessionOptions::AttachMode::TakeOver) {
    displaced.swap(clients_);
    if (output_paused_ && stream_) {  // a congested old client no longer holds the shell back
      output_paused_ = false;
      stream_->resumeOutput();
    }
  }
  clients_.push_back(client);
  logger().information("session=%s client %s attached (%z attached)", id_.raw, client->describe(),
                       clients_.size());
  // The new size first: the replay is drawn for the client's terminal.
  if (size && size->cols > 0 && size->rows > 0) {
    size_ = *size;
    history_.resize(size_.rows, size_.cols);
    if (stream_) stream_->resize(size_.cols, size_.rows);
  }
  if (client->wantsEvents()) {
    client->sendEvent(
        messages::statusEvent(sdk::podPhaseName(pod_status_.phase), pod_status_.reason));
    if (state_ == SessionState::Ready) client->sendEvent(messages::readyEvent());
  }
  if (since || history_.end() > 0) catchUpLocked(*client, since);
  lock.unlock();
  for (const auto& old : displaced) {
    sendNotice(*old, "this terminal was opened elsewhere (another tab or device)");
    old->close(kTakenOverCode, "opened elsewhere");
  }
}

// Under the session's lock, which every output chunk takes too: the catch-up ends exactly where
// the live stream the client gets next begins.
void Session::catchUpLocked(TerminalClient& client, std::optional<uint64_t> since) {
  const bool events = client.wantsEvents();
  std::string refusal;
  if (since) {
    OutputLog::Read read = history_.readFrom(*since);
    if (read.status == OutputLog::Read::Status::kOk &&
        (read.bytes.empty() || !isUtf8Continuation(read.bytes.front()))) {
      if (events) client.sendEvent(messages::offsetEvent(*since));
      if (!read.bytes.empty()) client.sendText(read.bytes);
      logger().information("session=%s client %s resumed from byte %Lu (%z bytes)", id_.raw,
                           client.describe(), static_cast<unsigned long long>(*since),
                           read.bytes.size());
      return;
    }
    const std::string from = "cannot resume from byte " + std::to_string(*since) + ": ";
    switch (read.status) {
      case OutputLog::Read::Status::kTooOld:
        refusal = from + "only bytes " + std::to_string(read.begin) + " to " +
                  std::to_string(read.end) + " are kept";
        break;
      case OutputLog::Read::Status::kInFuture:
        refusal = from + "this session has produced only " + std::to_string(read.end) + " bytes";
        break;
      case OutputLog::Read::Status::kOk:
        refusal = from + "it is inside a character";
        break;
    }
    refusal += "; the screen is replayed instead";
  }
  const uint64_t end = history_.end();
  if (events) client.sendEvent(messages::replayEvent(end));
  // RIS first: the replay is drawn on a freshly reset terminal (xterm.js clears its scrollback).
  client.sendText("\033c" + history_.replay());
  if (!refusal.empty()) sendNotice(client, refusal);
  if (events) client.sendEvent(messages::offsetEvent(end));
}

void Session::detach(const TerminalClient* client) {
  Lock lock(mutex_);
  auto it = std::find_if(clients_.begin(), clients_.end(),
                         [client](const auto& c) { return c.get() == client; });
  if (it == clients_.end()) return;
  clients_.erase(it);
  logger().information("session=%s client detached (%z attached)", id_.raw, clients_.size());
  if (output_paused_ && stream_ &&
      std::none_of(clients_.begin(), clients_.end(),
                   [](const auto& c) { return c->congested(); })) {
    output_paused_ = false;
    stream_->resumeOutput();
  }
  if (!clients_.empty() || state_ == SessionState::Ending || state_ == SessionState::Ended) return;
  orphaned_ = true;
  auto self = weak_from_this();
  grace_timer_ = context_.timers.runAfter(options_.grace_period, [self] {
    if (auto session = self.lock()) session->onGraceExpired();
  });
}

void Session::onClientInput(std::string_view bytes) {
  Lock lock(mutex_);
  input_bytes_ += bytes.size();
  noteActivityLocked();
  if (sync_) sync_->noteActivity();
  if (sync_) noteTypedLines(bytes);
  if (state_ == SessionState::Ready && stream_) {
    sdk::ExecStream* stream = stream_.get();
    std::unique_lock<std::mutex> writing(input_write_mutex_);
    lock.unlock();
    const sdk::Status status = stream->write(bytes.data(), bytes.size());
    writing.unlock();
    if (!status) broadcastNotice("input dropped: " + status.message());
    return;
  }
  if (state_ == SessionState::Ending || state_ == SessionState::Ended) return;
  std::string reply;
  if (!not_ready_notice_sent_) {
    not_ready_notice_sent_ = true;
    reply = messages::podNotReady(currentStatusText());
  }
  if (queued_input_.size() + bytes.size() <= options_.input_queue_bytes) {
    queued_input_.append(bytes);
  } else if (!input_overflow_noticed_) {
    input_overflow_noticed_ = true;
    reply += messages::noticeLine("input dropped: more than " +
                                  std::to_string(options_.input_queue_bytes) +
                                  " bytes typed before the pod was ready");
  }
  lock.unlock();
  if (!reply.empty()) broadcastText(reply);
}

sdk::ExecStreamPtr Session::takeStreamLocked() {
  std::lock_guard<std::mutex> writing(input_write_mutex_);
  return std::move(stream_);
}

void Session::resize(TerminalSize size) {
  if (size.cols == 0 || size.rows == 0) return;
  Lock lock(mutex_);
  size_ = size;
  history_.resize(size.rows, size.cols);
  if (stream_) stream_->resize(size.cols, size.rows);
}

void Session::onClientDrained() {
  Lock lock(mutex_);
  if (!output_paused_ || !stream_) return;
  if (std::any_of(clients_.begin(), clients_.end(), [](const auto& c) { return c->congested(); }))
    return;
  output_paused_ = false;
  stream_->resumeOutput();
}

void Session::end(uint16_t code, const std::string& reason) {
  Lock lock(mutex_);
  beginEnding(lock, code, reason);
}

void Session::endWithNotice(uint16_t code, const std::string& reason, const std::string& notice,
                            std::optional<metrics::Culled> cause) {
  {
    Lock lock(mutex_);
    if (state_ == SessionState::Ending || state_ == SessionState::Ended) return;
  }
  broadcastNotice(notice);
  Lock lock(mutex_);
  if (state_ == SessionState::Ending || state_ == SessionState::Ended) return;
  culled_ = cause;
  beginEnding(lock, code, reason, true);
}

SessionState Session::state() const {
  Lock lock(mutex_);
  return state_;
}

std::optional<metrics::Culled> Session::culled() const {
  Lock lock(mutex_);
  return culled_;
}

bool Session::orphaned() const {
  Lock lock(mutex_);
  return orphaned_;
}

void Session::takeOrphaned() {
  Lock lock(mutex_);
  orphaned_ = false;
}

size_t Session::clientCount() const {
  Lock lock(mutex_);
  return clients_.size();
}

bool Session::podKept() const {
  Lock lock(mutex_);
  return pod_kept_;
}

size_t Session::terminalStateBytes() const {
  Lock lock(mutex_);
  return history_.logBytes() + history_.screenBytes();
}

uint64_t Session::outputOffset() const {
  Lock lock(mutex_);
  return history_.end();
}

Session::Info Session::info() const {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  Info info;
  info.bytes_out = outputOffset();
  Lock lock(mutex_);
  info.state = state_;
  info.clients = clients_.size();
  info.pod = pod_status_;
  info.created_unix_ms = duration_cast<milliseconds>(created_wall_.time_since_epoch()).count();
  info.age = duration_cast<milliseconds>(std::chrono::steady_clock::now() - created_at_);
  info.idle = last_activity_ == std::chrono::steady_clock::time_point{}
                  ? info.age
                  : duration_cast<milliseconds>(now() - last_activity_);
  info.bytes_in = input_bytes_;
  info.syncs_files = sync_ != nullptr;
  info.pod_kept = pod_kept_;
  return info;
}

void Session::onPodStatus(const sdk::PodStatus& status) {
  Lock lock(mutex_);
  if (state_ == SessionState::Opening || state_ == SessionState::Ready) {
    bool lost = status.phase == sdk::PodPhase::Failed || status.phase == sdk::PodPhase::Gone ||
                status.phase == sdk::PodPhase::Terminating;
    if (!lost) return;
    lock.unlock();
    broadcastNotice(std::string("the pod stopped (") + sdk::podPhaseName(status.phase) + ")" +
                    (status.message.empty() ? "" : ": " + status.message));
    lock.lock();
    metrics::errors(metrics::ErrorKind::PodLost).inc();
    beginEnding(lock, 1011, "execution pod stopped");
    return;
  }
  if (state_ != SessionState::Starting) return;
  bool changed = status.phase != pod_status_.phase || status.reason != pod_status_.reason;
  // A runtime retrying its backend (sdk::PodStatus::reason "Retrying") says why in the message;
  // every client hears it once per retrying period, not only those that read status events.
  const bool retrying = changed && status.reason == "Retrying" && !status.message.empty();
  pod_status_ = status;
  if (status.phase == sdk::PodPhase::Ready) {
    state_ = SessionState::Opening;
    cancelTimer(ready_timer_);
    lock.unlock();
    logger().information("session=%s pod ready, starting the shell", id_.raw);
    if (changed) broadcastEvent(messages::statusEvent("Ready", ""));
    loadAndOpenShell();
    return;
  }
  warm_start_ = false;  // it went through another phase first
  lock.unlock();
  if (status.phase == sdk::PodPhase::Failed || status.phase == sdk::PodPhase::Gone) {
    fail(status.message.empty() ? std::string("the pod ") + sdk::podPhaseName(status.phase)
                                : status.message);
    return;
  }
  if (changed)
    broadcastEvent(messages::statusEvent(sdk::podPhaseName(status.phase), status.reason));
  if (retrying) broadcastNotice(status.message);
}

// The pod was lost and its SessionPod replaces it: the shell's stream goes, and the session waits
// for the new pod's Ready (its workspace loaded from storage) to start a shell in it, like at the
// start. The screen and the output log stay.
void Session::onPodReplacing(const sdk::PodStatus& lost) {
  Lock lock(mutex_);
  if (state_ == SessionState::Ending || state_ == SessionState::Ended) return;
  metrics::errors(metrics::ErrorKind::PodLost).inc();
  const std::string what = std::string(sdk::podPhaseName(lost.phase)) +
                           (lost.message.empty() ? "" : ": " + lost.message);
  if (state_ == SessionState::Starting) {  // no shell yet: it waits for the new pod's Ready
    pod_status_ = {sdk::PodPhase::Pending, "Replacing", "replacing the lost pod"};
    return;
  }
  // SessionPod bounds how often a pod is replaced. The shell's death and the failed reopens the
  // loss caused before it was heard here (a busy host hears the stream break first) were the
  // pod's, not the shell's: two losses in a minute would otherwise use up the shell's restarts.
  // (Those that left the window meanwhile are gone already.)
  const size_t caused = std::min(restarts_since_shell_ran_, restarts_.size());
  restarts_.erase(restarts_.end() - static_cast<std::ptrdiff_t>(caused), restarts_.end());
  restarts_since_shell_ran_ = 0;
  logger().warning("session=%s lost its pod (%s): waiting for the new one", id_.raw, what);
  auto old = std::make_shared<sdk::ExecStreamPtr>(takeStreamLocked());
  state_ = SessionState::Starting;
  pod_status_ = {sdk::PodPhase::Pending, "Replacing", "replacing the lost pod"};
  ++pod_generation_;  // a reopen of the old pod's shell drops out
  cancelTimer(reopen_timer_);
  output_paused_ = false;
  not_ready_notice_sent_ = false;
  shell_opening_ = false;
  exit_while_opening_.reset();
  early_output_.clear();
  markers_.reset();
  auto self = weak_from_this();
  cancelTimer(ready_timer_);
  ready_timer_ = context_.timers.runAfter(options_.ready_timeout, [self] {
    if (auto session = self.lock()) session->onReadyTimeout();
  });
  lock.unlock();
  // Not on this (a runtime) thread: closing may wait for the stream's own.
  if (!context_.blocking.execute([old] {
        if (*old) (*old)->close();
      })) {
    if (*old) (*old)->close();
  }
  broadcastNotice("the pod stopped (" + what +
                  "); a new pod is being created and your files are loaded into it from their "
                  "last save");
  broadcastEvent(messages::statusEvent("Pending", "Replacing"));
}

// The pod reports Ready once the workspace is in it (SessionPod), so the first `ls` sees it.
void Session::loadAndOpenShell() {
  openShell();
}

void Session::openShell() {
  sdk::StreamSpec spec;
  {
    Lock lock(mutex_);
    spec = interactiveShellSpec(
        options_.shell, id_.raw, size_.cols, size_.rows, nonce_,
        options_.persistent_shell ? persistentShellDir(id_.raw, terminal_) : std::string());
    spec.env["PODTERM_TERMINAL"] = terminal_;
    shell_opening_ = true;
    exit_while_opening_.reset();
  }
  auto self = shared_from_this();
  bool queued = context_.blocking.execute([self, spec] {
    self->onShellOpened(self->context_.runtime.openStream(self->pod_->id().raw, spec, self.get()));
  });
  if (!queued) fail("the host is shutting down");
}

void Session::onShellOpened(sdk::Result<sdk::ExecStreamPtr> result) {
  if (!result) {
    Lock lock(mutex_);
    shell_opening_ = false;
    if (state_ != SessionState::Opening) return;  // ended, or its pod is being replaced
    std::string closing;
    if (shell_ran_ && admitRestartLocked("the shell could not be reopened", closing)) {
      // Reopening after a break: the runtime's API may still be failing. Again, after a while.
      const std::string line =
          "could not reopen the shell: " + result.status().message() + "; trying again";
      logger().warning("session=%s %s", id_.raw, line);
      lock.unlock();
      broadcastNotice(line);
      lock.lock();
      if (state_ != SessionState::Opening) return;
      restartShell(lock, reopenDelayLocked());
      return;
    }
    lock.unlock();
    if (!closing.empty()) broadcastNotice(closing);
    fail("could not start the shell: " + result.status().message());
    return;
  }
  Lock lock(mutex_);
  shell_opening_ = false;
  if (state_ != SessionState::Opening) {
    lock.unlock();
    result.value()->close();  // the session ended while the shell was starting
    return;
  }
  stream_ = std::move(result).value();
  state_ = SessionState::Ready;
  shell_ran_ = true;
  restarts_since_shell_ran_ = 0;
  shell_opening_ = false;
  if (!std::exchange(prompt_timed_, true)) {
    metrics::timeToPrompt(warm_start_).observe(metrics::secondsSince(created_at_));
  }
  not_ready_notice_sent_ = false;
  std::string input;
  input.swap(queued_input_);
  if (!input.empty()) stream_->write(input.data(), input.size());
  logger().information("session=%s ready", id_.raw);
  // Under the lock, so the first prompt (which may have arrived while the runtime was still
  // returning the stream) goes out after "ready" and before any later output.
  const std::string ready = messages::readyEvent();
  const std::string offset = messages::offsetEvent(history_.end());
  for (auto& client : clients_) {
    if (!client->wantsEvents()) continue;
    client->sendEvent(ready);
    client->sendEvent(offset);
  }
  noteActivityLocked();
  if (!early_output_.empty()) sendOutputLocked(early_output_);
  early_output_.clear();
  early_output_.shrink_to_fit();
  if (auto exit = std::exchange(exit_while_opening_, std::nullopt)) {
    lock.unlock();
    onExit(*exit);
  }
}

void Session::onReadyTimeout() {
  std::string last;
  {
    Lock lock(mutex_);
    if (state_ != SessionState::Starting && state_ != SessionState::Opening) return;
    ready_timer_.reset();
    last = currentStatusText();
    // The scheduler's or kubelet's own words ("0/3 nodes are available: 3 Insufficient cpu.").
    if (!pod_status_.message.empty() && pod_status_.message != last) {
      last += ": " + pod_status_.message;
    }
  }
  fail("not ready after " + formatSeconds(options_.ready_timeout) + " (last status: " + last + ")");
}

void Session::onGraceExpired() {
  Lock lock(mutex_);
  grace_timer_.reset();
  if (!clients_.empty()) return;
  logger().information("session=%s grace period over with no client", id_.raw);
  culled_ = metrics::Culled::Grace;
  beginEnding(lock, 1001, "session ended");
}

void Session::onLifetimeNotice(std::chrono::milliseconds left, std::chrono::milliseconds lifetime) {
  {
    Lock lock(mutex_);
    if (state_ == SessionState::Ending || state_ == SessionState::Ended) return;
  }
  broadcastNotice(messages::lifetimeEndingSoon(left, lifetime));
}

// Ends like a grace-period end (final sync, then the pod is deleted), but the clients are still
// there: they hear why, stay attached through the final sync (and hear if it failed), and are
// closed with 1001 once the pod is gone, so a reconnect starts a fresh session at once.
void Session::onLifetimeOver(std::chrono::milliseconds lifetime) {
  Lock lock(mutex_);
  if (state_ == SessionState::Ending || state_ == SessionState::Ended) return;
  logger().information("session=%s terminal %s: the session reached its maximum lifetime (%s)",
                       id_.raw, terminal_, messages::formatDuration(lifetime));
  lock.unlock();
  broadcastNotice(messages::lifetimeOver(lifetime));
  lock.lock();
  if (state_ == SessionState::Ending || state_ == SessionState::Ended) return;
  culled_ = metrics::Culled::Lifetime;
  beginEnding(lock, 1001, "session lifetime reached", true);
}

void Session::onPodRefused(const std::string& details) {
  fail(details);
}

void Session::fail(const std::string& details) {
  logger().warning("session=%s failed to start: %s", id_.raw, details);
  metrics::errors(metrics::ErrorKind::SessionStart).inc();
  broadcastText(messages::podCreationFailed(details));
  broadcastEvent(messages::errorEvent("Failed to create execution pod: " + details));
  Lock lock(mutex_);
  beginEnding(lock, 1011, "execution pod failed");
}

void Session::beginEnding(Lock& lock, uint16_t code, const std::string& reason,
                          bool close_after_sync) {
  if (state_ == SessionState::Ending || state_ == SessionState::Ended) return;
  state_ = SessionState::Ending;
  cancelTimer(ready_timer_);
  cancelTimer(grace_timer_);
  cancelTimer(idle_timer_);
  cancelTimer(reopen_timer_);
  std::vector<std::shared_ptr<TerminalClient>> clients;
  if (!close_after_sync) {
    clients = std::move(clients_);
    clients_.clear();
  }
  sdk::ExecStreamPtr stream = takeStreamLocked();
  lock.unlock();

  logger().information("session=%s terminal %s ending: %s", id_.raw, terminal_, reason);
  // The pod's last terminal ends it (after its own shell): from here on, it takes no new one.
  const bool last_user = pod_->leave(this);
  for (auto& client : clients) client->close(code, reason);
  auto self = shared_from_this();
  // ExecStreamPtr is move-only and std::function needs a copyable callable.
  auto shared_stream = std::make_shared<sdk::ExecStreamPtr>(std::move(stream));
  if (!context_.blocking.execute([self, shared_stream, code, reason, close_after_sync, last_user] {
        self->finishEnding(std::move(*shared_stream), code, reason, close_after_sync, last_user);
      })) {
    finishEnding(std::move(*shared_stream), code, reason, close_after_sync, last_user);
  }
}

void Session::finishEnding(sdk::ExecStreamPtr stream, uint16_t code, const std::string& reason,
                           bool close_clients, bool last_user) {
  if (stream) stream->close();
  stream.reset();
  // A terminal ended on purpose in a pod that lives on (other terminals, a shared workspace pod):
  // its persistent shell goes too. A pod being deleted takes it along; a pod handed over (a
  // shutdown, a move to another replica) keeps it for the host that re-attaches.
  if (options_.persistent_shell && !last_user && !pod_->handedOver()) {
    auto ended =
        runToEnd(context_.runtime, pod_->id().raw,
                 endPersistentShellSpec(options_.shell, persistentShellDir(id_.raw, terminal_)),
                 std::chrono::seconds(5));
    if (!ended) {
      logger().warning("session=%s could not end the shell of terminal %s: %s", id_.raw, terminal_,
                       ended.message());
    }
  }
  // The last terminal of the pod ends it: the final sync, then the pod deleted (or kept when its
  // files could not be saved), before its clients are closed.
  const bool saved = !last_user || pod_->finish();
  if (!saved && close_clients) {
    broadcastNotice("your files could not be saved; the pod is kept so that they are not lost");
  }
  std::vector<std::shared_ptr<TerminalClient>> clients;
  {
    Lock lock(mutex_);
    state_ = SessionState::Ended;
    pod_kept_ = !saved;
    clients = std::move(clients_);
    clients_.clear();
  }
  for (auto& client : clients) client->close(code, reason);
  logger().information("session=%s ended", id_.raw);
  if (on_ended_) on_ended_(id_.raw);
}

// Without shell integration (a shell that does not run our rc), the line typed at Enter stands
// in for the command; its effects come after Enter, so the policy is asked a moment later.
void Session::noteTypedLines(std::string_view bytes) {
  std::vector<std::string> lines;
  typed_lines_.feed(bytes, lines);
  if (!lines.empty()) last_typed_line_ = lines.back();
  if (markers_.sawMarkers()) return;  // the shell reports command ends itself
  for (auto& line : lines) {
    std::weak_ptr<Session> weak = weak_from_this();
    context_.timers.runAfter(kTypedLineSettle, [weak, line] {
      auto self = weak.lock();
      if (!self) return;
      sdk::FinishedCommand command;
      command.session_id = self->id_.raw;
      command.command_line = line;
      self->onCommandFinished(command);
    });
  }
}

void Session::onCommandFinished(const sdk::FinishedCommand& command) {
  if (!sync_) return;
  if (!context_.policy || context_.policy->afterCommand(command) == sdk::SyncDecision::Sync) {
    sync_->request();
  }
}

void Session::onSyncOutcome(const SyncOutcome& outcome, bool is_load, bool failing_changed) {
  if (outcome.ok && (is_load || !outcome.changed.empty() || !outcome.deleted.empty())) {
    broadcastEvent(messages::syncEvent(outcome.changed, outcome.deleted, is_load));
  }
  if (!outcome.ok && failing_changed) {
    broadcastEvent(messages::syncFailedEvent(outcome.error));
    broadcastNotice(is_load ? "your files could not be loaded into the pod: " + outcome.error +
                                  "; your files are not being saved until storage is back"
                            : "your files are not being saved: " + outcome.error +
                                  (outcome.retryable ? " (retrying)" : ""));
  }
  if (outcome.ok && failing_changed && !is_load)
    broadcastNotice("your files are being saved again");
  for (const auto& notice : outcome.notices) broadcastNotice(notice);
}

void Session::onStdout(const char* data, size_t size) {
  deliverOutput(data, size);
}

// A PTY merges stderr into stdout; a runtime without one may still report stderr separately.
void Session::onStderr(const char* data, size_t size) {
  deliverOutput(data, size);
}

void Session::deliverOutput(const char* data, size_t size) {
  std::vector<ShellEvent> events;
  {
    Lock lock(mutex_);
    if (state_ != SessionState::Opening && state_ != SessionState::Ready) return;
    // Shell-integration markers leave the stream first: clients never see them, and a marker
    // split across reads is held by the parser, not by the UTF-8 repair.
    std::string plain_scratch;
    const std::string_view plain = markers_.feedView(data, size, plain_scratch, events);
    for (auto& event : events) {
      if (std::holds_alternative<CommandFinished>(event)) noteActivityLocked();
      // Our bash reports where commands end, not their text: that is the line typed at Enter.
      if (auto* finished = std::get_if<CommandFinished>(&event)) {
        if (finished->command_line.empty()) finished->command_line = last_typed_line_;
      }
    }
    if (state_ == SessionState::Opening) {
      // The runtime may deliver output before openStream() has returned the stream to us.
      if (early_output_.size() + plain.size() <= kEarlyOutputLimit)
        sanitizer_.feedInto(early_output_, plain.data(), plain.size());
    } else {
      if (sync_) sync_->noteActivity();
      std::string text_scratch;
      const std::string_view text = sanitizer_.feedView(plain.data(), plain.size(), text_scratch);
      if (!text.empty()) sendOutputLocked(text);
    }
  }
  for (const auto& event : events) {
    if (std::holds_alternative<ShellReattached>(event)) {
      logger().information("session=%s terminal %s re-attached to its running shell", id_.raw,
                           terminal_);
      broadcastNotice(messages::shellReattached());
    } else if (const auto* anew = std::get_if<ShellStartedAnew>(&event)) {
      // After an exit the host has said so already; after a break or a restart, the user hears
      // that the shell they had is gone.
      bool tell = false;
      {
        Lock lock(mutex_);
        tell = anew->again && !std::exchange(reopened_after_exit_, false);
      }
      if (tell) broadcastNotice(messages::shellStartedAnew(anew->keeper));
    }
    if (const auto* finished = std::get_if<CommandFinished>(&event)) {
      sdk::FinishedCommand command;
      command.session_id = id_.raw;
      command.command_line = finished->command_line;
      command.exit_code = finished->exit_code;
      command.duration_ms = finished->duration_ms;
      onCommandFinished(command);
    }
  }
}

void Session::sendOutputLocked(std::string_view text) {
  history_.append(text);
  noteActivityLocked();
  bool congested = false;
  for (auto& client : clients_) {
    client->sendText(text);
    congested = congested || client->congested();
  }
  if (congested && !output_paused_ && stream_) {
    output_paused_ = true;
    stream_->pauseOutput();
  }
}

void Session::onExit(const sdk::StreamExit& exit) {
  Lock lock(mutex_);
  if (state_ == SessionState::Opening && shell_opening_) {
    // The stream being opened failed (or exited) before openStream() returned it to us: handled
    // once it has (onShellOpened), like the output that arrives this early.
    exit_while_opening_ = exit;
    return;
  }
  if (state_ != SessionState::Ready) return;
  std::string held;
  markers_.flush(held);  // an unfinished sequence at the very end is output after all
  std::string tail = sanitizer_.feed(held.data(), held.size()) + sanitizer_.flush();
  if (!tail.empty()) sendOutputLocked(tail);
  // A broken stream (the connection to the pod lost, the exec refused) is no exit of the user's
  // shell: it is reopened whatever on_shell_exit says, after a backoff that grows with each break.
  const bool broken = !exit.error.isOk();
  std::string status = broken ? "the connection to the shell broke: " + exit.error.message()
                       : exit.signal != 0
                           ? "the shell was killed by signal " + std::to_string(exit.signal)
                           : "the shell exited with status " + std::to_string(exit.exit_code);
  bool restart = broken || options_.on_shell_exit == SessionOptions::OnShellExit::Restart;
  reopened_after_exit_ = !broken;
  std::string closing;
  if (restart && !admitRestartLocked(
                     broken ? "the connection to the shell broke" : "the shell exited", closing)) {
    restart = false;
  }
  // A std::string for each %s: Poco's format takes a const char* for an error ([ERRFMT]).
  logger().information(
      "session=%s %s%s", id_.raw, status,
      std::string(restart ? (broken ? ": reopening it" : ": starting a new shell") : ""));
  const std::string line = !restart ? status
                           : broken ? status + "; it is reopened in the same pod"
                                    : status + "; a new shell starts in the same pod";
  for (auto& client : clients_) {
    if (client->wantsEvents()) {
      client->sendEvent(messages::exitEvent(exit.exit_code, exit.signal, restart));
      if (broken) client->sendEvent(messages::noticeEvent(line));
      if (!closing.empty()) client->sendEvent(messages::noticeEvent(closing));
    } else {
      client->sendText(messages::noticeLine(line));
      if (!closing.empty()) client->sendText(messages::noticeLine(closing));
    }
  }
  if (!restart) {
    beginEnding(lock, 1000, closing.empty() ? "shell exited" : "shell keeps exiting");
    return;
  }
  restartShell(lock, broken ? reopenDelayLocked() : std::chrono::milliseconds(0));
}

// A shell that dies at once (a broken rc, a full disk) or a pod that keeps going would otherwise
// restart forever.
bool Session::admitRestartLocked(const std::string& what, std::string& closing) {
  const auto t = now();
  while (!restarts_.empty() && t - restarts_.front() >= options_.restart_window)
    restarts_.pop_front();
  if (restarts_.size() >= options_.max_restarts) {
    closing = what + " " + std::to_string(restarts_.size() + 1) + " times within " +
              messages::formatDuration(options_.restart_window) +
              ": the session ends; connect again for a new one";
    return false;
  }
  restarts_.push_back(t);
  ++restarts_since_shell_ran_;
  return true;
}

// 250 ms after the first break in restart_window, doubling with each further one, at most 4 s.
std::chrono::milliseconds Session::reopenDelayLocked() const {
  const size_t breaks = std::max<size_t>(restarts_.size(), 1);
  return std::chrono::milliseconds(250) * (1 << std::min<size_t>(breaks - 1, 4));
}

// The pod stays; only the shell is new. Until it runs, input is queued as before the first one.
void Session::restartShell(Lock& lock, std::chrono::milliseconds delay) {
  auto old = std::make_shared<sdk::ExecStreamPtr>(takeStreamLocked());
  state_ = SessionState::Opening;
  output_paused_ = false;
  not_ready_notice_sent_ = false;
  markers_.reset();
  if (delay.count() > 0) {
    const uint64_t generation = pod_generation_;
    auto self = weak_from_this();
    cancelTimer(reopen_timer_);
    reopen_timer_ = context_.timers.runAfter(delay, [self, generation] {
      auto session = self.lock();
      if (!session) return;
      {
        Lock lock(session->mutex_);
        session->reopen_timer_.reset();
        // The pod was replaced or the session ended meanwhile.
        if (session->state_ != SessionState::Opening || session->pod_generation_ != generation)
          return;
      }
      session->openShell();
    });
  }
  lock.unlock();
  // Not on this (the stream's own) thread: closing may wait for it.
  if (!context_.blocking.execute([old] {
        if (*old) (*old)->close();
      })) {
    if (*old) (*old)->close();
  }
  if (delay.count() == 0) openShell();
}

void Session::broadcastText(std::string_view text) {
  Lock lock(mutex_);
  for (auto& client : clients_) client->sendText(text);
}

void Session::broadcastEvent(std::string_view json) {
  Lock lock(mutex_);
  for (auto& client : clients_) {
    if (client->wantsEvents()) client->sendEvent(json);
  }
}

void Session::broadcastNotice(std::string_view text) {
  Lock lock(mutex_);
  for (auto& client : clients_) sendNotice(*client, text);
}

std::string Session::currentStatusText() const {
  if (!pod_status_.reason.empty()) return pod_status_.reason;
  return sdk::podPhaseName(pod_status_.phase);
}

std::chrono::steady_clock::time_point Session::now() const {
  return context_.clock ? context_.clock() : std::chrono::steady_clock::now();
}

// Stamped with or without an idle timeout: info() reports it.
void Session::noteActivityLocked() {
  last_activity_ = now();
  idle_warned_ = false;
}

void Session::armIdleTimerLocked(std::chrono::milliseconds delay) {
  cancelTimer(idle_timer_);
  auto self = weak_from_this();
  idle_timer_ = context_.timers.runAfter(std::max(delay, std::chrono::milliseconds(1)), [self] {
    if (auto session = self.lock()) session->onIdleCheck();
  });
}

// Activity only stamps a time (no timer is touched on the hot path); the check looks at it when
// it fires and sets itself again for when the session could next be idle long enough.
void Session::onIdleCheck() {
  Lock lock(mutex_);
  idle_timer_.reset();
  if (state_ == SessionState::Ending || state_ == SessionState::Ended) return;
  const auto timeout = options_.idle_timeout;
  const auto notice_after = timeout - std::min(options_.idle_warning, timeout);
  if (state_ != SessionState::Ready || markers_.commandRunning()) {
    // A starting shell or a running command (`sleep`, a build) is activity.
    last_activity_ = now();
    idle_warned_ = false;
    armIdleTimerLocked(notice_after.count() > 0 ? notice_after : timeout);
    return;
  }
  const auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(now() - last_activity_);
  if (idle < notice_after) {
    armIdleTimerLocked(notice_after - idle);
    return;
  }
  if (idle < timeout) {
    armIdleTimerLocked(timeout - idle);
    if (idle_warned_) return;
    idle_warned_ = true;
    lock.unlock();
    broadcastNotice(messages::idleEndingSoon(timeout - idle, timeout));
    return;
  }
  logger().information("session=%s idle for %s: ending", id_.raw, messages::formatDuration(idle));
  lock.unlock();
  broadcastNotice(messages::idleOver(timeout));
  lock.lock();
  if (state_ == SessionState::Ending || state_ == SessionState::Ended) return;
  culled_ = metrics::Culled::Idle;
  beginEnding(lock, 1001, "session idle", true);
}

void Session::cancelTimer(std::optional<Scheduler::TimerId>& timer) {
  if (timer) context_.timers.cancel(*timer);
  timer.reset();
}

}  // namespace podterm::host
