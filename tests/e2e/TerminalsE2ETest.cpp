// End to end, issue 9's terminals and pod scope against the real host and fakepod: `?term=<name>`
// opens another shell in the same pod (same files, its own $$, cwd and output, its own replay),
// an invalid name is refused before the upgrade, the pod lives while any terminal does and is
// deleted after the last; with session.pod_scope = "workspace" the sessions of one workspace
// share one pod, and with the default scope each session id has its own.

#include <dirent.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

std::string path(const std::string& session, const std::string& query = "") {
  return "/api/terminal/ws/" + session + (query.empty() ? "" : "?" + query);
}

// The pods fakepod has on disk (a deleted pod's directory goes with it).
size_t podCount(const HostProcess& host) {
  size_t n = 0;
  if (DIR* dir = ::opendir((host.directory() + "/fakepod/pods").c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') ++n;
    }
    ::closedir(dir);
  }
  return n;
}

// Whether fakepod has the pod of this pod id on disk: its directory is named after the id's
// letters and digits (lower case, other characters as '-') and a hash.
bool hasPod(const HostProcess& host, const std::string& pod_id) {
  std::string label;
  for (char c : pod_id) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      label += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!label.empty() && label.back() != '-') {
      label += '-';
    }
  }
  const std::string prefix = "pod-" + label + "-";
  bool found = false;
  if (DIR* dir = ::opendir((host.directory() + "/fakepod/pods").c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      if (std::string(entry->d_name).rfind(prefix, 0) == 0) found = true;
    }
    ::closedir(dir);
  }
  return found;
}

// Commands print values as "<tag>-<value>-E1", typed as "<tag>-$...-E$((0+1))": the echo of the
// command line never matches, only the output does.
const char* const kEnd = "-E$((0+1))";
std::string printed(const std::string& text, const std::string& tag) {
  std::smatch match;
  const std::regex pattern(tag + "-([^\\r\\n$]*)-E1");
  return std::regex_search(text, match, pattern) ? match[1].str() : std::string();
}

// Sends an upgrade request for `target` and returns the raw response.
std::string upgrade(uint16_t port, const std::string& target) {
  return rawRequest(port, "GET " + target +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
}

class TerminalsE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    HostOptions options;
    options.grace_period_s = 1;  // a terminal without a client ends soon
    host_ = std::make_unique<HostProcess>(options);
  }
  static void TearDownTestSuite() { host_.reset(); }
  static std::unique_ptr<HostProcess> host_;
};
std::unique_ptr<HostProcess> TerminalsE2E::host_;

TEST_F(TerminalsE2E, TwoTerminalsShareThePodsFilesButNotTheirShells) {
  const std::string session = "user_1_ws_terms_share";
  TerminalClient one(host_->port(), path(session, "term=one"));
  TerminalClient two(host_->port(), path(session, "term=two"));
  waitForPrompt(one);
  waitForPrompt(two);
  EXPECT_EQ(podCount(*host_), 1u) << "one pod for both terminals";

  one.send(std::string("cd /tmp && echo from-one > \"$HOME/terms-shared.txt\" && echo PID-$$") +
           kEnd + " && echo CWD-$(pwd)" + kEnd + " && echo only-in-one-$((6*7))\n");
  ASSERT_TRUE(one.waitFor("only-in-one-42")) << one.text();
  two.send(std::string("cat \"$HOME/terms-shared.txt\"; echo PID-$$") + kEnd + "; echo CWD-$(pwd)" +
           kEnd + "; echo done-$((2+3))\n");
  ASSERT_TRUE(two.waitFor("done-5")) << two.text();
  EXPECT_NE(two.text().find("from-one"), std::string::npos) << "the same files: " << two.text();

  const std::string pid_one = printed(one.text(), "PID");
  const std::string pid_two = printed(two.text(), "PID");
  ASSERT_FALSE(pid_one.empty()) << one.text();
  ASSERT_FALSE(pid_two.empty()) << two.text();
  EXPECT_NE(pid_one, pid_two) << "each terminal has its own shell";
  EXPECT_EQ(printed(one.text(), "CWD"), "/tmp");
  EXPECT_NE(printed(two.text(), "CWD"), "/tmp") << "cd in one does not move the other";

  // Output of one never reaches the other, in either direction.
  two.send("echo only-in-two-$((7*8))\n");
  ASSERT_TRUE(two.waitFor("only-in-two-56")) << two.text();
  one.send("echo sync-$((1+1))-done\n");
  ASSERT_TRUE(one.waitFor("sync-2-done")) << one.text();
  EXPECT_EQ(two.text().find("only-in-one-42"), std::string::npos) << two.text();
  EXPECT_EQ(one.text().find("only-in-two-56"), std::string::npos) << one.text();
  EXPECT_EQ(podCount(*host_), 1u);
  EXPECT_TRUE(hasPod(*host_, session));
}

// Without ?term a client gets the default terminal, which ?term=default names too.
TEST_F(TerminalsE2E, NoTermIsTheDefaultTerminal) {
  const std::string session = "user_1_ws_terms_default";
  TerminalClient plain(host_->port(), path(session));
  waitForPrompt(plain);
  plain.send(std::string("echo PID-$$") + kEnd + "\n");
  ASSERT_TRUE(plain.waitFor("-E1")) << plain.text();
  TerminalClient named(host_->port(), path(session, "term=default"));
  ASSERT_TRUE(named.waitFor("-E1")) << "the replay of the same terminal: " << named.text();
  named.consume();
  named.send(std::string("echo PID-$$") + kEnd + "\n");
  ASSERT_TRUE(named.waitFor("-E1")) << named.text();
  EXPECT_EQ(printed(plain.text(), "PID"), printed(named.text(), "PID"));
}

TEST_F(TerminalsE2E, ReattachingToANamedTerminalReplaysThatTerminal) {
  const std::string session = "user_1_ws_terms_replay";
  TerminalClient right(host_->port(), path(session, "term=right"));
  {
    TerminalClient left(host_->port(), path(session, "term=left&cols=80&rows=24"));
    waitForPrompt(left);
    waitForPrompt(right);
    left.send("echo left-mark-$((40+2))\n");
    ASSERT_TRUE(left.waitFor("left-mark-42")) << left.text();
    right.send("echo right-mark-$((50+5))\n");
    ASSERT_TRUE(right.waitFor("right-mark-55")) << right.text();
    left.close();
  }
  // Within the grace period: the same shell, and its screen comes back.
  TerminalClient again(host_->port(), path(session, "term=left&cols=80&rows=24"), "podterm.v2");
  ASSERT_TRUE(again.waitFor("left-mark-42")) << again.text();
  EXPECT_EQ(again.text().rfind("\033c", 0), 0u) << "a reset comes first";
  EXPECT_EQ(again.text().find("right-mark-55"), std::string::npos) << again.text();
  // ?since=0 gives that terminal's own stream from its start.
  TerminalClient whole(host_->port(), path(session, "term=right&since=0"), "podterm.v2");
  ASSERT_TRUE(whole.waitFor("right-mark-55")) << whole.text();
  EXPECT_EQ(whole.text().find("left-mark-42"), std::string::npos) << whole.text();
  EXPECT_EQ(whole.text().find("\033c"), std::string::npos) << "no replay";
}

TEST_F(TerminalsE2E, AnInvalidTerminalNameIsRefusedBeforeTheUpgrade) {
  const size_t pods = podCount(*host_);
  const std::string session = "user_1_ws_terms_bad";
  const std::vector<std::string> queries{
      "term=",        "term=Upper", "term=a%20b",    "term=a;id",
      "term=%24(id)", "term=a/b",   "term=a&term=b", "term=" + std::string(33, 'a')};
  for (const std::string& query : queries) {
    const std::string response = upgrade(host_->port(), path(session, query));
    EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << query << ": " << response;
    EXPECT_NE(response.find("invalid terminal name"), std::string::npos) << response;
  }
  EXPECT_EQ(podCount(*host_), pods) << "a refused upgrade must not create a pod";
  const std::string ok = upgrade(host_->port(), path(session, "term=" + std::string(32, 'a')));
  EXPECT_EQ(ok.rfind("HTTP/1.1 101", 0), 0u) << ok;
}

TEST_F(TerminalsE2E, ThePodLivesWhileATerminalDoesAndGoesAfterTheLast) {
  const std::string session = "user_1_ws_terms_life";
  auto stays = std::make_unique<TerminalClient>(host_->port(), path(session, "term=stays"));
  {
    TerminalClient leaves(host_->port(), path(session, "term=leaves"));
    waitForPrompt(leaves);
    waitForPrompt(*stays);
    leaves.send("echo kept-file > \"$HOME/terms-life.txt\"; echo written-$((3*3))\n");
    ASSERT_TRUE(leaves.waitFor("written-9")) << leaves.text();
  }
  // Its end is done (its shell closed) when the host logs "session=<id> ended" (once: the other
  // terminal of this session lives on).
  ASSERT_TRUE(waitUntil(
      [&] {
        const std::string log = host_->log();
        return log.find("terminal leaves ending") != std::string::npos &&
               log.find("session=" + session + " ended") != std::string::npos;
      },
      15s))
      << host_->log();
  // Its grace period is over and it has ended; the pod and the other terminal are still there.
  stays->send("cat \"$HOME/terms-life.txt\"; echo alive-$((4*4))\n");
  ASSERT_TRUE(stays->waitFor("alive-16")) << stays->text();
  EXPECT_NE(stays->text().find("kept-file"), std::string::npos) << stays->text();
  EXPECT_TRUE(hasPod(*host_, session));
  stays->close();
  stays.reset();
  // After the last terminal's grace period the pod is deleted.
  EXPECT_TRUE(waitUntil([&] { return !hasPod(*host_, session); }, 20s));
}

TEST_F(TerminalsE2E, WithTheDefaultScopeTwoSessionsOfAWorkspaceHaveTwoPods) {
  TerminalClient a(host_->port(), path("user_1_ws_terms_two_a"));
  TerminalClient b(host_->port(), path("user_1_ws_terms_two_b"));
  waitForPrompt(a);
  waitForPrompt(b);
  EXPECT_TRUE(hasPod(*host_, "user_1_ws_terms_two_a"));
  EXPECT_TRUE(hasPod(*host_, "user_1_ws_terms_two_b"));
  a.send("echo only-a > \"$HOME/terms-two.txt\"; echo done-$((1+4))\n");
  ASSERT_TRUE(a.waitFor("done-5")) << a.text();
  b.send("cat \"$HOME/terms-two.txt\" 2>/dev/null || echo absent-$((2+5))\n");
  EXPECT_TRUE(b.waitFor("absent-7")) << b.text();
}

// session.pod_scope = "workspace": every session of a workspace shares one pod, each with its own
// shell, and the pod ends after the last of them.
class WorkspacePodE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    HostOptions options;
    options.grace_period_s = 1;
    options.extra_session = "pod_scope = \"workspace\"";
    host_ = std::make_unique<HostProcess>(options);
  }
  static void TearDownTestSuite() { host_.reset(); }
  static std::unique_ptr<HostProcess> host_;
};
std::unique_ptr<HostProcess> WorkspacePodE2E::host_;

TEST_F(WorkspacePodE2E, TwoSessionsOfAWorkspaceShareOnePodAndItEndsAfterBoth) {
  auto first = std::make_unique<TerminalClient>(host_->port(), path("user_1_ws_shared_tab1"));
  auto second = std::make_unique<TerminalClient>(host_->port(), path("user_1_ws_shared_tab2"));
  waitForPrompt(*first);
  waitForPrompt(*second);
  EXPECT_EQ(podCount(*host_), 1u) << "one pod for the workspace";

  EXPECT_TRUE(hasPod(*host_, "user_1_ws_shared_workspace"));
  first->send(std::string("echo written-in-tab1 > \"$HOME/ws-shared.txt\"; echo PID-$$") + kEnd +
              "\n");
  ASSERT_TRUE(first->waitFor("-E1")) << first->text();
  // Visible in the other session at once: the same pod, not a sync.
  second->send(std::string("cat \"$HOME/ws-shared.txt\"; echo PID-$$") + kEnd + "\n");
  ASSERT_TRUE(second->waitFor("written-in-tab1")) << second->text();
  ASSERT_TRUE(second->waitFor("-E1")) << second->text();
  ASSERT_FALSE(printed(second->text(), "PID").empty()) << second->text();
  EXPECT_NE(printed(first->text(), "PID"), printed(second->text(), "PID")) << "its own shell";

  // Another workspace of the same user gets a pod of its own.
  {
    TerminalClient other(host_->port(), path("user_1_ws_elsewhere_tab1"));
    waitForPrompt(other);
    EXPECT_EQ(podCount(*host_), 2u);
    other.send("cat \"$HOME/ws-shared.txt\" 2>/dev/null || echo absent-$((3+4))\n");
    EXPECT_TRUE(other.waitFor("absent-7")) << other.text();
  }
  ASSERT_TRUE(waitUntil([&] { return podCount(*host_) == 1u; }, 20s))
      << "the other workspace's pod goes after its session";

  first.reset();  // closes its socket
  ASSERT_TRUE(waitUntil(
      [] {
        return host_->log().find("session=user_1_ws_shared_tab1 terminal default ending") !=
               std::string::npos;
      },
      15s))
      << host_->log();
  EXPECT_EQ(podCount(*host_), 1u) << "the second session still uses the pod";
  second->send("echo still-$((5*5))\n");
  ASSERT_TRUE(second->waitFor("still-25")) << second->text();
  second.reset();
  EXPECT_TRUE(waitUntil([&] { return podCount(*host_) == 0u; }, 20s))
      << "the pod goes after the last session of the workspace";
}

}  // namespace
}  // namespace podterm::e2e
