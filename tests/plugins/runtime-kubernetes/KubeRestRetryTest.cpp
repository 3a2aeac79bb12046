// The plugin's REST retry policy against the fake API server, read from the fake's request log
// (when each request arrived and what it was answered): a 429 is retried no sooner than its
// Retry-After, and not at all when that is beyond the retry budget; persistent 5xx answers are
// retried with a growing backoff and given up within the budget; a 4xx that will not change is
// tried once; dropped connections (the fake's reset fault) are retried, and a create whose answer
// was lost after it took effect finds its own pod through the retry's 409 (idempotent create),
// as a lost warm-pool claim does through its 422. deletePod gets through a lost answer and 5xx,
// and says so when it cannot see the pod go; a warm pool waits for its (retried) first list.
// KubeContractTest's RetriesCreateOn429And500 checks only that a session survives a few faults.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "FakeApiServer.h"
#include "KubePluginFixture.h"
#include "kube_runtime.h"
#include "kube_settings.h"
#include "pod_manifest.h"
#include "pod_names.h"
#include "podterm/testing/runtime_contract.h"

namespace podterm::tests::kubernetes {
namespace {

using namespace std::chrono_literals;
using Poco::JSON::Object;
using podterm::testing::RecordingPodObserver;
using podterm::testing::RecordingStreamObserver;
using sdk::PodPhase;
namespace k8s = podterm::plugins::kubernetes;

constexpr const char* kPods = "/api/v1/namespaces/default/pods";
constexpr const char* kPvcs = "/api/v1/namespaces/default/persistentvolumeclaims";

// One entry of the fake's request log.
struct Logged {
  double time = 0;  // when the fake received it (seconds, its clock)
  std::string method, path, verb, resource, name;
  long status = 0;  // what the client got; 0 for a dropped connection
  bool reset = false;
  long served = 0;  // a reset with mode "after": what the request had been answered
};

std::string text(const Object::Ptr& o, const std::string& key) {
  return o && o->has(key) && !o->isNull(key) ? o->getValue<std::string>(key) : std::string();
}

long number(const Object::Ptr& o, const std::string& key) {
  return o && o->has(key) && !o->isNull(key) ? o->getValue<long>(key) : 0;
}

class KubeRestRetryTest : public KubePluginTest {
 protected:
  void clearRequests() { fake_->control("DELETE", "/_fake/requests"); }

  std::vector<Logged> requests() {
    std::vector<Logged> out;
    for (const auto& e : fakeRequests(*fake_)) {
      Logged l;
      l.time = e->getValue<double>("time");
      l.method = text(e, "method");
      l.path = text(e, "path");
      l.verb = text(e, "verb");
      l.resource = text(e, "resource");
      l.name = text(e, "name");
      if (l.name.empty() && e->has("body") && e->isObject("body")) {
        l.name = text(e->getObject("body")->getObject("metadata"), "name");
      }
      l.status = number(e, "status");
      l.reset = e->has("reset") && e->getValue<bool>("reset");
      l.served = number(e, "served_status");
      out.push_back(l);
    }
    return out;
  }

  // The log's requests of this verb on this resource naming this object, in arrival order.
  std::vector<Logged> requestsOf(const std::string& verb, const std::string& resource,
                                 const std::string& name) {
    std::vector<Logged> out;
    for (auto& r : requests()) {
      if (r.verb == verb && r.resource == resource && r.name == name) out.push_back(r);
    }
    return out;
  }

  static std::vector<long> statuses(const std::vector<Logged>& log) {
    std::vector<long> out;
    for (auto& r : log) out.push_back(r.status);
    return out;
  }

  // From the fake's state (a control call, which no fault meets).
  bool podExists(const std::string& name) {
    std::string body;
    fake_->control("GET", "/_fake/state", {}, &body);
    return body.find("\"name\": \"" + name + "\"") != std::string::npos;
  }

  // Waits until the runtime's watch is up (its first list is done): later lists are the
  // session's own lookups, which a list fault then meets.
  void waitForWatch() {
    ASSERT_TRUE(waitUntil(
        [&] {
          for (auto& r : requests()) {
            if (r.verb == "watch" && r.resource == "pods") return true;
          }
          return false;
        },
        10s))
        << "the runtime never started its watch";
  }
};

// --- 429 -----------------------------------------------------------------------------------

// The apiserver's overload answer (text/plain, Retry-After: 2): the retry comes no sooner than
// 2 s after the refused request (the plugin's own backoff would retry after 0.1-0.2 s), and the
// user is told why the session waits.
TEST_F(KubeRestRetryTest, A429IsRetriedNoSoonerThanItsRetryAfter) {
  const std::string id = "ra-429";
  const auto names = k8s::podNamesFor(id);
  auto* rt = runtime();
  clearRequests();
  fault(
      R"({"type":"http_error","code":429,"retry_after":2,"verb":"create","resource":"pods","count":1})");
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec(id), &o));
  auto st = waitSettled(o);
  EXPECT_EQ(st.phase, PodPhase::Ready) << st.reason << ": " << st.message;

  auto creates = requestsOf("create", "pods", names.pod);
  ASSERT_EQ(statuses(creates), (std::vector<long>{429, 201}));
  EXPECT_GE(creates[1].time - creates[0].time, 2.0 - 0.02)
      << "retried " << creates[1].time - creates[0].time << " s after a 429 with Retry-After: 2";
  EXPECT_LT(creates[1].time - creates[0].time, 2.0 + 3.0) << "the retry waited far too long";

  bool told = false;
  for (auto& s : o.statuses()) {
    if (s.reason == "Retrying" && s.message.find("Too many requests") != std::string::npos &&
        s.message.find("retrying in 2.0 s") != std::string::npos) {
      told = true;
    }
  }
  EXPECT_TRUE(told) << "no Retrying status naming the 429 and its 2 s wait";
  EXPECT_TRUE(rt->deletePod(id));
}

// The same with a Status-JSON 429 (details.retryAfterSeconds plus the header), on the volume.
TEST_F(KubeRestRetryTest, AJson429OnTheVolumeIsRetriedAfterItsRetryAfter) {
  const std::string id = "ra-429-json";
  const auto names = k8s::podNamesFor(id);
  auto* rt = runtime();
  clearRequests();
  fault(
      R"({"type":"http_error","code":429,"mode":"json","retry_after":1,"verb":"create","resource":"persistentvolumeclaims","count":1})");
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec(id), &o));
  auto st = waitSettled(o);
  EXPECT_EQ(st.phase, PodPhase::Ready) << st.reason << ": " << st.message;
  auto creates = requestsOf("create", "persistentvolumeclaims", names.pvc);
  ASSERT_EQ(statuses(creates), (std::vector<long>{429, 201}));
  EXPECT_GE(creates[1].time - creates[0].time, 1.0 - 0.02);
  EXPECT_TRUE(rt->deletePod(id));
}

// A Retry-After beyond the retry budget: waiting for it would break the cap, and retrying sooner
// would ignore the server; the creation fails at once with the API's words, after one attempt.
TEST_F(KubeRestRetryTest, ARetryAfterBeyondTheBudgetFailsWithinTheBudget) {
  const std::string id = "ra-429-long";
  const auto names = k8s::podNamesFor(id);
  auto* rt = runtime({{"retry_budget_s", int64_t{3}}});
  clearRequests();
  fault(
      R"({"type":"http_error","code":429,"retry_after":30,"verb":"create","resource":"pods","count":null})");
  auto& o = observers_.emplace_back();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(rt->ensurePod(spec(id), &o));
  auto st = waitSettled(o);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(st.phase, PodPhase::Failed);
  EXPECT_NE(st.message.find("Too many requests"), std::string::npos) << st.message;
  EXPECT_LT(took, 3 + 2.0);
  EXPECT_EQ(statuses(requestsOf("create", "pods", names.pod)), (std::vector<long>{429}));
  fake_->control("DELETE", "/_fake/faults");
  EXPECT_TRUE(rt->deletePod(id));
  fake_->api("DELETE", std::string(kPvcs) + "/" + names.pvc);  // made before the pod failed
}

// --- 5xx and the total cap -------------------------------------------------------------------

// A create that always gets 503: retried more than once with a backoff that grows, then given up
// within the retry budget (3 s here) with the API's message, after a bounded number of attempts.
TEST_F(KubeRestRetryTest, Persistent5xxIsGivenUpWithinTheRetryBudget) {
  const std::string id = "cap-503";
  const auto names = k8s::podNamesFor(id);
  constexpr int kBudget = 3;
  auto* rt = runtime({{"retry_budget_s", int64_t{kBudget}}});
  clearRequests();
  fault(R"({"type":"http_error","code":503,"verb":"create","resource":"pods","count":null})");
  auto& o = observers_.emplace_back();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(rt->ensurePod(spec(id), &o));
  auto st = waitSettled(o);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(st.phase, PodPhase::Failed) << st.reason << ": " << st.message;
  EXPECT_EQ(st.reason, "CreateFailed");
  EXPECT_NE(st.message.find("the server is currently unable to handle the request"),
            std::string::npos)
      << st.message;
  // Within about the budget (a noisy machine gets 2 s of slack), not the 30 s ready timeout.
  EXPECT_LT(took, kBudget + 2.0);

  auto creates = requestsOf("create", "pods", names.pod);
  for (auto& c : creates) EXPECT_EQ(c.status, 503);
  // Jittered exponential backoff from 0.2 s, doubling: at least 4 attempts fit in 3 s (0.1 +
  // 0.2 + 0.4 s of waits at the least), and far fewer than a hammering client would make.
  ASSERT_GE(creates.size(), 4u);
  EXPECT_LE(creates.size(), 8u);
  const double span = creates.back().time - creates.front().time;
  EXPECT_LE(span, kBudget + 0.5) << "retried beyond the budget";
  EXPECT_GE(span, 1.0) << "gave up long before the budget was spent";
  std::vector<double> gaps;
  for (size_t i = 1; i < creates.size(); ++i) gaps.push_back(creates[i].time - creates[i - 1].time);
  for (double g : gaps) EXPECT_GE(g, 0.08) << "a retry without a wait";
  // Each wait is drawn from [b/2, b] with b doubling, so the last is well above the first.
  EXPECT_GT(gaps.back(), gaps.front() + 0.15)
      << "the backoff did not grow: first " << gaps.front() << " s, last " << gaps.back() << " s";
  fake_->control("DELETE", "/_fake/faults");
  EXPECT_TRUE(rt->deletePod(id));
  fake_->api("DELETE", std::string(kPvcs) + "/" + names.pvc);  // made before the pod failed
}

// --- 4xx -------------------------------------------------------------------------------------

// 400, 403 and 422 will not change by asking again: one request, then the session fails with the
// API's message. Each fault is persistent, so a retry would be answered the same and show up.
TEST_F(KubeRestRetryTest, A4xxThatWillNotChangeIsTriedOnce) {
  struct Case {
    std::string id, resource, fault, message;
    long code;
  };
  const std::vector<Case> cases = {
      {"once-400", "pods",
       R"({"type":"http_error","code":400,"reason":"BadRequest","message":"the body of the request was in an unknown format","verb":"create","resource":"pods","count":null})",
       "the body of the request was in an unknown format", 400},
      {"once-403", "pods",
       R"({"type":"http_error","code":403,"verb":"create","resource":"pods","count":null})",
       "is forbidden", 403},
      {"once-422", "pods",
       R"({"type":"http_error","code":422,"reason":"Invalid","message":"Pod \"x\" is invalid: spec.containers[0].image: Required value","verb":"create","resource":"pods","count":null})",
       "spec.containers[0].image: Required value", 422},
      {"once-403-pvc", "persistentvolumeclaims",
       R"({"type":"http_error","code":403,"verb":"create","resource":"persistentvolumeclaims","count":null})",
       "is forbidden", 403},
  };
  auto* rt = runtime();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.id);
    fake_->control("DELETE", "/_fake/faults");
    clearRequests();
    fault(c.fault);
    auto& o = observers_.emplace_back();
    ASSERT_TRUE(rt->ensurePod(spec(c.id), &o));
    auto st = waitSettled(o);
    EXPECT_EQ(st.phase, PodPhase::Failed) << st.reason << ": " << st.message;
    EXPECT_NE(st.message.find(c.message), std::string::npos) << st.message;
    const auto names = k8s::podNamesFor(c.id);
    const std::string name = c.resource == "pods" ? names.pod : names.pvc;
    EXPECT_EQ(statuses(requestsOf("create", c.resource, name)), (std::vector<long>{c.code}));
    for (auto& r : o.statuses()) EXPECT_NE(r.reason, "Retrying") << r.message;
    if (c.resource != "pods") {
      EXPECT_TRUE(requestsOf("create", "pods", names.pod).empty()) << "a pod without its volume";
    }
    fake_->control("DELETE", "/_fake/faults");
    EXPECT_TRUE(rt->deletePod(c.id));
    fake_->api("DELETE", std::string(kPvcs) + "/" + names.pvc);
  }
}

// --- dropped connections ---------------------------------------------------------------------

// The connection closes with no answer (curl: "Empty reply from server") on the session's pod
// lookup, on the volume's create and three times on the pod's create (libcurl itself resends
// once on a reused connection; the rest is the plugin's retry): the session becomes Ready.
TEST_F(KubeRestRetryTest, DroppedConnectionsAreRetried) {
  const std::string id = "dropped";
  const auto names = k8s::podNamesFor(id);
  clearRequests();
  auto* rt = runtime();
  ASSERT_NO_FATAL_FAILURE(waitForWatch());
  fault(R"({"type":"reset","verb":"list","resource":"pods","count":2})");
  fault(R"({"type":"reset","verb":"create","resource":"persistentvolumeclaims","count":2})");
  fault(R"({"type":"reset","verb":"create","resource":"pods","count":3})");
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec(id), &o));
  auto st = waitSettled(o);
  EXPECT_EQ(st.phase, PodPhase::Ready) << st.reason << ": " << st.message;
  EXPECT_EQ(statuses(requestsOf("create", "pods", names.pod)), (std::vector<long>{0, 0, 0, 201}));
  EXPECT_EQ(statuses(requestsOf("create", "persistentvolumeclaims", names.pvc)),
            (std::vector<long>{0, 0, 201}));
  int dropped_lists = 0;
  for (auto& r : requests()) {
    if (r.verb == "list" && r.reset) ++dropped_lists;
  }
  EXPECT_EQ(dropped_lists, 2);
  EXPECT_EQ(fired().find("\"active\": [{"), std::string::npos) << fired();
  RecordingStreamObserver out;
  ASSERT_NO_FATAL_FAILURE(run(rt, id, {"echo", "alive"}, "", out));
  EXPECT_EQ(out.out(), "alive\n");
  EXPECT_TRUE(rt->deletePod(id));
}

// The create took effect but its answer was lost (reset after serving it): the resent create
// gets 409 AlreadyExists, and the pod it made is the session's own, so the plugin adopts it (its
// GET of the pod is dropped once too) instead of failing or making a second pod.
TEST_F(KubeRestRetryTest, ACreateWhoseAnswerWasLostAdoptsThePodItMade) {
  const std::string id = "lost-answer";
  const auto names = k8s::podNamesFor(id);
  auto* rt = runtime();
  clearRequests();
  fault(R"({"type":"reset","mode":"after","verb":"create","resource":"pods","count":1})");
  fault(R"({"type":"reset","verb":"get","resource":"pods","count":1})");
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec(id), &o));
  auto st = waitSettled(o);
  EXPECT_EQ(st.phase, PodPhase::Ready) << st.reason << ": " << st.message;

  auto creates = requestsOf("create", "pods", names.pod);
  ASSERT_EQ(creates.size(), 2u);
  EXPECT_TRUE(creates[0].reset);
  EXPECT_EQ(creates[0].served, 201);
  EXPECT_EQ(creates[1].status, 409);
  auto gets = requestsOf("get", "pods", names.pod);
  ASSERT_GE(gets.size(), 2u);
  EXPECT_EQ(gets[0].status, 0);
  EXPECT_EQ(gets.back().status, 200);

  // The one pod there is is the session's: listed with it, and its commands run there.
  auto pods = rt->listPods();
  ASSERT_TRUE(pods) << pods.status().message();
  int mine = 0;
  for (auto& p : pods.value()) {
    if (p.session_id == id) {
      ++mine;
      EXPECT_EQ(p.pod_name, names.pod);
    }
  }
  EXPECT_EQ(mine, 1);
  RecordingStreamObserver out;
  ASSERT_NO_FATAL_FAILURE(run(rt, id, {"sh", "-c", "echo $HOSTNAME"}, "", out));
  EXPECT_EQ(out.out(), names.pod + "\n");
  EXPECT_TRUE(rt->deletePod(id));
  EXPECT_EQ(fake_->api("GET", std::string(kPods) + "/" + names.pod), 404);
}

// deletePod over a flaky API: the answer to its DELETE is lost after the delete took effect (the
// resent DELETE, with the same uid precondition, is answered like any repeated delete), and the
// GETs that wait for the pod to go get 503 twice while a finalizer holds it: deletePod returns
// only once the pod is gone (a 503 is not a 404), and then the volume goes too.
TEST_F(KubeRestRetryTest, DeleteGetsThroughALostAnswerAnd5xx) {
  const std::string id = "flaky-delete";
  const auto names = k8s::podNamesFor(id);
  const std::string pod_path = std::string(kPods) + "/" + names.pod;
  auto* rt = runtime();
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec(id), &o));
  ASSERT_EQ(waitSettled(o).phase, PodPhase::Ready);
  ASSERT_EQ(fake_->api("PATCH", pod_path, R"({"metadata":{"finalizers":["podterm.test/hold"]}})",
                       nullptr, "application/merge-patch+json"),
            200);
  clearRequests();
  fault(R"({"type":"reset","mode":"after","verb":"delete","resource":"pods","count":1})");
  fault(R"({"type":"http_error","code":503,"verb":"get","resource":"pods","count":2})");
  // Lets the pod go once deletePod saw it still there after the 503s.
  std::thread release([&] {
    waitUntil(
        [&] {
          auto gets = requestsOf("get", "pods", names.pod);
          return gets.size() >= 3 && gets.back().status == 200;
        },
        15s);
    fake_->api("PATCH", pod_path, R"({"metadata":{"finalizers":null}})", nullptr,
               "application/merge-patch+json");
  });
  auto deleted = rt->deletePod(id);
  const bool there = podExists(names.pod);
  release.join();
  EXPECT_TRUE(deleted) << deleted.message();
  EXPECT_FALSE(there) << "deletePod returned while the pod was still there";
  // The claim follows once the API processed its delete (it is protected while the pod was).
  EXPECT_TRUE(waitUntil(
      [&] { return fake_->api("GET", std::string(kPvcs) + "/" + names.pvc) == 404; }, 10s));
  auto deletes = requestsOf("delete", "pods", names.pod);
  ASSERT_GE(deletes.size(), 2u);
  EXPECT_TRUE(deletes[0].reset);
  EXPECT_EQ(deletes[0].served, 200);
  auto gets = requestsOf("get", "pods", names.pod);
  ASSERT_GE(gets.size(), 3u);
  EXPECT_EQ(gets[0].status, 503);
  EXPECT_EQ(gets[1].status, 503);
  EXPECT_EQ(fired().find("\"active\": [{"), std::string::npos) << fired();
}

// The GETs that wait for a deleted pod to go keep getting 503 past the retry budget (2 s): the
// pod may well still be there, so deletePod says it could not confirm the delete, with the API's
// words, instead of reporting success (the host then logs it and its reaper tries again).
TEST_F(KubeRestRetryTest, ADeleteThatCannotSeeThePodGoSaysSo) {
  const std::string id = "unconfirmed-delete";
  const auto names = k8s::podNamesFor(id);
  const std::string pod_path = std::string(kPods) + "/" + names.pod;
  auto* rt = runtime({{"retry_budget_s", int64_t{2}}});
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec(id), &o));
  ASSERT_EQ(waitSettled(o).phase, PodPhase::Ready);
  ASSERT_EQ(fake_->api("PATCH", pod_path, R"({"metadata":{"finalizers":["podterm.test/hold"]}})",
                       nullptr, "application/merge-patch+json"),
            200);
  fault(R"({"type":"http_error","code":503,"verb":"get","resource":"pods","name":")" + names.pod +
        R"(","count":null})");
  auto deleted = rt->deletePod(id);
  EXPECT_FALSE(deleted) << "deletePod reported success while it could not see the pod go";
  EXPECT_NE(deleted.message().find("the server is currently unable to handle the request"),
            std::string::npos)
      << deleted.message();
  EXPECT_TRUE(podExists(names.pod));
  fake_->control("DELETE", "/_fake/faults");
  fake_->api("PATCH", pod_path, R"({"metadata":{"finalizers":null}})", nullptr,
             "application/merge-patch+json");
  EXPECT_TRUE(rt->deletePod(id));  // now it goes, and its volume with it
  EXPECT_FALSE(podExists(names.pod));
}

// The warm pool sizes itself from the watch's first list; when that list is refused for a moment
// (503, retried), the pool waits for it instead of creating pods it cannot yet count: a crashed
// host's leftover pool pod fills a pool of one, and no pod is created at all.
TEST_F(KubeRestRetryTest, APoolWaitsForItsRetriedFirstListBeforeFillingUp) {
  k8s::KubeSettings s;
  s.credentials = k8s::CredentialsMode::Kubeconfig;
  s.kubeconfig = fake_->kubeconfig();
  s.ready_timeout_s = 30;
  s.delete_timeout_s = 20;
  s.retry_budget_s = 15;
  s.warm_pool = 1;
  s.image = "example.com/retry-pool:1";  // a template of its own: no other test's pool
  const auto left = k8s::poolPodNames("retrypoolleft");
  const std::string hash = k8s::poolTemplateHash(s);
  ASSERT_EQ(fake_->api("POST", kPvcs, k8s::toJson(k8s::poolPvcManifest(s, left, hash, "deadhost"))),
            201);
  ASSERT_EQ(fake_->api("POST", kPods, k8s::toJson(k8s::poolPodManifest(s, left, hash, "deadhost"))),
            201);
  clearRequests();
  fault(R"({"type":"http_error","code":503,"verb":"list","resource":"pods","count":2})");
  auto created = k8s::KubernetesPodRuntime::create(s);
  ASSERT_TRUE(created) << created.status().message();
  auto rt = std::move(created.value());
  ASSERT_TRUE(waitUntil([&] { return rt->readyPoolPods() >= 1; }, 20s));
  std::vector<long> lists;
  for (auto& r : requests()) {
    if (r.verb == "list" && r.resource == "pods") lists.push_back(r.status);
  }
  ASSERT_GE(lists.size(), 3u);
  EXPECT_EQ(lists[0], 503);
  EXPECT_EQ(lists[1], 503);
  int pool_creates = 0;
  for (auto& r : requests()) {
    if (r.verb == "create") ++pool_creates;
  }
  EXPECT_EQ(pool_creates, 0) << "the pool made a pod before it knew of the leftover";
  EXPECT_EQ(rt->readyPoolPods(), 1u);
  rt.reset();  // a clean shutdown deletes only the pool pods it made: the leftover stays
  fake_->api("DELETE", std::string(kPods) + "/" + left.pod, R"({"gracePeriodSeconds":0})");
  fake_->api("DELETE", std::string(kPvcs) + "/" + left.pvc);
}

// A warm-pool claim (a JSON patch whose "test" makes it atomic) whose answer was lost after it
// took effect: the resent patch fails its test (422) (unless the watch showed the claim first),
// and the pod then says it is this session's, so the session keeps it; no cold pod is made and the
// pod is not left claimed by nobody.
TEST_F(KubeRestRetryTest, AClaimWhoseAnswerWasLostIsStillTheSessions) {
  k8s::KubeSettings s;
  s.credentials = k8s::CredentialsMode::Kubeconfig;
  s.kubeconfig = fake_->kubeconfig();
  s.ready_timeout_s = 30;
  s.delete_timeout_s = 20;
  s.retry_budget_s = 15;
  s.warm_pool = 1;
  s.image = "example.com/retry-claim:1";  // a template of its own: no other test's pool
  auto created = k8s::KubernetesPodRuntime::create(s);
  ASSERT_TRUE(created) << created.status().message();
  auto rt = std::move(created.value());
  ASSERT_TRUE(waitUntil([&] { return rt->readyPoolPods() >= 1; }, 20s));
  const std::string id = "lost-claim";
  const auto names = k8s::podNamesFor(id);
  clearRequests();
  fault(R"({"type":"reset","mode":"after","verb":"patch","resource":"pods","count":1})");
  RecordingPodObserver o;
  ASSERT_TRUE(rt->ensurePod(spec(id), &o));
  auto st = waitSettled(o);
  EXPECT_EQ(st.phase, PodPhase::Ready) << st.reason << ": " << st.message;
  std::vector<Logged> patches;
  for (auto& r : requests()) {
    if (r.verb == "patch" && r.resource == "pods") patches.push_back(r);
  }
  ASSERT_GE(patches.size(), 1u);
  EXPECT_TRUE(patches[0].reset);
  EXPECT_EQ(patches[0].served, 200);
  // The resent patch fails its test; or the watch reported the pod as this session's first and
  // nothing was resent (seen once in a fresh-clone run): either way the claim stands.
  if (patches.size() >= 2) {
    EXPECT_EQ(patches[1].status, 422);
  }
  EXPECT_TRUE(requestsOf("create", "pods", names.pod).empty()) << "a cold pod was made";
  auto pods = rt->listPods();
  ASSERT_TRUE(pods) << pods.status().message();
  std::string pod;
  for (auto& p : pods.value()) {
    if (p.session_id == id) pod = p.pod_name;
  }
  EXPECT_EQ(pod, patches[0].name) << "the session is not on the pod it claimed";
  RecordingStreamObserver out;
  ASSERT_NO_FATAL_FAILURE(run(rt.get(), id, {"echo", "claimed"}, "", out));
  EXPECT_EQ(out.out(), "claimed\n");
  EXPECT_TRUE(rt->deletePod(id));
  rt->stopObserving(id);
  rt.reset();  // its refilled pool goes with it
}

}  // namespace
}  // namespace podterm::tests::kubernetes
