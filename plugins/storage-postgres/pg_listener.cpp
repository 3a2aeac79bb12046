#include "pg_listener.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>

namespace podterm::storage_postgres {

namespace {

constexpr int64_t kFirstBackoffMs = 100;
constexpr int64_t kMaxBackoffMs = 5000;

int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// "LISTEN <quoted identifier>" (or UNLISTEN); false when the connection failed.
bool listenCommand(PGconn* conn, const char* verb, const std::string& channel) {
  char* quoted = PQescapeIdentifier(conn, channel.data(), channel.size());
  if (quoted == nullptr) return false;
  std::string sql = std::string(verb) + " " + quoted;
  PQfreemem(quoted);
  PGresult* result = PQexec(conn, sql.c_str());
  bool ok = result != nullptr && PQresultStatus(result) == PGRES_COMMAND_OK;
  PQclear(result);
  return ok;
}

}  // namespace

PgListener::PgListener(std::string conninfo, int64_t timeout_ms)
    : conninfo_(std::move(conninfo)),
      timeout_ms_(timeout_ms),
      subscribers_(std::make_shared<storage::Subscribers>(false)) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

PgListener::~PgListener() {
  stopping_ = true;
  wake();
  {
    std::lock_guard<std::mutex> lock(start_mu_);
    if (thread_.joinable()) thread_.join();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void PgListener::start() {
  std::lock_guard<std::mutex> lock(start_mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void PgListener::wake() {
  if (wake_fd_ < 0) return;
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_, &one, sizeof one);
  (void)n;  // EAGAIN: the counter is already non-zero, the thread wakes anyway
}

void PgListener::drainWake() {
  uint64_t value = 0;
  ssize_t n = ::read(wake_fd_, &value, sizeof value);
  (void)n;
}

sdk::Result<sdk::SubscriptionPtr> PgListener::subscribe(const std::string& channel,
                                                        sdk::NotificationCallback callback) {
  if (wake_fd_ < 0) {
    return sdk::Status(sdk::ErrorCode::Internal,
                       "storage-postgres: cannot create the listener's eventfd");
  }
  start();
  return subscribers_->subscribe(channel, std::move(callback), timeout_ms_, [this] { wake(); });
}

sdk::Status PgListener::publish(const std::string&, const std::string&) {
  return {sdk::ErrorCode::Unsupported, "storage-postgres notifies through the database"};
}

bool PgListener::pause(int64_t ms) {
  const int64_t deadline = steadyMs() + ms;
  while (!stopping_) {
    int64_t left = deadline - steadyMs();
    if (left <= 0) return true;
    pollfd fd{wake_fd_, POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(left)) > 0) drainWake();
  }
  return false;
}

PGconn* PgListener::connect() {
  PGconn* conn = PQconnectStart(conninfo_.c_str());
  if (conn == nullptr) return nullptr;
  if (PQstatus(conn) == CONNECTION_BAD) {
    PQfinish(conn);
    return nullptr;
  }
  const int64_t deadline = steadyMs() + timeout_ms_;
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED || stopping_) {
      PQfinish(conn);
      return nullptr;
    }
    int64_t left = deadline - steadyMs();
    if (left <= 0) {
      PQfinish(conn);
      return nullptr;
    }
    pollfd fds[2] = {
        {PQsocket(conn), static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0},
        {wake_fd_, POLLIN, 0}};
    int n = ::poll(fds, 2, static_cast<int>(left));
    if (n < 0 && errno != EINTR) {
      PQfinish(conn);
      return nullptr;
    }
    if (fds[1].revents != 0) drainWake();  // a new subscription: LISTENed once connected
    if (fds[0].revents != 0) state = PQconnectPoll(conn);
  }
  return conn;
}

bool PgListener::syncChannels(PGconn* conn, std::set<std::string>& listened) {
  std::set<std::string> wanted = subscribers_->channels();
  for (auto it = listened.begin(); it != listened.end();) {
    if (wanted.count(*it) != 0) {
      ++it;
      continue;
    }
    subscribers_->notListening(*it);
    if (!listenCommand(conn, "UNLISTEN", *it)) return false;
    it = listened.erase(it);
  }
  for (const auto& channel : wanted) {
    if (listened.count(channel) != 0) continue;
    if (!listenCommand(conn, "LISTEN", channel)) return false;
    listened.insert(channel);
    // From here on every NOTIFY on the channel reaches this connection.
    subscribers_->listening(channel);
  }
  return true;
}

bool PgListener::drainNotifications(PGconn* conn) {
  if (PQconsumeInput(conn) == 0) return false;
  while (PGnotify* n = PQnotifies(conn)) {
    std::string channel = n->relname != nullptr ? n->relname : "";
    std::string payload = n->extra != nullptr ? n->extra : "";
    PQfreemem(n);
    subscribers_->deliver(channel, payload);
  }
  return PQstatus(conn) == CONNECTION_OK;
}

void PgListener::run() {
  subscribers_->setDeliveryThread(std::this_thread::get_id());
  int64_t backoff = kFirstBackoffMs;
  while (!stopping_) {
    PGconn* conn = connect();
    if (conn == nullptr) {
      if (!pause(backoff)) return;
      backoff = std::min(backoff * 2, kMaxBackoffMs);
      continue;
    }
    std::set<std::string> listened;
    bool ok = true;
    bool first = true;
    while (ok && !stopping_) {
      // LISTEN may have queued notifications already read from the socket: drain them first.
      ok = syncChannels(conn, listened) && drainNotifications(conn);
      if (!ok) break;
      if (first) {
        backoff = kFirstBackoffMs;  // a connection that LISTENs is healthy again
        first = false;
      }
      pollfd fds[2] = {{PQsocket(conn), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      int n = ::poll(fds, 2, -1);
      if (n < 0) {
        ok = errno == EINTR;
        continue;
      }
      if (fds[1].revents != 0) drainWake();
      if (fds[0].revents != 0) ok = drainNotifications(conn);
    }
    PQfinish(conn);
    subscribers_->lost();
    if (stopping_) return;
    if (!pause(backoff)) return;
    backoff = std::min(backoff * 2, kMaxBackoffMs);
  }
}

}  // namespace podterm::storage_postgres
