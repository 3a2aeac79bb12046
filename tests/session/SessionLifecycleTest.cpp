// Issue 9's session lifecycle: screen replay on reattach, resuming with ?since=N, a fresh shell
// when the shell exits, and idle culling, each against a Session with a mock runtime and stream.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "SessionFixture.h"
#include "podterm/testing/mocks.h"
#include "session/HostMessages.h"
#include "session/Session.h"
#include "term/ScreenState.h"

namespace podterm::host {
namespace {

using ::testing::_;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Not;
using ::testing::Return;
using namespace std::chrono_literals;
using podterm::testing::MockExecStream;
using testing::RecordingClient;

const SessionId kId = *SessionId::parse("user_1_ws_abc123_1234567890_uuid");

std::string text(const ScreenState& screen, int row, int col, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    auto cell = screen.cellAt(row, col + i);
    out += cell.chars.empty() ? ' ' : static_cast<char>(cell.chars[0]);
  }
  return out;
}

class SessionLifecycleTest : public testing::SessionFixture {
 protected:
  void SetUp() override {
    options_.grace_period = 30s;
    useVirtualClock();
  }

  void onShellOpened(const sdk::StreamSpec& spec) override {
    nonce_ = spec.env.count("PODTERM_NONCE") ? spec.env.at("PODTERM_NONCE") : "";
  }

  void output(Session& session, const std::string& bytes) {
    session.onStdout(bytes.data(), bytes.size());
  }

  std::string nonce_;
};

// --- Screen replay ------------------------------------------------------------------------------

TEST_F(SessionLifecycleTest, ReattachReplaysTheScreenThenTheLiveStream) {
  auto session = makeReady(kId);
  // A full-screen program: alternate screen, cleared, text drawn at positions.
  const std::string drawn =
      "$ top\r\n\x1b[?1049h\x1b[2J\x1b[1;1HPID USER\x1b[5;10H\x1b[1mbusy\x1b[0m";
  output(*session, drawn);
  session->detach(client_.get());
  auto again = std::make_shared<RecordingClient>();
  session->attach(again, std::nullopt);
  const std::string live = "\x1b[6;1Hlive";
  output(*session, live);

  const std::string got = again->text();
  ASSERT_EQ(got.rfind("\033c", 0), 0u) << "a reset comes first";
  ScreenState client(24, 80, 100);
  client.feed(got);
  EXPECT_TRUE(client.modes().altScreen);
  EXPECT_EQ(text(client, 0, 0, 8), "PID USER");
  EXPECT_EQ(text(client, 4, 9, 4), "busy");
  EXPECT_TRUE(client.cellAt(4, 9).bold);
  EXPECT_EQ(text(client, 5, 0, 4), "live");
  EXPECT_EQ(session->outputOffset(), drawn.size() + live.size());
}

TEST_F(SessionLifecycleTest, ReplayIsDrawnAtTheNewClientsSize) {
  auto session = makeReady(kId);
  output(*session, "\x1b[2J\x1b[3;3Hhere");
  auto tab = std::make_shared<RecordingClient>();
  session->attach(tab, TerminalSize{100, 30});
  ScreenState client(30, 100, 100);
  client.feed(tab->text());
  EXPECT_EQ(text(client, 2, 2, 4), "here");
}

TEST_F(SessionLifecycleTest, V2ClientsAreToldToClearAndWhereTheStreamResumes) {
  auto session = makeReady(kId);
  output(*session, "hello");
  auto tab = std::make_shared<RecordingClient>(true);
  session->attach(tab, std::nullopt);
  EXPECT_THAT(tab->events(), Contains(messages::replayEvent(5)));
  EXPECT_EQ(tab->events().back(), messages::offsetEvent(5));
}

TEST_F(SessionLifecycleTest, NewSessionGetsNoReplay) {
  auto events = std::make_shared<RecordingClient>(true);
  auto session = makeReady(kId);
  session->attach(events, std::nullopt);  // ready, but nothing produced yet
  output(*session, "$ ");
  EXPECT_EQ(client_->text(), "$ ");
  EXPECT_EQ(events->text(), "$ ");
}

// Output keeps coming on another thread while clients attach: each client's bytes are exactly the
// stream, whatever the moment it attached (resume from 0 and the live stream, never a gap or
// a repeated chunk).
TEST_F(SessionLifecycleTest, NothingLostOrDoubledBetweenCatchUpAndLiveStream) {
  auto session = makeReady(kId);
  std::atomic<bool> stop{false};
  std::atomic<bool> go{false};
  std::string produced;
  std::thread producer([&] {
    // Output is cheap enough to be over before a first attach: start with the first client, so
    // the others attach while it runs.
    while (!go) std::this_thread::yield();
    for (int i = 0; i < 3000; ++i) {
      std::string chunk = "<" + std::to_string(i) + ">";
      produced += chunk;
      session->onStdout(chunk.data(), chunk.size());
    }
    stop = true;
  });
  std::vector<std::shared_ptr<RecordingClient>> clients;
  while (!stop && clients.size() < 200) {
    clients.push_back(std::make_shared<RecordingClient>());
    session->attach(clients.back(), std::nullopt, uint64_t{0});
    go = true;
  }
  producer.join();
  ASSERT_FALSE(clients.empty());
  for (const auto& client : clients) ASSERT_EQ(client->text(), produced);
}

// --- ?since=N -----------------------------------------------------------------------------------

TEST_F(SessionLifecycleTest, WithTakeOverTheNewestClientHasTheTerminalAndTheOlderIsToldAndClosed) {
  options_.attach_mode = SessionOptions::AttachMode::TakeOver;
  auto session = makeReady(kId);
  auto first = std::make_shared<RecordingClient>();
  auto second = std::make_shared<RecordingClient>(true);
  session->attach(first, std::nullopt);
  output(*session, "one\r\n");
  session->attach(second, std::nullopt);
  EXPECT_TRUE(first->closed());
  EXPECT_EQ(first->closeCode(), Session::kTakenOverCode);
  EXPECT_THAT(first->text(), HasSubstr("Notice: this terminal was opened elsewhere"));
  EXPECT_FALSE(second->closed());
  EXPECT_THAT(second->text(), HasSubstr("one"));  // its replay
  output(*session, "two\r\n");
  EXPECT_THAT(second->text(), HasSubstr("two"));
  EXPECT_EQ(first->text().find("two"), std::string::npos);
  EXPECT_EQ(session->clientCount(), 1u);
}

TEST_F(SessionLifecycleTest, ByDefaultEveryClientSharesTheTerminal) {
  auto session = makeReady(kId);
  const size_t before = session->clientCount();
  auto first = std::make_shared<RecordingClient>();
  auto second = std::make_shared<RecordingClient>();
  session->attach(first, std::nullopt);
  session->attach(second, std::nullopt);
  output(*session, "both\r\n");
  EXPECT_FALSE(first->closed());
  EXPECT_THAT(first->text(), HasSubstr("both"));
  EXPECT_THAT(second->text(), HasSubstr("both"));
  EXPECT_EQ(session->clientCount(), before + 2);
}

TEST_F(SessionLifecycleTest, SinceGetsExactlyTheMissingBytes) {
  auto session = makeReady(kId);
  output(*session, "abc");
  output(*session, "déf");
  auto tab = std::make_shared<RecordingClient>(true);
  session->attach(tab, std::nullopt, uint64_t{2});
  output(*session, "g");
  EXPECT_EQ(tab->text(), "cdéfg");
  EXPECT_EQ(tab->events().back(), messages::offsetEvent(2));
  auto current = std::make_shared<RecordingClient>();
  session->attach(current, std::nullopt, uint64_t{8});
  EXPECT_EQ(current->text(), "");
}

TEST_F(SessionLifecycleTest, SinceTooOldInTheFutureOrInsideACharacterReplaysWithANotice) {
  options_.output_log_bytes = 8;
  auto session = makeReady(kId);
  output(*session, "0123456789é");
  for (uint64_t since : {uint64_t{1}, uint64_t{100}, uint64_t{11}}) {
    auto tab = std::make_shared<RecordingClient>();
    session->attach(tab, std::nullopt, since);
    EXPECT_EQ(tab->text().rfind("\033c", 0), 0u) << since;
    EXPECT_THAT(tab->text(), HasSubstr("Notice: cannot resume from byte " + std::to_string(since)));
    ScreenState client(24, 80, 100);
    client.feed(tab->text());
    EXPECT_EQ(text(client, 0, 0, 10), "0123456789");
  }
}

// --- The shell exits ----------------------------------------------------------------------------

TEST_F(SessionLifecycleTest, ShellExitStartsAFreshShellInTheSamePod) {
  auto session = makeReady(kId);
  auto events = std::make_shared<RecordingClient>(true);
  session->attach(events, std::nullopt);
  EXPECT_CALL(runtime_, deletePod(_)).Times(0);
  sdk::StreamExit exit;
  exit.exit_code = 3;
  session->onExit(exit);
  blocking_.drain();
  EXPECT_THAT(client_->text(),
              HasSubstr("Notice: the shell exited with status 3; a new shell starts in the same "
                        "pod"));
  EXPECT_THAT(events->events(), Contains(messages::exitEvent(3, 0, true)));
  EXPECT_EQ(shells_, 2);
  EXPECT_EQ(closed_streams_, 1);
  EXPECT_EQ(session->state(), SessionState::Ready);
  EXPECT_FALSE(client_->closed());
  output(*session, "$ ");
  EXPECT_THAT(client_->text(), ::testing::EndsWith("$ "));
}

TEST_F(SessionLifecycleTest, KilledShellSaysWhichSignal) {
  auto session = makeReady(kId);
  sdk::StreamExit exit;
  exit.exit_code = 137;
  exit.signal = 9;
  session->onExit(exit);
  blocking_.drain();
  EXPECT_THAT(client_->text(), HasSubstr("Notice: the shell was killed by signal 9"));
  EXPECT_EQ(session->state(), SessionState::Ready);
}

TEST_F(SessionLifecycleTest, RestartLoopIsBoundedThenTheSessionEnds) {
  auto session = makeReady(kId);
  sdk::StreamExit exit;
  exit.exit_code = 1;
  for (int i = 0; i < 5; ++i) {
    session->onExit(exit);
    blocking_.drain();
    ASSERT_EQ(session->state(), SessionState::Ready) << i;
    timers_.advance(1s);
  }
  EXPECT_CALL(runtime_, deletePod(kId.raw)).WillOnce(Return(sdk::Status::ok()));
  session->onExit(exit);
  blocking_.drain();
  EXPECT_THAT(client_->text(), HasSubstr("Notice: the shell exited 6 times within 1 min"));
  EXPECT_EQ(session->state(), SessionState::Ended);
  EXPECT_EQ(client_->closeCode(), 1000);
  EXPECT_EQ(shells_, 6);
}

TEST_F(SessionLifecycleTest, RestartsOutsideTheWindowDoNotCount) {
  auto session = makeReady(kId);
  sdk::StreamExit exit;
  for (int i = 0; i < 12; ++i) {
    session->onExit(exit);
    blocking_.drain();
    ASSERT_EQ(session->state(), SessionState::Ready) << i;
    timers_.advance(13s);
  }
}

TEST_F(SessionLifecycleTest, OnShellExitCloseEndsTheSession) {
  options_.on_shell_exit = SessionOptions::OnShellExit::Close;
  auto session = makeReady(kId);
  sdk::StreamExit exit;
  exit.exit_code = 3;
  session->onExit(exit);
  blocking_.drain();
  EXPECT_THAT(client_->text(), HasSubstr("Notice: the shell exited with status 3\r\n"));
  EXPECT_EQ(client_->closeCode(), 1000);
  EXPECT_EQ(session->state(), SessionState::Ended);
  EXPECT_EQ(shells_, 1);
}

TEST_F(SessionLifecycleTest, ReplayAfterARestartShowsTheOldScreenAndTheNewPrompt) {
  auto session = makeReady(kId);
  output(*session, "old output\r\n$ exit\r\n");
  session->onExit(sdk::StreamExit{});
  blocking_.drain();
  output(*session, "$ ");
  auto tab = std::make_shared<RecordingClient>();
  session->attach(tab, std::nullopt);
  ScreenState client(24, 80, 100);
  client.feed(tab->text());
  EXPECT_EQ(text(client, 0, 0, 10), "old output");
  EXPECT_EQ(text(client, 2, 0, 1), "$");
}

// --- Idle culling -------------------------------------------------------------------------------

class IdleTest : public SessionLifecycleTest {
 protected:
  void SetUp() override {
    SessionLifecycleTest::SetUp();
    options_.idle_timeout = 60s;
    options_.idle_warning = 10s;
  }
};

TEST_F(IdleTest, NoticeThenTheSessionEndsLikeAGracePeriodEnd) {
  auto session = makeReady(kId);
  timers_.advance(49s);
  EXPECT_THAT(client_->text(), Not(HasSubstr("Notice:")));
  timers_.advance(1s);
  EXPECT_THAT(client_->text(), HasSubstr("Notice: this session ends in 10 s unless it is used"));
  EXPECT_CALL(runtime_, deletePod(kId.raw)).WillOnce(Return(sdk::Status::ok()));
  timers_.advance(10s);
  blocking_.drain();
  EXPECT_THAT(client_->text(), HasSubstr("Notice: this session was idle for 1 min"));
  EXPECT_EQ(client_->closeCode(), 1001);
  EXPECT_EQ(client_->closeReason(), "session idle");
  EXPECT_EQ(session->state(), SessionState::Ended);
}

TEST_F(IdleTest, InputOrOutputResetsTheClock) {
  auto session = makeReady(kId);
  timers_.advance(55s);  // warned
  session->onClientInput("x");
  timers_.advance(30s);
  output(*session, "tick");
  timers_.advance(59s);
  blocking_.drain();
  EXPECT_EQ(session->state(), SessionState::Ready);
  timers_.advance(1s);
  blocking_.drain();
  EXPECT_EQ(session->state(), SessionState::Ended);
}

TEST_F(IdleTest, ARunningCommandIsNotIdle) {
  auto session = makeReady(kId);
  ASSERT_FALSE(nonce_.empty());
  output(*session, "\x1b]133;C;" + nonce_ + "\a");  // `sleep 600` starts, prints nothing
  timers_.advance(10min);
  blocking_.drain();
  EXPECT_EQ(session->state(), SessionState::Ready);
  output(*session, "\x1b]133;D;0;" + nonce_ + "\a");  // and ends
  timers_.advance(2min);
  blocking_.drain();
  EXPECT_EQ(session->state(), SessionState::Ended);
}

TEST_F(IdleTest, OffByDefault) {
  options_.idle_timeout = 0s;
  auto session = makeReady(kId);
  timers_.advance(23h);
  blocking_.drain();
  EXPECT_EQ(session->state(), SessionState::Ready);
}

// --- Memory -------------------------------------------------------------------------------------

TEST_F(SessionLifecycleTest, IdleSessionStateMemoryIsReported) {
  auto session = makeReady(kId);
  output(*session, "user@pod:~$ ");
  const size_t idle = session->terminalStateBytes();
  // A used one: the log full, 1000 lines of `ls -l`-like scrollback.
  for (int i = 0; i < 20000; ++i) {
    output(*session,
           "-rw-r--r-- 1 user user  4096 Nov 25 23:00 file-" + std::to_string(i) + ".txt\r\n");
  }
  const size_t used = session->terminalStateBytes();
  auto tab = std::make_shared<RecordingClient>();
  const auto t0 = std::chrono::steady_clock::now();
  session->attach(tab, std::nullopt);
  const auto took = std::chrono::steady_clock::now() - t0;
  std::printf(
      "[ figures  ] reattach state of an 80x24 session: %zu bytes fresh, %zu bytes with a full "
      "log and scrollback; its replay: %zu bytes in %lld us\n",
      idle, used, tab->text().size(),
      static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
  EXPECT_LT(idle, 256u * 1024);
  EXPECT_LT(used, options_.output_log_bytes + 512 * 1024);
}

// --- Faults: broken streams, lost pods, a backend that retries ---

TEST_F(SessionLifecycleTest, ABrokenStreamIsReopenedAfterABackoffEvenWhenExitsClose) {
  options_.on_shell_exit = SessionOptions::OnShellExit::Close;
  auto session = makeReady(kId);
  sdk::StreamExit broken;
  broken.error = sdk::Status(sdk::ErrorCode::Unavailable, "the exec connection was lost");
  session->onExit(broken);
  EXPECT_THAT(client_->text(), HasSubstr("Notice: the connection to the shell broke: the exec "
                                         "connection was lost; it is reopened in the same pod"));
  blocking_.drain();
  EXPECT_EQ(shells_, 1);  // not at once
  timers_.advance(250ms);
  blocking_.drain();
  EXPECT_EQ(shells_, 2);
  EXPECT_EQ(session->state(), SessionState::Ready);
  EXPECT_FALSE(client_->closed());
  // The next break waits twice as long.
  session->onExit(broken);
  timers_.advance(250ms);
  blocking_.drain();
  EXPECT_EQ(shells_, 2);
  timers_.advance(250ms);
  blocking_.drain();
  EXPECT_EQ(shells_, 3);
}

TEST_F(SessionLifecycleTest, AStreamThatBreaksBeforeItsOpenReturnsIsReopenedToo) {
  auto session = makeReady(kId);
  // The runtime reports the new stream's failure before openStream() has returned it.
  EXPECT_CALL(runtime_, openStream(_, _, _))
      .WillOnce(
          Invoke([this](const std::string&, const sdk::StreamSpec&, sdk::StreamObserver* observer) {
            ++shells_;
            sdk::StreamExit refused;
            refused.error = sdk::Status(sdk::ErrorCode::Unavailable, "exec refused (HTTP 500)");
            observer->onExit(refused);
            return sdk::Result<sdk::ExecStreamPtr>(
                sdk::ExecStreamPtr(std::make_unique<NiceMock<MockExecStream>>()));
          }))
      .WillRepeatedly(
          Invoke([this](const std::string&, const sdk::StreamSpec&, sdk::StreamObserver*) {
            ++shells_;
            return sdk::Result<sdk::ExecStreamPtr>(
                sdk::ExecStreamPtr(std::make_unique<NiceMock<MockExecStream>>()));
          }));
  session->onExit(sdk::StreamExit{});  // the shell exits: a new one at once, which is refused
  blocking_.drain();
  EXPECT_EQ(shells_, 2);
  EXPECT_THAT(client_->text(), HasSubstr("exec refused (HTTP 500); it is reopened"));
  timers_.advance(1s);
  blocking_.drain();
  EXPECT_EQ(shells_, 3);
  EXPECT_EQ(session->state(), SessionState::Ready);
}

TEST_F(SessionLifecycleTest, ALostPodIsReplacedAndTheShellStartsInTheNewOne) {
  auto session = makeReady(kId);
  output(*session, "before the eviction\r\n");
  ::testing::InSequence order;
  EXPECT_CALL(runtime_, stopObserving(kId.raw));
  EXPECT_CALL(runtime_, deletePod(kId.raw)).WillOnce(Return(sdk::Status::ok()));
  EXPECT_CALL(runtime_, ensurePod(_, _))
      .WillOnce(Invoke([this](const sdk::PodSpec& spec, sdk::PodObserver* observer) {
        EXPECT_EQ(spec.session_id, kId.raw);
        observer_ = observer;
        return sdk::Status::ok();
      }));
  observer_->onPodStatus({sdk::PodPhase::Failed, "Evicted", "the node was low on memory"});
  EXPECT_EQ(session->state(), SessionState::Starting);
  blocking_.drain();
  EXPECT_THAT(client_->text(),
              HasSubstr("Notice: the pod stopped (Failed: the node was low on memory); a new pod "
                        "is being created and your files are loaded into it from their last save"));
  EXPECT_EQ(closed_streams_, 1);
  session->onClientInput("ls\n");  // queued until the new shell runs
  EXPECT_THAT(client_->text(), HasSubstr("Current status: Replacing"));
  observer_->onPodStatus({sdk::PodPhase::Ready, "", ""});
  blocking_.drain();
  EXPECT_EQ(session->state(), SessionState::Ready);
  EXPECT_EQ(shells_, 2);
  EXPECT_FALSE(client_->closed());
  // The screen so far is kept for a reattach.
  auto again = std::make_shared<RecordingClient>();
  session->attach(again, std::nullopt);
  EXPECT_THAT(again->text(), HasSubstr("before the eviction"));
}

TEST_F(SessionLifecycleTest, AReplacementPodThatFailsEndsTheSession) {
  auto session = makeReady(kId);
  observer_->onPodStatus({sdk::PodPhase::Gone, "Deleted", "the pod was deleted"});
  blocking_.drain();
  observer_->onPodStatus({sdk::PodPhase::Failed, "Unschedulable", "Insufficient cpu"});
  blocking_.drain();
  EXPECT_THAT(client_->text(), HasSubstr("Details: Insufficient cpu"));
  EXPECT_EQ(client_->closeCode(), 1011);
  EXPECT_EQ(ended_, 1);
}

TEST_F(SessionLifecycleTest, ARuntimeRetryingItsBackendIsToldOncePerRetryingPeriod) {
  Session::Context context{runtime_, timers_, blocking_};
  auto session = std::make_shared<Session>(kId, options_, context, nullptr);
  session->attach(client_, std::nullopt);
  session->start();
  observer_->onPodStatus({sdk::PodPhase::Pending, "Retrying",
                          "the Kubernetes API failed (HTTP 500: boom); retrying in 0.2 s"});
  observer_->onPodStatus({sdk::PodPhase::Pending, "Retrying",
                          "the Kubernetes API failed (HTTP 500: boom); retrying in 0.4 s"});
  EXPECT_EQ(client_->text(),
            "\r\nNotice: the Kubernetes API failed (HTTP 500: boom); retrying in 0.2 s\r\n");
  observer_->onPodStatus({sdk::PodPhase::Ready, "", ""});
  blocking_.drain();
  EXPECT_EQ(session->state(), SessionState::Ready);
}

}  // namespace
}  // namespace podterm::host
