// The runtime contract suite over runtime-kubernetes.so against the fake Kubernetes API server,
// plus what only this plugin has: retries, adoption, watch recovery, API refusals, exec breaks, v4.
// Failure injection goes through the fake's fault API.

#include <Poco/JSON/Object.h>
#include <gtest/gtest.h>

#include <deque>
#include <sstream>
#include <thread>

#include "FakeApiServer.h"
#include "KubePluginFixture.h"
#include "kube_runtime.h"
#include "kube_settings.h"
#include "pod_names.h"
#include "podterm/testing/runtime_contract.h"

namespace podterm::tests::kubernetes {
namespace {

using namespace std::chrono_literals;
using podterm::testing::ContractOptions;
using podterm::testing::RecordingPodObserver;
using podterm::testing::RecordingStreamObserver;
using podterm::testing::RuntimeContractParam;
using podterm::testing::RuntimeContractTest;
using sdk::PodPhase;
namespace k8s = podterm::plugins::kubernetes;

// Forwards to the plugin's runtime and says it can inject failures: the fake does that.
class FaultInjectingRuntime : public sdk::PodRuntime {
 public:
  explicit FaultInjectingRuntime(std::shared_ptr<sdk::PodRuntime> inner)
      : inner_(std::move(inner)) {}
  sdk::Status ensurePod(const sdk::PodSpec& s, sdk::PodObserver* o) override {
    return inner_->ensurePod(s, o);
  }
  void stopObserving(const std::string& id) override { inner_->stopObserving(id); }
  sdk::Result<sdk::PodStatus> podStatus(const std::string& id) override {
    return inner_->podStatus(id);
  }
  sdk::Result<sdk::ExecStreamPtr> openStream(const std::string& id, const sdk::StreamSpec& s,
                                             sdk::StreamObserver* o) override {
    return inner_->openStream(id, s, o);
  }
  sdk::Status deletePod(const std::string& id) override { return inner_->deletePod(id); }
  sdk::Result<std::vector<sdk::PodInfo>> listPods() override { return inner_->listPods(); }
  sdk::RuntimeCapabilities capabilities() const override {
    auto caps = inner_->capabilities();
    caps.failure_injection = true;
    return caps;
  }

 private:
  std::shared_ptr<sdk::PodRuntime> inner_;
};

// The case's failures, as faults of the fake (they replace any earlier case's).
void setFaults(FakeApiServer* fake, const ContractOptions& o) {
  fake->control("DELETE", "/_fake/faults");
  if (!o.fail_create.empty()) {
    Poco::JSON::Object f;
    f.set("type", std::string("http_error"));
    f.set("code", 422);
    f.set("reason", std::string("Invalid"));
    f.set("verb", std::string("create"));
    f.set("resource", std::string("pods"));
    f.set("message", o.fail_create);
    f.set("count", Poco::Dynamic::Var());
    std::ostringstream json;
    f.stringify(json);
    fake->control("POST", "/_fake/faults", json.str());
  }
  if (o.never_ready) {
    fake->control("POST", "/_fake/faults", R"({"type":"unschedulable","count":null})");
  } else if (o.start_delay_ms > 0) {
    fake->control("POST", "/_fake/faults",
                  R"({"type":"unschedulable","count":null,"seconds":)" +
                      std::to_string(o.start_delay_ms / 1000.0) + "}");
  }
}

std::shared_ptr<sdk::PodRuntime> make(const ContractOptions& o,
                                      std::map<std::string, TestConfigView::Value> extra) {
  auto* fake = FakeApiServer::instance();
  if (fake == nullptr) {
    ADD_FAILURE() << FakeApiServer::whyUnavailable();
    return nullptr;
  }
  setFaults(fake, o);
  auto config = baseConfig();
  for (auto& kv : extra) config[kv.first] = kv.second;
  auto created = createKubeRuntime(config);
  EXPECT_TRUE(created.status) << created.status.message();
  if (!created.runtime) return nullptr;
  return std::make_shared<FaultInjectingRuntime>(created.runtime);
}

// The warm pool: built from the plugin's static library (the same code as the .so) so that a case
// without faults can start once the runtime's watch shows the pool Ready, and its sessions claim
// warm pods rather than race the pool's start. Cases with faults start at once (the faults hold
// the pool's pods back as well, so those sessions are cold).
std::shared_ptr<sdk::PodRuntime> makeWarm(const ContractOptions& o) {
  auto* fake = FakeApiServer::instance();
  if (fake == nullptr) {
    ADD_FAILURE() << FakeApiServer::whyUnavailable();
    return nullptr;
  }
  setFaults(fake, o);
  auto config = baseConfig();
  config["credentials"] = std::string("kubeconfig");
  config["kubeconfig"] = fake->kubeconfig();
  config["warm_pool"] = int64_t{2};
  TestConfigView view(std::move(config), "/tmp");
  plugins::kubernetes::KubeSettings settings;
  if (auto st = plugins::kubernetes::readSettings(view, settings); !st) {
    ADD_FAILURE() << st.message();
    return nullptr;
  }
  auto created = plugins::kubernetes::KubernetesPodRuntime::create(settings);
  if (!created) {
    ADD_FAILURE() << created.status().message();
    return nullptr;
  }
  std::shared_ptr<plugins::kubernetes::KubernetesPodRuntime> rt(created.value().release());
  const bool faults = !o.fail_create.empty() || o.never_ready || o.start_delay_ms > 0;
  if (!faults) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (rt->readyPoolPods() < 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    EXPECT_GE(rt->readyPoolPods(), 2u) << "the warm pool did not fill";
  }
  return std::make_shared<FaultInjectingRuntime>(rt);
}

std::vector<RuntimeContractParam> params() {
  if (!FakeApiServer::installed()) return {};
  return {RuntimeContractParam{"kubernetes", [](const ContractOptions& o) { return make(o, {}); }},
          RuntimeContractParam{"kubernetes_v4",
                               [](const ContractOptions& o) {
                                 return make(o, {{"exec_protocols", std::string("v4")}});
                               }},
          // Sessions claim warm pods when the pool has a Ready one, cold pods otherwise (a
          // case's faults hold the pool's pods back too).
          RuntimeContractParam{"kubernetes_warm", makeWarm}};
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RuntimeContractTest);
INSTANTIATE_TEST_SUITE_P(Kubernetes, RuntimeContractTest, ::testing::ValuesIn(params()),
                         podterm::testing::runtimeContractName);

// --- plugin-specific ---------------------------------------------------------------------------

TEST_F(KubePluginTest, RetriesCreateOn429And500) {
  fault(
      R"({"type":"http_error","code":429,"retry_after":1,"verb":"create","resource":"pods","count":1})");
  fault(
      R"({"type":"http_error","code":429,"mode":"json","retry_after":0,"verb":"create","resource":"pods","count":1})");
  fault(R"({"type":"http_error","code":500,"verb":"create","resource":"pods","count":2})");
  auto* rt = runtime();
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec("retry-me"), &o));
  auto st = waitSettled(o);
  EXPECT_EQ(st.phase, PodPhase::Ready) << st.reason << ": " << st.message;
  EXPECT_EQ(fired().find("\"active\": [{"), std::string::npos) << fired();
}

TEST_F(KubePluginTest, ApiRefusalBecomesFailedWithTheApiMessage) {
  fault(R"({"type":"http_error","code":403,"verb":"create","resource":"pods","count":null})");
  auto* rt = runtime();
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec("refused"), &o));
  auto st = waitSettled(o);
  EXPECT_EQ(st.phase, PodPhase::Failed);
  EXPECT_NE(st.message.find("is forbidden"), std::string::npos) << st.message;
  EXPECT_EQ(st.message.find("test-token"), std::string::npos);
}

TEST_F(KubePluginTest, AdoptsItsOwnPodOnAlreadyExists) {
  auto* first = runtime();
  auto& o1 = observers_.emplace_back();
  ASSERT_TRUE(first->ensurePod(spec("adopt-Me"), &o1));
  ASSERT_EQ(waitSettled(o1).phase, PodPhase::Ready);
  RecordingStreamObserver w;
  ASSERT_NO_FATAL_FAILURE(run(first, "adopt-Me", {"sh", "-c", "echo kept > adopted"}, "", w));
  // Another replica (a fresh runtime) finds the session's pod by its 409 and adopts it.
  auto* second = runtime();
  auto& o2 = observers_.emplace_back();
  ASSERT_TRUE(second->ensurePod(spec("adopt-Me"), &o2));
  ASSERT_EQ(waitSettled(o2).phase, PodPhase::Ready);
  RecordingStreamObserver r;
  ASSERT_NO_FATAL_FAILURE(run(second, "adopt-Me", {"cat", "adopted"}, "", r));
  EXPECT_EQ(r.out(), "kept\n");
  // A different session (only the case differs) gets its own pod, not this one.
  auto& o3 = observers_.emplace_back();
  ASSERT_TRUE(second->ensurePod(spec("adopt-me"), &o3));
  ASSERT_EQ(waitSettled(o3).phase, PodPhase::Ready);
  RecordingStreamObserver r2;
  ASSERT_NO_FATAL_FAILURE(
      run(second, "adopt-me", {"sh", "-c", "cat adopted 2>/dev/null; true"}, "", r2));
  EXPECT_EQ(r2.out(), "");
}

TEST_F(KubePluginTest, WatchRecoversFromGoneAndDrops) {
  fault(R"({"type":"watch_gone","count":1})");
  fault(R"({"type":"watch_gone","mode":"http","count":1})");
  fault(R"({"type":"watch_drop","after_events":1,"abort":true,"count":2})");
  auto* rt = runtime();
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec("watch-me"), &o));
  auto st = waitSettled(o);
  EXPECT_EQ(st.phase, PodPhase::Ready) << st.reason << ": " << st.message;
  std::string f = fired();
  EXPECT_NE(f.find("watch_gone"), std::string::npos) << f;
  EXPECT_NE(f.find("watch_drop"), std::string::npos) << f;
}

TEST_F(KubePluginTest, UnschedulableShowsTheSchedulersMessage) {
  fault(
      R"({"type":"unschedulable","count":null,"message":"0/3 nodes are available: 3 Insufficient cpu."})");
  auto* rt = runtime({{"ready_timeout_s", int64_t{2}}});
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec("no-room"), &o));
  sdk::PodStatus pending;
  ASSERT_TRUE(o.waitFor([](const sdk::PodStatus& s) { return s.reason == "Unschedulable"; }, 20s,
                        &pending));
  EXPECT_EQ(pending.phase, PodPhase::Pending);
  EXPECT_EQ(pending.message, "0/3 nodes are available: 3 Insufficient cpu.");
  auto st = waitSettled(o);
  EXPECT_EQ(st.phase, PodPhase::Failed);
  EXPECT_NE(st.message.find("Insufficient cpu"), std::string::npos) << st.message;
}

TEST_F(KubePluginTest, ImagePullBackOffNamesTheImage) {
  fault(R"({"type":"image_pull_backoff","count":null})");
  auto* rt = runtime({{"image", std::string("registry.example/nope:1")}});
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec("bad-image"), &o));
  auto st = waitSettled(o);
  EXPECT_EQ(st.phase, PodPhase::Failed);
  EXPECT_EQ(st.reason, "ImagePullBackOff");
  EXPECT_NE(st.message.find("registry.example/nope:1"), std::string::npos) << st.message;
}

TEST_F(KubePluginTest, ExecBreakMidCommandReportsAnError) {
  auto* rt = runtime();
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec("breaks"), &o));
  ASSERT_EQ(waitSettled(o).phase, PodPhase::Ready);
  fault(R"({"type":"exec_break","after_bytes":8,"count":1})");
  RecordingStreamObserver s;
  sdk::StreamSpec ss;
  ss.argv = {"sh", "-c", "echo started-long-line; sleep 30"};
  auto stream = rt->openStream("breaks", ss, &s);
  ASSERT_TRUE(stream);
  ASSERT_TRUE(s.waitForExit(30s));
  EXPECT_FALSE(s.exit().error.isOk());
  EXPECT_EQ(s.exitCalls(), 1);
}

TEST_F(KubePluginTest, DeleteRemovesThePodAndItsVolume) {
  auto* rt = runtime();
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec("gone-soon"), &o));
  ASSERT_EQ(waitSettled(o).phase, PodPhase::Ready);
  ASSERT_TRUE(rt->deletePod("gone-soon"));
  // The pod is gone when deletePod returns; the claim follows once the API processed its delete.
  std::string state;
  for (int i = 0; i < 50; ++i) {
    fake_->control("GET", "/_fake/state", {}, &state);
    if (state.find("ws-gone-soon") == std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(state.find("exec-gone-soon"), std::string::npos) << state;
  EXPECT_EQ(state.find("ws-gone-soon"), std::string::npos) << state;
  EXPECT_EQ(rt->podStatus("gone-soon").value().phase, PodPhase::Gone);
}

// volume = "ephemeral": the workspace lives in the pod (an emptyDir), no claim is made, and the
// shell's files still work.
TEST_F(KubePluginTest, AnEphemeralVolumeMakesNoClaim) {
  auto* rt = runtime({{"volume", std::string("ephemeral")}, {"delete_pvc", false}});
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec("eph-vol"), &o));
  ASSERT_EQ(waitSettled(o).phase, PodPhase::Ready);
  RecordingStreamObserver w;
  ASSERT_NO_FATAL_FAILURE(run(rt, "eph-vol", {"sh", "-c", "echo kept > f && cat f"}, "", w));
  EXPECT_EQ(w.out(), "kept\n");
  const auto names = k8s::podNamesFor("eph-vol");
  EXPECT_EQ(fake_->api("GET", "/api/v1/namespaces/default/persistentvolumeclaims/" + names.pvc),
            404);
  ASSERT_TRUE(rt->deletePod("eph-vol"));
}

// delete_pvc = false: deleting the session's pod keeps its claim (the files outlive the pod).
TEST_F(KubePluginTest, DeletePvcFalseKeepsTheClaim) {
  auto* rt = runtime({{"delete_pvc", false}});
  auto& o = observers_.emplace_back();
  ASSERT_TRUE(rt->ensurePod(spec("keep-vol"), &o));
  ASSERT_EQ(waitSettled(o).phase, PodPhase::Ready);
  const auto names = k8s::podNamesFor("keep-vol");
  const std::string claim = "/api/v1/namespaces/default/persistentvolumeclaims/" + names.pvc;
  EXPECT_EQ(fake_->api("GET", claim), 200);
  fake_->control("DELETE", "/_fake/requests");
  ASSERT_TRUE(rt->deletePod("keep-vol"));
  EXPECT_EQ(rt->podStatus("keep-vol").value().phase, PodPhase::Gone);
  // Not even asked: no request of the delete names the claim (a late delete would pass a GET).
  std::string log;
  fake_->control("GET", "/_fake/requests", {}, &log);
  EXPECT_NE(log.find("/pods/" + names.pod), std::string::npos) << log;
  EXPECT_EQ(log.find(names.pvc), std::string::npos) << log;
  EXPECT_EQ(fake_->api("GET", claim), 200);
  fake_->api("DELETE", claim);  // leaves the fake as the other tests expect it
}

}  // namespace
}  // namespace podterm::tests::kubernetes
