// auth-none, loaded from its shared object: the auth contract suite, as a plugin that checks no
// credential and accepts every request.

#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <memory>

#include "podterm/plugin.h"
#include "podterm/testing/auth_contract.h"
#include "podterm/testing/sync_policy_contract.h"

namespace podterm::tests::auth_none {
namespace {

using podterm::testing::AuthContractParam;
using podterm::testing::AuthContractTest;
using podterm::testing::MapConfigView;

std::shared_ptr<sdk::Authenticator> create() {
  static auto lib = std::make_shared<boost::dll::shared_library>(
      boost::dll::fs::path(AUTH_PLUGIN_PATH), boost::dll::load_mode::rtld_now);
  const sdk::PluginDescriptor* d =
      lib->get_alias<sdk::DescriptorFunction>(sdk::kDescriptorSymbol)();
  EXPECT_EQ(d->abi_version, sdk::kAbiVersion);
  EXPECT_EQ(d->kind, sdk::PluginKind::Auth);
  EXPECT_STREQ(d->name, "none");
  MapConfigView view("auth.none");
  sdk::PluginObject* object = nullptr;
  if (!d->create(view, &object)) return nullptr;
  auto keep = lib;
  return std::shared_ptr<sdk::Authenticator>(static_cast<sdk::Authenticator*>(object),
                                             [keep, d](sdk::Authenticator* a) { d->destroy(a); });
}

INSTANTIATE_TEST_SUITE_P(None, AuthContractTest,
                         ::testing::Values(AuthContractParam{"none", create, nullptr}),
                         podterm::testing::authContractName);

// MapConfigView comes with the sync policy suite, which this plugin does not run.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SyncPolicyContractTest);

}  // namespace
}  // namespace podterm::tests::auth_none
