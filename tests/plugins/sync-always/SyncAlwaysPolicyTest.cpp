// sync-always, loaded from its shared object: the contract suite and its config.

#include <gtest/gtest.h>

#include <memory>

#include "podterm/plugin.h"
#include "podterm/testing/plugin_instance.h"
#include "podterm/testing/sync_policy_contract.h"

namespace podterm::tests::sync_always {
namespace {

using podterm::testing::MapConfigView;
using podterm::testing::SyncPolicyContractParam;
using podterm::testing::SyncPolicyContractTest;

using Created = podterm::testing::PluginInstance<sdk::SyncPolicy>;

Created create(std::map<std::string, MapConfigView::Value> values) {
  return podterm::testing::createPlugin<sdk::SyncPolicy>(
      SYNC_PLUGIN_PATH, sdk::PluginKind::SyncPolicy, "always", "sync.always", std::move(values));
}

INSTANTIATE_TEST_SUITE_P(Always, SyncPolicyContractTest,
                         ::testing::Values(SyncPolicyContractParam{
                             "always", [] { return create({}).object; }}),
                         podterm::testing::syncPolicyContractName);

TEST(SyncAlwaysTest, SyncsAfterEveryCommand) {
  auto created = create({});
  ASSERT_TRUE(created.status) << created.status.message();
  for (const char* line : {"ls", "cat file", "git status", "", "true"}) {
    sdk::FinishedCommand c;
    c.command_line = line;
    EXPECT_EQ(created.object->afterCommand(c), sdk::SyncDecision::Sync) << line;
  }
}

TEST(SyncAlwaysTest, IdleIntervalDefaultsToFiveSecondsAndIsConfigurable) {
  EXPECT_EQ(create({}).object->idleSyncAfterMs(), 5000);
  auto created = create({{"idle_sync_ms", int64_t{250}}});
  ASSERT_TRUE(created.status);
  EXPECT_EQ(created.object->idleSyncAfterMs(), 250);
  EXPECT_TRUE(created.unread_keys.empty());
  EXPECT_EQ(create({{"idle_sync_ms", int64_t{0}}}).object->idleSyncAfterMs(), 0);
}

TEST(SyncAlwaysTest, BadConfigIsRefusedWithTheKey) {
  auto negative = create({{"idle_sync_ms", int64_t{-1}}});
  EXPECT_EQ(negative.status.code(), sdk::ErrorCode::InvalidArgument);
  EXPECT_NE(negative.status.message().find("sync.always.idle_sync_ms"), std::string::npos);
  auto wrong_type = create({{"idle_sync_ms", std::string("5s")}});
  EXPECT_EQ(wrong_type.status.code(), sdk::ErrorCode::InvalidArgument);
  // An unknown key is left unread, so the host reports it.
  EXPECT_EQ(create({{"idle", int64_t{1}}}).unread_keys, std::vector<std::string>{"idle"});
}

}  // namespace
}  // namespace podterm::tests::sync_always
