// auth-apikey, loaded from its shared object the way the host loads it: the SDK's auth contract
// suite (the same cases every built-in auth plugin passes), then this plugin's own config rules.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "podterm/plugin.h"
#include "podterm/testing/auth_contract.h"
#include "podterm/testing/plugin_instance.h"

namespace podterm::examples::auth_apikey {
namespace {

using podterm::testing::AuthContractParam;
using podterm::testing::AuthContractTest;
using podterm::testing::AuthCredential;
using podterm::testing::MapConfigView;

using Created = podterm::testing::PluginInstance<sdk::Authenticator>;

Created create(std::map<std::string, MapConfigView::Value> values) {
  return podterm::testing::createPlugin<sdk::Authenticator>(
      AUTH_APIKEY_PLUGIN, sdk::PluginKind::Auth, "apikey", "auth.apikey", std::move(values));
}

std::string keyOf(const std::string& user) {
  return "key-" + user + "-5e0c7a1f9b";
}

// The contract suite mints credentials for these users; the table holds a key for each.
std::vector<std::string> contractKeys() {
  std::vector<std::string> entries;
  for (const std::string& user :
       {std::string("alice"), std::string("bob"), std::string("carol"), std::string("mallory"),
        std::string("1"), std::string("Bob-2"), std::string(64, 'u')}) {
    entries.push_back(user + ":" + keyOf(user));
  }
  return entries;
}

AuthCredential mint(const std::string& user, const std::string& /*workspace*/) {
  AuthCredential c;
  c.headers = {{"authorization", "Bearer " + keyOf(user)}};
  c.secret = keyOf(user);
  return c;
}

INSTANTIATE_TEST_SUITE_P(ApiKey, AuthContractTest,
                         ::testing::Values(AuthContractParam{
                             "apikey",
                             [] {
                               return create({{"keys", contractKeys()}}).object;
                             },
                             mint}),
                         podterm::testing::authContractName);

sdk::AuthRequest requestFor(const std::string& user, const std::string& authorization) {
  sdk::AuthRequest r;
  r.method = "GET";
  r.path = "/api/workspaces/user_" + user + "_ws_w1/tree";
  r.user = user;
  r.workspace = "w1";
  if (!authorization.empty()) r.headers = {{"authorization", authorization}};
  return r;
}

TEST(ApiKeyAuthenticator, ReadsEveryKeyItKnows) {
  Created created = create({{"keys", std::vector<std::string>{"alice:0123456789abcdef"}}});
  ASSERT_TRUE(created.status) << created.status.message();
  EXPECT_TRUE(created.unread_keys.empty());
  // An unknown key is left unread, so the host refuses it with its file and line.
  Created extra = create({{"keys", contractKeys()}, {"key_file", std::string("x")}});
  EXPECT_EQ(extra.unread_keys, std::vector<std::string>{"key_file"});
}

TEST(ApiKeyAuthenticator, AUserMayHaveSeveralKeys) {
  Created created = create(
      {{"keys", std::vector<std::string>{"alice:0123456789abcdef", "alice:fedcba9876543210"}}});
  ASSERT_TRUE(created.status) << created.status.message();
  for (const char* key : {"0123456789abcdef", "fedcba9876543210"}) {
    auto d = created.object->authenticate(requestFor("alice", std::string("bearer ") + key));
    ASSERT_TRUE(d);
    EXPECT_TRUE(d.value().allowed) << key;
    EXPECT_EQ(d.value().principal, "alice");
  }
}

TEST(ApiKeyAuthenticator, RefusesAmbiguousOrMalformedCredentials) {
  Created created = create({{"keys", contractKeys()}});
  ASSERT_TRUE(created.status);
  auto twice = requestFor("alice", "Bearer " + keyOf("alice"));
  twice.headers.emplace_back("authorization", "Bearer " + keyOf("alice"));
  for (const sdk::AuthRequest& r :
       {twice, requestFor("alice", "Basic " + keyOf("alice")), requestFor("alice", keyOf("alice")),
        requestFor("alice", "Bearer " + keyOf("alice") + " ")}) {
    auto d = created.object->authenticate(r);
    ASSERT_TRUE(d);
    EXPECT_FALSE(d.value().allowed);
    EXPECT_EQ(d.value().http_status, 401);
    EXPECT_EQ(d.value().reason.find(keyOf("alice")), std::string::npos) << d.value().reason;
  }
}

TEST(ApiKeyAuthenticator, ConfigErrorsNameTheKeyAndNeverQuoteASecret) {
  const std::string where = "test.toml:1:1: auth.apikey.keys: ";
  struct Case {
    std::map<std::string, MapConfigView::Value> values;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, where + "required: a list of \"<user>:<key>\" strings"},
      {{{"keys", std::vector<std::string>{}}}, where + "lists no key, so nobody could connect"},
      {{{"keys", std::string("alice:0123456789abcdef")}}, where + "expected an array of strings"},
      {{{"keys", std::vector<std::string>{"0123456789abcdef"}}},
       where + "entry 1 is not \"<user>:<key>\""},
      {{{"keys", std::vector<std::string>{"al ice:0123456789abcdef"}}},
       where + "entry 1: the user must be 1 to 64 letters, digits or '-'"},
      {{{"keys", std::vector<std::string>{"alice:tooshort"}}},
       where + "entry 1: the key must be 16 to 256 printable characters, no spaces"},
      {{{"keys", std::vector<std::string>{"alice:0123456789abcdef", "bob:0123456789abcdef"}}},
       where + "entry 2 repeats an earlier key"},
  };
  for (const Case& c : cases) {
    Created created = create(c.values);
    EXPECT_EQ(created.status.code(), sdk::ErrorCode::InvalidArgument) << c.message;
    EXPECT_EQ(created.status.message(), c.message);
    EXPECT_EQ(created.object, nullptr);
  }
}

}  // namespace
}  // namespace podterm::examples::auth_apikey
