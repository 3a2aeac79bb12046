#include "session/SessionLeases.h"

#include <Poco/Logger.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstdio>
#include <random>

namespace podterm::host {
namespace {

Poco::Logger& logger() {
  return Poco::Logger::get("podterm.leases");
}

uint32_t randomWord() {
  uint32_t word = 0;
  if (::getrandom(&word, sizeof word, 0) != static_cast<ssize_t>(sizeof word)) {
    std::random_device device;
    word = device();
  }
  return word;
}

bool hasPrefix(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// The payload of a takeover: "<pod id> <new holder>" (pod ids have no spaces).
std::string podIdOf(const std::string& payload) {
  return payload.substr(0, payload.find(' '));
}

std::string holderOf(const std::string& payload) {
  const size_t space = payload.find(' ');
  return space == std::string::npos ? std::string() : payload.substr(space + 1);
}

}  // namespace

SessionLeases::SessionLeases(sdk::Storage& storage, Executor& blocking, Scheduler& timers,
                             SessionLeaseOptions options, DropCallback drop)
    : storage_(storage),
      blocking_(blocking),
      timers_(timers),
      options_(std::move(options)),
      drop_(std::move(drop)) {
  if (options_.holder.empty()) options_.holder = makeHolderId();
  if (options_.ttl < std::chrono::milliseconds(3)) options_.ttl = std::chrono::milliseconds(3);
}

SessionLeases::~SessionLeases() {
  sdk::SubscriptionPtr subscription;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    subscription = std::move(subscription_);
    if (timer_) timers_.cancel(*timer_);
    timer_.reset();
    stopped_ = true;
  }
}

std::string SessionLeases::makeHolderId() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof host, "host");
  }
  char id[320];
  std::snprintf(id, sizeof id, "%s-%ld-%08x", host, static_cast<long>(::getpid()), randomWord());
  return id;
}

void SessionLeases::start() {
  auto subscribed = storage_.subscribe(kTakeoverChannel,
                                       [this](const sdk::Notification& n) { onNotification(n); });
  if (!subscribed) {
    // The heartbeat still finds a taken lease, within ttl/3.
    logger().warning("cannot subscribe to %s (takeovers are seen at the next heartbeat): %s",
                     std::string(kTakeoverChannel), subscribed.status().message());
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (subscribed) subscription_ = std::move(subscribed.value());
  }
  logger().information("session leases held as %s, ttl %?d ms", options_.holder,
                       static_cast<int64_t>(options_.ttl.count()));
  scheduleHeartbeat(std::chrono::milliseconds(0));
}

void SessionLeases::stop() {
  sdk::SubscriptionPtr subscription;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    subscription = std::move(subscription_);
    if (timer_) timers_.cancel(*timer_);
    timer_.reset();
  }
  subscription.reset();  // outside the lock: a running callback may want it
  std::lock_guard<std::mutex> io(io_mutex_);
  for (const auto& pod_id : held()) {
    auto released = storage_.releaseSessionLease(pod_id, options_.holder);
    if (!released) {
      logger().warning("session=%s lease not released (it expires in %?d ms): %s", pod_id,
                       static_cast<int64_t>(options_.ttl.count()), released.message());
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  held_.clear();
  wanted_.clear();
}

void SessionLeases::take(const std::string& pod_id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    wanted_.insert(pod_id);
  }
  blocking_.execute([this, pod_id] { reconcile(pod_id); });
}

void SessionLeases::release(const std::string& pod_id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    wanted_.erase(pod_id);
  }
  blocking_.execute([this, pod_id] { reconcile(pod_id); });
}

void SessionLeases::reconcile(const std::string& pod_id) {
  std::string displaced;
  {
    std::lock_guard<std::mutex> io(io_mutex_);
    bool want;
    bool have;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopped_) return;
      want = wanted_.count(pod_id) != 0;
      have = held_.count(pod_id) != 0;
    }
    if (want && !have) {
      auto grant = storage_.acquireSessionLease(pod_id, options_.holder, options_.ttl.count(),
                                                sdk::LeaseMode::TakeOver);
      if (!grant || !grant.value().acquired) {
        // The heartbeat tries again.
        logger().warning("session=%s lease not taken: %s", pod_id,
                         grant ? "refused by the database" : grant.status().message());
        return;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      held_.insert(pod_id);
      others_.erase(pod_id);
      displaced = grant.value().previous_holder;
    } else if (!want && have) {
      auto released = storage_.releaseSessionLease(pod_id, options_.holder);
      if (!released) {
        logger().warning("session=%s lease not released: %s", pod_id, released.message());
        return;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      held_.erase(pod_id);
    }
  }
  if (!displaced.empty() && displaced != options_.holder) {
    logger().information("session=%s taken over from %s", pod_id, displaced);
    auto sent = storage_.notify(kTakeoverChannel, pod_id + " " + options_.holder);
    if (!sent) {
      // The old holder finds out at its next heartbeat.
      logger().warning("session=%s takeover not announced: %s", pod_id, sent.message());
    }
  }
}

void SessionLeases::renew(const std::string& pod_id) {
  std::string taken_by;
  {
    std::lock_guard<std::mutex> io(io_mutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopped_ || held_.count(pod_id) == 0 || wanted_.count(pod_id) == 0) return;
    }
    auto grant = storage_.acquireSessionLease(pod_id, options_.holder, options_.ttl.count(),
                                              sdk::LeaseMode::Acquire);
    if (!grant) {
      // Kept as held: the database may be back before the lease expires.
      logger().warning("session=%s lease not renewed: %s", pod_id, grant.status().message());
      return;
    }
    if (grant.value().acquired) return;
    taken_by = grant.value().holder;
    std::lock_guard<std::mutex> lock(mutex_);
    held_.erase(pod_id);
    wanted_.erase(pod_id);
    others_.insert(pod_id);  // counts for its user until the next refresh says otherwise
  }
  drop(pod_id, taken_by);
}

void SessionLeases::drop(const std::string& pod_id, const std::string& holder) {
  logger().information("session=%s is now held by %s: dropping it here", pod_id, holder);
  if (drop_) drop_(pod_id, holder);
}

void SessionLeases::heartbeat() {
  std::set<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    ids = wanted_;
    ids.insert(held_.begin(), held_.end());
  }
  for (const auto& pod_id : ids) {
    bool steady;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      steady = wanted_.count(pod_id) != 0 && held_.count(pod_id) != 0;
    }
    if (steady) {
      renew(pod_id);
    } else {
      reconcile(pod_id);  // a take or release that failed earlier
    }
  }
  refreshOthers();
}

void SessionLeases::verify(const std::vector<std::string>& pod_ids) {
  if (pod_ids.empty()) {
    for (const auto& pod_id : held()) renew(pod_id);
    return;
  }
  for (const auto& pod_id : pod_ids) renew(pod_id);
}

void SessionLeases::refreshOthers() {
  heldElsewhereNow();
}

std::optional<std::set<std::string>> SessionLeases::heldElsewhereNow() {
  auto leases = storage_.listSessionLeases();
  if (!leases) {
    logger().warning("cannot list session leases: %s", leases.status().message());
    return std::nullopt;
  }
  std::set<std::string> others;
  for (const auto& lease : leases.value()) {
    if (!lease.expired && lease.holder != options_.holder) others.insert(lease.session_id);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  others_ = others;
  // Taken by this replica since the list was read.
  for (const auto& pod_id : held_) others_.erase(pod_id);
  return others;
}

std::vector<std::string> SessionLeases::othersFor(const std::string& prefix) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> result;
  for (auto it = others_.lower_bound(prefix); it != others_.end() && hasPrefix(*it, prefix); ++it) {
    result.push_back(*it);
  }
  return result;
}

std::vector<std::string> SessionLeases::othersNow(const std::string& prefix) {
  // A failure is logged by heldElsewhereNow(); the view of the last refresh is still the best.
  heldElsewhereNow();
  return othersFor(prefix);
}

bool SessionLeases::claim(const std::string& pod_id) {
  std::lock_guard<std::mutex> io(io_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return false;
  }
  auto grant = storage_.acquireSessionLease(pod_id, options_.holder, options_.ttl.count(),
                                            sdk::LeaseMode::Acquire);
  if (!grant) {
    logger().warning("session=%s lease not claimed: %s", pod_id, grant.status().message());
    return false;
  }
  return grant.value().acquired;
}

void SessionLeases::unclaim(const std::string& pod_id) {
  std::lock_guard<std::mutex> io(io_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (wanted_.count(pod_id) != 0) return;  // a session here took it meanwhile
  }
  auto released = storage_.releaseSessionLease(pod_id, options_.holder);
  if (!released) {
    logger().warning("session=%s lease not released: %s", pod_id, released.message());
  }
}

std::set<std::string> SessionLeases::held() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return held_;
}

void SessionLeases::onNotification(const sdk::Notification& notification) {
  // Plugin thread: only a hint, checked against the database on the executor.
  std::vector<std::string> ids;
  if (!notification.resync) {
    if (holderOf(notification.payload) == options_.holder) return;  // this replica's own
    const std::string pod_id = podIdOf(notification.payload);
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_ || held_.count(pod_id) == 0) return;
    ids.push_back(pod_id);
  }
  blocking_.execute([this, ids] { verify(ids); });
}

void SessionLeases::scheduleHeartbeat(std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_) return;
  timer_ = timers_.runAfter(delay, [this] {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopped_) return;
    }
    blocking_.execute([this] {
      heartbeat();
      scheduleHeartbeat(options_.ttl / 3);
    });
  });
}

}  // namespace podterm::host
