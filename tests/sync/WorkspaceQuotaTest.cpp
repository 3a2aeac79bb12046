// Workspace quotas (limits.workspace_max_bytes, limits.workspace_max_files): the arithmetic, and
// syncs that would exceed a quota refused as a whole over the real fakepod runtime.

#include <algorithm>

#include "SyncFixture.h"
#include "sync/WorkspaceQuota.h"

namespace podterm::tests::sync {
namespace {

using host::QuotaExceeded;
using host::SessionSyncState;
using host::SyncOptions;
using host::WorkspaceQuota;
using host::WorkspaceUsage;

sdk::ItemMeta row(const std::string& path, sdk::ItemKind kind, int64_t size, bool deleted = false) {
  sdk::ItemMeta meta;
  meta.path = path;
  meta.kind = kind;
  meta.size = size;
  meta.deleted = deleted;
  return meta;
}

sdk::ItemChange upsert(const std::string& path, int64_t size,
                       sdk::ItemKind kind = sdk::ItemKind::File) {
  sdk::ItemChange change;
  change.item.meta = row(path, kind, size);
  return change;
}

sdk::ItemChange remove(const std::string& path) {
  sdk::ItemChange change;
  change.op = sdk::ItemChange::Op::Delete;
  change.item.meta.path = path;
  return change;
}

TEST(WorkspaceQuotaTest, UsageCountsLiveRowsAndTheirContent) {
  auto usage = host::usageOf(
      {row("a", sdk::ItemKind::File, 10), row("d", sdk::ItemKind::Directory, 4096),
       row("l", sdk::ItemKind::Symlink, 3), row("gone", sdk::ItemKind::File, 1000, true)});
  EXPECT_EQ(usage.bytes, 13u);  // a directory's size is not content
  EXPECT_EQ(usage.files, 3u);   // directories and links are entries too; deleted rows are not
}

TEST(WorkspaceQuotaTest, UsageAfterReplacesAddsAndDeletes) {
  std::vector<sdk::ItemMeta> rows = {row("a", sdk::ItemKind::File, 10),
                                     row("b", sdk::ItemKind::File, 20)};
  auto live = [&](const std::string& path) -> const sdk::ItemMeta* {
    auto it = std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.path == path; });
    return it != rows.end() ? &*it : nullptr;
  };
  auto after = host::usageAfter(
      host::usageOf(rows), {upsert("a", 15), upsert("c", 7), remove("b"), remove("never")}, live);
  EXPECT_EQ(after.bytes, 22u);
  EXPECT_EQ(after.files, 2u);
}

TEST(WorkspaceQuotaTest, RefusedOnlyWhenOverAndGrowing) {
  const WorkspaceQuota quota{100, 3};
  EXPECT_FALSE(host::checkQuota(quota, {50, 1}, {100, 3}));  // exactly at the quota is fine
  auto bytes = host::checkQuota(quota, {50, 1}, {101, 2});
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->kind, QuotaExceeded::Kind::Bytes);
  EXPECT_EQ(bytes->current, 50u);
  EXPECT_EQ(bytes->needed, 101u);
  auto files = host::checkQuota(quota, {50, 3}, {60, 4});
  ASSERT_TRUE(files);
  EXPECT_STREQ(files->key(), "limits.workspace_max_files");
  // Over a lowered quota already: shrinking is allowed, growing is not.
  EXPECT_FALSE(host::checkQuota(quota, {500, 9}, {400, 8}));
  EXPECT_TRUE(host::checkQuota(quota, {500, 9}, {501, 8}));
  EXPECT_FALSE(host::checkQuota(WorkspaceQuota{}, {0, 0}, {1u << 30, 1000000}));  // unlimited
}

TEST(WorkspaceQuotaTest, TheMessageNamesTheQuotaAndTheStoredSize) {
  QuotaExceeded bytes{QuotaExceeded::Kind::Bytes, uint64_t{1} << 30, 900u << 20,
                      (uint64_t{1} << 30) + (200u << 20)};
  EXPECT_EQ(host::describe(bytes),
            "workspace quota exceeded: the files would take 1.2 GiB, more than the workspace quota "
            "of 1.0 GiB (limits.workspace_max_bytes); stored now: 900.0 MiB. Nothing was saved; "
            "delete files to save again");
  QuotaExceeded close{QuotaExceeded::Kind::Bytes, uint64_t{1} << 30, 1070000000, 1075242880};
  EXPECT_EQ(host::describe(close),
            "workspace quota exceeded: the files would take 1.0 GiB (1075242880 bytes), more "
            "than the workspace quota of 1.0 GiB (1073741824 bytes) (limits.workspace_max_bytes); "
            "stored now: 1020.4 MiB. Nothing was saved; delete files to save again");
  QuotaExceeded files{QuotaExceeded::Kind::Files, 3, 2, 4};
  EXPECT_EQ(host::describe(files),
            "workspace quota exceeded: 4 files and folders, more than the workspace quota of 3 "
            "(limits.workspace_max_files); stored now: 2. Nothing was saved; delete files to save "
            "again");
}

// --- syncs ------------------------------------------------------------------------------------

class QuotaSyncTest : public SyncTest {
 protected:
  // Every row with its version: equal snapshots mean the database was left exactly as it was.
  std::vector<std::pair<std::string, int64_t>> snapshot() {
    std::vector<std::pair<std::string, int64_t>> rows;
    auto manifest = storage_.listManifest(ws_, true);
    if (!manifest) return {{"<storage error>", 0}};
    for (const auto& meta : manifest.value()) {
      rows.emplace_back(meta.path + (meta.deleted ? " (deleted)" : ""), meta.version);
    }
    std::sort(rows.begin(), rows.end());
    return rows;
  }
  host::WorkspaceSync makeQuotaSync(uint64_t max_bytes, uint64_t max_files) {
    SyncOptions options;
    options.quota = {max_bytes, max_files};
    return makeSync(options);
  }
};

TEST_F(QuotaSyncTest, ASyncOverTheByteQuotaIsRefusedWholeAndSucceedsAfterDeletes) {
  putFile("keep", std::string(40, 'k'));
  auto sync = makeQuotaSync(100, 0);
  auto session = startPod("qbytes");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(sh(session, "head -c 30 /dev/zero > a && head -c 50 /dev/zero > b").succeeded());
  const auto before = snapshot();
  const size_t batches = storage_.batches();

  auto refused = sync.syncFromPod(session, ws_, state);
  EXPECT_EQ(refused.status.code(), sdk::ErrorCode::PermissionDenied);
  ASSERT_TRUE(refused.quota_exceeded);
  EXPECT_EQ(refused.quota_exceeded->kind, QuotaExceeded::Kind::Bytes);
  EXPECT_EQ(refused.quota_exceeded->current, 40u);
  EXPECT_EQ(refused.quota_exceeded->needed, 120u);
  EXPECT_NE(refused.status.message().find("quota of 100 bytes"), std::string::npos)
      << refused.status.message();
  EXPECT_NE(refused.status.message().find("stored now: 40 bytes"), std::string::npos);
  EXPECT_TRUE(refused.created.empty());
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(storage_.batches(), batches);  // not even attempted

  // Refused again while nothing changed; saved once enough is deleted.
  EXPECT_FALSE(sync.syncFromPod(session, ws_, state).ok());
  ASSERT_TRUE(sh(session, "rm b").succeeded());
  auto saved = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(saved));
  EXPECT_EQ(saved.created, std::vector<std::string>{"a"});
  EXPECT_EQ(stored("a"), std::string(30, '\0'));
  EXPECT_FALSE(isLive("b"));
}

TEST_F(QuotaSyncTest, ASyncOverTheFileQuotaIsRefusedAndDirectoriesCount) {
  putFile("x", "x");
  auto sync = makeQuotaSync(0, 3);
  auto session = startPod("qfiles");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(sh(session, "mkdir d && echo 1 > d/1 && echo 2 > d/2").succeeded());
  const auto before = snapshot();
  auto refused = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(refused.quota_exceeded);
  EXPECT_EQ(refused.quota_exceeded->kind, QuotaExceeded::Kind::Files);
  EXPECT_EQ(refused.quota_exceeded->needed, 4u);
  EXPECT_EQ(refused.quota_exceeded->current, 1u);
  EXPECT_EQ(snapshot(), before);
  ASSERT_TRUE(sh(session, "rm d/2").succeeded());
  ASSERT_TRUE(reportOk(sync.syncFromPod(session, ws_, state)));
  EXPECT_EQ(stored("d/1"), "1\n");
}

TEST_F(QuotaSyncTest, AWorkspaceOverALoweredQuotaCanShrinkButNotGrow) {
  putFile("big", std::string(200, 'b'));
  putFile("small", "s");
  auto sync = makeQuotaSync(100, 0);
  auto session = startPod("qshrink");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(sh(session, "rm small").succeeded());
  ASSERT_TRUE(reportOk(sync.syncFromPod(session, ws_, state)));
  EXPECT_FALSE(isLive("small"));
  ASSERT_TRUE(sh(session, "echo more > more").succeeded());
  EXPECT_TRUE(sync.syncFromPod(session, ws_, state).quota_exceeded);
  EXPECT_FALSE(isLive("more"));
}

// The batch loses its compare-and-swap to another writer; the conflict copy that resolution
// adds would exceed the quota, so the whole sync is refused and the other writer's row stays.
TEST_F(QuotaSyncTest, AConflictCopyIsCheckedAgainstTheQuotaToo) {
  putFile("race.txt", std::string(30, 'b'));
  auto sync = makeQuotaSync(50, 0);
  auto session = startPod("qrace");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(sh(session, "head -c 30 /dev/zero > race.txt").succeeded());
  storage_.beforeNextBatch([&] { putFile("race.txt", std::string(30, 't')); });
  auto report = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(report.quota_exceeded) << report.summary();
  EXPECT_EQ(report.quota_exceeded->needed, 60u);
  EXPECT_TRUE(report.conflicts.empty());
  EXPECT_EQ(stored("race.txt"), std::string(30, 't'));
  EXPECT_EQ(snapshot().size(), 1u);  // no copy was stored
}

}  // namespace
}  // namespace podterm::tests::sync
