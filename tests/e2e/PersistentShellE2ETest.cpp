// End to end, issue 9's persistent shells against the real host and fakepod (whose execs join the
// pod's one sandbox, so a dtach master outlives the stream that started it): the shell's stream
// ends under it (its exec's process killed) and the next stream re-attaches to the same shell,
// with its variables and jobs, and the user is told; `exit` still ends it (the status line, a fresh
// shell); session.persistent_shell = "off" keeps the old behaviour; a terminal ended on purpose in
// a pod that lives on takes its detached shell with it. Skipped where dtach is not installed
// (fakepod runs the host's /usr).

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

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

TEST_F(PersistentShellE2E, ExitStillGivesTheStatusLineAndAFreshShell) {
  const std::string session = "user_1_ws_persist_exit";
  TerminalClient client(host_->port(), path(session));
  waitForShellPrompt(client);
  if (HasFatalFailure()) return;
  client.send("GONE=g1; sleep 300 &\n");
  waitForShellPrompt(client);
  client.consume();
  client.send("exit 3\n");
  ASSERT_TRUE(
      client.waitFor("Notice: the shell exited with status 3; a new shell starts in the same pod"))
      << client.text() << host_->log();
  waitForShellPrompt(client);
  if (HasFatalFailure()) return;
  client.consume();
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

}  // namespace
}  // namespace podterm::e2e
