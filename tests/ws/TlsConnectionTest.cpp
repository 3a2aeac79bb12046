// WsConnection over TLS (TlsTransport): the server end of a socketpair speaks TLS through the
// SSL its handshake registered (registerTlsContext / takeTls), the test drives a blocking
// OpenSSL client on the other end. The host's own TLS listener is tested end to end in
// tests/e2e/TlsE2ETest.cpp.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "WaitFor.h"
#include "ws/EventLoop.h"
#include "ws/TlsTransport.h"
#include "ws/WsConnection.h"

namespace podterm::host {
namespace {

using testing::Signal;

// A self-signed P-256 certificate made in memory, in a server context registered for handoff.
SSL_CTX* serverContext() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, key);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  registerTlsContext(ctx);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

class EchoHandler : public WsConnectionHandler {
 public:
  void onMessage(WsConnection& conn, bool is_text, std::string_view payload) override {
    is_text ? conn.sendText(payload) : conn.sendBinary(payload);
  }
  void onClosed(WsConnection&, uint16_t code, std::string_view) override {
    code_ = code;
    closed_.notify();
  }
  Signal closed_;
  std::atomic<int> code_{0};
};

class TlsConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_.start();
    server_ctx_ = serverContext();
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    client_fd_ = sv[1];
    // The client blocks: bound every read so a failing test cannot hang.
    timeval timeout{10, 0};
    ::setsockopt(client_fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    SSL* server = SSL_new(server_ctx_);
    SSL_set_fd(server, sv[0]);
    client_ = SSL_new(client_ctx_);
    SSL_set_fd(client_, client_fd_);
    std::thread connector([this] { client_ok_ = SSL_connect(client_) == 1; });
    const bool server_ok = SSL_accept(server) == 1;
    connector.join();
    ASSERT_TRUE(server_ok && client_ok_);
    // The handshake registered the server's SSL under its fd, as on the host's listener.
    ASSERT_EQ(takeTls(sv[0]), server);
    EXPECT_EQ(takeTls(sv[0]), nullptr);  // taken once
    const int server_fd = sv[0];
    auto tls = std::make_unique<TlsTransport>(server_fd, server, [server, server_fd] {
      SSL_free(server);
      ::close(server_fd);
    });
    connection_ = WsConnection::create(std::move(tls), loop_);
    handler_ = std::make_shared<EchoHandler>();
    connection_->start(handler_);
  }
  void TearDown() override {
    // The client goes away: the server sees EOF and closes without waiting out close_timeout.
    ::shutdown(client_fd_, SHUT_RDWR);
    if (handler_) handler_->closed_.waitFor(1, std::chrono::seconds(10));
    connection_.reset();
    loop_.stop();
    SSL_free(client_);
    ::close(client_fd_);
    SSL_CTX_free(client_ctx_);
    SSL_CTX_free(server_ctx_);
  }

  void clientWrite(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const int n = SSL_write(client_, bytes.data() + off, static_cast<int>(bytes.size() - off));
      ASSERT_GT(n, 0);
      off += static_cast<size_t>(n);
    }
  }
  // The next complete message from the server; false on EOF, error or timeout.
  bool clientRead(WsMessage& message) {
    char buffer[16384];
    while (!parser_.next(message)) {
      const int n = SSL_read(client_, buffer, sizeof buffer);
      if (n <= 0) return false;
      parser_.feed(buffer, static_cast<size_t>(n));
    }
    return true;
  }

  EventLoop loop_{"tls-test"};
  SSL_CTX* server_ctx_ = nullptr;
  SSL_CTX* client_ctx_ = nullptr;
  SSL* client_ = nullptr;
  int client_fd_ = -1;
  std::atomic<bool> client_ok_{false};
  WsConnectionPtr connection_;
  std::shared_ptr<EchoHandler> handler_;
  FrameWriter writer_{true};
  FrameParser parser_{FrameParserOptions{false, size_t{64} << 20}};
};

TEST_F(TlsConnectionTest, EchoesSmallAndMultiRecordMessages) {
  // 300 KB spans many 16 KB TLS records: more than one readiness event reads (kReadsPerEvent),
  // so the connection must come back for what OpenSSL already decrypted.
  for (const size_t size : {size_t{5}, size_t{300} << 10, size_t{1}}) {
    const std::string payload(size, 'x');
    clientWrite(writer_.text(payload));
    WsMessage message;
    ASSERT_TRUE(clientRead(message)) << size;
    EXPECT_EQ(message.opcode, Opcode::Text);
    EXPECT_EQ(message.payload.size(), size);
  }
}

TEST_F(TlsConnectionTest, LargeOutputQueuesAndArrivesWhole) {
  // 8 MiB sent at once from this thread while the client reads nothing yet: the socket fills,
  // the rest waits in the queue (SSL_write retried on EPOLLOUT from a moved buffer).
  std::string chunk(64 << 10, '\0');
  for (int i = 0; i < 128; ++i) {
    chunk[0] = static_cast<char>(i);
    ASSERT_TRUE(connection_->sendBinary(chunk));
  }
  EXPECT_GT(connection_->bufferedBytes(), 0u);
  for (int i = 0; i < 128; ++i) {
    WsMessage message;
    ASSERT_TRUE(clientRead(message)) << i;
    ASSERT_EQ(message.payload.size(), chunk.size());
    EXPECT_EQ(message.payload[0], static_cast<char>(i));
  }
}

TEST_F(TlsConnectionTest, ClosingHandshakeEndsWithCloseNotify) {
  clientWrite(writer_.close(1000, "bye"));
  WsMessage message;
  ASSERT_TRUE(clientRead(message));
  EXPECT_EQ(message.opcode, Opcode::Close);
  // Then the server's close_notify: a clean TLS end of stream, not a truncation.
  char byte;
  EXPECT_EQ(SSL_read(client_, &byte, 1), 0);
  EXPECT_EQ(SSL_get_error(client_, 0), SSL_ERROR_ZERO_RETURN);
  ::shutdown(client_fd_, SHUT_WR);  // the client closes its end in turn
  ASSERT_TRUE(handler_->closed_.waitFor(1, std::chrono::seconds(10)));
  EXPECT_EQ(handler_->code_.load(), 1000);
}

}  // namespace
}  // namespace podterm::host
