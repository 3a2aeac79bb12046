// deploy/kubernetes checked against what the plugin really does, not against lists written by
// hand: runtime-kubernetes runs through everything it does against the fake API server (a cold
// session with its claim, the readiness watch, a terminal with a resize, a command with stdin,
// another replica finding the session by label, the reaper's list, a warm-pool claim, deletes of
// pods and claims), and tests/deploy/check_manifests.py gets the fake's request log:
// --plugin-requests compares the Role of the rendered Kustomize base with what a real API
// server's RBAC checks for those requests (both ways: nothing missing, nothing unused that is not
// justified), and --restricted / --session-pod check the pods the plugin POSTed against the
// restricted Pod Security Standard and the session pod's promises. They skip, saying why, only
// where no kubectl exists (the Role check; the pod checks need none).

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "FakeApiServer.h"
#include "KubePluginFixture.h"
#include "kube_runtime.h"
#include "kube_settings.h"
#include "podterm/testing/runtime_contract.h"

extern char** environ;

namespace podterm::tests::kubernetes {
namespace {

using namespace std::chrono_literals;
using Poco::JSON::Object;
using podterm::testing::RecordingPodObserver;
using podterm::testing::RecordingStreamObserver;
using sdk::PodPhase;
namespace k8s = podterm::plugins::kubernetes;

// FAKE_APISERVER is <repo>/tests/fake-kube-apiserver/fake_apiserver.py.
std::string repoRoot() {
  const std::string fake = FAKE_APISERVER;
  const std::string tail = "/tests/fake-kube-apiserver/fake_apiserver.py";
  if (fake.size() <= tail.size() || fake.compare(fake.size() - tail.size(), tail.size(), tail)) {
    return "";
  }
  return fake.substr(0, fake.size() - tail.size());
}

struct ScriptResult {
  int status = -1;  // the exit status, -1 when it did not run or exit
  std::string output;
};

// Runs tests/deploy/check_manifests.py with args, stdout and stderr into dir/name.out.
ScriptResult checkManifests(const std::string& dir, const std::string& name,
                            const std::vector<std::string>& args) {
  ScriptResult result;
  const std::string out_path = dir + "/" + name + ".out";
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   repoRoot() + "/tests/deploy/check_manifests.py"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    result.output = "cannot start " + argv[0] + ": " + std::strerror(spawned);
    return result;
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus)) result.status = WEXITSTATUS(wstatus);
  std::ifstream in(out_path);
  std::ostringstream text;
  text << in.rdbuf();
  result.output = text.str();
  return result;
}

class KubeDeployConformance : public KubePluginTest {
 protected:
  void SetUp() override {
    KubePluginTest::SetUp();
    if (IsSkipped()) return;
    ASSERT_FALSE(repoRoot().empty())
        << "FAKE_APISERVER " << FAKE_APISERVER << " is not below the repository's tests/";
    char tmpl[] = "/tmp/podterm-deploy-conformance-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::string body;
    ASSERT_EQ(fake_->control("GET", "/_fake/requests?since=0", {}, &body), 200);
    auto log = parseObject(body);
    ASSERT_TRUE(log);
    since_ = log->optValue<int64_t>("last", 0);
  }
  void TearDown() override {
    statics_.clear();
    KubePluginTest::TearDown();
    if (!dir_.empty() && !HasFailure()) std::filesystem::remove_all(dir_);
    if (!dir_.empty() && HasFailure()) std::cout << "kept " << dir_ << " for inspection\n";
  }

  // The fake's request log since SetUp.
  std::string requestLog() { return fakeRequestLog(*fake_, since_); }
  std::vector<Object::Ptr> requests() { return fakeRequests(*fake_, since_); }
  // Requests of the plugin (its User-Agent) matching method and the fake's resource.
  std::vector<Object::Ptr> calls(const std::string& method, const std::string& resource) {
    std::vector<Object::Ptr> out;
    for (const auto& e : requests()) {
      auto headers = e->getObject("headers");
      const std::string agent = headers ? headers->optValue<std::string>("user-agent", "") : "";
      if (agent.rfind("podterm-runtime-kubernetes/", 0) == 0 &&
          e->optValue<std::string>("method", "") == method &&
          e->optValue<std::string>("resource", "") == resource) {
        out.push_back(e);
      }
    }
    return out;
  }
  std::string writeLog(const std::string& name) {
    const std::string path = dir_ + "/" + name + ".json";
    std::ofstream(path) << requestLog();
    return path;
  }

  void ready(sdk::PodRuntime* rt, const std::string& id) {
    auto& o = observers_.emplace_back();
    ASSERT_TRUE(rt->ensurePod(spec(id), &o));
    auto st = waitSettled(o);
    ASSERT_EQ(st.phase, PodPhase::Ready) << st.reason << ": " << st.message;
  }
  // A terminal: its size, a resize (channel 4), input, output.
  void terminal(sdk::PodRuntime* rt, const std::string& id) {
    RecordingStreamObserver o;
    sdk::StreamSpec s;
    s.argv = {"sh", "-c", "stty size; read line; stty size; exit 0"};
    s.tty = true;
    s.cols = 100;
    s.rows = 30;
    auto stream = rt->openStream(id, s, &o);
    ASSERT_TRUE(stream) << stream.status().message();
    ASSERT_TRUE(o.waitForStdout("30 100", 30s)) << o.out();
    ASSERT_TRUE(stream.value()->resize(120, 40));
    ASSERT_TRUE(stream.value()->write("\r", 1));
    ASSERT_TRUE(o.waitForStdout("40 120", 30s)) << o.out();
    ASSERT_TRUE(o.waitForExit(30s));
    EXPECT_EQ(o.exit().exit_code, 0);
  }
  // A command with stdin that ends (v5's close signal, or v4's length-delimited upload).
  void command(sdk::PodRuntime* rt, const std::string& id) {
    RecordingStreamObserver o;
    ASSERT_NO_FATAL_FAILURE(run(rt, id, {"sh", "-c", "cat; exit 3"}, "hello stdin\n", o));
    EXPECT_EQ(o.out(), "hello stdin\n");
    EXPECT_EQ(o.exit().exit_code, 3);
  }
  // The warm pool through the plugin's static library: readyPoolPods() lets the test wait for
  // the pool it means instead of racing the plugin's watch.
  k8s::KubernetesPodRuntime* pooled() {
    k8s::KubeSettings s;
    s.credentials = k8s::CredentialsMode::Kubeconfig;
    s.kubeconfig = fake_->kubeconfig();
    s.ready_timeout_s = 30;
    s.delete_timeout_s = 20;
    s.retry_budget_s = 15;
    s.warm_pool = 1;
    auto created = k8s::KubernetesPodRuntime::create(s);
    EXPECT_TRUE(created) << created.status().message();
    if (!created) return nullptr;
    statics_.push_back(std::move(created.value()));
    return statics_.back().get();
  }
  // Runs check_manifests.py on the log's pods; 0 when every pod passes.
  ScriptResult checkPods(const std::string& option, const std::string& log) {
    auto r = checkManifests(dir_, option.substr(2) + "-" + std::to_string(++runs_), {option, log});
    std::cout << "check_manifests.py " << option << ":\n" << r.output;
    return r;
  }

  std::string dir_;
  int64_t since_ = 0;
  int runs_ = 0;
  std::vector<std::unique_ptr<k8s::KubernetesPodRuntime>> statics_;
};

// What the plugin's sources can ask the API for: the HTTP methods of its REST calls (a watch is a
// GET) and the resources and subresources its paths name. A scenario must have exercised each:
// a call only an unexercised code path makes would otherwise escape the Role check.
struct SourceCalls {
  std::set<std::string> methods;
  std::set<std::string> resources;     // "pods", "persistentvolumeclaims"
  std::set<std::string> subresources;  // "exec"
  std::set<std::string> groups;        // "/apis/<group>" paths: none expected
};

SourceCalls scanPluginSources() {
  SourceCalls out;
  const std::regex call(R"re(api_\.call\(\s*"([A-Z]+)")re");
  const std::regex stream(R"re(api_\.stream\()re");
  const std::regex resource(R"re("/api/v1/namespaces/"\s*\+\s*\w+\s*\+\s*"/([a-z]+)")re");
  const std::regex sub(R"re("/(exec|attach|portforward|log|status|eviction|binding|proxy)[?/"])re");
  const std::regex group(R"re("/apis/([^"/]*))re");
  for (const auto& entry :
       std::filesystem::directory_iterator(repoRoot() + "/plugins/runtime-kubernetes")) {
    const auto ext = entry.path().extension();
    if (ext != ".cpp" && ext != ".h") continue;
    std::ifstream in(entry.path());
    std::ostringstream text;
    text << in.rdbuf();
    const std::string src = text.str();
    auto each = [&src](const std::regex& re, std::set<std::string>& into) {
      for (std::sregex_iterator it(src.begin(), src.end(), re), end; it != end; ++it) {
        into.insert(it->size() > 1 ? (*it)[1].str() : "GET");
      }
    };
    each(call, out.methods);
    each(stream, out.methods);
    each(resource, out.resources);
    each(sub, out.subresources);
    each(group, out.groups);
  }
  return out;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(KubeDeployConformance, TheRoleGrantsWhatThePluginCallsAndNothingElse) {
  // A session on a cold pod (claim + pod, Ready through the watch), a terminal, a command.
  auto* rt = runtime();
  ASSERT_NO_FATAL_FAILURE(ready(rt, "conform-cold"));
  ASSERT_NO_FATAL_FAILURE(terminal(rt, "conform-cold"));
  ASSERT_NO_FATAL_FAILURE(command(rt, "conform-cold"));
  // Another replica (or a restarted host): the session's status and a stream by its label, the
  // reaper's list.
  auto* other = runtime();
  auto st = other->podStatus("conform-cold");
  ASSERT_TRUE(st) << st.status().message();
  EXPECT_EQ(st.value().phase, PodPhase::Ready);
  ASSERT_NO_FATAL_FAILURE(command(other, "conform-cold"));
  auto pods = other->listPods();
  ASSERT_TRUE(pods) << pods.status().message();
  EXPECT_EQ(std::count_if(pods.value().begin(), pods.value().end(),
                          [](const sdk::PodInfo& p) { return p.session_id == "conform-cold"; }),
            1);
  // Session end: the pod (waiting until it is gone), then its claim.
  ASSERT_TRUE(rt->deletePod("conform-cold"));

  // A warm pool: pool pods with their claims, a claim by JSON patch, the pool refilled, and the
  // unclaimed pool deleted when the runtime goes.
  auto* pool = pooled();
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(waitUntil([&] { return pool->readyPoolPods() >= 1; }, 30s));
  ASSERT_NO_FATAL_FAILURE(ready(pool, "conform-warm"));
  ASSERT_EQ(calls("PATCH", "pods").size(), 1u) << "the session did not claim the pool pod";
  ASSERT_NO_FATAL_FAILURE(command(pool, "conform-warm"));
  ASSERT_TRUE(pool->deletePod("conform-warm"));
  ASSERT_TRUE(waitUntil([&] { return pool->readyPoolPods() >= 1; }, 30s)) << "no refill";
  statics_.clear();  // deletes its unclaimed pool pod and claim

  // Each thing the test meant to make the plugin do shows in the log (a scenario that silently
  // did nothing would otherwise look like an unused grant, or hide a missing one).
  EXPECT_GE(calls("POST", "persistentvolumeclaims").size(), 3u);  // cold, pool, refill
  EXPECT_GE(calls("POST", "pods").size(), 3u);
  EXPECT_FALSE(calls("GET", "pods").empty()) << "no watch or list";
  EXPECT_GE(calls("DELETE", "pods").size(), 3u);  // cold, claimed pool pod, refill
  EXPECT_GE(calls("DELETE", "persistentvolumeclaims").size(), 3u);
  auto execs = calls("GET", "pods/exec");
  ASSERT_EQ(execs.size(), 4u);
  bool resized = false;
  for (const auto& e : execs) {
    auto resizes = e->getArray("resizes");
    resized = resized || (resizes && resizes->size() > 0);
  }
  EXPECT_TRUE(resized) << "no exec carried a resize";

  // Everything the sources can call was called.
  std::set<std::string> methods, resources;
  for (const auto& e : requests()) {
    auto headers = e->getObject("headers");
    if (!headers ||
        headers->optValue<std::string>("user-agent", "").rfind("podterm-runtime-kubernetes/", 0)) {
      continue;
    }
    methods.insert(e->optValue<std::string>("method", ""));
    resources.insert(e->optValue<std::string>("resource", ""));
  }
  const SourceCalls source = scanPluginSources();
  EXPECT_FALSE(source.methods.empty() || source.resources.empty())
      << "found no API call in plugins/runtime-kubernetes: the scan's patterns are out of date";
  for (const auto& m : source.methods) {
    EXPECT_TRUE(methods.count(m)) << "the plugin's sources make " << m
                                  << " requests, and no scenario here made one";
  }
  for (const auto& res : source.resources) {
    EXPECT_TRUE(resources.count(res))
        << "the plugin's sources name " << res << ", and no scenario here called it";
  }
  for (const auto& sub : source.subresources) {
    EXPECT_TRUE(std::any_of(resources.begin(), resources.end(),
                            [&](const std::string& r) {
                              return r.size() > sub.size() + 1 &&
                                     r.compare(r.size() - sub.size() - 1, std::string::npos,
                                               "/" + sub) == 0;
                            }))
        << "the plugin's sources name the subresource " << sub << ", and no scenario called it";
  }
  EXPECT_TRUE(source.groups.empty()) << "the plugin calls an API group (" << *source.groups.begin()
                                     << "): the Role's rules allow the core group only";

  const std::string log = writeLog("requests");
  auto r = checkManifests(dir_, "rbac", {"--plugin-requests", log, repoRoot()});
  std::cout << "check_manifests.py --plugin-requests:\n" << r.output;
  if (r.status == 77) GTEST_SKIP() << r.output;
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST_F(KubeDeployConformance, ThePodsThePluginCreatesAreRestricted) {
  // Default settings (restricted = true): a cold pod with a claim, one with an ephemeral volume,
  // and a warm-pool pod.
  auto* rt = runtime();
  ASSERT_NO_FATAL_FAILURE(ready(rt, "conform-pss"));
  auto* ephemeral = runtime({{"volume", std::string("ephemeral")}});
  ASSERT_NO_FATAL_FAILURE(ready(ephemeral, "conform-pss-eph"));
  auto* pool = runtime({{"warm_pool", int64_t{1}}});
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(waitUntil(
      [&] {
        for (const auto& e : calls("POST", "pods")) {
          auto labels =
              e->getObject("body") ? e->getObject("body")->getObject("metadata") : nullptr;
          labels = labels ? labels->getObject("labels") : nullptr;
          if (labels && labels->has("podterm.io/pool")) return true;
        }
        return false;
      },
      30s))
      << "the pool never created a pod";
  ASSERT_EQ(calls("POST", "pods").size(), 3u);

  const std::string log = writeLog("pods");
  auto restricted = checkPods("--restricted", log);
  EXPECT_EQ(restricted.status, 0) << restricted.output;
  EXPECT_EQ(count(restricted.output, "ok: pod "), 3u) << restricted.output;
  auto session = checkPods("--session-pod", log);
  EXPECT_EQ(session.status, 0) << session.output;
  EXPECT_EQ(count(session.output, "ok: pod "), 3u) << session.output;
  ASSERT_TRUE(rt->deletePod("conform-pss"));
  ASSERT_TRUE(ephemeral->deletePod("conform-pss-eph"));
}

TEST_F(KubeDeployConformance, RestrictedFalseIsReportedAsNotRestricted) {
  auto* rt = runtime({{"restricted", false}});
  ASSERT_NO_FATAL_FAILURE(ready(rt, "conform-root"));
  ASSERT_EQ(calls("POST", "pods").size(), 1u);
  const std::string log = writeLog("unrestricted");
  auto restricted = checkPods("--restricted", log);
  EXPECT_EQ(restricted.status, 1) << restricted.output;
  EXPECT_NE(restricted.output.find("runAsNonRoot must be true"), std::string::npos);
  EXPECT_NE(restricted.output.find("capabilities must drop ALL"), std::string::npos);
  // Only the restricted fields differ: the session pod's other promises hold.
  auto session = checkPods("--session-pod", log);
  EXPECT_EQ(session.status, 0) << session.output;
  ASSERT_TRUE(rt->deletePod("conform-root"));
}

}  // namespace
}  // namespace podterm::tests::kubernetes
