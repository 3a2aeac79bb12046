#pragma once
// Finds or creates the Session of a session id. A session lives from its first client until its
// grace period after the last one; a client arriving while its predecessor is still deleting the
// pod gets a successor session that starts once the deletion is done, so an old deletion never
// removes a new pod.
//
// Per-user limits (limits.sessions_per_user, limits.pods_per_user) are checked by admit(), before
// the WebSocket upgrade, and hold until attach(): an admission reserves its place, so two
// upgrades racing for a user's last place cannot both win. They are counted per host for now;
// across replicas once the lifecycle issue's session leases exist.
//
// Threading: every method is thread-safe.

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "session/Session.h"

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
    std::string refusal_;
  };

  SessionManager(SessionOptions options, Session::Context context);
  ~SessionManager();

  // Decides, without creating anything, whether id may get a client. Attaching to an existing
  // live session is always admitted; a new session is refused when its user already has
  // sessions_per_user live sessions, or pods_per_user pods (those of live and ending sessions
  // and those kept because their files could not be saved).
  Admission admit(const SessionId& id);
  // Attaches client to the session of id, creating (and starting) it when needed. After endAll()
  // the client is closed instead and nullptr returned. The admission must be one of admit(id),
  // granted; a refused one closes the client with 1008 and returns nullptr.
  // since: see Session::attach.
  std::shared_ptr<Session> attach(const SessionId& id, Admission admission,
                                  const std::shared_ptr<TerminalClient>& client,
                                  std::optional<TerminalSize> size,
                                  std::optional<uint64_t> since = std::nullopt);
  // admit() and attach() in one (tests, in-process callers).
  std::shared_ptr<Session> attach(const SessionId& id,
                                  const std::shared_ptr<TerminalClient>& client,
                                  std::optional<TerminalSize> size);
  std::shared_ptr<Session> find(const std::string& session_id) const;
  size_t sessionCount() const;
  std::vector<std::shared_ptr<Session>> sessions() const;
  // Ends every session (shutdown) and waits up to `deadline` for their ends (final sync, then the
  // pod deleted, or kept with keep_pods: a host shutdown leaves pods to their grace period).
  void endAll(uint16_t code, const std::string& reason, std::chrono::milliseconds deadline,
              bool keep_pods = false);

  // Pods kept after their session ended count against their user until they are gone: the
  // reaper reports the pods it deleted and, each round, every pod that still exists.
  void onPodDeleted(const std::string& session_id);
  void retainKeptPods(const std::set<std::string>& existing_session_ids);
  // For tests and metrics: a user's live sessions and pods as admit() counts them.
  size_t userSessions(const std::string& user) const;
  size_t userPods(const std::string& user) const;

 private:
  struct Entry {
    std::shared_ptr<Session> current;
    std::shared_ptr<Session> successor;
  };
  struct Usage {
    size_t sessions = 0;
    size_t pods = 0;
    bool has_session = false;  // the id in question already counts as a live session
    bool has_pod = false;      // ... as a pod
  };
  std::shared_ptr<Session> makeSession(const SessionId& id);
  void onSessionEnded(const std::string& session_id);
  Usage usageLocked(const std::string& user, const std::string& session_id) const;
  void releaseReservation(const std::string& session_id);

  const SessionOptions options_;
  Session::Context context_;
  mutable std::mutex mutex_;
  std::condition_variable all_ended_;
  std::map<std::string, Entry> entries_;
  // Admitted ids not yet attached, with how many admissions wait for each.
  std::map<std::string, size_t> reserved_;
  // Ids whose session ended with its pod kept (files not saved); until the pod is gone.
  std::set<std::string> kept_pods_;
  bool closing_ = false;  // endAll() was called: no new sessions
};

}  // namespace podterm::host
