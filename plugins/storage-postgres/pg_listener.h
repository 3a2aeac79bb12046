#pragma once
// The PostgreSQL side of Storage::subscribe: one connection of its own per storage object (libpq
// directly: Poco Data has no LISTEN), opened on the first subscribe, with a thread that LISTENs
// to the subscribed channels, waits on the socket with poll() and delivers each NOTIFY to the
// subscribers. When the connection drops it reconnects with backoff (100 ms doubling to 5 s),
// LISTENs again and gives every subscription a resync, since notifications sent meanwhile are
// lost. Channel names reach SQL only as identifiers quoted by PQescapeIdentifier.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "notifications.h"

typedef struct pg_conn PGconn;

namespace podterm::storage_postgres {

class PgListener final : public storage::Notifier {
 public:
  // conninfo: a libpq connection string with the password (never shown). timeout_ms bounds a
  // connection attempt and how long subscribe() waits for its LISTEN.
  PgListener(std::string conninfo, int64_t timeout_ms);
  ~PgListener() override;  // closes the connection and joins the thread

  sdk::Result<sdk::SubscriptionPtr> subscribe(const std::string& channel,
                                              sdk::NotificationCallback callback) override;
  // Unsupported: storage-postgres notifies with pg_notify() through its pool.
  sdk::Status publish(const std::string& channel, const std::string& payload) override;

  // The application_name of the listening connection, unless the connection string sets one.
  static constexpr const char* kApplicationName = "podterm-listener";

 private:
  void start();
  void wake();
  void drainWake();
  // Sleeps up to ms, or until woken; false when stopping.
  bool pause(int64_t ms);
  void run();
  PGconn* connect();  // null on failure or when stopping
  // LISTENs and UNLISTENs until the connection matches the subscriptions; false when the
  // connection failed.
  bool syncChannels(PGconn* conn, std::set<std::string>& listened);
  bool drainNotifications(PGconn* conn);

  const std::string conninfo_;
  const int64_t timeout_ms_;
  std::shared_ptr<storage::Subscribers> subscribers_;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::mutex start_mu_;
  std::thread thread_;
};

}  // namespace podterm::storage_postgres
