#include "session/SessionManager.h"

#include <Poco/Logger.h>

namespace podterm::host {
namespace {

Poco::Logger& logger() {
  return Poco::Logger::get("podterm.session");
}

// Every id of a user starts with this, and no id of another user does: '_' cannot occur in a
// user name, so "user_a_ws_" is never a prefix of "user_a-b_ws_...".
std::string userPrefix(const std::string& user) {
  return "user_" + user + "_ws_";
}

bool hasPrefix(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

const std::string& keyOf(const std::string& key) {
  return key;
}
template <class Value>
const std::string& keyOf(const std::pair<const std::string, Value>& element) {
  return element.first;
}

// Calls fn(key) for each key of an ordered map or set that starts with prefix.
template <class Ordered, class Fn>
void forEachWithPrefix(const Ordered& ordered, const std::string& prefix, Fn fn) {
  for (auto it = ordered.lower_bound(prefix); it != ordered.end(); ++it) {
    const std::string& key = keyOf(*it);
    if (!hasPrefix(key, prefix)) break;
    fn(key);
  }
}

bool isLive(const std::shared_ptr<Session>& session) {
  if (!session) return false;
  SessionState state = session->state();
  return state != SessionState::Ending && state != SessionState::Ended;
}

}  // namespace

// --- Admission ----------------------------------------------------------------------------------

SessionManager::Admission::Admission(Admission&& other) noexcept
    : manager_(other.manager_),
      session_id_(std::move(other.session_id_)),
      refusal_(std::move(other.refusal_)) {
  other.manager_ = nullptr;
}

SessionManager::Admission& SessionManager::Admission::operator=(Admission&& other) noexcept {
  if (this != &other) {
    release();
    manager_ = other.manager_;
    session_id_ = std::move(other.session_id_);
    refusal_ = std::move(other.refusal_);
    other.manager_ = nullptr;
  }
  return *this;
}

SessionManager::Admission::~Admission() {
  release();
}

void SessionManager::Admission::release() {
  if (manager_ == nullptr) return;
  manager_->releaseReservation(session_id_);
  manager_ = nullptr;
}

// --- SessionManager -----------------------------------------------------------------------------

SessionManager::SessionManager(SessionOptions options, Session::Context context)
    : options_(std::move(options)), context_(context) {}

SessionManager::~SessionManager() = default;

std::shared_ptr<Session> SessionManager::makeSession(const SessionId& id) {
  return std::make_shared<Session>(id, options_, context_,
                                   [this](const std::string& sid) { onSessionEnded(sid); });
}

// A user's ids: a live session is one whose current session is not ending, or that has a
// successor waiting; a pod is any id with a session (an ending one still has its pod), a kept
// pod, or an admission on its way. Distinct ids are counted, so a second tab of the same id
// costs nothing.
SessionManager::Usage SessionManager::usageLocked(const std::string& user,
                                                  const std::string& session_id) const {
  const std::string prefix = userPrefix(user);
  std::set<std::string> sessions;
  std::set<std::string> pods;
  forEachWithPrefix(entries_, prefix, [&](const std::string& id) {
    const Entry& entry = entries_.at(id);
    if (entry.successor || isLive(entry.current)) sessions.insert(id);
    pods.insert(id);
  });
  forEachWithPrefix(reserved_, prefix, [&](const std::string& id) {
    sessions.insert(id);
    pods.insert(id);
  });
  forEachWithPrefix(kept_pods_, prefix, [&](const std::string& id) { pods.insert(id); });
  return {sessions.size(), pods.size(), sessions.count(session_id) != 0,
          pods.count(session_id) != 0};
}

SessionManager::Admission SessionManager::admit(const SessionId& id) {
  Admission admission;
  std::lock_guard<std::mutex> lock(mutex_);
  // Counting and reserving under one lock: two upgrades for a user's last place see each other.
  const Usage usage = usageLocked(id.user, id.raw);
  if (!usage.has_session && options_.sessions_per_user > 0 &&
      usage.sessions >= options_.sessions_per_user) {
    admission.refusal_ =
        "too many sessions: user " + id.user + " has " + std::to_string(usage.sessions) +
        " (limits.sessions_per_user = " + std::to_string(options_.sessions_per_user) + ")";
  } else if (!usage.has_pod && options_.pods_per_user > 0 && usage.pods >= options_.pods_per_user) {
    admission.refusal_ = "too many pods: user " + id.user + " has " + std::to_string(usage.pods) +
                         " (limits.pods_per_user = " + std::to_string(options_.pods_per_user) + ")";
  }
  if (!admission.refusal_.empty()) {
    logger().warning("session=%s refused: %s", id.raw, admission.refusal_);
    return admission;
  }
  ++reserved_[id.raw];
  admission.manager_ = this;
  admission.session_id_ = id.raw;
  return admission;
}

void SessionManager::releaseReservation(const std::string& session_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = reserved_.find(session_id);
  if (it == reserved_.end()) return;
  if (--it->second == 0) reserved_.erase(it);
}

std::shared_ptr<Session> SessionManager::attach(const SessionId& id,
                                                const std::shared_ptr<TerminalClient>& client,
                                                std::optional<TerminalSize> size) {
  return attach(id, admit(id), client, size);
}

std::shared_ptr<Session> SessionManager::attach(const SessionId& id, Admission admission,
                                                const std::shared_ptr<TerminalClient>& client,
                                                std::optional<TerminalSize> size,
                                                std::optional<uint64_t> since) {
  if (!admission || admission.manager_ != this || admission.session_id_ != id.raw) {
    client->close(1008, admission.refusal_.empty() ? "not admitted" : admission.refusal_);
    return nullptr;
  }
  std::shared_ptr<Session> session;
  bool start = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // The entry takes over the reservation's place in the same critical section.
    auto reserved = reserved_.find(id.raw);
    if (reserved != reserved_.end() && --reserved->second == 0) reserved_.erase(reserved);
    admission.manager_ = nullptr;
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
  session->attach(client, size, since);
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

size_t SessionManager::userSessions(const std::string& user) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return usageLocked(user, "").sessions;
}

size_t SessionManager::userPods(const std::string& user) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return usageLocked(user, "").pods;
}

void SessionManager::onPodDeleted(const std::string& session_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  kept_pods_.erase(session_id);
}

void SessionManager::retainKeptPods(const std::set<std::string>& existing_session_ids) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = kept_pods_.begin(); it != kept_pods_.end();) {
    it = existing_session_ids.count(*it) != 0 ? std::next(it) : kept_pods_.erase(it);
  }
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
    if (ended && ended->podKept()) {
      kept_pods_.insert(session_id);
    } else {
      kept_pods_.erase(session_id);
    }
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
                            std::chrono::milliseconds deadline, bool keep_pods) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  for (auto& session : sessions()) {
    if (session && keep_pods) session->keepPodAtEnd();
    if (session) session->end(code, reason);
  }
  std::unique_lock<std::mutex> lock(mutex_);
  all_ended_.wait_for(lock, deadline, [this] { return entries_.empty(); });
}

}  // namespace podterm::host
