// Connection-level limits of the real host ([limits] in docs/protocol.md): the connection cap,
// the handshake deadline, the socket idle timeout and the per-session input rate, each against
// the podterm executable with fakepod.

#include <Poco/DigestEngine.h>
#include <Poco/MD5Engine.h>
#include <Poco/Net/NetException.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <regex>
#include <thread>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kPath = "/api/terminal/ws/";

std::string sessionPath(const std::string& suffix) {
  return kPath + "user_1_ws_harden_" + suffix;
}

std::string upgradeRequest(uint16_t port, const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
}

int connectTo(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until the server closes the connection (EOF or reset) or the deadline passes; returns
// what arrived, and whether it was closed.
std::pair<std::string, bool> readUntilClosed(int fd, Clock::time_point until) {
  std::string data;
  while (Clock::now() < until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return {data, true};
    data.append(buffer, static_cast<size_t>(n));
  }
  return {data, false};
}

size_t podCount(const HostProcess& host) {
  size_t count = 0;
  if (DIR* dir = ::opendir((host.directory() + "/fakepod/pods").c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    ::closedir(dir);
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// limits.max_connections

TEST(HardeningE2E, ConnectionsBeyondTheLimitGet503BeforeAnyPod) {
  HostOptions options;
  options.extra_tables = "[limits]\nmax_connections = 2\n";
  HostProcess host(options);
  auto first = std::make_unique<TerminalClient>(host.port(), sessionPath("cap_1"));
  TerminalClient second(host.port(), sessionPath("cap_2"));
  waitForPrompt(*first);
  waitForPrompt(second);
  const size_t pods = podCount(host);

  const std::string refused =
      rawRequest(host.port(), upgradeRequest(host.port(), sessionPath("cap_3")));
  EXPECT_EQ(refused.substr(0, 12), "HTTP/1.1 503") << refused;
  EXPECT_NE(refused.find("Retry-After:"), std::string::npos) << refused;
  EXPECT_EQ(podCount(host), pods) << "a refused upgrade must not create a pod";
  EXPECT_NE(host.log().find("limits.max_connections"), std::string::npos);
  // The open ones are unaffected.
  second.send("echo still-$((40+2))\n");
  EXPECT_TRUE(second.waitFor("still-42")) << second.text();

  // A closed socket gives its place back.
  first.reset();
  std::unique_ptr<TerminalClient> third;
  const auto until = Clock::now() + 10s;
  while (!third && Clock::now() < until) {
    try {
      third = std::make_unique<TerminalClient>(host.port(), sessionPath("cap_3"));
    } catch (const Poco::Net::WebSocketException&) {
      std::this_thread::sleep_for(20ms);
    }
  }
  ASSERT_TRUE(third) << "the slot of a closed socket was never released";
  third->send("echo third-$((1+2))\n");
  EXPECT_TRUE(third->waitFor("third-3")) << third->text();
}

// The open-file limit bounds the terminals too: with room for 3 (256 kept for the host, 8 per
// terminal) and limits.max_connections at its default, the 4th gets the same 503 before any pod,
// instead of whatever would next fail for want of a descriptor (a running session's sync among
// them), and the host says why at start.
TEST(HardeningE2E, TheOpenFileLimitCapsTerminalsWith503) {
  HostOptions options;
  options.open_files = 256 + 8 * 3;
  HostProcess host(options);
  EXPECT_NE(host.log().find("open-file limit of 280 leaves room for 3 terminals"),
            std::string::npos)
      << host.log();
  TerminalClient a(host.port(), sessionPath("fd_1"));
  TerminalClient b(host.port(), sessionPath("fd_2"));
  TerminalClient c(host.port(), sessionPath("fd_3"));
  waitForPrompt(a);
  waitForPrompt(b);
  waitForPrompt(c);
  const size_t pods = podCount(host);
  const std::string refused =
      rawRequest(host.port(), upgradeRequest(host.port(), sessionPath("fd_4")));
  EXPECT_EQ(refused.substr(0, 12), "HTTP/1.1 503") << refused;
  EXPECT_EQ(podCount(host), pods) << "a refused upgrade must not create a pod";
  EXPECT_TRUE(waitUntil(
      [&] {
        return host.log().find(
                   "refused: 3 connections open (the open-file limit of 280 "
                   "descriptors)") != std::string::npos;
      },
      5s))
      << host.log();
  c.send("echo fine-$((40+2))\n");
  EXPECT_TRUE(c.waitFor("fine-42")) << c.text();
}

// ---------------------------------------------------------------------------------------------
// limits.handshake_timeout_s

TEST(HardeningE2E, SlowAndSilentClientsAreDroppedAtTheHandshakeDeadline) {
  HostOptions options;
  options.extra_server = "http_threads = 4\n";
  options.extra_tables = "[limits]\nhandshake_timeout_s = 1\n";
  HostProcess host(options);

  // Two connections that send nothing, one that trickles its upgrade request a byte every
  // 100 ms (each byte well inside Poco's per-read timeout).
  const auto start = Clock::now();
  int silent[2] = {connectTo(host.port()), connectTo(host.port())};
  int slow = connectTo(host.port());
  ASSERT_GE(silent[0], 0);
  ASSERT_GE(silent[1], 0);
  ASSERT_GE(slow, 0);
  std::atomic<bool> stop{false};
  std::atomic<int> trickled{0};
  std::thread trickle([&] {
    const std::string request = upgradeRequest(host.port(), sessionPath("slow_1"));
    for (size_t i = 0; i < request.size() && !stop; ++i) {
      if (::send(slow, &request[i], 1, MSG_NOSIGNAL) != 1) return;
      ++trickled;
      for (int t = 0; t < 10 && !stop; ++t) std::this_thread::sleep_for(10ms);
    }
  });

  // Others are served meanwhile (three of the four HTTP threads are held).
  for (int i = 0; i < 5; ++i) {
    const auto asked = Clock::now();
    EXPECT_EQ(httpGet(host.port(), "/healthz").substr(0, 3), "200");
    EXPECT_LT(Clock::now() - asked, 500ms);
  }
  TerminalClient client(host.port(), sessionPath("served_1"));
  client.send("echo served-$((2*3))\n");
  EXPECT_TRUE(client.waitFor("served-6")) << client.text();

  // All three are dropped about when the deadline passes, the trickler with a 408.
  for (int fd : {silent[0], silent[1], slow}) {
    auto [data, closed] = readUntilClosed(fd, start + 5s);
    EXPECT_TRUE(closed);
    EXPECT_EQ(data.substr(0, 12), "HTTP/1.1 408") << data;
    EXPECT_GE(Clock::now() - start, 900ms);
  }
  EXPECT_LT(Clock::now() - start, 3s);
  stop = true;
  trickle.join();
  EXPECT_GT(trickled.load(), 3) << "the request was not trickled";
  EXPECT_LT(static_cast<size_t>(trickled.load()),
            upgradeRequest(host.port(), sessionPath("slow_1")).size());
  for (int fd : {silent[0], silent[1], slow}) ::close(fd);
  EXPECT_EQ(httpGet(host.port(), "/healthz").substr(0, 3), "200");
}

TEST(HardeningE2E, MoreSilentClientsThanHttpThreadsHoldThemOnlyUntilTheDeadline) {
  HostOptions options;
  options.extra_server = "http_threads = 2\n";
  options.extra_tables = "[limits]\nhandshake_timeout_s = 1\n";
  HostProcess host(options);
  std::vector<int> silent;
  for (int i = 0; i < 4; ++i) silent.push_back(connectTo(host.port()));
  const auto start = Clock::now();
  // Every thread is held, but only for the deadline: a normal request still gets its answer,
  // within about two deadlines (two rounds of two silent clients).
  EXPECT_EQ(httpGet(host.port(), "/healthz").substr(0, 3), "200");
  EXPECT_LT(Clock::now() - start, 4s);
  for (int fd : silent) {
    EXPECT_TRUE(readUntilClosed(fd, start + 5s).second);
    ::close(fd);
  }
}

// The deadline covers a request's headers only: a socket handed to an event loop after them (a
// WebSocket after its 101, an event stream after its 200) is never cut by it.
TEST(HardeningE2E, TheHandshakeDeadlineNeverCutsAnUpgradedSocketOrAnEventStream) {
  HostOptions options;
  options.extra_tables =
      "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\npath = \"{dir}/podterm.db\"\n"
      "[limits]\nhandshake_timeout_s = 1\n";
  HostProcess host(options);
  TerminalClient terminal(host.port(), sessionPath("after_1"));
  int events = connectTo(host.port());
  ASSERT_GE(events, 0);
  const std::string request =
      "GET /api/workspaces/user_1_ws_harden/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Accept: text/event-stream\r\n\r\n";
  ASSERT_EQ(::send(events, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  // Three deadlines later both are still open.
  auto [stream, closed] = readUntilClosed(events, Clock::now() + 3s);
  EXPECT_FALSE(closed) << stream;
  EXPECT_EQ(stream.substr(0, 12), "HTTP/1.1 200") << stream;
  EXPECT_EQ(stream.find("408"), std::string::npos) << stream;
  ::close(events);
  terminal.send("echo alive-$((6+6))\n");
  EXPECT_TRUE(terminal.waitFor("alive-12")) << terminal.text();
}

// ---------------------------------------------------------------------------------------------
// limits.ping_interval_s and limits.socket_idle_timeout_s

std::string shellPid(TerminalClient& client) {
  client.consume();
  // The quotes keep the typed line (echoed back) from containing what the answer contains.
  client.send("echo pid=$$=e\"\"nd\n");
  if (!client.waitFor("=end\r\n")) return "";
  std::smatch match;
  const std::string text = client.text();
  if (!std::regex_search(text, match, std::regex("pid=([0-9]+)=end"))) return "";
  return match[1];
}

TEST(HardeningE2E, AnIdleSocketIsClosedWith1001AndItsSessionLivesOn) {
  HostOptions options;
  options.grace_period_s = 30;
  options.extra_tables = "[limits]\nping_interval_s = 1\nsocket_idle_timeout_s = 2\n";
  HostProcess host(options);
  const std::string path = sessionPath("idle_1");
  std::string pid;
  {
    TerminalClient client(host.port(), path);
    waitForPrompt(client);
    pid = shellPid(client);
    ASSERT_FALSE(pid.empty()) << client.text();
    // From now on the client reads but never answers the server's pings (Poco's client does
    // not): no frame at all arrives from it.
    const auto silent_since = Clock::now();
    EXPECT_EQ(client.waitForClose(10s), 1001);
    const auto idle = Clock::now() - silent_since;
    EXPECT_GE(idle, 1500ms);  // 2 s after its last frame, which came a little before
    EXPECT_LT(idle, 6s);
  }
  // The session outlived its socket: a reconnect gets the same shell.
  TerminalClient again(host.port(), path);
  const std::string pid_again = shellPid(again);
  EXPECT_EQ(pid_again, pid) << again.text();
}

TEST(HardeningE2E, AClientThatTypesIsNeverIdle) {
  HostOptions options;
  options.extra_tables = "[limits]\nping_interval_s = 1\nsocket_idle_timeout_s = 2\n";
  HostProcess host(options);
  TerminalClient client(host.port(), sessionPath("busy_1"));
  waitForPrompt(client);
  // Typing every 500 ms for twice the idle timeout.
  for (int i = 0; i < 8; ++i) {
    client.consume();
    client.send("echo tick-" + std::to_string(i) + "-$((i+1))\n");
    ASSERT_TRUE(client.waitFor("tick-" + std::to_string(i) + "-1", 5s)) << client.text();
    std::this_thread::sleep_for(500ms);
  }
}

// ---------------------------------------------------------------------------------------------
// limits.input_bytes_per_s and limits.input_burst_bytes

std::string md5(const std::string& data) {
  Poco::MD5Engine engine;
  engine.update(data);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

TEST(HardeningE2E, APasteOverTheInputRateArrivesWholeAndOnlyAsFastAsTheRate) {
  constexpr size_t kRate = 16 * 1024;
  constexpr size_t kBurst = 8 * 1024;
  HostOptions options;
  options.extra_tables = "[limits]\ninput_bytes_per_s = " + std::to_string(kRate) +
                         "\ninput_burst_bytes = " + std::to_string(kBurst) + "\n";
  HostProcess host(options);
  TerminalClient paster(host.port(), sessionPath("paste_1"));
  TerminalClient other(host.port(), sessionPath("paste_2"));
  waitForPrompt(paster);
  waitForPrompt(other);

  // 48 KiB of numbered lines, read by head in the pod (echo off, so only the digest comes back).
  std::string paste;
  for (int line = 0; paste.size() < 48 * 1024; ++line) {
    paste += "line " + std::to_string(line) + " " + std::string(57, 'a' + line % 26) + "\n";
  }
  paste.resize(48 * 1024);
  paste.back() = '\n';
  paster.send("stty -echo; head -c " + std::to_string(paste.size()) + " | md5sum; stty echo\n");
  const auto start = Clock::now();
  paster.send(paste);

  // Meanwhile another session echoes at once.
  for (int i = 0; i < 5; ++i) {
    other.consume();
    const auto asked = Clock::now();
    other.send("echo fast-" + std::to_string(i) + "-$((7*6))\n");
    ASSERT_TRUE(other.waitFor("fast-" + std::to_string(i) + "-42", 5s)) << other.text();
    EXPECT_LT(Clock::now() - asked, 1s) << "echo " << i;
  }

  ASSERT_TRUE(paster.waitFor(md5(paste), 30s)) << "the paste did not arrive whole";
  const auto took = Clock::now() - start;
  // The burst goes at once, the rest at the rate: (48 - 8) KiB / 16 KiB/s = 2.5 s.
  EXPECT_GE(took, std::chrono::milliseconds((paste.size() - kBurst) * 1000 / kRate - 100));
}

}  // namespace
}  // namespace podterm::e2e
