// auth-none, loaded from its shared object: the auth contract suite, as a plugin that checks no
// credential and accepts every request.

#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "podterm/plugin.h"
#include "podterm/testing/auth_contract.h"
#include "podterm/testing/sync_policy_contract.h"

namespace podterm::tests::auth_none {
namespace {

using podterm::testing::AuthContractParam;
using podterm::testing::AuthContractTest;
using podterm::testing::MapConfigView;

struct Created {
  std::shared_ptr<sdk::Authenticator> auth;
  sdk::Status status;
  std::vector<std::string> unread_keys;
};

Created create(std::map<std::string, MapConfigView::Value> values) {
  static auto lib = std::make_shared<boost::dll::shared_library>(
      boost::dll::fs::path(AUTH_PLUGIN_PATH), boost::dll::load_mode::rtld_now);
  const sdk::PluginDescriptor* d =
      lib->get_alias<sdk::DescriptorFunction>(sdk::kDescriptorSymbol)();
  EXPECT_EQ(d->abi_version, sdk::kAbiVersion);
  EXPECT_EQ(d->kind, sdk::PluginKind::Auth);
  EXPECT_STREQ(d->name, "none");
  MapConfigView view("auth.none", std::move(values));
  sdk::PluginObject* object = nullptr;
  Created out;
  out.status = d->create(view, &object);
  out.unread_keys = view.unreadKeys();
  if (!out.status) return out;
  auto keep = lib;
  out.auth =
      std::shared_ptr<sdk::Authenticator>(static_cast<sdk::Authenticator*>(object),
                                          [keep, d](sdk::Authenticator* a) { d->destroy(a); });
  return out;
}

INSTANTIATE_TEST_SUITE_P(None, AuthContractTest,
                         ::testing::Values(AuthContractParam{"none", [] { return create({}).auth; },
                                                             nullptr}),
                         podterm::testing::authContractName);

sdk::AuthRequest request(const std::string& user) {
  sdk::AuthRequest r;
  r.method = "GET";
  r.session_id = "user_" + user + "_ws_w1_1234567890_uuid";
  r.path = "/api/terminal/ws/" + r.session_id;
  r.user = user;
  r.workspace = "w1";
  return r;
}

TEST(AuthNoneTest, NobodyIsAdminUnlessTheConfigSaysSo) {
  auto plain = create({});
  ASSERT_TRUE(plain.status) << plain.status.message();
  auto decision = plain.auth->authenticate(request("alice"));
  ASSERT_TRUE(decision);
  EXPECT_TRUE(decision.value().allowed);
  EXPECT_FALSE(decision.value().admin);

  auto off = create({{"admin", false}});
  ASSERT_TRUE(off.status) << off.status.message();
  EXPECT_TRUE(off.unread_keys.empty());
  EXPECT_FALSE(off.auth->authenticate(request("alice")).value().admin);

  auto on = create({{"admin", true}});
  ASSERT_TRUE(on.status) << on.status.message();
  EXPECT_TRUE(on.unread_keys.empty());
  for (const char* user : {"alice", "bob"}) {
    auto d = on.auth->authenticate(request(user));
    ASSERT_TRUE(d);
    EXPECT_TRUE(d.value().allowed);
    EXPECT_EQ(d.value().principal, user);
    EXPECT_TRUE(d.value().admin) << user;
  }
}

TEST(AuthNoneTest, AdminMustBeABoolAndOtherKeysAreLeftForTheHost) {
  auto wrong = create({{"admin", std::string("yes")}});
  EXPECT_EQ(wrong.status.code(), sdk::ErrorCode::InvalidArgument);
  EXPECT_NE(wrong.status.message().find("auth.none.admin"), std::string::npos)
      << wrong.status.message();
  EXPECT_EQ(wrong.auth, nullptr);
  auto unknown = create({{"admn", true}});
  ASSERT_TRUE(unknown.status);
  EXPECT_EQ(unknown.unread_keys, std::vector<std::string>{"admn"});
}

// MapConfigView comes with the sync policy suite, which this plugin does not run.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SyncPolicyContractTest);

}  // namespace
}  // namespace podterm::tests::auth_none
