#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "TestDoubles.h"
#include "common/Metrics.h"
#include "podterm/testing/mocks.h"
#include "session/PodReaper.h"

namespace podterm::host {
namespace {

using podterm::testing::MockPodRuntime;
using ::testing::_;
using testing::ManualExecutor;
using testing::ManualScheduler;
using ::testing::NiceMock;
using testing::RecordingClient;
using ::testing::Return;

class CountingSyncer : public WorkspaceSyncer {
 public:
  SyncOutcome load(const SessionId&) override { return {}; }
  SyncOutcome sync(const SessionId& id) override {
    synced.push_back(id.raw);
    SyncOutcome outcome;
    outcome.ok = !fail;
    outcome.retryable = fail;
    outcome.error = fail ? "database unreachable" : "";
    return outcome;
  }
  void forget(const SessionId&) override {}
  std::vector<std::string> synced;
  bool fail = false;
};

int64_t minutesAgo(int minutes) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             (std::chrono::system_clock::now() - std::chrono::minutes(minutes)).time_since_epoch())
      .count();
}

sdk::PodInfo pod(const std::string& session, int age_minutes,
                 sdk::PodPhase phase = sdk::PodPhase::Ready) {
  sdk::PodInfo info;
  info.session_id = session;
  info.pod_name = "exec-" + session;
  info.status.phase = phase;
  info.created_unix_ms = minutesAgo(age_minutes);
  return info;
}

class PodReaperTest : public ::testing::Test {
 protected:
  PodReaperTest()
      : sessions_(SessionOptions{}, Session::Context{runtime_, timers_, blocking_}),
        reaper_(runtime_, sessions_, &syncer_, blocking_, timers_, PodReaperOptions{}) {}

  NiceMock<MockPodRuntime> runtime_;
  ManualScheduler timers_;
  ManualExecutor blocking_;
  CountingSyncer syncer_;
  SessionManager sessions_;
  PodReaper reaper_;
};

TEST_F(PodReaperTest, AnOldOrphanIsSyncedThenDeleted) {
  const uint64_t rounds = metrics::reaperRounds().value();
  const uint64_t deleted = metrics::orphanedPodsDeleted().value();
  EXPECT_CALL(runtime_, listPods())
      .WillOnce(Return(std::vector<sdk::PodInfo>{pod("user_1_ws_a_orphan", 30)}));
  EXPECT_CALL(runtime_, deletePod("user_1_ws_a_orphan")).WillOnce(Return(sdk::Status::ok()));
  EXPECT_EQ(reaper_.reapOnce(), 1u);
  EXPECT_EQ(syncer_.synced, std::vector<std::string>{"user_1_ws_a_orphan"});
  EXPECT_EQ(metrics::reaperRounds().value() - rounds, 1u);
  EXPECT_EQ(metrics::orphanedPodsDeleted().value() - deleted, 1u);
}

TEST_F(PodReaperTest, OnlyARoundThatListedThePodsIsCounted) {
  // What the e2e tests wait on before they say "the reaper left this pod alone".
  const uint64_t rounds = metrics::reaperRounds().value();
  const uint64_t deleted = metrics::orphanedPodsDeleted().value();
  EXPECT_CALL(runtime_, listPods())
      .WillOnce(Return(sdk::Status{sdk::ErrorCode::Unavailable, "the API is down"}))
      .WillOnce(Return(std::vector<sdk::PodInfo>{pod("user_1_ws_a_young", 2)}));
  EXPECT_CALL(runtime_, deletePod(_)).Times(0);
  EXPECT_EQ(reaper_.reapOnce(), 0u);
  EXPECT_EQ(metrics::reaperRounds().value(), rounds);
  EXPECT_EQ(reaper_.reapOnce(), 0u);
  EXPECT_EQ(metrics::reaperRounds().value() - rounds, 1u);
  EXPECT_EQ(metrics::orphanedPodsDeleted().value(), deleted);
}

TEST_F(PodReaperTest, YoungPodsAndLiveSessionsAreLeftAlone) {
  auto live = *SessionId::parse("user_1_ws_a_live");
  sessions_.attach(live, std::make_shared<RecordingClient>(), std::nullopt);
  EXPECT_CALL(runtime_, listPods())
      .WillOnce(Return(
          std::vector<sdk::PodInfo>{pod("user_1_ws_a_young", 2), pod("user_1_ws_a_live", 60)}));
  EXPECT_CALL(runtime_, deletePod(_)).Times(0);
  EXPECT_EQ(reaper_.reapOnce(), 0u);
  EXPECT_TRUE(syncer_.synced.empty());
}

TEST_F(PodReaperTest, APodWhoseFilesCannotBeSavedIsKeptForALaterRound) {
  syncer_.fail = true;
  EXPECT_CALL(runtime_, listPods())
      .WillOnce(Return(std::vector<sdk::PodInfo>{pod("user_1_ws_a_orphan", 30)}));
  EXPECT_CALL(runtime_, deletePod(_)).Times(0);
  EXPECT_EQ(reaper_.reapOnce(), 0u);
}

TEST_F(PodReaperTest, APodThatIsNotRunningIsDeletedWithoutASync) {
  EXPECT_CALL(runtime_, listPods())
      .WillOnce(
          Return(std::vector<sdk::PodInfo>{pod("user_1_ws_a_failed", 30, sdk::PodPhase::Failed)}));
  EXPECT_CALL(runtime_, deletePod("user_1_ws_a_failed")).WillOnce(Return(sdk::Status::ok()));
  EXPECT_EQ(reaper_.reapOnce(), 1u);
  EXPECT_TRUE(syncer_.synced.empty());
}

TEST_F(PodReaperTest, RunsAtStartAndThenPeriodically) {
  EXPECT_CALL(runtime_, listPods()).Times(3).WillRepeatedly(Return(std::vector<sdk::PodInfo>{}));
  reaper_.start();
  timers_.advance(std::chrono::milliseconds(0));
  blocking_.drain();
  timers_.advance(PodReaperOptions{}.interval);
  blocking_.drain();
  timers_.advance(PodReaperOptions{}.interval);
  blocking_.drain();
  reaper_.stop();
  timers_.advance(PodReaperOptions{}.interval * 3);
  blocking_.drain();
}

// A pod kept because its files could not be saved counts against its user (pods_per_user)
// until the reaper has saved and deleted it, or found it gone.
class PodReaperKeptPodTest : public ::testing::Test {
 protected:
  PodReaperKeptPodTest()
      : sessions_(options(), Session::Context{runtime_, timers_, blocking_, &syncer_}),
        reaper_(runtime_, sessions_, &syncer_, blocking_, timers_, PodReaperOptions{}) {}
  static SessionOptions options() {
    SessionOptions options;
    options.pods_per_user = 1;
    options.sync.final_attempts = 1;
    return options;
  }
  // Ends a session of id whose final sync fails: its pod is kept.
  void keepPodOf(const SessionId& id) {
    auto session = sessions_.attach(id, std::make_shared<RecordingClient>(), std::nullopt);
    ASSERT_NE(session, nullptr);
    syncer_.fail = true;
    session->end(1000, "done");
    blocking_.drain();
    syncer_.fail = false;
    ASSERT_TRUE(session->podKept());
  }

  NiceMock<MockPodRuntime> runtime_;
  ManualScheduler timers_;
  ManualExecutor blocking_;
  CountingSyncer syncer_;
  SessionManager sessions_;
  PodReaper reaper_;
  const SessionId kept_ = *SessionId::parse("user_1_ws_a_kept");
  const SessionId next_ = *SessionId::parse("user_1_ws_a_next");
};

TEST_F(PodReaperKeptPodTest, UntilTheReaperDeletedIt) {
  keepPodOf(kept_);
  EXPECT_EQ(sessions_.userPods("1"), 1u);
  EXPECT_FALSE(sessions_.admit(next_));
  EXPECT_CALL(runtime_, listPods()).WillOnce(Return(std::vector<sdk::PodInfo>{pod(kept_.raw, 30)}));
  EXPECT_CALL(runtime_, deletePod(kept_.raw)).WillOnce(Return(sdk::Status::ok()));
  EXPECT_EQ(reaper_.reapOnce(), 1u);
  EXPECT_EQ(sessions_.userPods("1"), 0u);
  EXPECT_TRUE(sessions_.admit(next_));
}

TEST_F(PodReaperKeptPodTest, UntilTheReaperFoundItGone) {
  keepPodOf(kept_);
  EXPECT_CALL(runtime_, listPods())
      .WillOnce(Return(std::vector<sdk::PodInfo>{pod(kept_.raw, 1)}))  // young: left alone
      .WillOnce(Return(std::vector<sdk::PodInfo>{}));                  // evicted meanwhile
  EXPECT_EQ(reaper_.reapOnce(), 0u);
  EXPECT_EQ(sessions_.userPods("1"), 1u);
  EXPECT_EQ(reaper_.reapOnce(), 0u);
  EXPECT_EQ(sessions_.userPods("1"), 0u);
}

}  // namespace
}  // namespace podterm::host
