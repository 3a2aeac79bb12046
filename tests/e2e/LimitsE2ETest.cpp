// Per-user and per-workspace limits of the real host ([limits] in docs/protocol.md): sessions
// and pods per user (429 before the upgrade), the maximum session lifetime, and the workspace
// quotas, each against the podterm executable with fakepod (and SQLite storage for files).

#include <Poco/Net/NetException.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kPath = "/api/terminal/ws/";
const std::string kStorage =
    "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\npath = \"{dir}/podterm.db\"\n"
    "[sync]\nplugin = \"always\"\n";

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

std::string upgradeRequest(uint16_t port, const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
}

// One raw upgrade on its own connection: the response head and body as far as they arrived
// (a 101 keeps the socket open: the head is all there is). The socket stays open until the
// object goes, so a granted session keeps its client.
class RawUpgrade {
 public:
  explicit RawUpgrade(uint16_t port) : port_(port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawUpgrade() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Sends the upgrade and reads until the head is complete and, for a refusal, the connection
  // closed (the host closes refused upgrades), or 10 s passed.
  std::string send(const std::string& path) {
    const std::string request = upgradeRequest(port_, path);
    if (fd_ < 0 || ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) < 0) return "";
    std::string data;
    const auto until = Clock::now() + 10s;
    while (Clock::now() < until) {
      if (data.rfind("HTTP/1.1 101", 0) == 0 && data.find("\r\n\r\n") != std::string::npos) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      data.append(buffer, static_cast<size_t>(n));
    }
    return data;
  }

 private:
  uint16_t port_;
  int fd_ = -1;
};

std::string http(uint16_t port, const std::string& method, const std::string& path,
                 const std::string& body = "") {
  std::string response =
      rawRequest(port, method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  if (response.size() < 12) return "";
  const auto start = response.find("\r\n\r\n");
  return response.substr(9, 3) + " " +
         (start == std::string::npos ? "" : response.substr(start + 4));
}

// ---------------------------------------------------------------------------------------------
// limits.sessions_per_user, limits.pods_per_user

TEST(LimitsE2E, ANewSessionBeyondTheUsersLimitGets429BeforeAnyPod) {
  HostOptions options;
  options.extra_tables = "[limits]\nsessions_per_user = 2\npods_per_user = 0\n";
  HostProcess host(options);
  TerminalClient first(host.port(), kPath + "user_5_ws_w_a");
  auto second = std::make_unique<TerminalClient>(host.port(), kPath + "user_5_ws_w_b");
  waitForPrompt(first);
  waitForPrompt(*second);
  const size_t pods = podCount(host);

  const std::string refused = RawUpgrade(host.port()).send(kPath + "user_5_ws_w_c");
  EXPECT_EQ(refused.substr(0, 12), "HTTP/1.1 429") << refused;
  EXPECT_NE(refused.find("limits.sessions_per_user = 2"), std::string::npos) << refused;
  EXPECT_EQ(podCount(host), pods) << "a refused upgrade must not create a pod";

  // Another client of a live session is not a new session: it shares the first one's shell.
  first.send("export MARK=shared-$((40+2))\n");
  waitForPrompt(first);
  TerminalClient again(host.port(), kPath + "user_5_ws_w_a");
  again.send("echo $MARK\n");
  EXPECT_TRUE(again.waitFor("shared-42")) << again.text();
  // Other users are counted apart.
  TerminalClient other(host.port(), kPath + "user_6_ws_w_c");
  waitForPrompt(other);

  // A session that ended (grace period 0) gives its place back.
  second.reset();
  std::unique_ptr<TerminalClient> third;
  EXPECT_TRUE(waitUntil(
      [&] {
        try {
          third = std::make_unique<TerminalClient>(host.port(), kPath + "user_5_ws_w_c");
          return true;
        } catch (const Poco::Exception&) {
          return false;
        }
      },
      20s))
      << host.log();
  if (third) waitForPrompt(*third);
}

TEST(LimitsE2E, APodBeyondTheUsersLimitGets429) {
  HostOptions options;
  options.extra_tables = "[limits]\nsessions_per_user = 0\npods_per_user = 1\n";
  HostProcess host(options);
  TerminalClient first(host.port(), kPath + "user_5_ws_w_a");
  waitForPrompt(first);
  const std::string refused = RawUpgrade(host.port()).send(kPath + "user_5_ws_x_a");
  EXPECT_EQ(refused.substr(0, 12), "HTTP/1.1 429") << refused;
  EXPECT_NE(refused.find("limits.pods_per_user = 1"), std::string::npos) << refused;
  EXPECT_NE(host.log().find("limits.pods_per_user"), std::string::npos);
}

// Two upgrades for a user's last place at the same instant: the place is reserved when it is
// granted, so exactly one of them gets it.
TEST(LimitsE2E, TwoUpgradesRacingForTheLastPlaceOneWins) {
  HostOptions options;
  options.extra_tables = "[limits]\nsessions_per_user = 1\n";
  HostProcess host(options);
  for (int round = 0; round < 3; ++round) {
    const std::string user = "user_race" + std::to_string(round) + "_ws_w_";
    RawUpgrade a(host.port()), b(host.port());
    std::string answer_a, answer_b;
    std::atomic<bool> go{false};
    std::thread ta([&] {
      while (!go) std::this_thread::yield();
      answer_a = a.send(kPath + user + "a");
    });
    std::thread tb([&] {
      while (!go) std::this_thread::yield();
      answer_b = b.send(kPath + user + "b");
    });
    go = true;
    ta.join();
    tb.join();
    const int granted = (answer_a.rfind("HTTP/1.1 101", 0) == 0 ? 1 : 0) +
                        (answer_b.rfind("HTTP/1.1 101", 0) == 0 ? 1 : 0);
    const int refused = (answer_a.rfind("HTTP/1.1 429", 0) == 0 ? 1 : 0) +
                        (answer_b.rfind("HTTP/1.1 429", 0) == 0 ? 1 : 0);
    EXPECT_EQ(granted, 1) << answer_a << "\n---\n" << answer_b;
    EXPECT_EQ(refused, 1) << answer_a << "\n---\n" << answer_b;
  }
}

// ---------------------------------------------------------------------------------------------
// limits.max_session_lifetime_s

TEST(LimitsE2E, ASessionEndsAtItsMaximumLifetimeAfterAFinalSync) {
  HostOptions options;
  options.fakepod = "network = \"none\"\n";
  options.extra_tables = "[limits]\nmax_session_lifetime_s = 8\n" + kStorage;
  HostProcess host(options);
  const size_t pods_before = podCount(host);
  TerminalClient client(host.port(), kPath + "user_5_ws_life_a");
  waitForPrompt(client);
  client.send("echo late > late.txt\n");
  // A tenth of the lifetime before its end (shorter than the usual 5 min), then the end.
  EXPECT_TRUE(client.waitFor("Notice: this session ends in 0.8 s: sessions last at most 8 s.", 20s))
      << client.text();
  EXPECT_TRUE(client.waitFor("Notice: this session reached its maximum lifetime of 8 s", 10s))
      << client.text();
  EXPECT_EQ(client.waitForClose(20s), 1001) << client.text();
  // The files were saved and the pod deleted before the client was closed.
  EXPECT_EQ(http(host.port(), "GET", "/api/workspaces/user_5_ws_life/items/late.txt"),
            "200 late\n");
  EXPECT_EQ(podCount(host), pods_before);
  EXPECT_NE(host.log().find("reached its maximum lifetime"), std::string::npos);
  // A reconnect starts a fresh session with the files loaded.
  TerminalClient next(host.port(), kPath + "user_5_ws_life_a");
  waitForPrompt(next);
  next.send("cat late.txt\n");
  EXPECT_TRUE(next.waitFor("\rlate\r\n")) << next.text();
}

// ---------------------------------------------------------------------------------------------
// limits.workspace_max_bytes (limits.workspace_max_files works the same way)

TEST(LimitsE2E, ASyncOverTheWorkspaceQuotaIsRefusedAndTheTerminalKeepsWorking) {
  HostOptions options;
  options.fakepod = "network = \"none\"\n";
  options.extra_tables = "[limits]\nworkspace_max_bytes = 4096\n" + kStorage;
  HostProcess host(options);
  const std::string items = "/api/workspaces/user_5_ws_quota/items";
  TerminalClient client(host.port(), kPath + "user_5_ws_quota_a");
  waitForPrompt(client);
  client.send("head -c 3000 /dev/zero > a.bin\n");
  ASSERT_TRUE(waitUntil(
      [&] { return http(host.port(), "GET", items + "/a.bin").rfind("200", 0) == 0; }, 15s));

  // 6000 bytes would exceed 4096: nothing of the sync is stored, and the user is told.
  client.send("head -c 3000 /dev/zero > b.bin; echo small > small.txt\n");
  EXPECT_TRUE(client.waitFor(
      "Notice: your files are not being saved: workspace quota exceeded: the files would take ",
      15s))
      << client.text();
  EXPECT_TRUE(
      client.waitFor("more than the workspace quota of 4096 bytes "
                     "(limits.workspace_max_bytes); stored now: 3000 bytes.",
                     5s))
      << client.text();
  EXPECT_EQ(http(host.port(), "GET", items + "/b.bin").substr(0, 3), "404");
  EXPECT_EQ(http(host.port(), "GET", items + "/small.txt").substr(0, 3), "404");
  // The terminal keeps working.
  client.send("echo still-$((40+2))\n");
  EXPECT_TRUE(client.waitFor("still-42")) << client.text();

  // The files API refuses a write beyond the quota too.
  const std::string put = http(host.port(), "PUT", items + "/c.bin", std::string(2000, 'c'));
  EXPECT_EQ(put.substr(0, 3), "507") << put;
  EXPECT_NE(put.find("\"quota\":\"limits.workspace_max_bytes\""), std::string::npos) << put;

  // Deleting a file makes room: the next sync stores everything.
  client.consume();
  client.send("rm a.bin\n");
  EXPECT_TRUE(waitUntil(
      [&] { return http(host.port(), "GET", items + "/small.txt") == "200 small\n"; }, 15s))
      << client.text();
  EXPECT_EQ(http(host.port(), "GET", items + "/b.bin").substr(0, 3), "200");
  EXPECT_EQ(http(host.port(), "GET", items + "/a.bin").substr(0, 3), "404");
  EXPECT_TRUE(client.waitFor("Notice: your files are being saved again", 10s)) << client.text();
}

}  // namespace
}  // namespace podterm::e2e
