#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>

#include "SessionFixture.h"
#include "podterm/testing/mocks.h"
#include "session/Session.h"
#include "session/SessionManager.h"
#include "session/SessionSync.h"
#include "session/ShellIntegration.h"

namespace podterm::host {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Return;
using namespace std::chrono_literals;
using podterm::testing::MockSyncPolicy;
using testing::RecordingClient;

const SessionId kId = *SessionId::parse("user_1_ws_abc123_sync");

// Answers load/sync from a script of outcomes (default: ok) and records the calls in order.
class ScriptedSyncer : public WorkspaceSyncer {
 public:
  SyncOutcome load(const SessionId&) override { return next("load"); }
  SyncOutcome sync(const SessionId&) override { return next("sync"); }
  void forget(const SessionId&) override { calls.push_back("forget"); }

  void failNext(int times, bool retryable = true) {
    for (int i = 0; i < times; ++i) {
      SyncOutcome outcome;
      outcome.ok = false;
      outcome.retryable = retryable;
      outcome.error = "database unreachable";
      script.push_back(outcome);
    }
  }
  void failQuota(int times) {
    for (int i = 0; i < times; ++i) {
      SyncOutcome outcome;
      outcome.ok = false;
      outcome.quota_exceeded = true;
      outcome.error = "workspace quota exceeded: the files would take 12.0 KiB";
      script.push_back(outcome);
    }
  }
  int count(const std::string& what) const {
    return static_cast<int>(std::count(calls.begin(), calls.end(), what));
  }

  std::vector<std::string> calls;
  std::deque<SyncOutcome> script;
  std::vector<std::string> changed{"hello.txt"};

 private:
  SyncOutcome next(const std::string& what) {
    calls.push_back(what);
    if (script.empty()) {
      SyncOutcome ok;
      ok.changed = changed;
      return ok;
    }
    SyncOutcome outcome = script.front();
    script.pop_front();
    return outcome;
  }
};

class SessionSyncTest : public testing::SessionFixture {
 protected:
  void SetUp() override {
    options_.sync.retry_min = 1000ms;
    options_.sync.retry_max = 4000ms;
    options_.sync.final_attempts = 2;
    options_.sync.retry_min = 1ms;  // finalSync pauses for real between attempts
    context_.syncer = &syncer_;
    context_.policy = &policy_;
    ON_CALL(policy_, afterCommand(_)).WillByDefault(Return(sdk::SyncDecision::Sync));
    ON_CALL(policy_, idleSyncAfterMs()).WillByDefault(Return(0));
  }

  // The runtime's calls go into the syncer's log, so a test sees them in order with its own.
  void onShellOpened(const sdk::StreamSpec&) override { syncer_.calls.push_back("shell"); }
  void onPodDeleted(const std::string&) override { syncer_.calls.push_back("delete"); }

  sdk::FinishedCommand command(const std::string& line) {
    sdk::FinishedCommand finished;
    finished.session_id = kId.raw;
    finished.command_line = line;
    return finished;
  }

  NiceMock<MockSyncPolicy> policy_;
  ScriptedSyncer syncer_;
};

TEST_F(SessionSyncTest, TheWorkspaceIsLoadedBeforeTheShellStarts) {
  auto session = startReady(kId, std::make_shared<RecordingClient>());
  EXPECT_EQ(syncer_.calls, (std::vector<std::string>{"load", "shell"}));
}

TEST_F(SessionSyncTest, ThePolicyDecidesAfterEachCommand) {
  auto session = startReady(kId, std::make_shared<RecordingClient>());
  EXPECT_CALL(policy_, afterCommand(::testing::Field(&sdk::FinishedCommand::command_line, "ls")))
      .WillOnce(Return(sdk::SyncDecision::Skip));
  EXPECT_CALL(policy_,
              afterCommand(::testing::Field(&sdk::FinishedCommand::command_line, "touch a")))
      .WillOnce(Return(sdk::SyncDecision::Sync));
  session->onCommandFinished(command("ls"));
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 0);
  session->onCommandFinished(command("touch a"));
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 1);
}

TEST_F(SessionSyncTest, TriggersDuringASyncCoalesceIntoOneMoreRun) {
  auto session = startReady(kId, std::make_shared<RecordingClient>());
  session->onCommandFinished(command("a"));  // starts a run (queued on the executor)
  session->onCommandFinished(command("b"));  // while it runs: one more later
  session->onCommandFinished(command("c"));  // coalesces with b
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 2);
}

TEST_F(SessionSyncTest, V2ClientsHearOfEachSync) {
  auto client = std::make_shared<RecordingClient>(true);
  auto session = startReady(kId, client);
  session->onCommandFinished(command("touch hello.txt"));
  blocking_.drain();
  EXPECT_THAT(client->events(),
              ::testing::Contains(HasSubstr(R"("changed":["hello.txt"],"deleted":[])")));
}

TEST_F(SessionSyncTest, AnUnreachableDatabaseIsRetriedAndTheUserIsToldOnceThenOnRecovery) {
  auto client = std::make_shared<RecordingClient>();
  auto session = startReady(kId, client);
  syncer_.failNext(2);
  session->onCommandFinished(command("touch a"));
  blocking_.drain();
  EXPECT_THAT(client->text(),
              HasSubstr("Notice: your files are not being saved: database unreachable (retrying)"));
  timers_.advance(1ms);  // first retry after the minimum backoff: fails again, quietly
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 2);
  timers_.advance(1ms);  // the backoff doubled: not yet
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 2);
  timers_.advance(1ms);
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 3);
  std::string text = client->text();
  EXPECT_EQ(text.find("not being saved"), text.rfind("not being saved"));
  EXPECT_THAT(text, HasSubstr("Notice: your files are being saved again"));
}

TEST_F(SessionSyncTest, TheFinalSyncRunsBeforeThePodIsDeleted) {
  auto client = std::make_shared<RecordingClient>();
  auto session = startReady(kId, client);
  session->end(1000, "done");
  blocking_.drain();
  EXPECT_EQ(syncer_.calls, (std::vector<std::string>{"load", "shell", "sync", "forget", "delete"}));
}

TEST_F(SessionSyncTest, APodWhoseFilesCannotBeSavedIsKept) {
  auto client = std::make_shared<RecordingClient>();
  auto session = startReady(kId, client);
  syncer_.failNext(5);
  EXPECT_CALL(runtime_, deletePod(_)).Times(0);
  session->end(1000, "done");
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 2);  // final_attempts
  EXPECT_EQ(session->state(), SessionState::Ended);
}

TEST_F(SessionSyncTest, IdleActivitySyncsOnceQuiet) {
  ON_CALL(policy_, idleSyncAfterMs()).WillByDefault(Return(5000));
  auto session = startReady(kId, std::make_shared<RecordingClient>());
  session->onClientInput("i");  // typing in an editor: no Enter, no command boundary
  timers_.advance(3000ms);
  session->onClientInput("x");  // still busy at the first look
  timers_.advance(2000ms);
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 0);
  timers_.advance(5000ms);  // a whole quiet period
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 1);
  timers_.advance(60000ms);  // nothing happened since: no more syncs
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 1);
}

TEST_F(SessionSyncTest, WithoutMarkersTheLineTypedAtEnterStandsInForTheCommand) {
  auto session = startReady(kId, std::make_shared<RecordingClient>());
  EXPECT_CALL(policy_, afterCommand(::testing::Field(&sdk::FinishedCommand::command_line,
                                                     "touch hello.txt")))
      .WillOnce(Return(sdk::SyncDecision::Sync));
  session->onClientInput("touch hello.tx");
  session->onClientInput("t\r");
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 0);  // asked only once the command had a moment to run
  timers_.advance(500ms);
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 1);
}

TEST_F(SessionSyncTest, ShellMarkersAreStrippedAndEndCommands) {
  auto client = std::make_shared<RecordingClient>();
  auto session = startReady(kId, client);
  const std::string nonce = shell_spec_.env.at("PODTERM_NONCE");
  ASSERT_EQ(nonce.size(), 16u);
  EXPECT_CALL(policy_, afterCommand(::testing::AllOf(
                           ::testing::Field(&sdk::FinishedCommand::command_line, "touch a"),
                           ::testing::Field(&sdk::FinishedCommand::exit_code, 0))))
      .WillOnce(Return(sdk::SyncDecision::Sync));
  std::string output =
      commandStartMarkers("touch a", nonce) + "done\r\n" + commandEndMarker(0, nonce) + "$ ";
  // Split inside a marker: the parser holds the partial sequence.
  session->onStdout(output.data(), 5);
  session->onStdout(output.data() + 5, output.size() - 5);
  blocking_.drain();
  EXPECT_EQ(client->text(), "done\r\n$ ");
  EXPECT_EQ(syncer_.count("sync"), 1);
  // Once markers were seen, typed lines no longer stand in for commands.
  session->onClientInput("ls\r");
  timers_.advance(1000ms);
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 1);
}

TEST_F(SessionSyncTest, WithoutACommandLineInTheMarkersTheTypedLineIsUsed) {
  auto session = startReady(kId, std::make_shared<RecordingClient>());
  const std::string nonce = shell_spec_.env.at("PODTERM_NONCE");
  EXPECT_CALL(policy_,
              afterCommand(::testing::Field(&sdk::FinishedCommand::command_line, "touch b")))
      .WillOnce(Return(sdk::SyncDecision::Sync));
  session->onClientInput("touch b\r");
  // What our bash prints: C from PS0, D from PROMPT_COMMAND, no E.
  std::string output = "\x1b]133;C;" + nonce + "\a" + commandEndMarker(0, nonce) + "$ ";
  session->onStdout(output.data(), output.size());
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 1);
}

TEST_F(SessionSyncTest, AQuotaRefusalIsToldOnceEvenAfterAnOutageAndItsEndToo) {
  auto client = std::make_shared<RecordingClient>();
  auto session = startReady(kId, client);
  syncer_.failNext(1);
  syncer_.failQuota(2);
  session->onCommandFinished(command("a"));
  blocking_.drain();
  timers_.advance(1ms);  // the retry of the outage meets the quota: a new reason, told again
  blocking_.drain();
  EXPECT_THAT(client->text(), HasSubstr("Notice: your files are not being saved: workspace quota "
                                        "exceeded: the files would take 12.0 KiB\r\n"));
  timers_.advance(60s);  // a quota refusal is not retried by itself
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 2);
  session->onCommandFinished(command("b"));  // still over: refused quietly
  blocking_.drain();
  session->onCommandFinished(command("rm big"));
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync"), 4);
  std::string text = client->text();
  EXPECT_EQ(text.find("quota exceeded"), text.rfind("quota exceeded"));
  EXPECT_THAT(text, HasSubstr("Notice: your files are being saved again"));
}

// --- limits.max_session_lifetime_s ------------------------------------------------------------

TEST_F(SessionSyncTest, ALifetimeEndIsNoticedThenSyncsDeletesThePodAndClosesWith1001) {
  options_.max_lifetime = 100s;
  options_.lifetime_notice = 5s;
  auto client = std::make_shared<RecordingClient>();
  bool closed_before_delete = true;
  ON_CALL(runtime_, deletePod(_)).WillByDefault(Invoke([&](const std::string&) {
    syncer_.calls.push_back("delete");
    closed_before_delete = client->closed();
    return sdk::Status::ok();
  }));
  auto session = startReady(kId, client);
  timers_.advance(94'999ms);
  EXPECT_THAT(client->text(), ::testing::Not(HasSubstr("ends in")));
  timers_.advance(1ms);
  EXPECT_THAT(client->text(),
              HasSubstr("Notice: this session ends in 5 s: sessions last at most 100 s."));
  timers_.advance(5s);
  EXPECT_THAT(client->text(), HasSubstr("Notice: this session reached its maximum lifetime of "
                                        "100 s: saving your files, then stopping its pod."));
  EXPECT_EQ(session->state(), SessionState::Ending);
  EXPECT_FALSE(client->closed());  // still attached through the final sync
  blocking_.drain();
  EXPECT_EQ(syncer_.calls, (std::vector<std::string>{"load", "shell", "sync", "forget", "delete"}));
  EXPECT_FALSE(closed_before_delete);
  EXPECT_EQ(client->closeCode(), 1001);
  EXPECT_EQ(client->closeReason(), "session lifetime reached");
  EXPECT_EQ(session->state(), SessionState::Ended);
  EXPECT_FALSE(session->podKept());
}

TEST_F(SessionSyncTest, V2ClientsGetTheLifetimeNoticesAsEvents) {
  options_.max_lifetime = 10s;  // notice a tenth before: 1 s
  auto client = std::make_shared<RecordingClient>(true);
  auto session = startReady(kId, client);
  timers_.advance(9s);
  EXPECT_THAT(client->events(),
              ::testing::Contains(HasSubstr(R"("text":"this session ends in 1 s)")));
  timers_.advance(1s);
  blocking_.drain();
  EXPECT_THAT(client->events(),
              ::testing::Contains(HasSubstr(R"("text":"this session reached its maximum)")));
  EXPECT_THAT(client->text(), ::testing::Not(HasSubstr("Notice:")));
  EXPECT_EQ(client->closeCode(), 1001);
}

TEST_F(SessionSyncTest, ALifetimeOfZeroNeverEndsTheSession) {
  options_.max_lifetime = 0ms;
  auto client = std::make_shared<RecordingClient>();
  auto session = startReady(kId, client);
  timers_.advance(std::chrono::hours(48));
  blocking_.drain();
  EXPECT_EQ(session->state(), SessionState::Ready);
  EXPECT_EQ(syncer_.count("delete"), 0);
}

TEST_F(SessionSyncTest, AFinalSyncRefusedAtTheLifetimesEndIsToldAndThePodKept) {
  options_.max_lifetime = 10s;
  auto client = std::make_shared<RecordingClient>();
  auto session = startReady(kId, client);
  syncer_.failQuota(1);
  EXPECT_CALL(runtime_, deletePod(_)).Times(0);
  timers_.advance(10s);
  blocking_.drain();
  EXPECT_THAT(client->text(), HasSubstr("Notice: your files are not being saved: workspace quota"));
  EXPECT_THAT(client->text(), HasSubstr("Notice: your files could not be saved; the pod is kept"));
  EXPECT_EQ(client->closeCode(), 1001);
  EXPECT_TRUE(session->podKept());
}

// A pod kept because its files could not be saved still counts against its user's pods.
TEST_F(SessionSyncTest, AKeptPodCountsAgainstTheUserUntilItIsGone) {
  options_.pods_per_user = 1;
  options_.sessions_per_user = 0;
  SessionManager manager(options_, context_);
  auto session = manager.attach(kId, std::make_shared<RecordingClient>(), std::nullopt);
  observer_->onPodStatus({sdk::PodPhase::Ready, "", ""});
  blocking_.drain();
  syncer_.failQuota(2);
  session->end(1000, "done");
  blocking_.drain();
  ASSERT_TRUE(session->podKept());
  EXPECT_EQ(manager.sessionCount(), 0u);
  EXPECT_EQ(manager.userPods("1"), 1u);
  const SessionId other = *SessionId::parse("user_1_ws_abc123_other");
  EXPECT_FALSE(manager.admit(other));
  manager.retainKeptPods({kId.raw});  // the reaper still sees it
  EXPECT_FALSE(manager.admit(other));
  manager.onPodDeleted(kId.raw);  // the reaper saved its files and deleted it
  EXPECT_TRUE(manager.admit(other));
  EXPECT_EQ(manager.userPods("1"), 0u);
}

}  // namespace
}  // namespace podterm::host
