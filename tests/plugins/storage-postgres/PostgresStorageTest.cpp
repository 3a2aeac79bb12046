// storage-postgres: the contract suite over the plugin's shared object against the test server,
// and what only PostgreSQL has: a connection string and password file, a server that is down at
// start or restarts, several hosts migrating one database at once.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "PgTestServer.h"
#include "StoragePlugin.h"
#include "podterm/testing/storage_contract.h"

namespace podterm::tests::storage {
namespace {

namespace fs = std::filesystem;
using podterm::testing::StorageContractParam;
using podterm::testing::StorageContractTest;
using podterm::testing::upsert;

// Leaked on purpose: the atexit handler that removes it runs after static destructors.
const std::string& tempDir() {
  static const std::string* dir = [] {
    char tmpl[] = "/tmp/storage-postgres-test.XXXXXX";
    auto* d = new std::string(::mkdtemp(tmpl));
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(tempDir(), ec);
    });
    return d;
  }();
  return *dir;
}

CreatedStorage createPostgres(std::map<std::string, TestConfigView::Value> values) {
  return createStorage("storage.postgres", std::move(values), tempDir());
}

std::shared_ptr<sdk::Storage> contractStorage() {
  std::string conn = testDatabase();
  if (conn.empty()) return nullptr;  // skipped or failed already
  auto created = createPostgres({{"connection", conn}, {"pool_size", int64_t{6}}});
  EXPECT_TRUE(created.status) << created.status.message();
  return created.storage;
}

INSTANTIATE_TEST_SUITE_P(Postgres, StorageContractTest,
                         ::testing::Values(StorageContractParam{"postgres", &contractStorage}),
                         podterm::testing::storageContractName);

// --- a server of the test's own, on a port of its own --------------------------------------

std::string shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << command << "\n" << out;
  return out;
}

std::string asPostgres() {
  return ::geteuid() == 0 ? "runuser -u postgres -- " : "";
}

std::string pgBin() {
  return shell("ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1 | tr -d '\\n'");
}

class OwnServer {
 public:
  explicit OwnServer(int port) : port_(port) {}
  ~OwnServer() {
    if (!dir_.empty()) shell(std::string(PODTERM_SOURCE_DIR) + "/deploy/pg-down.sh " + dir_);
  }
  void create() {
    std::string out =
        shell("PGUP_PORT=" + std::to_string(port_) + " " + PODTERM_SOURCE_DIR + "/deploy/pg-up.sh");
    auto pos = out.find("PGTMP=");
    ASSERT_NE(pos, std::string::npos) << out;
    dir_ = out.substr(pos + 6, out.find(' ', pos) - pos - 6);
  }
  void stop() { shell(asPostgres() + pgBin() + "/pg_ctl -D " + dir_ + "/data -m fast -w stop"); }
  void start() {
    shell(asPostgres() + pgBin() + "/pg_ctl -D " + dir_ + "/data -l " + dir_ +
          "/server.log -w -t 30 -o \"-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) +
          " -k " + dir_ + " -c fsync=off\" start >/dev/null");
  }

 private:
  int port_;
  std::string dir_;
};

// --- config -------------------------------------------------------------------------------

TEST(PostgresStorage, ConfigErrorsNameTheirPosition) {
  std::ofstream(tempDir() + "/empty-password");
  struct Case {
    std::map<std::string, TestConfigView::Value> values;
    std::string where;
  };
  const std::string conn = "host=127.0.0.1 port=1 dbname=x user=y";
  std::vector<Case> cases = {
      {{}, "test.toml:3:1: storage.postgres.connection"},
      {{{"connection", int64_t{1}}}, "test.toml:3:1: storage.postgres.connection"},
      {{{"connection", std::string("postgresql://u@h/db")}},
       "test.toml:3:1: storage.postgres.connection"},
      {{{"connection", std::string("host='unterminated")}},
       "test.toml:3:1: storage.postgres.connection"},
      {{{"connection", conn}, {"pool_size", int64_t{0}}},
       "test.toml:3:1: storage.postgres.pool_size"},
      {{{"connection", conn}, {"timeout_ms", std::string("5s")}},
       "test.toml:3:1: storage.postgres.timeout_ms"},
      {{{"connection", conn}, {"password_file", std::string("no/such/file")}},
       "test.toml:3:1: storage.postgres.password_file"},
      {{{"connection", conn}, {"password_file", std::string("empty-password")}},
       "test.toml:3:1: storage.postgres.password_file"},
  };
  for (const auto& c : cases) {
    auto created = createPostgres(c.values);
    EXPECT_EQ(created.status.code(), sdk::ErrorCode::InvalidArgument) << created.status.message();
    EXPECT_EQ(created.status.message().rfind(c.where, 0), 0u) << created.status.message();
  }
}

TEST(PostgresStorage, UnreachableDatabaseDoesNotFailCreateAndHidesThePassword) {
  const std::string secret = "s3cr3t-must-not-show";
  std::ofstream(tempDir() + "/password") << secret << "\n";
  int port = freePort();
  std::map<std::string, TestConfigView::Value> config;
  config["connection"] =
      "host=127.0.0.1 port=" + std::to_string(port) + " dbname=podterm user=podterm";
  config["password_file"] = std::string("password");
  config["pool_size"] = int64_t{2};
  config["timeout_ms"] = int64_t{2000};
  auto created = createPostgres(config);
  ASSERT_TRUE(created.status) << created.status.message();
  EXPECT_TRUE(created.unread_keys.empty());
  auto r = created.storage->listManifest({"u", "w"}, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), sdk::ErrorCode::Unavailable);
  const std::string m = r.status().message();
  EXPECT_NE(m.find("127.0.0.1:" + std::to_string(port) + "/podterm"), std::string::npos) << m;
  EXPECT_EQ(m.find(secret), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;

  std::map<std::string, TestConfigView::Value> inline_config;
  inline_config["connection"] =
      "host=127.0.0.1 port=" + std::to_string(port) + " password=" + secret;
  auto inline_pw = createPostgres(inline_config);
  ASSERT_TRUE(inline_pw.status) << inline_pw.status.message();
  auto r2 = inline_pw.storage->acquireLease({"u", "w"}, "h", 1000);
  EXPECT_EQ(r2.status().code(), sdk::ErrorCode::Unavailable);
  EXPECT_EQ(r2.status().message().find(secret), std::string::npos) << r2.status().message();
}

// --- the database going away and coming back ---------------------------------------------------

TEST(PostgresStorage, DownAtStartThenRecoversAndSurvivesARestart) {
  if (testDatabase().empty()) return;  // no server binaries to test with either
  int port = freePort();
  std::map<std::string, TestConfigView::Value> config;
  config["connection"] =
      "host=127.0.0.1 port=" + std::to_string(port) + " dbname=postgres user=postgres";
  config["timeout_ms"] = int64_t{3000};
  auto created = createPostgres(config);
  ASSERT_TRUE(created.status) << created.status.message();
  auto& storage = *created.storage;
  sdk::WorkspaceId ws{"u", "w"};
  EXPECT_EQ(storage.listManifest(ws, false).status().code(), sdk::ErrorCode::Unavailable);

  OwnServer server(port);
  ASSERT_NO_FATAL_FAILURE(server.create());
  // The first call after the server is up connects and migrates.
  auto first = storage.applyBatch(ws, {upsert("after-start", "1")});
  ASSERT_TRUE(first) << first.status().message();

  server.stop();
  auto down = storage.readItems(ws, {"after-start"});
  EXPECT_EQ(down.status().code(), sdk::ErrorCode::Unavailable) << down.status().message();
  server.start();
  // Pooled connections the restart closed are replaced without the caller noticing.
  auto back = storage.readItems(ws, {"after-start"});
  ASSERT_TRUE(back) << back.status().message();
  ASSERT_EQ(back.value().size(), 1u);
  EXPECT_EQ(back.value()[0].content, "1");
}

// --- the LISTEN connection ---------------------------------------------------------------------

// Collects notifications; waits on a condition variable with a deadline.
class Inbox {
 public:
  sdk::NotificationCallback callback() {
    return [this](const sdk::Notification& n) {
      std::lock_guard<std::mutex> lock(mu_);
      if (n.resync) {
        ++resyncs_;
      } else {
        payloads_.push_back(n.payload);
      }
      cv_.notify_all();
    };
  }
  bool waitForResyncs(int count, std::chrono::seconds deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return resyncs_ >= count; });
  }
  bool waitForPayload(const std::string& payload, std::chrono::seconds deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, deadline, [&] {
      return std::find(payloads_.begin(), payloads_.end(), payload) != payloads_.end();
    });
  }
  int resyncs() {
    std::lock_guard<std::mutex> lock(mu_);
    return resyncs_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> payloads_;
  int resyncs_ = 0;
};

// Notifies until one arrives: after a reconnect the LISTEN may lag the resync by nothing, but a
// notification sent while the server restarts is lost by design.
bool delivered(sdk::Storage& storage, Inbox& inbox, const std::string& channel,
               const std::string& payload) {
  for (int attempt = 0; attempt < 30; ++attempt) {
    std::string p = payload + "-" + std::to_string(attempt);
    if (storage.notify(channel, p) && inbox.waitForPayload(p, std::chrono::seconds(1))) return true;
  }
  return false;
}

TEST(PostgresStorage, TheListenerReconnectsAndAsksForAResync) {
  std::string conn = testDatabase();
  if (conn.empty()) return;
  auto created = createPostgres({{"connection", conn}});
  ASSERT_TRUE(created.status) << created.status.message();
  auto& storage = *created.storage;
  Inbox inbox;
  const std::string channel = "reconnect." + std::to_string(::getpid());
  auto sub = storage.subscribe(channel, inbox.callback());
  ASSERT_TRUE(sub) << sub.status().message();
  ASSERT_TRUE(storage.notify(channel, "before"));
  ASSERT_TRUE(inbox.waitForPayload("before", std::chrono::seconds(10)));
  EXPECT_EQ(inbox.resyncs(), 0) << "a subscription made while connected needs no resync";

  // The server ends the listening connection (an operator, a failover, a restart).
  const std::string db = "podterm_test_" + std::to_string(::getpid());
  EXPECT_GE(queryInt(db, std::string("SELECT COUNT(pg_terminate_backend(pid)) FROM "
                                     "pg_stat_activity WHERE application_name = '") +
                             "podterm-listener' AND datname = current_database()"),
            1);
  ASSERT_TRUE(inbox.waitForResyncs(1, std::chrono::seconds(20)))
      << "the listener did not come back";
  ASSERT_TRUE(storage.notify(channel, "after"));
  ASSERT_TRUE(inbox.waitForPayload("after", std::chrono::seconds(10)));
  sub.value().reset();
}

TEST(PostgresStorage, SubscribingWhileTheServerIsDownResyncsWhenItIsUp) {
  if (testDatabase().empty()) return;
  int port = freePort();
  std::map<std::string, TestConfigView::Value> config;
  config["connection"] =
      "host=127.0.0.1 port=" + std::to_string(port) + " dbname=postgres user=postgres";
  config["timeout_ms"] = int64_t{1000};
  auto created = createPostgres(config);
  ASSERT_TRUE(created.status) << created.status.message();
  auto& storage = *created.storage;
  Inbox inbox;
  // Down: subscribe still stands (after waiting its timeout), notify is Unavailable.
  auto sub = storage.subscribe("updown", inbox.callback());
  ASSERT_TRUE(sub) << sub.status().message();
  EXPECT_EQ(storage.notify("updown", "lost").code(), sdk::ErrorCode::Unavailable);

  OwnServer server(port);
  ASSERT_NO_FATAL_FAILURE(server.create());
  ASSERT_TRUE(inbox.waitForResyncs(1, std::chrono::seconds(30)));
  ASSERT_TRUE(delivered(storage, inbox, "updown", "up"));

  server.stop();
  server.start();
  ASSERT_TRUE(inbox.waitForResyncs(2, std::chrono::seconds(30)));
  ASSERT_TRUE(delivered(storage, inbox, "updown", "restarted"));
  sub.value().reset();
}

TEST(PostgresStorage, SessionLeasesExpireByTheDatabaseClock) {
  std::string conn = testDatabase();
  if (conn.empty()) return;
  auto created = createPostgres({{"connection", conn}});
  ASSERT_TRUE(created.status) << created.status.message();
  const std::string id = "user_u_ws_w_1700000000000_clock" + std::to_string(::getpid());
  auto grant = created.storage->acquireSessionLease(id, "h", 60000, sdk::LeaseMode::Acquire);
  ASSERT_TRUE(grant) << grant.status().message();
  const std::string db = "podterm_test_" + std::to_string(::getpid());
  // The stored expiry is the server's now() + ttl, whatever this process's clock says.
  long long skew = queryInt(db,
                            "SELECT ABS(expires_ms - CAST(FLOOR(EXTRACT(EPOCH FROM now()) * "
                            "1000) AS BIGINT) - 60000) FROM session_leases WHERE "
                            "session_id = '" +
                                id + "'");
  EXPECT_LT(skew, 10000);
  EXPECT_EQ(grant.value().expires_unix_ms,
            queryInt(db, "SELECT expires_ms FROM session_leases WHERE session_id = '" + id + "'"));
}

// --- migrations ----------------------------------------------------------------------------

TEST(PostgresStorage, MigrationsAreIdempotentAndSafeFromSeveralHostsAtOnce) {
  if (testDatabase().empty()) return;
  const std::string db = "podterm_test_" + std::to_string(::getpid()) + "_migrations";
  createDatabase(db);
  struct Drop {
    std::string name;
    ~Drop() { dropDatabase(name); }
  } drop{db};
  constexpr int kHosts = 4;
  std::vector<CreatedStorage> created(kHosts);
  std::vector<std::thread> threads;
  for (int i = 0; i < kHosts; ++i) {
    threads.emplace_back([&, i] {
      created[i] = createPostgres({{"connection", connectionTo(db)}});
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& c : created) {
    ASSERT_TRUE(c.status) << c.status.message();
    // create() does not fail when it cannot reach the database: prove each one did.
    auto r = c.storage->listManifest({"u", "w"}, false);
    EXPECT_TRUE(r) << r.status().message();
  }
  long long rows = queryInt(db, "SELECT COUNT(*) FROM schema_migrations");
  long long distinct = queryInt(db, "SELECT COUNT(DISTINCT version) FROM schema_migrations");
  EXPECT_EQ(rows, distinct);
  EXPECT_GE(rows, 1);
  created.clear();
  auto again = createPostgres({{"connection", connectionTo(db)}});
  ASSERT_TRUE(again.status) << again.status.message();
  EXPECT_TRUE(again.storage->listManifest({"u", "w"}, false));
  EXPECT_EQ(queryInt(db, "SELECT COUNT(*) FROM schema_migrations"), rows);
  again.storage.reset();
}

}  // namespace
}  // namespace podterm::tests::storage
