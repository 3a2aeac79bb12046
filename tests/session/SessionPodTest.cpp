// Pod ownership apart from terminals (issue 9): several terminals of one session share its pod
// (`?term=`), every session of a workspace shares one pod with session.pod_scope = "workspace",
// and a pod ends (final sync, deletion) after its last terminal. Against the SessionManager with
// a mock runtime: each pod the runtime is asked for has its own observer, shells and deletion.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "TestDoubles.h"
#include "podterm/testing/mocks.h"
#include "session/PodReaper.h"
#include "session/PodScope.h"
#include "session/SessionManager.h"
#include "session/TerminalName.h"

namespace podterm::host {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Return;
using namespace std::chrono_literals;
using podterm::testing::MockExecStream;
using podterm::testing::MockPodRuntime;
using testing::ManualExecutor;
using testing::ManualScheduler;
using testing::RecordingClient;

SessionId idOf(const std::string& raw) {
  return *SessionId::parse(raw);
}

// Records the calls of every kind, in order, by pod id.
class RecordingSyncer : public WorkspaceSyncer {
 public:
  SyncOutcome load(const SessionId& id) override { return record("load " + id.raw); }
  SyncOutcome sync(const SessionId& id) override { return record("sync " + id.raw); }
  void forget(const SessionId& id) override { record("forget " + id.raw); }
  int count(const std::string& call) const {
    std::lock_guard<std::mutex> lock(mutex);
    return static_cast<int>(std::count(calls.begin(), calls.end(), call));
  }
  mutable std::mutex mutex;
  std::vector<std::string> calls;

 private:
  SyncOutcome record(const std::string& call) {
    std::lock_guard<std::mutex> lock(mutex);
    calls.push_back(call);
    return {};
  }
};

class SessionPodTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.grace_period = 30s;
    ON_CALL(runtime_, ensurePod(_, _))
        .WillByDefault(Invoke([this](const sdk::PodSpec& spec, sdk::PodObserver* observer) {
          observers_[spec.session_id] = observer;
          ++ensured_[spec.session_id];
          calls_.push_back("ensure " + spec.session_id);
          return sdk::Status::ok();
        }));
    ON_CALL(runtime_, deletePod(_)).WillByDefault(Invoke([this](const std::string& pod) {
      ++deleted_[pod];
      calls_.push_back("delete " + pod);
      return sdk::Status::ok();
    }));
    ON_CALL(runtime_, openStream(_, _, _))
        .WillByDefault(
            Invoke([this](const std::string& pod, const sdk::StreamSpec& spec,
                          sdk::StreamObserver* observer) -> sdk::Result<sdk::ExecStreamPtr> {
              if (open_fails_) return sdk::Status{sdk::ErrorCode::NotFound, "no pod for session"};
              shell_observers_.push_back(observer);
              shells_.push_back({pod, spec.env.count("PODTERM_TERMINAL")
                                          ? spec.env.at("PODTERM_TERMINAL")
                                          : std::string()});
              auto stream = std::make_unique<NiceMock<MockExecStream>>();
              ON_CALL(*stream, close()).WillByDefault(Invoke([this] { ++closed_streams_; }));
              return sdk::Result<sdk::ExecStreamPtr>(sdk::ExecStreamPtr(std::move(stream)));
            }));
  }

  std::unique_ptr<SessionManager> manager() {
    Session::Context context{runtime_, timers_, blocking_, &syncer_};
    return std::make_unique<SessionManager>(options_, context);
  }

  std::shared_ptr<Session> open(SessionManager& manager, const SessionId& id,
                                const std::string& terminal = TerminalName::kDefault,
                                std::shared_ptr<RecordingClient> client = nullptr) {
    auto admission = manager.admit(id, terminal);
    EXPECT_TRUE(admission) << admission.refusal();
    if (!client) client = std::make_shared<RecordingClient>();
    return manager.attach(id, std::move(admission), client, std::nullopt);
  }

  void ready(const std::string& pod) {
    ASSERT_TRUE(observers_.count(pod)) << "no pod " << pod;
    observers_[pod]->onPodStatus({sdk::PodPhase::Ready, "", ""});
    blocking_.drain();
  }

  SessionOptions options_;
  NiceMock<MockPodRuntime> runtime_;
  ManualScheduler timers_;
  ManualExecutor blocking_;
  RecordingSyncer syncer_;
  std::map<std::string, sdk::PodObserver*> observers_;
  std::map<std::string, int> ensured_;
  std::map<std::string, int> deleted_;
  std::vector<std::string> calls_;
  std::vector<std::pair<std::string, std::string>> shells_;  // pod, terminal
  int closed_streams_ = 0;
  bool open_fails_ = false;
  std::vector<sdk::StreamObserver*> shell_observers_;
};

const SessionId kId = *SessionId::parse("user_1_ws_w_tab1");

TEST(TerminalNameTest, Grammar) {
  EXPECT_EQ(TerminalName::parse("default"), "default");
  EXPECT_EQ(TerminalName::parse("build_2-x"), "build_2-x");
  EXPECT_EQ(TerminalName::parse(std::string(32, 'a')), std::string(32, 'a'));
  EXPECT_FALSE(TerminalName::parse(""));
  EXPECT_FALSE(TerminalName::parse(std::string(33, 'a')));
  EXPECT_FALSE(TerminalName::parse("Upper"));
  EXPECT_FALSE(TerminalName::parse("a b"));
  EXPECT_FALSE(TerminalName::parse("a;rm"));
  EXPECT_FALSE(TerminalName::parse("a/b"));
  EXPECT_FALSE(TerminalName::parse("$(x)"));
  EXPECT_FALSE(TerminalName::parse(std::string("a\0b", 3)));
}

TEST(PodScopeTest, PodIds) {
  EXPECT_EQ(podIdFor(kId, PodScope::Session).raw, kId.raw);
  const SessionId pod = podIdFor(kId, PodScope::Workspace);
  EXPECT_EQ(pod.raw, "user_1_ws_w_workspace");
  EXPECT_EQ(pod.user, "1");
  EXPECT_EQ(pod.workspace, "w");
  ASSERT_TRUE(SessionId::parse(pod.raw)) << "the reaper parses pod ids";
  EXPECT_EQ(SessionId::parse(pod.raw)->raw, pod.raw);
  EXPECT_EQ(podIdFor(idOf("user_1_ws_w_other"), PodScope::Workspace).raw, pod.raw);
  EXPECT_NE(podIdFor(idOf("user_1_ws_v_tab1"), PodScope::Workspace).raw, pod.raw);
  EXPECT_NE(podIdFor(idOf("user_2_ws_w_tab1"), PodScope::Workspace).raw, pod.raw);
  EXPECT_EQ(parsePodScope("workspace"), PodScope::Workspace);
  EXPECT_EQ(parsePodScope("session"), PodScope::Session);
  EXPECT_FALSE(parsePodScope("Session"));
}

TEST_F(SessionPodTest, TwoTerminalsOfASessionShareOnePodWithAShellEach) {
  auto sessions = manager();
  auto main = open(*sessions, kId);
  auto build = open(*sessions, kId, "build");
  ASSERT_NE(main, nullptr);
  ASSERT_NE(build, nullptr);
  EXPECT_NE(main, build);
  EXPECT_EQ(main->pod(), build->pod());
  EXPECT_EQ(main->terminal(), "default");
  EXPECT_EQ(build->terminal(), "build");
  EXPECT_EQ(ensured_[kId.raw], 1);
  ready(kId.raw);
  EXPECT_EQ(main->state(), SessionState::Ready);
  EXPECT_EQ(build->state(), SessionState::Ready);
  EXPECT_EQ(syncer_.count("load " + kId.raw), 1) << "the workspace is loaded once per pod";
  ASSERT_EQ(shells_.size(), 2u);
  EXPECT_EQ(shells_[0].first, kId.raw);
  EXPECT_EQ(shells_[1].first, kId.raw);
  std::set<std::string> names{shells_[0].second, shells_[1].second};
  EXPECT_EQ(names, (std::set<std::string>{"default", "build"}));
  EXPECT_EQ(sessions->sessionCount(), 2u);
  EXPECT_EQ(sessions->podCount(), 1u);
  EXPECT_EQ(sessions->userSessions("1"), 1u) << "terminals are not sessions";
  EXPECT_EQ(sessions->userPods("1"), 1u);
  EXPECT_EQ(sessions->terminals(kId.raw).size(), 2u);
  EXPECT_EQ(sessions->find(kId.raw), main);
  EXPECT_EQ(sessions->find(kId.raw, "build"), build);
}

TEST_F(SessionPodTest, OutputOfOneTerminalNeverReachesTheOther) {
  auto sessions = manager();
  auto a_client = std::make_shared<RecordingClient>();
  auto b_client = std::make_shared<RecordingClient>();
  auto a = open(*sessions, kId, "a", a_client);
  auto b = open(*sessions, kId, "b", b_client);
  ready(kId.raw);
  const std::string only_a = "only-in-a";
  a->onStdout(only_a.data(), only_a.size());
  const std::string only_b = "only-in-b";
  b->onStdout(only_b.data(), only_b.size());
  EXPECT_THAT(a_client->text(), HasSubstr(only_a));
  EXPECT_THAT(a_client->text(), ::testing::Not(HasSubstr(only_b)));
  EXPECT_THAT(b_client->text(), HasSubstr(only_b));
  EXPECT_THAT(b_client->text(), ::testing::Not(HasSubstr(only_a)));
  EXPECT_EQ(a->outputOffset(), only_a.size());
  EXPECT_EQ(b->outputOffset(), only_b.size());
}

TEST_F(SessionPodTest, ThePodLivesWhileATerminalDoesAndEndsAfterTheLast) {
  auto sessions = manager();
  auto a = open(*sessions, kId);
  auto b = open(*sessions, kId, "second");
  ready(kId.raw);
  a->end(1000, "done");
  blocking_.drain();
  EXPECT_EQ(a->state(), SessionState::Ended);
  EXPECT_EQ(deleted_[kId.raw], 0) << "another terminal still uses the pod";
  EXPECT_EQ(syncer_.count("sync " + kId.raw), 0) << "no final sync yet";
  EXPECT_EQ(b->state(), SessionState::Ready);
  EXPECT_EQ(sessions->podCount(), 1u);
  EXPECT_EQ(sessions->sessionCount(), 1u);
  b->end(1000, "done");
  blocking_.drain();
  EXPECT_EQ(deleted_[kId.raw], 1);
  ASSERT_GE(syncer_.calls.size(), 2u);
  // The final sync before the deletion.
  EXPECT_EQ(std::vector<std::string>(syncer_.calls.end() - 2, syncer_.calls.end()),
            (std::vector<std::string>{"sync " + kId.raw, "forget " + kId.raw}));
  EXPECT_EQ(sessions->podCount(), 0u);
  EXPECT_EQ(sessions->sessionCount(), 0u);
  EXPECT_EQ(sessions->userPods("1"), 0u);
}

TEST_F(SessionPodTest, AGracePeriodEndsOnlyItsOwnTerminal) {
  auto sessions = manager();
  auto a_client = std::make_shared<RecordingClient>();
  auto a = open(*sessions, kId, "default", a_client);
  auto b = open(*sessions, kId, "other");
  ready(kId.raw);
  a->detach(a_client.get());
  timers_.advance(options_.grace_period);
  blocking_.drain();
  EXPECT_EQ(a->state(), SessionState::Ended);
  EXPECT_EQ(b->state(), SessionState::Ready);
  EXPECT_EQ(deleted_[kId.raw], 0);
}

TEST_F(SessionPodTest, ANewTerminalOfALivePodStartsItsShellAtOnce) {
  auto sessions = manager();
  auto a = open(*sessions, kId);
  ready(kId.raw);
  auto late = std::make_shared<RecordingClient>(true);
  auto b = open(*sessions, kId, "late", late);
  blocking_.drain();
  EXPECT_EQ(b->state(), SessionState::Ready);
  EXPECT_EQ(ensured_[kId.raw], 1);
  EXPECT_EQ(syncer_.count("load " + kId.raw), 1);
  EXPECT_THAT(late->events(), ::testing::Contains(HasSubstr("\"type\":\"ready\"")));
}

TEST_F(SessionPodTest, ATerminalArrivingWhileThePodIsDeletedGetsTheNextPodAfterTheDeletion) {
  auto sessions = manager();
  auto a = open(*sessions, kId);
  ready(kId.raw);
  a->end(1000, "done");  // its pod's final sync and deletion are queued
  auto b = open(*sessions, kId, "new");
  EXPECT_EQ(b->state(), SessionState::Starting);
  EXPECT_NE(b->pod(), a->pod());
  EXPECT_EQ(ensured_[kId.raw], 1) << "not before the old pod is gone";
  blocking_.drain();
  EXPECT_EQ(deleted_[kId.raw], 1);
  EXPECT_EQ(ensured_[kId.raw], 2);
  EXPECT_EQ(calls_, (std::vector<std::string>{"ensure " + kId.raw, "delete " + kId.raw,
                                              "ensure " + kId.raw}));
  ready(kId.raw);
  EXPECT_EQ(b->state(), SessionState::Ready);
  EXPECT_EQ(sessions->podCount(), 1u);
}

TEST_F(SessionPodTest, ALostPodIsReplacedForEveryTerminalWithItsWorkspaceLoadedAgain) {
  auto sessions = manager();
  auto a_client = std::make_shared<RecordingClient>();
  auto a = open(*sessions, kId, "default", a_client);
  auto b = open(*sessions, kId, "b");
  ready(kId.raw);
  ASSERT_EQ(shells_.size(), 2u);
  calls_.clear();
  observers_[kId.raw]->onPodStatus({sdk::PodPhase::Failed, "Evicted", "low on memory"});
  EXPECT_EQ(a->state(), SessionState::Starting);
  EXPECT_EQ(b->state(), SessionState::Starting);
  EXPECT_THAT(a_client->text(), HasSubstr("Notice: the pod stopped (Failed: low on memory); a new "
                                          "pod is being created"));
  blocking_.drain();
  // What was left of it deleted, then the same pod id asked for again; its sync state forgotten.
  EXPECT_EQ(calls_, (std::vector<std::string>{"delete " + kId.raw, "ensure " + kId.raw}));
  EXPECT_EQ(syncer_.count("forget " + kId.raw), 1);
  // A terminal opened meanwhile joins the replacement.
  auto c = open(*sessions, kId, "c");
  EXPECT_EQ(c->pod(), a->pod());
  ready(kId.raw);
  EXPECT_EQ(syncer_.count("load " + kId.raw), 2);
  EXPECT_EQ(a->state(), SessionState::Ready);
  EXPECT_EQ(b->state(), SessionState::Ready);
  EXPECT_EQ(c->state(), SessionState::Ready);
  EXPECT_EQ(shells_.size(), 5u);
  EXPECT_FALSE(a_client->closed());
}

TEST_F(SessionPodTest, APodLostTooOftenEndsEveryTerminalAndTheNextOneGetsANewPod) {
  auto sessions = manager();
  auto a = open(*sessions, kId, "default");
  auto b = open(*sessions, kId, "b");
  ready(kId.raw);
  for (size_t i = 0; i < SessionPod::kMaxReplacements; ++i) {
    observers_[kId.raw]->onPodStatus({sdk::PodPhase::Gone, "", "evicted"});
    blocking_.drain();
    ready(kId.raw);
    ASSERT_EQ(a->state(), SessionState::Ready) << i;
  }
  observers_[kId.raw]->onPodStatus({sdk::PodPhase::Gone, "", "evicted"});
  blocking_.drain();
  EXPECT_NE(a->state(), SessionState::Ready);
  EXPECT_NE(b->state(), SessionState::Ready);
  // The lost pod takes no new terminal.
  auto c = open(*sessions, kId, "c");
  blocking_.drain();
  EXPECT_NE(c->pod(), a->pod());
}

TEST_F(SessionPodTest, ALossHeardAfterTheShellBrokeCostsTheShellNoRestarts) {
  // A busy host hears the shell die and fails to reopen it before it hears the pod is gone: all
  // three are the loss's. Charged to the shell (5 restarts a minute), two losses ended it.
  auto sessions = manager();
  auto client = std::make_shared<RecordingClient>();
  auto a = open(*sessions, kId, "default", client);
  ready(kId.raw);
  ASSERT_EQ(a->state(), SessionState::Ready);
  for (size_t loss = 0; loss < SessionPod::kMaxReplacements; ++loss) {
    open_fails_ = true;
    shell_observers_.back()->onExit({137, 9, sdk::Status::ok()});
    blocking_.drain();
    ASSERT_THAT(client->text(), HasSubstr("could not reopen the shell: no pod for session"));
    observers_[kId.raw]->onPodStatus({sdk::PodPhase::Gone, "", "deleted"});
    blocking_.drain();
    ASSERT_EQ(a->state(), SessionState::Starting) << "loss " << loss << ": " << client->text();
    open_fails_ = false;
    ready(kId.raw);
    ASSERT_EQ(a->state(), SessionState::Ready) << "loss " << loss << ": " << client->text();
  }
  EXPECT_FALSE(client->closed());
  // The shell's own limit still holds: five exits in a row are admitted, the sixth ends it.
  for (size_t exit = 0; exit < options_.max_restarts; ++exit) {
    shell_observers_.back()->onExit({1, 0, sdk::Status::ok()});
    blocking_.drain();
    ASSERT_EQ(a->state(), SessionState::Ready) << "exit " << exit << ": " << client->text();
  }
  shell_observers_.back()->onExit({1, 0, sdk::Status::ok()});
  blocking_.drain();
  EXPECT_NE(a->state(), SessionState::Ready);
  EXPECT_THAT(client->text(), HasSubstr("the shell exited 6 times within"));
}

TEST_F(SessionPodTest, ALostPodWhoseLastTerminalLeavesDuringTheReplacementEnds) {
  auto sessions = manager();
  auto client = std::make_shared<RecordingClient>();
  auto a = open(*sessions, kId, "default", client);
  ready(kId.raw);
  observers_[kId.raw]->onPodStatus({sdk::PodPhase::Gone, "", "deleted"});
  a->end(1000, "bye");  // before the replacement ran
  blocking_.drain();
  EXPECT_EQ(a->state(), SessionState::Ended);
  EXPECT_EQ(a->pod()->state(), PodLifecycle::Ended);
}

TEST_F(SessionPodTest, TheTerminalsLimitCountsLiveTerminalsOfOneSession) {
  options_.terminals_per_session = 2;
  auto sessions = manager();
  open(*sessions, kId);
  open(*sessions, kId, "two");
  auto refused = sessions->admit(kId, "three");
  EXPECT_FALSE(refused);
  EXPECT_THAT(refused.refusal(), HasSubstr("limits.terminals_per_session = 2"));
  EXPECT_TRUE(sessions->admit(kId, "two")) << "another client of a live terminal is not new";
  EXPECT_TRUE(sessions->admit(kId)) << "nor of the default one";
  EXPECT_TRUE(sessions->admit(idOf("user_1_ws_w_tab2"), "three")) << "counted per session";
  // A pending admission counts as well.
  auto third_of_tab3 = sessions->admit(idOf("user_1_ws_w_tab3"), "a");
  auto fourth = sessions->admit(idOf("user_1_ws_w_tab3"), "b");
  EXPECT_TRUE(fourth);
  EXPECT_FALSE(sessions->admit(idOf("user_1_ws_w_tab3"), "c"));
}

TEST_F(SessionPodTest, SessionScopeGivesEverySessionIdItsOwnPod) {
  auto sessions = manager();
  auto one = open(*sessions, kId);
  auto two = open(*sessions, idOf("user_1_ws_w_tab2"));
  EXPECT_NE(one->pod(), two->pod());
  EXPECT_EQ(ensured_.size(), 2u);
  EXPECT_EQ(sessions->userPods("1"), 2u);
  EXPECT_EQ(sessions->userSessions("1"), 2u);
}

TEST_F(SessionPodTest, WorkspaceScopeSharesOnePodAmongTheWorkspacesSessions) {
  options_.pod_scope = PodScope::Workspace;
  auto sessions = manager();
  const std::string pod = "user_1_ws_w_workspace";
  auto one = open(*sessions, kId);
  auto two = open(*sessions, idOf("user_1_ws_w_tab2"));
  auto other_ws = open(*sessions, idOf("user_1_ws_v_tab1"));
  EXPECT_EQ(one->pod(), two->pod());
  EXPECT_NE(one->pod(), other_ws->pod());
  EXPECT_EQ(one->pod()->id().raw, pod);
  EXPECT_EQ(ensured_[pod], 1);
  EXPECT_EQ(ensured_["user_1_ws_v_workspace"], 1);
  EXPECT_EQ(sessions->userSessions("1"), 3u);
  EXPECT_EQ(sessions->userPods("1"), 2u);
  EXPECT_TRUE(sessions->podInUse(pod));
  ready(pod);
  EXPECT_EQ(one->state(), SessionState::Ready);
  EXPECT_EQ(two->state(), SessionState::Ready);
  EXPECT_EQ(syncer_.count("load " + pod), 1);
  for (const auto& shell : shells_) EXPECT_TRUE(shell.first == pod) << shell.first;
  // A command in one session syncs the shared pod.
  sdk::FinishedCommand command;
  command.session_id = two->id().raw;
  command.command_line = "touch x";
  two->onCommandFinished(command);
  blocking_.drain();
  EXPECT_EQ(syncer_.count("sync " + pod), 1);

  one->end(1000, "done");
  blocking_.drain();
  EXPECT_EQ(deleted_[pod], 0) << "the workspace's other session still uses it";
  EXPECT_EQ(two->state(), SessionState::Ready);
  two->end(1000, "done");
  blocking_.drain();
  EXPECT_EQ(deleted_[pod], 1);
  EXPECT_EQ(syncer_.count("sync " + pod), 2) << "the final sync";
  EXPECT_FALSE(sessions->podInUse(pod));
}

TEST_F(SessionPodTest, WorkspaceScopeCountsTheSharedPodOnceForTheUsersLimit) {
  options_.pod_scope = PodScope::Workspace;
  options_.pods_per_user = 1;
  options_.sessions_per_user = 0;
  auto sessions = manager();
  open(*sessions, kId);
  EXPECT_TRUE(sessions->admit(idOf("user_1_ws_w_tab2"))) << "the same pod";
  auto refused = sessions->admit(idOf("user_1_ws_v_tab1"));
  EXPECT_FALSE(refused);
  EXPECT_THAT(refused.refusal(), HasSubstr("limits.pods_per_user = 1"));
}

TEST_F(SessionPodTest, ShutdownEndsEveryTerminalAndKeepsThePods) {
  options_.pod_scope = PodScope::Workspace;
  auto sessions = manager();
  auto one = open(*sessions, kId);
  auto two = open(*sessions, idOf("user_1_ws_w_tab2"), "x");
  ready("user_1_ws_w_workspace");
  std::thread drain([this, &sessions] {
    for (int i = 0; i < 1000 && sessions->sessionCount() > 0; ++i) {
      blocking_.drain();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  sessions->endAll(1001, "server shutting down", 5s, /*keep_pods=*/true);
  drain.join();
  EXPECT_EQ(sessions->sessionCount(), 0u);
  EXPECT_EQ(sessions->podCount(), 0u);
  EXPECT_EQ(deleted_["user_1_ws_w_workspace"], 0);
  EXPECT_EQ(syncer_.count("sync user_1_ws_w_workspace"), 1) << "one final sync for the pod";
}

TEST_F(SessionPodTest, TheReaperLeavesAWorkspacePodInUseAlone) {
  options_.pod_scope = PodScope::Workspace;
  auto sessions = manager();
  open(*sessions, kId);
  PodReaper reaper(runtime_, *sessions, &syncer_, blocking_, timers_, PodReaperOptions{0ms, 1h});
  sdk::PodInfo info;
  info.session_id = "user_1_ws_w_workspace";
  info.pod_name = "exec-w";
  info.status.phase = sdk::PodPhase::Ready;
  EXPECT_CALL(runtime_, listPods()).WillOnce(Return(std::vector<sdk::PodInfo>{info}));
  EXPECT_EQ(reaper.reapOnce(), 0u);
  EXPECT_EQ(deleted_["user_1_ws_w_workspace"], 0);
}

}  // namespace
}  // namespace podterm::host
