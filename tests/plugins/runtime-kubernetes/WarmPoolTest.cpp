// The warm pool against the fake API server: a claim is a JSON patch (not a create), two replicas
// never get the same pod, the pool refills, a claim that loses its pod falls back to a cold pod,
// listPods leaves pool and terminating pods out, clean shutdown deletes the pool and a crashed
// host's pool is adopted. The runtimes are built from the plugin's static library, so a test can
// wait for the pool it means (readyPoolPods()) instead of sleeping.
//
// The fake is shared by every test (and every --gtest_repeat), so each run's session ids carry the
// run's number (sessionId()) and TearDown deletes the sessions' pods and volumes: a session of the
// same name left by an earlier run would be found and adopted instead of claimed.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "FakeApiServer.h"
#include "KubePluginFixture.h"
#include "kube_runtime.h"
#include "pod_manifest.h"
#include "pod_names.h"
#include "pod_status.h"
#include "podterm/testing/runtime_contract.h"

namespace podterm::tests::kubernetes {
namespace {

using namespace std::chrono_literals;
using Poco::JSON::Object;
using podterm::plugins::kubernetes::KubernetesPodRuntime;
using podterm::plugins::kubernetes::KubeSettings;
using podterm::testing::RecordingPodObserver;
using podterm::testing::RecordingStreamObserver;
using sdk::PodPhase;
namespace k8s = podterm::plugins::kubernetes;

constexpr const char* kPods = "/api/v1/namespaces/default/pods";

// Polls cond until it holds or the deadline passes (a bounded wait on a condition).
class WarmPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = FakeApiServer::instance();
    if (fake_ == nullptr) GTEST_SKIP() << FakeApiServer::whyUnavailable();
    fake_->control("DELETE", "/_fake/faults");
    run_ = ++runs_;
  }
  void TearDown() override {
    runtimes_.clear();  // a clean shutdown: each runtime deletes its own unclaimed pool pods
    if (fake_ == nullptr) return;
    // The sessions' pods (cold or claimed) and volumes go at once, as another client would delete
    // them (grace 0), so the next test or repeat starts without them.
    for (const auto& session : sessions_) {
      std::string body;
      fake_->api("GET",
                 std::string(kPods) + "?labelSelector=" + k8s::kSessionHashLabel + "%3D" +
                     k8s::podNamesFor(session).hash,
                 {}, &body);
      auto list = parseObject(body);
      auto items = list ? list->getArray("items") : nullptr;
      for (size_t i = 0; items && i < items->size(); ++i) {
        auto pod = items->getObject(static_cast<unsigned>(i));
        const std::string path = std::string(kPods) + "/" + k8s::podString(pod, "metadata.name");
        // A finalizer a test put on (and did not take off, as it stopped early) would hold it.
        fake_->api("PATCH", path, R"({"metadata":{"finalizers":null}})", nullptr,
                   "application/merge-patch+json");
        fake_->api("DELETE", path, R"({"gracePeriodSeconds":0})");
        for (const auto& claim : claimsOf(pod)) {
          fake_->api("DELETE", "/api/v1/namespaces/default/persistentvolumeclaims/" + claim);
        }
      }
    }
  }
  // This run's session id for name: unique across tests and repeats.
  std::string sessionId(const std::string& name) { return name + "-r" + std::to_string(run_); }
  static std::vector<std::string> claimsOf(const Object::Ptr& pod) {
    std::vector<std::string> out;
    auto spec = pod ? pod->getObject("spec") : nullptr;
    auto volumes = spec ? spec->getArray("volumes") : nullptr;
    for (size_t i = 0; volumes && i < volumes->size(); ++i) {
      auto pvc = volumes->getObject(static_cast<unsigned>(i))->getObject("persistentVolumeClaim");
      if (pvc) out.push_back(pvc->optValue<std::string>("claimName", ""));
    }
    return out;
  }

  KubeSettings settings(int64_t warm_pool) {
    KubeSettings s;
    s.credentials = k8s::CredentialsMode::Kubeconfig;
    s.kubeconfig = fake_->kubeconfig();
    s.ready_timeout_s = 30;
    s.delete_timeout_s = 20;
    s.retry_budget_s = 15;
    s.warm_pool = warm_pool;
    return s;
  }
  KubernetesPodRuntime* make(int64_t warm_pool) { return make(settings(warm_pool)); }
  KubernetesPodRuntime* make(const KubeSettings& s) {
    auto created = KubernetesPodRuntime::create(s);
    EXPECT_TRUE(created) << created.status().message();
    if (!created) return nullptr;
    runtimes_.push_back(std::move(created.value()));
    return runtimes_.back().get();
  }
  // Waits until the runtime's watch shows at least n Ready pool pods.
  void waitPool(KubernetesPodRuntime* rt, size_t n) {
    ASSERT_TRUE(waitUntil([&] { return rt->readyPoolPods() >= n; }, 30s))
        << "the pool never had " << n << " ready pods (has " << rt->readyPoolPods() << ")";
  }
  sdk::PodSpec spec(const std::string& id) {
    {
      std::lock_guard<std::mutex> lock(sessions_mu_);  // specs are made on several threads
      if (std::find(sessions_.begin(), sessions_.end(), id) == sessions_.end()) {
        sessions_.push_back(id);  // deleted by TearDown
      }
    }
    sdk::PodSpec s;
    s.session_id = id;
    s.user = "u";
    s.workspace = "w";
    s.labels["team"] = "blue";
    return s;
  }
  void ready(sdk::PodRuntime* rt, const std::string& id) {
    auto& o = observers_.emplace_back();
    ASSERT_TRUE(rt->ensurePod(spec(id), &o));
    sdk::PodStatus st;
    ASSERT_TRUE(o.waitFor(
        [](const sdk::PodStatus& s) {
          return s.phase == PodPhase::Ready || s.phase == PodPhase::Failed;
        },
        40s, &st));
    ASSERT_EQ(st.phase, PodPhase::Ready) << st.reason << ": " << st.message;
  }
  std::string podName(sdk::PodRuntime* rt, const std::string& id) {
    auto pods = rt->listPods();
    EXPECT_TRUE(pods);
    for (const auto& p : pods.value()) {
      if (p.session_id == id) return p.pod_name;
    }
    return "";
  }
  Object::Ptr getPod(const std::string& name) {
    std::string body;
    if (fake_->api("GET", std::string(kPods) + "/" + name, {}, &body) != 200) return nullptr;
    return parseObject(body);
  }
  // Live pool pods (claimed ones lose the label; terminating ones, e.g. an earlier test's pool
  // being deleted, are left out), by name; of one template when given.
  std::vector<std::string> poolPodNames(const std::string& template_hash = "") {
    std::string body;
    std::string selector = "podterm.io%2Fpool";
    if (!template_hash.empty()) selector += "%3D" + template_hash;
    fake_->api("GET", std::string(kPods) + "?labelSelector=" + selector, {}, &body);
    std::vector<std::string> out;
    auto list = parseObject(body);
    auto items = list ? list->getArray("items") : nullptr;
    for (size_t i = 0; items && i < items->size(); ++i) {
      auto pod = items->getObject(static_cast<unsigned>(i));
      if (!k8s::podTerminating(pod)) out.push_back(k8s::podString(pod, "metadata.name"));
    }
    return out;
  }
  // The pool pods of the settings make() uses.
  std::vector<std::string> ourPoolPodNames() {
    return poolPodNames(k8s::poolTemplateHash(settings(1)));
  }
  // The fake's request log since the last clear.
  std::vector<Object::Ptr> requests() { return fakeRequests(*fake_); }
  void run(sdk::PodRuntime* rt, const std::string& id, std::vector<std::string> argv,
           RecordingStreamObserver& o) {
    sdk::StreamSpec s;
    s.argv = std::move(argv);
    auto stream = rt->openStream(id, s, &o);
    ASSERT_TRUE(stream) << stream.status().message();
    ASSERT_TRUE(stream.value()->closeStdin());
    ASSERT_TRUE(o.waitForExit(30s)) << o.out();
  }

  FakeApiServer* fake_ = nullptr;
  static inline int runs_ = 0;
  int run_ = 0;
  std::mutex sessions_mu_;
  std::vector<std::string> sessions_;  // every session id a spec was made for (sessions_mu_)
  std::deque<RecordingPodObserver> observers_;  // outlive the runtimes
  std::vector<std::unique_ptr<KubernetesPodRuntime>> runtimes_;
};

TEST_F(WarmPoolTest, ClaimIsALabelPatchNotACreateAndThePoolRefills) {
  auto* rt = make(1);
  ASSERT_NE(rt, nullptr);
  EXPECT_TRUE(rt->capabilities().warm_pool);
  ASSERT_NO_FATAL_FAILURE(waitPool(rt, 1));
  auto pool = ourPoolPodNames();
  ASSERT_EQ(pool.size(), 1u);
  const std::string warm = pool[0];
  fake_->control("DELETE", "/_fake/requests");

  const std::string id = sessionId("Warm_Session-1");
  ASSERT_NO_FATAL_FAILURE(ready(rt, id));
  EXPECT_EQ(podName(rt, id), warm);
  const auto names = k8s::podNamesFor(id);
  bool patched = false;
  for (const auto& r : requests()) {
    const std::string method = r->optValue<std::string>("method", "");
    const std::string path = r->optValue<std::string>("path", "");
    auto body = r->isObject("body") ? r->getObject("body") : nullptr;
    // No pod is created for the session: its cold name is never posted...
    if (method == "POST" && path == kPods) {
      EXPECT_NE(k8s::podString(body, "metadata.name"), names.pod);
      EXPECT_EQ(k8s::podLabel(body, k8s::kSessionHashLabel), "");  // only pool refills
    }
    // ...it is the warm pod's patch, a JSON patch guarded by tests.
    if (method == "PATCH" && path == std::string(kPods) + "/" + warm) {
      patched = true;
      EXPECT_EQ(r->getObject("headers")->optValue<std::string>("content-type", ""),
                "application/json-patch+json");
      EXPECT_EQ(r->optValue<int>("status", 0), 200);
      auto ops = r->isArray("body") ? r->getArray("body") : nullptr;
      ASSERT_TRUE(ops);
      EXPECT_EQ(ops->getObject(0)->optValue<std::string>("op", ""), "test");
      EXPECT_EQ(ops->getObject(1)->optValue<std::string>("path", ""),
                "/metadata/labels/podterm.io~1pool");
    }
  }
  EXPECT_TRUE(patched);

  // The claimed pod carries exactly what a cold pod of the session carries.
  auto pod = getPod(warm);
  ASSERT_TRUE(pod);
  EXPECT_EQ(k8s::podLabel(pod, k8s::kSessionHashLabel), names.hash);
  EXPECT_EQ(k8s::podLabel(pod, k8s::kPoolLabel), "");
  EXPECT_EQ(k8s::podLabel(pod, "team"), "blue");
  EXPECT_EQ(k8s::podAnnotation(pod, k8s::kSessionIdAnnotation), id);
  EXPECT_EQ(k8s::podAnnotation(pod, k8s::kUserAnnotation), "u");
  EXPECT_EQ(k8s::podAnnotation(pod, k8s::kWorkspaceAnnotation), "w");

  RecordingStreamObserver out;
  ASSERT_NO_FATAL_FAILURE(run(rt, id, {"sh", "-c", "echo warm > f; cat f; pwd"}, out));
  EXPECT_EQ(out.out(), "warm\n/app/workspace\n");

  // The pool refills with a new pod.
  ASSERT_NO_FATAL_FAILURE(waitPool(rt, 1));
  pool = ourPoolPodNames();
  ASSERT_EQ(pool.size(), 1u);
  EXPECT_NE(pool[0], warm);

  // Any replica finds the claimed pod by its label: status, adoption, no second pod.
  auto* other = make(0);
  ASSERT_NE(other, nullptr);
  EXPECT_FALSE(other->capabilities().warm_pool);
  auto st = other->podStatus(id);
  ASSERT_TRUE(st);
  EXPECT_EQ(st.value().phase, PodPhase::Ready);
  ASSERT_NO_FATAL_FAILURE(ready(other, id));
  RecordingStreamObserver again;
  ASSERT_NO_FATAL_FAILURE(run(other, id, {"cat", "f"}, again));
  EXPECT_EQ(again.out(), "warm\n");
  EXPECT_EQ(getPod(names.pod), nullptr);  // never a cold pod

  // Deleting the session (from the other replica) removes the warm pod and its volume.
  ASSERT_TRUE(other->deletePod(id));
  EXPECT_EQ(getPod(warm), nullptr);
  const std::string claim = "ws-" + warm.substr(std::string("exec-").size());
  EXPECT_TRUE(waitUntil(
      [&] {
        return fake_->api("GET", "/api/v1/namespaces/default/persistentvolumeclaims/" + claim) ==
               404;
      },
      10s))
      << claim;
}

TEST_F(WarmPoolTest, TwoReplicasNeverClaimTheSamePod) {
  auto* a = make(3);
  auto* b = make(3);
  ASSERT_TRUE(a && b);
  for (int round = 0; round < 3; ++round) {
    ASSERT_NO_FATAL_FAILURE(waitPool(a, 2));
    ASSERT_NO_FATAL_FAILURE(waitPool(b, 2));
    const std::string ida = sessionId("race-a-" + std::to_string(round));
    const std::string idb = sessionId("race-b-" + std::to_string(round));
    auto& oa = observers_.emplace_back();
    auto& ob = observers_.emplace_back();
    // Both replicas see the same pool and try its oldest pod first, at the same time.
    std::thread ta([&] { EXPECT_TRUE(a->ensurePod(spec(ida), &oa)); });
    std::thread tb([&] { EXPECT_TRUE(b->ensurePod(spec(idb), &ob)); });
    ta.join();
    tb.join();
    for (auto* o : {&oa, &ob}) {
      ASSERT_TRUE(
          o->waitFor([](const sdk::PodStatus& s) { return s.phase == PodPhase::Ready; }, 40s));
    }
    const std::string pa = podName(a, ida);
    const std::string pb = podName(b, idb);
    ASSERT_FALSE(pa.empty());
    ASSERT_FALSE(pb.empty());
    EXPECT_NE(pa, pb) << "round " << round;
    // Both were warm: the loser of a claim took the next pool pod rather than a cold start.
    EXPECT_EQ(pa.rfind("exec-warm-", 0), 0u) << pa;
    EXPECT_EQ(pb.rfind("exec-warm-", 0), 0u) << pb;
    EXPECT_EQ(k8s::podAnnotation(getPod(pa), k8s::kSessionIdAnnotation), ida);
    EXPECT_EQ(k8s::podAnnotation(getPod(pb), k8s::kSessionIdAnnotation), idb);
  }
  // A claim that comes second fails its test (422) and changes nothing.
  ASSERT_NO_FATAL_FAILURE(waitPool(a, 1));
  auto pool = ourPoolPodNames();
  ASSERT_FALSE(pool.empty());
  auto pod = getPod(pool[0]);
  ASSERT_TRUE(pod);
  const std::string uid = k8s::podString(pod, "metadata.uid");
  const std::string tmpl = k8s::podLabel(pod, k8s::kPoolLabel);
  const std::string first_id = sessionId("first");
  const std::string second_id = sessionId("second");
  auto first = k8s::claimPatch(uid, tmpl, k8s::podNamesFor(first_id), spec(first_id));
  auto second = k8s::claimPatch(uid, tmpl, k8s::podNamesFor(second_id), spec(second_id));
  const std::string path = std::string(kPods) + "/" + pool[0];
  ASSERT_EQ(fake_->api("PATCH", path, first, nullptr, "application/json-patch+json"), 200);
  EXPECT_EQ(fake_->api("PATCH", path, second, nullptr, "application/json-patch+json"), 422);
  EXPECT_EQ(k8s::podAnnotation(getPod(pool[0]), k8s::kSessionIdAnnotation), first_id);
}

TEST_F(WarmPoolTest, AClaimWhosePodIsDeletedFallsBackToACold) {
  auto* rt = make(1);
  ASSERT_NE(rt, nullptr);
  ASSERT_NO_FATAL_FAILURE(waitPool(rt, 1));
  // The pod the claim goes for: the pool's only one.
  const auto pool = ourPoolPodNames();
  ASSERT_EQ(pool.size(), 1u);
  const std::string warm = pool[0];
  // Another client deletes the warm pod just before the claim's patch reaches the API.
  ASSERT_EQ(fake_->control("POST", "/_fake/faults",
                           R"({"type":"vanish","verb":"patch","resource":"pods","name":")" + warm +
                               R"(","count":1})"),
            201);
  const std::string id = sessionId("falls-back");
  ASSERT_NO_FATAL_FAILURE(ready(rt, id));
  EXPECT_EQ(podName(rt, id), k8s::podNamesFor(id).pod);  // cold
  EXPECT_EQ(getPod(warm), nullptr);
  // The claim was tried, and met the deleted pod.
  std::string fired;
  fake_->control("GET", "/_fake/faults", {}, &fired);
  EXPECT_NE(fired.find("PATCH " + std::string(kPods) + "/" + warm), std::string::npos) << fired;
  RecordingStreamObserver out;
  ASSERT_NO_FATAL_FAILURE(run(rt, id, {"echo", "cold"}, out));
  EXPECT_EQ(out.out(), "cold\n");
  // The vanished pod is replaced.
  ASSERT_NO_FATAL_FAILURE(waitPool(rt, 1));
  const auto refilled = ourPoolPodNames();
  ASSERT_EQ(refilled.size(), 1u);
  EXPECT_NE(refilled[0], warm);
}

TEST_F(WarmPoolTest, ListPodsLeavesOutPoolAndTerminatingPods) {
  auto* rt = make(2);
  ASSERT_NE(rt, nullptr);
  ASSERT_NO_FATAL_FAILURE(waitPool(rt, 2));
  const std::string listed = sessionId("listed");
  const std::string leaving_id = sessionId("leaving");
  ASSERT_NO_FATAL_FAILURE(ready(rt, listed));
  ASSERT_NO_FATAL_FAILURE(ready(rt, leaving_id));
  ASSERT_NO_FATAL_FAILURE(waitPool(rt, 2));
  // "leaving" is being deleted by someone else, held Terminating by a finalizer.
  const std::string leaving = podName(rt, leaving_id);
  ASSERT_FALSE(leaving.empty());
  const std::string path = std::string(kPods) + "/" + leaving;
  ASSERT_EQ(fake_->api("PATCH", path, R"({"metadata":{"finalizers":["example.com/hold"]}})",
                       nullptr, "application/merge-patch+json"),
            200);
  ASSERT_EQ(fake_->api("DELETE", path, R"({"gracePeriodSeconds":0})"), 200);
  ASSERT_TRUE(k8s::podTerminating(getPod(leaving)));

  auto pods = rt->listPods();
  ASSERT_TRUE(pods);
  std::set<std::string> ids;
  for (const auto& p : pods.value()) {
    ids.insert(p.session_id);
    EXPECT_FALSE(p.session_id.empty()) << p.pod_name;
  }
  EXPECT_EQ(ids.count(listed), 1u);
  EXPECT_EQ(ids.count(leaving_id), 0u);
  auto pool = ourPoolPodNames();
  EXPECT_GE(pool.size(), 2u);  // they exist, they are just not sessions

  ASSERT_EQ(fake_->api("PATCH", path, R"({"metadata":{"finalizers":null}})", nullptr,
                       "application/merge-patch+json"),
            200);
}

TEST_F(WarmPoolTest, CleanShutdownDeletesItsPoolAndACrashedHostsPoolIsAdopted) {
  const std::string survivor = sessionId("survivor");
  const std::string adopter = sessionId("adopter");
  // Clean shutdown: the unclaimed pool pods go; a claimed one stays.
  {
    auto* rt = make(2);
    ASSERT_NE(rt, nullptr);
    ASSERT_NO_FATAL_FAILURE(waitPool(rt, 2));
    ASSERT_NO_FATAL_FAILURE(ready(rt, survivor));
    runtimes_.clear();
  }
  ASSERT_TRUE(waitUntil([&] { return ourPoolPodNames().empty(); }, 10s))
      << ourPoolPodNames().size();
  {
    auto* rt = make(0);
    EXPECT_EQ(rt->podStatus(survivor).value().phase, PodPhase::Ready);
    ASSERT_TRUE(rt->deletePod(survivor));
    runtimes_.clear();
  }
  // A host that crashed leaves its pool pods behind (made here as it would have made them).
  const KubeSettings s = settings(1);
  const auto names = k8s::poolPodNames("crashedhost" + std::to_string(run_));
  ASSERT_EQ(
      fake_->api("POST", "/api/v1/namespaces/default/persistentvolumeclaims",
                 k8s::toJson(k8s::poolPvcManifest(s, names, k8s::poolTemplateHash(s), "deadhost"))),
      201);
  ASSERT_EQ(
      fake_->api("POST", kPods,
                 k8s::toJson(k8s::poolPodManifest(s, names, k8s::poolTemplateHash(s), "deadhost"))),
      201);
  // A pool pod of other settings is not ours to claim.
  KubeSettings other = s;
  other.image = "example.com/other:1";
  const auto foreign = k8s::poolPodNames("otherconfig" + std::to_string(run_));
  ASSERT_EQ(fake_->api("POST", kPods,
                       k8s::toJson(k8s::poolPodManifest(other, foreign,
                                                        k8s::poolTemplateHash(other), "x"))),
            201);
  // The next host adopts the leftover into its pool (no second pod for a pool of one) and
  // claims it first.
  fake_->control("DELETE", "/_fake/requests");
  auto* rt = make(s);
  ASSERT_NE(rt, nullptr);
  ASSERT_NO_FATAL_FAILURE(waitPool(rt, 1));
  EXPECT_EQ(rt->readyPoolPods(), 1u);
  ASSERT_NO_FATAL_FAILURE(ready(rt, adopter));
  EXPECT_EQ(podName(rt, adopter), names.pod);
  // Nothing was created before the claim: the pool thread waited for the watch's first list to
  // show the leftover (a create at start, before the list, overfilled the pool).
  for (const auto& r : requests()) {
    const std::string method = r->optValue<std::string>("method", "");
    const std::string path = r->optValue<std::string>("path", "");
    if (method == "PATCH" && path == std::string(kPods) + "/" + names.pod) break;  // the claim
    EXPECT_NE(method, "POST") << path << ": created before the pool was listed";
  }
  // At shutdown the pool this host made goes; the foreign template's pod is left alone.
  ASSERT_NO_FATAL_FAILURE(waitPool(rt, 1));
  ASSERT_TRUE(rt->deletePod(adopter));
  runtimes_.clear();
  EXPECT_TRUE(waitUntil([&] { return ourPoolPodNames().empty(); }, 10s));
  const auto left = getPod(foreign.pod);
  ASSERT_TRUE(left);
  EXPECT_FALSE(k8s::podTerminating(left));
  fake_->api("DELETE", std::string(kPods) + "/" + foreign.pod, R"({"gracePeriodSeconds":0})");
}

// Readiness comes from one label-selector watch per host (issue 4), not from a watch or a poll per
// session: three sessions brought to Ready by one runtime open exactly one watch.
TEST_F(WarmPoolTest, OneWatchServesEverySession) {
  fake_->control("DELETE", "/_fake/requests");
  auto* rt = make(0);
  ASSERT_NE(rt, nullptr);
  const std::vector<std::string> ids = {sessionId("One_Watch-a"), sessionId("One_Watch-b"),
                                        sessionId("One_Watch-c")};
  for (const auto& id : ids) ASSERT_NO_FATAL_FAILURE(ready(rt, id));
  int watches = 0;
  for (const auto& r : requests()) {
    if (r->optValue<std::string>("method", "") == "GET" &&
        r->optValue<std::string>("path", "") == kPods &&
        r->optValue<std::string>("query", "").find("watch=true") != std::string::npos) {
      ++watches;
    }
  }
  EXPECT_EQ(watches, 1);
  for (const auto& id : ids) EXPECT_TRUE(rt->deletePod(id));
}

}  // namespace
}  // namespace podterm::tests::kubernetes
