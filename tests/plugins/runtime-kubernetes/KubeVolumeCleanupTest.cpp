// The session's volume claim (PVC) against the fake API server: with delete_pvc = true (the
// default) a session whose pod create was refused after its claim was made, or whose pod is
// already gone, leaves no claim of its own once deletePod ran (the host calls it at session end),
// also from a runtime that never saw the session (another replica, a restarted host). A claim with
// the session's name that another session's annotation (a hash collision) or hash label marks as
// not its own is never deleted, nor mounted. With delete_pvc = false nothing is deleted.

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
#include "pod_names.h"
#include "podterm/testing/runtime_contract.h"

namespace podterm::tests::kubernetes {
namespace {

using namespace std::chrono_literals;
using Poco::JSON::Object;
using sdk::PodPhase;
namespace k8s = podterm::plugins::kubernetes;

constexpr const char* kPods = "/api/v1/namespaces/default/pods";
constexpr const char* kPvcs = "/api/v1/namespaces/default/persistentvolumeclaims";

std::string uidIn(const std::string& body) {
  try {
    Poco::JSON::Parser parser;
    auto o = parser.parse(body).extract<Object::Ptr>();
    return o->getObject("metadata")->optValue<std::string>("uid", "");
  } catch (...) {
    return "";
  }
}

class KubeVolumeCleanupTest : public KubePluginTest {
 protected:
  std::string claimPath(const std::string& id) { return std::string(kPvcs) + "/" + names(id).pvc; }
  static k8s::PodNames names(const std::string& id) { return k8s::podNamesFor(id); }
  // The claim's uid; "" when there is none.
  std::string claimUid(const std::string& id) {
    std::string body;
    if (fake_->api("GET", claimPath(id), {}, &body) != 200) return "";
    return uidIn(body);
  }
  // deletePod's claim delete is answered before the fake removes it: wait for the 404.
  bool claimGone(const std::string& id) {
    return waitUntil([&] { return fake_->api("GET", claimPath(id)) == 404; }, 10s);
  }
  // A claim with the session's name that is another session's: the given hash label and id.
  std::string createForeignClaim(const std::string& id, const std::string& hash,
                                 const std::string& owner) {
    const std::string body =
        R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":")" +
        names(id).pvc + R"(","labels":{")" + k8s::kManagedByLabel + R"(":")" +
        k8s::kManagedByValue + R"(",")" + k8s::kSessionHashLabel + R"(":")" + hash +
        R"("},"annotations":{")" + k8s::kSessionIdAnnotation + R"(":")" + owner +
        R"("}},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}})";
    std::string answer;
    EXPECT_EQ(fake_->api("POST", kPvcs, body, &answer), 201) << answer;
    return uidIn(answer);
  }
  std::string requestLog() { return fakeRequestLog(*fake_); }
};

// The pod create is refused (403 forbidden, 422 invalid) after the session's claim was made: the
// session fails, and deletePod deletes the claim it made.
TEST_F(KubeVolumeCleanupTest, ARefusedPodCreateLeavesNoClaimAfterDelete) {
  for (int code : {403, 422}) {
    SCOPED_TRACE(code);
    const std::string id = "vol-Refused-" + std::to_string(code);
    fake_->control("DELETE", "/_fake/faults");
    fault(R"({"type":"http_error","code":)" + std::to_string(code) +
          R"(,"verb":"create","resource":"pods","count":null})");
    auto* rt = runtime();
    auto& o = observers_.emplace_back();
    ASSERT_TRUE(rt->ensurePod(spec(id), &o));
    auto st = waitSettled(o);
    EXPECT_EQ(st.phase, PodPhase::Failed) << st.reason << ": " << st.message;
    EXPECT_EQ(st.reason, "CreateFailed");
    ASSERT_FALSE(claimUid(id).empty()) << "the claim was made before the pod was refused";
    EXPECT_EQ(fake_->api("GET", std::string(kPods) + "/" + names(id).pod), 404);
    fake_->control("DELETE", "/_fake/faults");
    ASSERT_TRUE(rt->deletePod(id));
    EXPECT_TRUE(claimGone(id)) << "the session's claim " << names(id).pvc << " leaked";
    EXPECT_EQ(rt->podStatus(id).value().phase, PodPhase::Gone);
    runtimes_.clear();
  }
}

// The session's pod is already gone (evicted and deleted, or deleted by hand): deletePod still
// deletes the session's claim, from the runtime that made it and from one that never saw the
// session (another replica, a restarted host).
TEST_F(KubeVolumeCleanupTest, DeletingASessionWhosePodIsGoneDeletesItsClaim) {
  for (bool same_runtime : {true, false}) {
    SCOPED_TRACE(same_runtime ? "the runtime that made it" : "a runtime that never saw it");
    const std::string id = same_runtime ? "vol-Gone-same" : "vol-Gone-other";
    auto* rt = runtime();
    auto& o = observers_.emplace_back();
    ASSERT_TRUE(rt->ensurePod(spec(id), &o));
    ASSERT_EQ(waitSettled(o).phase, PodPhase::Ready);
    ASSERT_FALSE(claimUid(id).empty());
    removePodNow(*fake_, names(id).pod);
    auto* deleter = same_runtime ? rt : runtime();
    ASSERT_TRUE(deleter->deletePod(id));
    EXPECT_TRUE(claimGone(id)) << "the session's claim " << names(id).pvc << " leaked";
    runtimes_.clear();
  }
}

// A claim with the session's name that is another session's (a hash collision: the session's
// hash label but another id; or another hash label) is neither mounted nor deleted: the session
// fails and says why, and deletePod (from this runtime or a fresh one) leaves the claim alone.
TEST_F(KubeVolumeCleanupTest, AnotherSessionsClaimWithTheSessionsNameIsNeverDeleted) {
  const std::string id = "vol-Foreign";
  struct Variant {
    std::string what, hash, owner;
  };
  const std::vector<Variant> variants = {
      {"a hash collision: this session's hash label, another session's id", names(id).hash,
       "someone-else"},
      {"another session's hash label and id", names("someone-else").hash, "someone-else"},
      {"this session's id without its hash label", names("someone-else").hash, id},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.what);
    const std::string foreign = createForeignClaim(id, v.hash, v.owner);
    ASSERT_FALSE(foreign.empty());
    fake_->control("DELETE", "/_fake/requests");
    auto* rt = runtime();
    auto& o = observers_.emplace_back();
    ASSERT_TRUE(rt->ensurePod(spec(id), &o));
    auto st = waitSettled(o);
    EXPECT_EQ(st.phase, PodPhase::Failed) << st.reason << ": " << st.message;
    EXPECT_NE(st.message.find("volume " + names(id).pvc + " exists but belongs to another session"),
              std::string::npos)
        << st.message;
    EXPECT_EQ(fake_->api("GET", std::string(kPods) + "/" + names(id).pod), 404)
        << "a pod was made on another session's volume";
    EXPECT_TRUE(rt->deletePod(id));
    EXPECT_TRUE(runtime()->deletePod(id));
    std::string claim;
    EXPECT_EQ(fake_->api("GET", claimPath(id), {}, &claim), 200);
    EXPECT_EQ(uidIn(claim), foreign) << "another session's claim was replaced";
    EXPECT_EQ(claim.find("deletionTimestamp"), std::string::npos)
        << "another session's claim is being deleted: " << claim;
    EXPECT_EQ(requestLog().find("\"DELETE\", \"path\": \"" + claimPath(id) + "\""),
              std::string::npos)
        << requestLog();
    runtimes_.clear();
    fake_->api("DELETE", claimPath(id));
    ASSERT_TRUE(claimGone(id));
  }
}

// delete_pvc = false: after a refused pod create, deletePod keeps the claim and never asks about
// it.
TEST_F(KubeVolumeCleanupTest, DeletePvcFalseKeepsTheClaimOfARefusedCreate) {
  const std::string id = "vol-Keep";
  fault(R"({"type":"http_error","code":403,"verb":"create","resource":"pods","count":null})");
  auto* rt = runtime({{"delete_pvc", false}});
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec(id), &o));
  EXPECT_EQ(waitSettled(o).phase, PodPhase::Failed);
  const std::string uid = claimUid(id);
  ASSERT_FALSE(uid.empty());
  fake_->control("DELETE", "/_fake/requests");
  ASSERT_TRUE(rt->deletePod(id));
  EXPECT_EQ(requestLog().find(names(id).pvc), std::string::npos) << requestLog();
  EXPECT_EQ(claimUid(id), uid);
  runtimes_.clear();
  fake_->api("DELETE", claimPath(id));  // leaves the fake as the other tests expect it
  ASSERT_TRUE(claimGone(id));
}

// A session started again while its previous claim is still being deleted (a pod of someone else
// still mounts it, so the claim stays Terminating) waits for that claim to go and makes a fresh
// one: a pod on the terminating claim would never schedule once it is gone, and the old files are
// meant to go with it (the contract's DeleteIsIdempotent re-creates at once and can meet this).
TEST_F(KubeVolumeCleanupTest, ARestartedSessionWaitsOutItsTerminatingClaim) {
  const std::string id = "vol-Again";
  auto* rt = runtime();
  auto& first = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec(id), &first));
  ASSERT_EQ(waitSettled(first).phase, PodPhase::Ready);
  const std::string old_uid = claimUid(id);
  ASSERT_FALSE(old_uid.empty());
  const std::string holder = "holder-vol-again";
  const std::string pod =
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + holder +
      R"("},"spec":{"containers":[{"name":"c","image":"busybox","command":["sleep","600"]}],)"
      R"("volumes":[{"name":"w","persistentVolumeClaim":{"claimName":")" +
      names(id).pvc + R"("}}]}})";
  std::string answer;
  ASSERT_EQ(fake_->api("POST", kPods, pod, &answer), 201) << answer;
  ASSERT_TRUE(rt->deletePod(id));
  ASSERT_TRUE(waitUntil(
      [&] {
        std::string body;
        return fake_->api("GET", claimPath(id), {}, &body) == 200 &&
               body.find("deletionTimestamp") != std::string::npos;
      },
      10s))
      << "the claim is not held terminating by the other pod";

  auto& again = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec(id), &again));
  // While the old claim terminates, no pod is made on it: once the runtime has read the
  // terminating claim twice (it is waiting it out, not on its way past it), no pod exists.
  const auto claimReads = [&] {
    int reads = 0;
    for (const auto& r : fakeRequests(*fake_)) {
      if (r->optValue<std::string>("method", "") == "GET" &&
          r->optValue<std::string>("path", "") == claimPath(id)) {
        ++reads;
      }
    }
    return reads;
  };
  const int reads_before = claimReads();  // the test's own GETs above
  ASSERT_TRUE(waitUntil([&] { return claimReads() >= reads_before + 2; }, 10s))
      << "the runtime never looked at the terminating claim";
  EXPECT_EQ(fake_->api("GET", std::string(kPods) + "/" + names(id).pod), 404)
      << "a pod was created on the terminating claim";
  removePodNow(*fake_, holder);
  const auto st = waitSettled(again);
  EXPECT_EQ(st.phase, PodPhase::Ready) << st.reason << ": " << st.message;
  const std::string new_uid = claimUid(id);
  EXPECT_FALSE(new_uid.empty());
  EXPECT_NE(new_uid, old_uid) << "the session got its old, deleted claim back";
  EXPECT_TRUE(rt->deletePod(id));
}

}  // namespace
}  // namespace podterm::tests::kubernetes
