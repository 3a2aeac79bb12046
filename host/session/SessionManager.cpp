#include "session/SessionManager.h"

namespace podterm::host {

SessionManager::SessionManager(SessionOptions options, Session::Context context)
    : options_(std::move(options)), context_(context) {}

SessionManager::~SessionManager() = default;

std::shared_ptr<Session> SessionManager::makeSession(const SessionId& id) {
  return std::make_shared<Session>(id, options_, context_,
                                   [this](const std::string& sid) { onSessionEnded(sid); });
}

std::shared_ptr<Session> SessionManager::attach(const SessionId& id,
                                                const std::shared_ptr<TerminalClient>& client,
                                                std::optional<TerminalSize> size) {
  std::shared_ptr<Session> session;
  bool start = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) {
      client->close(1001, "server shutting down");
      return nullptr;
    }
    Entry& entry = entries_[id.raw];
    if (!entry.current) {
      entry.current = makeSession(id);
      session = entry.current;
      start = true;
    } else {
      SessionState state = entry.current->state();
      if (state != SessionState::Ending && state != SessionState::Ended) {
        session = entry.current;
      } else {
        if (!entry.successor) entry.successor = makeSession(id);
        session = entry.successor;
      }
    }
  }
  session->attach(client, size);
  if (start) session->start();
  return session;
}

std::shared_ptr<Session> SessionManager::find(const std::string& session_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(session_id);
  return it == entries_.end() ? nullptr : it->second.current;
}

size_t SessionManager::sessionCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

std::vector<std::shared_ptr<Session>> SessionManager::sessions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<Session>> result;
  for (const auto& [id, entry] : entries_) result.push_back(entry.current);
  return result;
}

void SessionManager::onSessionEnded(const std::string& session_id) {
  std::shared_ptr<Session> successor;
  std::shared_ptr<Session> ended;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(session_id);
    if (it == entries_.end()) return;
    ended = std::move(it->second.current);  // destroyed outside the lock
    successor = std::move(it->second.successor);
    if (successor) {
      it->second.current = successor;
    } else {
      entries_.erase(it);
    }
  }
  all_ended_.notify_all();
  if (!successor) return;
  bool closing;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing = closing_;
  }
  if (closing) {
    successor->end(1001, "server shutting down");
  } else {
    successor->start();
  }
}

void SessionManager::endAll(uint16_t code, const std::string& reason,
                            std::chrono::milliseconds deadline) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  for (auto& session : sessions()) {
    if (session) session->end(code, reason);
  }
  std::unique_lock<std::mutex> lock(mutex_);
  all_ended_.wait_for(lock, deadline, [this] { return entries_.empty(); });
}

}  // namespace podterm::host
