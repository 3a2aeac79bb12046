#pragma once
// Finds or creates the Session of a terminal: a session id and a terminal name (`?term=`), and the
// SessionPod it runs in. A terminal lives from its first client until its grace period after the
// last one; a pod from its first terminal until its last one ended (session.pod_scope: the pod of
// one session id, or of every session of a workspace). A client arriving while its terminal is
// ending gets a successor terminal; a terminal arriving while its pod is being deleted gets a
// successor pod, which the runtime is asked for once the deletion is done, so an old deletion
// never removes a new pod.
//
// Limits (limits.sessions_per_user, limits.pods_per_user, limits.terminals_per_session) are
// checked by admit(), before the WebSocket upgrade, and hold until attach(): an admission reserves
// its place, so two upgrades racing for a user's last place cannot both win. A session is a
// session id with a live terminal; a pod is a pod id (PodScope) with a pod starting, live, ending
// or kept. With several replicas (OwnershipHooks: SessionLeases) the pods other replicas hold
// count too, read from the database at admission: each counts as a pod of its user, and as a
// session with session.pod_scope = "session" (where a pod id is a session id).
//
// Threading: every method is thread-safe.

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "session/PodScope.h"
#include "session/Session.h"
#include "session/SessionPod.h"
#include "session/TerminalName.h"

namespace podterm::host {

class SessionManager {
 public:
  // The answer of admit(): either a refusal (false, with a reason for the client) or a place
  // reserved for the session id until attach() consumes it or the admission is destroyed.
  // Move-only. OWNERSHIP: the SessionManager must outlive it.
  class Admission {
   public:
    Admission() = default;
    Admission(Admission&& other) noexcept;
    Admission& operator=(Admission&& other) noexcept;
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    ~Admission();

    explicit operator bool() const { return manager_ != nullptr; }
    // Why it was refused, naming the limit ("... limits.sessions_per_user is 16 ...").
    const std::string& refusal() const { return refusal_; }

   private:
    friend class SessionManager;
    void release();
    SessionManager* manager_ = nullptr;  // set while a place is reserved
    std::string session_id_;
    std::string terminal_;
    std::string refusal_;
  };

  SessionManager(SessionOptions options, Session::Context context);
  ~SessionManager();

  // Decides, without creating anything, whether terminal `terminal` of id may get a client.
  // Attaching to an existing live terminal is always admitted; a new session is refused when its
  // user already has sessions_per_user live sessions; a new pod when the user has pods_per_user
  // pods (starting, live, ending, and those kept because their files could not be saved); a new
  // terminal when its session has terminals_per_session live terminals.
  Admission admit(const SessionId& id, const std::string& terminal = TerminalName::kDefault);
  // Attaches client to the terminal of id that was admitted, creating (and starting) it and its
  // pod when needed. After endAll() the client is closed instead and nullptr returned. The
  // admission must be one of admit(id, ...), granted; a refused one closes the client with 1008
  // and returns nullptr.
  // since: see Session::attach.
  std::shared_ptr<Session> attach(const SessionId& id, Admission admission,
                                  const std::shared_ptr<TerminalClient>& client,
                                  std::optional<TerminalSize> size,
                                  std::optional<uint64_t> since = std::nullopt);
  // admit() and attach() in one (tests, in-process callers).
  std::shared_ptr<Session> attach(const SessionId& id,
                                  const std::shared_ptr<TerminalClient>& client,
                                  std::optional<TerminalSize> size);
  // The default terminal of session_id, or else its first live one; null when it has none.
  std::shared_ptr<Session> find(const std::string& session_id) const;
  std::shared_ptr<Session> find(const std::string& session_id, const std::string& terminal) const;
  // Every terminal of session_id (current ones, by name).
  std::vector<std::shared_ptr<Session>> terminals(const std::string& session_id) const;
  // Waits up to `deadline` for session (one of this manager's) to have ended: its final sync run,
  // its pod deleted or kept, its clients closed. True when it has.
  bool waitEnded(const std::shared_ptr<Session>& session, std::chrono::milliseconds deadline);
  // Terminals on this host (starting, live or ending), and each one's Session.
  size_t sessionCount() const;
  // Session ids on this host with a terminal (starting, live or ending): podterm_sessions_live.
  size_t sessionIdCount() const;
  std::vector<std::shared_ptr<Session>> sessions() const;
  // Heap bytes every terminal here keeps for a reattach (output log, screen and scrollback):
  // podterm_terminal_state_bytes, the part of the host's memory that session.scrollback_lines
  // and session.output_log_bytes size.
  size_t terminalStateBytes() const;
  // Pods on this host (waiting, starting, live or ending).
  size_t podCount() const;
  // A pod of this id (the runtime's session id: SessionPod::id()) belongs to a live terminal here.
  bool podInUse(const std::string& pod_id) const;
  // Ends every session (shutdown) and waits up to `deadline` for their ends (final sync, then the
  // pod deleted, or kept with keep_pods: a host shutdown leaves pods to their grace period).
  void endAll(uint16_t code, const std::string& reason, std::chrono::milliseconds deadline,
              bool keep_pods = false);

  // Pods kept after their last terminal ended count against their user until they are gone: the
  // reaper reports the pods it deleted and, each round, every pod that still exists (by pod id).
  void onPodDeleted(const std::string& session_id);
  void retainKeptPods(const std::set<std::string>& existing_session_ids);
  // Several replicas (SessionLeases): told when a pod starts here and when it ended here, and
  // asked, by admit(), for the pod ids of a user's prefix ("user_<u>_ws_") that other replicas
  // hold: called without this manager's lock, on the admitting thread, only when the admission
  // could add a session or a pod; it may block (a database read). Set before the first admit().
  struct OwnershipHooks {
    std::function<void(const std::string& pod_id)> pod_starting;
    std::function<void(const std::string& pod_id)> pod_ended;
    std::function<std::vector<std::string>(const std::string& user_prefix)> remote_pods;
  };
  void setOwnershipHooks(OwnershipHooks hooks);
  // Another replica took the pod over: its terminals here end with code/reason, without a final
  // sync and without deleting the pod (the new owner drives it). Nothing when it is not here.
  void dropPod(const std::string& pod_id, uint16_t code, const std::string& reason);

  // For tests and metrics: a user's live sessions and pods as admit() counts them.
  size_t userSessions(const std::string& user) const;
  size_t userPods(const std::string& user) const;

 private:
  // One terminal: its session, and the one that takes over when a client comes while it ends.
  struct Entry {
    std::shared_ptr<Session> current;
    std::shared_ptr<Session> successor;
  };
  // One pod id: its pod, and the one that starts when the current one has been deleted.
  struct PodEntry {
    std::shared_ptr<SessionPod> current;
    std::shared_ptr<SessionPod> successor;
  };
  struct Usage {
    size_t sessions = 0;
    size_t pods = 0;
    size_t terminals = 0;       // of the session id in question
    bool has_session = false;   // the id in question already counts as a live session
    bool has_pod = false;       // its pod id already counts as a pod
    bool has_terminal = false;  // the terminal in question already counts as a live terminal
  };
  using Terminals = std::map<std::string, Entry>;              // by terminal name
  using ReservationKey = std::pair<std::string, std::string>;  // session id, terminal
  // Makes a terminal and joins it to a pod that takes it (*start_pod: a new pod to start).
  std::shared_ptr<Session> makeSessionLocked(const SessionId& id, const std::string& terminal,
                                             std::shared_ptr<SessionPod>& start_pod);
  std::shared_ptr<SessionPod> makePod(const SessionId& pod_id);
  void onSessionEnded(const std::string& session_id, const std::string& terminal);
  void onPodEnded(SessionPod& pod);
  // remote: pod ids other replicas hold (remotePods()); those of other users are ignored.
  Usage usageLocked(const SessionId& id, const std::string& terminal,
                    const std::vector<std::string>& remote) const;
  std::vector<std::string> remotePods(const std::string& user) const;
  bool reconnectLocked(const std::string& session_id) const;
  void releaseReservation(const std::string& session_id, const std::string& terminal);

  const SessionOptions options_;
  Session::Context context_;
  mutable std::mutex mutex_;
  std::condition_variable all_ended_;
  std::map<std::string, Terminals> entries_;  // by session id
  std::map<std::string, PodEntry> pods_;      // by pod id
  // Admitted terminals not yet attached, with how many admissions wait for each.
  std::map<ReservationKey, size_t> reserved_;
  // Pod ids whose pod ended kept (files not saved); until the pod is gone.
  std::set<std::string> kept_pods_;
  bool closing_ = false;  // endAll() was called: no new sessions
  OwnershipHooks ownership_;
};

}  // namespace podterm::host
