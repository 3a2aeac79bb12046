#pragma once
// Finds or creates the Session of a session id. A session lives from its first client until its
// grace period after the last one; a client arriving while its predecessor is still deleting the
// pod gets a successor session that starts once the deletion is done, so an old deletion never
// removes a new pod.

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "session/Session.h"

namespace podterm::host {

class SessionManager {
 public:
  SessionManager(SessionOptions options, Session::Context context);
  ~SessionManager();

  // Attaches client to the session of id, creating (and starting) it when needed. After endAll()
  // the client is closed instead and nullptr returned.
  std::shared_ptr<Session> attach(const SessionId& id,
                                  const std::shared_ptr<TerminalClient>& client,
                                  std::optional<TerminalSize> size);
  std::shared_ptr<Session> find(const std::string& session_id) const;
  size_t sessionCount() const;
  std::vector<std::shared_ptr<Session>> sessions() const;
  // Ends every session (shutdown) and waits up to `deadline` for their pods' deletion.
  void endAll(uint16_t code, const std::string& reason, std::chrono::milliseconds deadline);

 private:
  struct Entry {
    std::shared_ptr<Session> current;
    std::shared_ptr<Session> successor;
  };
  std::shared_ptr<Session> makeSession(const SessionId& id);
  void onSessionEnded(const std::string& session_id);

  const SessionOptions options_;
  Session::Context context_;
  mutable std::mutex mutex_;
  std::condition_variable all_ended_;
  std::map<std::string, Entry> entries_;
  bool closing_ = false;  // endAll() was called: no new sessions
};

}  // namespace podterm::host
