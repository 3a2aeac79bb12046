#include "session/SessionManager.h"

#include <Poco/Logger.h>

#include "common/Metrics.h"

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

bool isEnded(const std::shared_ptr<Session>& session) {
  return session && session->state() == SessionState::Ended;
}

}  // namespace

// --- Admission ----------------------------------------------------------------------------------

SessionManager::Admission::Admission(Admission&& other) noexcept
    : manager_(other.manager_),
      session_id_(std::move(other.session_id_)),
      terminal_(std::move(other.terminal_)),
      refusal_(std::move(other.refusal_)) {
  other.manager_ = nullptr;
}

SessionManager::Admission& SessionManager::Admission::operator=(Admission&& other) noexcept {
  if (this != &other) {
    release();
    manager_ = other.manager_;
    session_id_ = std::move(other.session_id_);
    terminal_ = std::move(other.terminal_);
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
  manager_->releaseReservation(session_id_, terminal_);
  manager_ = nullptr;
}

// --- SessionManager -----------------------------------------------------------------------------

SessionManager::SessionManager(SessionOptions options, Session::Context context)
    : options_(std::move(options)), context_(context) {}

SessionManager::~SessionManager() = default;

std::shared_ptr<SessionPod> SessionManager::makePod(const SessionId& pod_id) {
  return std::make_shared<SessionPod>(
      pod_id, options_.sync,
      SessionPod::Context{context_.runtime, context_.timers, context_.blocking, context_.syncer,
                          context_.policy},
      [this](SessionPod& pod) { onPodEnded(pod); },
      PodOptions{options_.max_lifetime, options_.lifetime_notice});
}

// The terminal joins its pod id's current pod when that one takes it; else the successor (made
// when needed), which starts once the current one has ended.
std::shared_ptr<Session> SessionManager::makeSessionLocked(const SessionId& id,
                                                           const std::string& terminal,
                                                           std::shared_ptr<SessionPod>& start_pod) {
  const SessionId pod_id = podIdFor(id, options_.pod_scope);
  PodEntry& pods = pods_[pod_id.raw];
  if (!pods.current) {
    pods.current = makePod(pod_id);
    start_pod = pods.current;
  }
  auto make = [&](const std::shared_ptr<SessionPod>& pod) {
    return std::make_shared<Session>(
        id, terminal, pod, options_, context_,
        [this, terminal](const std::string& sid) { onSessionEnded(sid, terminal); });
  };
  // Joined before the session is seen outside this lock. A pod that has just begun to end (its
  // last terminal left) takes no one: the terminal is made again for the successor.
  auto session = make(pods.current);
  if (pods.current->join(session)) return session;
  if (pods.successor) {
    session = make(pods.successor);
    if (pods.successor->join(session)) return session;
  }
  pods.successor = makePod(pod_id);
  session = make(pods.successor);
  pods.successor->join(session);
  return session;
}

// A user's ids: a live session is a session id with a live terminal (not ending, or with a
// successor waiting); a pod is any pod id with a pod (an ending one still exists), a kept pod, or
// an admission on its way. Distinct ids are counted, so a second tab of the same id costs nothing.
SessionManager::Usage SessionManager::usageLocked(const SessionId& id, const std::string& terminal,
                                                  const std::vector<std::string>& remote) const {
  const std::string prefix = userPrefix(id.user);
  const std::string pod_id = podIdFor(id, options_.pod_scope).raw;
  std::set<std::string> sessions;
  std::set<std::string> pods;
  std::set<std::string> terminals;  // of id
  forEachWithPrefix(entries_, prefix, [&](const std::string& sid) {
    for (const auto& [name, entry] : entries_.at(sid)) {
      if (!entry.successor && !isLive(entry.current)) continue;
      sessions.insert(sid);
      if (sid == id.raw) terminals.insert(name);
    }
  });
  forEachWithPrefix(pods_, prefix, [&](const std::string& pid) { pods.insert(pid); });
  for (auto it = reserved_.lower_bound({prefix, ""}); it != reserved_.end(); ++it) {
    const std::string& sid = it->first.first;
    if (!hasPrefix(sid, prefix)) break;
    sessions.insert(sid);
    pods.insert(podIdFor(*SessionId::parse(sid), options_.pod_scope).raw);
    if (sid == id.raw) terminals.insert(it->first.second);
  }
  forEachWithPrefix(kept_pods_, prefix, [&](const std::string& pid) { pods.insert(pid); });
  for (const auto& pid : remote) {
    if (!hasPrefix(pid, prefix)) continue;
    pods.insert(pid);
    if (options_.pod_scope == PodScope::Session) sessions.insert(pid);
  }
  Usage usage;
  usage.sessions = sessions.size();
  usage.pods = pods.size();
  usage.terminals = terminals.size();
  usage.has_session = sessions.count(id.raw) != 0;
  usage.has_pod = pods.count(pod_id) != 0;
  usage.has_terminal = terminals.count(terminal) != 0;
  return usage;
}

// Other replicas' pods of the user, read by the hook (SessionLeases: from the database, blocking)
// without this manager's lock held; none without the hook.
std::vector<std::string> SessionManager::remotePods(const std::string& user) const {
  std::function<std::vector<std::string>(const std::string&)> hook;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    hook = ownership_.remote_pods;
  }
  return hook ? hook(userPrefix(user)) : std::vector<std::string>{};
}

SessionManager::Admission SessionManager::admit(const SessionId& id, const std::string& terminal) {
  Admission admission;
  // The other replicas' pods are asked for only when this admission may add a session or a pod
  // (not for another client or terminal of a session and pod live here), and before the lock is
  // taken: it is a database read, fresh at admission.
  std::vector<std::string> remote;
  bool ask_remote;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const Usage local = usageLocked(id, terminal, {});
    ask_remote = ownership_.remote_pods &&
                 (options_.sessions_per_user > 0 || options_.pods_per_user > 0) &&
                 !(local.has_session && local.has_pod);
  }
  if (ask_remote) remote = remotePods(id.user);
  std::lock_guard<std::mutex> lock(mutex_);
  // Counting and reserving under one lock: two upgrades for a user's last place see each other.
  const Usage usage = usageLocked(id, terminal, remote);
  if (!usage.has_session && options_.sessions_per_user > 0 &&
      usage.sessions >= options_.sessions_per_user) {
    admission.refusal_ =
        "too many sessions: user " + id.user + " has " + std::to_string(usage.sessions) +
        " (limits.sessions_per_user = " + std::to_string(options_.sessions_per_user) + ")";
  } else if (!usage.has_pod && options_.pods_per_user > 0 && usage.pods >= options_.pods_per_user) {
    admission.refusal_ = "too many pods: user " + id.user + " has " + std::to_string(usage.pods) +
                         " (limits.pods_per_user = " + std::to_string(options_.pods_per_user) + ")";
  } else if (!usage.has_terminal && options_.terminals_per_session > 0 &&
             usage.terminals >= options_.terminals_per_session) {
    admission.refusal_ =
        "too many terminals: session " + id.raw + " has " + std::to_string(usage.terminals) +
        " (limits.terminals_per_session = " + std::to_string(options_.terminals_per_session) + ")";
  }
  if (!admission.refusal_.empty()) {
    logger().warning("session=%s refused: %s", id.raw, admission.refusal_);
    return admission;
  }
  ++reserved_[{id.raw, terminal}];
  admission.manager_ = this;
  admission.session_id_ = id.raw;
  admission.terminal_ = terminal;
  return admission;
}

void SessionManager::releaseReservation(const std::string& session_id,
                                        const std::string& terminal) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = reserved_.find({session_id, terminal});
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
  const std::string terminal = admission.terminal_;
  std::shared_ptr<Session> session;
  std::shared_ptr<SessionPod> start_pod;
  bool start = false;
  bool reconnect = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // The entry takes over the reservation's place in the same critical section.
    auto reserved = reserved_.find({id.raw, terminal});
    if (reserved != reserved_.end() && --reserved->second == 0) reserved_.erase(reserved);
    admission.manager_ = nullptr;
    if (closing_) {
      client->close(1001, "server shutting down");
      return nullptr;
    }
    reconnect = reconnectLocked(id.raw);
    Entry& entry = entries_[id.raw][terminal];
    if (!entry.current) {
      entry.current = makeSessionLocked(id, terminal, start_pod);
      session = entry.current;
      start = true;
    } else if (isLive(entry.current)) {
      session = entry.current;
    } else {
      // Its pod is the current one if it outlives the ending terminal (other terminals use it),
      // else a successor that waits for the deletion.
      if (!entry.successor) {
        entry.successor = makeSessionLocked(id, terminal, start_pod);
        start = true;
      }
      session = entry.successor;
    }
  }
  if (reconnect) metrics::reconnects().inc();
  session->attach(client, size, since);
  if (start) session->start();
  if (start_pod && ownership_.pod_starting) ownership_.pod_starting(start_pod->id().raw);
  if (start_pod) start_pod->start();
  return session;
}

std::shared_ptr<Session> SessionManager::find(const std::string& session_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(session_id);
  if (it == entries_.end()) return nullptr;
  auto named = it->second.find(TerminalName::kDefault);
  if (named != it->second.end() && named->second.current) return named->second.current;
  for (const auto& [name, entry] : it->second) {
    if (isLive(entry.current)) return entry.current;
  }
  return it->second.empty() ? nullptr : it->second.begin()->second.current;
}

std::shared_ptr<Session> SessionManager::find(const std::string& session_id,
                                              const std::string& terminal) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(session_id);
  if (it == entries_.end()) return nullptr;
  auto named = it->second.find(terminal);
  return named == it->second.end() ? nullptr : named->second.current;
}

std::vector<std::shared_ptr<Session>> SessionManager::terminals(
    const std::string& session_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<Session>> result;
  auto it = entries_.find(session_id);
  if (it == entries_.end()) return result;
  for (const auto& [name, entry] : it->second) result.push_back(entry.current);
  return result;
}

// Ended once onSessionEnded has taken it out of its entry (after its clients were closed), which
// happens under this mutex before all_ended_ is notified: no wakeup is missed.
bool SessionManager::waitEnded(const std::shared_ptr<Session>& session,
                               std::chrono::milliseconds deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  return all_ended_.wait_for(lock, deadline, [&] {
    auto it = entries_.find(session->id().raw);
    bool current = false;
    if (it != entries_.end()) {
      auto named = it->second.find(session->terminal());
      current = named != it->second.end() && named->second.current == session;
    }
    return !current && session->state() == SessionState::Ended;
  });
}

size_t SessionManager::sessionCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t count = 0;
  for (const auto& [id, terminals] : entries_) count += terminals.size();
  return count;
}

size_t SessionManager::terminalStateBytes() const {
  size_t bytes = 0;
  for (const auto& session : sessions()) {  // each takes its own lock, not under ours
    if (session) bytes += session->terminalStateBytes();
  }
  return bytes;
}

std::vector<std::shared_ptr<Session>> SessionManager::sessions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<Session>> result;
  for (const auto& [id, terminals] : entries_) {
    for (const auto& [name, entry] : terminals) result.push_back(entry.current);
  }
  return result;
}

size_t SessionManager::sessionIdCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

// A session (not a terminal) comes back: no client on any of its live terminals, and one of them
// lost its last client (its grace period runs). Another tab or terminal of a session in use is
// no reconnect, nor is a terminal of a new session whose first client is still on its way; the
// terminals' marks are taken here, so several terminals reattaching at once count once.
bool SessionManager::reconnectLocked(const std::string& session_id) const {
  auto it = entries_.find(session_id);
  if (it == entries_.end()) return false;
  bool orphaned = false;
  for (const auto& [name, entry] : it->second) {
    if (!isLive(entry.current)) continue;
    if (entry.current->clientCount() > 0) return false;
    orphaned = orphaned || entry.current->orphaned();
  }
  if (!orphaned) return false;
  for (const auto& [name, entry] : it->second) {
    if (entry.current) entry.current->takeOrphaned();
  }
  return true;
}

size_t SessionManager::podCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pods_.size();
}

bool SessionManager::podInUse(const std::string& pod_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pods_.count(pod_id) != 0;
}

size_t SessionManager::userSessions(const std::string& user) const {
  const auto remote = remotePods(user);
  std::lock_guard<std::mutex> lock(mutex_);
  return usageLocked(SessionId{"", user, "", ""}, "", remote).sessions;
}

size_t SessionManager::userPods(const std::string& user) const {
  const auto remote = remotePods(user);
  std::lock_guard<std::mutex> lock(mutex_);
  return usageLocked(SessionId{"", user, "", ""}, "", remote).pods;
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

// The ended terminal is the current one (its successor, if any, takes its place) or a successor
// that ended first (its pod failed).
void SessionManager::onSessionEnded(const std::string& session_id, const std::string& terminal) {
  std::shared_ptr<Session> successor;
  std::shared_ptr<Session> ended;  // destroyed outside the lock
  bool closing;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing = closing_;
    auto it = entries_.find(session_id);
    if (it == entries_.end()) return;
    auto named = it->second.find(terminal);
    if (named == it->second.end()) return;
    Entry& entry = named->second;
    if (isEnded(entry.current)) {
      ended = std::move(entry.current);
      successor = std::move(entry.successor);
      entry.current = successor;
      entry.successor.reset();
      if (!entry.current) it->second.erase(named);
      if (it->second.empty()) {
        entries_.erase(it);
        // The session's last terminal ended: the session ended as that terminal did.
        if (auto culled = ended->culled()) metrics::culls(*culled).inc();
      }
    } else if (isEnded(entry.successor)) {
      ended = std::move(entry.successor);
      entry.successor.reset();
    }
  }
  all_ended_.notify_all();
  if (successor && closing) successor->end(1001, "server shutting down");
}

// The ended pod is the current one of its id (a successor, if any, takes its place and starts
// now) or a successor that never started (its terminals ended first).
void SessionManager::onPodEnded(SessionPod& pod) {
  std::shared_ptr<SessionPod> successor;
  std::shared_ptr<SessionPod> ended;
  bool ended_current = false;
  bool closing;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing = closing_;
    auto it = pods_.find(pod.id().raw);
    if (it == pods_.end()) return;
    PodEntry& entry = it->second;
    if (entry.current.get() == &pod) {
      ended_current = true;
      if (pod.kept()) {
        kept_pods_.insert(pod.id().raw);
      } else {
        kept_pods_.erase(pod.id().raw);
      }
      ended = std::move(entry.current);
      successor = std::move(entry.successor);
      entry.current = successor;
      entry.successor.reset();
      if (!entry.current) pods_.erase(it);
    } else if (entry.successor.get() == &pod) {
      ended = std::move(entry.successor);
      entry.successor.reset();
    }
  }
  all_ended_.notify_all();
  // A successor that never started held nothing: the current pod of the id still does.
  if (ended_current && ownership_.pod_ended) ownership_.pod_ended(pod.id().raw);
  // At shutdown its terminals are being ended: it is not asked for (and ends as never started).
  if (successor && !closing && ownership_.pod_starting) ownership_.pod_starting(pod.id().raw);
  if (successor && !closing) successor->start();
}

void SessionManager::setOwnershipHooks(OwnershipHooks hooks) {
  std::lock_guard<std::mutex> lock(mutex_);
  ownership_ = std::move(hooks);
}

void SessionManager::dropPod(const std::string& pod_id, uint16_t code, const std::string& reason) {
  std::vector<std::shared_ptr<Session>> ending;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = pods_.find(pod_id);
    if (it == pods_.end()) return;
    for (auto* pod : {it->second.current.get(), it->second.successor.get()}) {
      if (pod) pod->abandonAtEnd();
    }
    for (const auto& [sid, terminals] : entries_) {
      for (const auto& [name, entry] : terminals) {
        for (const auto* session : {&entry.current, &entry.successor}) {
          if (*session && (*session)->pod()->id().raw == pod_id) ending.push_back(*session);
        }
      }
    }
  }
  for (auto& session : ending) session->end(code, reason);
}

void SessionManager::endAll(uint16_t code, const std::string& reason,
                            std::chrono::milliseconds deadline, bool keep_pods) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
    for (auto& [id, entry] : pods_) {
      for (auto* pod : {entry.current.get(), entry.successor.get()}) {
        if (pod && keep_pods) pod->keepAtEnd();
      }
    }
  }
  for (auto& session : sessions()) {
    if (session) session->end(code, reason);
  }
  std::unique_lock<std::mutex> lock(mutex_);
  all_ended_.wait_for(lock, deadline, [this] { return entries_.empty(); });
}

}  // namespace podterm::host
