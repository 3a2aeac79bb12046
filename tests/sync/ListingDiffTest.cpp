// ListingDiff on its own: which listed paths a save trusts by metadata, which it fetches, which
// it stores at once and which it skips, without a pod or a storage.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sync/ListingDiff.h"

namespace podterm::host {
namespace {

constexpr int64_t kNow = 1764100000000;

PodEntry file(const std::string& path, int64_t size, int64_t mtime_ms, uint32_t mode = 0644) {
  return {'f', size, mtime_ms, mode, path, {}};
}

sdk::ItemMeta stored(const PodEntry& e, int64_t version) {
  sdk::ItemMeta meta;
  meta.path = e.path;
  meta.kind = e.type == 'd' ? sdk::ItemKind::Directory : sdk::ItemKind::File;
  meta.size = e.size;
  meta.mode = e.mode;
  meta.mtime_ms = e.mtime_ms;
  meta.version = version;
  return meta;
}

std::vector<std::string> paths(const std::vector<const PodEntry*>& entries) {
  std::vector<std::string> out;
  for (const auto* e : entries) out.push_back(e->path);
  return out;
}

TEST(ListingDiffTest, TheStoredRowVouchesForAnOldFileButNotForARecentOne) {
  const std::vector<PodEntry> entries = {file("old.txt", 3, kNow - 60000),
                                         file("recent.txt", 3, kNow - 500)};
  StoredManifest manifest;
  for (const auto& e : entries) manifest.emplace(e.path, stored(e, 7));
  const ListingDiff diff = diffListing(entries, manifest, {}, SyncOptions{}, kNow);
  EXPECT_EQ(diff.seen.count("old.txt"), 1u);
  EXPECT_EQ(diff.seen.at("old.txt"), 7);
  // Written within the racy window: a second write in the same tick would not move its mtime.
  EXPECT_EQ(paths(diff.to_fetch), std::vector<std::string>{"recent.txt"});
  EXPECT_TRUE(diff.changes.empty());
}

TEST(ListingDiffTest, WhatTheSessionSawItTrustsUntilThePodChangesIt) {
  std::vector<PodEntry> entries = {file("a.txt", 3, kNow - 60000)};
  SessionSyncState state;
  state.listed["a.txt"] = {sdk::ItemKind::File, 3, kNow - 60000, 0644, {}, false};
  // No stored row at all (another session deleted it): unchanged in this pod all the same.
  EXPECT_TRUE(diffListing(entries, {}, state, SyncOptions{}, kNow).to_fetch.empty());
  // Changed in the pod: fetched, even though the stored row now matches the new metadata.
  entries[0].mtime_ms = kNow - 30000;
  StoredManifest manifest;
  manifest.emplace("a.txt", stored(entries[0], 9));
  EXPECT_EQ(paths(diffListing(entries, manifest, state, SyncOptions{}, kNow).to_fetch),
            std::vector<std::string>{"a.txt"});
}

TEST(ListingDiffTest, DirectoriesAndSymlinksAreStoredAtOnceWithTheKnownVersion) {
  const std::vector<PodEntry> entries = {{'d', 4096, kNow - 60000, 0755, "src", {}},
                                         {'l', 6, kNow - 60000, 0777, "link", "target"}};
  SessionSyncState state;
  state.versions["link"] = 4;  // loaded by this session: the compare-and-swap base
  const ListingDiff diff = diffListing(entries, {}, state, SyncOptions{}, kNow);
  ASSERT_EQ(diff.changes.size(), 2u);
  EXPECT_EQ(diff.changes[0].item.meta.path, "src");
  EXPECT_EQ(diff.changes[0].item.meta.kind, sdk::ItemKind::Directory);
  EXPECT_EQ(diff.changes[0].expected_version, 0);
  EXPECT_EQ(diff.changes[1].item.meta.kind, sdk::ItemKind::Symlink);
  EXPECT_EQ(diff.changes[1].item.content, "target");
  EXPECT_EQ(diff.changes[1].expected_version, 4);
  EXPECT_EQ(diff.listed.size(), 2u);
}

TEST(ListingDiffTest, UnsafeExcludedOversizedAndBeneathANonDirectoryAreNotSynced) {
  SyncOptions options;
  options.max_file_bytes = 100;
  const std::vector<PodEntry> entries = {
      file("../escape", 1, kNow - 60000), file("node_modules/x.js", 1, kNow - 60000),
      file("big.bin", 101, kNow - 60000), {'l', 3, kNow - 60000, 0777, "ln", "/etc"},
      file("ln/passwd", 1, kNow - 60000), {'p', 0, kNow - 60000, 0644, "fifo", {}},
  };
  const ListingDiff diff = diffListing(entries, {}, {}, options, kNow);
  std::vector<std::string> skipped;
  for (const auto& s : diff.skipped) skipped.push_back(s.path);
  EXPECT_EQ(skipped, (std::vector<std::string>{"../escape", "big.bin", "ln/passwd", "fifo"}));
  // Excluded paths are not even present (a save never deletes them); skipped ones are.
  EXPECT_EQ(diff.present.count("node_modules/x.js"), 0u);
  EXPECT_EQ(diff.present.count("big.bin"), 1u);
  EXPECT_TRUE(diff.to_fetch.empty());
  ASSERT_EQ(diff.changes.size(), 1u);  // the symlink itself is stored as a link
  EXPECT_EQ(diff.changes[0].item.meta.path, "ln");
}

TEST(ListingDiffTest, WhatTheSessionSawSettlesAnUnchangedListingWithoutTheManifest) {
  const std::vector<PodEntry> entries = {file("a.txt", 3, kNow - 60000),
                                         {'d', 0, kNow - 60000, 0755, "dir", {}}};
  SessionSyncState state;
  state.listed["a.txt"] = {sdk::ItemKind::File, 3, kNow - 60000, 0644, {}, false};
  state.listed["dir"] = {sdk::ItemKind::Directory, 0, kNow - 60000, 0755, {}, false};
  state.versions["a.txt"] = 4;
  state.versions["dir"] = 5;
  ListingDiff diff = diffAgainstSession(entries, state, SyncOptions{});
  EXPECT_FALSE(needsManifest(diff, state, SyncOptions{}));
  EXPECT_TRUE(diff.undecided.empty() && diff.changes.empty() && diff.to_fetch.empty());
  EXPECT_TRUE(diff.listed.empty());  // no state new to the session: it keeps the one it has

  // A path the session knows of is gone from the pod: the stored rows decide its delete.
  SessionSyncState knows_more = state;
  knows_more.versions["gone.txt"] = 6;
  EXPECT_TRUE(needsManifest(diffAgainstSession(entries, knows_more, SyncOptions{}), knows_more,
                            SyncOptions{}));
  // ...unless it is excluded from syncs.
  SyncOptions excluding;
  excluding.excludes = {"gone.txt"};
  EXPECT_FALSE(
      needsManifest(diffAgainstSession(entries, knows_more, excluding), knows_more, excluding));
}

TEST(ListingDiffTest, ANewOrChangedPathWaitsForTheManifestAndTheTwoStepsMatchTheWhole) {
  std::vector<PodEntry> entries = {file("same.txt", 3, kNow - 60000),
                                   file("changed.txt", 4, kNow - 50000),
                                   file("new-old.txt", 5, kNow - 60000),
                                   {'d', 0, kNow - 60000, 0755, "newdir", {}}};
  SessionSyncState state;
  state.listed["same.txt"] = {sdk::ItemKind::File, 3, kNow - 60000, 0644, {}, false};
  state.listed["changed.txt"] = {sdk::ItemKind::File, 3, kNow - 60000, 0644, {}, false};
  StoredManifest manifest;
  manifest.emplace("new-old.txt", stored(entries[2], 11));
  ListingDiff diff = diffAgainstSession(entries, state, SyncOptions{});
  ASSERT_TRUE(needsManifest(diff, state, SyncOptions{}));
  EXPECT_EQ(diff.undecided.size(), 3u);
  settleWithManifest(diff, manifest, state, kNow);
  EXPECT_TRUE(diff.undecided.empty());
  EXPECT_EQ(paths(diff.to_fetch), std::vector<std::string>{"changed.txt"});
  EXPECT_EQ(diff.seen.at("new-old.txt"), 11);
  ASSERT_EQ(diff.changes.size(), 1u);
  EXPECT_EQ(diff.changes[0].item.meta.path, "newdir");
  const ListingDiff whole = diffListing(entries, manifest, state, SyncOptions{}, kNow);
  EXPECT_EQ(paths(whole.to_fetch), paths(diff.to_fetch));
  EXPECT_EQ(whole.seen, diff.seen);
  EXPECT_EQ(whole.listed.size(), diff.listed.size());
  EXPECT_EQ(whole.changes.size(), diff.changes.size());
}

}  // namespace
}  // namespace podterm::host
