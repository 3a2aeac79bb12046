// Admission with several replicas (issue 9): SessionLeases::othersNow reads the other replicas'
// unexpired leases from the database at each call, not from the view the heartbeat refreshes
// every third of the TTL, and falls back on that view when the database cannot be read. Against
// a mock storage and virtual time.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "TestDoubles.h"
#include "podterm/testing/mocks.h"
#include "session/SessionLeases.h"

namespace podterm::host {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::Invoke;
using ::testing::IsEmpty;
using ::testing::NiceMock;
using namespace std::chrono_literals;
using podterm::testing::MockStorage;
using testing::ManualExecutor;
using testing::ManualScheduler;

class SessionLeasesAdmissionTest : public ::testing::Test {
 protected:
  SessionLeasesAdmissionTest() {
    ON_CALL(storage_, listSessionLeases()).WillByDefault(Invoke([this] {
      ++reads_;
      std::lock_guard<std::mutex> lock(mutex_);
      if (down_) {
        return sdk::Result<std::vector<sdk::SessionLease>>(
            sdk::Status(sdk::ErrorCode::Unavailable, "database down"));
      }
      return sdk::Result<std::vector<sdk::SessionLease>>(rows_);
    }));
  }

  void set(std::vector<sdk::SessionLease> rows, bool down = false) {
    std::lock_guard<std::mutex> lock(mutex_);
    rows_ = std::move(rows);
    down_ = down;
  }

  NiceMock<MockStorage> storage_;
  ManualScheduler timers_;
  ManualExecutor blocking_;
  SessionLeases leases_{storage_, blocking_, timers_, SessionLeaseOptions{"host-a", 30s}, nullptr};
  std::mutex mutex_;
  std::vector<sdk::SessionLease> rows_;
  bool down_ = false;
  int reads_ = 0;
};

TEST_F(SessionLeasesAdmissionTest, EachAdmissionReadsTheDatabase) {
  EXPECT_THAT(leases_.othersNow("user_1_ws_"), IsEmpty());
  // Another replica's session started right after: no heartbeat in between, and it counts.
  set({{"user_1_ws_a_one", "host-b", 0, false},
       {"user_1_ws_a_old", "host-b", 0, true},     // expired: its replica died
       {"user_1_ws_a_mine", "host-a", 0, false},   // this replica's own
       {"user_2_ws_a_other", "host-b", 0, false}}  // another user
  );
  EXPECT_THAT(leases_.othersNow("user_1_ws_"), ElementsAre("user_1_ws_a_one"));
  EXPECT_EQ(reads_, 2);
  // It ended there: the next admission knows at once.
  set({});
  EXPECT_THAT(leases_.othersNow("user_1_ws_"), IsEmpty());
  EXPECT_EQ(reads_, 3);
}

TEST_F(SessionLeasesAdmissionTest, AnUnreadableDatabaseFallsBackOnTheLastView) {
  set({{"user_1_ws_a_one", "host-b", 0, false}});
  EXPECT_THAT(leases_.othersNow("user_1_ws_"), ElementsAre("user_1_ws_a_one"));
  set({}, /*down=*/true);
  EXPECT_THAT(leases_.othersNow("user_1_ws_"), ElementsAre("user_1_ws_a_one"));
  EXPECT_THAT(leases_.othersFor("user_1_ws_"), ElementsAre("user_1_ws_a_one"));
}

}  // namespace
}  // namespace podterm::host
