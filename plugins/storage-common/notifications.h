#pragma once
// Notify/subscribe for the storage plugins (sdk::Storage::notify and subscribe).
//
// Subscribers keeps the subscriptions of one plugin instance and delivers to them; a source feeds
// it from a thread of the plugin: LocalNotifier (in-process fan-out, SQLite: one replica) or the
// PostgreSQL listener (storage-postgres: LISTEN on a connection of its own). Callbacks run on
// that one thread, in the order the source saw the notifications; a callback that throws is
// ignored. Destroying a subscription's handle removes it and waits for a callback of it that is
// running on another thread, so no callback starts or runs after the destructor returns (from
// inside its own callback it only removes it).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "podterm/result.h"
#include "podterm/storage.h"

namespace podterm::storage {

// A channel is 1 to 63 bytes (PostgreSQL's identifier length) of [A-Za-z0-9_.:-].
sdk::Status validateChannel(const std::string& channel);
// A payload is valid UTF-8 without NUL, at most sdk::kMaxNotificationPayloadBytes bytes.
sdk::Status validatePayload(const std::string& payload);

class Subscribers : public std::enable_shared_from_this<Subscribers> {
 public:
  // always_listening: every channel is listened to as soon as it is subscribed (in-process).
  explicit Subscribers(bool always_listening) : always_listening_(always_listening) {}

  // Registers callback and returns its handle; waits up to wait_ms until the source listens to
  // the channel (woken through wake). If it does not by then the subscription still stands and
  // gets a resync once the source listens.
  sdk::Result<sdk::SubscriptionPtr> subscribe(const std::string& channel,
                                              sdk::NotificationCallback callback, int64_t wait_ms,
                                              const std::function<void()>& wake);
  void remove(uint64_t id);

  // For the source's thread.
  std::set<std::string> channels() const;
  // The source now listens to channel: subscriptions that may have missed something get their
  // resync.
  void listening(const std::string& channel);
  void notListening(const std::string& channel);
  // The source lost its connection: nothing is listened to, every subscription needs a resync.
  void lost();
  void deliver(const std::string& channel, const std::string& payload);
  // Every subscription gets a resync now (the in-process queue overflowed).
  void resyncAll();
  // The source's delivery thread (a handle destroyed on it does not wait for itself).
  void setDeliveryThread(std::thread::id id);

 private:
  struct Entry {
    std::string channel;
    std::shared_ptr<const sdk::NotificationCallback> callback;
    bool needs_resync = false;
  };
  void call(uint64_t id, const std::shared_ptr<const sdk::NotificationCallback>& callback,
            const sdk::Notification& n);

  const bool always_listening_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Entry> entries_;
  std::set<std::string> listening_;
  uint64_t running_ = 0;  // the subscription whose callback is running now, or 0
  std::thread::id delivery_thread_;
};

// The notify/subscribe of one storage object.
class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual sdk::Result<sdk::SubscriptionPtr> subscribe(const std::string& channel,
                                                      sdk::NotificationCallback callback) = 0;
  // Delivers in-process. Unsupported for a source that takes notifications from the database
  // (the storage then notifies with SQL).
  virtual sdk::Status publish(const std::string& channel, const std::string& payload) = 0;
};

// In-process fan-out: publish() queues, a thread of its own (started on first use) delivers.
class LocalNotifier final : public Notifier {
 public:
  LocalNotifier();
  ~LocalNotifier() override;  // joins the thread

  sdk::Result<sdk::SubscriptionPtr> subscribe(const std::string& channel,
                                              sdk::NotificationCallback callback) override;
  sdk::Status publish(const std::string& channel, const std::string& payload) override;

  // Past this many undelivered notifications the queue is dropped and everyone gets a resync.
  static constexpr size_t kMaxQueued = 65536;

 private:
  void startLocked();
  void run();

  std::shared_ptr<Subscribers> subscribers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::string>> queue_;
  bool overflowed_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace podterm::storage
