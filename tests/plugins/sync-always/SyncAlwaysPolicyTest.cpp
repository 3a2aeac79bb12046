// sync-always, loaded from its shared object: the contract suite and its config.

#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <memory>

#include "podterm/plugin.h"
#include "podterm/testing/sync_policy_contract.h"

namespace podterm::tests::sync_always {
namespace {

using podterm::testing::MapConfigView;
using podterm::testing::SyncPolicyContractParam;
using podterm::testing::SyncPolicyContractTest;

struct Created {
  std::shared_ptr<sdk::SyncPolicy> policy;
  sdk::Status status;
  std::vector<std::string> unread_keys;
};

Created create(std::map<std::string, MapConfigView::Value> values) {
  static auto lib = std::make_shared<boost::dll::shared_library>(
      boost::dll::fs::path(SYNC_PLUGIN_PATH), boost::dll::load_mode::rtld_now);
  const sdk::PluginDescriptor* d =
      lib->get_alias<sdk::DescriptorFunction>(sdk::kDescriptorSymbol)();
  Created out;
  EXPECT_EQ(d->abi_version, sdk::kAbiVersion);
  EXPECT_EQ(d->kind, sdk::PluginKind::SyncPolicy);
  EXPECT_STREQ(d->name, "always");
  MapConfigView view("sync.always", std::move(values));
  sdk::PluginObject* object = nullptr;
  out.status = d->create(view, &object);
  out.unread_keys = view.unreadKeys();
  if (!out.status) return out;
  auto keep = lib;
  out.policy = std::shared_ptr<sdk::SyncPolicy>(static_cast<sdk::SyncPolicy*>(object),
                                                [keep, d](sdk::SyncPolicy* p) { d->destroy(p); });
  return out;
}

INSTANTIATE_TEST_SUITE_P(Always, SyncPolicyContractTest,
                         ::testing::Values(SyncPolicyContractParam{
                             "always", [] { return create({}).policy; }}),
                         podterm::testing::syncPolicyContractName);

TEST(SyncAlwaysTest, SyncsAfterEveryCommand) {
  auto created = create({});
  ASSERT_TRUE(created.status) << created.status.message();
  for (const char* line : {"ls", "cat file", "git status", "", "true"}) {
    sdk::FinishedCommand c;
    c.command_line = line;
    EXPECT_EQ(created.policy->afterCommand(c), sdk::SyncDecision::Sync) << line;
  }
}

TEST(SyncAlwaysTest, IdleIntervalDefaultsToFiveSecondsAndIsConfigurable) {
  EXPECT_EQ(create({}).policy->idleSyncAfterMs(), 5000);
  auto created = create({{"idle_sync_ms", int64_t{250}}});
  ASSERT_TRUE(created.status);
  EXPECT_EQ(created.policy->idleSyncAfterMs(), 250);
  EXPECT_TRUE(created.unread_keys.empty());
  EXPECT_EQ(create({{"idle_sync_ms", int64_t{0}}}).policy->idleSyncAfterMs(), 0);
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
