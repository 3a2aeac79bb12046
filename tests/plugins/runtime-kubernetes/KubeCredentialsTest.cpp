// The plugin's credentials end to end against the fake API server, over both of its connections:
// the REST calls (libcurl) and the exec WebSocket (its own TLS). A client-certificate kubeconfig,
// an in-cluster service account directory laid out the way the kubelet projects it (a ..data
// symlink to a timestamped directory, swapped atomically on rotation), a token rotated under a
// running runtime, and bad credentials refused at creation with a message naming the file and the
// cause. No token ever appears in an error, a pod status or the test process's stderr.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include "KubePluginFixture.h"
#include "pod_names.h"

namespace podterm::tests::kubernetes {
namespace {

using namespace std::chrono_literals;
using Poco::JSON::Object;
using podterm::testing::RecordingStreamObserver;
using sdk::PodPhase;
namespace fs = std::filesystem;
namespace k8s = podterm::plugins::kubernetes;

// Tokens of these tests: none may ever show up in a message.
constexpr const char* kUnknownToken = "cred-test-unknown-token-5c1e9a";
constexpr const char* kSecretInConfig = "cred-test-secret-token-77ab3f";
constexpr const char* kAdminUser = "fake-admin";
constexpr const char* kUnprivilegedUser = "system:serviceaccount:default:unprivileged";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// One entry of the fake's request log.
struct Request {
  long seq = 0;
  std::string method, path, user;  // user: empty when the request was not authenticated
  std::string user_agent;          // the last User-Agent header the fake received
  std::string host;                // the Host header
  long status = 0;
  bool exec() const { return path.size() > 5 && path.compare(path.size() - 5, 5, "/exec") == 0; }
};

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kube-cred-test.XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A service account volume as the kubelet's AtomicWriter projects it:
//   ..2026_11_26_06_41_13.000000001/{token,ca.crt,namespace}
//   ..data -> ..2026_11_26_06_41_13.000000001
//   token -> ..data/token, ca.crt -> ..data/ca.crt, namespace -> ..data/namespace
// rotate() writes a new timestamped directory, points a new symlink at it and renames that over
// ..data (one atomic step), then removes the old directory.
class ServiceAccountVolume {
 public:
  ServiceAccountVolume(const std::string& token, const std::string& ca_pem, const std::string& ns)
      : ca_pem_(ca_pem), ns_(ns) {
    write(token);
    for (const char* f : {"token", "ca.crt", "namespace"}) {
      fs::create_symlink(fs::path("..data") / f, dir_.path() / f);
    }
  }
  const fs::path& path() const { return dir_.path(); }
  void rotate(const std::string& token) {
    const std::string old = current_;
    write(token);
    ASSERT_FALSE(fs::exists(dir_.path() / old)) << "the previous version was not removed";
  }

 private:
  void write(const std::string& token) {
    const std::string name = "..2026_11_26_06_41_13." + std::to_string(++version_);
    const fs::path d = dir_.path() / name;
    fs::create_directory(d);
    spit(d / "token", token);
    spit(d / "ca.crt", ca_pem_);
    spit(d / "namespace", ns_);
    const fs::path tmp = dir_.path() / "..data_tmp";
    fs::create_symlink(name, tmp);
    fs::rename(tmp, dir_.path() / "..data");  // rename(2): the swap is atomic
    if (!current_.empty()) fs::remove_all(dir_.path() / current_);
    current_ = name;
  }

  TempDir dir_;
  std::string ca_pem_, ns_, current_;
  int version_ = 0;
};

// KUBERNETES_SERVICE_HOST/PORT for in-cluster credentials, put back as they were afterwards.
class ServiceEnv {
 public:
  ServiceEnv(const std::string& host, const std::string& port) {
    save("KUBERNETES_SERVICE_HOST", host_);
    save("KUBERNETES_SERVICE_PORT", port_);
    ::setenv("KUBERNETES_SERVICE_HOST", host.c_str(), 1);
    ::setenv("KUBERNETES_SERVICE_PORT", port.c_str(), 1);
  }
  ~ServiceEnv() {
    restore("KUBERNETES_SERVICE_HOST", host_);
    restore("KUBERNETES_SERVICE_PORT", port_);
  }
  ServiceEnv(const ServiceEnv&) = delete;
  ServiceEnv& operator=(const ServiceEnv&) = delete;

 private:
  static void save(const char* name, std::optional<std::string>& into) {
    if (const char* v = ::getenv(name)) into = v;
  }
  static void restore(const char* name, const std::optional<std::string>& value) {
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  std::optional<std::string> host_, port_;
};

// The test process's stderr, captured for the guard's lifetime and handed to check at its end (also
// when an ASSERT leaves the test early: gtest allows one capture at a time).
class StderrCapture {
 public:
  explicit StderrCapture(std::function<void(const std::string&)> check) : check_(std::move(check)) {
    ::testing::internal::CaptureStderr();
  }
  ~StderrCapture() { check_(::testing::internal::GetCapturedStderr()); }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

 private:
  std::function<void(const std::string&)> check_;
};

class KubeCredentialsTest : public KubePluginTest {
 protected:
  void SetUp() override {
    KubePluginTest::SetUp();
    if (IsSkipped()) return;
    ca_pem_ = slurp(fake_->caFile());
    ASSERT_NE(ca_pem_.find("BEGIN CERTIFICATE"), std::string::npos);
    ASSERT_FALSE(fake_->unprivilegedToken().empty())
        << "the fake runs without --unprivileged-token";
  }

  // The log's newest sequence number: requests after it are this test's.
  long lastSeq() {
    auto obj = parseObject(fakeRequestLog(*fake_, 999999999));
    return obj ? obj->getValue<long>("last") : 0;
  }
  std::vector<Request> requestsSince(long seq) {
    std::vector<Request> out;
    for (const auto& e : fakeRequests(*fake_, seq)) {
      Request r;
      r.seq = e->getValue<long>("seq");
      r.method = e->optValue<std::string>("method", "");
      r.path = e->optValue<std::string>("path", "");
      r.user = e->optValue<std::string>("user", "");
      r.status = e->optValue<long>("status", 0);
      if (auto headers = e->getObject("headers")) {
        r.user_agent = headers->optValue<std::string>("user-agent", "");
        r.host = headers->optValue<std::string>("host", "");
      }
      out.push_back(r);
    }
    return out;
  }

  CreatedRuntime inCluster(const fs::path& sa_dir,
                           std::map<std::string, TestConfigView::Value> extra = {}) {
    auto config = baseConfig();
    config["credentials"] = std::string("in-cluster");
    config["service_account_dir"] = sa_dir.string();
    for (auto& kv : extra) config[kv.first] = kv.second;
    return createKubeRuntime(config);
  }
  // A runtime the fixture destroys at TearDown (before the observers).
  sdk::PodRuntime* keep(const CreatedRuntime& created) {
    EXPECT_TRUE(created.status) << created.status.message();
    if (!created.runtime) return nullptr;
    runtimes_.push_back(created.runtime);
    return created.runtime.get();
  }
  sdk::PodStatus ensure(sdk::PodRuntime* rt, const std::string& id) {
    auto& o = observers_.emplace_back();
    EXPECT_TRUE(rt->ensurePod(spec(id), &o));
    return waitSettled(o);
  }
  // Runs `echo <word>` in the session's pod over an exec stream.
  sdk::StreamExit echo(sdk::PodRuntime* rt, const std::string& id, const std::string& word,
                       std::string* out) {
    RecordingStreamObserver o;
    sdk::StreamSpec s;
    s.argv = {"sh", "-c", "echo " + word};
    auto stream = rt->openStream(id, s, &o);
    if (!stream) {
      sdk::StreamExit e;
      e.error = stream.status();
      return e;
    }
    stream.value()->closeStdin();
    EXPECT_TRUE(o.waitForExit(30s)) << o.out();
    *out = o.out();
    return o.exit();
  }
  // The session's pod made ready, then `echo word` run in it over an exec stream: REST and exec
  // both authenticated through rt.
  void expectReadyAndEchoing(sdk::PodRuntime* rt, const std::string& id, const std::string& word) {
    auto st = ensure(rt, id);
    ASSERT_EQ(st.phase, PodPhase::Ready) << st.reason << ": " << st.message;
    std::string out;
    auto exit = echo(rt, id, word, &out);
    EXPECT_TRUE(exit.error.isOk()) << exit.error.message();
    EXPECT_EQ(exit.exit_code, 0);
    EXPECT_EQ(out, word + "\n");
  }
  // The exec upgrades into the session's pod since seq, each expected to be `user`'s and to have
  // been answered 101 (path: the exact path expected, when given); how many there were.
  int execsAs(long since, const std::string& id, const std::string& user,
              const std::string& path = {}) {
    const std::string pod = k8s::podNamesFor(id).pod;
    int execs = 0;
    for (const auto& r : requestsSince(since)) {
      if (!r.exec() || r.path.find(pod) == std::string::npos) continue;
      ++execs;
      if (!path.empty()) {
        EXPECT_EQ(r.path, path);
      }
      EXPECT_EQ(r.user, user) << r.path;
      EXPECT_EQ(r.status, 101) << r.path;
    }
    return execs;
  }
  void expectNoSecret(const std::string& text) {
    for (const std::string& secret : {fake_->token(), fake_->unprivilegedToken(),
                                      std::string(kUnknownToken), std::string(kSecretInConfig)}) {
      if (text.find(secret) == std::string::npos) continue;
      // Not even the failure shows the token itself.
      std::string shown = text;
      for (size_t at; (at = shown.find(secret)) != std::string::npos;) {
        shown.replace(at, secret.size(), "<TOKEN>");
      }
      ADD_FAILURE() << "a token leaked into: " << shown;
    }
  }

  std::string ca_pem_;
};

// 1. A kubeconfig whose user is a client certificate (CN=admin, O=system:masters) and no token: the
// fake sees "admin" on the REST calls and on the exec upgrade, which has its own TLS connection.
TEST_F(KubeCredentialsTest, ClientCertificateKubeconfigAuthenticatesRestAndExec) {
  const std::string kubeconfig = slurp(fake_->clientCertKubeconfig());
  ASSERT_NE(kubeconfig.find("client-certificate-data"), std::string::npos);
  ASSERT_EQ(kubeconfig.find("\"token\""), std::string::npos) << "the kubeconfig carries a token";
  const long since = lastSeq();
  auto config = baseConfig();
  config["credentials"] = std::string("kubeconfig");
  config["kubeconfig"] = fake_->clientCertKubeconfig();
  auto* rt = keep(createKubeRuntime(config));
  ASSERT_NE(rt, nullptr);
  ASSERT_NO_FATAL_FAILURE(expectReadyAndEchoing(rt, "cred-cert", "presented-a-certificate"));
  int creates = 0;
  for (const auto& r : requestsSince(since)) {
    EXPECT_NE(r.status, 401) << r.method << " " << r.path << " was not authenticated";
    if (r.method == "POST" && r.path == "/api/v1/namespaces/default/pods") {
      ++creates;
      EXPECT_EQ(r.user, "admin") << r.method << " " << r.path;
    }
  }
  EXPECT_EQ(creates, 1);
  // The exec upgrade has its own TLS connection: it presented the certificate too.
  EXPECT_EQ(execsAs(since, "cred-cert", "admin"), 1);
  EXPECT_TRUE(rt->deletePod("cred-cert"));
}

// 2. In-cluster: the service account's token and CA, and its namespace when the config names none
// (the config's namespace wins when it does).
TEST_F(KubeCredentialsTest, InClusterServiceAccountAuthenticatesAndGivesTheNamespace) {
  ServiceEnv env("127.0.0.1", std::to_string(fake_->port()));
  ServiceAccountVolume sa(fake_->token(), ca_pem_, "sa-space\n");
  const long since = lastSeq();
  auto* rt = keep(inCluster(sa.path()));
  ASSERT_NE(rt, nullptr);
  ASSERT_NO_FATAL_FAILURE(expectReadyAndEchoing(rt, "cred-sa", "in-cluster"));
  const std::string pod = k8s::podNamesFor("cred-sa").pod;
  EXPECT_EQ(fake_->api("GET", "/api/v1/namespaces/sa-space/pods/" + pod), 200);
  EXPECT_EQ(
      execsAs(since, "cred-sa", kAdminUser, "/api/v1/namespaces/sa-space/pods/" + pod + "/exec"),
      1);
  EXPECT_TRUE(rt->deletePod("cred-sa"));

  // The config's namespace overrides the service account's.
  auto* named = keep(inCluster(sa.path(), {{"namespace", std::string("cfg-space")}}));
  ASSERT_NE(named, nullptr);
  auto st = ensure(named, "cred-sa-named");
  ASSERT_EQ(st.phase, PodPhase::Ready) << st.reason << ": " << st.message;
  EXPECT_EQ(fake_->api("GET", "/api/v1/namespaces/cfg-space/pods/" +
                                  k8s::podNamesFor("cred-sa-named").pod),
            200);
  EXPECT_TRUE(named->deletePod("cred-sa-named"));
}

// 3a. The service account's token is not (or no longer) accepted: requests fail with 401. The
// kubelet then projects a valid one (the ..data swap) and the same runtime recovers, without a
// restart, on REST and on a new exec stream.
TEST_F(KubeCredentialsTest, RejectedTokenRecoversWhenTheFileRotates) {
  StderrCapture captured([this](const std::string& err) { expectNoSecret(err); });
  ServiceEnv env("127.0.0.1", std::to_string(fake_->port()));
  ServiceAccountVolume sa(kUnknownToken, ca_pem_, "default");
  const long since = lastSeq();
  auto created = inCluster(sa.path(), {{"retry_budget_s", int64_t{2}}});
  auto* rt = keep(created);
  ASSERT_NE(rt, nullptr);
  auto st = ensure(rt, "cred-rot-before");
  EXPECT_EQ(st.phase, PodPhase::Failed);
  EXPECT_NE(st.message.find("Unauthorized"), std::string::npos) << st.message;
  expectNoSecret(st.message);
  auto listed = rt->listPods();
  ASSERT_FALSE(listed);
  expectNoSecret(listed.status().message());
  bool saw_401 = false;
  for (const auto& r : requestsSince(since)) saw_401 = saw_401 || r.status == 401;
  EXPECT_TRUE(saw_401);

  // The plugin looks at the file at most once a second; the 401 makes it look at once. Rotate just
  // after a failed call, early in a second, so that the next call meets the stale token first.
  const std::time_t start = std::time(nullptr);
  ASSERT_TRUE(waitUntil([&] { return std::time(nullptr) != start; }, 3s));
  EXPECT_FALSE(rt->listPods());
  const long rotated = lastSeq();
  sa.rotate(fake_->token());
  // REST: the next call carries the new token (no restart, no new runtime, no waiting).
  EXPECT_TRUE(listed = rt->listPods()) << listed.status().message();
  // Exec: a new stream's upgrade carries it too.
  ASSERT_NO_FATAL_FAILURE(expectReadyAndEchoing(rt, "cred-rot-after", "rotated"));
  EXPECT_EQ(execsAs(rotated, "cred-rot-after", kAdminUser), 1);
  EXPECT_TRUE(rt->deletePod("cred-rot-after"));
  EXPECT_TRUE(rt->deletePod("cred-rot-before"));
  runtimes_.clear();
}

// 3b. A rotation while the old token still works (the kubelet rotates at 80% of the lifetime, and
// the old token stays valid): no 401 tells the plugin, yet it must send the new token from the
// file. The new token here authenticates as another user (the fake's unprivileged one, refused with
// 403), so the fake's log shows which token each request carried. A second rotation brings back
// the admin token and everything works again.
TEST_F(KubeCredentialsTest, RotationIsFollowedWithoutA401) {
  StderrCapture captured([this](const std::string& err) { expectNoSecret(err); });
  ServiceEnv env("127.0.0.1", std::to_string(fake_->port()));
  ServiceAccountVolume sa(fake_->token(), ca_pem_, "default");
  auto* rt = keep(inCluster(sa.path(), {{"retry_budget_s", int64_t{2}}}));
  ASSERT_NE(rt, nullptr);
  ASSERT_NO_FATAL_FAILURE(expectReadyAndEchoing(rt, "cred-swap", "first"));
  std::string out;

  long since = lastSeq();
  sa.rotate(fake_->unprivilegedToken());
  // The plugin looks at the file at most once a second: within a few seconds both a REST call and
  // an exec upgrade go out as the new identity.
  bool rest_switched = false, exec_switched = false;
  std::string last_error;
  EXPECT_TRUE(waitUntil(
      [&] {
        auto listed = rt->listPods();
        if (!listed) last_error = listed.status().message();
        auto exit = echo(rt, "cred-swap", "second", &out);
        if (!exit.error.isOk()) last_error += " | " + exit.error.message();
        for (const auto& r : requestsSince(since)) {
          EXPECT_NE(r.status, 401) << r.method << " " << r.path;
          if (r.user != kUnprivilegedUser) continue;
          (r.exec() ? exec_switched : rest_switched) = true;
        }
        return rest_switched && exec_switched;
      },
      10s))
      << "rest " << rest_switched << ", exec " << exec_switched;
  EXPECT_NE(last_error.find("forbidden"), std::string::npos) << last_error;
  expectNoSecret(last_error);

  since = lastSeq();
  sa.rotate(fake_->token());
  EXPECT_TRUE(waitUntil(
      [&] {
        auto exit = echo(rt, "cred-swap", "third", &out);
        return exit.error.isOk() && out == "third\n" && rt->listPods();
      },
      10s));
  bool admin_exec = false;
  for (const auto& r : requestsSince(since)) {
    if (r.exec() && r.status == 101) admin_exec = admin_exec || r.user == kAdminUser;
  }
  EXPECT_TRUE(admin_exec);

  // A file whose token would break the Authorization header (a line break and a header after it)
  // is not taken: the plugin keeps the token it has. It looks at the file on the first call of
  // each new second, so calls until two seconds have begun are sure to have seen the bad file. The
  // injected header would be a second User-Agent, after the plugin's own: the fake keeps the last.
  since = lastSeq();
  sa.rotate(fake_->token() + "\r\nUser-Agent: injected-header");
  const std::time_t rotated_at = std::time(nullptr);
  int calls = 0;
  while (std::time(nullptr) < rotated_at + 2) {
    auto listed = rt->listPods();
    ASSERT_TRUE(listed) << listed.status().message();
    auto exit = echo(rt, "cred-swap", "kept", &out);
    ASSERT_TRUE(exit.error.isOk()) << exit.error.message();
    EXPECT_EQ(out, "kept\n");
    ++calls;
  }
  EXPECT_GT(calls, 0);
  for (const auto& r : requestsSince(since)) {
    EXPECT_EQ(r.user, kAdminUser) << r.method << " " << r.path << " " << r.status;
    EXPECT_NE(r.user_agent, "injected-header") << r.method << " " << r.path;
  }
  EXPECT_TRUE(rt->deletePod("cred-swap"));
  runtimes_.clear();
}

// The config's context picks the kubeconfig's user, cluster and namespace instead of
// current-context; a context the file lacks is named in the error.
TEST_F(KubeCredentialsTest, TheConfiguredContextIsUsed) {
  TempDir tmp;
  const std::string path = (tmp.path() / "config").string();
  spit(path,
       "apiVersion: v1\nkind: Config\ncurrent-context: stale\nclusters:\n- name: k\n"
       "  cluster:\n    server: " +
           fake_->url() + "\n    certificate-authority: " + fake_->caFile() +
           "\nusers:\n- name: old\n  user:\n    token: " + kUnknownToken +
           "\n- name: cert\n  user:\n    client-certificate: " + fake_->clientCertFile() +
           "\n    client-key: " + fake_->clientKeyFile() +
           "\ncontexts:\n- name: stale\n  context: {cluster: k, user: old}\n"
           "- name: good\n  context: {cluster: k, user: cert, namespace: ctx-space}\n");
  auto config = baseConfig();
  config["credentials"] = std::string("kubeconfig");
  config["kubeconfig"] = path;
  config["context"] = std::string("good");
  const long since = lastSeq();
  auto* rt = keep(createKubeRuntime(config));
  ASSERT_NE(rt, nullptr);
  ASSERT_NO_FATAL_FAILURE(expectReadyAndEchoing(rt, "cred-ctx", "from-context"));
  const std::string pod = k8s::podNamesFor("cred-ctx").pod;
  EXPECT_EQ(fake_->api("GET", "/api/v1/namespaces/ctx-space/pods/" + pod), 200);
  for (const auto& r : requestsSince(since)) {
    EXPECT_NE(r.status, 401) << r.method << " " << r.path;
  }
  EXPECT_EQ(execsAs(since, "cred-ctx", "admin"), 1);
  EXPECT_TRUE(rt->deletePod("cred-ctx"));

  config["context"] = std::string("missing");
  auto created = createKubeRuntime(config);
  ASSERT_FALSE(created.status);
  EXPECT_NE(created.status.message().find(path + ": context \"missing\" not found"),
            std::string::npos)
      << created.status.message();
  expectNoSecret(created.status.message());
}

// A cluster reached by an address its certificate does not name, with tls-server-name naming what
// it does: REST and exec both send and check that name (SNI, certificate), connect to the server's
// own address and say it in the Host header. The fake's certificate names 127.0.0.1 and
// localhost; [::ffff:127.0.0.1] reaches it without being either.
TEST_F(KubeCredentialsTest, TlsServerNameIsTheNameCheckedOnRestAndExec) {
  TempDir tmp;
  std::string address = "[::ffff:127.0.0.1]:" + std::to_string(fake_->port());
  auto kubeconfig = [&](const std::string& file, const std::string& tls_name) {
    const std::string path = (tmp.path() / file).string();
    spit(path,
         "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n"
         "  cluster:\n    server: https://" +
             address + "\n    certificate-authority: " + fake_->caFile() +
             (tls_name.empty() ? "" : "\n    tls-server-name: " + tls_name) +
             "\nusers:\n- name: u\n  user:\n    token: " + fake_->token() +
             "\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n");
    auto config = baseConfig();
    config["credentials"] = std::string("kubeconfig");
    config["kubeconfig"] = path;
    config["retry_budget_s"] = int64_t{2};
    return config;
  };

  // Without it the address is what the certificate is checked against, and it is not there.
  auto* unnamed = keep(createKubeRuntime(kubeconfig("plain", "")));
  ASSERT_NE(unnamed, nullptr);
  auto st = ensure(unnamed, "cred-sni-plain");
  EXPECT_EQ(st.phase, PodPhase::Failed);
  EXPECT_NE(st.message.find("certificate"), std::string::npos) << st.message;

  const long since = lastSeq();
  auto* rt = keep(createKubeRuntime(kubeconfig("named", "localhost")));
  ASSERT_NE(rt, nullptr);
  ASSERT_NO_FATAL_FAILURE(expectReadyAndEchoing(rt, "cred-sni", "named-by-tls-server-name"));
  EXPECT_EQ(execsAs(since, "cred-sni", kAdminUser), 1);
  int rest = 0;
  for (const auto& r : requestsSince(since)) {
    if (r.exec()) continue;
    ++rest;
    EXPECT_EQ(r.host, address) << r.method << " " << r.path;
  }
  EXPECT_GT(rest, 0);
  EXPECT_TRUE(rt->deletePod("cred-sni"));

  auto bad = createKubeRuntime(kubeconfig("bad", "\"evil.example:1/x\""));
  ASSERT_FALSE(bad.status);
  EXPECT_NE(bad.status.message().find("is not a host name"), std::string::npos)
      << bad.status.message();

  // A server URL neither REST nor exec could connect by is refused with the file, up front.
  const std::string good_address = address;
  address = "[::ffff:127.0.0.1]:port";
  auto unusable = createKubeRuntime(kubeconfig("unusable", "localhost"));
  address = good_address;
  ASSERT_FALSE(unusable.status);
  EXPECT_NE(unusable.status.message().find("unusable"), std::string::npos)
      << unusable.status.message();
  EXPECT_NE(unusable.status.message().find("has no valid port"), std::string::npos)
      << unusable.status.message();
}

// kubeconfig credentials with a tokenFile (relative to the kubeconfig) are followed the same way.
TEST_F(KubeCredentialsTest, KubeconfigTokenFileIsFollowed) {
  TempDir tmp;
  const fs::path token = tmp.path() / "token";
  // Replaced the way an operator's tool would: a new file renamed over the old one.
  auto writeToken = [&](const std::string& value) {
    spit(tmp.path() / "token.new", value + "\n");
    fs::rename(tmp.path() / "token.new", token);
  };
  writeToken(fake_->token());
  spit(tmp.path() / "config",
       "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n"
       "    server: " +
           fake_->url() + "\n    certificate-authority: " + fake_->caFile() +
           "\nusers:\n- name: u\n  user:\n    tokenFile: token\ncontexts:\n- name: c\n"
           "  context: {cluster: k, user: u}\n");
  auto config = baseConfig();
  config["credentials"] = std::string("kubeconfig");
  config["kubeconfig"] = (tmp.path() / "config").string();
  config["retry_budget_s"] = int64_t{2};
  auto* rt = keep(createKubeRuntime(config));
  ASSERT_NE(rt, nullptr);
  ASSERT_NO_FATAL_FAILURE(expectReadyAndEchoing(rt, "cred-tokenfile", "first"));
  std::string out;

  const long since = lastSeq();
  writeToken(fake_->unprivilegedToken());
  bool rest_switched = false, exec_switched = false;
  EXPECT_TRUE(waitUntil(
      [&] {
        rt->listPods();
        echo(rt, "cred-tokenfile", "second", &out);
        for (const auto& r : requestsSince(since)) {
          EXPECT_NE(r.status, 401) << r.method << " " << r.path;
          if (r.user != kUnprivilegedUser) continue;
          (r.exec() ? exec_switched : rest_switched) = true;
        }
        return rest_switched && exec_switched;
      },
      10s))
      << "rest " << rest_switched << ", exec " << exec_switched;
  writeToken(fake_->token());
  EXPECT_TRUE(waitUntil(
      [&] {
        auto exit = echo(rt, "cred-tokenfile", "third", &out);
        return exit.error.isOk() && out == "third\n" && rt->listPods();
      },
      10s));
  EXPECT_TRUE(rt->deletePod("cred-tokenfile"));
}

// 4. Bad credentials are refused when the runtime is created, with a message that names the file
// and what is wrong with it, and that never holds a token.
struct BadCase {
  std::string name;
  std::map<std::string, TestConfigView::Value> config;
  std::vector<std::string> expect;  // substrings of the message
};

TEST_F(KubeCredentialsTest, BadCredentialsAreRefusedWithAClearMessage) {
  StderrCapture captured([this](const std::string& err) { expectNoSecret(err); });
  TempDir tmp;
  const fs::path d = tmp.path();
  const std::string cert_b64 = [&] {
    // The fake's client-cert kubeconfig is JSON: take its base64 fields from there.
    auto obj = parseObject(slurp(fake_->clientCertKubeconfig()));
    return obj->getArray("users")->getObject(0)->getObject("user")->getValue<std::string>(
        "client-certificate-data");
  }();
  const std::string server = fake_->url();
  // A kubeconfig for the fake whose user is `user_yaml` (indented under `user:`).
  auto kubeconfig = [&](const std::string& name, const std::string& cluster_extra,
                        const std::string& user_yaml) {
    const fs::path p = d / name;
    spit(p,
         "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n"
         "    server: " +
             server + "\n" + cluster_extra + "users:\n- name: u\n  user:\n" + user_yaml +
             "contexts:\n- name: c\n  context: {cluster: k, user: u}\n");
    return p.string();
  };
  const std::string ca_line = "    certificate-authority: " + fake_->caFile() + "\n";
  const std::string secret = kSecretInConfig;
  // A private key that is not the client certificate's: the fake's server key.
  const std::string other_key = (fs::path(fake_->caFile()).parent_path() / "server.key").string();
  ASSERT_TRUE(fs::exists(other_key));

  // In-cluster directories, each broken one way.
  auto saDir = [&](const std::string& name, const std::optional<std::string>& token,
                   const std::optional<std::string>& ca) {
    const fs::path p = d / name;
    fs::create_directory(p);
    if (token) spit(p / "token", *token);
    if (ca) spit(p / "ca.crt", *ca);
    spit(p / "namespace", "default");
    return p;
  };
  const fs::path no_token = saDir("sa-no-token", std::nullopt, ca_pem_);
  const fs::path empty_token = saDir("sa-empty-token", "\n", ca_pem_);
  const fs::path no_ca = saDir("sa-no-ca", secret, std::nullopt);
  const fs::path dir_ca = saDir("sa-dir-ca", secret, std::nullopt);
  fs::create_directory(dir_ca / "ca.crt");
  const fs::path junk_ca = saDir("sa-junk-ca", secret, "not a certificate " + secret + "\n");
  const fs::path crlf_token = saDir("sa-crlf-token", secret + "\r\nX-Injected: yes\n", ca_pem_);
  const auto inClusterConfig = [&](const fs::path& p) {
    auto c = baseConfig();
    c["credentials"] = std::string("in-cluster");
    c["service_account_dir"] = p.string();
    return c;
  };
  const auto kubeconfigConfig = [&](const std::string& path) {
    auto c = baseConfig();
    c["credentials"] = std::string("kubeconfig");
    c["kubeconfig"] = path;
    return c;
  };

  const std::vector<BadCase> cases = {
      {"missing token file",
       inClusterConfig(no_token),
       {(no_token / "token").string(), "service account token", "No such file"}},
      {"empty token file",
       inClusterConfig(empty_token),
       {(empty_token / "token").string(), "empty"}},
      {"missing CA", inClusterConfig(no_ca), {(no_ca / "ca.crt").string(), "No such file"}},
      {"CA is a directory", inClusterConfig(dir_ca), {(dir_ca / "ca.crt").string(), "directory"}},
      {"CA is not PEM",
       inClusterConfig(junk_ca),
       {(junk_ca / "ca.crt").string(), "no PEM certificate"}},
      {"token with a line break",
       inClusterConfig(crlf_token),
       {(crlf_token / "token").string(), "control character"}},
      {"kubeconfig token with a line break",
       kubeconfigConfig(kubeconfig("crlf-token", ca_line,
                                   "    token: \"" + secret + "\\r\\nX-Injected: yes\"\n")),
       {"crlf-token", "token of user \"u\"", "control character"}},
      {"client certificate without key",
       kubeconfigConfig(
           kubeconfig("cert-no-key", ca_line, "    client-certificate-data: " + cert_b64 + "\n")),
       {"cert-no-key", "client certificate but no client key"}},
      {"client key without certificate",
       kubeconfigConfig(
           kubeconfig("key-no-cert", ca_line, "    client-key: " + fake_->clientKeyFile() + "\n")),
       {"key-no-cert", "client key but no client certificate"}},
      {"client key of another certificate",
       kubeconfigConfig(kubeconfig("key-mismatch", ca_line,
                                   "    client-certificate: " + fake_->clientCertFile() +
                                       "\n    client-key: " + other_key + "\n")),
       {"key-mismatch", other_key, "does not match", fake_->clientCertFile()}},
      {"client certificate file missing",
       kubeconfigConfig(kubeconfig("cert-missing", ca_line,
                                   "    client-certificate: no-such-cert.pem\n    client-key: " +
                                       fake_->clientKeyFile() + "\n")),
       {"cert-missing", (d / "no-such-cert.pem").string(), "No such file"}},
      {"CA file unreadable",
       kubeconfigConfig(kubeconfig("ca-missing", "    certificate-authority: no-such-ca.crt\n",
                                   "    token: " + secret + "\n")),
       {"ca-missing", (d / "no-such-ca.crt").string(), "No such file"}},
      {"CA data not PEM",
       kubeconfigConfig(kubeconfig("ca-junk", "    certificate-authority-data: bm90IGEgY2VydA==\n",
                                   "    token: " + secret + "\n")),
       {"ca-junk", "certificate-authority-data", "no PEM certificate"}},
      {"token file missing",
       kubeconfigConfig(
           kubeconfig("tokenfile-missing", ca_line, "    tokenFile: /nonexistent/podterm/token\n")),
       {"tokenfile-missing", "/nonexistent/podterm/token", "No such file"}},
      {"broken YAML after a token",
       kubeconfigConfig(kubeconfig("broken-yaml", ca_line,
                                   "    token: " + secret + "\n    client-key: [unclosed\n")),
       {"broken-yaml:"}},
  };
  {
    // Outside a pod: in-cluster credentials without the service's address.
    ServiceEnv env("", "");
    ::unsetenv("KUBERNETES_SERVICE_HOST");
    auto created = inCluster(saDir("sa-fine", secret, ca_pem_));
    EXPECT_FALSE(created.status);
    EXPECT_NE(created.status.message().find("KUBERNETES_SERVICE_HOST"), std::string::npos)
        << created.status.message();
  }
  {
    // A service address that makes no URL: refused when read, not at the first exec.
    ServiceEnv env("127.0.0.1", "https");
    auto created = inCluster(saDir("sa-fine", secret, ca_pem_));
    EXPECT_FALSE(created.status);
    EXPECT_NE(created.status.message().find("no valid port"), std::string::npos)
        << created.status.message();
  }
  ServiceEnv env("127.0.0.1", std::to_string(fake_->port()));
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto created = createKubeRuntime(c.config);
    EXPECT_FALSE(created.status) << "accepted";
    if (created.status) continue;
    EXPECT_EQ(created.runtime, nullptr);
    const std::string& msg = created.status.message();
    for (const auto& want : c.expect) {
      EXPECT_NE(msg.find(want), std::string::npos) << "\"" << want << "\" not in: " << msg;
    }
    expectNoSecret(msg);
  }
}

}  // namespace
}  // namespace podterm::tests::kubernetes
