#pragma once
// The fixture of the plugin-specific tests: runtime-kubernetes.so against the shared fake API
// server, whose faults are cleared before each test. Failure injection goes through fault().

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "FakeApiServer.h"
#include "podterm/testing/runtime_contract.h"

namespace podterm::tests::kubernetes {

// Short limits so that a test which goes wrong ends in seconds, not minutes.
inline std::map<std::string, TestConfigView::Value> baseConfig() {
  return {{"ready_timeout_s", int64_t{30}},
          {"delete_timeout_s", int64_t{20}},
          {"retry_budget_s", int64_t{15}}};
}

// Polls cond until it holds or timeout passes: what the tests wait on instead of sleeping.
inline bool waitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// A JSON object (an API answer, the fake's request log); null when the body is not one.
inline Poco::JSON::Object::Ptr parseObject(const std::string& body) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
  } catch (...) {
    return nullptr;
  }
}

// The fake's request log as it answers it (JSON: "requests", "last"); since: only the entries after
// that sequence number.
inline std::string fakeRequestLog(FakeApiServer& fake, int64_t since = 0) {
  std::string body;
  const std::string query = since > 0 ? "?since=" + std::to_string(since) : "";
  EXPECT_EQ(fake.control("GET", "/_fake/requests" + query, {}, &body), 200);
  return body;
}

// The same, one object per request (method, path, status, verb, resource, name, body, ...).
inline std::vector<Poco::JSON::Object::Ptr> fakeRequests(FakeApiServer& fake, int64_t since = 0) {
  std::vector<Poco::JSON::Object::Ptr> out;
  auto log = parseObject(fakeRequestLog(fake, since));
  auto items = log ? log->getArray("requests") : nullptr;
  for (size_t i = 0; items && i < items->size(); ++i) {
    out.push_back(items->getObject(static_cast<unsigned>(i)));
  }
  return out;
}

// A pod of the default namespace gone for good, whoever holds it: its finalizers dropped, deleted
// without grace, and waited out.
inline void removePodNow(FakeApiServer& fake, const std::string& name) {
  const std::string path = "/api/v1/namespaces/default/pods/" + name;
  fake.api("PATCH", path, R"({"metadata":{"finalizers":null}})", nullptr,
           "application/merge-patch+json");
  fake.api("DELETE", path, R"({"gracePeriodSeconds":0})");
  EXPECT_TRUE(waitUntil([&] { return fake.api("GET", path) == 404; }, std::chrono::seconds(10)))
      << name << " stayed";
}

class KubePluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = FakeApiServer::instance();
    if (fake_ == nullptr) {
      GTEST_SKIP() << FakeApiServer::whyUnavailable();
    }
    fake_->control("DELETE", "/_fake/faults");
  }
  void TearDown() override { runtimes_.clear(); }

  sdk::PodRuntime* runtime(std::map<std::string, TestConfigView::Value> extra = {}) {
    auto config = baseConfig();
    for (auto& kv : extra) config[kv.first] = kv.second;
    auto created = createKubeRuntime(config);
    EXPECT_TRUE(created.status) << created.status.message();
    runtimes_.push_back(created.runtime);
    return created.runtime.get();
  }
  void fault(const std::string& json) {
    ASSERT_EQ(fake_->control("POST", "/_fake/faults", json), 201) << json;
  }
  std::string fired() {
    std::string body;
    fake_->control("GET", "/_fake/faults", {}, &body);
    return body;
  }
  sdk::PodSpec spec(const std::string& id) {
    sdk::PodSpec s;
    s.session_id = id;
    s.user = "u";
    s.workspace = "w";
    return s;
  }
  sdk::PodStatus waitSettled(podterm::testing::RecordingPodObserver& o) {
    sdk::PodStatus st;
    o.waitFor(
        [](const sdk::PodStatus& s) {
          return s.phase == sdk::PodPhase::Ready || s.phase == sdk::PodPhase::Failed;
        },
        std::chrono::seconds(40), &st);
    return st;
  }
  void run(sdk::PodRuntime* rt, const std::string& id, std::vector<std::string> argv,
           const std::string& input, podterm::testing::RecordingStreamObserver& o) {
    sdk::StreamSpec s;
    s.argv = std::move(argv);
    auto stream = rt->openStream(id, s, &o);
    ASSERT_TRUE(stream) << stream.status().message();
    if (!input.empty()) {
      ASSERT_TRUE(stream.value()->write(input.data(), input.size()));
    }
    ASSERT_TRUE(stream.value()->closeStdin());
    ASSERT_TRUE(o.waitForExit(std::chrono::seconds(30))) << o.out();
  }

  FakeApiServer* fake_ = nullptr;
  std::deque<podterm::testing::RecordingPodObserver> observers_;  // outlive the runtimes
  std::vector<std::shared_ptr<sdk::PodRuntime>> runtimes_;
};

}  // namespace podterm::tests::kubernetes
