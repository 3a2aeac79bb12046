// A few sync cases over the real storage-sqlite plugin (dlopen'ed like the host does) rather
// than the in-memory fake: the CAS, soft-delete and lease semantics the sync relies on.

#include <stdlib.h>

#include <filesystem>

#include "StoragePlugin.h"
#include "SyncFixture.h"

namespace podterm::tests::sync {
namespace {

using host::SessionSyncState;

class SqliteSyncTest : public SyncTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sync-sqlite.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    auto created =
        storage::createStorage("storage.sqlite", {{"path", std::string("db.sqlite")}}, dir_);
    ASSERT_TRUE(created.status) << created.status.message();
    db_ = created.storage;
  }
  void TearDown() override {
    SyncTest::TearDown();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void seed(const std::string& path, const std::string& content) {
    sdk::ItemChange change;
    change.item.meta.path = path;
    change.item.meta.kind = sdk::ItemKind::File;
    change.item.meta.size = static_cast<int64_t>(content.size());
    change.item.meta.mode = 0644;
    change.item.meta.mtime_ms = 1700000000456;
    change.item.meta.content_hash = host::sha256Hex(content);
    change.item.content = content;
    ASSERT_TRUE(db_->applyBatch(ws_, {change}));
  }
  std::string content(const std::string& path) {
    auto items = db_->readItems(ws_, {path});
    if (!items || items.value().empty()) return "<none>";
    return items.value().front().content;
  }

  std::string dir_;
  std::shared_ptr<sdk::Storage> db_;
};

TEST_F(SqliteSyncTest, RoundTripWithDeletesAndBinary) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  seed("bin", bytes);
  seed("gone", "x");
  seed("odd\nname -x", "odd");
  host::WorkspaceSync sync(*runtime_, *db_);
  auto session = startPod("sqlite");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(sh(session, "rm gone && cp bin bin2 && mkdir -p e/f").succeeded());
  auto report = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  EXPECT_EQ(content("bin2"), bytes);
  EXPECT_EQ(content("gone"), "<none>");
  EXPECT_EQ(content("odd\nname -x"), "odd");
  EXPECT_EQ(report.deleted, std::vector<std::string>{"gone"});
  SessionSyncState fresh;
  auto again = sync.syncFromPod(session, ws_, fresh);
  ASSERT_TRUE(reportOk(again));
  EXPECT_LE(again.fetched_files, 1u);  // bin2, written just now, is checked by hash
  EXPECT_TRUE(again.created.empty() && again.changed.empty() && again.deleted.empty());
}

TEST_F(SqliteSyncTest, TwoSessionsConflictKeepsBoth) {
  seed("notes.txt", "base");
  host::WorkspaceSync sync(*runtime_, *db_);
  auto a = startPod("sqlA");
  auto b = startPod("sqlB");
  SessionSyncState sa, sb;
  ASSERT_TRUE(reportOk(sync.load(a, ws_, sa)));
  ASSERT_TRUE(reportOk(sync.load(b, ws_, sb)));
  ASSERT_TRUE(sh(a, "echo A > notes.txt && echo new > only-a").succeeded());
  ASSERT_TRUE(sh(b, "echo B > notes.txt").succeeded());
  ASSERT_TRUE(reportOk(sync.syncFromPod(a, ws_, sa)));
  auto report = sync.syncFromPod(b, ws_, sb);
  ASSERT_TRUE(reportOk(report));
  EXPECT_EQ(content("notes.txt"), "B\n");
  EXPECT_EQ(content("only-a"), "new\n");
  ASSERT_EQ(report.conflicts.size(), 1u);
  EXPECT_EQ(content(report.conflicts[0].copy_path), "A\n");
}

}  // namespace
}  // namespace podterm::tests::sync
