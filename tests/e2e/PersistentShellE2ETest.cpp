// End to end, issue 9's persistent shells against the real host: with fakepod (whose execs join the
// pod's one sandbox, so a dtach master outlives the stream that started it): the shell's stream
// ends under it (its exec's process killed) and the next stream re-attaches to the same shell,
// with its variables and jobs, and the user is told; `exit` still ends it (the status line, a fresh
// shell); session.persistent_shell = "off" keeps the old behaviour; a terminal ended on purpose in
// a pod that lives on takes its detached shell with it. With the Kubernetes runtime against the
// fake API server (a pod is one sandbox its execs join): a broken exec stream re-attaches, and
// after a host is killed (SIGKILL) or stopped (SIGTERM) another host process on the same
// PostgreSQL re-attaches to the shell, whose command markers (the first host's nonce) still drive
// the sync. Skipped where dtach is not installed (both runtimes run the host's /usr); the
// restart without PostgreSQL (PODTERM_PGTEST_PORT) unless PODTERM_REQUIRE_PG=1.

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

const char kReattached[] = "Notice: reattached to your running shell";

std::string path(const std::string& session, const std::string& query = "") {
  return "/api/terminal/ws/" + session + (query.empty() ? "" : "?" + query);
}

std::string readAll(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The processes running the persistent-shell wrapper (what the exec runs) for this session: the
// script's text is in their command line, the session id in their environment.
std::vector<pid_t> wrapperProcesses(const std::string& session) {
  std::vector<pid_t> pids;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* entry = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid <= 0) continue;
    const std::string base = std::string("/proc/") + entry->d_name;
    if (readAll(base + "/cmdline").find("d=${PODTERM_SHELL_DIR-}") == std::string::npos) continue;
    const std::string env = readAll(base + "/environ");
    if (env.find(std::string("PODTERM_SESSION=") + session + '\0') == std::string::npos) continue;
    pids.push_back(pid);
  }
  ::closedir(proc);
  return pids;
}

// Ends the shell's stream under it: the exec's own process is killed (the pod and whatever runs
// detached in it stay).
bool killStream(const std::string& session) {
  const auto pids = wrapperProcesses(session);
  for (pid_t pid : pids) ::kill(pid, SIGKILL);
  return !pids.empty();
}

// The rc's prompt ends with "# " (root in fakepod's sandbox) or "$ "; a fatal failure otherwise.
void waitForShellPrompt(TerminalClient& client) {
  ASSERT_TRUE(client.waitForAny({"$ ", "# "}, 20s)) << "no prompt; got: " << client.text();
}

// Reads frames until a v2 event holding every needle has arrived, or the deadline.
bool waitForEvent(TerminalClient& client, const std::vector<std::string>& needles,
                  std::chrono::milliseconds deadline = 15s) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (true) {
    for (const auto& event : client.events()) {
      bool all = true;
      for (const auto& needle : needles) all = all && event.find(needle) != std::string::npos;
      if (all) return true;
    }
    if (std::chrono::steady_clock::now() >= until) return false;
    client.waitFor("\x01not-in-any-output\x01", 50ms);  // reads what arrives for 50 ms
  }
}

bool dtachInstalled() {
  return ::access("/usr/bin/dtach", X_OK) == 0;
}

class PersistentShellE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!dtachInstalled()) return;
    HostOptions options;
    options.grace_period_s = 1;
    host_ = std::make_unique<HostProcess>(options);  // persistent_shell = "auto" by default
  }
  static void TearDownTestSuite() { host_.reset(); }
  void SetUp() override {
    if (!dtachInstalled()) GTEST_SKIP() << "dtach is not installed (deploy/install-deps.sh)";
  }
  static std::unique_ptr<HostProcess> host_;
};
std::unique_ptr<HostProcess> PersistentShellE2E::host_;

TEST_F(PersistentShellE2E, AVariableAndAJobSurviveTheStreamAndTheUserIsTold) {
  const std::string session = "user_1_ws_persist_break";
  TerminalClient client(host_->port(), path(session), "podterm.v2");
  waitForShellPrompt(client);
  if (HasFatalFailure()) return;
  client.send("KEPT=k$((6*7)); sleep 300 & cd /tmp; echo set-$((2+3))\n");
  ASSERT_TRUE(client.waitFor("set-5\r\n")) << client.text();
  waitForShellPrompt(client);
  client.consume();
  ASSERT_TRUE(killStream(session)) << "no wrapper process for " << session;
  // v2: the notice is an event.
  ASSERT_TRUE(waitForEvent(client, {"\"notice\"", "reattached to your running shell"}))
      << client.text() << host_->log();
  ASSERT_TRUE(client.waitFor("/tmp")) << client.text();  // the prompt, redrawn
  client.consume();
  client.send("echo \"[$KEPT $PWD $(jobs -r | wc -l)]\"\n");
  EXPECT_TRUE(client.waitFor("[k42 /tmp 1]")) << client.text();
  // The shell's markers still work after the re-attach (their nonce is the first stream's): the
  // host heard the command end, which the log does not show; the idle check does not either. What
  // is visible: no marker leaked into the output.
  EXPECT_EQ(client.text().find("133;"), std::string::npos) << client.text();
  EXPECT_EQ(host_->log().find("a new shell starts in the same pod: the"), std::string::npos);
}

TEST_F(PersistentShellE2E, V1ClientsGetTheNoticeAsALineAndTheScreenComesBack) {
  const std::string session = "user_1_ws_persist_v1";
  TerminalClient client(host_->port(), path(session));
  waitForShellPrompt(client);
  if (HasFatalFailure()) return;
  client.consume();
  client.send("PART=p$((3*3)); echo part-$((1+1))\n");
  ASSERT_TRUE(client.waitFor("part-2\r\n")) << client.text();
  waitForShellPrompt(client);
  if (HasFatalFailure()) return;
  client.consume();
  ASSERT_TRUE(killStream(session));
  ASSERT_TRUE(client.waitFor(kReattached, 15s)) << client.text() << host_->log();
  // dtach asks the shell to redraw (^L): the prompt is back without a key pressed.
  waitForShellPrompt(client);
  if (HasFatalFailure()) return;
  const std::string before = client.text();
  client.consume();
  client.send("echo \"[$PART]\"\n");
  EXPECT_TRUE(client.waitFor("[p9]")) << before << "\n---\n" << client.text();
}

TEST_F(PersistentShellE2E, AFloodPassesThroughDtachWhole) {
  TerminalClient client(host_->port(), path("user_1_ws_persist_flood"));
  waitForShellPrompt(client);
  if (HasFatalFailure()) return;
  client.consume();
  // 5,000,000 zero bytes are 6,666,667 'A's in base64 (then "="), in lines of 76 (\r\n each).
  client.send("head -c 5000000 /dev/zero | base64; echo end-$((40+2))\n");
  const int64_t received = client.drainUntil("end-42\r\n", 120s);
  EXPECT_GE(received, 6'666'668 + 2 * (6'666'668 / 76)) << client.text();
}

TEST_F(PersistentShellE2E, ExitStillGivesTheStatusLineAndAFreshShell) {
  const std::string session = "user_1_ws_persist_exit";
  TerminalClient client(host_->port(), path(session));
  waitForShellPrompt(client);
  if (HasFatalFailure()) return;
  client.consume();
  client.send("GONE=g1; sleep 300 & echo set-$((1+2))\n");
  ASSERT_TRUE(client.waitFor("set-3\r\n")) << client.text();
  waitForShellPrompt(client);
  if (HasFatalFailure()) return;
  client.consume();
  client.send("exit 3\n");
  const std::string notice =
      "Notice: the shell exited with status 3; a new shell starts in the same pod";
  ASSERT_TRUE(client.waitFor(notice)) << client.text() << host_->log();
  client.consume();
  waitForShellPrompt(client);
  if (HasFatalFailure()) return;
  // dtach's screen clear for the new shell is not passed on: the notice stays on the screen.
  EXPECT_EQ(client.text().find("\x1b[H\x1b[J"), std::string::npos) << client.text();
  client.send("echo \"[${GONE-unset} $(jobs | wc -l)]\"\n");
  EXPECT_TRUE(client.waitFor("[unset 0]")) << client.text();
  EXPECT_EQ(client.text().find("reattached"), std::string::npos) << client.text();
  // The exit was told once; no second notice about the new shell.
  EXPECT_EQ(client.text().find("Notice: a new shell"), std::string::npos) << client.text();
}

TEST_F(PersistentShellE2E, ATerminalEndedWhileItsPodLivesTakesItsShellAlong) {
  const std::string session = "user_1_ws_persist_end";
  TerminalClient stays(host_->port(), path(session));
  waitForShellPrompt(stays);
  if (HasFatalFailure()) return;
  {
    TerminalClient leaves(host_->port(), path(session, "term=leaves"));
    waitForShellPrompt(leaves);
    if (HasFatalFailure()) return;
    leaves.send("echo $$ > /tmp/leaves.pid; echo pid-$((5+5))\n");
    ASSERT_TRUE(leaves.waitFor("pid-10")) << leaves.text();
  }
  // Its grace period (1 s) ends it; the pod lives on for the other terminal.
  stays.send("echo \"pid=$(cat /tmp/leaves.pid)-\"E\n");
  ASSERT_TRUE(stays.waitFor("-E\r\n")) << stays.text();
  EXPECT_EQ(stays.text().find("pid=-E"), std::string::npos) << stays.text();
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    stays.consume();
    stays.send("kill -0 \"$(cat /tmp/leaves.pid)\" 2>/dev/null && echo al''ive || echo go''ne\n");
    ASSERT_TRUE(stays.waitForAny({"alive\r\n", "gone\r\n"})) << stays.text();
    gone = stays.text().find("gone\r\n") != std::string::npos;
    if (!gone) stays.waitFor("\x01never\x01", 200ms);
  }
  EXPECT_TRUE(gone) << host_->log();
  EXPECT_NE(host_->log().find("terminal leaves ending"), std::string::npos) << host_->log();
  EXPECT_EQ(host_->log().find("could not end the shell"), std::string::npos) << host_->log();
}

TEST(PersistentShellOffE2E, OffKeepsTheOldBehaviour) {
  HostOptions options;
  options.extra_session = "persistent_shell = \"off\"";
  HostProcess host(options);
  const std::string session = "user_1_ws_persist_off";
  TerminalClient client(host.port(), path(session));
  waitForShellPrompt(client);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(wrapperProcesses(session).empty())
      << "the plain wrapper runs, not the persistent one";
  client.send("KEPT=1\n");
  waitForShellPrompt(client);
  client.consume();
  // The plain shell is the exec's own process: killing it is the shell killed.
  client.send("kill -9 $$\n");
  ASSERT_TRUE(client.waitFor("Notice: the shell was killed by signal 9; a new shell starts"))
      << client.text() << host.log();
  waitForShellPrompt(client);
  if (HasFatalFailure()) return;
  client.consume();
  client.send("echo \"[${KEPT-gone}]\"\n");
  EXPECT_TRUE(client.waitFor("[gone]")) << client.text();
  EXPECT_EQ(client.text().find("reattached"), std::string::npos) << client.text();
}

// --- The Kubernetes runtime against the fake API server -----------------------------------------

TEST(PersistentShellKubeE2E, ABrokenExecStreamReattachesToTheSameShell) {
  if (!dtachInstalled()) GTEST_SKIP() << "dtach is not installed";
  // The first shell's connection is cut (TCP abort, no status) after 4 s.
  FakeKube kube(R"([{"type":"exec_break","after_seconds":4,"count":1}])");
  if (!kube.ok()) GTEST_SKIP() << kube.why();
  HostOptions options;
  options.runtime = kube.runtimeConfig();
  HostProcess host(options);
  TerminalClient client(host.port(), path("user_9_ws_persist_kbreak"));
  ASSERT_TRUE(client.waitForAny({"$ ", "# "}, 60s)) << client.text() << host.log();
  client.send("KEPT=k$((6*7)); sleep 300 & echo set-$((2+3))\n");
  ASSERT_TRUE(client.waitFor("set-5\r\n")) << client.text();
  ASSERT_TRUE(client.waitFor("Notice: the connection to the shell broke", 20s))
      << client.text() << host.log();
  ASSERT_TRUE(client.waitFor(kReattached, 20s)) << client.text() << host.log();
  client.consume();
  client.send("echo \"[$KEPT $(jobs -r | wc -l)]\"\n");
  EXPECT_TRUE(client.waitFor("[k42 1]")) << client.text();
}

// A host on the fake API server and PostgreSQL. sync-commands without idle syncs: the pod's files
// are saved only after a command that writes files has ended, so a file saved after a command
// that ends late is proof that the shell's end marker reached the host.
HostOptions kubeHost(const FakeKube& kube, const PgDatabase& db, const std::string& name) {
  HostOptions options;
  options.runtime = kube.runtimeConfig(30);
  options.grace_period_s = 30;
  options.extra_session = "lease_ttl_s = 3\nhost_id = \"" + name + "\"\n";
  options.extra_tables = "[storage]\nplugin = \"postgres\"\n[storage.postgres]\nconnection = \"" +
                         db.connection() +
                         "\"\n[sync]\nplugin = \"commands\"\n[sync.commands]\nidle_sync_ms = 0\n";
  return options;
}

void reattachesAfterTheHostGoes(bool sigkill) {
  if (!dtachInstalled()) GTEST_SKIP() << "dtach is not installed";
  PgDatabase db("podterm_persist_");
  if (!db.ok()) {
    if (pgRequired()) FAIL() << db.why();
    GTEST_SKIP() << db.why();
  }
  FakeKube kube;
  if (!kube.ok()) GTEST_SKIP() << kube.why();
  const std::string session = std::string("user_7_ws_persist_") + (sigkill ? "killed" : "stopped");
  auto a = std::make_unique<HostProcess>(kubeHost(kube, db, "host-a"));
  {
    TerminalClient on_a(a->port(), path(session));
    ASSERT_TRUE(on_a.waitForAny({"$ ", "# "}, 60s)) << on_a.text() << a->log();
    on_a.send("KEPT=k$((6*7)); cd /app/workspace; echo set-$((2+3))\n");
    ASSERT_TRUE(on_a.waitFor("set-5\r\n")) << on_a.text();
    if (sigkill) {
      ASSERT_EQ(::kill(a->pid(), SIGKILL), 0);
    } else {
      EXPECT_EQ(a->terminate(30s), 0) << a->log();
    }
    on_a.waitForClose(10s);
  }
  a.reset();  // reaps it (by its PID)

  HostProcess b(kubeHost(kube, db, "host-b"));
  TerminalClient on_b(b.port(), path(session), "podterm.v2");
  ASSERT_TRUE(waitForEvent(on_b, {"\"notice\"", "reattached to your running shell"}, 60s))
      << on_b.text() << b.log();
  on_b.consume();
  on_b.send("echo \"[$KEPT $PWD]\"\n");
  ASSERT_TRUE(on_b.waitFor("[k42 /app/workspace]")) << on_b.text() << b.log();
  // The command's end comes 2 s after Enter, from the shell's marker with host A's nonce: only
  // then is the file there to be saved (host B's guess from the typed line comes at 0.5 s).
  on_b.send("sleep 2; echo after > after-restart.txt\n");
  EXPECT_TRUE(waitForEvent(on_b, {"\"sync\"", "after-restart.txt"}, 20s)) << on_b.text() << b.log();
}

TEST(PersistentShellKubeE2E, AfterTheHostIsKilledTheNextHostReattaches) {
  reattachesAfterTheHostGoes(true);
}

TEST(PersistentShellKubeE2E, AfterTheHostIsStoppedTheNextHostReattaches) {
  reattachesAfterTheHostGoes(false);
}

}  // namespace
}  // namespace podterm::e2e
