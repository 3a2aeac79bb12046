// The sync engine against the real fakepod runtime and an in-memory storage.

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>

#include "SyncFixture.h"
#include "sync/PodListing.h"
#include "sync/SyncTar.h"

namespace podterm::tests::sync {
namespace {

using host::SessionSyncState;
using host::SyncOptions;
using host::SyncReport;
using sdk::ItemKind;

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string skippedReason(const SyncReport& report, const std::string& path) {
  for (const auto& s : report.skipped) {
    if (s.path == path) return s.reason;
  }
  return "";
}

std::string allBytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
  return s;
}

// --- PodExec -------------------------------------------------------------------------------------

TEST_F(SyncTest, PodExecStreamsLargeStdinAndStdout) {
  auto session = startPod("exec");
  std::string input(8 * 1024 * 1024, 'x');
  for (size_t i = 0; i < input.size(); i += 4096) input[i] = static_cast<char>(i / 4096);
  host::ExecRequest request;
  request.argv = {"cat"};
  auto result = host::PodExec::run(*runtime_, session, request, input);
  ASSERT_TRUE(result.succeeded()) << result.describe();
  EXPECT_EQ(result.stdout_data, input);

  auto failing = sh(session, "echo oops >&2; exit 3");
  EXPECT_TRUE(failing.error.isOk());
  EXPECT_EQ(failing.exit_code, 3);
  EXPECT_EQ(failing.stderr_data, "oops\n");
}

TEST_F(SyncTest, PodExecTimesOut) {
  auto session = startPod("timeout");
  host::ExecRequest request;
  request.argv = {"sleep", "30"};
  request.timeout = std::chrono::milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  auto result = host::PodExec::run(*runtime_, session, request);
  EXPECT_EQ(result.error.code(), sdk::ErrorCode::Timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// --- load and round trips ------------------------------------------------------------------------

TEST_F(SyncTest, BinaryFilesAreByteExact) {
  const std::string bytes = allBytes();
  std::string big;
  for (uint32_t i = 0; i < 3u * 1024 * 1024; ++i)
    big.push_back(static_cast<char>((i * 7919u) >> 3));
  putFile("bin/all-bytes", bytes, 0755);
  putFile("bin/big", big);
  auto sync = makeSync();
  auto session = startPod("binary");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));

  auto sums = sh(session, "cd bin && sha256sum all-bytes big && stat -c %a all-bytes");
  ASSERT_TRUE(sums.succeeded()) << sums.describe();
  EXPECT_NE(sums.stdout_data.find(host::sha256Hex(bytes)), std::string::npos);
  EXPECT_NE(sums.stdout_data.find(host::sha256Hex(big)), std::string::npos);
  EXPECT_NE(sums.stdout_data.find("\n755\n"), std::string::npos) << sums.stdout_data;

  ASSERT_TRUE(sh(session, "cp bin/all-bytes copy && cp bin/big big-copy").succeeded());
  auto report = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  EXPECT_EQ(stored("copy"), bytes);
  EXPECT_EQ(stored("big-copy"), big);
  EXPECT_TRUE(contains(report.created, "copy"));
  // Loaded files came back unchanged: nothing else was fetched or written.
  EXPECT_EQ(report.fetched_files, 2u);
  EXPECT_EQ(report.changed.size(), 0u);
  sdk::Item row;
  ASSERT_TRUE(storage_.get(ws_, "big-copy", &row));
  EXPECT_EQ(row.meta.size, static_cast<int64_t>(big.size()));
  EXPECT_EQ(row.meta.content_hash, host::sha256Hex(big));
  // The stored rows match the pod: a session that knows nothing changes nothing (the copies
  // were written just now, so they are fetched again and found equal by hash).
  SessionSyncState fresh;
  auto again = sync.syncFromPod(session, ws_, fresh);
  ASSERT_TRUE(reportOk(again));
  EXPECT_EQ(again.fetched_files, 2u);
  EXPECT_TRUE(again.created.empty() && again.changed.empty() && again.deleted.empty());
}

TEST_F(SyncTest, LoadedMtimesMatchSoAFreshSessionFetchesNothing) {
  putFile("a.txt", "alpha", 0644, 1700000000123);
  putFile("dir/b.txt", "beta", 0600, 1600000000999);
  putItem("dir", ItemKind::Directory, "");
  auto sync = makeSync();
  auto session = startPod("mtime");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  SessionSyncState fresh;  // compares against the stored manifest only
  auto report = sync.syncFromPod(session, ws_, fresh);
  ASSERT_TRUE(reportOk(report));
  EXPECT_EQ(report.fetched_files, 0u);
  EXPECT_TRUE(report.created.empty() && report.changed.empty() && report.deleted.empty())
      << report.summary();
}

TEST_F(SyncTest, EmptyFilesAndEmptyDirectories) {
  putFile("empty", "");
  putItem("emptydir", ItemKind::Directory, "");
  putItem("deep/er/dir", ItemKind::Directory, "");
  auto sync = makeSync();
  auto session = startPod("empty");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  auto check = sh(session,
                  "test -f empty && test ! -s empty && test -d emptydir && "
                  "test -d deep/er/dir && echo ok");
  EXPECT_EQ(check.stdout_data, "ok\n") << check.describe();

  ASSERT_TRUE(sh(session, ": > empty2 && mkdir emptydir2").succeeded());
  auto report = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  sdk::Item item;
  ASSERT_TRUE(storage_.get(ws_, "empty2", &item));
  EXPECT_EQ(item.meta.kind, ItemKind::File);
  EXPECT_EQ(item.content, "");
  ASSERT_TRUE(storage_.get(ws_, "emptydir2", &item));
  EXPECT_EQ(item.meta.kind, ItemKind::Directory);
  EXPECT_TRUE(isLive("deep/er/dir"));
}

TEST_F(SyncTest, ShellFileOperations) {
  putFile("old.txt", "old");
  putFile("gone.txt", "bye");
  putFile("src/a.txt", "A");
  putFile("src/sub/b.txt", "B");
  auto sync = makeSync();
  auto session = startPod("ops");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  auto ops = sh(session, "rm gone.txt && mv old.txt new.txt && mkdir -p x/y/z && cp -r src dst");
  ASSERT_TRUE(ops.succeeded()) << ops.describe();
  auto report = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  EXPECT_FALSE(isLive("gone.txt"));
  EXPECT_FALSE(isLive("old.txt"));
  EXPECT_EQ(stored("new.txt"), "old");
  EXPECT_TRUE(isLive("x/y/z"));
  EXPECT_EQ(stored("dst/a.txt"), "A");
  EXPECT_EQ(stored("dst/sub/b.txt"), "B");
  EXPECT_EQ(stored("src/sub/b.txt"), "B");
  EXPECT_TRUE(contains(report.deleted, "gone.txt"));
  EXPECT_TRUE(contains(report.deleted, "old.txt"));
  // Soft deletes: the content is kept.
  auto all = storage_.listManifest(ws_, true);
  ASSERT_TRUE(all);
  bool kept = false;
  for (const auto& m : all.value()) kept |= m.path == "gone.txt" && m.deleted;
  EXPECT_TRUE(kept);

  // A second sync with nothing changed does nothing (the copies, written within the racy
  // window before the listing, are fetched once more and found equal by hash).
  auto again = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(again));
  EXPECT_LE(again.fetched_files, 3u);
  EXPECT_TRUE(again.created.empty() && again.changed.empty() && again.deleted.empty());
}

TEST_F(SyncTest, ASameSizeRewriteInTheSameClockTickIsNotMissed) {
  auto sync = makeSync();
  auto session = startPod("racy");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  // An mtime at or after the listing clock, as two writes within one timestamp tick leave it:
  // never trusted by size and mtime alone.
  ASSERT_TRUE(sh(session, "echo one > f && touch -d @1800000000 f").succeeded());
  ASSERT_TRUE(reportOk(sync.syncFromPod(session, ws_, state)));
  EXPECT_EQ(stored("f"), "one\n");
  ASSERT_TRUE(sh(session, "echo two > f && touch -d @1800000000 f").succeeded());
  auto report = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  EXPECT_EQ(stored("f"), "two\n");
}

TEST_F(SyncTest, SymlinksAreStoredAsLinksNeverFollowed) {
  auto sync = makeSync();
  auto session = startPod("symlink");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(
      sh(session, "ln -s /etc/passwd x && ln -s /etc etc && ln -s missing dangling").succeeded());
  auto report = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  sdk::Item item;
  ASSERT_TRUE(storage_.get(ws_, "x", &item));
  EXPECT_EQ(item.meta.kind, ItemKind::Symlink);
  EXPECT_EQ(item.content, "/etc/passwd");
  ASSERT_TRUE(storage_.get(ws_, "etc", &item));
  EXPECT_EQ(item.content, "/etc");
  EXPECT_FALSE(isLive("etc/passwd"));
  ASSERT_TRUE(storage_.get(ws_, "dangling", &item));
  EXPECT_EQ(item.content, "missing");

  // And back: a new pod gets the links as links.
  auto other = startPod("symlink2");
  SessionSyncState state2;
  ASSERT_TRUE(reportOk(sync.load(other, ws_, state2)));
  auto check = sh(other, "readlink x; readlink etc; test -L x && echo link");
  EXPECT_EQ(check.stdout_data, "/etc/passwd\n/etc\nlink\n");
}

TEST_F(SyncTest, HostileNamesRoundTrip) {
  const std::vector<std::string> names = {"with space",
                                          "new\nline",
                                          "quote'\"`$(x)",
                                          "-leading-dash",
                                          "--help",
                                          "ünïcødé ✓ 日本",
                                          "bad\xff\xfeutf8",
                                          "tab\there",
                                          "dir with space/inner -x",
                                          std::string(200, 'L') + "/" + std::string(200, 'M')};
  for (const auto& n : names) putFile(n, "content of " + n);
  auto sync = makeSync();
  auto session = startPod("names");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  auto count = sh(session, "find . -type f | wc -l");
  EXPECT_EQ(count.stdout_data, "11\n");  // the newline name counts twice in wc -l

  // DB -> pod -> DB: a second workspace filled from this pod with nothing known.
  sdk::WorkspaceId ws1 = ws_;
  ws_ = {"user", "ws2"};
  SessionSyncState fresh;
  auto report = sync.syncFromPod(session, ws_, fresh);
  ASSERT_TRUE(reportOk(report));
  for (const auto& n : names) {
    EXPECT_EQ(stored(n), "content of " + n) << n;
  }
  EXPECT_TRUE(report.skipped.empty());
  ws_ = ws1;
}

// --- hostile input -------------------------------------------------------------------------------

TEST_F(SyncTest, UnsafeDatabaseRowsNeverLandOutsideTheWorkspace) {
  putFile("/etc/evil", "x");
  putFile("../escape", "x");
  putFile("a/../../escape2", "x");
  putFile("a//b", "x");
  putFile("./dot", "x");
  putItem("link", ItemKind::Symlink, "/tmp");
  putFile("link/inside", "through the link");
  putItem("file", ItemKind::File, "plain");
  putFile("file/beneath", "x");
  putFile("ok.txt", "fine");
  auto sync = makeSync();
  auto session = startPod("unsafe");
  SessionSyncState state;
  auto report = sync.load(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  EXPECT_EQ(skippedReason(report, "/etc/evil"), "absolute path");
  EXPECT_EQ(skippedReason(report, "../escape"), "'..' path component");
  EXPECT_EQ(skippedReason(report, "a/../../escape2"), "'..' path component");
  EXPECT_EQ(skippedReason(report, "a//b"), "empty path component");
  EXPECT_EQ(skippedReason(report, "./dot"), "'.' path component");
  EXPECT_NE(skippedReason(report, "link/inside").find("beneath 'link'"), std::string::npos);
  EXPECT_NE(skippedReason(report, "file/beneath").find("beneath 'file'"), std::string::npos);
  auto check = sh(session,
                  "test -e /etc/evil || echo no-etc; test -e /app/escape || echo no-escape; "
                  "test -e /tmp/inside || echo no-tmp; test -L link && echo link; cat ok.txt");
  EXPECT_EQ(check.stdout_data, "no-etc\nno-escape\nno-tmp\nlink\nfine");
}

TEST_F(SyncTest, WriteIntoPodReplacesASymlinkedParentRatherThanFollowIt) {
  auto sync = makeSync();
  auto session = startPod("push");
  ASSERT_TRUE(sh(session, "mkdir /tmp/outside && ln -s /tmp/outside d").succeeded());
  sdk::Item item;
  item.meta.path = "d/x";
  item.meta.mode = 0644;
  item.meta.mtime_ms = 1700000000000;
  item.content = "pushed";
  auto report = sync.writeIntoPod(session, {item});
  ASSERT_TRUE(reportOk(report));
  auto check = sh(session,
                  "cat d/x; test -e /tmp/outside/x || echo not-outside; "
                  "test -L d || echo real-dir");
  EXPECT_EQ(check.stdout_data, "pushednot-outside\nreal-dir\n");
}

// A tar crafted with libarchive, stored in the pod's /tmp, served instead of `tar -c`.
std::string craftTar(const std::vector<std::pair<std::string, std::string>>& files,
                     const std::vector<std::pair<std::string, std::string>>& links) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax(a);
  archive_write_open2(
      a, &out, nullptr,
      [](struct archive*, void* self, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(self)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr, nullptr);
  struct archive_entry* e = archive_entry_new();
  for (const auto& [path, target] : links) {
    archive_entry_clear(e);
    archive_entry_copy_pathname(e, path.c_str());
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_perm(e, 0777);
    archive_entry_copy_symlink(e, target.c_str());
    archive_write_header(a, e);
  }
  for (const auto& [path, content] : files) {
    archive_entry_clear(e);
    archive_entry_copy_pathname(e, path.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
  }
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

TEST_F(SyncTest, HostileTarStreamsAreRefused) {
  putFile("keep.txt", "stored");
  auto sync = makeSync();
  auto session = startPod("hostiletar");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(sh(session, "echo changed > keep.txt && echo new > l").succeeded());

  const std::vector<std::string> cases[] = {{"../x"}, {"/etc/x"}, {"l", "l/x"}};
  const std::string hostile[] = {
      craftTar({{"keep.txt", "evil"}, {"../x", "evil"}}, {}),
      craftTar({{"/etc/x", "evil"}, {"keep.txt", "evil"}}, {}),
      craftTar({{"l/x", "evil"}, {"keep.txt", "evil"}}, {{"l", "/etc"}}),
  };
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(sh(session, "cat > /tmp/hostile.tar", hostile[i]).succeeded());
    runtime_->inject({"tar", "-c", -1, {"cat", "/tmp/hostile.tar"}, true});
    auto report = sync.syncFromPod(session, ws_, state);
    EXPECT_FALSE(report.ok()) << i;
    EXPECT_NE(report.status.message().find("refused the pod's tar stream"), std::string::npos)
        << report.status.message();
    EXPECT_EQ(stored("keep.txt"), "stored");
    EXPECT_FALSE(isLive("../x") || isLive("/etc/x") || isLive("l/x") || isLive("x"));
  }
  // The real tar afterwards: the changes go through.
  auto report = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  EXPECT_EQ(stored("keep.txt"), "changed\n");
  EXPECT_EQ(stored("l"), "new\n");
}

TEST_F(SyncTest, OversizeFilesAreSkippedWithAReport) {
  SyncOptions options;
  options.max_file_bytes = 1000;
  auto sync = makeSync(options);
  auto session = startPod("oversize");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(sh(session, "head -c 2000 /dev/zero > big && echo small > small").succeeded());
  auto report = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  EXPECT_EQ(skippedReason(report, "big"), "larger than 1000 bytes");
  EXPECT_FALSE(isLive("big"));
  EXPECT_EQ(stored("small"), "small\n");
}

TEST_F(SyncTest, AFailedOrTruncatedListingDeletesNothing) {
  for (int i = 0; i < 50; ++i) putFile("f" + std::to_string(i), "x");
  auto sync = makeSync();
  auto session = startPod("truncated");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(sh(session, "rm f1 f2 f3 && echo new > created").succeeded());
  const size_t batches = storage_.batches();

  runtime_->inject({"sh", "find", 300, {}, true});  // cut after 300 bytes, then a lost stream
  auto report = sync.syncFromPod(session, ws_, state);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(storage_.batches(), batches);
  EXPECT_TRUE(isLive("f1") && isLive("f2") && isLive("f3"));
  EXPECT_FALSE(isLive("created"));

  // find that exits non-zero (an unreadable directory) is not a complete listing either.
  ASSERT_TRUE(sh(session, "mkdir locked && touch locked/x && chmod 000 locked").succeeded());
  report = sync.syncFromPod(session, ws_, state);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(storage_.batches(), batches);
  ASSERT_TRUE(sh(session, "chmod 755 locked").succeeded());

  // The tar killed half-way: nothing applied either.
  ASSERT_TRUE(sh(session, "head -c 100000 /dev/urandom > random").succeeded());
  runtime_->inject({"tar", "-c", 5000, {}, true});
  report = sync.syncFromPod(session, ws_, state);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(storage_.batches(), batches);
  EXPECT_TRUE(isLive("f1"));

  // The next sync succeeds.
  report = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  EXPECT_FALSE(isLive("f1"));
  EXPECT_EQ(stored("created"), "new\n");
  EXPECT_EQ(report.deleted.size(), 3u);
}

TEST_F(SyncTest, StorageDownIsUnavailableAndAppliesNothing) {
  putFile("a", "a");
  auto sync = makeSync();
  auto session = startPod("down");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(sh(session, "echo b > b").succeeded());
  storage_.setUnavailable(true);
  auto report = sync.syncFromPod(session, ws_, state);
  EXPECT_EQ(report.status.code(), sdk::ErrorCode::Unavailable);
  storage_.setUnavailable(false);
  EXPECT_FALSE(isLive("b"));
  ASSERT_TRUE(reportOk(sync.syncFromPod(session, ws_, state)));
  EXPECT_EQ(stored("b"), "b\n");
}

// --- several sessions of one workspace --------------------------------------------------------

TEST_F(SyncTest, AFileCreatedInOneSessionSurvivesTheOthersSync) {
  putFile("shared.txt", "shared");
  auto sync = makeSync();
  auto a = startPod("tabA");
  auto b = startPod("tabB");
  SessionSyncState sa, sb;
  ASSERT_TRUE(reportOk(sync.load(a, ws_, sa)));
  ASSERT_TRUE(reportOk(sync.load(b, ws_, sb)));
  ASSERT_TRUE(sh(a, "echo from-a > only-a").succeeded());
  ASSERT_TRUE(reportOk(sync.syncFromPod(a, ws_, sa)));
  auto report = sync.syncFromPod(b, ws_, sb);
  ASSERT_TRUE(reportOk(report));
  EXPECT_EQ(stored("only-a"), "from-a\n");
  EXPECT_TRUE(report.deleted.empty());
  EXPECT_EQ(stored("shared.txt"), "shared");
}

TEST_F(SyncTest, BothChangedOneFileLaterWriterKeepsItWithAConflictCopy) {
  putFile("notes.txt", "base");
  auto sync = makeSync();
  auto a = startPod("confA");
  auto b = startPod("confB");
  SessionSyncState sa, sb;
  ASSERT_TRUE(reportOk(sync.load(a, ws_, sa)));
  ASSERT_TRUE(reportOk(sync.load(b, ws_, sb)));
  ASSERT_TRUE(sh(a, "echo from-a > notes.txt").succeeded());
  ASSERT_TRUE(sh(b, "echo from-b-longer > notes.txt").succeeded());
  ASSERT_TRUE(reportOk(sync.syncFromPod(a, ws_, sa)));
  auto report = sync.syncFromPod(b, ws_, sb);
  ASSERT_TRUE(reportOk(report));
  EXPECT_EQ(stored("notes.txt"), "from-b-longer\n");
  ASSERT_EQ(report.conflicts.size(), 1u);
  EXPECT_EQ(report.conflicts[0].path, "notes.txt");
  const std::string copy = report.conflicts[0].copy_path;
  EXPECT_EQ(copy.rfind("notes.txt.conflict-", 0), 0u) << copy;
  EXPECT_EQ(stored(copy), "from-a\n");

  // A deleted in one tab while changed in the other: the change is kept.
  ASSERT_TRUE(sh(a, "rm notes.txt").succeeded());
  ASSERT_TRUE(sh(b, "echo again > notes.txt").succeeded());
  storage_.beforeNextBatch([&] {});
  ASSERT_TRUE(reportOk(sync.syncFromPod(b, ws_, sb)));
  auto ra = sync.syncFromPod(a, ws_, sa);
  ASSERT_TRUE(reportOk(ra));
  EXPECT_EQ(stored("notes.txt"), "again\n");
  ASSERT_EQ(ra.conflicts.size(), 1u);
  EXPECT_EQ(ra.conflicts[0].copy_path, "");
}

TEST_F(SyncTest, AConflictBetweenListingAndBatchIsResolved) {
  putFile("race.txt", "base");
  auto sync = makeSync();
  auto session = startPod("race");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(sh(session, "echo mine > race.txt").succeeded());
  storage_.beforeNextBatch([&] { putFile("race.txt", "theirs"); });
  auto report = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  EXPECT_EQ(stored("race.txt"), "mine\n");
  ASSERT_EQ(report.conflicts.size(), 1u);
  EXPECT_EQ(stored(report.conflicts[0].copy_path), "theirs");
}

TEST_F(SyncTest, ALeaseHeldElsewhereMakesTheSyncWaitThenGiveUp) {
  auto sync = [&] {
    SyncOptions options;
    options.lease_wait = std::chrono::milliseconds(100);
    return makeSync(options);
  }();
  auto session = startPod("lease");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(storage_.acquireLease(ws_, "someone-else", 60000).value().acquired);
  auto report = sync.syncFromPod(session, ws_, state);
  EXPECT_EQ(report.status.code(), sdk::ErrorCode::Unavailable);
  EXPECT_NE(report.status.message().find("someone-else"), std::string::npos);
  ASSERT_TRUE(storage_.releaseLease(ws_, "someone-else"));
  ASSERT_TRUE(reportOk(sync.syncFromPod(session, ws_, state)));
  // Released after the sync: another holder gets it at once.
  EXPECT_TRUE(storage_.acquireLease(ws_, "next", 1000).value().acquired);
}

TEST_F(SyncTest, ExcludedFoldersAreNeitherListedNorDeleted) {
  putFile("node_modules/old/index.js", "old");
  auto sync = makeSync();
  auto session = startPod("excludes");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(sh(session,
                 "rm -rf node_modules && mkdir -p node_modules/x .git sub/__pycache__ .venv && "
                 "echo 1 > node_modules/x/y && echo 2 > .git/config && "
                 "echo 3 > sub/__pycache__/m.pyc && echo 4 > .venv/cfg && echo 5 > sub/kept")
                  .succeeded());
  auto report = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  EXPECT_EQ(stored("sub/kept"), "5\n");
  for (const char* p : {"node_modules/x/y", ".git/config", "sub/__pycache__/m.pyc", ".venv/cfg",
                        "node_modules", ".git", ".venv", "sub/__pycache__"}) {
    EXPECT_FALSE(isLive(p)) << p;
  }
  EXPECT_EQ(stored("node_modules/old/index.js"), "old");  // never deleted
}

TEST_F(SyncTest, ASyncThatFindsNothingChangedReadsNoStorage) {
  // Most commands change no file: their sync compares the listing with what the session last saw
  // and reads the stored manifest only for a path that comparison cannot settle.
  putFile("kept.txt", "kept");
  auto sync = makeSync();
  auto session = startPod("noread");
  SessionSyncState state;
  ASSERT_TRUE(reportOk(sync.load(session, ws_, state)));
  ASSERT_TRUE(reportOk(sync.syncFromPod(session, ws_, state)));

  size_t reads = storage_.manifestReads();
  auto unchanged = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(unchanged));
  EXPECT_TRUE(unchanged.created.empty() && unchanged.changed.empty() && unchanged.deleted.empty())
      << unchanged.summary();
  EXPECT_EQ(storage_.manifestReads(), reads);

  ASSERT_TRUE(sh(session, "echo new > new.txt").succeeded());
  auto created = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(created));
  EXPECT_EQ(created.created, std::vector<std::string>{"new.txt"}) << created.summary();
  EXPECT_EQ(storage_.manifestReads(), reads + 1);
  EXPECT_EQ(stored("new.txt"), "new\n");

  ASSERT_TRUE(sh(session, "rm kept.txt").succeeded());
  auto deleted = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(deleted));
  EXPECT_EQ(deleted.deleted, std::vector<std::string>{"kept.txt"}) << deleted.summary();
  EXPECT_EQ(storage_.manifestReads(), reads + 2);
  EXPECT_FALSE(isLive("kept.txt"));
}

// --- scale ---------------------------------------------------------------------------------------

TEST_F(SyncTest, UnchangedTenThousandFileWorkspaceResyncsQuickly) {
  for (int i = 0; i < 10000; ++i) {
    putFile("d" + std::to_string(i % 100) + "/file-" + std::to_string(i) + ".txt",
            "content " + std::to_string(i), 0644, 1700000000000 + i);
  }
  auto sync = makeSync();
  auto session = startPod("tenk");
  SessionSyncState state;
  auto loaded = sync.load(session, ws_, state);
  ASSERT_TRUE(reportOk(loaded));
  auto report = sync.syncFromPod(session, ws_, state);
  ASSERT_TRUE(reportOk(report));
  EXPECT_EQ(report.fetched_files, 0u);
  EXPECT_TRUE(report.created.size() == 100 && report.changed.empty() && report.deleted.empty())
      << report.summary();  // the 100 directories had no rows yet
  SyncReport best = sync.syncFromPod(session, ws_, state);
  for (int i = 0; i < 4; ++i) {
    auto r = sync.syncFromPod(session, ws_, state);
    ASSERT_TRUE(reportOk(r));
    EXPECT_TRUE(r.created.empty() && r.changed.empty() && r.deleted.empty());
    if (r.duration < best.duration) best = r;
  }
  std::printf("[ figures ] load of 10000 files: %.1f ms; unchanged resync: %.1f ms (best of 5)\n",
              loaded.duration.count() / 1000.0, best.duration.count() / 1000.0);
  EXPECT_EQ(best.listed_entries, 10100u);
  EXPECT_LT(best.duration, std::chrono::seconds(2));  // target 100 ms; a loaded CI box is slower
}

// --- the listing parser --------------------------------------------------------------------------

TEST(PodListingTest, ParsesRecordsAndRefusesPartialOnes) {
  const std::string out("1700000001000000000\nf\0005\0001700000000.1239999\000644\0a\nb\0\0", 52);
  auto parsed = host::parseListing(out);
  ASSERT_TRUE(parsed) << parsed.status().message();
  const auto& entries = parsed.value().entries;
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].path, "a\nb");
  EXPECT_EQ(entries[0].mtime_ms, 1700000000123);
  EXPECT_EQ(entries[0].mode, 0644u);
  EXPECT_FALSE(host::parseListing(out.substr(0, out.size() - 1)));
  EXPECT_EQ(parsed.value().clock_ms, 1700000001000);
  EXPECT_FALSE(
      host::parseListing("1\n" + std::string("x\0notanumber\0", 13) + std::string(4, '\0')));
  EXPECT_FALSE(host::parseListing(out.substr(20)));  // no clock
}

TEST(PodListingTest, RefusesNumbersBeyondInt64InsteadOfOverflowing) {
  // Found by the pod_listing fuzz target (tests/fuzz): 5200002000000000000 s overflowed in ms.
  int64_t ms = 0;
  EXPECT_FALSE(host::parseFindTime("5200002000000000000", &ms));
  EXPECT_FALSE(host::parseFindTime("-99999999999999999999.5", &ms));
  EXPECT_FALSE(host::parseFindTime("9223372036854775.808", &ms));
  ASSERT_TRUE(host::parseFindTime("9223372036854775.807", &ms));
  EXPECT_EQ(ms, std::numeric_limits<int64_t>::max());
  ASSERT_TRUE(host::parseFindTime("-1.5", &ms));
  EXPECT_EQ(ms, -1500);
  // A size past int64 is refused, not saturated to INT64_MAX.
  auto entry = [](const std::string& size) {
    const std::string nul(1, '\0');
    return "1\nf" + nul + size + nul + "1700000000.0" + nul + "644" + nul + "a" + nul + nul;
  };
  ASSERT_TRUE(host::parseListing(entry("9223372036854775807")));
  EXPECT_EQ(host::parseListing(entry("9223372036854775807")).value().entries.at(0).size,
            std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(host::parseListing(entry("9223372036854775808")));
  EXPECT_FALSE(host::parseListing(entry("99999999999999999999")));
}

// One file "a" whose pax header says it was modified `seconds` after the epoch.
std::string tarWithMtime(time_t seconds) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax(a);
  archive_write_open2(
      a, &out, nullptr,
      [](struct archive*, void* self, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(self)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr, nullptr);
  struct archive_entry* e = archive_entry_new();
  archive_entry_copy_pathname(e, "a");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, 1);
  archive_entry_set_mtime(e, seconds, 5000000);
  archive_write_header(a, e);
  archive_write_data(a, "x", 1);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

TEST(SyncTarTest, AnMtimePastInt64MillisecondsIsRefusedNotOverflowed) {
  // Found by the sync_tar fuzz target (tests/fuzz): a pax mtime of 10^20 s overflowed.
  auto first = [](const std::string& tar, host::TarEntry& entry) {
    bool given = false;
    host::TarReader reader(
        [&](std::string& chunk) {
          if (given) return false;
          given = true;
          chunk = tar;
          return true;
        },
        1024);
    bool end = false;
    return reader.next(entry, &end);
  };
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 1000 - 1;
  for (time_t seconds : {std::numeric_limits<time_t>::max(), time_t{kMax + 1}, time_t{-kMax - 1}}) {
    host::TarEntry entry;
    auto status = first(tarWithMtime(seconds), entry);
    EXPECT_FALSE(status) << seconds;
    EXPECT_NE(status.message().find("out of range"), std::string::npos) << status.message();
  }
  for (time_t seconds : {time_t{kMax}, time_t{-kMax}, time_t{1700000000}}) {
    host::TarEntry entry;
    auto status = first(tarWithMtime(seconds), entry);
    ASSERT_TRUE(status) << status.message();
    EXPECT_EQ(entry.mtime_ms, int64_t{seconds} * 1000 + 5);
    EXPECT_EQ(entry.content, "x");
  }
}

}  // namespace
}  // namespace podterm::tests::sync

namespace podterm::testing {
// Linked for its observers; this binary runs no runtime contract cases.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RuntimeContractTest);
}  // namespace podterm::testing
