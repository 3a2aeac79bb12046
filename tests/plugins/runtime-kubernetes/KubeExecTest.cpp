// Exec streams against the fake's exec faults: no byte before the server's 101 (CVE-2018-1002105,
// the fake's exec_refuse counts what a client sends before its answer) and pings that keep an idle
// stream alive through an idle timeout (exec_idle_timeout, which also counts the pings and can
// withhold pongs).

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <sstream>
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
using podterm::testing::RecordingStreamObserver;
using sdk::PodPhase;
using Clock = std::chrono::steady_clock;
namespace k8s = podterm::plugins::kubernetes;

class KubeExecTest : public KubePluginTest {
 protected:
  // A Ready pod for session id; returns its name.
  std::string readyPod(sdk::PodRuntime* rt, const std::string& id) {
    auto& o = observers_.emplace_back();
    EXPECT_TRUE(rt->ensurePod(spec(id), &o));
    EXPECT_EQ(waitSettled(o).phase, PodPhase::Ready);
    return k8s::podNamesFor(id).pod;
  }

  // The fake's log entries of exec requests since the log was last cleared.
  std::vector<Poco::JSON::Object::Ptr> execEntries() {
    std::string body;
    fake_->control("GET", "/_fake/requests", {}, &body);
    std::vector<Poco::JSON::Object::Ptr> out;
    try {
      Poco::JSON::Parser parser;
      auto root = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
      auto requests = root->getArray("requests");
      for (size_t i = 0; requests && i < requests->size(); ++i) {
        auto e = requests->getObject(static_cast<unsigned>(i));
        const auto path = e->optValue<std::string>("path", "");
        if (path.size() >= 5 && path.compare(path.size() - 5, 5, "/exec") == 0) out.push_back(e);
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the fake's request log is not JSON: " << e.what() << ": " << body;
    }
    return out;
  }

  static std::string str(const Poco::JSON::Object::Ptr& o) {
    std::ostringstream s;
    o->stringify(s);
    return s.str();
  }

  // An exec whose stdin is written and closed at once, before the fake answers the upgrade.
  sdk::ExecStreamPtr openAndWriteAtOnce(sdk::PodRuntime* rt, const std::string& id, bool tty,
                                        RecordingStreamObserver& o) {
    sdk::StreamSpec s;
    s.tty = tty;
    s.argv = tty ? std::vector<std::string>{"sh", "-i"} : std::vector<std::string>{"cat"};
    auto stream = rt->openStream(id, s, &o);
    EXPECT_TRUE(stream) << stream.status().message();
    if (!stream) return nullptr;
    const std::string input = "echo typed-too-early\n";
    EXPECT_TRUE(stream.value()->write(input.data(), input.size()));
    if (tty) {
      EXPECT_TRUE(stream.value()->resize(100, 30));
    }
    EXPECT_TRUE(stream.value()->closeStdin());
    return std::move(stream.value());
  }

  // A shell on a terminal, answering a first command.
  sdk::ExecStreamPtr openShell(sdk::PodRuntime* rt, const std::string& id,
                               RecordingStreamObserver& o) {
    sdk::StreamSpec s;
    s.tty = true;
    s.argv = {"sh", "-i"};
    auto stream = rt->openStream(id, s, &o);
    EXPECT_TRUE(stream) << stream.status().message();
    if (!stream) return nullptr;
    const std::string cmd = "echo sh$((40+2))ell\n";
    EXPECT_TRUE(stream.value()->write(cmd.data(), cmd.size()));
    EXPECT_TRUE(o.waitForStdout("sh42ell", 20s)) << o.out();
    return std::move(stream.value());
  }
};

// CVE-2018-1002105: stdin written before the 101 waits for it. The fake holds the upgrade for
// 1.5 s, counts the bytes the client sends after its request's headers, then refuses with 403:
// none may have come, and both streams end with the API's refusal.
TEST_F(KubeExecTest, NoByteBeforeTheUpgradeAndARefusalEndsTheStream) {
  auto* rt = runtime();
  const std::string pod = readyPod(rt, "refused");
  fake_->control("DELETE", "/_fake/requests");
  fault(R"({"type":"exec_refuse","name":")" + pod + R"(","code":403,"seconds":1.5,"count":2})");
  RecordingStreamObserver tty, plain;
  auto a = openAndWriteAtOnce(rt, "refused", true, tty);
  auto b = openAndWriteAtOnce(rt, "refused", false, plain);
  ASSERT_TRUE(a && b);
  for (auto* o : {&tty, &plain}) {
    ASSERT_TRUE(o->waitForExit(30s));
    EXPECT_EQ(o->exitCalls(), 1);
    const auto& error = o->exit().error;
    EXPECT_FALSE(error.isOk());
    EXPECT_NE(error.message().find("exec refused (HTTP 403 Forbidden)"), std::string::npos)
        << error.message();
    EXPECT_NE(error.message().find("cannot get resource \"pods/exec\""), std::string::npos)
        << error.message();
    EXPECT_EQ(o->out(), "");
  }
  auto entries = execEntries();
  ASSERT_EQ(entries.size(), 2u);
  for (const auto& e : entries) {
    EXPECT_EQ(e->optValue<int>("status", 0), 403) << str(e);
    ASSERT_TRUE(e->has("bytes_before_answer")) << str(e);
    EXPECT_EQ(e->getValue<int>("bytes_before_answer"), 0) << str(e);
  }
  // Nothing broke: the fault is used up and the next exec runs.
  RecordingStreamObserver ok;
  ASSERT_NO_FATAL_FAILURE(run(rt, "refused", {"sh", "-c", "echo still-fine"}, "", ok));
  EXPECT_EQ(ok.out(), "still-fine\n");
  EXPECT_TRUE(ok.exit().error.isOk()) << ok.exit().error.message();
}

// A 101 that names a subprotocol the client did not offer, or none, is no upgrade to this client:
// the stream ends with an error and its stdin is never sent (the fake counts the data frames it
// gets after that 101).
TEST_F(KubeExecTest, A101WithoutAnOfferedSubprotocolIsRefused) {
  auto* rt = runtime();
  const std::string pod = readyPod(rt, "wrong-proto");
  for (const std::string mode : {"protocol", "no_protocol"}) {
    SCOPED_TRACE(mode);
    fake_->control("DELETE", "/_fake/requests");
    fault(R"({"type":"exec_refuse","name":")" + pod + R"(","mode":")" + mode +
          R"(","seconds":0.5,"count":2})");
    RecordingStreamObserver tty, plain;
    auto a = openAndWriteAtOnce(rt, "wrong-proto", true, tty);
    auto b = openAndWriteAtOnce(rt, "wrong-proto", false, plain);
    ASSERT_TRUE(a && b);
    for (auto* o : {&tty, &plain}) {
      ASSERT_TRUE(o->waitForExit(30s));
      EXPECT_EQ(o->exitCalls(), 1);
      const auto& error = o->exit().error;
      EXPECT_EQ(error.code(), sdk::ErrorCode::PermissionDenied) << error.message();
      EXPECT_NE(error.message().find(mode == "protocol" ? "\"v3.channel.k8s.io\", which was not"
                                                        : "no subprotocol"),
                std::string::npos)
          << error.message();
    }
    // The fake records the frame count once the client hung up (it waits for that, up to 5 s).
    std::vector<Poco::JSON::Object::Ptr> entries;
    ASSERT_TRUE(waitUntil(
        [&] {
          entries = execEntries();
          return entries.size() == 2 && entries[0]->has("frames_after_101") &&
                 entries[1]->has("frames_after_101");
        },
        10s));
    for (const auto& e : entries) {
      EXPECT_EQ(e->optValue<int>("status", 0), 101) << str(e);
      EXPECT_EQ(e->getValue<int>("bytes_before_answer"), 0) << str(e);
      EXPECT_EQ(e->getValue<int>("frames_after_101"), 0) << str(e);
    }
  }
}

// exec_ping_interval_s = 1 under a 3 s idle timeout: an idle shell lives through twice the
// timeout and still answers; the fake counted the pings.
TEST_F(KubeExecTest, PingsKeepAnIdleShellAlive) {
  auto* rt = runtime({{"exec_ping_interval_s", int64_t{1}}});
  const std::string pod = readyPod(rt, "pinged");
  fake_->control("DELETE", "/_fake/requests");
  fault(R"({"type":"exec_idle_timeout","name":")" + pod + R"(","seconds":3})");
  RecordingStreamObserver o;
  auto shell = openShell(rt, "pinged", o);
  ASSERT_TRUE(shell);
  const auto idle_from = Clock::now();
  // Idle until the fake has counted 6 pings (6 s at one a second), and at least 6 s (or the
  // stream ended, which fails below).
  int pings = 0;
  EXPECT_TRUE(waitUntil(
      [&] {
        auto entries = execEntries();
        pings = entries.empty() ? 0 : entries.back()->optValue<int>("pings", 0);
        return (pings >= 6 && Clock::now() - idle_from >= 6s) || o.exitCalls() > 0;
      },
      30s))
      << "pings counted by the fake: " << pings;
  ASSERT_EQ(o.exitCalls(), 0) << o.exit().error.message();
  const std::string cmd = "echo af$((2+3))ter\n";
  ASSERT_TRUE(shell->write(cmd.data(), cmd.size()));
  EXPECT_TRUE(o.waitForStdout("af5ter", 20s)) << o.out();
  auto entries = execEntries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_GE(entries[0]->optValue<int>("pings", 0), 3) << str(entries[0]);
  EXPECT_FALSE(entries[0]->has("idle_timed_out")) << str(entries[0]);
  shell->close();
}

// The same shell with pings slower than the idle timeout is cut by the fake, and the stream ends
// with an error (this is what the test above would see without pings).
TEST_F(KubeExecTest, PingsSlowerThanTheIdleTimeoutLoseTheShell) {
  auto* rt = runtime({{"exec_ping_interval_s", int64_t{10}}});
  const std::string pod = readyPod(rt, "unpinged");
  fake_->control("DELETE", "/_fake/requests");
  fault(R"({"type":"exec_idle_timeout","name":")" + pod + R"(","seconds":3})");
  RecordingStreamObserver o;
  auto shell = openShell(rt, "unpinged", o);
  ASSERT_TRUE(shell);
  ASSERT_TRUE(o.waitForExit(20s));
  EXPECT_EQ(o.exitCalls(), 1);
  EXPECT_EQ(o.exit().error.code(), sdk::ErrorCode::Unavailable) << o.exit().error.message();
  EXPECT_NE(o.exit().error.message().find("lost before the command finished"), std::string::npos)
      << o.exit().error.message();
  auto entries = execEntries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(entries[0]->optValue<bool>("idle_timed_out", false)) << str(entries[0]);
  EXPECT_EQ(entries[0]->optValue<int>("pings", -1), 0) << str(entries[0]);
}

// A server that stops answering pings (and sends nothing else) is taken for dead after three
// intervals and 5 s: the stream ends with that error instead of hanging.
TEST_F(KubeExecTest, AConnectionThatStopsAnsweringPingsEnds) {
  auto* rt = runtime({{"exec_ping_interval_s", int64_t{1}}});
  const std::string pod = readyPod(rt, "no-pongs");
  fake_->control("DELETE", "/_fake/requests");
  fault(R"({"type":"exec_idle_timeout","name":")" + pod + R"(","mode":"no_pong"})");
  RecordingStreamObserver o;
  auto shell = openShell(rt, "no-pongs", o);
  ASSERT_TRUE(shell);
  const auto quiet_from = Clock::now();
  ASSERT_TRUE(o.waitForExit(30s));
  EXPECT_GE(Clock::now() - quiet_from, 7s);  // 3 intervals + 5 s, minus the first command's time
  EXPECT_EQ(o.exitCalls(), 1);
  EXPECT_EQ(o.exit().error.code(), sdk::ErrorCode::Unavailable) << o.exit().error.message();
  EXPECT_NE(o.exit().error.message().find("stopped answering pings"), std::string::npos)
      << o.exit().error.message();
  auto entries = execEntries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_GE(entries[0]->optValue<int>("pings", 0), 3) << str(entries[0]);
}

// Output the host paused (a slow browser) is not read, pongs included: that silence is the
// host's, and the stream must outlive it (three intervals and 5 s = 8 s here) and resume.
TEST_F(KubeExecTest, APausedStreamIsNotTakenForDead) {
  auto* rt = runtime({{"exec_ping_interval_s", int64_t{1}}});
  readyPod(rt, "paused");
  RecordingStreamObserver o;
  auto shell = openShell(rt, "paused", o);
  ASSERT_TRUE(shell);
  shell->pauseOutput();
  const std::string cmd = "echo pa$((1+1))used\n";
  ASSERT_TRUE(shell->write(cmd.data(), cmd.size()));
  EXPECT_FALSE(o.waitForExit(10s)) << o.exit().error.message();
  EXPECT_EQ(o.out().find("pa2used"), std::string::npos) << "output came while paused";
  shell->resumeOutput();
  EXPECT_TRUE(o.waitForStdout("pa2used", 20s)) << o.out();
  EXPECT_EQ(o.exitCalls(), 0) << o.exit().error.message();
  shell->close();
}

}  // namespace
}  // namespace podterm::tests::kubernetes
