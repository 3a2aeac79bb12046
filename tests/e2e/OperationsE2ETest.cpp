// End to end for operations: a graceful shutdown on SIGTERM (readiness, 503 for new terminals, the
// final sync, 1001 for clients, pods kept, the deadline even with a hung backend).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  auto until = Clock::now() + deadline;
  while (!condition()) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

void waitForPrompt(TerminalClient& client) {
  ASSERT_TRUE(client.waitForAny({"$ ", "# "}, 20s)) << "no prompt; got: " << client.text();
}

std::string upgradeRequest(uint16_t port, const std::string& session_id) {
  return "GET /api/terminal/ws/" + session_id +
         " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
}

// A sqlite3 shell (started and stopped by PID) holding an exclusive transaction on a database:
// every write of the host waits on it, for as long as its busy timeout lets it (a hung backend).
class DatabaseLock {
 public:
  explicit DatabaseLock(const std::string& path) {
    int in[2];
    int out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[1]);
      ::close(out[0]);
      ::execl("/usr/bin/sqlite3", "sqlite3", path.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    input_ = in[1];
    output_ = out[0];
    const std::string begin = "BEGIN EXCLUSIVE;\nSELECT 'locked';\n";
    if (::write(input_, begin.data(), begin.size()) != static_cast<ssize_t>(begin.size())) return;
    std::string said;
    char c;
    // Bounded: the shell answers or exits (EOF) at once.
    while (said.find("locked") == std::string::npos && ::read(output_, &c, 1) == 1) said += c;
    locked_ = said.find("locked") != std::string::npos;
  }
  ~DatabaseLock() {
    if (input_ >= 0) ::close(input_);
    if (output_ >= 0) ::close(output_);
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  bool locked() const { return locked_; }

 private:
  pid_t pid_ = -1;
  int input_ = -1;
  int output_ = -1;
  bool locked_ = false;
};

const std::string kSqlite =
    "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\npath = \"{dir}/podterm.db\"\n";

TEST(OperationsE2E, SigtermDrainsSavesFilesClosesWith1001AndKeepsThePod) {
  HostProcess host(
      HostOptions{"", "shutdown_deadline_s = 20\n", "network = \"none\"\n", kSqlite, "", "", 60});
  const std::string id = "user_7_ws_drain_a";
  TerminalClient client(host.port(), "/api/terminal/ws/" + id);
  waitForPrompt(client);
  // A file written by a command still running: no command-end sync has saved it yet.
  client.send("echo unsynced > late.txt; echo wr''itten; sleep 600\n");
  ASSERT_TRUE(client.waitFor("written\r\n")) << client.text();
  EXPECT_EQ(httpGet(host.port(), "/api/workspaces/user_7_ws_drain/items/late.txt").substr(0, 3),
            "404");

  const auto sent = Clock::now();
  ASSERT_EQ(::kill(host.pid(), SIGTERM), 0);
  // Unready first: the first answer that is not 200 is 503 (or none, once the listener is gone).
  std::string ready;
  ASSERT_TRUE(waitUntil(
      [&] {
        ready = httpGet(host.port(), "/readyz");
        return ready.rfind("200", 0) != 0;
      },
      20s));
  EXPECT_TRUE(ready.empty() || ready.rfind("503", 0) == 0) << ready;
  EXPECT_EQ(client.waitForClose(20s), 1001);
  // Reaps the process (the second SIGTERM stays pending: the host blocks it while it drains).
  const int status = host.terminate(25s);
  EXPECT_EQ(status, 0) << host.log();
  EXPECT_LT(Clock::now() - sent, 20s);

  const std::string log = host.log();
  EXPECT_NE(log.find("draining: /readyz unready"), std::string::npos) << log;
  EXPECT_NE(log.find("session=" + id + " kept its pod for a reconnect elsewhere"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("could not delete its pod"), std::string::npos) << log;

  // The final sync put the file in the database: another host on the same file serves it.
  HostProcess next(HostOptions{"", "", "network = \"none\"\n",
                               "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\npath = \"" +
                                   host.directory() + "/podterm.db\"\n",
                               ""});
  EXPECT_EQ(httpGet(next.port(), "/api/workspaces/user_7_ws_drain/items/late.txt"),
            "200 unsynced\n");
}

TEST(OperationsE2E, NewTerminalsGet503WhileDraining) {
  // The listener answers until the sessions have ended; how long that takes is not ours to set,
  // so the refusal is checked whenever the host still answers at all.
  HostProcess host(
      HostOptions{"", "shutdown_deadline_s = 20\n", "network = \"none\"\n", kSqlite, "", "", 60});
  TerminalClient client(host.port(), "/api/terminal/ws/user_7_ws_drain_b");
  waitForPrompt(client);
  client.send("sleep 600\n");
  ASSERT_EQ(::kill(host.pid(), SIGTERM), 0);
  std::string upgrade;
  ASSERT_TRUE(waitUntil(
      [&] {
        upgrade = rawRequest(host.port(), upgradeRequest(host.port(), "user_7_ws_drain_c"));
        return upgrade.rfind("HTTP/1.1 101", 0) != 0;
      },
      20s));
  // Refused while draining, or no listener any more: never a new session.
  EXPECT_TRUE(upgrade.empty() || upgrade.rfind("HTTP/1.1 503", 0) == 0) << upgrade;
  EXPECT_EQ(host.terminate(25s), 0) << host.log();
  EXPECT_EQ(host.log().find("session=user_7_ws_drain_c starting"), std::string::npos) << host.log();
}

TEST(OperationsE2E, AHungDatabaseCannotHoldTheProcessPastTheDeadline) {
  if (::access("/usr/bin/sqlite3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/sqlite3";
  HostProcess host(HostOptions{"", "shutdown_deadline_s = 3\n", "network = \"none\"\n",
                               "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\n"
                               "path = \"{dir}/podterm.db\"\ntimeout_ms = 120000\n",
                               "", "", 60});
  TerminalClient client(host.port(), "/api/terminal/ws/user_7_ws_hung_a");
  waitForPrompt(client);
  client.send("echo unsaved > hung.txt; sleep 600\n");
  DatabaseLock lock(host.directory() + "/podterm.db");
  ASSERT_TRUE(lock.locked());
  const auto sent = Clock::now();
  const int status = host.terminate(15s);
  const auto took = Clock::now() - sent;
  EXPECT_EQ(status, 1) << host.log();
  EXPECT_GE(took, 2s);
  EXPECT_LT(took, 6s) << host.log();
  EXPECT_NE(host.log().find("shutdown took longer than server.shutdown_deadline_s (3 s)"),
            std::string::npos)
      << host.log();
}

}  // namespace
}  // namespace podterm::e2e
