#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "WaitFor.h"
#include "WsTestClient.h"
#include "ws/WsConnection.h"

namespace podterm::host {
namespace {

using namespace std::chrono_literals;
using testing::Signal;
using testing::waitUntil;
using testing::WsTestClient;

// Records every callback; optionally echoes messages back.
class RecordingHandler : public WsConnectionHandler {
 public:
  explicit RecordingHandler(bool echo = false) : echo_(echo) {}

  void onMessage(WsConnection& conn, bool is_text, std::string_view payload) override {
    EXPECT_TRUE(conn.loop().inLoopThread());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      messages_.emplace_back(payload);
    }
    if (echo_) is_text ? conn.sendText(payload) : conn.sendBinary(payload);
    message_.notify();
  }
  void onClosed(WsConnection& conn, uint16_t code, std::string_view reason) override {
    EXPECT_TRUE(conn.loop().inLoopThread());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      close_code_ = code;
      close_reason_ = std::string(reason);
    }
    closed_.notify();
  }
  void onDrained(WsConnection& conn) override {
    EXPECT_FALSE(conn.aboveHighWatermark());
    drained_.notify();
  }

  std::vector<std::string> messages() {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
  }
  uint16_t closeCode() {
    std::lock_guard<std::mutex> lock(mutex_);
    return close_code_;
  }
  std::string closeReason() {
    std::lock_guard<std::mutex> lock(mutex_);
    return close_reason_;
  }

  Signal message_;
  Signal closed_;
  Signal drained_;

 private:
  const bool echo_;
  std::mutex mutex_;
  std::vector<std::string> messages_;
  uint16_t close_code_ = 0;
  std::string close_reason_;
};

class WsConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override { loop_.start(); }
  void TearDown() override {
    client_.reset();
    loop_.stop();
  }

  // Server connection on one end of a socketpair, test client on the other.
  std::shared_ptr<RecordingHandler> open(WsConnectionOptions options = {}, bool echo = false) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    client_ = std::make_unique<WsTestClient>(sv[1]);
    conn_ = WsConnection::create(sv[0], loop_, options, "tty.v1");
    auto handler = std::make_shared<RecordingHandler>(echo);
    conn_->start(handler);
    return handler;
  }

  static uint16_t closeCodeOf(const WsMessage& m) {
    ClosePayload c;
    EXPECT_TRUE(parseClosePayload(m.payload, c));
    return c.code;
  }

  EventLoop loop_{"ws-test"};
  std::unique_ptr<WsTestClient> client_;
  WsConnectionPtr conn_;
};

TEST_F(WsConnectionTest, EchoesTextAndBinary) {
  auto handler = open({}, true);
  EXPECT_EQ(conn_->subprotocol(), "tty.v1");
  ASSERT_TRUE(client_->sendText("hello"));
  ASSERT_TRUE(client_->sendBinary(std::string("\0\xff", 2)));
  WsMessage m;
  ASSERT_TRUE(client_->read(m));
  EXPECT_EQ(m.opcode, Opcode::Text);
  EXPECT_EQ(m.payload, "hello");
  ASSERT_TRUE(client_->read(m));
  EXPECT_EQ(m.opcode, Opcode::Binary);
  EXPECT_EQ(m.payload, std::string("\0\xff", 2));
}

TEST_F(WsConnectionTest, FragmentedMessageWithPingInTheMiddle) {
  auto handler = open({}, true);
  FrameWriter& w = client_->writer();
  std::string bytes;
  w.append(bytes, Opcode::Text, "ab", false);
  w.append(bytes, Opcode::Ping, "are you there");
  w.append(bytes, Opcode::Continuation, "cd", true);
  ASSERT_TRUE(client_->sendRaw(bytes));
  WsMessage m;
  ASSERT_TRUE(client_->read(m));
  EXPECT_EQ(m.opcode, Opcode::Pong);
  EXPECT_EQ(m.payload, "are you there");
  ASSERT_TRUE(client_->read(m));
  EXPECT_EQ(m.payload, "abcd");
}

TEST_F(WsConnectionTest, LargeMessageWithRaisedLimit) {
  WsConnectionOptions options;
  options.max_message_bytes = size_t{8} << 20;
  auto handler = open(options, true);
  std::string big(size_t{4} << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  // Send from a thread: the server echoes while we are still writing.
  std::thread writer([&] { EXPECT_TRUE(client_->sendBinary(big)); });
  WsMessage m;
  const bool got = client_->read(m);
  writer.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(m.payload.size(), big.size());
  EXPECT_TRUE(m.payload == big);
}

TEST_F(WsConnectionTest, OversizedMessageClosesWith1009) {
  WsConnectionOptions options;
  options.max_message_bytes = 1024;
  auto handler = open(options, true);
  ASSERT_TRUE(client_->sendText(std::string(100000, 'x')));
  WsMessage m;
  ASSERT_TRUE(client_->read(m));
  ASSERT_EQ(m.opcode, Opcode::Close);
  EXPECT_EQ(closeCodeOf(m), close_code::kMessageTooBig);
  // The server half-closes and waits (up to close_timeout) for the client to close its end.
  EXPECT_TRUE(client_->waitForEof());
  client_->closeSocket();
  ASSERT_TRUE(handler->closed_.waitFor());
  EXPECT_EQ(handler->closeCode(), close_code::kMessageTooBig);
  EXPECT_TRUE(handler->messages().empty());
}

TEST_F(WsConnectionTest, UnmaskedClientFrameClosesWith1002) {
  auto handler = open();
  std::string frame;
  appendFrame(frame, Opcode::Text, "not masked");
  ASSERT_TRUE(client_->sendRaw(frame));
  WsMessage m;
  ASSERT_TRUE(client_->read(m));
  ASSERT_EQ(m.opcode, Opcode::Close);
  EXPECT_EQ(closeCodeOf(m), close_code::kProtocolError);
  client_->closeSocket();
  ASSERT_TRUE(handler->closed_.waitFor());
  EXPECT_EQ(handler->closeCode(), close_code::kProtocolError);
}

TEST_F(WsConnectionTest, InvalidUtf8TextClosesWith1007) {
  auto handler = open({}, true);
  ASSERT_TRUE(client_->sendText("fine"));
  // The invalid byte sits in the second fragment: the check spans fragments.
  ASSERT_TRUE(client_->sendRaw(client_->writer().encode(Opcode::Text, "caf\xc3", false)));
  ASSERT_TRUE(client_->sendRaw(client_->writer().encode(Opcode::Continuation, "(")));
  WsMessage m;
  ASSERT_TRUE(client_->read(m));
  EXPECT_EQ(m.payload, "fine");
  ASSERT_TRUE(client_->read(m));
  ASSERT_EQ(m.opcode, Opcode::Close);
  EXPECT_EQ(closeCodeOf(m), close_code::kInvalidPayload);
  client_->closeSocket();
  ASSERT_TRUE(handler->closed_.waitFor());
  EXPECT_EQ(handler->closeCode(), close_code::kInvalidPayload);
  EXPECT_EQ(handler->messages().size(), 1u);
}

TEST_F(WsConnectionTest, CloseReasonThatIsNotUtf8ClosesWith1007) {
  auto handler = open();
  ASSERT_TRUE(
      client_->sendRaw(client_->writer().encode(Opcode::Close, closePayload(1000, "bye \xff"))));
  WsMessage m;
  ASSERT_TRUE(client_->read(m));
  ASSERT_EQ(m.opcode, Opcode::Close);
  EXPECT_EQ(closeCodeOf(m), close_code::kInvalidPayload);
  client_->closeSocket();
  ASSERT_TRUE(handler->closed_.waitFor());
}

// Over its input budget a socket is read more slowly, never dropped: the whole message arrives,
// no sooner than the budget allows, and the pause does not count as idleness.
TEST_F(WsConnectionTest, InputBudgetSlowsReadingButLosesNothing) {
  constexpr size_t kRate = 200 * 1024;
  constexpr size_t kBurst = 40 * 1024;
  constexpr size_t kSize = 300 * 1024;
  WsConnectionOptions options;
  options.input_budget = std::make_shared<InputBudget>(kRate, kBurst);
  options.idle_timeout = 300ms;
  auto handler = open(options);
  const std::string paste = std::string(kSize, 'p');
  const auto start = std::chrono::steady_clock::now();
  std::thread sender([&] { client_->sendText(paste); });
  ASSERT_TRUE(handler->message_.waitFor());
  const auto took = std::chrono::steady_clock::now() - start;
  sender.join();
  ASSERT_EQ(handler->messages().size(), 1u);
  EXPECT_TRUE(handler->messages()[0] == paste);
  // (size - burst) / rate = 1.3 s at least; a little slack for the clock's granularity.
  EXPECT_GE(took, std::chrono::milliseconds((kSize - kBurst) * 1000 / kRate - 50));
  EXPECT_LT(took, 10s);
  EXPECT_TRUE(conn_->isOpen());
  EXPECT_EQ(handler->closed_.count(), 0);
}

TEST_F(WsConnectionTest, BackpressureAboveHighWatermarkThenDrained) {
  WsConnectionOptions options;
  options.high_watermark = 256 << 10;
  options.low_watermark = 64 << 10;
  auto handler = open(options);
  const std::string chunk(64 << 10, 'o');
  // The client does not read: the socket fills, then the queue grows past the high watermark.
  int sent = 0;
  while (!conn_->aboveHighWatermark()) {
    ASSERT_TRUE(conn_->sendBinary(chunk));
    ASSERT_LT(++sent, 1000) << "socket never filled";
  }
  EXPECT_GT(conn_->bufferedBytes(), options.high_watermark);
  EXPECT_EQ(handler->drained_.count(), 0);
  // Now the peer reads everything.
  for (int i = 0; i < sent; ++i) {
    WsMessage m;
    ASSERT_TRUE(client_->read(m)) << "message " << i;
    ASSERT_EQ(m.payload.size(), chunk.size());
  }
  ASSERT_TRUE(handler->drained_.waitFor());
  EXPECT_FALSE(conn_->aboveHighWatermark());
  EXPECT_TRUE(waitUntil([&] { return conn_->bufferedBytes() == 0; }));
  EXPECT_EQ(handler->drained_.count(), 1);
}

TEST_F(WsConnectionTest, ServerInitiatedCloseHandshake) {
  auto handler = open();
  conn_->close(1000, "bye");
  EXPECT_FALSE(conn_->isOpen());
  EXPECT_FALSE(conn_->sendText("too late"));
  WsMessage m;
  ASSERT_TRUE(client_->read(m));
  ASSERT_EQ(m.opcode, Opcode::Close);
  ClosePayload c;
  ASSERT_TRUE(parseClosePayload(m.payload, c));
  EXPECT_EQ(c.code, 1000);
  EXPECT_EQ(c.reason, "bye");
  ASSERT_TRUE(client_->sendClose(1000, ""));
  EXPECT_TRUE(client_->waitForEof());
  ASSERT_TRUE(handler->closed_.waitFor());
  EXPECT_EQ(handler->closeCode(), 1000);
  EXPECT_EQ(handler->closeReason(), "bye");
}

TEST_F(WsConnectionTest, ClientInitiatedCloseIsEchoed) {
  auto handler = open();
  ASSERT_TRUE(client_->sendClose(4001, "done"));
  WsMessage m;
  ASSERT_TRUE(client_->read(m));
  ASSERT_EQ(m.opcode, Opcode::Close);
  EXPECT_EQ(closeCodeOf(m), 4001);
  // The server closes its side first; then the client closes too.
  EXPECT_TRUE(client_->waitForEof());
  client_->closeSocket();
  ASSERT_TRUE(handler->closed_.waitFor());
  EXPECT_EQ(handler->closeCode(), 4001);
  EXPECT_EQ(handler->closeReason(), "done");
}

TEST_F(WsConnectionTest, EmptyCloseIsEchoedEmptyAndReported1005) {
  auto handler = open();
  ASSERT_TRUE(client_->sendRaw(client_->writer().encode(Opcode::Close, "")));
  WsMessage m;
  ASSERT_TRUE(client_->read(m));
  ASSERT_EQ(m.opcode, Opcode::Close);
  EXPECT_TRUE(m.payload.empty());
  client_->closeSocket();
  ASSERT_TRUE(handler->closed_.waitFor());
  EXPECT_EQ(handler->closeCode(), close_code::kNoStatus);
}

TEST_F(WsConnectionTest, AbruptPeerCloseIs1006) {
  auto handler = open();
  client_->closeSocket();
  ASSERT_TRUE(handler->closed_.waitFor());
  EXPECT_EQ(handler->closeCode(), close_code::kAbnormal);
  EXPECT_FALSE(conn_->sendText("gone"));
}

TEST_F(WsConnectionTest, CloseTimesOutWhenThePeerNeverAnswers) {
  WsConnectionOptions options;
  options.close_timeout = 100ms;
  auto handler = open(options);
  conn_->close(4000, "going");
  ASSERT_TRUE(handler->closed_.waitFor());
  EXPECT_EQ(handler->closeCode(), 4000);
  EXPECT_TRUE(client_->waitForEof());
}

TEST_F(WsConnectionTest, IdleTimeoutClosesWith1001AndPingsAreSent) {
  WsConnectionOptions options;
  options.ping_interval = 20ms;
  options.idle_timeout = 200ms;
  options.close_timeout = 100ms;
  auto handler = open(options);
  WsMessage m;
  ASSERT_TRUE(client_->read(m));
  EXPECT_EQ(m.opcode, Opcode::Ping);
  // The client never answers: the idle timeout closes the connection.
  do {
    ASSERT_TRUE(client_->read(m));
  } while (m.opcode == Opcode::Ping);
  ASSERT_EQ(m.opcode, Opcode::Close);
  EXPECT_EQ(closeCodeOf(m), close_code::kGoingAway);
  ASSERT_TRUE(handler->closed_.waitFor());
  EXPECT_EQ(handler->closeCode(), close_code::kGoingAway);
}

// Slow-loris at the frame level: bytes keep coming, a frame never completes. That is idle.
TEST_F(WsConnectionTest, AFrameTrickledByteByByteIsIdle) {
  WsConnectionOptions options;
  options.idle_timeout = 300ms;
  options.close_timeout = 100ms;
  auto handler = open(options);
  const std::string frame = client_->writer().text(std::string(1000, 't'));
  const auto start = std::chrono::steady_clock::now();
  size_t sent = 0;
  // One byte every 20 ms, far inside the idle timeout each, for up to 2 s.
  while (handler->closed_.count() == 0 && sent < 100) {
    if (!client_->sendRaw(frame.substr(sent, 1))) break;
    ++sent;
    handler->closed_.waitFor(1, 20ms);
  }
  ASSERT_TRUE(handler->closed_.waitFor());
  EXPECT_EQ(handler->closeCode(), close_code::kGoingAway);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_LT(sent, 100u) << "closed only after the trickle stopped";
  EXPECT_TRUE(handler->messages().empty());
}

TEST_F(WsConnectionTest, WholeFramesKeepASocketActive) {
  WsConnectionOptions options;
  options.idle_timeout = 300ms;
  auto handler = open(options);
  // A pong every 100 ms for three idle timeouts.
  for (int i = 0; i < 9; ++i) {
    ASSERT_TRUE(client_->sendRaw(client_->writer().pong("k")));
    EXPECT_FALSE(handler->closed_.waitFor(1, 100ms)) << "closed after " << i << " pongs";
  }
  EXPECT_TRUE(conn_->isOpen());
}

TEST_F(WsConnectionTest, SendsFromManyThreadsArriveWholeAndInOrderPerThread) {
  auto handler = open();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Varying sizes so that some sends are partial and get queued.
        std::string msg = std::to_string(t) + ":" + std::to_string(i) + ":";
        msg.append(static_cast<size_t>((i * 997) % 20000), 'a' + t);
        EXPECT_TRUE(conn_->sendText(msg));
      }
    });
  }
  std::vector<int> next(kThreads, 0);
  for (int k = 0; k < kThreads * kPerThread; ++k) {
    WsMessage m;
    ASSERT_TRUE(client_->read(m)) << k;
    const int t = m.payload[0] - '0';
    ASSERT_GE(t, 0);
    ASSERT_LT(t, kThreads);
    const std::string prefix = std::to_string(t) + ":" + std::to_string(next[t]) + ":";
    ASSERT_EQ(m.payload.compare(0, prefix.size(), prefix), 0) << m.payload.substr(0, 20);
    ASSERT_EQ(m.payload.size(), prefix.size() + static_cast<size_t>((next[t] * 997) % 20000));
    ++next[t];
  }
  for (auto& th : threads) th.join();
}

TEST_F(WsConnectionTest, TextPartsAreOneMessage) {
  auto handler = open();
  const std::string_view parts[] = {"\x1b[1m", "bold", "", "\x1b[0m"};
  ASSERT_TRUE(conn_->sendTextParts(parts, 4));
  WsMessage m;
  ASSERT_TRUE(client_->read(m));
  EXPECT_EQ(m.payload, "\x1b[1mbold\x1b[0m");
}

TEST_F(WsConnectionTest, HandlerIsReleasedAfterOnClosed) {
  auto handler = open();
  std::weak_ptr<RecordingHandler> weak = handler;
  Signal& closed = handler->closed_;
  handler.reset();
  client_->closeSocket();
  // The connection holds the last reference until right after onClosed.
  ASSERT_TRUE(closed.waitFor());
  EXPECT_TRUE(waitUntil([&] { return weak.expired(); }));
}

TEST(WsConnectionTcpTest, EchoOverLoopbackTcp) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int client_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const int server_fd = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(server_fd, 0);
  ::close(listener);

  EventLoop loop("tcp-test");
  loop.start();
  auto handler = std::make_shared<RecordingHandler>(true);
  auto conn = WsConnection::create(server_fd, loop);
  conn->start(handler);
  WsTestClient client(client_fd);
  for (int i = 0; i < 100; ++i) {
    const std::string key(1, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(client.sendText(key));
    WsMessage m;
    ASSERT_TRUE(client.read(m));
    ASSERT_EQ(m.payload, key);
  }
  conn->close();
  WsMessage m;
  ASSERT_TRUE(client.read(m));
  EXPECT_EQ(m.opcode, Opcode::Close);
  ASSERT_TRUE(client.sendClose(1000, ""));
  ASSERT_TRUE(handler->closed_.waitFor());
  EXPECT_EQ(handler->closeCode(), 1000);
  loop.stop();
}

}  // namespace
}  // namespace podterm::host
