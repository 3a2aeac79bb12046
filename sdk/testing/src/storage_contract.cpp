#include "podterm/testing/storage_contract.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace podterm::testing {

using namespace std::chrono_literals;
using sdk::ErrorCode;
using sdk::ItemChange;
using sdk::WorkspaceId;

namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hexOf(const std::string& s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s.substr(0, 16)) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::map<std::string, sdk::ItemMeta> byPath(const std::vector<sdk::ItemMeta>& rows) {
  std::map<std::string, sdk::ItemMeta> out;
  for (const auto& m : rows) out[m.path] = m;
  return out;
}

std::map<std::string, sdk::Item> byPath(const std::vector<sdk::Item>& rows) {
  std::map<std::string, sdk::Item> out;
  for (const auto& i : rows) out[i.meta.path] = i;
  return out;
}

// Applies changes and expects success; returns the versions.
std::vector<int64_t> apply(sdk::Storage& s, const WorkspaceId& ws,
                           std::vector<ItemChange> changes) {
  auto r = s.applyBatch(ws, changes);
  EXPECT_TRUE(r) << r.status().message();
  return r ? r.value().versions : std::vector<int64_t>{};
}

std::vector<sdk::ItemMeta> manifest(sdk::Storage& s, const WorkspaceId& ws, bool deleted = false) {
  auto r = s.listManifest(ws, deleted);
  EXPECT_TRUE(r) << r.status().message();
  return r ? r.value() : std::vector<sdk::ItemMeta>{};
}

std::vector<sdk::Item> read(sdk::Storage& s, const WorkspaceId& ws,
                            const std::vector<std::string>& paths) {
  auto r = s.readItems(ws, paths);
  EXPECT_TRUE(r) << r.status().message();
  return r ? r.value() : std::vector<sdk::Item>{};
}

}  // namespace

std::string storageContractName(const ::testing::TestParamInfo<StorageContractParam>& info) {
  std::string name;
  for (char c : info.param.name) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

sdk::Item fileItem(const std::string& path, const std::string& content, uint32_t mode) {
  sdk::Item item;
  item.meta.path = path;
  item.meta.kind = sdk::ItemKind::File;
  item.meta.size = static_cast<int64_t>(content.size());
  item.meta.mode = mode;
  item.meta.mtime_ms = 1700000000123;
  item.meta.content_hash = hexOf(content);
  item.content = content;
  return item;
}

sdk::ItemChange upsert(const std::string& path, const std::string& content,
                       int64_t expected_version) {
  ItemChange c;
  c.op = ItemChange::Op::Upsert;
  c.item = fileItem(path, content);
  c.expected_version = expected_version;
  return c;
}

sdk::ItemChange removal(const std::string& path, int64_t expected_version) {
  ItemChange c;
  c.op = ItemChange::Op::Delete;
  c.item.meta.path = path;
  c.expected_version = expected_version;
  return c;
}

void StorageContractTest::SetUp() {
  storage_ = GetParam().factory();
  if (IsSkipped()) return;  // the factory skipped the case (e.g. no database to test against)
  ASSERT_NE(storage_, nullptr) << "the storage could not be built";
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const int n = counter++;
  user_ = std::string("u-") + info->name() + "-" + std::to_string(::getpid()) + "-" +
          std::to_string(nowMs()) + "-" + std::to_string(n);
  tag_ = "t" + std::to_string(::getpid()) + "." + std::to_string(nowMs() % 100000000) + "." +
         std::to_string(n);
}

void StorageContractTest::TearDown() {
  storage_.reset();
}

WorkspaceId StorageContractTest::workspace(const std::string& suffix) const {
  return {user_, suffix};
}

std::string StorageContractTest::sessionId(const std::string& suffix) const {
  return user_ + "_ws_" + suffix + "_1700000000000_" + tag_;
}

std::string StorageContractTest::channel(const std::string& suffix) const {
  return (tag_ + "." + suffix).substr(0, 63);
}

std::shared_ptr<sdk::Storage> StorageContractTest::another() {
  auto other = GetParam().factory();
  EXPECT_NE(other, nullptr) << "the factory built no second storage";
  return other;
}

TEST_P(StorageContractTest, UpsertThenListAndRead) {
  auto ws = workspace();
  sdk::Item dir;
  dir.meta.path = "src";
  dir.meta.kind = sdk::ItemKind::Directory;
  dir.meta.mode = 0755;
  sdk::Item link;
  link.meta.path = "src/link";
  link.meta.kind = sdk::ItemKind::Symlink;
  link.meta.mode = 0777;
  link.content = "main.c";
  link.meta.size = 6;
  ItemChange d{ItemChange::Op::Upsert, dir, -1};
  ItemChange l{ItemChange::Op::Upsert, link, -1};
  auto versions = apply(storage(), ws, {d, upsert("src/main.c", "int main() {}\n"), l});
  ASSERT_EQ(versions.size(), 3u);
  for (auto v : versions) EXPECT_GT(v, 0);

  int64_t before = nowMs();
  auto rows = byPath(manifest(storage(), ws));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows["src"].kind, sdk::ItemKind::Directory);
  EXPECT_EQ(rows["src"].mode, 0755u);
  EXPECT_EQ(rows["src/link"].kind, sdk::ItemKind::Symlink);
  const auto& m = rows["src/main.c"];
  EXPECT_EQ(m.kind, sdk::ItemKind::File);
  EXPECT_EQ(m.size, 14);
  EXPECT_EQ(m.mode, 0644u);
  EXPECT_EQ(m.mtime_ms, 1700000000123);
  EXPECT_EQ(m.content_hash, hexOf("int main() {}\n"));
  EXPECT_EQ(m.version, versions[1]);
  EXPECT_FALSE(m.deleted);
  EXPECT_GT(m.updated_unix_ms, before - 600000);
  EXPECT_LE(m.updated_unix_ms, before + 600000);

  auto items = byPath(read(storage(), ws, {"src/main.c", "src/link", "missing"}));
  ASSERT_EQ(items.size(), 2u) << "missing paths are left out";
  EXPECT_EQ(items["src/main.c"].content, "int main() {}\n");
  EXPECT_EQ(items["src/link"].content, "main.c");
  EXPECT_EQ(items["src/main.c"].meta.version, versions[1]);
  EXPECT_TRUE(read(storage(), ws, {}).empty());
}

TEST_P(StorageContractTest, SoftDeleteKeepsTheRowButHidesIt) {
  auto ws = workspace();
  auto v1 = apply(storage(), ws, {upsert("a.txt", "alpha"), upsert("b.txt", "beta")});
  ASSERT_EQ(v1.size(), 2u);
  int64_t before = nowMs();
  auto v2 = apply(storage(), ws, {removal("a.txt")});
  ASSERT_EQ(v2.size(), 1u);
  EXPECT_GT(v2[0], v1[0]);

  auto live = byPath(manifest(storage(), ws, false));
  EXPECT_EQ(live.count("a.txt"), 0u);
  EXPECT_EQ(live.count("b.txt"), 1u);
  auto all = byPath(manifest(storage(), ws, true));
  ASSERT_EQ(all.count("a.txt"), 1u);
  EXPECT_TRUE(all["a.txt"].deleted);
  EXPECT_EQ(all["a.txt"].version, v2[0]);
  EXPECT_GE(all["a.txt"].deleted_unix_ms, before - 600000);
  EXPECT_GT(all["a.txt"].deleted_unix_ms, 0);
  EXPECT_EQ(all["a.txt"].size, 5) << "a deleted row keeps its last meta";
  EXPECT_TRUE(read(storage(), ws, {"a.txt"}).empty());
  auto whole = storage().readWorkspace(ws);
  ASSERT_TRUE(whole) << whole.status().message();
  ASSERT_EQ(whole.value().size(), 1u);
  EXPECT_EQ(whole.value()[0].meta.path, "b.txt");
}

TEST_P(StorageContractTest, RestoreUndeletesWithItsContent) {
  auto ws = workspace();
  apply(storage(), ws, {upsert("notes.md", "keep me")});
  auto deleted = apply(storage(), ws, {removal("notes.md")});
  ASSERT_EQ(deleted.size(), 1u);
  auto restored = storage().restore(ws, "notes.md");
  ASSERT_TRUE(restored) << restored.status().message();
  EXPECT_FALSE(restored.value().deleted);
  EXPECT_EQ(restored.value().deleted_unix_ms, 0);
  EXPECT_EQ(restored.value().version, deleted[0] + 1);
  auto items = read(storage(), ws, {"notes.md"});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].content, "keep me");

  auto live = storage().restore(ws, "notes.md");
  EXPECT_EQ(live.status().code(), ErrorCode::NotFound) << "a live row is not restorable";
  EXPECT_EQ(storage().restore(ws, "never.md").status().code(), ErrorCode::NotFound);
}

TEST_P(StorageContractTest, PurgeRemovesOnlyRowsDeletedBeforeTheTime) {
  auto ws = workspace();
  apply(storage(), ws, {upsert("old", "1"), upsert("new", "2"), upsert("live", "3")});
  apply(storage(), ws, {removal("old")});
  std::this_thread::sleep_for(20ms);
  int64_t cutoff = nowMs();
  std::this_thread::sleep_for(20ms);
  apply(storage(), ws, {removal("new")});

  auto purged = storage().purgeDeleted(cutoff);
  ASSERT_TRUE(purged) << purged.status().message();
  EXPECT_GE(purged.value(), 1);
  auto all = byPath(manifest(storage(), ws, true));
  EXPECT_EQ(all.count("old"), 0u);
  ASSERT_EQ(all.count("new"), 1u);
  EXPECT_TRUE(all["new"].deleted);
  EXPECT_EQ(all.count("live"), 1u);
  EXPECT_EQ(storage().restore(ws, "old").status().code(), ErrorCode::NotFound);
}

TEST_P(StorageContractTest, BatchIsAllOrNothing) {
  auto ws = workspace();
  auto v = apply(storage(), ws, {upsert("stable", "v1")});
  ASSERT_EQ(v.size(), 1u);
  auto r = storage().applyBatch(ws, {upsert("first", "new"), upsert("stable", "v2", v[0]),
                                     removal("other"), upsert("stable", "v3", v[0])});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), ErrorCode::Conflict);
  EXPECT_NE(r.status().message().find("stable"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(std::to_string(v[0])), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find(std::to_string(v[0] + 1)), std::string::npos)
      << "names the stored version too: " << r.status().message();

  auto rows = byPath(manifest(storage(), ws, true));
  EXPECT_EQ(rows.count("first"), 0u) << "the first change was rolled back";
  ASSERT_EQ(rows.count("stable"), 1u);
  EXPECT_EQ(rows["stable"].version, v[0]);
  auto items = read(storage(), ws, {"stable"});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].content, "v1");
}

TEST_P(StorageContractTest, VersionsIncreaseOnEveryChange) {
  auto ws = workspace();
  std::vector<int64_t> seen;
  seen.push_back(apply(storage(), ws, {upsert("f", "1")}).at(0));
  seen.push_back(apply(storage(), ws, {upsert("f", "2")}).at(0));
  seen.push_back(apply(storage(), ws, {removal("f")}).at(0));
  seen.push_back(apply(storage(), ws, {upsert("f", "3", 0)}).at(0));  // re-created
  seen.push_back(storage().restore(ws, "f").status().code() == ErrorCode::NotFound ? seen.back()
                                                                                   : -1);
  seen.push_back(apply(storage(), ws, {removal("f")}).at(0));
  auto restored = storage().restore(ws, "f");
  ASSERT_TRUE(restored) << restored.status().message();
  seen.push_back(restored.value().version);
  for (size_t i = 1; i < seen.size(); ++i) {
    if (i == 4) {
      EXPECT_EQ(seen[i], seen[i - 1]) << "restoring a live row changes nothing";
      continue;
    }
    EXPECT_GT(seen[i], seen[i - 1]) << "change " << i;
  }
  // Two changes of one path in one batch: both counted.
  auto both = apply(storage(), ws, {upsert("g", "1"), upsert("g", "2")});
  ASSERT_EQ(both.size(), 2u);
  EXPECT_GT(both[1], both[0]);
}

TEST_P(StorageContractTest, CompareAndSwapRules) {
  auto ws = workspace();
  // 0: must not exist.
  auto v = apply(storage(), ws, {upsert("p", "a", 0)});
  ASSERT_EQ(v.size(), 1u);
  auto again = storage().applyBatch(ws, {upsert("p", "b", 0)});
  EXPECT_EQ(again.status().code(), ErrorCode::Conflict) << "0 on a live row";
  // exact: applies once; the same expectation again is stale.
  auto exact = storage().applyBatch(ws, {upsert("p", "c", v[0])});
  ASSERT_TRUE(exact) << exact.status().message();
  auto stale = storage().applyBatch(ws, {upsert("p", "d", v[0])});
  EXPECT_EQ(stale.status().code(), ErrorCode::Conflict);
  EXPECT_NE(stale.status().message().find("'p'"), std::string::npos) << stale.status().message();
  // expected version of a row that does not exist.
  EXPECT_EQ(storage().applyBatch(ws, {upsert("nope", "x", 3)}).status().code(),
            ErrorCode::Conflict);
  // -1: no check.
  auto any = storage().applyBatch(ws, {upsert("p", "e", -1)});
  ASSERT_TRUE(any) << any.status().message();
  // Deletes check too; 0 accepts a deleted row.
  int64_t cur = any.value().versions[0];
  EXPECT_EQ(storage().applyBatch(ws, {removal("p", cur - 1)}).status().code(), ErrorCode::Conflict);
  auto del = storage().applyBatch(ws, {removal("p", cur)});
  ASSERT_TRUE(del) << del.status().message();
  auto recreate = storage().applyBatch(ws, {upsert("p", "f", 0)});
  ASSERT_TRUE(recreate) << "0 accepts a deleted row: " << recreate.status().message();
  EXPECT_GT(recreate.value().versions[0], del.value().versions[0]);
  auto items = read(storage(), ws, {"p"});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].content, "f");
}

TEST_P(StorageContractTest, ContentIsByteExact) {
  auto ws = workspace();
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::map<std::string, std::string> files = {
      {"all-bytes", all + all},
      {"nul", std::string("a\0b\0\0", 5)},
      {"invalid-utf8", "\xc3\x28 \xff\xfe \xed\xa0\x80 \xf8\x88\x80\x80\x80"},
      {"empty", ""},
      {"crlf", "line\r\nline\r\n\\x00 '\"%s $1 ?"},
  };
  std::vector<ItemChange> changes;
  for (const auto& [path, content] : files) changes.push_back(upsert(path, content));
  apply(storage(), ws, changes);
  auto items = byPath(read(storage(), ws, {"all-bytes", "nul", "invalid-utf8", "empty", "crlf"}));
  ASSERT_EQ(items.size(), files.size());
  for (const auto& [path, content] : files) {
    EXPECT_EQ(items[path].content, content) << path;
    EXPECT_EQ(items[path].meta.size, static_cast<int64_t>(content.size())) << path;
  }
}

TEST_P(StorageContractTest, TwelveMebibyteFile) {
  auto ws = workspace();
  std::string big(12u << 20, '\0');
  uint32_t x = 12345;
  for (auto& c : big) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  apply(storage(), ws, {upsert("big.bin", big)});
  auto items = read(storage(), ws, {"big.bin"});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].content.size(), big.size());
  EXPECT_TRUE(items[0].content == big);
}

TEST_P(StorageContractTest, AwkwardPathsRoundTrip) {
  auto ws = workspace();
  std::vector<std::string> paths = {
      "with space.txt",
      "dir with space/file",
      "unicodé/ファイル.txt",
      "quote'single",
      "quote\"double",
      "back\\slash",
      "new\nline",
      "-leading-dash",
      "latin1-\xe9\xff",
      "tab\there",
      "dollar$1 ?",
      "a/b/c/d/e/f/g.txt",
      "%s%n",
      ".hidden",
      "...",
      "trailing.",
  };
  std::vector<ItemChange> changes;
  for (const auto& p : paths) changes.push_back(upsert(p, "content of " + p));
  apply(storage(), ws, changes);
  auto rows = byPath(manifest(storage(), ws));
  ASSERT_EQ(rows.size(), paths.size());
  for (const auto& p : paths) EXPECT_EQ(rows.count(p), 1u) << p;
  auto items = byPath(read(storage(), ws, paths));
  ASSERT_EQ(items.size(), paths.size());
  for (const auto& p : paths) EXPECT_EQ(items[p].content, "content of " + p) << p;
  // Each path alone finds exactly its row.
  for (const auto& p : paths) {
    auto one = read(storage(), ws, {p});
    ASSERT_EQ(one.size(), 1u) << p;
    EXPECT_EQ(one[0].meta.path, p);
  }
}

TEST_P(StorageContractTest, InvalidPathsAreRefused) {
  auto ws = workspace();
  for (const std::string p : {"", "/abs", "a//b", "a/./b", "../up", "a/..", "dir/", "."}) {
    auto r = storage().applyBatch(ws, {upsert("ok", "x"), upsert(p, "x")});
    EXPECT_EQ(r.status().code(), ErrorCode::InvalidArgument) << "'" << p << "'";
  }
  EXPECT_TRUE(manifest(storage(), ws, true).empty()) << "nothing of a refused batch applies";
}

TEST_P(StorageContractTest, WorkspacesAreIsolated) {
  auto a = workspace("one");
  auto b = workspace("two");
  WorkspaceId other_user{user_ + "-other", "one"};
  apply(storage(), a, {upsert("same/path", "in a")});
  apply(storage(), b, {upsert("same/path", "in b")});
  apply(storage(), other_user, {upsert("same/path", "other user")});
  apply(storage(), b, {removal("same/path")});
  auto ia = read(storage(), a, {"same/path"});
  ASSERT_EQ(ia.size(), 1u);
  EXPECT_EQ(ia[0].content, "in a");
  EXPECT_TRUE(read(storage(), b, {"same/path"}).empty());
  auto io = read(storage(), other_user, {"same/path"});
  ASSERT_EQ(io.size(), 1u);
  EXPECT_EQ(io[0].content, "other user");
  EXPECT_EQ(manifest(storage(), a).size(), 1u);
  EXPECT_EQ(manifest(storage(), b, true).size(), 1u);
  // A CAS in one workspace does not see the other's versions.
  auto cas = storage().applyBatch(b, {upsert("same/path", "again", 0)});
  EXPECT_TRUE(cas) << cas.status().message();
  // Leases too.
  auto la = storage().acquireLease(a, "h1", 60000);
  auto lb = storage().acquireLease(b, "h2", 60000);
  ASSERT_TRUE(la && lb);
  EXPECT_TRUE(la.value().acquired);
  EXPECT_TRUE(lb.value().acquired);
}

TEST_P(StorageContractTest, LeaseLifecycle) {
  auto ws = workspace();
  auto first = storage().acquireLease(ws, "host-a", 60000);
  ASSERT_TRUE(first) << first.status().message();
  EXPECT_TRUE(first.value().acquired);
  EXPECT_EQ(first.value().holder, "host-a");
  EXPECT_GT(first.value().expires_unix_ms, nowMs());

  auto refused = storage().acquireLease(ws, "host-b", 60000);
  ASSERT_TRUE(refused) << refused.status().message();
  EXPECT_FALSE(refused.value().acquired);
  EXPECT_EQ(refused.value().holder, "host-a");
  EXPECT_EQ(refused.value().expires_unix_ms, first.value().expires_unix_ms);

  std::this_thread::sleep_for(5ms);
  auto renewed = storage().acquireLease(ws, "host-a", 120000);
  ASSERT_TRUE(renewed) << renewed.status().message();
  EXPECT_TRUE(renewed.value().acquired);
  EXPECT_GT(renewed.value().expires_unix_ms, first.value().expires_unix_ms);

  EXPECT_TRUE(storage().releaseLease(ws, "host-b")) << "releasing someone else's lease is Ok";
  EXPECT_FALSE(storage().acquireLease(ws, "host-b", 60000).value().acquired)
      << "and does not release it";
  ASSERT_TRUE(storage().releaseLease(ws, "host-a"));
  auto taken = storage().acquireLease(ws, "host-b", 60000);
  ASSERT_TRUE(taken) << taken.status().message();
  EXPECT_TRUE(taken.value().acquired);
  EXPECT_EQ(taken.value().holder, "host-b");
}

TEST_P(StorageContractTest, ExpiredLeaseIsTakenOver) {
  auto ws = workspace();
  auto first = storage().acquireLease(ws, "host-a", 150);
  ASSERT_TRUE(first) << first.status().message();
  ASSERT_TRUE(first.value().acquired);
  EXPECT_FALSE(storage().acquireLease(ws, "host-b", 60000).value().acquired);
  std::this_thread::sleep_for(250ms);
  auto taken = storage().acquireLease(ws, "host-b", 60000);
  ASSERT_TRUE(taken) << taken.status().message();
  EXPECT_TRUE(taken.value().acquired);
  auto back = storage().acquireLease(ws, "host-a", 60000);
  ASSERT_TRUE(back);
  EXPECT_FALSE(back.value().acquired);
  EXPECT_EQ(back.value().holder, "host-b");
}

TEST_P(StorageContractTest, ConcurrentLeaseHasOneWinner) {
  auto ws = workspace();
  constexpr int kThreads = 6;
  std::atomic<int> winners{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto r = storage().acquireLease(ws, "holder-" + std::to_string(t), 60000);
      if (!r) {
        ++errors;
      } else if (r.value().acquired) {
        ++winners;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(winners.load(), 1);
}

TEST_P(StorageContractTest, ConcurrentCompareAndSwapHasOneWinnerPerVersion) {
  auto ws = workspace();
  auto v = apply(storage(), ws, {upsert("counter", "0")});
  ASSERT_EQ(v.size(), 1u);
  constexpr int kThreads = 4;
  constexpr int kAttempts = 25;
  std::mutex mu;
  std::vector<int64_t> won;
  std::vector<std::string> unexpected;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAttempts; ++i) {
        auto rows = storage().listManifest(ws, false);
        if (!rows || rows.value().empty()) {
          std::lock_guard<std::mutex> lock(mu);
          unexpected.push_back(rows ? "no row" : rows.status().message());
          return;
        }
        int64_t seen = rows.value()[0].version;
        auto r = storage().applyBatch(
            ws, {upsert("counter", std::to_string(t) + "/" + std::to_string(i), seen)});
        std::lock_guard<std::mutex> lock(mu);
        if (r) {
          won.push_back(r.value().versions[0]);
          EXPECT_GT(r.value().versions[0], seen);
        } else if (r.status().code() != ErrorCode::Conflict) {
          unexpected.push_back(r.status().message());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_TRUE(unexpected.empty()) << unexpected.front();
  std::set<int64_t> distinct(won.begin(), won.end());
  EXPECT_EQ(distinct.size(), won.size()) << "two writers won the same version";
  auto final_rows = manifest(storage(), ws);
  ASSERT_EQ(final_rows.size(), 1u);
  // Every win moved the row forward exactly once.
  EXPECT_EQ(final_rows[0].version - v[0], static_cast<int64_t>(won.size()));
  EXPECT_FALSE(won.empty());
}

TEST_P(StorageContractTest, ReadWorkspaceReturnsEveryLiveRowWithContent) {
  auto ws = workspace();
  // 1000 files, 50 MB in all, written in one batch: also prints the time each part takes.
  constexpr int kFiles = 1000;
  constexpr size_t kSize = 50u * 1000 * 1000 / kFiles;
  std::vector<ItemChange> changes;
  for (int i = 0; i < kFiles; ++i) {
    std::string content(kSize, static_cast<char>('a' + i % 26));
    content.replace(0, 8, std::to_string(10000000 + i));
    changes.push_back(
        upsert("dir" + std::to_string(i % 10) + "/file" + std::to_string(i), content));
  }
  auto t0 = std::chrono::steady_clock::now();
  auto versions = apply(storage(), ws, changes);
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_EQ(versions.size(), static_cast<size_t>(kFiles));
  apply(storage(), ws, {removal("dir0/file0")});
  auto t2 = std::chrono::steady_clock::now();
  auto all = storage().readWorkspace(ws);
  auto t3 = std::chrono::steady_clock::now();
  ASSERT_TRUE(all) << all.status().message();
  auto items = byPath(all.value());
  ASSERT_EQ(items.size(), static_cast<size_t>(kFiles - 1));
  EXPECT_EQ(items.count("dir0/file0"), 0u);
  for (int i = 1; i < kFiles; ++i) {
    const auto& item = items["dir" + std::to_string(i % 10) + "/file" + std::to_string(i)];
    ASSERT_EQ(item.content.size(), kSize) << i;
    ASSERT_EQ(item.content.substr(0, 8), std::to_string(10000000 + i));
  }
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::cout << "[ timing ] " << GetParam().name << ": applyBatch of " << kFiles
            << " files (50 MB): " << ms(t1 - t0) << " ms; readWorkspace: " << ms(t3 - t2)
            << " ms\n";
  RecordProperty("apply_ms", static_cast<int>(ms(t1 - t0)));
  RecordProperty("read_ms", static_cast<int>(ms(t3 - t2)));
}

TEST_P(StorageContractTest, ThousandSmallRowsInOneBatch) {
  auto ws = workspace();
  std::vector<ItemChange> changes;
  for (int i = 0; i < 1000; ++i) changes.push_back(upsert("f" + std::to_string(i), "x"));
  auto t0 = std::chrono::steady_clock::now();
  auto versions = apply(storage(), ws, changes);
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(versions.size(), 1000u);
  EXPECT_EQ(manifest(storage(), ws).size(), 1000u);
  std::cout << "[ timing ] " << GetParam().name << ": applyBatch of 1000 small rows: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(t1 - t0).count() << " ms\n";
}

// --- Session leases ------------------------------------------------------------------------------

namespace {

// The lease of session_id as listed, if any.
std::optional<sdk::SessionLease> listed(sdk::Storage& s, const std::string& session_id) {
  auto all = s.listSessionLeases();
  EXPECT_TRUE(all) << all.status().message();
  if (!all) return std::nullopt;
  for (const auto& lease : all.value()) {
    if (lease.session_id == session_id) return lease;
  }
  return std::nullopt;
}

// Polls condition until it holds or the deadline passes (a lease expiring by the database's
// clock has no event to wait on).
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

}  // namespace

TEST_P(StorageContractTest, SessionLeaseAcquireRenewRefuseRelease) {
  const std::string id = sessionId();
  auto first = storage().acquireSessionLease(id, "host-a", 60000, sdk::LeaseMode::Acquire);
  ASSERT_TRUE(first) << first.status().message();
  EXPECT_TRUE(first.value().acquired);
  EXPECT_EQ(first.value().holder, "host-a");
  EXPECT_TRUE(first.value().previous_holder.empty());
  // By the database's clock: about now + ttl on any machine whose clock is roughly right.
  EXPECT_GT(first.value().expires_unix_ms, nowMs() + 30000);
  EXPECT_LT(first.value().expires_unix_ms, nowMs() + 90000);

  auto refused = storage().acquireSessionLease(id, "host-b", 60000, sdk::LeaseMode::Acquire);
  ASSERT_TRUE(refused) << refused.status().message();
  EXPECT_FALSE(refused.value().acquired);
  EXPECT_EQ(refused.value().holder, "host-a");
  EXPECT_EQ(refused.value().expires_unix_ms, first.value().expires_unix_ms);
  EXPECT_TRUE(refused.value().previous_holder.empty());

  // The heartbeat: the holder renews, with a later expiry.
  auto renewed = storage().acquireSessionLease(id, "host-a", 120000, sdk::LeaseMode::Acquire);
  ASSERT_TRUE(renewed) << renewed.status().message();
  EXPECT_TRUE(renewed.value().acquired);
  EXPECT_EQ(renewed.value().holder, "host-a");
  EXPECT_GT(renewed.value().expires_unix_ms, first.value().expires_unix_ms);
  EXPECT_TRUE(renewed.value().previous_holder.empty());

  EXPECT_TRUE(storage().releaseSessionLease(id, "host-b")) << "releasing another's lease is Ok";
  auto still = storage().acquireSessionLease(id, "host-b", 60000, sdk::LeaseMode::Acquire);
  ASSERT_TRUE(still) << still.status().message();
  EXPECT_FALSE(still.value().acquired) << "and does not release it";
  ASSERT_TRUE(storage().releaseSessionLease(id, "host-a"));
  EXPECT_FALSE(listed(storage(), id)) << "a released lease is gone";
  auto taken = storage().acquireSessionLease(id, "host-b", 60000, sdk::LeaseMode::Acquire);
  ASSERT_TRUE(taken) << taken.status().message();
  EXPECT_TRUE(taken.value().acquired);
  EXPECT_EQ(taken.value().holder, "host-b");
  EXPECT_TRUE(taken.value().previous_holder.empty());
  EXPECT_TRUE(storage().releaseSessionLease(sessionId("never"), "host-a")) << "no lease is Ok";
}

TEST_P(StorageContractTest, SessionLeaseExpiresForOtherHolders) {
  const std::string id = sessionId();
  auto first = storage().acquireSessionLease(id, "host-a", 300, sdk::LeaseMode::Acquire);
  ASSERT_TRUE(first) << first.status().message();
  ASSERT_TRUE(first.value().acquired);
  // A replica that stops renewing (it died) loses the lease to the others once it expires.
  bool taken = eventually(
      [&] {
        auto r = storage().acquireSessionLease(id, "host-b", 60000, sdk::LeaseMode::Acquire);
        EXPECT_TRUE(r) << r.status().message();
        return r && r.value().acquired;
      },
      10s);
  ASSERT_TRUE(taken) << "the lease of host-a never expired";
  auto back = storage().acquireSessionLease(id, "host-a", 60000, sdk::LeaseMode::Acquire);
  ASSERT_TRUE(back) << back.status().message();
  EXPECT_FALSE(back.value().acquired);
  EXPECT_EQ(back.value().holder, "host-b");

  // An expired lease is listed as expired until someone acquires or releases it.
  const std::string dead = sessionId("dead");
  ASSERT_TRUE(storage().acquireSessionLease(dead, "host-c", 1, sdk::LeaseMode::Acquire));
  EXPECT_TRUE(eventually(
      [&] {
        auto l = listed(storage(), dead);
        return l && l->expired;
      },
      10s))
      << "a 1 ms lease was never listed as expired";
  auto l = listed(storage(), dead);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->holder, "host-c");
  // Taking over an expired lease displaces nobody alive.
  auto over = storage().acquireSessionLease(dead, "host-d", 60000, sdk::LeaseMode::TakeOver);
  ASSERT_TRUE(over) << over.status().message();
  EXPECT_TRUE(over.value().acquired);
  EXPECT_TRUE(over.value().previous_holder.empty());
}

TEST_P(StorageContractTest, SessionLeaseTakeOver) {
  const std::string id = sessionId();
  ASSERT_TRUE(storage().acquireSessionLease(id, "host-a", 60000, sdk::LeaseMode::Acquire));
  // A client reconnected to host-b: host-b takes the session over and learns whom it displaced.
  auto over = storage().acquireSessionLease(id, "host-b", 60000, sdk::LeaseMode::TakeOver);
  ASSERT_TRUE(over) << over.status().message();
  EXPECT_TRUE(over.value().acquired);
  EXPECT_EQ(over.value().holder, "host-b");
  EXPECT_EQ(over.value().previous_holder, "host-a");
  // host-a's next heartbeat fails: it drops its stream.
  auto heartbeat = storage().acquireSessionLease(id, "host-a", 60000, sdk::LeaseMode::Acquire);
  ASSERT_TRUE(heartbeat) << heartbeat.status().message();
  EXPECT_FALSE(heartbeat.value().acquired);
  EXPECT_EQ(heartbeat.value().holder, "host-b");
  // host-a releasing what it no longer holds changes nothing.
  ASSERT_TRUE(storage().releaseSessionLease(id, "host-a"));
  auto l = listed(storage(), id);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->holder, "host-b");
  // Taking over one's own lease is a renewal; a free one displaces nobody.
  auto own = storage().acquireSessionLease(id, "host-b", 60000, sdk::LeaseMode::TakeOver);
  ASSERT_TRUE(own) << own.status().message();
  EXPECT_TRUE(own.value().acquired);
  EXPECT_TRUE(own.value().previous_holder.empty());
  auto fresh =
      storage().acquireSessionLease(sessionId("free"), "host-c", 60000, sdk::LeaseMode::TakeOver);
  ASSERT_TRUE(fresh) << fresh.status().message();
  EXPECT_TRUE(fresh.value().acquired);
  EXPECT_TRUE(fresh.value().previous_holder.empty());
}

TEST_P(StorageContractTest, SessionLeasesAreListed) {
  std::map<std::string, sdk::LeaseGrant> granted;
  for (const char* suffix : {"one", "two", "three"}) {
    const std::string id = sessionId(suffix);
    auto g = storage().acquireSessionLease(id, std::string("host-") + suffix, 60000,
                                           sdk::LeaseMode::Acquire);
    ASSERT_TRUE(g) << g.status().message();
    granted[id] = g.value();
  }
  auto all = storage().listSessionLeases();
  ASSERT_TRUE(all) << all.status().message();
  std::map<std::string, sdk::SessionLease> mine;
  for (const auto& lease : all.value()) {
    if (granted.count(lease.session_id) != 0) {
      EXPECT_EQ(mine.count(lease.session_id), 0u) << "listed twice: " << lease.session_id;
      mine[lease.session_id] = lease;
    }
  }
  ASSERT_EQ(mine.size(), 3u);
  for (const auto& [id, g] : granted) {
    EXPECT_EQ(mine[id].holder, g.holder);
    EXPECT_EQ(mine[id].expires_unix_ms, g.expires_unix_ms);
    EXPECT_FALSE(mine[id].expired);
  }
  // Another object on the same database (another replica) sees the same leases.
  auto other = another();
  ASSERT_NE(other, nullptr);
  auto seen = listed(*other, sessionId("two"));
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->holder, "host-two");
  ASSERT_TRUE(storage().releaseSessionLease(sessionId("two"), "host-two"));
  EXPECT_FALSE(listed(storage(), sessionId("two")));
  EXPECT_TRUE(listed(storage(), sessionId("one")));
}

TEST_P(StorageContractTest, SessionLeaseArgumentsAreChecked) {
  const std::string id = sessionId();
  for (int64_t ttl : {int64_t{0}, int64_t{-5}}) {
    auto r = storage().acquireSessionLease(id, "h", ttl, sdk::LeaseMode::Acquire);
    ASSERT_FALSE(r) << "ttl " << ttl;
    EXPECT_EQ(r.status().code(), ErrorCode::InvalidArgument);
  }
  auto no_id = storage().acquireSessionLease("", "h", 1000, sdk::LeaseMode::Acquire);
  ASSERT_FALSE(no_id);
  EXPECT_EQ(no_id.status().code(), ErrorCode::InvalidArgument);
  auto no_holder = storage().acquireSessionLease(id, "", 1000, sdk::LeaseMode::TakeOver);
  ASSERT_FALSE(no_holder);
  EXPECT_EQ(no_holder.status().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(storage().releaseSessionLease("", "h").code(), ErrorCode::InvalidArgument);
  EXPECT_FALSE(listed(storage(), id));
}

TEST_P(StorageContractTest, ConcurrentSessionLeaseHasOneWinner) {
  const std::string id = sessionId();
  constexpr int kThreads = 6;
  std::atomic<int> winners{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto r = storage().acquireSessionLease(id, "holder-" + std::to_string(t), 60000,
                                             sdk::LeaseMode::Acquire);
      if (!r) {
        ++errors;
      } else if (r.value().acquired) {
        ++winners;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(winners.load(), 1);
}

// --- Notify and subscribe ---------------------------------------------------------------------

namespace {

// A delivery can take a network round trip and a thread switch; this is only the failure bound.
constexpr auto kNotifyDeadline = 10s;

// Collects what a subscription receives; waits on a condition variable with a deadline.
class Inbox {
 public:
  sdk::NotificationCallback callback() {
    return [this](const sdk::Notification& n) {
      std::lock_guard<std::mutex> lock(mu_);
      received_.push_back(n);
      cv_.notify_all();
    };
  }
  // True once at least count notifications (not resyncs) arrived.
  bool waitFor(size_t count, std::chrono::milliseconds deadline = kNotifyDeadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return payloadsLocked().size() >= count; });
  }
  std::vector<std::string> payloads() {
    std::lock_guard<std::mutex> lock(mu_);
    return payloadsLocked();
  }
  std::vector<sdk::Notification> all() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  std::vector<std::string> payloadsLocked() const {
    std::vector<std::string> out;
    for (const auto& n : received_) {
      if (!n.resync) out.push_back(n.payload);
    }
    return out;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<sdk::Notification> received_;
};

sdk::SubscriptionPtr subscribed(sdk::Storage& s, const std::string& channel, Inbox& inbox) {
  auto r = s.subscribe(channel, inbox.callback());
  EXPECT_TRUE(r) << r.status().message();
  if (!r) return nullptr;
  EXPECT_NE(r.value(), nullptr);
  return std::move(r).value();
}

}  // namespace

TEST_P(StorageContractTest, NotifyReachesASubscriberOfTheSameObjectInOrder) {
  Inbox inbox;
  const std::string c = channel();
  auto sub = subscribed(storage(), c, inbox);
  ASSERT_NE(sub, nullptr);
  std::vector<std::string> sent;
  for (int i = 0; i < 20; ++i) {
    sent.push_back("message " + std::to_string(i) +
                   " h\xc3\xa9llo \xe2\x9c\x93 \"quoted\" 'x'; --");
    ASSERT_TRUE(storage().notify(c, sent.back()));
  }
  ASSERT_TRUE(inbox.waitFor(sent.size())) << "got " << inbox.payloads().size();
  EXPECT_EQ(inbox.payloads(), sent);
  for (const auto& n : inbox.all()) {
    EXPECT_EQ(n.channel, c);
    EXPECT_FALSE(n.resync);
  }
}

TEST_P(StorageContractTest, NotifyReachesAnotherObjectOnTheSameDatabase) {
  if (!GetParam().notifies_other_instances) {
    GTEST_SKIP() << "single replica: notifications stay within one storage object";
  }
  auto other = another();
  ASSERT_NE(other, nullptr);
  Inbox here, there;
  const std::string c = channel();
  auto sub_there = subscribed(*other, c, there);
  auto sub_here = subscribed(storage(), c, here);
  ASSERT_TRUE(sub_there && sub_here);
  ASSERT_TRUE(storage().notify(c, "from one"));
  ASSERT_TRUE(other->notify(c, "from two"));
  ASSERT_TRUE(there.waitFor(2));
  ASSERT_TRUE(here.waitFor(2));
  // Each sender's notifications arrive in order; both sides see both.
  auto p = there.payloads();
  EXPECT_EQ(std::set<std::string>(p.begin(), p.end()),
            (std::set<std::string>{"from one", "from two"}));
  p = here.payloads();
  EXPECT_EQ(std::set<std::string>(p.begin(), p.end()),
            (std::set<std::string>{"from one", "from two"}));
}

TEST_P(StorageContractTest, ChannelsAreSeparateAndNotifyWithoutSubscriberIsFine) {
  const std::string quiet = channel("quiet");
  const std::string busy = channel("busy");
  EXPECT_TRUE(storage().notify(channel("nobody"), "into the void"));
  Inbox a, b, upper;
  auto sub_a = subscribed(storage(), quiet, a);
  auto sub_b = subscribed(storage(), busy, b);
  // Channel names are case-sensitive.
  auto sub_upper = subscribed(storage(), channel("BUSY"), upper);
  ASSERT_TRUE(sub_a && sub_b && sub_upper);
  ASSERT_TRUE(storage().notify(busy, "one"));
  ASSERT_TRUE(storage().notify(busy, ""));  // an empty payload is a notification too
  ASSERT_TRUE(storage().notify(quiet, "two"));
  ASSERT_TRUE(a.waitFor(1));
  ASSERT_TRUE(b.waitFor(2));
  // Delivered in order on one thread: by the time "two" arrived, the others had too.
  ASSERT_TRUE(storage().notify(channel("BUSY"), "three"));
  ASSERT_TRUE(upper.waitFor(1));
  EXPECT_EQ(a.payloads(), std::vector<std::string>{"two"});
  EXPECT_EQ(b.payloads(), (std::vector<std::string>{"one", ""}));
  EXPECT_EQ(upper.payloads(), std::vector<std::string>{"three"});
}

TEST_P(StorageContractTest, UnsubscribeStopsDelivery) {
  const std::string c = channel();
  Inbox gone, sentinel;
  auto sub_gone = subscribed(storage(), c, gone);
  auto sub_sentinel = subscribed(storage(), c, sentinel);
  ASSERT_TRUE(sub_gone && sub_sentinel);
  ASSERT_TRUE(storage().notify(c, "before"));
  ASSERT_TRUE(gone.waitFor(1));
  ASSERT_TRUE(sentinel.waitFor(1));
  sub_gone.reset();
  ASSERT_TRUE(storage().notify(c, "after"));
  ASSERT_TRUE(sentinel.waitFor(2));
  // One delivery thread, in order: the sentinel got "after", so the other would have by now.
  EXPECT_EQ(gone.payloads(), std::vector<std::string>{"before"});

  // Unsubscribing from inside the callback does not deadlock and stops further calls.
  std::mutex mu;
  std::condition_variable cv;
  sdk::SubscriptionPtr self;
  int calls = 0;
  auto r = storage().subscribe(c, [&](const sdk::Notification& n) {
    if (n.resync) return;
    std::lock_guard<std::mutex> lock(mu);
    ++calls;
    self.reset();
    cv.notify_all();
  });
  ASSERT_TRUE(r) << r.status().message();
  {
    std::lock_guard<std::mutex> lock(mu);
    self = std::move(r).value();
  }
  ASSERT_TRUE(storage().notify(c, "first"));
  ASSERT_TRUE(storage().notify(c, "second"));
  ASSERT_TRUE(sentinel.waitFor(4));
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, kNotifyDeadline, [&] { return calls > 0; }));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(self, nullptr);
}

TEST_P(StorageContractTest, ACallbackMayCallTheStorage) {
  const std::string ping = channel("ping"), pong = channel("pong"), late = channel("late");
  Inbox pongs, lates;
  std::mutex mu;
  sdk::SubscriptionPtr late_sub;  // made inside the callback; outlives sub (declared first)
  auto sub = storage().subscribe(ping, [&](const sdk::Notification& n) {
    if (n.resync) return;
    EXPECT_TRUE(storage().notify(pong, "pong:" + n.payload));
    std::lock_guard<std::mutex> lock(mu);
    if (late_sub) return;
    auto r = storage().subscribe(late, lates.callback());
    EXPECT_TRUE(r) << r.status().message();
    if (r) late_sub = std::move(r).value();
  });
  ASSERT_TRUE(sub) << sub.status().message();
  auto pong_sub = subscribed(storage(), pong, pongs);
  ASSERT_NE(pong_sub, nullptr);
  ASSERT_TRUE(storage().notify(ping, "ping"));
  ASSERT_TRUE(pongs.waitFor(1));
  EXPECT_EQ(pongs.payloads(), std::vector<std::string>{"pong:ping"});
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_NE(late_sub, nullptr);
  }
  // A subscription made inside a callback may start listening only once the callback returned
  // (it then gets a resync): notify until one arrives.
  bool arrived = false;
  for (int attempt = 0; attempt < 20 && !arrived; ++attempt) {
    ASSERT_TRUE(storage().notify(late, "late " + std::to_string(attempt)));
    arrived = lates.waitFor(1, 500ms);
  }
  EXPECT_TRUE(arrived);
  sub.value().reset();
  std::lock_guard<std::mutex> lock(mu);
  late_sub.reset();
}

TEST_P(StorageContractTest, NotificationLimitsAreChecked) {
  const std::string c = channel();
  Inbox inbox;
  auto sub = subscribed(storage(), c, inbox);
  ASSERT_NE(sub, nullptr);
  std::string largest(sdk::kMaxNotificationPayloadBytes, 'p');
  largest.front() = '{';
  largest.back() = '}';
  ASSERT_TRUE(storage().notify(c, largest));
  ASSERT_TRUE(inbox.waitFor(1));
  EXPECT_EQ(inbox.payloads().front(), largest);

  auto refused = [&](const std::string& channel_name, const std::string& payload) {
    auto st = storage().notify(channel_name, payload);
    EXPECT_EQ(st.code(), ErrorCode::InvalidArgument)
        << "channel of " << channel_name.size() << " bytes, payload of " << payload.size();
  };
  refused(c, std::string(sdk::kMaxNotificationPayloadBytes + 1, 'p'));
  refused(c, std::string("a\0b", 3));
  refused(c, "\xff\xfe");
  refused(c, "\xc3");
  for (const std::string& bad :
       {std::string(), std::string(64, 'c'), std::string("a b"), std::string("x\";DROP TABLE x;--"),
        std::string("a'b"), std::string("caf\xc3\xa9"), std::string("a\0b", 3)}) {
    refused(bad, "payload");
    auto sub_bad = storage().subscribe(bad, [](const sdk::Notification&) {});
    ASSERT_FALSE(sub_bad) << bad;
    EXPECT_EQ(sub_bad.status().code(), ErrorCode::InvalidArgument);
  }
  // 63 bytes of every allowed kind of character is a channel.
  std::string longest = (tag_ + ".Az09_.:-").substr(0, 63);
  longest += std::string(63 - longest.size(), 'x');
  Inbox at_limit;
  auto sub_long = subscribed(storage(), longest, at_limit);
  ASSERT_NE(sub_long, nullptr);
  ASSERT_TRUE(storage().notify(longest, "edge"));
  ASSERT_TRUE(at_limit.waitFor(1));
  auto no_callback = storage().subscribe(c, nullptr);
  ASSERT_FALSE(no_callback);
  EXPECT_EQ(no_callback.status().code(), ErrorCode::InvalidArgument);
}

}  // namespace podterm::testing
