// sync-skipreads, loaded from its shared object the way the host loads it: the SDK's sync policy
// contract suite, then this policy's own cases.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "podterm/plugin.h"
#include "podterm/testing/plugin_instance.h"
#include "podterm/testing/sync_policy_contract.h"

namespace podterm::examples::sync_skipreads {
namespace {

using podterm::testing::MapConfigView;
using podterm::testing::SyncPolicyContractParam;
using podterm::testing::SyncPolicyContractTest;

using Created = podterm::testing::PluginInstance<sdk::SyncPolicy>;

Created create(std::map<std::string, MapConfigView::Value> values) {
  return podterm::testing::createPlugin<sdk::SyncPolicy>(SYNC_SKIPREADS_PLUGIN,
                                                         sdk::PluginKind::SyncPolicy, "skipreads",
                                                         "sync.skipreads", std::move(values));
}

INSTANTIATE_TEST_SUITE_P(SkipReads, SyncPolicyContractTest,
                         ::testing::Values(SyncPolicyContractParam{
                             "skipreads", [] { return create({}).object; }}),
                         podterm::testing::syncPolicyContractName);

sdk::SyncDecision decide(Created& created, const std::string& line) {
  sdk::FinishedCommand c;
  c.command_line = line;
  return created.object->afterCommand(c);
}

TEST(SkipReadsPolicy, SkipsPlainReadOnlyCommandsOnly) {
  Created created = create({});
  ASSERT_TRUE(created.status) << created.status.message();
  for (const char* line : {"ls", "ls -la src", "  pwd", "git status", "git\tlog --oneline"}) {
    EXPECT_EQ(decide(created, line), sdk::SyncDecision::Skip) << line;
  }
  for (const char* line : {"ls > f", "ls | tee f", "ls; touch x", "git stash", "git", "lsof",
                           "ls $(touch x)", "ls 'a'", "make", ""}) {
    EXPECT_EQ(decide(created, line), sdk::SyncDecision::Sync) << line;
  }
}

TEST(SkipReadsPolicy, ReadsItsConfig) {
  Created created = create(
      {{"commands", std::vector<std::string>{"cat", "git show"}}, {"idle_sync_ms", int64_t{0}}});
  ASSERT_TRUE(created.status) << created.status.message();
  EXPECT_TRUE(created.unread_keys.empty());
  EXPECT_EQ(created.object->idleSyncAfterMs(), 0);
  EXPECT_EQ(decide(created, "cat notes.txt"), sdk::SyncDecision::Skip);
  EXPECT_EQ(decide(created, "git show HEAD"), sdk::SyncDecision::Skip);
  EXPECT_EQ(decide(created, "ls"), sdk::SyncDecision::Sync);  // the list replaces the default
  EXPECT_EQ(create({}).object->idleSyncAfterMs(), 5000);
}

TEST(SkipReadsPolicy, RefusesBadConfigWithTheKey) {
  Created shell = create({{"commands", std::vector<std::string>{"ls", "cat > x"}}});
  EXPECT_EQ(shell.status.code(), sdk::ErrorCode::InvalidArgument);
  EXPECT_EQ(shell.status.message(),
            "test.toml:1:1: sync.skipreads.commands: entry 2 must be plain words (no quotes, "
            "redirections or other shell syntax)");
  Created negative = create({{"idle_sync_ms", int64_t{-1}}});
  EXPECT_EQ(negative.status.message(),
            "test.toml:1:1: sync.skipreads.idle_sync_ms: must be 0 (never) or a number of "
            "milliseconds");
  EXPECT_EQ(create({{"commands", std::string("ls")}}).status.code(),
            sdk::ErrorCode::InvalidArgument);
  EXPECT_EQ(create({{"idle", int64_t{1}}}).unread_keys, std::vector<std::string>{"idle"});
}

}  // namespace
}  // namespace podterm::examples::sync_skipreads
