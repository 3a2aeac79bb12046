// The create's 409 (AlreadyExists) path against the fake API server: a pod with the session's
// name is adopted only when its labels and annotation say it is this session's and it is not
// terminating. A foreign pod (another session's, a hash collision's, or no podterm pod at all) is
// never used, run in or deleted: the session fails and says why. The session's own pod that is
// still terminating (held by a finalizer here) is waited out and a fresh pod made, or, when it
// outlasts delete_timeout_s, the session fails and says so. Adopting the session's own live pod is
// KubeContractTest's AdoptsItsOwnPodOnAlreadyExists.

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "FakeApiServer.h"
#include "KubePluginFixture.h"
#include "pod_names.h"
#include "pod_status.h"
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
constexpr const char* kMergePatch = "application/merge-patch+json";

std::string jsonMap(const std::map<std::string, std::string>& m) {
  Object o;
  for (auto& kv : m) o.set(kv.first, kv.second);
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

class KubeAdoptTest : public KubePluginTest {
 protected:
  Object::Ptr getPod(const std::string& name) {
    std::string body;
    if (fake_->api("GET", std::string(kPods) + "/" + name, {}, &body) != 200) return nullptr;
    return parseObject(body);
  }
  std::string uidOf(const std::string& name) {
    auto pod = getPod(name);
    return pod ? k8s::podString(pod, "metadata.uid") : std::string();
  }
  // A pod made by someone else (another client, or another session's replica), Running.
  std::string createPod(const std::string& name, const std::map<std::string, std::string>& labels,
                        const std::map<std::string, std::string>& annotations) {
    const std::string body =
        R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name + R"(","labels":)" +
        jsonMap(labels) + R"(,"annotations":)" + jsonMap(annotations) +
        R"(},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"other:1"}]}})";
    std::string answer;
    EXPECT_EQ(fake_->api("POST", kPods, body, &answer), 201) << answer;
    EXPECT_TRUE(waitUntil(
        [&] {
          auto pod = getPod(name);
          return pod && k8s::podString(pod, "status.phase") == "Running";
        },
        10s))
        << name << " never ran";
    return uidOf(name);
  }
  // Holds the session's pod in Terminating: a finalizer, then a graceful delete.
  void holdTerminating(const std::string& name) {
    ASSERT_EQ(
        fake_->api("PATCH", std::string(kPods) + "/" + name,
                   R"({"metadata":{"finalizers":["podterm.test/hold"]}})", nullptr, kMergePatch),
        200);
    ASSERT_EQ(fake_->api("DELETE", std::string(kPods) + "/" + name, R"({"gracePeriodSeconds":30})"),
              200);
    auto pod = getPod(name);
    ASSERT_TRUE(pod);
    ASSERT_TRUE(k8s::podTerminating(pod));
  }
  // Requests since the log was cleared whose path names the pod (exec, get, delete, patch).
  std::vector<std::string> touching(const std::string& pod) {
    std::vector<std::string> out;
    for (auto& r : fakeRequests(*fake_)) {
      const std::string path = r->getValue<std::string>("path");
      const std::string method = r->getValue<std::string>("method");
      if (path.find("/pods/" + pod) != std::string::npos && method != "GET") {
        out.push_back(method + " " + path);
      }
      if (path.find("/pods/" + pod + "/exec") != std::string::npos) out.push_back("exec " + path);
    }
    return out;
  }
  // The session's pod creates answered 409 so far.
  int conflicts(const std::string& pod) {
    int n = 0;
    for (auto& r : fakeRequests(*fake_)) {
      if (r->getValue<std::string>("method") != "POST" ||
          r->getValue<std::string>("path") != kPods || !r->isObject("body")) {
        continue;
      }
      auto meta = r->getObject("body")->getObject("metadata");
      if (meta && k8s::podString(meta, "name") == pod && r->has("status") &&
          r->getValue<long>("status") == 409) {
        ++n;
      }
    }
    return n;
  }
};

// A pod with the session's name that is not the session's: whoever's it is, the plugin does not
// adopt it (no command runs in it, it is not listed as the session's) and does not delete it when
// the session is deleted; the session fails with a message that says what is in the way.
TEST_F(KubeAdoptTest, AForeignPodWithTheSessionsNameIsNeverAdopted) {
  const std::string id = "adopt-Foreign";
  const auto names = k8s::podNamesFor(id);
  const auto other = k8s::podNamesFor("someone-else");
  const std::string managed = k8s::kManagedByLabel;
  struct Variant {
    std::string what;
    std::map<std::string, std::string> labels, annotations;
  };
  const std::vector<Variant> variants = {
      {"another session's pod",
       {{managed, k8s::kManagedByValue}, {k8s::kSessionHashLabel, other.hash}},
       {{k8s::kSessionIdAnnotation, "someone-else"}}},
      {"a pod that is no podterm pod", {{"app", "unrelated"}}, {}},
      {"a hash collision: this session's hash label, another session's id",
       {{managed, k8s::kManagedByValue}, {k8s::kSessionHashLabel, names.hash}},
       {{k8s::kSessionIdAnnotation, "someone-else"}}},
      {"this session's id without its hash label",
       {{managed, k8s::kManagedByValue}, {k8s::kSessionHashLabel, other.hash}},
       {{k8s::kSessionIdAnnotation, id}}},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.what);
    const std::string foreign_uid = createPod(names.pod, v.labels, v.annotations);
    ASSERT_FALSE(foreign_uid.empty());
    fake_->control("DELETE", "/_fake/requests");
    auto* rt = runtime();
    auto& o = observers_.emplace_back();
    ASSERT_TRUE(rt->ensurePod(spec(id), &o));
    auto st = waitSettled(o);
    EXPECT_EQ(st.phase, PodPhase::Failed) << st.reason << ": " << st.message;
    EXPECT_EQ(st.reason, "CreateFailed");
    EXPECT_NE(st.message.find("pod " + names.pod + " exists but belongs to another session"),
              std::string::npos)
        << st.message;
    for (auto& s : o.statuses()) EXPECT_NE(s.phase, PodPhase::Ready);
    EXPECT_EQ(conflicts(names.pod), 1) << "the create is not retried against a foreign pod";

    RecordingStreamObserver out;
    sdk::StreamSpec ss;
    ss.argv = {"echo", "in the wrong pod"};
    EXPECT_FALSE(rt->openStream(id, ss, &out));
    auto listed = rt->listPods();
    ASSERT_TRUE(listed) << listed.status().message();
    for (auto& p : listed.value()) EXPECT_NE(p.session_id, id) << p.pod_name;

    EXPECT_TRUE(rt->deletePod(id));
    EXPECT_EQ(uidOf(names.pod), foreign_uid) << "the foreign pod was replaced or deleted";
    EXPECT_EQ(touching(names.pod), std::vector<std::string>{})
        << "the plugin ran in, changed or deleted a pod that is not the session's";

    runtimes_.clear();
    removePodNow(*fake_, names.pod);
    fake_->api("DELETE", std::string(kPvcs) + "/" + names.pvc);
  }
}

// The session's own pod, still terminating (a finalizer holds it): not adopted. The plugin waits
// (its create keeps meeting 409) and, once the old pod is gone, creates a fresh one (a new uid)
// that the session then runs in.
TEST_F(KubeAdoptTest, ItsOwnTerminatingPodIsWaitedOutAndAFreshOneMade) {
  const std::string id = "adopt-Terminating";
  const auto names = k8s::podNamesFor(id);
  {
    auto* first = runtime();
    auto& o1 = observers_.emplace_back();
    ASSERT_TRUE(first->ensurePod(spec(id), &o1));
    ASSERT_EQ(waitSettled(o1).phase, PodPhase::Ready);
    RecordingStreamObserver w;
    ASSERT_NO_FATAL_FAILURE(run(first, id, {"sh", "-c", "echo kept > from-the-old-pod"}, "", w));
  }
  const std::string old_uid = uidOf(names.pod);
  ASSERT_FALSE(old_uid.empty());
  ASSERT_NO_FATAL_FAILURE(holdTerminating(names.pod));

  fake_->control("DELETE", "/_fake/requests");
  auto* second = runtime();  // another replica, or this host after a restart
  auto& o2 = observers_.emplace_back();
  ASSERT_TRUE(second->ensurePod(spec(id), &o2));
  // It is waiting for the old pod: its create met the terminating pod more than once, and the
  // session is not Ready on it.
  ASSERT_TRUE(waitUntil([&] { return conflicts(names.pod) >= 3; }, 15s))
      << "the plugin did not keep waiting for its terminating pod (" << conflicts(names.pod)
      << " creates answered 409)";
  for (auto& s : o2.statuses()) {
    EXPECT_TRUE(s.phase == PodPhase::Pending) << s.reason << ": " << s.message;
  }
  EXPECT_EQ(uidOf(names.pod), old_uid);
  EXPECT_EQ(touching(names.pod), std::vector<std::string>{}) << "it used the terminating pod";

  // The finalizer goes, so does the old pod; the session gets a new one.
  ASSERT_EQ(fake_->api("PATCH", std::string(kPods) + "/" + names.pod,
                       R"({"metadata":{"finalizers":null}})", nullptr, kMergePatch),
            200);
  auto st = waitSettled(o2);
  ASSERT_EQ(st.phase, PodPhase::Ready) << st.reason << ": " << st.message;
  const std::string new_uid = uidOf(names.pod);
  EXPECT_FALSE(new_uid.empty());
  EXPECT_NE(new_uid, old_uid);
  auto pod = getPod(names.pod);
  ASSERT_TRUE(pod);
  EXPECT_FALSE(k8s::podTerminating(pod));
  // Its commands run in the new pod, on the session's volume (kept, so the file is there).
  RecordingStreamObserver r;
  ASSERT_NO_FATAL_FAILURE(run(second, id, {"cat", "from-the-old-pod"}, "", r));
  EXPECT_EQ(r.out(), "kept\n");
  ASSERT_TRUE(second->deletePod(id));
  EXPECT_EQ(getPod(names.pod), nullptr);
}

// The same, but the old pod outlasts delete_timeout_s (2 s): the session fails and says the
// previous pod is still terminating; it was never adopted or touched.
TEST_F(KubeAdoptTest, ItsOwnPodStuckTerminatingFailsTheSessionClearly) {
  const std::string id = "adopt-Stuck";
  const auto names = k8s::podNamesFor(id);
  {
    auto* first = runtime();
    auto& o1 = observers_.emplace_back();
    ASSERT_TRUE(first->ensurePod(spec(id), &o1));
    ASSERT_EQ(waitSettled(o1).phase, PodPhase::Ready);
  }
  const std::string old_uid = uidOf(names.pod);
  ASSERT_NO_FATAL_FAILURE(holdTerminating(names.pod));
  fake_->control("DELETE", "/_fake/requests");
  auto* second = runtime({{"delete_timeout_s", int64_t{2}}});
  auto& o2 = observers_.emplace_back();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(second->ensurePod(spec(id), &o2));
  auto st = waitSettled(o2);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(st.phase, PodPhase::Failed) << st.reason << ": " << st.message;
  EXPECT_EQ(st.reason, "CreateFailed");
  EXPECT_NE(st.message.find("previous pod " + names.pod + " is still terminating"),
            std::string::npos)
      << st.message;
  EXPECT_GE(took, 2.0);
  EXPECT_LT(took, 2 + 4.0);
  for (auto& s : o2.statuses()) EXPECT_NE(s.phase, PodPhase::Ready);
  EXPECT_EQ(uidOf(names.pod), old_uid);
  EXPECT_EQ(touching(names.pod), std::vector<std::string>{});
  runtimes_.clear();
  removePodNow(*fake_, names.pod);
  fake_->api("DELETE", std::string(kPvcs) + "/" + names.pvc);
}

// The session is deleted (its user left) while the plugin waits for its old pod to go: the wait
// ends, and no pod is created for it once the old one has gone (it would run, unowned, until a
// reaper found it). The worker's next task (another session) is done after the abandoned one, so
// that session's Ready says the first is over.
TEST_F(KubeAdoptTest, ASessionDeletedWhileItWaitsForItsOldPodGetsNoPod) {
  const std::string id = "adopt-Abandoned";
  const auto names = k8s::podNamesFor(id);
  {
    auto* first = runtime();
    auto& o1 = observers_.emplace_back();
    ASSERT_TRUE(first->ensurePod(spec(id), &o1));
    ASSERT_EQ(waitSettled(o1).phase, PodPhase::Ready);
  }
  ASSERT_NO_FATAL_FAILURE(holdTerminating(names.pod));
  fake_->control("DELETE", "/_fake/requests");
  auto* second = runtime();
  auto& o2 = observers_.emplace_back();
  ASSERT_TRUE(second->ensurePod(spec(id), &o2));
  ASSERT_TRUE(waitUntil([&] { return conflicts(names.pod) >= 2; }, 15s));
  ASSERT_TRUE(second->deletePod(id));
  ASSERT_EQ(fake_->api("PATCH", std::string(kPods) + "/" + names.pod,
                       R"({"metadata":{"finalizers":null}})", nullptr, kMergePatch),
            200);
  ASSERT_TRUE(waitUntil([&] { return getPod(names.pod) == nullptr; }, 10s));
  auto& o3 = observers_.emplace_back();
  ASSERT_TRUE(second->ensurePod(spec("adopt-Next"), &o3));
  ASSERT_EQ(waitSettled(o3).phase, PodPhase::Ready);
  EXPECT_EQ(getPod(names.pod), nullptr) << "a pod was made for a deleted session";
  for (auto& s : o2.statuses()) EXPECT_NE(s.phase, PodPhase::Ready);
  EXPECT_TRUE(second->deletePod("adopt-Next"));
  fake_->api("DELETE", std::string(kPods) + "/" + names.pod, R"({"gracePeriodSeconds":0})");
  fake_->api("DELETE", std::string(kPvcs) + "/" + names.pvc);
}

}  // namespace
}  // namespace podterm::tests::kubernetes
