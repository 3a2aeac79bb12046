// Several host replicas on one database (issue 9): this replica's session leases against a mock
// storage, in virtual time. The heartbeat renews them every third of the TTL; a lease found held
// by another replica (at a heartbeat, or checked after a takeover notification) drops its pod
// here without a final sync or a deletion; leases are released at a pod's end and at shutdown;
// admission counts the pods other replicas hold; the reaper leaves those alone.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "SessionFixture.h"
#include "podterm/testing/mocks.h"
#include "session/PodReaper.h"
#include "session/SessionLeases.h"
#include "session/SessionManager.h"

namespace podterm::host {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Return;
using namespace std::chrono_literals;
using podterm::testing::MockStorage;
using testing::RecordingClient;

constexpr const char* kMe = "host-a";
constexpr const char* kOther = "host-b";

class NullSubscription : public sdk::Subscription {};

sdk::LeaseGrant granted(const std::string& holder, const std::string& previous = "") {
  sdk::LeaseGrant grant;
  grant.acquired = true;
  grant.holder = holder;
  grant.previous_holder = previous;
  return grant;
}

sdk::LeaseGrant refused(const std::string& holder) {
  sdk::LeaseGrant grant;
  grant.acquired = false;
  grant.holder = holder;
  return grant;
}

sdk::SessionLease lease(const std::string& id, const std::string& holder, bool expired = false) {
  return sdk::SessionLease{id, holder, 0, expired};
}

// A storage whose session leases live in a map: TakeOver always wins, Acquire only when free
// or the holder's own; a lease "expires" when the test says so.
class LeaseTable {
 public:
  explicit LeaseTable(MockStorage& storage) {
    ON_CALL(storage, acquireSessionLease(_, _, _, _))
        .WillByDefault(Invoke([this](const std::string& id, const std::string& holder, int64_t,
                                     sdk::LeaseMode mode) -> sdk::Result<sdk::LeaseGrant> {
          std::lock_guard<std::mutex> lock(mutex);
          calls.push_back((mode == sdk::LeaseMode::TakeOver ? "takeover " : "acquire ") + id + " " +
                          holder);
          auto it = rows.find(id);
          const bool free = it == rows.end() || it->second.expired || it->second.holder == holder;
          if (!free && mode == sdk::LeaseMode::Acquire) return refused(it->second.holder);
          std::string previous = free || it->second.holder == holder ? "" : it->second.holder;
          rows[id] = lease(id, holder);
          return granted(holder, previous);
        }));
    ON_CALL(storage, releaseSessionLease(_, _))
        .WillByDefault(Invoke([this](const std::string& id, const std::string& holder) {
          std::lock_guard<std::mutex> lock(mutex);
          calls.push_back("release " + id + " " + holder);
          auto it = rows.find(id);
          if (it != rows.end() && it->second.holder == holder) rows.erase(it);
          return sdk::Status::ok();
        }));
    ON_CALL(storage, listSessionLeases())
        .WillByDefault(Invoke([this]() -> sdk::Result<std::vector<sdk::SessionLease>> {
          std::lock_guard<std::mutex> lock(mutex);
          std::vector<sdk::SessionLease> all;
          for (const auto& [id, row] : rows) all.push_back(row);
          return all;
        }));
    ON_CALL(storage, notify(_, _))
        .WillByDefault(Invoke([this](const std::string& channel, const std::string& payload) {
          std::lock_guard<std::mutex> lock(mutex);
          notified.push_back(channel + ": " + payload);
          return sdk::Status::ok();
        }));
    ON_CALL(storage, subscribe(_, _))
        .WillByDefault(
            Invoke([this](const std::string& channel,
                          sdk::NotificationCallback cb) -> sdk::Result<sdk::SubscriptionPtr> {
              std::lock_guard<std::mutex> lock(mutex);
              subscribed[channel] = std::move(cb);
              return sdk::SubscriptionPtr(std::make_unique<NullSubscription>());
            }));
  }
  int count(const std::string& call) const {
    std::lock_guard<std::mutex> lock(mutex);
    return static_cast<int>(std::count(calls.begin(), calls.end(), call));
  }
  void set(const std::string& id, const std::string& holder, bool expired = false) {
    std::lock_guard<std::mutex> lock(mutex);
    rows[id] = lease(id, holder, expired);
  }
  std::string holderOf(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = rows.find(id);
    return it == rows.end() ? std::string() : it->second.holder;
  }
  void deliver(const sdk::Notification& n) {
    sdk::NotificationCallback cb;
    {
      std::lock_guard<std::mutex> lock(mutex);
      cb = subscribed.at(n.channel);
    }
    cb(n);
  }

  mutable std::mutex mutex;
  std::map<std::string, sdk::SessionLease> rows;
  std::vector<std::string> calls;
  std::vector<std::string> notified;
  std::map<std::string, sdk::NotificationCallback> subscribed;
};

class SessionLeasesTest : public testing::SessionFixture {
 protected:
  SessionLeasesTest() : table_(storage_) {}

  std::unique_ptr<SessionLeases> leases(std::chrono::milliseconds ttl = 30s) {
    return std::make_unique<SessionLeases>(
        storage_, blocking_, timers_, SessionLeaseOptions{kMe, ttl},
        [this](const std::string& pod, const std::string& holder) {
          dropped_.push_back(pod + " to " + holder);
        });
  }

  NiceMock<MockStorage> storage_;
  LeaseTable table_;
  std::vector<std::string> dropped_;
};

TEST_F(SessionLeasesTest, APodStartingHereTakesItsLeaseAndTheHeartbeatRenewsIt) {
  auto l = leases(30s);
  l->start();
  advance(0ms);  // the first round
  l->take("user_1_ws_a_s1");
  blocking_.drain();
  EXPECT_EQ(table_.count("takeover user_1_ws_a_s1 host-a"), 1);
  EXPECT_EQ(l->held(), std::set<std::string>{"user_1_ws_a_s1"});
  EXPECT_EQ(table_.count("acquire user_1_ws_a_s1 host-a"), 0);

  advance(9999ms);  // not yet a third of the TTL
  EXPECT_EQ(table_.count("acquire user_1_ws_a_s1 host-a"), 0);
  advance(1ms);
  EXPECT_EQ(table_.count("acquire user_1_ws_a_s1 host-a"), 1);
  advance(10s);
  advance(10s);
  EXPECT_EQ(table_.count("acquire user_1_ws_a_s1 host-a"), 3);
  EXPECT_TRUE(dropped_.empty());
  EXPECT_TRUE(table_.notified.empty()) << "nobody was displaced";
  l->stop();
}

TEST_F(SessionLeasesTest, ATakeoverOfAnotherReplicasLiveLeaseIsAnnounced) {
  table_.set("user_1_ws_a_s1", kOther);
  auto l = leases();
  l->start();
  l->take("user_1_ws_a_s1");
  blocking_.drain();
  EXPECT_EQ(table_.holderOf("user_1_ws_a_s1"), kMe);
  ASSERT_EQ(table_.notified.size(), 1u);
  EXPECT_EQ(table_.notified[0],
            std::string(SessionLeases::kTakeoverChannel) + ": user_1_ws_a_s1 host-a");
  l->stop();
}

TEST_F(SessionLeasesTest, ALeaseLostAtTheHeartbeatDropsItsPod) {
  auto l = leases(30s);
  l->start();
  l->take("user_1_ws_a_s1");
  l->take("user_1_ws_a_s2");
  blocking_.drain();
  // Another replica took s1 while this one's notification got lost.
  table_.set("user_1_ws_a_s1", kOther);
  advance(10s);
  EXPECT_EQ(dropped_, std::vector<std::string>{"user_1_ws_a_s1 to host-b"});
  EXPECT_EQ(l->held(), std::set<std::string>{"user_1_ws_a_s2"});
  // It is not renewed, taken back or released any more.
  advance(10s);
  EXPECT_EQ(table_.count("acquire user_1_ws_a_s1 host-a"), 1);
  EXPECT_EQ(table_.holderOf("user_1_ws_a_s1"), kOther);
  l->release("user_1_ws_a_s1");  // its pod ended here (dropped)
  blocking_.drain();
  EXPECT_EQ(table_.count("release user_1_ws_a_s1 host-a"), 0);
  EXPECT_EQ(dropped_.size(), 1u);
  l->stop();
}

TEST_F(SessionLeasesTest, ATakeoverNotificationDropsThePodAfterTheDatabaseConfirms) {
  auto l = leases(30s);
  l->start();
  l->take("user_1_ws_a_s1");
  l->take("user_1_ws_a_s2");
  blocking_.drain();
  const std::string channel = SessionLeases::kTakeoverChannel;

  // A hint the database does not confirm (s2 is still this replica's) drops nothing.
  table_.deliver({channel, "user_1_ws_a_s2 host-b", false});
  blocking_.drain();
  EXPECT_TRUE(dropped_.empty());
  // This replica's own announcement, and one about a pod it does not hold, cost nothing.
  const int before = static_cast<int>(table_.calls.size());
  table_.deliver({channel, "user_1_ws_a_s1 host-a", false});
  table_.deliver({channel, "user_1_ws_a_zz host-b", false});
  blocking_.drain();
  EXPECT_EQ(static_cast<int>(table_.calls.size()), before);

  // Host B took s1: dropped at once, long before the next heartbeat.
  table_.set("user_1_ws_a_s1", kOther);
  table_.deliver({channel, "user_1_ws_a_s1 host-b", false});
  blocking_.drain();
  EXPECT_EQ(dropped_, std::vector<std::string>{"user_1_ws_a_s1 to host-b"});
  EXPECT_EQ(timers_.now(), 0ms);

  // A resync (notifications may have been missed) checks every lease held.
  table_.set("user_1_ws_a_s2", kOther);
  table_.deliver({channel, "", true});
  blocking_.drain();
  EXPECT_EQ(dropped_.size(), 2u);
  EXPECT_EQ(dropped_[1], "user_1_ws_a_s2 to host-b");
  EXPECT_TRUE(l->held().empty());
  l->stop();
}

TEST_F(SessionLeasesTest, LeasesAreReleasedAtTheEndOfAPodAndAtShutdown) {
  auto l = leases();
  l->start();
  l->take("user_1_ws_a_s1");
  l->take("user_1_ws_a_s2");
  blocking_.drain();
  l->release("user_1_ws_a_s1");
  blocking_.drain();
  EXPECT_EQ(table_.count("release user_1_ws_a_s1 host-a"), 1);
  EXPECT_EQ(table_.holderOf("user_1_ws_a_s1"), "");
  EXPECT_EQ(table_.holderOf("user_1_ws_a_s2"), kMe);

  // take and release queued in any order end as the last one asked.
  l->take("user_1_ws_a_s3");
  l->release("user_1_ws_a_s3");
  blocking_.drain();
  EXPECT_EQ(table_.holderOf("user_1_ws_a_s3"), "");

  l->stop();
  EXPECT_EQ(table_.count("release user_1_ws_a_s2 host-a"), 1);
  EXPECT_TRUE(table_.rows.empty());
  EXPECT_EQ(timers_.pendingTimers(), 0u) << "the heartbeat stopped";
  l->take("user_1_ws_a_s4");  // after the end: nothing
  blocking_.drain();
  EXPECT_TRUE(table_.rows.empty());
}

TEST_F(SessionLeasesTest, AFailedTakeIsRetriedByTheHeartbeat) {
  auto l = leases(30s);
  l->start();
  advance(0ms);
  EXPECT_CALL(storage_, acquireSessionLease("user_1_ws_a_s1", kMe, 30000, sdk::LeaseMode::TakeOver))
      .WillOnce(Return(sdk::Result<sdk::LeaseGrant>(sdk::ErrorCode::Unavailable, "db down")))
      .WillOnce(Return(granted(kMe)));
  l->take("user_1_ws_a_s1");
  blocking_.drain();
  EXPECT_TRUE(l->held().empty());
  advance(10s);
  EXPECT_EQ(l->held(), std::set<std::string>{"user_1_ws_a_s1"});
  l->stop();
}

TEST_F(SessionLeasesTest, HolderIdsAreUniquePerInstance) {
  const std::string a = SessionLeases::makeHolderId();
  const std::string b = SessionLeases::makeHolderId();
  EXPECT_NE(a, b);
  EXPECT_THAT(a, HasSubstr("-" + std::to_string(::getpid()) + "-"));
  SessionLeases generated(storage_, blocking_, timers_, SessionLeaseOptions{"", 30s}, nullptr);
  EXPECT_FALSE(generated.holder().empty());
}

// --- with the SessionManager --------------------------------------------------------------------

class SessionLeasesManagerTest : public SessionLeasesTest {
 protected:
  void SetUp() override {
    options_.grace_period = 30s;
    context_.syncer = &syncer_;
  }

  // A manager wired to leases as the host wires them.
  void wire() {
    manager_ = std::make_unique<SessionManager>(options_, context_);
    leases_ = std::make_unique<SessionLeases>(
        storage_, blocking_, timers_, SessionLeaseOptions{kMe, 30s},
        [this](const std::string& pod, const std::string&) {
          manager_->dropPod(pod, SessionLeases::kMovedCode, SessionLeases::kMovedReason);
        });
    SessionManager::OwnershipHooks hooks;
    hooks.pod_starting = [this](const std::string& pod) { leases_->take(pod); };
    hooks.pod_ended = [this](const std::string& pod) { leases_->release(pod); };
    hooks.remote_pods = [this](const std::string& prefix) { return leases_->othersFor(prefix); };
    manager_->setOwnershipHooks(hooks);
    leases_->start();
  }

  void TearDown() override {
    if (leases_) leases_->stop();
    if (manager_) manager_->endAll(1001, "test over", 0ms);
    blocking_.drain();
  }

  class CountingSyncer : public WorkspaceSyncer {
   public:
    SyncOutcome load(const SessionId&) override { return {}; }
    SyncOutcome sync(const SessionId& id) override {
      synced.push_back(id.raw);
      return {};
    }
    void forget(const SessionId&) override {}
    std::vector<std::string> synced;
  };

  CountingSyncer syncer_;
  std::unique_ptr<SessionManager> manager_;
  std::unique_ptr<SessionLeases> leases_;
};

TEST_F(SessionLeasesManagerTest, ASessionTakenByAnotherReplicaIsDroppedWithoutSyncOrDeletion) {
  wire();
  const auto id = *SessionId::parse("user_1_ws_a_s1");
  auto client = std::make_shared<RecordingClient>();
  auto session = manager_->attach(id, client, std::nullopt);
  ASSERT_TRUE(session);
  blocking_.drain();
  EXPECT_EQ(table_.holderOf("user_1_ws_a_s1"), kMe) << "the attach took the lease";
  observers_.at("user_1_ws_a_s1")->onPodStatus({sdk::PodPhase::Ready, "", ""});
  blocking_.drain();
  ASSERT_EQ(session->state(), SessionState::Ready);
  syncer_.synced.clear();

  // Host B took the session over and says so.
  table_.set("user_1_ws_a_s1", kOther);
  table_.deliver({SessionLeases::kTakeoverChannel, "user_1_ws_a_s1 host-b", false});
  blocking_.drain();
  timers_.advance(0ms);
  blocking_.drain();

  EXPECT_TRUE(client->closed());
  EXPECT_EQ(client->closeCode(), 1012);
  EXPECT_EQ(client->closeReason(), "the session moved to another host");
  EXPECT_TRUE(manager_->waitEnded(session, 0ms));
  EXPECT_TRUE(deleted_.empty()) << "the pod is host B's now";
  EXPECT_TRUE(syncer_.synced.empty()) << "no final sync: host B syncs it";
  EXPECT_EQ(table_.holderOf("user_1_ws_a_s1"), kOther) << "its lease is not released";
  EXPECT_EQ(manager_->podCount(), 0u);
  EXPECT_EQ(manager_->userPods("1"), 1u) << "host B's pod still counts for the user";
}

TEST_F(SessionLeasesManagerTest, AnEndedSessionReleasesItsLease) {
  options_.grace_period = 0s;
  wire();
  const auto id = *SessionId::parse("user_1_ws_a_s1");
  auto client = std::make_shared<RecordingClient>();
  auto session = manager_->attach(id, client, std::nullopt);
  blocking_.drain();
  observers_.at("user_1_ws_a_s1")->onPodStatus({sdk::PodPhase::Ready, "", ""});
  blocking_.drain();
  session->end(1000, "bye");
  blocking_.drain();
  timers_.advance(0ms);
  blocking_.drain();
  EXPECT_TRUE(manager_->waitEnded(session, 0ms));
  EXPECT_EQ(deleted_, std::vector<std::string>{"user_1_ws_a_s1"});
  EXPECT_EQ(table_.count("release user_1_ws_a_s1 host-a"), 1);
  EXPECT_EQ(table_.holderOf("user_1_ws_a_s1"), "");
}

TEST_F(SessionLeasesManagerTest, AdmissionCountsTheUnexpiredLeasesOfOtherReplicas) {
  options_.sessions_per_user = 2;
  options_.pods_per_user = 2;
  table_.set("user_1_ws_a_b1", kOther);
  table_.set("user_1_ws_a_b2", kOther);
  table_.set("user_1_ws_a_old", kOther, /*expired=*/true);
  table_.set("user_2_ws_a_b1", kOther);
  wire();
  advance(0ms);  // the heartbeat's first round reads the others' leases

  EXPECT_EQ(manager_->userSessions("1"), 2u);
  auto refused = manager_->admit(*SessionId::parse("user_1_ws_a_new"));
  EXPECT_FALSE(refused);
  EXPECT_THAT(refused.refusal(), HasSubstr("limits.sessions_per_user"));
  // Taking over one of them is not a new session.
  EXPECT_TRUE(manager_->admit(*SessionId::parse("user_1_ws_a_b1")));
  EXPECT_TRUE(manager_->admit(*SessionId::parse("user_2_ws_a_new")));

  // B's session ends there: at the next heartbeat the place is free here.
  {
    std::lock_guard<std::mutex> lock(table_.mutex);
    table_.rows.erase("user_1_ws_a_b2");
  }
  advance(10s);
  EXPECT_TRUE(manager_->admit(*SessionId::parse("user_1_ws_a_new")));
}

// --- the reaper ---------------------------------------------------------------------------------

sdk::PodInfo oldPod(const std::string& session) {
  sdk::PodInfo info;
  info.session_id = session;
  info.pod_name = "exec-" + session;
  info.status.phase = sdk::PodPhase::Ready;
  info.created_unix_ms = 1;  // 1970: long past any TTL
  return info;
}

TEST_F(SessionLeasesManagerTest, TheReaperLeavesPodsOfOtherReplicasUntilTheirLeasesExpire) {
  wire();
  PodReaper reaper(runtime_, *manager_, &syncer_, blocking_, timers_, PodReaperOptions{});
  reaper.setLeases(leases_.get());
  table_.set("user_1_ws_a_b1", kOther);
  ON_CALL(runtime_, listPods())
      .WillByDefault(Return(std::vector<sdk::PodInfo>{oldPod("user_1_ws_a_b1")}));
  EXPECT_EQ(reaper.reapOnce(), 0u);
  EXPECT_TRUE(deleted_.empty());
  EXPECT_TRUE(syncer_.synced.empty());

  // Host B died: its lease was not renewed and expired.
  table_.set("user_1_ws_a_b1", kOther, /*expired=*/true);
  EXPECT_EQ(reaper.reapOnce(), 1u);
  EXPECT_EQ(syncer_.synced, std::vector<std::string>{"user_1_ws_a_b1"});
  EXPECT_EQ(deleted_, std::vector<std::string>{"user_1_ws_a_b1"});
  EXPECT_EQ(table_.holderOf("user_1_ws_a_b1"), "") << "claimed while reaped, then released";
}

TEST_F(SessionLeasesManagerTest, TheReaperDeletesNothingWhenTheLeasesCannotBeRead) {
  wire();
  PodReaper reaper(runtime_, *manager_, &syncer_, blocking_, timers_, PodReaperOptions{});
  reaper.setLeases(leases_.get());
  ON_CALL(runtime_, listPods())
      .WillByDefault(Return(std::vector<sdk::PodInfo>{oldPod("user_1_ws_a_b1")}));
  EXPECT_CALL(storage_, listSessionLeases())
      .WillOnce(Return(
          sdk::Result<std::vector<sdk::SessionLease>>(sdk::ErrorCode::Unavailable, "db down")));
  EXPECT_EQ(reaper.reapOnce(), 0u);
  EXPECT_TRUE(deleted_.empty());
}

}  // namespace
}  // namespace podterm::host
