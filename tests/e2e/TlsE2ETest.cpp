// The host's own TLS listener ([server] tls_certificate_file / tls_key_file): HTTPS, a WSS
// terminal whose socket the event loops drive through TlsTransport, backpressure over TLS, and
// clients that do not speak TLS (or stop halfway through its handshake).
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/WebSocket.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "HostProcess.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

std::string g_cert_dir;  // the throwaway certificate and key

// A fresh self-signed P-256 certificate for 127.0.0.1, in a temp dir.
std::string makeCertificate() {
  char tmpl[] = "/tmp/podterm-tls.XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  const std::string dir = tmpl;
  const std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
      "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout '" +
      dir + "/key.pem' -out '" + dir + "/cert.pem' 2>/dev/null";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl req failed");
  return dir;
}

// Trusts only the test's certificate.
Poco::Net::Context::Ptr clientContext() {
  static Poco::Net::Context::Ptr context = [] {
    Poco::Net::Context::Params params;
    params.caLocation = g_cert_dir + "/cert.pem";
    params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
    params.loadDefaultCAs = false;
    return Poco::Net::Context::Ptr(
        new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params));
  }();
  return context;
}

// "<status> <body>", or "error: ..." when TLS or HTTP failed.
std::string httpsGet(uint16_t port, const std::string& path) {
  try {
    Poco::Net::HTTPSClientSession session("127.0.0.1", port, clientContext());
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    std::stringstream body;
    body << in.rdbuf();
    return std::to_string(static_cast<int>(response.getStatus())) + " " + body.str();
  } catch (const Poco::Exception& e) {
    return "error: " + e.displayText();
  }
}

// A WSS terminal client: the same calls as TerminalClient, over HTTPSClientSession.
class WssClient {
 public:
  WssClient(uint16_t port, const std::string& path) : session_("127.0.0.1", port, clientContext()) {
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    Poco::Net::HTTPResponse response;
    socket_ = std::make_unique<Poco::Net::WebSocket>(session_, request, response);
  }
  void send(const std::string& text) {
    socket_->sendFrame(text.data(), static_cast<int>(text.size()),
                       Poco::Net::WebSocket::FRAME_TEXT);
  }
  // Reads frames until `needle` is in the text (keeping a tail only); returns the bytes read, or
  // -1 at the deadline or on close. The deadline covers each blocking read (never a short poll,
  // which could stop mid-frame).
  int64_t readUntil(const std::string& needle, std::chrono::milliseconds deadline,
                    std::string* text = nullptr, int64_t* count_a = nullptr) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    std::string tail;
    int64_t total = 0;
    while (std::chrono::steady_clock::now() < until) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      socket_->setReceiveTimeout(Poco::Timespan(std::max<int64_t>(left.count(), 1) * 1000));
      Poco::Buffer<char> buffer(0);
      int flags = 0;
      int n;
      try {
        n = socket_->receiveFrame(buffer, flags);
      } catch (const Poco::Exception&) {
        return -1;
      }
      if (n <= 0 && (flags & Poco::Net::WebSocket::FRAME_OP_BITMASK) ==
                        Poco::Net::WebSocket::FRAME_OP_CLOSE) {
        return -1;
      }
      if ((flags & Poco::Net::WebSocket::FRAME_OP_BITMASK) != Poco::Net::WebSocket::FRAME_OP_TEXT) {
        continue;
      }
      const std::string chunk(buffer.begin(), static_cast<size_t>(n));
      total += n;
      if (count_a) *count_a += std::count(chunk.begin(), chunk.end(), 'A');
      if (text) text->append(chunk);
      tail.append(chunk);
      if (tail.find(needle) != std::string::npos) return total;
      if (tail.size() > 4096) tail.erase(0, tail.size() - needle.size());
    }
    return -1;
  }

 private:
  Poco::Net::HTTPSClientSession session_;
  std::unique_ptr<Poco::Net::WebSocket> socket_;
};

int connectTo(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Waits up to `deadline` for the server to close fd (EOF or reset); true when it did.
bool closedByServer(int fd, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  char buffer[4096];
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 1))) <= 0) continue;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return true;  // everything the server sent before closing is skipped
  }
  return false;
}

const std::string kPath = "/api/terminal/ws/user_1_ws_abc123_";

class TlsE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_cert_dir = makeCertificate();
    HostOptions options;
    options.extra_server = "tls_certificate_file = \"" + g_cert_dir +
                           "/cert.pem\"\ntls_key_file = \"" + g_cert_dir + "/key.pem\"\n";
    // Past the handshake timeout (1 s) a silent or half-finished TLS client is dropped.
    options.extra_tables =
        "[limits]\nhandshake_timeout_s = 1\nsessions_per_user = 0\npods_per_user = 0\n"
        "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\npath = \"{dir}/podterm.db\"\n"
        "[sync]\nplugin = \"always\"\n";
    options.ready_probe = [](uint16_t port) {
      return httpsGet(port, "/readyz").rfind("200", 0) == 0;
    };
    host_ = std::make_unique<HostProcess>(options);
  }
  static void TearDownTestSuite() {
    host_.reset();
    std::system(("rm -rf '" + g_cert_dir + "'").c_str());
  }
  static std::unique_ptr<HostProcess> host_;
};
std::unique_ptr<HostProcess> TlsE2E::host_;

TEST_F(TlsE2E, HttpsHealthz) {
  EXPECT_EQ(httpsGet(host_->port(), "/healthz"), "200 ok\n");
}

TEST_F(TlsE2E, WssTerminalEchoesACommand) {
  WssClient client(host_->port(), kPath + "tls_echo");
  client.send("echo tls-$((6*7))\n");
  std::string text;
  EXPECT_GT(client.readUntil("tls-42\r\n", 20s, &text), 0) << text;
  // A second round trip on the same socket: the loop keeps driving the session's SSL.
  client.send("echo again-$((1+1))\n");
  EXPECT_GT(client.readUntil("again-2\r\n", 20s, &text), 0) << text;
}

TEST_F(TlsE2E, LargeOutputArrivesWhole) {
  WssClient client(host_->port(), kPath + "tls_flood");
  // 5,000,000 zero bytes are 6,666,667 'A's in base64 (then "="); the command line has no 'A'.
  client.send("head -c 5000000 /dev/zero | base64 -w 0; echo; echo end-$((40+2))\n");
  int64_t count_a = 0;
  const int64_t received = client.readUntil("end-42\r\n", 120s, nullptr, &count_a);
  EXPECT_GT(received, 6'666'667);
  EXPECT_EQ(count_a, 6'666'667);
}

// The event stream leaves Poco for a loop too (SseStream): its first bytes come from there.
TEST_F(TlsE2E, EventStreamOverHttps) {
  Poco::Net::HTTPSClientSession session("127.0.0.1", host_->port(), clientContext());
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET,
                                 "/api/workspaces/user_1_ws_tlsevents/events",
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  ASSERT_EQ(response.getStatus(), Poco::Net::HTTPResponse::HTTP_OK);
  std::string line;
  std::string seen;
  for (int i = 0; i < 8 && std::getline(in, line); ++i) {
    seen += line + "\n";
    if (line == ": connected") break;
  }
  EXPECT_NE(seen.find(": connected"), std::string::npos) << seen;
}

TEST_F(TlsE2E, PlainHttpIsRefusedAndTheHostKeepsServing) {
  const std::string response = httpGet(host_->port(), "/healthz");
  EXPECT_EQ(response.find("200"), std::string::npos) << response;
  EXPECT_EQ(httpsGet(host_->port(), "/healthz"), "200 ok\n");
}

TEST_F(TlsE2E, ClientStoppingMidHandshakeIsDropped) {
  const int fd = connectTo(host_->port());
  ASSERT_GE(fd, 0);
  // The first bytes of a TLS 1.2 ClientHello record header and handshake header, then silence.
  const unsigned char partial[] = {0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03};
  ASSERT_EQ(::send(fd, partial, sizeof partial, MSG_NOSIGNAL),
            static_cast<ssize_t>(sizeof partial));
  EXPECT_TRUE(closedByServer(fd, 10s)) << "the handshake timeout (1 s) did not drop the client";
  ::close(fd);
  EXPECT_EQ(httpsGet(host_->port(), "/healthz"), "200 ok\n");
}

}  // namespace
}  // namespace podterm::e2e
