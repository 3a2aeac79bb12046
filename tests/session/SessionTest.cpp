#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "SessionFixture.h"
#include "podterm/testing/mocks.h"
#include "session/HostMessages.h"
#include "session/Session.h"
#include "session/SessionManager.h"

namespace podterm::host {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Return;
using namespace std::chrono_literals;
using podterm::testing::MockExecStream;
using testing::RecordingClient;

const SessionId kId = *SessionId::parse("user_1_ws_abc123_1234567890_uuid");

class SessionTest : public testing::SessionFixture {
 protected:
  void SetUp() override {
    options_.ready_timeout = 60s;
    options_.grace_period = 30s;
    options_.input_queue_bytes = 16;
  }

  // Makes the pod ready and lets the session open a shell on a mock stream it returns.
  MockExecStream* becomeReady(Session& session) {
    auto stream = std::make_unique<NiceMock<MockExecStream>>();
    MockExecStream* raw = stream.get();
    ON_CALL(*raw, write(_, _)).WillByDefault(Invoke([this](const char* data, size_t size) {
      written_.append(data, size);
      return sdk::Status::ok();
    }));
    auto holder = std::make_shared<sdk::ExecStreamPtr>(std::move(stream));
    EXPECT_CALL(runtime_, openStream(kId.raw, _, &session))
        .WillOnce(Invoke(
            [this, holder](const std::string&, const sdk::StreamSpec& spec, sdk::StreamObserver*) {
              shell_spec_ = spec;
              return sdk::Result<sdk::ExecStreamPtr>(std::move(*holder));
            }));
    podReady();
    EXPECT_EQ(session.state(), SessionState::Ready);
    return raw;
  }

  std::string written_;
};

TEST_F(SessionTest, AsksTheRuntimeForThePodOfItsSession) {
  EXPECT_CALL(runtime_, ensurePod(_, _));
  auto session = startSession(kId);
  EXPECT_EQ(spec_.session_id, kId.raw);
  EXPECT_EQ(spec_.user, "1");
  EXPECT_EQ(spec_.workspace, "abc123");
  EXPECT_EQ(session->state(), SessionState::Starting);
}

TEST_F(SessionTest, EarlyInputGetsTheSpecTextOnceAndIsDeliveredInOrderWhenReady) {
  auto session = startSession(kId);
  observer_->onPodStatus({sdk::PodPhase::Pending, "", ""});
  session->onClientInput("ls");
  session->onClientInput(" -la\n");
  EXPECT_EQ(client_->text(),
            "Error: Pod is not ready yet. Current status: Pending\r\nPlease wait...\r\n");
  becomeReady(*session);
  EXPECT_EQ(written_, "ls -la\n");
  session->onClientInput("pwd\n");
  EXPECT_EQ(written_, "ls -la\npwd\n");
}

TEST_F(SessionTest, NotReadyTextNamesTheFinerReason) {
  auto session = startSession(kId);
  observer_->onPodStatus({sdk::PodPhase::Pending, "ContainerCreating", ""});
  session->onClientInput("x");
  EXPECT_THAT(client_->text(), HasSubstr("Current status: ContainerCreating\r\n"));
}

TEST_F(SessionTest, EarlyInputBeyondTheBoundIsDroppedWithANotice) {
  auto session = startSession(kId);
  session->onClientInput("0123456789");
  session->onClientInput("0123456789");  // over the 16-byte bound
  EXPECT_THAT(client_->text(), HasSubstr("Notice: input dropped"));
  becomeReady(*session);
  EXPECT_EQ(written_, "0123456789");
}

TEST_F(SessionTest, CreationFailureSendsTheSpecTextClosesAndDeletesThePod) {
  auto session = startSession(kId);
  EXPECT_CALL(runtime_, deletePod(kId.raw)).WillOnce(Return(sdk::Status::ok()));
  observer_->onPodStatus(
      {sdk::PodPhase::Failed, "Unschedulable", "Insufficient resources in cluster"});
  blocking_.drain();
  EXPECT_EQ(
      client_->text(),
      "Error: Failed to create execution pod\r\nDetails: Insufficient resources in cluster\r\n");
  EXPECT_TRUE(client_->closed());
  EXPECT_EQ(client_->closeCode(), 1011);
  EXPECT_EQ(session->state(), SessionState::Ended);
  EXPECT_EQ(ended_, 1);
}

TEST_F(SessionTest, RefusedEnsurePodIsACreationFailure) {
  ON_CALL(runtime_, ensurePod(_, _))
      .WillByDefault(Return(sdk::Status(sdk::ErrorCode::Unavailable, "cluster unreachable")));
  auto session = startSession(kId);
  blocking_.drain();
  EXPECT_THAT(client_->text(), HasSubstr("Details: cluster unreachable\r\n"));
  EXPECT_TRUE(client_->closed());
}

TEST_F(SessionTest, ReadinessTimeoutNamesTheLastStatus) {
  auto session = startSession(kId);
  observer_->onPodStatus({sdk::PodPhase::Pending, "ContainerCreating", ""});
  timers_.advance(59'999ms);
  EXPECT_FALSE(client_->closed());
  EXPECT_CALL(runtime_, deletePod(kId.raw));
  timers_.advance(1ms);
  blocking_.drain();
  EXPECT_EQ(client_->text(),
            "Error: Failed to create execution pod\r\n"
            "Details: not ready after 60 s (last status: ContainerCreating)\r\n");
  EXPECT_EQ(client_->closeCode(), 1011);
}

TEST_F(SessionTest, ReadinessTimeoutCarriesTheSchedulersMessage) {
  auto session = startSession(kId);
  observer_->onPodStatus(
      {sdk::PodPhase::Pending, "Unschedulable", "0/3 nodes are available: 3 Insufficient cpu."});
  timers_.advance(60s);
  blocking_.drain();
  EXPECT_THAT(client_->text(),
              HasSubstr("Details: not ready after 60 s (last status: Unschedulable: 0/3 nodes are "
                        "available: 3 Insufficient cpu.)\r\n"));
}

TEST_F(SessionTest, ShellIsAPtyWithTheControlledRcFile) {
  auto session = startSession(kId);
  session->resize({120, 40});
  becomeReady(*session);
  EXPECT_TRUE(shell_spec_.tty);
  EXPECT_EQ(shell_spec_.cols, 120);
  EXPECT_EQ(shell_spec_.rows, 40);
  EXPECT_EQ(shell_spec_.env.at("TERM"), "xterm-256color");
  EXPECT_EQ(shell_spec_.env.at("LANG"), "C.UTF-8");
  EXPECT_THAT(shell_spec_.argv, ::testing::Contains(HasSubstr("--rcfile")));
  // The user never reaches the wrapper script: it is a constant.
  EXPECT_THAT(shell_spec_.argv[2], ::testing::Not(HasSubstr(kId.raw)));
}

TEST_F(SessionTest, OutputSplitInsideACharacterArrivesWhole) {
  auto session = startSession(kId);
  becomeReady(*session);
  session->onStdout("price \xE2\x82", 8);
  EXPECT_EQ(client_->text(), "price ");
  session->onStdout("\xAC\n", 2);
  EXPECT_EQ(client_->text(), "price \xE2\x82\xAC\n");
  session->onStdout("\xFF", 1);
  EXPECT_EQ(client_->text(), "price \xE2\x82\xAC\n\xEF\xBF\xBD");
}

TEST_F(SessionTest, OutputArrivingBeforeOpenStreamReturnsIsNotLost) {
  auto events = std::make_shared<RecordingClient>(true);
  auto session = startSession(kId);
  session->attach(events, std::nullopt);
  auto stream = std::make_unique<NiceMock<MockExecStream>>();
  auto holder = std::make_shared<sdk::ExecStreamPtr>(std::move(stream));
  // The runtime's I/O thread delivers the first prompt while openStream is still running.
  EXPECT_CALL(runtime_, openStream(kId.raw, _, session.get()))
      .WillOnce(Invoke(
          [holder](const std::string&, const sdk::StreamSpec&, sdk::StreamObserver* observer) {
            observer->onStdout("prompt$ ", 8);
            return sdk::Result<sdk::ExecStreamPtr>(std::move(*holder));
          }));
  observer_->onPodStatus({sdk::PodPhase::Ready, "", ""});
  blocking_.drain();
  session->onStdout("more", 4);
  EXPECT_EQ(client_->text(), "prompt$ more");
  EXPECT_EQ(events->text(), "prompt$ more");
  // ready, then where the stream starts (for ?since=), then the prompt.
  const auto sent = events->events();
  ASSERT_GE(sent.size(), 2u);
  EXPECT_THAT(sent[sent.size() - 2], HasSubstr("\"type\":\"ready\""));
  EXPECT_EQ(sent.back(), messages::offsetEvent(0));
}

TEST_F(SessionTest, SlowClientPausesTheShellUntilItDrains) {
  auto session = startSession(kId);
  MockExecStream* stream = becomeReady(*session);
  client_->setCongested(true);
  EXPECT_CALL(*stream, pauseOutput()).Times(1);
  session->onStdout("a", 1);
  session->onStdout("b", 1);  // a read already under way may still arrive
  ::testing::Mock::VerifyAndClearExpectations(stream);
  session->onClientDrained();  // still congested: stays paused
  client_->setCongested(false);
  EXPECT_CALL(*stream, resumeOutput()).Times(1);
  session->onClientDrained();
}

TEST_F(SessionTest, ResizeReachesTheShell) {
  auto session = startSession(kId);
  MockExecStream* stream = becomeReady(*session);
  EXPECT_CALL(*stream, resize(100, 30));
  session->resize({100, 30});
}

TEST_F(SessionTest, GracePeriodThenThePodIsDeleted) {
  auto session = startSession(kId);
  MockExecStream* stream = becomeReady(*session);
  EXPECT_CALL(*stream, close());
  session->detach(client_.get());
  timers_.advance(29s);
  blocking_.drain();
  EXPECT_EQ(session->state(), SessionState::Ready);
  EXPECT_CALL(runtime_, deletePod(kId.raw)).WillOnce(Return(sdk::Status::ok()));
  timers_.advance(1s);
  blocking_.drain();
  EXPECT_EQ(session->state(), SessionState::Ended);
  EXPECT_EQ(ended_, 1);
}

TEST_F(SessionTest, ReattachWithinGraceKeepsTheShell) {
  auto session = startSession(kId);
  becomeReady(*session);
  session->detach(client_.get());
  timers_.advance(10s);
  auto second = std::make_shared<RecordingClient>();
  session->attach(second, std::nullopt);
  EXPECT_CALL(runtime_, deletePod(_)).Times(0);
  timers_.advance(60s);
  blocking_.drain();
  EXPECT_EQ(session->state(), SessionState::Ready);
  session->onStdout("hi", 2);
  EXPECT_EQ(second->text(), "hi");
}

TEST_F(SessionTest, ConcurrentClientsShareTheShell) {
  auto session = startSession(kId);
  auto second = std::make_shared<RecordingClient>();
  session->attach(second, std::nullopt);
  becomeReady(*session);
  session->onStdout("out", 3);
  EXPECT_EQ(client_->text(), "out");
  EXPECT_EQ(second->text(), "out");
  session->onClientInput("a");
  session->onClientInput("b");
  EXPECT_EQ(written_, "ab");
}

TEST_F(SessionTest, ShellExitTellsTheClientAndEndsTheSession) {
  options_.on_shell_exit = SessionOptions::OnShellExit::Close;
  auto session = startSession(kId);
  becomeReady(*session);
  sdk::StreamExit exit;
  exit.exit_code = 3;
  session->onExit(exit);
  blocking_.drain();
  EXPECT_THAT(client_->text(), HasSubstr("Notice: the shell exited with status 3"));
  EXPECT_EQ(client_->closeCode(), 1000);
  EXPECT_EQ(session->state(), SessionState::Ended);
}

TEST_F(SessionTest, V2ClientsGetStatusEventsInsteadOfNotices) {
  auto events = std::make_shared<RecordingClient>(true);
  auto session = startSession(kId);
  session->attach(events, std::nullopt);
  observer_->onPodStatus({sdk::PodPhase::Pending, "ContainerCreating", ""});
  becomeReady(*session);
  sdk::StreamExit exit;
  exit.exit_code = 0;
  session->onExit(exit);
  auto sent = events->events();
  ASSERT_GE(sent.size(), 4u);
  EXPECT_THAT(sent[1], HasSubstr("\"reason\":\"ContainerCreating\""));
  EXPECT_THAT(sent, ::testing::Contains(HasSubstr("\"type\":\"ready\"")));
  EXPECT_THAT(sent.back(), HasSubstr("\"type\":\"exit\""));
  EXPECT_THAT(events->text(), ::testing::Not(HasSubstr("Notice:")));
}

TEST_F(SessionTest, APodLostWhileReadyIsReplacedWhateverTheShellsRestartLimit) {
  // How often a pod is replaced is SessionPod's to bound (ALostPodIsReplaced... in
  // SessionPodTest), not the shell's: a session that may not restart its shell still gets one.
  options_.max_restarts = 0;
  auto session = startSession(kId);
  becomeReady(*session);
  observer_->onPodStatus({sdk::PodPhase::Failed, "OOMKilled", "out of memory"});
  blocking_.drain();
  EXPECT_THAT(client_->text(), HasSubstr("Notice: the pod stopped (Failed: out of memory); a new "
                                         "pod is being created"));
  EXPECT_EQ(session->state(), SessionState::Starting);
  EXPECT_FALSE(client_->closed());
}

class SessionManagerTest : public SessionTest {};

TEST_F(SessionManagerTest, SameIdSharesOneSession) {
  SessionManager manager(options_, context_);
  EXPECT_CALL(runtime_, ensurePod(_, _)).Times(1);
  auto a = manager.attach(kId, client_, std::nullopt);
  auto b = manager.attach(kId, std::make_shared<RecordingClient>(), std::nullopt);
  EXPECT_EQ(a, b);
  EXPECT_EQ(manager.sessionCount(), 1u);
  EXPECT_EQ(a->clientCount(), 2u);
}

TEST_F(SessionManagerTest, ClientArrivingWhileThePodIsDeletedGetsAFreshSessionAfterwards) {
  SessionManager manager(options_, context_);
  auto first = manager.attach(kId, client_, std::nullopt);
  first->end(1000, "test");
  EXPECT_EQ(first->state(), SessionState::Ending);
  auto late = std::make_shared<RecordingClient>();
  auto second = manager.attach(kId, late, std::nullopt);
  EXPECT_NE(first, second);
  EXPECT_EQ(second->state(), SessionState::Starting);
  // The successor asks for its pod only after the old pod is deleted.
  ::testing::InSequence order;
  EXPECT_CALL(runtime_, deletePod(kId.raw));
  EXPECT_CALL(runtime_, ensurePod(_, _));
  blocking_.drain();
  EXPECT_EQ(manager.find(kId.raw), second);
}

TEST_F(SessionManagerTest, AfterEndAllNewClientsAreTurnedAway) {
  SessionManager manager(options_, context_);
  auto first = manager.attach(kId, client_, std::nullopt);
  std::thread drain([this, &manager] {
    // endAll waits for the deletions, which run on the blocking executor.
    for (int i = 0; i < 1000 && manager.sessionCount() > 0; ++i) {
      blocking_.drain();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  manager.endAll(1001, "server shutting down", std::chrono::seconds(5));
  drain.join();
  EXPECT_EQ(client_->closeCode(), 1001);
  EXPECT_EQ(manager.sessionCount(), 0u);
  auto late = std::make_shared<RecordingClient>();
  EXPECT_EQ(manager.attach(kId, late, std::nullopt), nullptr);
  EXPECT_EQ(late->closeCode(), 1001);
}

// --- per-user limits (limits.sessions_per_user, limits.pods_per_user) --------------------------

SessionId idOf(const std::string& raw) {
  return *SessionId::parse(raw);
}

TEST_F(SessionManagerTest, ANewSessionBeyondTheUsersLimitIsRefusedWithoutAPod) {
  options_.sessions_per_user = 2;
  options_.pods_per_user = 0;
  SessionManager manager(options_, context_);
  EXPECT_CALL(runtime_, ensurePod(_, _)).Times(2);
  ASSERT_NE(manager.attach(idOf("user_1_ws_a_1"), client_, std::nullopt), nullptr);
  ASSERT_NE(
      manager.attach(idOf("user_1_ws_b_1"), std::make_shared<RecordingClient>(), std::nullopt),
      nullptr);
  auto refused = manager.admit(idOf("user_1_ws_a_2"));
  EXPECT_FALSE(refused);
  EXPECT_THAT(refused.refusal(), HasSubstr("limits.sessions_per_user = 2"));
  // A refused client given to attach anyway is closed, and still no pod is asked for.
  auto late = std::make_shared<RecordingClient>();
  EXPECT_EQ(manager.attach(idOf("user_1_ws_a_2"), late, std::nullopt), nullptr);
  EXPECT_EQ(late->closeCode(), 1008);
  EXPECT_EQ(manager.userSessions("1"), 2u);
}

TEST_F(SessionManagerTest, AttachingToALiveSessionIsNotANewSession) {
  options_.sessions_per_user = 1;
  options_.pods_per_user = 1;
  SessionManager manager(options_, context_);
  auto first = manager.attach(kId, client_, std::nullopt);
  auto again = manager.admit(kId);
  ASSERT_TRUE(again) << again.refusal();
  auto second =
      manager.attach(kId, std::move(again), std::make_shared<RecordingClient>(), std::nullopt);
  EXPECT_EQ(second, first);
  EXPECT_EQ(first->clientCount(), 2u);
}

TEST_F(SessionManagerTest, OtherUsersAreCountedApart) {
  options_.sessions_per_user = 1;
  SessionManager manager(options_, context_);
  ASSERT_NE(manager.attach(idOf("user_a_ws_w_1"), client_, std::nullopt), nullptr);
  // "a-b" shares a prefix with "a" but is another user.
  EXPECT_TRUE(manager.admit(idOf("user_a-b_ws_w_1")));
  EXPECT_TRUE(manager.admit(idOf("user_b_ws_w_1")));
  EXPECT_FALSE(manager.admit(idOf("user_a_ws_w_2")));
}

TEST_F(SessionManagerTest, AnAdmissionHoldsItsPlaceUntilAttachedOrDropped) {
  options_.sessions_per_user = 1;
  SessionManager manager(options_, context_);
  std::optional<SessionManager::Admission> first = manager.admit(idOf("user_1_ws_a_1"));
  ASSERT_TRUE(*first);
  // The upgrade of a second id races the first one's: the reservation already counts.
  EXPECT_FALSE(manager.admit(idOf("user_1_ws_b_1")));
  // A second upgrade of the same id is the same session.
  EXPECT_TRUE(manager.admit(idOf("user_1_ws_a_1")));
  first.reset();  // the first handshake failed before attach
  EXPECT_EQ(manager.userSessions("1"), 0u);
  auto second = manager.admit(idOf("user_1_ws_b_1"));
  ASSERT_TRUE(second);
  ASSERT_NE(manager.attach(idOf("user_1_ws_b_1"), std::move(second), client_, std::nullopt),
            nullptr);
  EXPECT_EQ(manager.userSessions("1"), 1u);  // the entry took the reservation's place
  EXPECT_FALSE(manager.admit(idOf("user_1_ws_c_1")));
}

TEST_F(SessionManagerTest, ConcurrentAdmissionsAtTheLimitGrantExactlyTheLimit) {
  options_.sessions_per_user = 3;
  SessionManager manager(options_, context_);
  constexpr int kThreads = 16;
  std::vector<std::optional<SessionManager::Admission>> admissions(kThreads);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      admissions[i] = manager.admit(idOf("user_1_ws_w_" + std::to_string(i)));
    });
  }
  go = true;
  for (auto& thread : threads) thread.join();
  int granted = 0;
  for (auto& admission : admissions) granted += *admission ? 1 : 0;
  EXPECT_EQ(granted, 3);
  EXPECT_EQ(manager.userSessions("1"), 3u);
}

TEST_F(SessionManagerTest, AnEndingSessionStillHoldsItsPodButNotASession) {
  options_.sessions_per_user = 1;
  options_.pods_per_user = 1;
  SessionManager manager(options_, context_);
  auto first = manager.attach(kId, client_, std::nullopt);
  first->end(1000, "test");  // deleting its pod (queued on blocking_)
  EXPECT_EQ(manager.userSessions("1"), 0u);
  EXPECT_EQ(manager.userPods("1"), 1u);
  auto other = manager.admit(idOf("user_1_ws_other_1"));
  EXPECT_FALSE(other);
  EXPECT_THAT(other.refusal(), HasSubstr("limits.pods_per_user = 1"));
  // The same id gets a successor for the same pod name: no new pod.
  EXPECT_TRUE(manager.admit(kId));
  blocking_.drain();
  EXPECT_EQ(manager.userPods("1"), 0u);
  EXPECT_TRUE(manager.admit(idOf("user_1_ws_other_1")));
}

TEST_F(SessionManagerTest, ZeroMeansUnlimited) {
  options_.sessions_per_user = 0;
  options_.pods_per_user = 0;
  SessionManager manager(options_, context_);
  for (int i = 0; i < 50; ++i) {
    ASSERT_NE(manager.attach(idOf("user_1_ws_w_" + std::to_string(i)),
                             std::make_shared<RecordingClient>(), std::nullopt),
              nullptr);
  }
  EXPECT_EQ(manager.userSessions("1"), 50u);
}

}  // namespace
}  // namespace podterm::host
