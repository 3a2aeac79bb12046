// A session's lifetime, counts and admission across terminals (issue 9): the lifetime
// (limits.max_session_lifetime_s) is the pod's, shared by every terminal of the session and not
// restarted by a new or recreated terminal, and counted from the runtime's creation time for a pod
// that held files (adopted after a host died or the session moved); the metrics count
// sessions, not terminals (sessions_live, reconnects, culls, admin ends); and admission asks the
// other replicas' pods fresh, without the manager's lock, only when a session or pod may be added.
// Against the SessionManager with a mock runtime, virtual time and a queue for blocking work.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "TestDoubles.h"
#include "common/Metrics.h"
#include "podterm/testing/mocks.h"
#include "session/SessionManager.h"
#include "session/TerminalName.h"

namespace podterm::host {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Not;
using namespace std::chrono_literals;
using podterm::testing::MockExecStream;
using podterm::testing::MockPodRuntime;
using testing::ManualExecutor;
using testing::ManualScheduler;
using testing::RecordingClient;

const SessionId kId = *SessionId::parse("user_7_ws_w_life");

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Records its calls in order; the next `fail_syncs` syncs fail (storage unreachable).
class CountingSyncer : public WorkspaceSyncer {
 public:
  SyncOutcome load(const SessionId&) override {
    SyncOutcome outcome = record("load");
    std::lock_guard<std::mutex> lock(mutex_);
    outcome.pod_had_files = pod_had_files_;
    return outcome;
  }
  SyncOutcome sync(const SessionId&) override {
    SyncOutcome outcome = record("sync");
    std::lock_guard<std::mutex> lock(mutex_);
    if (fail_syncs_ > 0) {
      --fail_syncs_;
      outcome.ok = false;
      outcome.error = "storage unreachable";
      outcome.retryable = true;
    }
    return outcome;
  }
  void forget(const SessionId&) override { record("forget"); }
  int count(const std::string& call) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int>(std::count(calls_.begin(), calls_.end(), call));
  }
  std::vector<std::string> calls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }
  void failSyncs(int n) {
    std::lock_guard<std::mutex> lock(mutex_);
    fail_syncs_ = n;
  }
  // The pod the load goes into holds files: it existed before (HostWorkspaceSyncer says so).
  void podHadFiles(bool had) {
    std::lock_guard<std::mutex> lock(mutex_);
    pod_had_files_ = had;
  }

 private:
  SyncOutcome record(const std::string& call) {
    std::lock_guard<std::mutex> lock(mutex_);
    calls_.push_back(call);
    return {};
  }
  mutable std::mutex mutex_;
  std::vector<std::string> calls_;
  int fail_syncs_ = 0;
  bool pod_had_files_ = false;
};

class SessionLifetimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.grace_period = 30s;
    options_.max_lifetime = 100s;
    options_.lifetime_notice = 5s;
    ON_CALL(runtime_, ensurePod(_, _))
        .WillByDefault(Invoke([this](const sdk::PodSpec& spec, sdk::PodObserver* observer) {
          observers_[spec.session_id] = observer;
          ++ensured_[spec.session_id];
          return sdk::Status::ok();
        }));
    ON_CALL(runtime_, listPods()).WillByDefault(Invoke([] {
      return sdk::Result<std::vector<sdk::PodInfo>>(std::vector<sdk::PodInfo>{});
    }));
    ON_CALL(runtime_, deletePod(_)).WillByDefault(Invoke([this](const std::string& pod) {
      ++deleted_[pod];
      return sdk::Status::ok();
    }));
    ON_CALL(runtime_, openStream(_, _, _))
        .WillByDefault(Invoke([](const std::string&, const sdk::StreamSpec&, sdk::StreamObserver*) {
          return sdk::Result<sdk::ExecStreamPtr>(
              sdk::ExecStreamPtr(std::make_unique<NiceMock<MockExecStream>>()));
        }));
  }

  void TearDown() override {
    if (manager_) manager_->endAll(1001, "test over", 0ms);
    blocking_.drain();
  }

  SessionManager& manager() {
    if (!manager_) {
      manager_ = std::make_unique<SessionManager>(
          options_, Session::Context{runtime_, timers_, blocking_, &syncer_});
    }
    return *manager_;
  }

  std::shared_ptr<Session> open(const std::string& terminal,
                                const std::shared_ptr<RecordingClient>& client,
                                const SessionId& id = kId) {
    auto admission = manager().admit(id, terminal);
    EXPECT_TRUE(admission) << admission.refusal();
    return manager().attach(id, std::move(admission), client, std::nullopt);
  }

  void status(sdk::PodPhase phase, const std::string& pod = kId.raw) {
    ASSERT_TRUE(observers_.count(pod)) << "no pod " << pod;
    observers_[pod]->onPodStatus({phase, "", ""});
    blocking_.drain();
  }
  // A pod made for the session: Pending first, then Ready.
  void fresh(const std::string& pod = kId.raw) {
    status(sdk::PodPhase::Pending, pod);
    status(sdk::PodPhase::Ready, pod);
  }

  static uint64_t culls(metrics::Culled reason) { return metrics::culls(reason).value(); }

  SessionOptions options_;
  NiceMock<MockPodRuntime> runtime_;
  ManualScheduler timers_;
  ManualExecutor blocking_;
  CountingSyncer syncer_;
  std::map<std::string, sdk::PodObserver*> observers_;
  std::map<std::string, int> ensured_;
  std::map<std::string, int> deleted_;
  std::unique_ptr<SessionManager> manager_;
};

// --- the lifetime is the session's (its pod's), not a terminal's -------------------------------

TEST_F(SessionLifetimeTest, ATerminalOpenedLaterGetsWhatIsLeftOfTheSessionsLifetime) {
  const auto lifetime_culls = culls(metrics::Culled::Lifetime);
  auto first = std::make_shared<RecordingClient>();
  auto second = std::make_shared<RecordingClient>();
  auto default_terminal = open(TerminalName::kDefault, first);
  fresh();
  timers_.advance(60s);
  auto build = open("build", second);
  blocking_.drain();
  EXPECT_EQ(build->state(), SessionState::Ready);

  timers_.advance(34'999ms);  // 94.999 s into the session
  EXPECT_THAT(second->text(), Not(HasSubstr("ends in")));
  timers_.advance(1ms);
  for (const auto& client : {first, second}) {
    EXPECT_THAT(client->text(),
                HasSubstr("Notice: this session ends in 5 s: sessions last at most 100 s."));
  }
  timers_.advance(5s);
  blocking_.drain();
  for (const auto& client : {first, second}) {
    EXPECT_THAT(client->text(), HasSubstr("reached its maximum lifetime of 100 s"));
    EXPECT_EQ(client->closeCode(), 1001);
    EXPECT_EQ(client->closeReason(), "session lifetime reached");
  }
  EXPECT_EQ(default_terminal->state(), SessionState::Ended);
  EXPECT_EQ(build->state(), SessionState::Ended);
  // One final sync and one deletion for the pod, and one session culled (not two terminals).
  EXPECT_EQ(syncer_.count("sync"), 1);
  EXPECT_EQ(deleted_[kId.raw], 1);
  EXPECT_EQ(culls(metrics::Culled::Lifetime) - lifetime_culls, 1u);
  EXPECT_EQ(manager().sessionIdCount(), 0u);
}

TEST_F(SessionLifetimeTest, ARecreatedTerminalAndAReconnectDoNotRestartTheLifetime) {
  auto keeper = std::make_shared<RecordingClient>();
  open(TerminalName::kDefault, keeper);
  fresh();
  auto old_client = std::make_shared<RecordingClient>();
  auto old_build = open("build", old_client);
  blocking_.drain();
  // The build terminal's client leaves; its grace period ends it while the default one lives on.
  old_build->detach(old_client.get());
  timers_.advance(31s);
  blocking_.drain();
  ASSERT_EQ(old_build->state(), SessionState::Ended);
  EXPECT_EQ(deleted_[kId.raw], 0);

  // Recreated at 31 s, and the default terminal's client reconnects at 50 s: both end at 100 s.
  auto new_client = std::make_shared<RecordingClient>();
  auto new_build = open("build", new_client);
  blocking_.drain();
  ASSERT_NE(new_build, old_build);
  auto default_terminal = manager().find(kId.raw, TerminalName::kDefault);
  default_terminal->detach(keeper.get());
  timers_.advance(19s);
  auto back = std::make_shared<RecordingClient>();
  EXPECT_EQ(open(TerminalName::kDefault, back), default_terminal);

  timers_.advance(49'999ms);
  EXPECT_FALSE(new_client->closed());
  timers_.advance(1ms);
  blocking_.drain();
  EXPECT_EQ(new_client->closeCode(), 1001);
  EXPECT_EQ(back->closeCode(), 1001);
  EXPECT_EQ(deleted_[kId.raw], 1);
  EXPECT_EQ(ensured_[kId.raw], 1);
}

TEST_F(SessionLifetimeTest, AfterTheLifetimeAReconnectGetsANewPodWithAFullLifetime) {
  auto first = std::make_shared<RecordingClient>();
  open(TerminalName::kDefault, first);
  fresh();
  timers_.advance(100s);
  blocking_.drain();
  ASSERT_EQ(first->closeCode(), 1001);

  auto again = std::make_shared<RecordingClient>();
  auto session = open(TerminalName::kDefault, again);
  blocking_.drain();
  EXPECT_EQ(ensured_[kId.raw], 2);
  fresh();
  timers_.advance(99s);
  EXPECT_EQ(session->state(), SessionState::Ready);
  timers_.advance(1s);
  blocking_.drain();
  EXPECT_EQ(again->closeCode(), 1001);
}

// A pod whose load found files in it existed before: adopted after its host died, or taken over
// from another replica. Its lifetime counts from when the runtime created it.
TEST_F(SessionLifetimeTest, AnAdoptedPodCountsTheLifetimeFromItsCreation) {
  EXPECT_CALL(runtime_, listPods()).WillOnce(Invoke([] {
    sdk::PodInfo other{"user_7_ws_w_other", "pod-other", {sdk::PodPhase::Ready, "", ""}, 1};
    sdk::PodInfo mine{kId.raw, "pod-mine", {sdk::PodPhase::Ready, "", ""}, nowUnixMs() - 90'000};
    return sdk::Result<std::vector<sdk::PodInfo>>(std::vector<sdk::PodInfo>{other, mine});
  }));
  syncer_.podHadFiles(true);
  auto client = std::make_shared<RecordingClient>();
  auto session = open(TerminalName::kDefault, client);
  fresh();
  ASSERT_EQ(session->state(), SessionState::Ready);
  // About 10 s left (the wall clock moved a little since): the notice 5 s before, then the end.
  timers_.advance(4'000ms);
  EXPECT_THAT(client->text(), Not(HasSubstr("ends in")));
  timers_.advance(1'500ms);
  EXPECT_THAT(client->text(), HasSubstr("Notice: this session ends in 5 s"));
  timers_.advance(5s);
  blocking_.drain();
  EXPECT_EQ(client->closeCode(), 1001);
  EXPECT_EQ(client->closeReason(), "session lifetime reached");
}

TEST_F(SessionLifetimeTest, AnAdoptedPodPastItsLifetimeEndsAtOnce) {
  EXPECT_CALL(runtime_, listPods()).WillOnce(Invoke([] {
    sdk::PodInfo mine{kId.raw, "pod-mine", {sdk::PodPhase::Ready, "", ""}, nowUnixMs() - 500'000};
    return sdk::Result<std::vector<sdk::PodInfo>>(std::vector<sdk::PodInfo>{mine});
  }));
  syncer_.podHadFiles(true);
  auto client = std::make_shared<RecordingClient>();
  open(TerminalName::kDefault, client);
  fresh();
  timers_.advance(1ms);
  blocking_.drain();
  EXPECT_THAT(client->text(), HasSubstr("reached its maximum lifetime of 100 s"));
  EXPECT_EQ(client->closeCode(), 1001);
  // The final sync still runs.
  EXPECT_EQ(syncer_.calls(), (std::vector<std::string>{"load", "sync", "forget"}));
  EXPECT_EQ(deleted_[kId.raw], 1);
}

TEST_F(SessionLifetimeTest, ANewPodsCreationIsNotAskedFor) {
  // An empty pod (a new one, or a warm one) was made for this session: nothing to ask.
  EXPECT_CALL(runtime_, listPods()).Times(0);
  auto client = std::make_shared<RecordingClient>();
  auto session = open(TerminalName::kDefault, client);
  status(sdk::PodPhase::Ready);
  timers_.advance(94s);
  EXPECT_THAT(client->text(), Not(HasSubstr("ends in")));
  timers_.advance(6s);
  blocking_.drain();
  EXPECT_EQ(client->closeCode(), 1001);
}

TEST_F(SessionLifetimeTest, ARuntimeThatCannotListItsPodsLeavesTheLifetimeAlone) {
  EXPECT_CALL(runtime_, listPods()).WillOnce(Invoke([] {
    return sdk::Result<std::vector<sdk::PodInfo>>(
        sdk::Status(sdk::ErrorCode::Unavailable, "api down"));
  }));
  syncer_.podHadFiles(true);
  auto client = std::make_shared<RecordingClient>();
  auto session = open(TerminalName::kDefault, client);
  status(sdk::PodPhase::Ready);
  timers_.advance(99s);
  EXPECT_EQ(session->state(), SessionState::Ready);
  timers_.advance(1s);
  blocking_.drain();
  EXPECT_EQ(client->closeCode(), 1001);
}

// --- metrics count sessions, not terminals ---------------------------------------------------

TEST_F(SessionLifetimeTest, ThreeTerminalsInTwoTabsAreOneSessionLiveAndReconnectedOnce) {
  options_.max_lifetime = 0ms;
  const auto reconnects = metrics::reconnects().value();
  const auto grace_culls = culls(metrics::Culled::Grace);
  const auto connects = metrics::connects(false).value();
  std::vector<std::shared_ptr<RecordingClient>> tab1, tab2;
  std::vector<std::shared_ptr<Session>> terminals;
  for (const char* name : {"default", "build", "logs"}) {
    tab1.push_back(std::make_shared<RecordingClient>());
    tab2.push_back(std::make_shared<RecordingClient>());
    terminals.push_back(open(name, tab1.back()));
    open(name, tab2.back());
  }
  fresh();
  EXPECT_EQ(manager().sessionIdCount(), 1u);
  EXPECT_EQ(manager().sessionCount(), 3u);  // terminals
  EXPECT_EQ(metrics::connects(false).value() - connects, 6u);
  EXPECT_EQ(metrics::reconnects().value(), reconnects);  // a second tab is no reconnect

  // Both tabs go (a network drop), then come back to all three terminals: one reconnect.
  for (size_t i = 0; i < terminals.size(); ++i) {
    terminals[i]->detach(tab1[i].get());
    terminals[i]->detach(tab2[i].get());
  }
  timers_.advance(10s);
  for (const char* name : {"default", "build", "logs"}) {
    open(name, std::make_shared<RecordingClient>());
  }
  EXPECT_EQ(metrics::reconnects().value() - reconnects, 1u);

  // A shutdown ends it: no cull.
  manager().endAll(1001, "done", 0ms);
  blocking_.drain();
  EXPECT_EQ(culls(metrics::Culled::Grace), grace_culls);
  EXPECT_EQ(manager().sessionIdCount(), 0u);
}

TEST_F(SessionLifetimeTest, AllTerminalsEndingAfterTheirGracePeriodIsOneGraceCull) {
  options_.max_lifetime = 0ms;
  const auto grace_culls = culls(metrics::Culled::Grace);
  std::vector<std::pair<std::shared_ptr<Session>, std::shared_ptr<RecordingClient>>> opened;
  for (const char* name : {"default", "build", "logs"}) {
    auto client = std::make_shared<RecordingClient>();
    opened.emplace_back(open(name, client), client);
  }
  fresh();
  for (auto& [terminal, client] : opened) terminal->detach(client.get());
  timers_.advance(31s);
  blocking_.drain();
  EXPECT_EQ(manager().sessionIdCount(), 0u);
  EXPECT_EQ(culls(metrics::Culled::Grace) - grace_culls, 1u);
}

TEST_F(SessionLifetimeTest, OneTerminalEndingIdleIsNoCullOfTheSession) {
  options_.max_lifetime = 0ms;
  const auto grace_culls = culls(metrics::Culled::Grace);
  auto client = std::make_shared<RecordingClient>();
  auto build_client = std::make_shared<RecordingClient>();
  open(TerminalName::kDefault, client);
  auto build = open("build", build_client);
  fresh();
  build->detach(build_client.get());
  timers_.advance(31s);
  blocking_.drain();
  EXPECT_EQ(build->state(), SessionState::Ended);
  EXPECT_EQ(manager().sessionIdCount(), 1u);
  EXPECT_EQ(culls(metrics::Culled::Grace), grace_culls);
}

TEST_F(SessionLifetimeTest, AnAdminEndOfEveryTerminalIsOneAdminCull) {
  const auto admin_culls = culls(metrics::Culled::Admin);
  std::vector<std::shared_ptr<Session>> terminals;
  for (const char* name : {"default", "build"}) {
    terminals.push_back(open(name, std::make_shared<RecordingClient>()));
  }
  fresh();
  for (auto& terminal : terminals) {
    terminal->endWithNotice(1008, "ended by an administrator", "ended", metrics::Culled::Admin);
  }
  blocking_.drain();
  EXPECT_EQ(manager().sessionIdCount(), 0u);
  EXPECT_EQ(culls(metrics::Culled::Admin) - admin_culls, 1u);
}

// --- other replicas' pods, asked at admission ---------------------------------------------------

TEST_F(SessionLifetimeTest, AdmissionAsksTheOtherReplicasFreshWithoutTheManagersLock) {
  options_.max_lifetime = 0ms;
  options_.sessions_per_user = 2;
  options_.pods_per_user = 0;
  std::atomic<int> asked{0};
  std::vector<std::string> remote = {"user_7_ws_w_elsewhere"};
  std::mutex remote_mutex;
  SessionManager::OwnershipHooks hooks;
  hooks.remote_pods = [&](const std::string& prefix) {
    ++asked;
    EXPECT_EQ(prefix, "user_7_ws_");
    // Called without the manager's lock: the manager answers (a held lock would deadlock).
    (void)manager().sessionCount();
    std::lock_guard<std::mutex> lock(remote_mutex);
    return remote;
  };
  manager().setOwnershipHooks(hooks);

  open(TerminalName::kDefault, std::make_shared<RecordingClient>());
  EXPECT_EQ(asked.load(), 1);
  // Another client or terminal of the session (its pod live here) needs no look.
  open(TerminalName::kDefault, std::make_shared<RecordingClient>());
  open("build", std::make_shared<RecordingClient>());
  EXPECT_EQ(asked.load(), 1);

  // One here and one elsewhere: a third session is refused, as the limit says.
  const SessionId third = *SessionId::parse("user_7_ws_w_third");
  auto refused = manager().admit(third);
  EXPECT_FALSE(refused);
  EXPECT_THAT(refused.refusal(), HasSubstr("limits.sessions_per_user = 2"));
  EXPECT_EQ(asked.load(), 2);
  // The other replica's session ended: the next look sees it at once, with no refresh between.
  {
    std::lock_guard<std::mutex> lock(remote_mutex);
    remote.clear();
  }
  EXPECT_TRUE(manager().admit(third));
  EXPECT_EQ(asked.load(), 3);
  // Another user's pods do not count.
  {
    std::lock_guard<std::mutex> lock(remote_mutex);
    remote = {"user_8_ws_w_a", "user_8_ws_w_b"};
  }
  EXPECT_TRUE(manager().admit(third));
}

}  // namespace
}  // namespace podterm::host
