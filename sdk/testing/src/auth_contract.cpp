#include "podterm/testing/auth_contract.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <thread>

namespace podterm::testing {

using namespace std::chrono_literals;

namespace {

// A hostile request must be answered within this (auth runs before every upgrade).
constexpr auto kHostileBudget = 1s;

// True when `reason` quotes any 12-byte piece of `secret` (a whole token or a part of one).
bool quotes(const std::string& reason, const std::string& secret) {
  constexpr size_t kPiece = 12;
  if (secret.empty()) return false;
  if (secret.size() <= kPiece) return reason.find(secret) != std::string::npos;
  for (size_t i = 0; i + kPiece <= secret.size(); i += kPiece / 2) {
    if (reason.find(secret.substr(i, kPiece)) != std::string::npos) return true;
  }
  return false;
}

std::vector<sdk::AuthRequest> hostileRequests(const sdk::AuthRequest& base) {
  std::vector<sdk::AuthRequest> out;
  auto with = [&](auto change) {
    sdk::AuthRequest r = base;
    change(r);
    out.push_back(std::move(r));
  };
  with([](sdk::AuthRequest& r) {
    r.headers.emplace_back("authorization", "Bearer " + std::string(1 << 20, 'a'));
  });
  with([](sdk::AuthRequest& r) {
    r.headers.emplace_back("authorization", std::string(1 << 20, ' '));
  });
  with([](sdk::AuthRequest& r) { r.headers.emplace_back("cookie", std::string(1 << 20, ';')); });
  with([](sdk::AuthRequest& r) {
    std::string many;
    while (many.size() < (1 << 20)) many += "a=b; ";
    r.headers.emplace_back("cookie", many);
  });
  with([](sdk::AuthRequest& r) {
    for (int i = 0; i < 10000; ++i) r.headers.emplace_back("x-h" + std::to_string(i), "v");
  });
  with([](sdk::AuthRequest& r) {
    r.headers.emplace_back("authorization", std::string("Bearer a\0b.c\0d.e\0f", 19));
  });
  with([](sdk::AuthRequest& r) {
    r.headers.emplace_back("authorization", std::string(1000, '\0'));
  });
  with([](sdk::AuthRequest& r) {
    r.headers.emplace_back("authorization", "Bearer \xff\xfe.\xc3\x28.\x80\x80");
  });
  with([](sdk::AuthRequest& r) { r.headers.emplace_back("authorization", "Bearer ..."); });
  with([](sdk::AuthRequest& r) { r.headers.emplace_back("authorization", "Bearer"); });
  with([](sdk::AuthRequest& r) {
    for (int i = 0; i < 100; ++i)
      r.offered_subprotocols.push_back("bearer." + std::string(4096, 'x'));
  });
  with([](sdk::AuthRequest& r) {
    for (int i = 0; i < 100; ++i) r.offered_subprotocols.push_back("podterm.v" + std::to_string(i));
  });
  with(
      [](sdk::AuthRequest& r) { r.offered_subprotocols.push_back(std::string("bearer.\0\0", 9)); });
  with(
      [&base](sdk::AuthRequest& r) { r.path = base.path + "?token=" + std::string(1 << 20, 'b'); });
  with([](sdk::AuthRequest& r) { r.path = std::string(1 << 20, '/'); });
  with([](sdk::AuthRequest& r) {
    std::string nested = "Bearer ";
    // A base64url header of a deeply nested JSON array: "[[[[..." encodes as "W1tb...".
    while (nested.size() < 8000) nested += "W1tb";
    r.headers.emplace_back("authorization", nested + ".e30.x");
  });
  return out;
}

}  // namespace

std::string authContractName(const ::testing::TestParamInfo<AuthContractParam>& info) {
  std::string name;
  for (char c : info.param.name) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

std::shared_ptr<sdk::Authenticator> AuthContractTest::authenticator() {
  auto a = GetParam().factory();
  EXPECT_NE(a, nullptr) << GetParam().name << ": the factory built no authenticator";
  return a;
}

sdk::AuthRequest AuthContractTest::request(const std::string& user, const std::string& workspace) {
  sdk::AuthRequest r;
  r.method = "GET";
  r.session_id = "user_" + user + "_ws_" + workspace + "_1234567890_uuid";
  r.path = "/api/terminal/ws/" + r.session_id;
  r.headers = {{"host", "podterm.example"},
               {"origin", "https://podterm.example"},
               {"upgrade", "websocket"},
               {"connection", "Upgrade"}};
  r.offered_subprotocols = {"podterm.v2", "podterm.v1"};
  r.remote_address = "192.0.2.7:51000";
  r.user = user;
  r.workspace = workspace;
  return r;
}

sdk::AuthRequest AuthContractTest::withCredential(sdk::AuthRequest request,
                                                  const AuthCredential& c) {
  for (const auto& h : c.headers) request.headers.push_back(h);
  for (const auto& p : c.offered_subprotocols) request.offered_subprotocols.push_back(p);
  return request;
}

TEST_P(AuthContractTest, AcceptsAValidRequest) {
  auto a = authenticator();
  ASSERT_NE(a, nullptr);
  for (const auto& [user, workspace] : std::vector<std::pair<std::string, std::string>>{
           {"alice", "w1"}, {"1", "abc123"}, {"Bob-2", "x"}, {std::string(64, 'u'), "w"}}) {
    sdk::AuthRequest r = request(user, workspace);
    AuthCredential c;
    if (checksCredentials()) c = GetParam().mint(user, workspace);
    auto result = a->authenticate(withCredential(r, c));
    ASSERT_TRUE(result) << user << ": " << result.status().message();
    EXPECT_TRUE(result.value().allowed) << user << ": " << result.value().reason;
    EXPECT_EQ(result.value().principal, user);
    EXPECT_GE(result.value().expires_unix_ms, 0);
    EXPECT_FALSE(quotes(result.value().reason, c.secret));
    // A credential offered as a subprotocol is named so the host never echoes it.
    for (const auto& p : c.offered_subprotocols) {
      EXPECT_EQ(result.value().credential_subprotocol, p);
    }
  }
}

// The host keeps a plugin that verifies nothing off non-loopback listeners; a plugin that checks
// credentials says so, and one that accepts everything must not claim to.
TEST_P(AuthContractTest, SaysWhetherItVerifiesCredentials) {
  auto a = authenticator();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->verifiesCredentials(), checksCredentials());
}

TEST_P(AuthContractTest, AcceptsNonSessionRoutesWithACredential) {
  auto a = authenticator();
  ASSERT_NE(a, nullptr);
  sdk::AuthRequest r;
  r.method = "GET";
  r.path = "/api/workspaces";
  r.remote_address = "192.0.2.7:51000";
  AuthCredential c;
  if (checksCredentials()) c = GetParam().mint("alice", "w1");
  auto result = a->authenticate(withCredential(r, c));
  ASSERT_TRUE(result) << result.status().message();
  EXPECT_TRUE(result.value().allowed) << result.value().reason;
}

TEST_P(AuthContractTest, AMissingCredentialIs401) {
  if (!checksCredentials()) GTEST_SKIP() << "checks no credential";
  auto a = authenticator();
  ASSERT_NE(a, nullptr);
  auto result = a->authenticate(request("alice", "w1"));
  ASSERT_TRUE(result) << result.status().message();
  EXPECT_FALSE(result.value().allowed);
  EXPECT_EQ(result.value().http_status, 401);
  EXPECT_FALSE(result.value().reason.empty());
}

TEST_P(AuthContractTest, AnotherUsersCredentialIs403) {
  if (!checksCredentials()) GTEST_SKIP() << "checks no credential";
  auto a = authenticator();
  ASSERT_NE(a, nullptr);
  AuthCredential mallory = GetParam().mint("mallory", "w1");
  auto result = a->authenticate(withCredential(request("alice", "w1"), mallory));
  ASSERT_TRUE(result) << result.status().message();
  EXPECT_FALSE(result.value().allowed);
  EXPECT_EQ(result.value().http_status, 403);
  EXPECT_FALSE(quotes(result.value().reason, mallory.secret));
}

TEST_P(AuthContractTest, ATamperedCredentialIs401AndNeverQuoted) {
  if (!checksCredentials()) GTEST_SKIP() << "checks no credential";
  auto a = authenticator();
  ASSERT_NE(a, nullptr);
  AuthCredential c = GetParam().mint("alice", "w1");
  auto tamper = [](std::string s) {
    if (!s.empty()) s[s.size() / 2] = s[s.size() / 2] == 'A' ? 'B' : 'A';
    return s;
  };
  for (auto& h : c.headers) h.second = tamper(h.second);
  for (auto& p : c.offered_subprotocols) p = tamper(p);
  auto result = a->authenticate(withCredential(request("alice", "w1"), c));
  ASSERT_TRUE(result) << result.status().message();
  EXPECT_FALSE(result.value().allowed);
  EXPECT_EQ(result.value().http_status, 401);
  EXPECT_FALSE(quotes(result.value().reason, c.secret));
  EXPECT_FALSE(quotes(result.value().reason, tamper(c.secret)));
}

// Admin is granted by the credential, never by default: the ordinary credential of every
// configuration (and every request, for plugins that check none) is not admin.
TEST_P(AuthContractTest, AnOrdinaryCredentialIsNotAdmin) {
  auto a = authenticator();
  ASSERT_NE(a, nullptr);
  AuthCredential c;
  if (checksCredentials()) c = GetParam().mint("alice", "w1");
  auto result = a->authenticate(withCredential(request("alice", "w1"), c));
  ASSERT_TRUE(result) << result.status().message();
  EXPECT_TRUE(result.value().allowed) << result.value().reason;
  EXPECT_FALSE(result.value().admin);
}

TEST_P(AuthContractTest, AnAdminCredentialIsAdminForItsOwnUserOnly) {
  if (!GetParam().mint_admin) GTEST_SKIP() << "this configuration grants admin to no credential";
  auto a = authenticator();
  ASSERT_NE(a, nullptr);
  AuthCredential admin = GetParam().mint_admin("alice", "w1");
  auto result = a->authenticate(withCredential(request("alice", "w1"), admin));
  ASSERT_TRUE(result) << result.status().message();
  EXPECT_TRUE(result.value().allowed) << result.value().reason;
  EXPECT_EQ(result.value().principal, "alice");
  EXPECT_TRUE(result.value().admin);
  // Non-session routes (where the admin API lives) see the same admin.
  sdk::AuthRequest api;
  api.method = "GET";
  api.path = "/api/admin/sessions";
  api.remote_address = "192.0.2.7:51000";
  auto on_api = a->authenticate(withCredential(api, admin));
  ASSERT_TRUE(on_api) << on_api.status().message();
  EXPECT_TRUE(on_api.value().allowed) << on_api.value().reason;
  EXPECT_TRUE(on_api.value().admin);
  // Admin does not open another user's session: the credential is still only alice's, and a
  // refusal is never admin.
  if (checksCredentials()) {
    auto other = a->authenticate(withCredential(request("bob", "w1"), admin));
    ASSERT_TRUE(other) << other.status().message();
    EXPECT_FALSE(other.value().allowed);
    EXPECT_FALSE(other.value().admin);
    EXPECT_FALSE(quotes(other.value().reason, admin.secret));
  }
}

TEST_P(AuthContractTest, ConcurrentCallsAgreeWithSequentialOnes) {
  auto a = authenticator();
  ASSERT_NE(a, nullptr);
  std::vector<sdk::AuthRequest> requests;
  for (const char* user : {"alice", "bob", "carol"}) {
    sdk::AuthRequest r = request(user, "w1");
    if (checksCredentials()) {
      requests.push_back(withCredential(r, GetParam().mint(user, "w1")));
      requests.push_back(withCredential(r, GetParam().mint("mallory", "w1")));
    }
    requests.push_back(r);
  }
  std::vector<bool> expected;
  for (const auto& r : requests) {
    auto result = a->authenticate(r);
    expected.push_back(result && result.value().allowed);
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        size_t k = static_cast<size_t>(i + t) % requests.size();
        auto result = a->authenticate(requests[k]);
        bool allowed = result && result.value().allowed;
        if (allowed != expected[k]) ++mismatches;
        if (allowed && result.value().principal != requests[k].user) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_P(AuthContractTest, HostileRequestsAreAnsweredQuickly) {
  auto a = authenticator();
  ASSERT_NE(a, nullptr);
  int i = 0;
  for (const auto& r : hostileRequests(request("alice", "w1"))) {
    auto start = std::chrono::steady_clock::now();
    auto result = a->authenticate(r);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, kHostileBudget) << "hostile request #" << i;
    if (result) {
      // None carries a valid credential: a checking plugin refuses each one.
      if (checksCredentials()) {
        EXPECT_FALSE(result.value().allowed) << "hostile request #" << i;
      }
      EXPECT_LT(result.value().reason.size(), 200u) << "hostile request #" << i;
      if (!result.value().allowed) {
        EXPECT_TRUE(result.value().http_status == 401 || result.value().http_status == 403);
        EXPECT_FALSE(result.value().admin) << "hostile request #" << i;
      }
    }
    ++i;
  }
}

}  // namespace podterm::testing
