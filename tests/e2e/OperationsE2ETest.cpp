// End to end for operations: a graceful shutdown on SIGTERM (readiness, 503 for new terminals, the
// final sync, 1001 for clients, pods kept, the deadline even with a hung backend).

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "MetricsScrape.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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

double timeToPromptCount(std::map<std::string, double>& m) {
  return m["podterm_time_to_prompt_seconds_count{start=\"cold\"}"] +
         m["podterm_time_to_prompt_seconds_count{start=\"warm\"}"];
}

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

// A host whose SQLite waits up to 2 minutes for a lock (DatabaseLock holds one), so its final
// syncs hang for as long as the test holds it; shutdown_deadline_s as given.
HostOptions lockableDatabaseHost(int shutdown_deadline_s) {
  return HostOptions{"",
                     "shutdown_deadline_s = " + std::to_string(shutdown_deadline_s) + "\n",
                     "network = \"none\"\n",
                     "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\n"
                     "path = \"{dir}/podterm.db\"\ntimeout_ms = 120000\n",
                     "",
                     "",
                     60};
}

TEST(OperationsE2E, WhileDrainingReadyzAndNewTerminalsGet503) {
  if (::access("/usr/bin/sqlite3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/sqlite3";
  // A final sync held up by a locked database keeps the drain going for as long as the deadline
  // lets it, so the draining host is there to ask.
  HostProcess host(lockableDatabaseHost(6));
  TerminalClient client(host.port(), "/api/terminal/ws/user_7_ws_drain_b");
  waitForPrompt(client);
  client.send("echo x > f.txt; sleep 600\n");
  DatabaseLock lock(host.directory() + "/podterm.db");
  ASSERT_TRUE(lock.locked());
  ASSERT_EQ(::kill(host.pid(), SIGTERM), 0);
  std::string ready;
  ASSERT_TRUE(waitUntil(
      [&] {
        ready = httpGet(host.port(), "/readyz");
        return ready.rfind("200", 0) != 0;
      },
      5s));
  EXPECT_EQ(ready, "503 not ready\n");
  EXPECT_EQ(httpGet(host.port(), "/healthz"), "200 ok\n");
  const std::string upgrade =
      rawRequest(host.port(), upgradeRequest(host.port(), "user_7_ws_drain_c"));
  EXPECT_EQ(upgrade.rfind("HTTP/1.1 503", 0), 0u) << upgrade;
  EXPECT_NE(upgrade.find("Retry-After: 1"), std::string::npos) << upgrade;
  EXPECT_NE(upgrade.find("server shutting down"), std::string::npos) << upgrade;
  EXPECT_EQ(client.waitForClose(5s), 1001);         // closed first, then the final sync
  EXPECT_EQ(host.terminate(15s), 1) << host.log();  // the locked database outlasted the deadline
  EXPECT_EQ(host.log().find("session=user_7_ws_drain_c starting"), std::string::npos) << host.log();
}

TEST(OperationsE2E, AHungDatabaseCannotHoldTheProcessPastTheDeadline) {
  if (::access("/usr/bin/sqlite3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/sqlite3";
  HostProcess host(lockableDatabaseHost(3));
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

TEST(OperationsE2E, MetricsMoveWithActivityAndShowNoSecret) {
  HostProcess host(HostOptions{"", "", "network = \"none\"\n",
                               kSqlite + "[sync]\nplugin = \"always\"\n", "", "", 2});
  const std::string raw = httpGet(host.port(), "/metrics");
  auto before = scrapeMetrics(host.port());
  EXPECT_EQ(before["podterm_sessions_live"], 0);
  const std::string id = "user_7_ws_metrics_a";
  {
    TerminalClient v2(host.port(), "/api/terminal/ws/" + id, "podterm.v2");
    waitForPrompt(v2);
    v2.consume();
    v2.send("echo saved-$((40+2)) > m.txt\n");
    waitForPrompt(v2);
    auto during = scrapeMetrics(host.port());
    EXPECT_EQ(during["podterm_sessions_live"], 1);
    // The session's output log at least: the prompts and the command's echo.
    EXPECT_GT(during["podterm_terminal_state_bytes"], 0);
    EXPECT_EQ(during["podterm_connects_total{protocol=\"podterm.v2\"}"] -
                  before["podterm_connects_total{protocol=\"podterm.v2\"}"],
              1);
    EXPECT_EQ(timeToPromptCount(during) - timeToPromptCount(before), 1);
    EXPECT_GT(during["podterm_websocket_received_bytes_total"],
              before["podterm_websocket_received_bytes_total"]);
    EXPECT_GT(during["podterm_websocket_sent_bytes_total"],
              before["podterm_websocket_sent_bytes_total"]);
    // The `always` policy saves after the command: a save, with bytes.
    std::map<std::string, double> saved;
    EXPECT_TRUE(waitUntil(
        [&] {
          saved = scrapeMetrics(host.port());
          return saved["podterm_sync_bytes_total{direction=\"save\"}"] >= 9;
        },
        15s));
    EXPECT_GE(saved["podterm_sync_duration_seconds_count{direction=\"save\"}"], 1);
    EXPECT_GE(saved["podterm_sync_duration_seconds_count{direction=\"load\"}"], 1);
    EXPECT_EQ(saved["podterm_sync_duration_seconds_bucket{direction=\"save\",le=\"+Inf\"}"],
              saved["podterm_sync_duration_seconds_count{direction=\"save\"}"]);
    EXPECT_EQ(saved["podterm_syncs_failed_total{direction=\"save\"}"], 0);
  }
  // Back within the grace period: a reconnect, over v1 this time. Only once the host has seen
  // the first client go is the session one without a client; before that this is a second client.
  ASSERT_TRUE(waitUntil(
      [&] {
        return host.log().find("session=" + id + " client detached (0 attached)") !=
               std::string::npos;
      },
      15s))
      << host.log();
  {
    std::map<std::string, double> m;
    TerminalClient v1(host.port(), "/api/terminal/ws/" + id);
    v1.send("echo ba''ck\n");
    ASSERT_TRUE(v1.waitFor("back\r\n")) << v1.text();
    m = scrapeMetrics(host.port());
    EXPECT_EQ(m["podterm_reconnects_total"] - before["podterm_reconnects_total"], 1);
    EXPECT_EQ(m["podterm_connects_total{protocol=\"podterm.v1\"}"] -
                  before["podterm_connects_total{protocol=\"podterm.v1\"}"],
              1);
    // Not valid UTF-8: the client broke RFC 6455 (close 1007), an error of that kind.
    v1.send(std::string("\xff\xfe"));
    EXPECT_EQ(v1.waitForClose(10s), 1007);
  }
  // No client for the grace period (2 s): culled, reason grace.
  std::map<std::string, double> after;
  EXPECT_TRUE(waitUntil(
      [&] {
        after = scrapeMetrics(host.port());
        return after["podterm_culls_total{reason=\"grace\"}"] -
                   before["podterm_culls_total{reason=\"grace\"}"] ==
               1;
      },
      20s))
      << host.log();
  EXPECT_TRUE(
      waitUntil([&] { return scrapeMetrics(host.port())["podterm_sessions_live"] == 0; }, 20s));
  EXPECT_EQ(scrapeMetrics(host.port())["podterm_terminal_state_bytes"],
            0);  // gone with the session
  EXPECT_EQ(after["podterm_errors_total{kind=\"websocket_protocol\"}"] -
                before["podterm_errors_total{kind=\"websocket_protocol\"}"],
            1);
  // Counts only: no session id, user, workspace or config value.
  const std::string text = httpGet(host.port(), "/metrics");
  for (const std::string& secret : {id, std::string("user_7"), std::string("metrics_a"),
                                    host.directory(), std::string("sqlite")}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
  EXPECT_NE(raw.find("# TYPE podterm_time_to_prompt_seconds histogram"), std::string::npos);
  const std::string headers = rawRequest(
      host.port(), "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_NE(headers.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
            std::string::npos)
      << headers;
}

TEST(OperationsE2E, JsonLogsAreOneObjectPerLineWithTheSessionId) {
  HostProcess host(HostOptions{"", "", "network = \"none\"\n", "[log]\nformat = \"json\"\n"});
  const std::string id = "user_7_ws_jsonlog_a";
  {
    TerminalClient client(host.port(), "/api/terminal/ws/" + id);
    waitForPrompt(client);
    client.send("echo \"quote\\\"d\"\n");
    ASSERT_TRUE(client.waitFor("quote")) << client.text();
  }
  // Grace period 0: the session ends with its client.
  ASSERT_TRUE(waitUntil(
      [&] { return host.log().find("session=" + id + " ended") != std::string::npos; }, 20s))
      << host.log();
  EXPECT_EQ(host.terminate(20s), 0);
  std::istringstream lines(host.log());
  std::string line;
  size_t objects = 0;
  size_t about_session = 0;
  while (std::getline(lines, line)) {
    Poco::JSON::Object::Ptr json;
    try {
      json = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a JSON object: " << line << " (" << e.what() << ")";
      continue;
    }
    ++objects;
    for (const char* field : {"time", "level", "logger", "message"}) {
      EXPECT_TRUE(json->has(field)) << field << " missing in " << line;
    }
    const std::string message = json->optValue<std::string>("message", "");
    if (message.find("session=" + id) != std::string::npos) {
      ++about_session;
      EXPECT_EQ(json->optValue<std::string>("session", ""), id) << line;
    }
  }
  EXPECT_GE(objects, 5u);
  EXPECT_GE(about_session, 4u);  // attached, starting, ready, ending, ended...
}

}  // namespace
}  // namespace podterm::e2e
