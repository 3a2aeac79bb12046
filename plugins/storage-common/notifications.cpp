#include "notifications.h"

#include <chrono>
#include <tuple>

#include "item_paths.h"

namespace podterm::storage {

namespace {

// Removes its subscription when destroyed. Holds the registry, not the storage: a handle that
// outlives its storage (which the SDK forbids) still only touches live memory.
class Handle final : public sdk::Subscription {
 public:
  Handle(std::shared_ptr<Subscribers> subscribers, uint64_t id)
      : subscribers_(std::move(subscribers)), id_(id) {}
  ~Handle() override { subscribers_->remove(id_); }

 private:
  std::shared_ptr<Subscribers> subscribers_;
  uint64_t id_;
};

}  // namespace

sdk::Status validateChannel(const std::string& channel) {
  if (channel.empty() || channel.size() > 63) {
    return {sdk::ErrorCode::InvalidArgument,
            "a notification channel has 1 to 63 bytes, not " + std::to_string(channel.size())};
  }
  for (char c : channel) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) {
      return {sdk::ErrorCode::InvalidArgument,
              "a notification channel is made of letters, digits and _ . : -, not " +
                  quotePath(channel)};
    }
  }
  return sdk::Status::ok();
}

sdk::Status validatePayload(const std::string& payload) {
  if (payload.size() > sdk::kMaxNotificationPayloadBytes) {
    return {sdk::ErrorCode::InvalidArgument, "a notification payload has at most " +
                                                 std::to_string(sdk::kMaxNotificationPayloadBytes) +
                                                 " bytes, not " + std::to_string(payload.size())};
  }
  if (payload.empty()) return sdk::Status::ok();
  if (sdk::Status st = validateText("a notification payload", payload); !st) return st;
  return sdk::Status::ok();
}

sdk::Result<sdk::SubscriptionPtr> Subscribers::subscribe(const std::string& channel,
                                                         sdk::NotificationCallback callback,
                                                         int64_t wait_ms,
                                                         const std::function<void()>& wake) {
  if (!callback) return sdk::Status(sdk::ErrorCode::InvalidArgument, "no callback to subscribe");
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    Entry e;
    e.channel = channel;
    e.callback = std::make_shared<const sdk::NotificationCallback>(std::move(callback));
    entries_.emplace(id, std::move(e));
    if (always_listening_) listening_.insert(channel);
  }
  auto handle = std::make_unique<Handle>(shared_from_this(), id);
  if (wake) wake();
  std::unique_lock<std::mutex> lock(mu_);
  // From inside a callback the delivery thread cannot LISTEN while it waits here: do not wait.
  if (std::this_thread::get_id() == delivery_thread_) wait_ms = 0;
  bool listened = cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                               [&] { return listening_.count(channel) != 0; });
  if (!listened) {
    // Decided under the same lock the source marks a channel listened under: the source's
    // listening() call, whenever it comes, delivers this resync.
    auto it = entries_.find(id);
    if (it != entries_.end()) it->second.needs_resync = true;
  }
  return sdk::SubscriptionPtr(std::move(handle));
}

void Subscribers::remove(uint64_t id) {
  std::unique_lock<std::mutex> lock(mu_);
  entries_.erase(id);
  if (std::this_thread::get_id() == delivery_thread_) return;  // from inside a callback
  cv_.wait(lock, [&] { return running_ != id; });
}

std::set<std::string> Subscribers::channels() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> out;
  for (const auto& [id, e] : entries_) out.insert(e.channel);
  return out;
}

void Subscribers::setDeliveryThread(std::thread::id id) {
  std::lock_guard<std::mutex> lock(mu_);
  delivery_thread_ = id;
}

void Subscribers::call(uint64_t id,
                       const std::shared_ptr<const sdk::NotificationCallback>& callback,
                       const sdk::Notification& n) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.count(id) == 0) return;  // removed since the list was taken
    running_ = id;
  }
  try {
    (*callback)(n);
  } catch (...) {
    // The SDK forbids it; it must not end the delivery thread.
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = 0;
  }
  cv_.notify_all();
}

void Subscribers::listening(const std::string& channel) {
  std::vector<std::pair<uint64_t, std::shared_ptr<const sdk::NotificationCallback>>> resync;
  {
    std::lock_guard<std::mutex> lock(mu_);
    listening_.insert(channel);
    for (auto& [id, e] : entries_) {
      if (e.channel == channel && e.needs_resync) {
        e.needs_resync = false;
        resync.emplace_back(id, e.callback);
      }
    }
  }
  cv_.notify_all();
  sdk::Notification n;
  n.channel = channel;
  n.resync = true;
  for (const auto& [id, callback] : resync) call(id, callback, n);
}

void Subscribers::notListening(const std::string& channel) {
  std::lock_guard<std::mutex> lock(mu_);
  listening_.erase(channel);
}

void Subscribers::lost() {
  std::lock_guard<std::mutex> lock(mu_);
  listening_.clear();
  for (auto& [id, e] : entries_) e.needs_resync = true;
}

void Subscribers::deliver(const std::string& channel, const std::string& payload) {
  std::vector<std::pair<uint64_t, std::shared_ptr<const sdk::NotificationCallback>>> targets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, e] : entries_) {
      if (e.channel == channel) targets.emplace_back(id, e.callback);
    }
  }
  if (targets.empty()) return;
  sdk::Notification n;
  n.channel = channel;
  n.payload = payload;
  for (const auto& [id, callback] : targets) call(id, callback, n);
}

void Subscribers::resyncAll() {
  std::vector<std::tuple<uint64_t, std::shared_ptr<const sdk::NotificationCallback>, std::string>>
      targets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, e] : entries_) {
      e.needs_resync = false;
      targets.emplace_back(id, e.callback, e.channel);
    }
  }
  for (const auto& [id, callback, channel] : targets) {
    sdk::Notification n;
    n.channel = channel;
    n.resync = true;
    call(id, callback, n);
  }
}

LocalNotifier::LocalNotifier() : subscribers_(std::make_shared<Subscribers>(true)) {}

LocalNotifier::~LocalNotifier() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LocalNotifier::startLocked() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

sdk::Result<sdk::SubscriptionPtr> LocalNotifier::subscribe(const std::string& channel,
                                                           sdk::NotificationCallback callback) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    startLocked();
  }
  return subscribers_->subscribe(channel, std::move(callback), 0, nullptr);
}

sdk::Status LocalNotifier::publish(const std::string& channel, const std::string& payload) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    startLocked();
    if (queue_.size() >= kMaxQueued) {
      queue_.clear();
      overflowed_ = true;
    } else {
      queue_.emplace_back(channel, payload);
    }
  }
  cv_.notify_one();
  return sdk::Status::ok();
}

void LocalNotifier::run() {
  subscribers_->setDeliveryThread(std::this_thread::get_id());
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || overflowed_ || !queue_.empty(); });
    if (stopping_) return;
    if (overflowed_) {
      overflowed_ = false;
      lock.unlock();
      subscribers_->resyncAll();
      lock.lock();
      continue;
    }
    auto next = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    subscribers_->deliver(next.first, next.second);
    lock.lock();
  }
}

}  // namespace podterm::storage
