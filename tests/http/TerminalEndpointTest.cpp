// The terminal route through a real HttpFront: authentication before any pod, and a socket
// closed with 1008 when the credential that opened it expires.

#include <Poco/Buffer.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/WebSocket.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "../session/TestDoubles.h"
#include "http/HttpFront.h"
#include "http/TerminalEndpoint.h"
#include "podterm/testing/mocks.h"

namespace podterm::host {
namespace {

using podterm::testing::MockAuthenticator;
using podterm::testing::MockPodRuntime;
using ::testing::_;
using ::testing::NiceMock;
using ::testing::Return;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class TerminalEndpointTest : public ::testing::Test {
 protected:
  TerminalEndpointTest()
      : loops_(1, "test-loop"),
        sessions_(SessionOptions{}, Session::Context{runtime_, timers_, blocking_}),
        endpoint_(TerminalEndpointOptions{}, auth_, sessions_, loops_) {
    loops_.start();
    HttpFrontOptions options;
    options.listen_port = 0;
    front_ = std::make_unique<HttpFront>(options, readiness_, &endpoint_, nullptr);
    front_->start();
  }
  ~TerminalEndpointTest() override {
    front_->stop();
    loops_.stop();
  }

  std::unique_ptr<Poco::Net::WebSocket> connect(Poco::Net::HTTPResponse& response) {
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET,
                                   "/api/terminal/ws/user_1_ws_a_b",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    return std::make_unique<Poco::Net::WebSocket>(session_, request, response);
  }

  NiceMock<MockPodRuntime> runtime_;
  MockAuthenticator auth_;
  testing::ManualScheduler timers_;
  testing::ManualExecutor blocking_;
  EventLoopGroup loops_;
  SessionManager sessions_;
  TerminalEndpoint endpoint_;
  Readiness readiness_;
  std::unique_ptr<HttpFront> front_;
  Poco::Net::HTTPClientSession session_{"127.0.0.1", 0};
};

TEST_F(TerminalEndpointTest, ARefusedCredentialGetsItsStatusAndNoPod) {
  session_.setPort(front_->port());
  sdk::AuthDecision refused;
  refused.allowed = false;
  refused.http_status = 403;
  refused.reason = "not your workspace";
  EXPECT_CALL(auth_, authenticate(_)).WillOnce(Return(refused));
  EXPECT_CALL(runtime_, ensurePod(_, _)).Times(0);
  Poco::Net::HTTPResponse response;
  EXPECT_THROW(connect(response), Poco::Net::WebSocketException);
  EXPECT_EQ(response.getStatus(), 403);
}

// An auth plugin that answers with an error (not a decision) fails closed: 401, no pod.
TEST_F(TerminalEndpointTest, AnAuthErrorIsA401AndNoPod) {
  session_.setPort(front_->port());
  EXPECT_CALL(auth_, authenticate(_))
      .WillOnce(Return(sdk::Status{sdk::ErrorCode::Unavailable, "identity service down"}));
  EXPECT_CALL(runtime_, ensurePod(_, _)).Times(0);
  Poco::Net::HTTPResponse response;
  EXPECT_THROW(connect(response), Poco::Net::WebSocketException);
  EXPECT_EQ(response.getStatus(), 401);
}

TEST_F(TerminalEndpointTest, TheSocketClosesWith1008WhenTheCredentialExpires) {
  session_.setPort(front_->port());
  sdk::AuthDecision allowed;
  allowed.allowed = true;
  allowed.principal = "1";
  allowed.expires_unix_ms = nowMs() + 300;
  EXPECT_CALL(auth_, authenticate(_)).WillOnce(Return(allowed));
  Poco::Net::HTTPResponse response;
  auto socket = connect(response);
  socket->setReceiveTimeout(Poco::Timespan(10, 0));
  // Frames before the close (the spec's "not ready" texts never come: no input) are skipped.
  int code = -1;
  for (int frames = 0; frames < 10 && code < 0; ++frames) {
    Poco::Buffer<char> buffer(0);
    int flags = 0;
    int n = socket->receiveFrame(buffer, flags);
    if ((flags & Poco::Net::WebSocket::FRAME_OP_BITMASK) == Poco::Net::WebSocket::FRAME_OP_CLOSE) {
      ASSERT_GE(n, 2);
      code = (static_cast<unsigned char>(buffer[0]) << 8) | static_cast<unsigned char>(buffer[1]);
    }
  }
  EXPECT_EQ(code, 1008);
}

}  // namespace
}  // namespace podterm::host
