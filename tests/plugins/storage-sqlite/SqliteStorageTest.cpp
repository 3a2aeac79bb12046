// storage-sqlite: the contract suite over the plugin's shared object, and what only SQLite has:
// a file path, WAL mode, migrations of a shared file, a busy database.

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "StoragePlugin.h"
#include "podterm/testing/storage_contract.h"

namespace podterm::tests::storage {
namespace {

namespace fs = std::filesystem;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using podterm::testing::StorageContractParam;
using podterm::testing::StorageContractTest;
using podterm::testing::upsert;

// A temporary directory for this process, removed at exit.
// Leaked on purpose: the atexit handler that removes it runs after static destructors.
const std::string& tempDir() {
  static const std::string* dir = [] {
    char tmpl[] = "/tmp/storage-sqlite-test.XXXXXX";
    auto* d = new std::string(::mkdtemp(tmpl));
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(tempDir(), ec);
    });
    return d;
  }();
  return *dir;
}

CreatedStorage createSqlite(std::map<std::string, TestConfigView::Value> values) {
  return createStorage("storage.sqlite", std::move(values), tempDir());
}

std::shared_ptr<sdk::Storage> contractStorage() {
  auto created = createSqlite({{std::string("path"), std::string("contract/storage.db")}});
  EXPECT_TRUE(created.status) << created.status.message();
  return created.storage;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StorageContractTest,
                         ::testing::Values(StorageContractParam{"sqlite", &contractStorage, false}),
                         podterm::testing::storageContractName);

// Reads the file directly, beside the plugin.
class SqliteFile {
 public:
  explicit SqliteFile(const std::string& path) {
    Poco::Data::SQLite::Connector::registerConnector();
    session_ = std::make_unique<Poco::Data::Session>("SQLite", path);
  }
  ~SqliteFile() {
    session_.reset();
    Poco::Data::SQLite::Connector::unregisterConnector();
  }
  Poco::Data::Session& session() { return *session_; }

 private:
  std::unique_ptr<Poco::Data::Session> session_;
};

TEST(SqliteStorage, ConfigErrorsNameTheirPosition) {
  struct Case {
    std::map<std::string, TestConfigView::Value> values;
    std::string where;
  };
  std::vector<Case> cases = {
      {{}, "test.toml:3:1: storage.sqlite.path"},
      {{{"path", int64_t{3}}}, "test.toml:3:1: storage.sqlite.path"},
      {{{"path", std::string("x.db")}, {"timeout_ms", std::string("soon")}},
       "test.toml:3:1: storage.sqlite.timeout_ms"},
      {{{"path", std::string("x.db")}, {"timeout_ms", int64_t{0}}},
       "test.toml:3:1: storage.sqlite.timeout_ms"},
  };
  for (const auto& c : cases) {
    auto created = createSqlite(c.values);
    EXPECT_EQ(created.status.code(), sdk::ErrorCode::InvalidArgument);
    EXPECT_EQ(created.status.message().rfind(c.where, 0), 0u) << created.status.message();
    EXPECT_EQ(created.storage, nullptr);
  }
}

TEST(SqliteStorage, ReadsEveryKeyItAccepts) {
  auto created = createSqlite({{"path", std::string("keys/k.db")}, {"timeout_ms", int64_t{2000}}});
  ASSERT_TRUE(created.status) << created.status.message();
  EXPECT_TRUE(created.unread_keys.empty());
}

TEST(SqliteStorage, RelativePathIsUnderTheConfigDirectoryInWalMode) {
  auto created = createSqlite({{"path", std::string("nested/dirs/made/here.db")}});
  ASSERT_TRUE(created.status) << created.status.message();
  std::string file = tempDir() + "/nested/dirs/made/here.db";
  ASSERT_TRUE(fs::exists(file));
  SqliteFile db(file);
  std::string mode;
  db.session() << "PRAGMA journal_mode", into(mode), now;
  EXPECT_EQ(mode, "wal");
  int tables = 0;
  db.session() << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                  "('workspace_items', 'workspace_leases', 'schema_migrations')",
      into(tables), now;
  EXPECT_EQ(tables, 3);
}

TEST(SqliteStorage, UnusablePathIsAClearError) {
  std::ofstream(tempDir() + "/plainfile") << "not a directory";
  auto under_file = createSqlite({{"path", std::string("plainfile/db.sqlite")}});
  EXPECT_EQ(under_file.status.code(), sdk::ErrorCode::InvalidArgument);
  EXPECT_EQ(under_file.status.message().rfind("test.toml:3:1: storage.sqlite.path: ", 0), 0u)
      << under_file.status.message();
  EXPECT_NE(under_file.status.message().find(tempDir() + "/plainfile"), std::string::npos)
      << under_file.status.message();

  fs::create_directories(tempDir() + "/isadir.db");
  auto directory = createSqlite({{"path", std::string("isadir.db")}});
  EXPECT_EQ(directory.status.code(), sdk::ErrorCode::InvalidArgument);
  EXPECT_NE(directory.status.message().find("is a directory"), std::string::npos)
      << directory.status.message();

  std::ofstream(tempDir() + "/garbage.db") << std::string(8192, 'x');
  auto garbage = createSqlite({{"path", std::string("garbage.db")}});
  EXPECT_FALSE(garbage.status);
  EXPECT_EQ(garbage.status.message().rfind("test.toml:3:1: storage.sqlite.path: ", 0), 0u)
      << garbage.status.message();
}

TEST(SqliteStorage, MigrationsAreIdempotent) {
  auto first = createSqlite({{"path", std::string("idem.db")}});
  ASSERT_TRUE(first.status) << first.status.message();
  ASSERT_TRUE(first.storage->applyBatch({"u", "w"}, {upsert("kept", "data")}));
  first.storage.reset();
  auto second = createSqlite({{"path", std::string("idem.db")}});
  ASSERT_TRUE(second.status) << second.status.message();
  auto items = second.storage->readItems({"u", "w"}, {"kept"});
  ASSERT_TRUE(items);
  ASSERT_EQ(items.value().size(), 1u);
  SqliteFile db(tempDir() + "/idem.db");
  int rows = 0, distinct = 0;
  db.session() << "SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations", into(rows),
      into(distinct), now;
  EXPECT_EQ(rows, distinct);
  EXPECT_GE(rows, 1);
}

TEST(SqliteStorage, ConcurrentCreatesMigrateOnce) {
  constexpr int kHosts = 4;
  std::vector<CreatedStorage> created(kHosts);
  std::vector<std::thread> threads;
  for (int i = 0; i < kHosts; ++i) {
    threads.emplace_back([&, i] { created[i] = createSqlite({{"path", std::string("race.db")}}); });
  }
  for (auto& t : threads) t.join();
  for (const auto& c : created) EXPECT_TRUE(c.status) << c.status.message();
  SqliteFile db(tempDir() + "/race.db");
  int rows = 0, distinct = 0;
  db.session() << "SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations", into(rows),
      into(distinct), now;
  EXPECT_EQ(rows, distinct);
  EXPECT_GE(rows, 1);
}

TEST(SqliteStorage, BusyDatabaseIsUnavailableThenRecovers) {
  auto created = createSqlite({{"path", std::string("busy.db")}, {"timeout_ms", int64_t{200}}});
  ASSERT_TRUE(created.status) << created.status.message();
  auto& storage = *created.storage;
  ASSERT_TRUE(storage.applyBatch({"u", "w"}, {upsert("a", "1")}));
  {
    SqliteFile db(tempDir() + "/busy.db");
    db.session() << "BEGIN EXCLUSIVE", now;
    auto r = storage.applyBatch({"u", "w"}, {upsert("b", "2")});
    EXPECT_EQ(r.status().code(), sdk::ErrorCode::Unavailable) << r.status().message();
    EXPECT_NE(r.status().message().find("busy.db"), std::string::npos) << r.status().message();
    // Readers are not blocked by a writer in WAL mode.
    auto manifest = storage.listManifest({"u", "w"}, false);
    EXPECT_TRUE(manifest) << manifest.status().message();
    db.session() << "ROLLBACK", now;
  }
  auto r = storage.applyBatch({"u", "w"}, {upsert("b", "2")});
  EXPECT_TRUE(r) << r.status().message();
}

// SQLite is one replica: notifications fan out within the storage object, never through the
// file to another object (another process on the same file would not see them either).
TEST(SqliteStorage, NotificationsStayWithinOneStorageObject) {
  auto a = createSqlite({{"path", std::string("notify.db")}});
  auto b = createSqlite({{"path", std::string("notify.db")}});
  ASSERT_TRUE(a.status && b.status);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> at_a, at_b;
  auto record = [&](std::vector<std::string>& into_list) {
    return [&mu, &cv, &into_list](const sdk::Notification& n) {
      std::lock_guard<std::mutex> lock(mu);
      into_list.push_back(n.resync ? "(resync)" : n.payload);
      cv.notify_all();
    };
  };
  auto sub_b = b.storage->subscribe("shared", record(at_b));
  auto sub_a = a.storage->subscribe("shared", record(at_a));
  ASSERT_TRUE(sub_a && sub_b);
  ASSERT_TRUE(a.storage->notify("shared", "from a"));
  ASSERT_TRUE(b.storage->notify("shared", "from b"));
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10),
                          [&] { return at_a.size() == 1 && at_b.size() == 1; }));
  EXPECT_EQ(at_a, std::vector<std::string>{"from a"});
  EXPECT_EQ(at_b, std::vector<std::string>{"from b"});
  lock.unlock();
  sub_a.value().reset();
  sub_b.value().reset();
}

}  // namespace
}  // namespace podterm::tests::storage
