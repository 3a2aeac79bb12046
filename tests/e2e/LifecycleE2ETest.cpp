// End to end, issue 9's session lifecycle against the real host and fakepod: the screen comes back
// on reconnect, ?since=N gives exactly the missing bytes, a shell that exits is replaced in the
// same pod, and idle sessions are culled while busy ones are not.

#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <string>

#include "HostProcess.h"
#include "TerminalClient.h"
#include "term/ScreenState.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;
using host::ScreenState;

std::string sessionPath(const std::string& suffix, const std::string& query = "") {
  return "/api/terminal/ws/user_1_ws_life_" + suffix + (query.empty() ? "" : "?" + query);
}

// The text of `n` cells from (row, col) of a client-side terminal fed what the client received.
std::string cells(const ScreenState& screen, int row, int col, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    auto cell = screen.cellAt(row, col + i);
    out += cell.chars.empty() ? ' ' : static_cast<char>(cell.chars[0]);
  }
  return out;
}

bool hasEvent(const TerminalClient& client, const std::string& needle) {
  for (const auto& event : client.events()) {
    if (event.find(needle) != std::string::npos) return true;
  }
  return false;
}

class LifecycleE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    HostOptions options;
    options.grace_period_s = 60;  // sessions outlive a disconnect
    host_ = std::make_unique<HostProcess>(options);
  }
  static void TearDownTestSuite() { host_.reset(); }
  static std::unique_ptr<HostProcess> host_;
};
std::unique_ptr<HostProcess> LifecycleE2E::host_;

// A reload in the middle of a full-screen program: the new socket gets a reset and the screen
// as drawn, on the alternate screen, every piece at its place.
TEST_F(LifecycleE2E, ReconnectInAFullScreenProgramReplaysItsScreen) {
  const std::string size = "cols=80&rows=24";
  {
    TerminalClient first(host_->port(), sessionPath("replay_1", size));
    waitForPrompt(first);
    first.send(
        "printf '\\033[?1049h\\033[2J\\033[3;5HTOP-LEFT\\033[10;20H\\033[1mmiddle\\033[0m"
        "\\033[24;1Hstatus\\055line'; read -r _\n");  // \\055: the echo of the line differs
    ASSERT_TRUE(first.waitFor("status-line")) << first.text();
    first.close();
  }
  TerminalClient again(host_->port(), sessionPath("replay_1", size), "podterm.v2");
  ASSERT_TRUE(again.waitFor("status-line")) << again.text();
  EXPECT_EQ(again.text().rfind("\033c", 0), 0u) << "a reset comes first";
  EXPECT_TRUE(hasEvent(again, "\"type\":\"replay\""));
  ScreenState screen(24, 80, 1000);
  screen.feed(again.text());
  EXPECT_TRUE(screen.modes().altScreen);
  EXPECT_EQ(cells(screen, 2, 4, 8), "TOP-LEFT");
  EXPECT_EQ(cells(screen, 9, 19, 6), "middle");
  EXPECT_TRUE(screen.cellAt(9, 19).bold);
  EXPECT_EQ(cells(screen, 23, 0, 11), "status-line");
  // The live stream follows the replay: the program (`read`) is still there, waiting for Enter.
  again.consume();
  again.send("\n");
  ASSERT_TRUE(again.waitForAny({"$ ", "# "}, 20s)) << again.text();
  again.send("printf '\\033[?1049l'; echo back-$((40+2))\n");
  EXPECT_TRUE(again.waitFor("back-42")) << again.text();
}

// The first client saw N bytes; output went on without it; a client resuming from N gets exactly
// the rest (checked against a third client that reads the whole stream from 0).
TEST_F(LifecycleE2E, SinceGivesExactlyTheMissingBytes) {
  std::string seen;
  {
    TerminalClient first(host_->port(), sessionPath("since_1"), "podterm.v2");
    waitForPrompt(first);
    EXPECT_TRUE(hasEvent(first, "\"offset\":0")) << "the stream starts at 0 for this client";
    first.send("sleep 2; for i in 1 2 3; do echo missed-$i-$((i*11)); done\n");
    ASSERT_TRUE(first.waitFor("sleep 2")) << first.text();  // the echo of the command line
    first.close();
    seen = first.text();  // from offset 0: the v2 text frames are the stream itself
  }
  ASSERT_EQ(seen.find("missed-3-33"), std::string::npos) << "the output came before the close";
  TerminalClient resumed(
      host_->port(), sessionPath("since_1", "since=" + std::to_string(seen.size())), "podterm.v2");
  ASSERT_TRUE(resumed.waitFor("missed-3-33")) << resumed.text();
  ASSERT_TRUE(resumed.waitForAny({"$ ", "# "})) << resumed.text();
  EXPECT_TRUE(hasEvent(resumed, "\"offset\":" + std::to_string(seen.size())));
  EXPECT_EQ(resumed.text().find("\033c"), std::string::npos) << "no replay";

  TerminalClient whole(host_->port(), sessionPath("since_1", "since=0"), "podterm.v2");
  ASSERT_TRUE(whole.waitFor("missed-3-33")) << whole.text();
  ASSERT_TRUE(whole.waitForAny({"$ ", "# "})) << whole.text();
  ASSERT_GE(whole.text().size(), seen.size() + resumed.text().size());
  EXPECT_EQ(whole.text().substr(0, seen.size()), seen);
  EXPECT_EQ(whole.text().substr(seen.size(), resumed.text().size()), resumed.text());
}

TEST_F(LifecycleE2E, SinceTooOldOrInTheFutureReplaysTheScreenWithANotice) {
  TerminalClient first(host_->port(), sessionPath("since_2"));
  waitForPrompt(first);
  first.send("echo marker-$((6*7))\n");
  ASSERT_TRUE(first.waitFor("marker-42\r\n")) << first.text();
  TerminalClient future(host_->port(), sessionPath("since_2", "since=18446744073709551615"));
  ASSERT_TRUE(future.waitFor("Notice: cannot resume from byte 18446744073709551615"))
      << future.text();
  EXPECT_EQ(future.text().rfind("\033c", 0), 0u);
  EXPECT_NE(future.text().find("marker-42"), std::string::npos) << "the screen came back";
}

// `exit 3`: every client hears the status, and a new shell (another PID) starts in the same pod,
// where a file written by the old one still is.
TEST_F(LifecycleE2E, ShellExitGivesTheStatusAndAFreshShellInTheSamePod) {
  TerminalClient client(host_->port(), sessionPath("exit_1"));
  TerminalClient events(host_->port(), sessionPath("exit_1"), "podterm.v2");
  waitForPrompt(client);
  client.send("echo kept-file > \"$HOME/lifecycle-kept.txt\"; echo PID-$$-OLD$((1+1))\n");
  ASSERT_TRUE(client.waitFor("-OLD2\r\n")) << client.text();
  std::smatch old_pid;
  const std::string before = client.text();
  ASSERT_TRUE(std::regex_search(before, old_pid, std::regex("PID-([0-9]+)-OLD2"))) << before;
  client.consume();
  client.send("exit 3\n");
  ASSERT_TRUE(
      client.waitFor("Notice: the shell exited with status 3; a new shell starts in the "
                     "same pod"))
      << client.text();
  waitForPrompt(client);
  client.send("cat \"$HOME/lifecycle-kept.txt\"; echo PID-$$-NEW$((1+1))\n");
  ASSERT_TRUE(client.waitFor("-NEW2\r\n")) << client.text();
  std::smatch new_pid;
  const std::string after = client.text();
  ASSERT_TRUE(std::regex_search(after, new_pid, std::regex("PID-([0-9]+)-NEW2"))) << after;
  EXPECT_NE(old_pid[1].str(), new_pid[1].str());
  EXPECT_NE(after.find("kept-file\r\n"), std::string::npos) << after;
  ASSERT_TRUE(events.waitFor("-NEW2\r\n")) << events.text();
  EXPECT_TRUE(hasEvent(events, "\"code\":3")) << "the v2 client got the exit event";
  EXPECT_TRUE(hasEvent(events, "\"restart\":true"));
}

// Idle culling with a short timeout: a session nobody uses gets the notice and is closed 1001;
// one running `sleep` (no output, no input) is left alone.
TEST(LifecycleIdleE2E, IdleSessionIsCulledWhileOneRunningACommandIsNot) {
  HostOptions options;
  options.grace_period_s = 60;
  options.extra_session = "idle_timeout_s = 4\nidle_warning_s = 2\n";
  HostProcess host(options);
  TerminalClient busy(host.port(), sessionPath("busy_1"));
  waitForPrompt(busy);
  busy.send("sleep 600\n");
  ASSERT_TRUE(busy.waitFor("sleep 600\r\n")) << busy.text();
  busy.consume();

  TerminalClient idle(host.port(), sessionPath("idle_1"));
  waitForPrompt(idle);
  ASSERT_TRUE(idle.waitFor("Notice: this session ends in", 10s)) << idle.text();
  EXPECT_EQ(idle.waitForClose(10s), 1001) << idle.text();
  EXPECT_NE(idle.text().find("Notice: this session was idle for 4 s"), std::string::npos)
      << idle.text();

  // The busy one has had no input or output for longer than the idle one, yet lives on.
  EXPECT_EQ(busy.text().find("Notice:"), std::string::npos) << busy.text();
  busy.send("\x03");
  waitForPrompt(busy);
  busy.send("echo still-$((1+1))\n");
  EXPECT_TRUE(busy.waitFor("still-2\r\n")) << busy.text();
}

}  // namespace
}  // namespace podterm::e2e
