// auth-jwt, loaded from its shared object: the auth contract suite over three configurations, and
// tokens minted here (valid, expired, early, foreign issuer or audience, alg none, algorithm
// confusion, bad subjects, workspace claims), every token source, and config errors.

#include <Poco/Base64Encoder.h>
#include <Poco/Crypto/ECKey.h>
#include <Poco/Crypto/RSAKey.h>
#include <Poco/JSON/Array.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/dll/shared_library.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "podterm/plugin.h"
#include "podterm/testing/auth_contract.h"
#include "podterm/testing/sync_policy_contract.h"

namespace podterm::tests::auth_jwt {
namespace {

using podterm::testing::AuthContractParam;
using podterm::testing::AuthContractTest;
using podterm::testing::AuthCredential;
using podterm::testing::MapConfigView;
using Values = std::map<std::string, MapConfigView::Value>;

const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";

struct Created {
  std::shared_ptr<sdk::Authenticator> auth;
  sdk::Status status;
  std::vector<std::string> unread_keys;
};

Created create(Values values) {
  static auto lib = std::make_shared<boost::dll::shared_library>(
      boost::dll::fs::path(AUTH_PLUGIN_PATH), boost::dll::load_mode::rtld_now);
  const sdk::PluginDescriptor* d =
      lib->get_alias<sdk::DescriptorFunction>(sdk::kDescriptorSymbol)();
  Created out;
  EXPECT_EQ(d->abi_version, sdk::kAbiVersion);
  EXPECT_EQ(d->kind, sdk::PluginKind::Auth);
  EXPECT_STREQ(d->name, "jwt");
  MapConfigView view("auth.jwt", std::move(values));
  sdk::PluginObject* object = nullptr;
  out.status = d->create(view, &object);
  out.unread_keys = view.unreadKeys();
  if (!out.status) return out;
  auto keep = lib;
  out.auth =
      std::shared_ptr<sdk::Authenticator>(static_cast<sdk::Authenticator*>(object),
                                          [keep, d](sdk::Authenticator* a) { d->destroy(a); });
  return out;
}

int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string tempPath(const std::string& name) {
  return ::testing::TempDir() + "podterm-auth-jwt-" + std::to_string(::getpid()) + "-" + name;
}

std::string writeFile(const std::string& name, const std::string& content) {
  std::string path = tempPath(name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Keys generated once per run by OpenSSL (through Poco Crypto); public halves saved as PEM.
struct Keys {
  Poco::SharedPtr<Poco::Crypto::RSAKey> rsa;
  Poco::SharedPtr<Poco::Crypto::ECKey> ec;
  std::string rsa_public_file;
  std::string ec_public_file;
};

const Keys& keys() {
  static const Keys k = [] {
    Keys out;
    out.rsa =
        new Poco::Crypto::RSAKey(Poco::Crypto::RSAKey::KL_2048, Poco::Crypto::RSAKey::EXP_LARGE);
    out.ec = new Poco::Crypto::ECKey("prime256v1");
    out.rsa_public_file = tempPath("rsa.pub.pem");
    out.ec_public_file = tempPath("ec.pub.pem");
    out.rsa->save(out.rsa_public_file);
    out.ec->save(out.ec_public_file);
    return out;
  }();
  return k;
}

struct Claims {
  std::string sub = "alice";
  std::optional<int64_t> exp = now() + 600;
  std::optional<int64_t> nbf;
  std::string iss;
  std::vector<std::string> aud;
  std::string workspace_claim;
  std::vector<std::string> workspaces;
  bool has_sub = true;
  std::map<std::string, Poco::Dynamic::Var> extra;  // more claims, e.g. the admin claim
};

Poco::JWT::Token token(const Claims& c) {
  Poco::JWT::Token t;
  t.setType("JWT");
  if (c.has_sub) t.payload().set("sub", c.sub);
  if (c.exp) t.payload().set("exp", Poco::Int64(*c.exp));
  if (c.nbf) t.payload().set("nbf", Poco::Int64(*c.nbf));
  if (!c.iss.empty()) t.setIssuer(c.iss);
  if (c.aud.size() == 1) t.setAudience(c.aud.front());
  if (c.aud.size() > 1) t.setAudience(c.aud);
  if (!c.workspace_claim.empty()) {
    Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
    for (const auto& w : c.workspaces) list->add(w);
    t.payload().set(c.workspace_claim, list);
  }
  for (const auto& [name, value] : c.extra) t.payload().set(name, value);
  return t;
}

std::string hs256(const Claims& c, const std::string& secret = kSecret,
                  const std::string& alg = "HS256") {
  Poco::JWT::Token t = token(c);
  return Poco::JWT::Signer(secret).sign(t, alg);
}

std::string rs256(const Claims& c) {
  Poco::JWT::Token t = token(c);
  return Poco::JWT::Signer(keys().rsa).sign(t, "RS256");
}

std::string es256(const Claims& c) {
  Poco::JWT::Token t = token(c);
  return Poco::JWT::Signer(keys().ec).sign(t, "ES256");
}

std::string base64url(const std::string& s) {
  std::ostringstream out;
  Poco::Base64Encoder enc(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  enc << s;
  enc.close();
  return out.str();
}

Values hsConfig(Values extra = {}) {
  Values v{{"algorithm", std::string("HS256")}, {"secret", kSecret}};
  for (auto& kv : extra) v[kv.first] = kv.second;
  return v;
}

Values rsConfig(Values extra = {}) {
  Values v{{"algorithm", std::string("RS256")}, {"public_key_file", keys().rsa_public_file}};
  for (auto& kv : extra) v[kv.first] = kv.second;
  return v;
}

sdk::AuthRequest request(const std::string& user = "alice", const std::string& workspace = "w1") {
  sdk::AuthRequest r;
  r.method = "GET";
  r.session_id = "user_" + user + "_ws_" + workspace + "_1234567890_uuid";
  r.path = "/api/terminal/ws/" + r.session_id;
  r.headers = {{"host", "podterm.example"}, {"upgrade", "websocket"}};
  r.offered_subprotocols = {"podterm.v2"};
  r.remote_address = "192.0.2.7:51000";
  r.user = user;
  r.workspace = workspace;
  return r;
}

sdk::AuthRequest bearer(const std::string& t, sdk::AuthRequest r = request()) {
  r.headers.emplace_back("authorization", "Bearer " + t);
  return r;
}

// Authenticates and checks what every answer promises: a result, no token in the reason.
sdk::AuthDecision decide(sdk::Authenticator& a, const sdk::AuthRequest& r, const std::string& t) {
  auto result = a.authenticate(r);
  EXPECT_TRUE(result) << result.status().message();
  if (!result) return {};
  if (!t.empty()) {
    EXPECT_EQ(result.value().reason.find(t), std::string::npos);
    for (size_t i = 0; i + 12 <= t.size(); i += 6) {
      EXPECT_EQ(result.value().reason.find(t.substr(i, 12)), std::string::npos);
    }
  }
  return result.value();
}

void expectAllowed(const sdk::AuthDecision& d, const std::string& user = "alice") {
  EXPECT_TRUE(d.allowed) << d.reason;
  EXPECT_EQ(d.principal, user);
}

void expectRefused(const sdk::AuthDecision& d, int status) {
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.http_status, status) << d.reason;
  EXPECT_FALSE(d.reason.empty());
  EXPECT_TRUE(d.principal.empty());
}

// --- The contract suite, over three configurations and token sources -----------------------------

AuthCredential headerCredential(const std::string& user, const std::string& workspace) {
  Claims c;
  c.sub = user;
  c.workspace_claim = "ws";
  c.workspaces = {workspace};
  std::string t = hs256(c);
  return {{{"authorization", "Bearer " + t}}, {}, t};
}

AuthCredential subprotocolCredential(const std::string& user, const std::string&) {
  Claims c;
  c.sub = user;
  std::string t = rs256(c);
  return {{}, {"bearer." + t}, t};
}

AuthCredential adminHeaderCredential(const std::string& user, const std::string& workspace) {
  Claims c;
  c.sub = user;
  c.workspace_claim = "ws";
  c.workspaces = {workspace};
  c.extra["podterm_admin"] = true;
  std::string t = hs256(c);
  return {{{"authorization", "Bearer " + t}}, {}, t};
}

AuthCredential adminSubprotocolCredential(const std::string& user, const std::string&) {
  Claims c;
  c.sub = user;
  c.extra["https://podterm.example/admin"] = true;
  std::string t = rs256(c);
  return {{}, {"bearer." + t}, t};
}

AuthCredential cookieCredential(const std::string& user, const std::string&) {
  Claims c;
  c.sub = user;
  c.iss = "https://idp.example";
  c.aud = {"podterm"};
  std::string t = hs256(c);
  return {{{"cookie", "theme=dark; podterm_token=" + t + "; lang=en"}}, {}, t};
}

INSTANTIATE_TEST_SUITE_P(
    Jwt, AuthContractTest,
    ::testing::Values(
        AuthContractParam{"hs256_header",
                          [] {
                            return create(hsConfig({{"workspace_claim", std::string("ws")},
                                                    {"admin_claim", std::string("podterm_admin")}}))
                                .auth;
                          },
                          headerCredential, adminHeaderCredential},
        AuthContractParam{
            "rs256_subprotocol",
            [] {
              return create(
                         rsConfig({{"admin_claim", std::string("https://podterm.example/admin")}}))
                  .auth;
            },
            subprotocolCredential, adminSubprotocolCredential},
        AuthContractParam{"hs256_cookie",
                          [] {
                            return create(hsConfig({{"cookie", std::string("podterm_token")},
                                                    {"issuer", std::string("https://idp.example")},
                                                    {"audience", std::string("podterm")}}))
                                .auth;
                          },
                          cookieCredential}),
    podterm::testing::authContractName);

// MapConfigView comes with the sync policy suite, which this plugin does not run.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SyncPolicyContractTest);

// --- Tokens --------------------------------------------------------------------------------------

TEST(AuthJwtTest, AValidTokenOpensItsUsersSessionUntilExpPlusTheLeeway) {
  auto created = create(hsConfig());
  ASSERT_TRUE(created.status) << created.status.message();
  EXPECT_TRUE(created.unread_keys.empty());
  Claims c;
  c.exp = now() + 600;
  std::string t = hs256(c);
  auto d = decide(*created.auth, bearer(t), t);
  expectAllowed(d);
  EXPECT_EQ(d.expires_unix_ms, (*c.exp + 30) * 1000);  // the default leeway
  EXPECT_TRUE(d.credential_subprotocol.empty());
}

TEST(AuthJwtTest, ExpiredTokensAreRefusedBeyondTheLeeway) {
  auto a = create(hsConfig()).auth;
  Claims c;
  c.exp = now() - 120;
  std::string expired = hs256(c);
  auto d = decide(*a, bearer(expired), expired);
  expectRefused(d, 401);
  EXPECT_NE(d.reason.find("expired"), std::string::npos);
  c.exp = now() - 10;  // within the default 30 s
  std::string recent = hs256(c);
  expectAllowed(decide(*a, bearer(recent), recent));
  auto strict = create(hsConfig({{"leeway_s", int64_t{0}}})).auth;
  expectRefused(decide(*strict, bearer(recent), recent), 401);
}

TEST(AuthJwtTest, ATokenWithoutExpIsRefused) {
  auto a = create(hsConfig()).auth;
  Claims c;
  c.exp.reset();
  std::string t = hs256(c);
  expectRefused(decide(*a, bearer(t), t), 401);
  Poco::JWT::Token textual = token(Claims{});
  textual.payload().set("exp", std::to_string(now() + 600));  // a string is not a NumericDate
  std::string s = Poco::JWT::Signer(kSecret).sign(textual, "HS256");
  expectRefused(decide(*a, bearer(s), s), 401);
}

TEST(AuthJwtTest, NotBeforeInTheFutureIsRefusedBeyondTheLeeway) {
  auto a = create(hsConfig()).auth;
  Claims c;
  c.nbf = now() + 3600;
  std::string early = hs256(c);
  auto d = decide(*a, bearer(early), early);
  expectRefused(d, 401);
  EXPECT_NE(d.reason.find("not yet valid"), std::string::npos);
  c.nbf = now() + 10;
  std::string skewed = hs256(c);
  expectAllowed(decide(*a, bearer(skewed), skewed));
  c.nbf = now() - 10;
  std::string past = hs256(c);
  expectAllowed(decide(*a, bearer(past), past));
}

TEST(AuthJwtTest, IssuerAndAudienceAreCheckedWhenConfigured) {
  auto a = create(hsConfig({{"issuer", std::string("https://idp.example")},
                            {"audience", std::string("podterm")}}))
               .auth;
  Claims c;
  c.iss = "https://idp.example";
  c.aud = {"other", "podterm"};
  std::string good = hs256(c);
  expectAllowed(decide(*a, bearer(good), good));
  c.aud = {"podterm"};
  std::string single = hs256(c);
  expectAllowed(decide(*a, bearer(single), single));

  Claims wrong_iss = c;
  wrong_iss.iss = "https://evil.example";
  std::string t1 = hs256(wrong_iss);
  expectRefused(decide(*a, bearer(t1), t1), 401);
  Claims no_iss = c;
  no_iss.iss.clear();
  std::string t2 = hs256(no_iss);
  expectRefused(decide(*a, bearer(t2), t2), 401);
  Claims wrong_aud = c;
  wrong_aud.aud = {"grafana"};
  std::string t3 = hs256(wrong_aud);
  expectRefused(decide(*a, bearer(t3), t3), 401);
  Claims no_aud = c;
  no_aud.aud.clear();
  std::string t4 = hs256(no_aud);
  expectRefused(decide(*a, bearer(t4), t4), 401);

  // Unconfigured: not checked.
  auto open = create(hsConfig()).auth;
  expectAllowed(decide(*open, bearer(t1), t1));
}

TEST(AuthJwtTest, AlgNoneIsRefused) {
  auto a = create(hsConfig()).auth;
  const std::string payload =
      base64url("{\"sub\":\"alice\",\"exp\":" + std::to_string(now() + 600) + "}");
  for (const char* header : {"{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"none\"}",
                             "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}", "{\"typ\":\"JWT\"}"}) {
    std::string unsigned_token = base64url(header) + "." + payload + ".";
    expectRefused(decide(*a, bearer(unsigned_token), unsigned_token), 401);
    // The same with a valid HS256 signature of another token grafted on.
    std::string valid = hs256(Claims{});
    std::string grafted = unsigned_token + valid.substr(valid.rfind('.') + 1);
    expectRefused(decide(*a, bearer(grafted), grafted), 401);
  }
}

TEST(AuthJwtTest, AnotherAlgorithmIsRefusedEvenWithTheRightKey) {
  auto a = create(hsConfig()).auth;
  std::string hs512 = hs256(Claims{}, kSecret, "HS512");
  auto d = decide(*a, bearer(hs512), hs512);
  expectRefused(d, 401);
  std::string rs = rs256(Claims{});
  expectRefused(decide(*a, bearer(rs), rs), 401);
}

TEST(AuthJwtTest, AlgorithmConfusionWithThePublicKeyAsSecretIsRefused) {
  auto a = create(rsConfig()).auth;
  ASSERT_NE(a, nullptr);
  std::string good = rs256(Claims{});
  expectAllowed(decide(*a, bearer(good), good));
  // An attacker who knows the public key signs HS256 with its PEM text as the HMAC secret.
  std::string pem = readFile(keys().rsa_public_file);
  ASSERT_FALSE(pem.empty());
  for (const std::string& secret : {pem, pem.substr(0, pem.size() - 1)}) {
    std::string forged = hs256(Claims{}, secret);
    auto d = decide(*a, bearer(forged), forged);
    expectRefused(d, 401);
  }
}

TEST(AuthJwtTest, Es256TokensAreChecked) {
  auto created =
      create({{"algorithm", std::string("ES256")}, {"public_key_file", keys().ec_public_file}});
  ASSERT_TRUE(created.status) << created.status.message();
  std::string good = es256(Claims{});
  expectAllowed(decide(*created.auth, bearer(good), good));
  std::string hs = hs256(Claims{});
  expectRefused(decide(*created.auth, bearer(hs), hs), 401);
  std::string rs = rs256(Claims{});
  expectRefused(decide(*created.auth, bearer(rs), rs), 401);
}

TEST(AuthJwtTest, TheSubjectMustBeTheSessionsUser) {
  auto a = create(hsConfig()).auth;
  Claims bob;
  bob.sub = "bob";
  std::string t = hs256(bob);
  auto d = decide(*a, bearer(t), t);
  expectRefused(d, 403);
  expectAllowed(decide(*a, bearer(t, request("bob")), t), "bob");
  // Case matters: "Alice" is not "alice".
  Claims upper;
  upper.sub = "Alice";
  std::string u = hs256(upper);
  expectRefused(decide(*a, bearer(u), u), 403);
  Claims none;
  none.has_sub = false;
  std::string n = hs256(none);
  expectRefused(decide(*a, bearer(n), n), 401);
}

TEST(AuthJwtTest, ASubjectOutsideTheSessionIdCharsetIsRefused) {
  auto a = create(hsConfig()).auth;
  for (const std::string& sub :
       {std::string(), std::string("al ice"), std::string("alice_ws_w1"), std::string("../alice"),
        std::string("alice\n"), std::string("al%69ce"),
        std::string("al\xc3\xaf"
                    "ce"),
        std::string(65, 'a'), std::string("alice\0", 6)}) {
    Claims c;
    c.sub = sub;
    std::string t = hs256(c);
    auto d = decide(*a, bearer(t), t);
    expectRefused(d, 403);
  }
  Claims longest;
  longest.sub = std::string(64, 'a');
  std::string t = hs256(longest);
  expectAllowed(decide(*a, bearer(t, request(longest.sub)), t), longest.sub);
}

TEST(AuthJwtTest, TheWorkspaceClaimLimitsWhichWorkspacesOpen) {
  auto a = create(hsConfig({{"workspace_claim", std::string("podterm_ws")}})).auth;
  Claims c;
  c.workspace_claim = "podterm_ws";
  c.workspaces = {"w1", "w2"};
  std::string t = hs256(c);
  expectAllowed(decide(*a, bearer(t, request("alice", "w1")), t));
  expectAllowed(decide(*a, bearer(t, request("alice", "w2")), t));
  expectRefused(decide(*a, bearer(t, request("alice", "w3")), t), 403);
  expectRefused(decide(*a, bearer(t, request("alice", "W1")), t), 403);

  Claims missing;
  std::string m = hs256(missing);
  expectRefused(decide(*a, bearer(m), m), 403);
  Claims empty = c;
  empty.workspaces.clear();
  std::string e = hs256(empty);
  expectRefused(decide(*a, bearer(e), e), 403);
  Poco::JWT::Token scalar = token(Claims{});
  scalar.payload().set("podterm_ws", std::string("w1"));  // a string, not an array
  std::string s = Poco::JWT::Signer(kSecret).sign(scalar, "HS256");
  expectRefused(decide(*a, bearer(s), s), 403);

  // Without workspace_claim, any workspace of the user opens.
  auto open = create(hsConfig()).auth;
  expectAllowed(decide(*open, bearer(m, request("alice", "w3")), m));
}

TEST(AuthJwtTest, ATamperedOrOversizedTokenIs401) {
  auto a = create(hsConfig()).auth;
  std::string t = hs256(Claims{});
  // A signature character in the middle (the last one also carries padding bits).
  std::string bad_sig = t;
  char& c = bad_sig[bad_sig.size() - 10];
  c = c == 'A' ? 'B' : 'A';
  {
    SCOPED_TRACE("bad signature");
    expectRefused(decide(*a, bearer(bad_sig), bad_sig), 401);
  }
  // The last character's stray bits flipped: the same signature bytes, another spelling.
  std::string respelled = t;
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  respelled.back() = alphabet[alphabet.find(respelled.back()) | 1];
  ASSERT_NE(respelled, t);
  {
    SCOPED_TRACE("non-canonical base64url");
    expectRefused(decide(*a, bearer(respelled), respelled), 401);
  }
  SCOPED_TRACE("oversized");
  std::string huge = t + std::string(10000, 'A');
  expectRefused(decide(*a, bearer(huge), huge), 401);
  for (const std::string& junk :
       {std::string("a.b.c"), std::string("..."), std::string("x"), std::string("a.b"), t + ".x",
        t + ".", "." + t, t + "=", " " + t + "x", t.substr(0, t.rfind('.') + 1),
        t.substr(0, t.size() - 4), t + "AAAA"}) {
    SCOPED_TRACE(junk.substr(0, 8));
    expectRefused(decide(*a, bearer(junk), junk), 401);
  }
}

// --- Token sources
// --------------------------------------------------------------------------------

TEST(AuthJwtTest, TheAuthorizationHeaderTakesAnyCaseOfBearer) {
  auto a = create(hsConfig()).auth;
  std::string t = hs256(Claims{});
  for (const char* scheme : {"Bearer ", "bearer ", "BEARER "}) {
    sdk::AuthRequest r = request();
    r.headers.emplace_back("authorization", scheme + t);
    expectAllowed(decide(*a, r, t));
  }
  sdk::AuthRequest basic = request();
  basic.headers.emplace_back("authorization", "Basic YWxpY2U6cHc=");
  expectRefused(decide(*a, basic, ""), 401);
  expectRefused(decide(*a, request(), ""), 401);
}

TEST(AuthJwtTest, TheBearerSubprotocolIsNamedAsTheCredential) {
  auto a = create(hsConfig()).auth;
  std::string t = hs256(Claims{});
  sdk::AuthRequest r = request();
  r.offered_subprotocols = {"podterm.v2", "bearer." + t, "podterm.v1"};
  auto d = decide(*a, r, t);
  expectAllowed(d);
  EXPECT_EQ(d.credential_subprotocol, "bearer." + t);
  // Refused too: the entry is still named, so the host never echoes it.
  sdk::AuthRequest foreign = request("bob");
  foreign.offered_subprotocols = r.offered_subprotocols;
  auto refused = decide(*a, foreign, t);
  expectRefused(refused, 403);
  EXPECT_EQ(refused.credential_subprotocol, "bearer." + t);
  // With the header as the source, an offered bearer entry is still named.
  sdk::AuthRequest both = bearer(t);
  both.offered_subprotocols.push_back("bearer.junk");
  auto d2 = decide(*a, both, t);
  expectAllowed(d2);
  EXPECT_EQ(d2.credential_subprotocol, "bearer.junk");
}

TEST(AuthJwtTest, TheCookieIsReadOnlyWhenConfigured) {
  std::string t = hs256(Claims{});
  sdk::AuthRequest r = request();
  r.headers.emplace_back("cookie", "a=1; podterm_token=" + t + "; b=2");
  auto off = create(hsConfig()).auth;
  expectRefused(decide(*off, r, t), 401);
  auto on = create(hsConfig({{"cookie", std::string("podterm_token")}})).auth;
  expectAllowed(decide(*on, r, t));
  sdk::AuthRequest other = request();
  other.headers.emplace_back("cookie", "xpodterm_token=" + t);
  expectRefused(decide(*on, other, t), 401);
  sdk::AuthRequest second_header = request();
  second_header.headers.emplace_back("cookie", "a=1");
  second_header.headers.emplace_back("cookie", "podterm_token=\"" + t + "\"");
  expectAllowed(decide(*on, second_header, t));
}

TEST(AuthJwtTest, TheQueryTokenIsReadOnlyWhenAllowed) {
  std::string t = hs256(Claims{});
  sdk::AuthRequest r = request();
  r.path += "?x=1&token=" + t;
  auto off = create(hsConfig()).auth;
  expectRefused(decide(*off, r, t), 401);
  auto on = create(hsConfig({{"allow_query_token", true}})).auth;
  expectAllowed(decide(*on, r, t));
  // The host passes the target with its query; a request without one has no token to read.
  expectRefused(decide(*on, request(), t), 401);
}

TEST(AuthJwtTest, SourcesAreTriedInOrder) {
  auto a = create(hsConfig({{"cookie", std::string("c")}})).auth;
  Claims bob;
  bob.sub = "bob";
  std::string alice_token = hs256(Claims{});
  std::string bob_token = hs256(bob);
  // Header first: the subprotocol and cookie do not override it.
  sdk::AuthRequest r = bearer(alice_token);
  r.offered_subprotocols.push_back("bearer." + bob_token);
  r.headers.emplace_back("cookie", "c=" + bob_token);
  expectAllowed(decide(*a, r, alice_token));
  // Then the subprotocol before the cookie.
  sdk::AuthRequest s = request();
  s.offered_subprotocols.push_back("bearer." + alice_token);
  s.headers.emplace_back("cookie", "c=" + bob_token);
  expectAllowed(decide(*a, s, alice_token));
}

TEST(AuthJwtTest, NonSessionRoutesTakeTheSubjectAsPrincipal) {
  auto a = create(hsConfig({{"workspace_claim", std::string("ws")}})).auth;
  Claims c;
  c.sub = "carol";
  std::string t = hs256(c);
  sdk::AuthRequest r;
  r.method = "GET";
  r.path = "/api/workspaces";
  r.headers.emplace_back("authorization", "Bearer " + t);
  expectAllowed(decide(*a, r, t), "carol");
}

TEST(AuthJwtTest, TheAdminClaimGrantsAdminOnlyWhenItIsJsonTrue) {
  auto a = create(hsConfig({{"admin_claim", std::string("podterm_admin")}})).auth;
  ASSERT_NE(a, nullptr);
  auto with = [](const Poco::Dynamic::Var& value) {
    Claims c;
    c.extra["podterm_admin"] = value;
    return hs256(c);
  };
  std::string yes = with(true);
  sdk::AuthDecision d = decide(*a, bearer(yes), yes);
  expectAllowed(d);
  EXPECT_TRUE(d.admin);

  // Anything but the JSON literal true is an ordinary, still valid, token.
  Poco::JSON::Array::Ptr roles = new Poco::JSON::Array;
  roles->add(std::string("admin"));
  roles->add(true);
  for (const Poco::Dynamic::Var& value :
       std::vector<Poco::Dynamic::Var>{false, std::string("true"), 1, Poco::Int64(1), roles}) {
    std::string t = with(value);
    sdk::AuthDecision ordinary = decide(*a, bearer(t), t);
    expectAllowed(ordinary);
    EXPECT_FALSE(ordinary.admin) << value.toString();
  }
  std::string absent = hs256(Claims{});
  sdk::AuthDecision none = decide(*a, bearer(absent), absent);
  expectAllowed(none);
  EXPECT_FALSE(none.admin);

  // The claim counts only under its configured name, and only for a token that is accepted.
  Claims other;
  other.extra["admin"] = true;
  std::string o = hs256(other);
  EXPECT_FALSE(decide(*a, bearer(o), o).admin);
  Claims expired;
  expired.exp = now() - 3600;
  expired.extra["podterm_admin"] = true;
  std::string x = hs256(expired);
  sdk::AuthDecision refused = decide(*a, bearer(x), x);
  expectRefused(refused, 401);
  EXPECT_FALSE(refused.admin);
  sdk::AuthDecision foreign = decide(*a, bearer(yes, request("bob")), yes);
  expectRefused(foreign, 403);
  EXPECT_FALSE(foreign.admin);

  // Without admin_claim no token is admin, whatever it carries.
  auto plain = create(hsConfig()).auth;
  ASSERT_NE(plain, nullptr);
  sdk::AuthDecision unconfigured = decide(*plain, bearer(yes), yes);
  expectAllowed(unconfigured);
  EXPECT_FALSE(unconfigured.admin);
}

// The public key may be the PEM text itself in the config (public_key) instead of a file.
TEST(AuthJwtTest, AnInlinePublicKeyVerifiesTokens) {
  auto rs = create(
      {{"algorithm", std::string("RS256")}, {"public_key", readFile(keys().rsa_public_file)}});
  ASSERT_TRUE(rs.status) << rs.status.message();
  std::string good_rs = rs256(Claims{});
  expectAllowed(decide(*rs.auth, bearer(good_rs), good_rs));
  std::string hs = hs256(Claims{});
  expectRefused(decide(*rs.auth, bearer(hs), hs), 401);
  std::string es = es256(Claims{});
  expectRefused(decide(*rs.auth, bearer(es), es), 401);
  // A token signed by the right algorithm with another key is refused: the inline key is used.
  Poco::SharedPtr<Poco::Crypto::RSAKey> other =
      new Poco::Crypto::RSAKey(Poco::Crypto::RSAKey::KL_2048, Poco::Crypto::RSAKey::EXP_LARGE);
  Poco::JWT::Token claims = token(Claims{});
  std::string foreign = Poco::JWT::Signer(other).sign(claims, "RS256");
  expectRefused(decide(*rs.auth, bearer(foreign), foreign), 401);

  auto ec = create(
      {{"algorithm", std::string("ES256")}, {"public_key", readFile(keys().ec_public_file)}});
  ASSERT_TRUE(ec.status) << ec.status.message();
  std::string good_es = es256(Claims{});
  expectAllowed(decide(*ec.auth, bearer(good_es), good_es));
  expectRefused(decide(*ec.auth, bearer(good_rs), good_rs), 401);
}

// The error names exactly public_key (not public_key_file, of which it is a prefix).
void expectPublicKeyError(Values values, const std::string& must_not_contain = "") {
  auto created = create(std::move(values));
  EXPECT_EQ(created.status.code(), sdk::ErrorCode::InvalidArgument);
  EXPECT_EQ(created.auth, nullptr);
  EXPECT_NE(created.status.message().find("test.toml:1:1: auth.jwt.public_key: "),
            std::string::npos)
      << created.status.message();
  if (!must_not_contain.empty()) {
    EXPECT_EQ(created.status.message().find(must_not_contain), std::string::npos)
        << created.status.message();
  }
}

TEST(AuthJwtTest, AnInlinePublicKeyIsCheckedLikeAFile) {
  const std::string rsa_pem = readFile(keys().rsa_public_file);
  ASSERT_FALSE(rsa_pem.empty());
  // Both the inline key and a key file: refused, whichever would have worked.
  expectPublicKeyError({{"algorithm", std::string("RS256")},
                        {"public_key", rsa_pem},
                        {"public_key_file", keys().rsa_public_file}});
  // Not a key, the wrong kind of key, empty, or beside HS256: refused, and the value not quoted.
  expectPublicKeyError(
      {{"algorithm", std::string("RS256")}, {"public_key", std::string("not a key\n")}},
      "not a key");
  expectPublicKeyError({{"algorithm", std::string("ES256")}, {"public_key", rsa_pem}},
                       rsa_pem.substr(30, 40));
  expectPublicKeyError({{"algorithm", std::string("RS256")}, {"public_key", std::string("")}});
  expectPublicKeyError(hsConfig({{"public_key", rsa_pem}}));
}

// --- Config
// ----------------------------------------------------------------------------------------

void expectConfigError(Values values, const std::string& key,
                       const std::string& must_not_contain = "") {
  auto created = create(std::move(values));
  EXPECT_EQ(created.status.code(), sdk::ErrorCode::InvalidArgument) << key;
  EXPECT_EQ(created.auth, nullptr);
  EXPECT_NE(created.status.message().find("test.toml:1:1: auth.jwt." + key), std::string::npos)
      << created.status.message();
  if (!must_not_contain.empty()) {
    EXPECT_EQ(created.status.message().find(must_not_contain), std::string::npos)
        << created.status.message();
  }
}

TEST(AuthJwtTest, ConfigErrorsNameTheirKey) {
  expectConfigError({{"secret", kSecret}}, "algorithm", kSecret);
  expectConfigError({{"algorithm", std::string("none")}, {"secret", kSecret}}, "algorithm",
                    kSecret);
  expectConfigError({{"algorithm", std::string("HS512")}, {"secret", kSecret}}, "algorithm");
  expectConfigError({{"algorithm", std::string("hs256")}, {"secret", kSecret}}, "algorithm");
  expectConfigError({{"algorithm", int64_t{256}}}, "algorithm");
  expectConfigError({{"algorithm", std::string("HS256")}}, "secret");
  expectConfigError({{"algorithm", std::string("HS256")}, {"secret", std::string("short-secret")}},
                    "secret", "short-secret");
  std::string secret_file = writeFile("secret", kSecret + "\n");
  expectConfigError(hsConfig({{"secret_file", secret_file}}), "secret_file", kSecret);
  expectConfigError(
      {{"algorithm", std::string("HS256")}, {"secret_file", tempPath("no-such-secret")}},
      "secret_file");
  expectConfigError(hsConfig({{"public_key_file", keys().rsa_public_file}}), "public_key_file");
  expectConfigError({{"algorithm", std::string("RS256")}}, "public_key_file");
  expectConfigError(rsConfig({{"secret", kSecret}}), "secret", kSecret);
  expectConfigError({{"algorithm", std::string("RS256")},
                     {"public_key_file", writeFile("not.pem", "not a key\n")}},
                    "public_key_file");
  expectConfigError(
      {{"algorithm", std::string("RS256")}, {"public_key_file", tempPath("missing.pem")}},
      "public_key_file");
  expectConfigError(
      {{"algorithm", std::string("ES256")}, {"public_key_file", keys().rsa_public_file}},
      "public_key_file");
  expectConfigError(hsConfig({{"leeway_s", int64_t{-1}}}), "leeway_s");
  expectConfigError(hsConfig({{"leeway_s", int64_t{301}}}), "leeway_s");
  expectConfigError(hsConfig({{"leeway_s", std::string("30s")}}), "leeway_s");
  expectConfigError(hsConfig({{"cookie", std::string("")}}), "cookie");
  expectConfigError(hsConfig({{"cookie", std::string("a;b")}}), "cookie");
  expectConfigError(hsConfig({{"workspace_claim", std::string("")}}), "workspace_claim");
  expectConfigError(hsConfig({{"admin_claim", std::string("")}}), "admin_claim");
  expectConfigError(hsConfig({{"admin_claim", std::string("sub")}}), "admin_claim");
  expectConfigError(hsConfig({{"admin_claim", true}}), "admin_claim");
  expectConfigError(hsConfig({{"allow_query_token", std::string("yes")}}), "allow_query_token");
  expectConfigError(hsConfig({{"issuer", true}}), "issuer");
}

TEST(AuthJwtTest, TheSecretMayComeFromAFile) {
  std::string secret_file = writeFile("secret-ok", kSecret + "\n");
  auto created = create({{"algorithm", std::string("HS256")}, {"secret_file", secret_file}});
  ASSERT_TRUE(created.status) << created.status.message();
  std::string t = hs256(Claims{});
  expectAllowed(decide(*created.auth, bearer(t), t));
}

TEST(AuthJwtTest, UnknownKeysAreLeftUnreadForTheHostToReport) {
  auto created = create(hsConfig({{"secrett", std::string("x")}}));
  ASSERT_TRUE(created.status);
  EXPECT_EQ(created.unread_keys, std::vector<std::string>{"secrett"});
  auto all = create(hsConfig({{"issuer", std::string("i")},
                              {"audience", std::string("a")},
                              {"leeway_s", int64_t{5}},
                              {"workspace_claim", std::string("ws")},
                              {"admin_claim", std::string("podterm_admin")},
                              {"cookie", std::string("t")},
                              {"allow_query_token", false}}));
  ASSERT_TRUE(all.status) << all.status.message();
  EXPECT_TRUE(all.unread_keys.empty());
}

}  // namespace
}  // namespace podterm::tests::auth_jwt
