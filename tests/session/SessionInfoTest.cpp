// What the admin API reads of a session (Session::info) and how it ends one
// (Session::endWithNotice), against a Session with a mock runtime, virtual time and a queue for
// blocking work.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "SessionFixture.h"
#include "session/Session.h"

namespace podterm::host {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const SessionId kId = *SessionId::parse("user_1_ws_abc123_1234567890_uuid");

class SessionInfoTest : public testing::SessionFixture {
 protected:
  void SetUp() override {
    options_.grace_period = 30s;
    useVirtualClock();
    timers_.advance(1s);  // the clock's epoch is what info() reads as "no activity yet"
  }
};

TEST_F(SessionInfoTest, CountsClientsBytesAndTheTimeSinceTheLastActivity) {
  const auto before = std::chrono::system_clock::now();
  auto session = makeReady(kId);
  session->onClientInput("ls -l\n");
  const std::string output = "total 0\r\n$ ";
  session->onStdout(output.data(), output.size());
  timers_.advance(7s);  // no idle timeout: the activity is still stamped

  const Session::Info info = session->info();
  EXPECT_EQ(info.state, SessionState::Ready);
  EXPECT_EQ(info.clients, 1u);
  EXPECT_EQ(info.bytes_in, 6u);
  EXPECT_EQ(info.bytes_out, output.size());
  EXPECT_EQ(info.bytes_out, session->outputOffset());
  EXPECT_EQ(info.idle, 7000ms);
  EXPECT_EQ(info.pod.phase, sdk::PodPhase::Ready);
  EXPECT_FALSE(info.syncs_files);
  EXPECT_FALSE(info.pod_kept);
  const int64_t before_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(before.time_since_epoch()).count();
  EXPECT_GE(info.created_unix_ms, before_ms - 1000);
  EXPECT_LE(info.created_unix_ms, before_ms + 60000);

  session->onClientInput("x");
  EXPECT_EQ(session->info().idle, 0ms);
  EXPECT_EQ(session->info().bytes_in, 7u);
  session->detach(client_.get());
  EXPECT_EQ(session->info().clients, 0u);
}

// The admin's end: the clients hear the notice at once, stay attached (their input goes nowhere)
// while the pod ends, and are closed with the code and reason after the pod was deleted.
TEST_F(SessionInfoTest, EndWithNoticeClosesTheClientsOnlyAfterThePodIsGone) {
  auto session = makeReady(kId);
  session->endWithNotice(1008, "ended by an administrator", "this session was ended by an admin");
  EXPECT_THAT(client_->text(), HasSubstr("this session was ended by an admin"));
  EXPECT_EQ(session->state(), SessionState::Ending);
  EXPECT_FALSE(client_->closed()) << "closed before the final sync and the pod's deletion";
  EXPECT_EQ(deleted_.size(), 0u);
  session->onClientInput("typed while ending\n");  // ignored, no crash

  blocking_.drain();  // the end: (no storage here) the pod deleted, then the clients closed
  EXPECT_EQ(deleted_.size(), 1u);
  EXPECT_EQ(session->state(), SessionState::Ended);
  EXPECT_TRUE(client_->closed());
  EXPECT_EQ(client_->closeCode(), 1008);
  EXPECT_EQ(client_->closeReason(), "ended by an administrator");
  EXPECT_EQ(ended_, 1);
  EXPECT_FALSE(session->info().pod_kept);

  // Once ending, another end says nothing more and does nothing twice.
  const std::string heard = client_->text();
  session->endWithNotice(1008, "again", "again");
  blocking_.drain();
  EXPECT_EQ(client_->text(), heard);
  EXPECT_EQ(deleted_.size(), 1u);
  EXPECT_EQ(ended_, 1);
}

}  // namespace
}  // namespace podterm::host
