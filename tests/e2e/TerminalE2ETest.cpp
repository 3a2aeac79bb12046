// End to end: the real podterm process with the fakepod runtime, driven over WebSocket the way
// the spec's clients drive it.

#include <Poco/Net/NetException.h>
#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <thread>

#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

const std::string kPath = "/api/terminal/ws/";

std::string sessionPath(const std::string& suffix) {
  return kPath + "user_1_ws_abc123_" + suffix;
}

int threadCount(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

class TerminalE2E : public ::testing::Test {
 protected:
  // on_shell_exit = "close": these tests check that an exiting shell ends the session; the default
  // restart is tested in LifecycleE2ETest.
  static void SetUpTestSuite() {
    HostOptions options;
    options.extra_session = "on_shell_exit = \"close\"\n";
    host_ = std::make_unique<HostProcess>(options);
  }
  static void TearDownTestSuite() { host_.reset(); }
  static std::unique_ptr<HostProcess> host_;
};
std::unique_ptr<HostProcess> TerminalE2E::host_;

TEST_F(TerminalE2E, EchoHelloAsTheSpecClientSendsIt) {
  TerminalClient client(host_->port(), sessionPath("echo_1"));
  client.send("echo hello\n");
  EXPECT_TRUE(client.waitFor("hello\r\n")) << client.text();
}

TEST_F(TerminalE2E, ShellStatePersistsBetweenCommands) {
  TerminalClient client(host_->port(), sessionPath("state_1"));
  waitForPrompt(client);
  client.send("cd /tmp\n");
  client.send("export GREETING=persisted\n");
  client.send("pwd; echo \"$GREETING\"\n");
  EXPECT_TRUE(client.waitFor("/tmp\r\npersisted\r\n")) << client.text();
}

TEST_F(TerminalE2E, RunsPythonAndReportsItsErrorsAsText) {
  TerminalClient client(host_->port(), sessionPath("python_1"));
  waitForPrompt(client);
  client.send("python3 -c \"print(2+3)\"\n");
  EXPECT_TRUE(client.waitFor("\r5\r\n")) << client.text();
  client.send("python3 -c 'print(\"hello\"'\n");
  EXPECT_TRUE(client.waitFor("SyntaxError")) << client.text();
}

TEST_F(TerminalE2E, XtermStyleKeystrokesOneByOne) {
  TerminalClient client(host_->port(), sessionPath("keys_1"));
  waitForPrompt(client);
  client.consume();
  for (char c : std::string("echo $((6*7))")) client.send(std::string(1, c));
  client.send("\r");
  EXPECT_TRUE(client.waitFor("\r42\r\n")) << client.text();
}

TEST_F(TerminalE2E, ResizeReachesTheShell) {
  TerminalClient client(host_->port(), sessionPath("resize_1") + "?cols=90&rows=30");
  waitForPrompt(client);
  client.send("stty size\n");
  EXPECT_TRUE(client.waitFor("30 90\r\n")) << client.text();
  client.sendBinary(R"({"type":"resize","cols":132,"rows":43})");
  client.send("stty size\n");
  EXPECT_TRUE(client.waitFor("43 132\r\n")) << client.text();
}

TEST_F(TerminalE2E, InvalidBytesArriveAsReplacementCharacters) {
  TerminalClient client(host_->port(), sessionPath("utf8_1"));
  waitForPrompt(client);
  client.send("printf 'a\\377b\\342\\202\\254\\n'\n");
  EXPECT_TRUE(
      client.waitFor("a\xEF\xBF\xBD"
                     "b\xE2\x82\xAC\r\n"))
      << client.text();
}

TEST_F(TerminalE2E, TwoClientsOnOneIdShareTheShell) {
  TerminalClient first(host_->port(), sessionPath("shared_1"));
  waitForPrompt(first);
  TerminalClient second(host_->port(), sessionPath("shared_1"));
  // Two sockets may be served by two loops: let the first command finish before the second.
  first.send("export MARK=shared; echo exported\n");
  ASSERT_TRUE(first.waitFor("\rexported\r\n")) << first.text();
  second.send("echo \"mark=$MARK\"\n");
  EXPECT_TRUE(second.waitFor("mark=shared\r\n")) << second.text();
  EXPECT_TRUE(first.waitFor("mark=shared\r\n")) << first.text();
}

TEST_F(TerminalE2E, FiftyConcurrentSessions) {
  constexpr int kSessions = 50;
  std::vector<std::unique_ptr<TerminalClient>> clients;
  for (int i = 0; i < kSessions; ++i) {
    clients.push_back(
        std::make_unique<TerminalClient>(host_->port(), sessionPath("many_" + std::to_string(i))));
  }
  for (int i = 0; i < kSessions; ++i)
    clients[i]->send("echo tok$((" + std::to_string(i) + "+1000))\n");
  for (int i = 0; i < kSessions; ++i) {
    EXPECT_TRUE(clients[i]->waitFor("tok" + std::to_string(i + 1000) + "\r\n", 60s))
        << "session " << i << ": " << clients[i]->text();
  }
  // A fixed thread budget, whatever the number of sessions: 2 loops, at most 8 HTTP threads,
  // 4 workers, the runtime's I/O thread, main and Poco's housekeeping.
  EXPECT_LE(threadCount(host_->pid()), 20);
}

int64_t rssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

TEST_F(TerminalE2E, SlowClientPausesTheShellAndHostMemoryStaysBounded) {
  TerminalClient client(host_->port(), sessionPath("flood_1"));
  waitForPrompt(client);
  const int64_t before = rssKiB(host_->pid());
  constexpr int64_t kFlood = 100'000'000;
  client.send("head -c " + std::to_string(kFlood) +
              " /dev/zero | tr '\\0' a; echo END-$((40+2))\n");
  // The client reads nothing for a while: without backpressure the host would buffer the flood
  // (hundreds of MB/s). Watch its memory over that time.
  int64_t peak = before;
  auto until = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < until) {
    peak = std::max(peak, rssKiB(host_->pid()));
    std::this_thread::sleep_for(50ms);
  }
  // Without backpressure the host would hold most of the 100 MB flood. With it, what remains is
  // the socket's and the output log's buffers, plus, under AddressSanitizer, its quarantine: every
  // freed output chunk stays resident for a while (up to 256 MB), so the bound is looser there.
#if defined(__SANITIZE_ADDRESS__)
  constexpr int64_t kBoundKiB = 64 * 1024;
#else
  constexpr int64_t kBoundKiB = 16 * 1024;
#endif
  EXPECT_LT(peak - before, kBoundKiB) << "host RSS grew by " << (peak - before) << " KiB";
  int64_t received = client.drainUntil("END-42", 120s);
  EXPECT_GE(received, kFlood) << "the flood did not arrive whole after the client read again";
}

TEST_F(TerminalE2E, V2ClientsGetEventsInBinaryFrames) {
  TerminalClient client(host_->port(), sessionPath("v2_1"), "podterm.v2");
  EXPECT_EQ(client.protocol(), "podterm.v2");
  waitForPrompt(client);
  client.send("exit 7\n");
  EXPECT_EQ(client.waitForClose(), 1000);
  bool ready = false, exit7 = false;
  for (const auto& event : client.events()) {
    ready = ready || event.find("\"type\":\"ready\"") != std::string::npos;
    exit7 = exit7 || (event.find("\"type\":\"exit\"") != std::string::npos &&
                      event.find("\"code\":7") != std::string::npos);
  }
  EXPECT_TRUE(ready);
  EXPECT_TRUE(exit7);
  EXPECT_EQ(client.text().find("Notice:"), std::string::npos);
}

TEST_F(TerminalE2E, V1ClientsGetNoticesAsText) {
  TerminalClient client(host_->port(), sessionPath("v1_1"), "podterm.v1");
  EXPECT_EQ(client.protocol(), "podterm.v1");
  waitForPrompt(client);
  client.send("exit 3\n");
  EXPECT_TRUE(client.waitFor("Notice: the shell exited with status 3")) << client.text();
  EXPECT_EQ(client.waitForClose(), 1000);
  EXPECT_TRUE(client.events().empty());
}

bool anyProcessOfSession(const std::string& session_id) {
  DIR* proc = ::opendir("/proc");
  const std::string marker = "PODTERM_SESSION=" + session_id;
  bool found = false;
  while (dirent* entry = ::readdir(proc)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    std::ifstream env(std::string("/proc/") + entry->d_name + "/environ", std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    size_t at = 0;
    while ((at = data.find(marker, at)) != std::string::npos) {
      size_t end = at + marker.size();
      if ((at == 0 || data[at - 1] == '\0') && (end == data.size() || data[end] == '\0')) {
        found = true;
        break;
      }
      at = end;
    }
    if (found) break;
  }
  ::closedir(proc);
  return found;
}

TEST_F(TerminalE2E, ShellEndsWhenTheSessionEnds) {
  const std::string id = "user_1_ws_abc123_cleanup_1";
  {
    TerminalClient client(host_->port(), kPath + id);
    waitForPrompt(client);
    ASSERT_TRUE(anyProcessOfSession(id));
  }
  // grace_period_s = 0 in this host: the pod goes as soon as the client does.
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (anyProcessOfSession(id) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_FALSE(anyProcessOfSession(id));
}

// docs/image-contract.md: what the shell and the sync need in a pod, checked in fakepod's sandbox
// (which runs the host's /usr, as an image meeting the contract would).
TEST_F(TerminalE2E, ThePodMeetsTheImageContract) {
  TerminalClient client(host_->port(), sessionPath("contract_1"));
  waitForPrompt(client);
  client.send(
      "for p in sh bash env stty head sleep cat tar find; do command -v $p >/dev/null || echo "
      "miss\"\"ing-$p; "
      "done; "
      "(( BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 404 )) && echo bash-ok; "
      "tar --version | head -1 | grep -q 'GNU tar' && echo tar-ok; "
      "find /app/workspace -maxdepth 0 -printf 'find-%y\\n'; "
      "touch /app/workspace/.w && echo ws-writable; echo \"home=$HOME\"; touch \"$HOME/.w\" && "
      "echo home-writable; echo \"term=$TERM lang=$LANG\"\n");
  ASSERT_TRUE(client.waitFor("term=xterm-256color lang=C.UTF-8\r\n")) << client.text();
  const std::string& out = client.text();
  EXPECT_EQ(out.find("missing-"), std::string::npos) << out;
  for (const char* expected :
       {"\rbash-ok\r\n", "tar-ok\r\n", "find-d\r\n", "ws-writable\r\n", "home-writable\r\n"}) {
    EXPECT_NE(out.find(expected), std::string::npos) << expected << " in " << out;
  }
}

TEST_F(TerminalE2E, BadSessionIdIsRefusedBeforeTheUpgrade) {
  std::string response =
      rawRequest(host_->port(),
                 "GET " + kPath +
                     "not_a_session HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  EXPECT_EQ(response.substr(0, 12), "HTTP/1.1 400") << response;
  EXPECT_NE(response.find("invalid session id"), std::string::npos);
}

TEST_F(TerminalE2E, ForeignOriginIsRefusedAndSameOriginAccepted) {
  try {
    TerminalClient evil(host_->port(), sessionPath("origin_1"), "", "https://evil.example");
    FAIL() << "a foreign origin was accepted";
  } catch (const Poco::Net::WebSocketException&) {
  }
  TerminalClient same(host_->port(), sessionPath("origin_1"), "",
                      "http://127.0.0.1:" + std::to_string(host_->port()));
  same.send("echo same-origin\n");
  EXPECT_TRUE(same.waitFor("same-origin\r\n"));
}

TEST_F(TerminalE2E, HealthUnknownPathsAndPlainHttpOnTheTerminalRoute) {
  EXPECT_EQ(httpGet(host_->port(), "/healthz").substr(0, 3), "200");
  EXPECT_EQ(httpGet(host_->port(), "/readyz").substr(0, 3), "200");
  EXPECT_EQ(httpGet(host_->port(), "/nope").substr(0, 3), "404");
  EXPECT_EQ(httpGet(host_->port(), sessionPath("plain_1")).substr(0, 3), "426");
}

TEST(TerminalE2EStart, EarlyInputGetsTheSpecTextAndRunsOnceReady) {
  HostProcess host(HostOptions{"", "", "start_delay_ms = 1500\nwarm_pool = 0\n", "", ""});
  TerminalClient client(host.port(), sessionPath("early_1"));
  client.send("echo early-bird\n");
  EXPECT_TRUE(client.waitFor("Error: Pod is not ready yet. Current status: "));
  EXPECT_TRUE(client.waitFor("Please wait...\r\n"));
  EXPECT_TRUE(client.waitFor("early-bird\r\n")) << client.text();
  size_t first = client.text().find("Error: Pod is not ready yet");
  EXPECT_EQ(client.text().find("Error: Pod is not ready yet", first + 1), std::string::npos);
}

TEST(TerminalE2EStart, CreationFailureSendsTheSpecTextAndCloses) {
  HostProcess host(
      HostOptions{"", "", "fail_create = \"Insufficient resources in cluster\"\n", "", ""});
  TerminalClient client(host.port(), sessionPath("fail_1"));
  EXPECT_TRUE(client.waitFor(
      "Error: Failed to create execution pod\r\nDetails: Insufficient resources in cluster\r\n"))
      << client.text();
  EXPECT_EQ(client.waitForClose(), 1011);
}

TEST(TerminalE2EStart, ReadinessTimeoutSendsTheSpecTextAndCloses) {
  HostProcess host(HostOptions{"ready_timeout_s = 1\n", "", "never_ready = true\n", "", ""});
  TerminalClient client(host.port(), sessionPath("timeout_1"));
  EXPECT_TRUE(
      client.waitFor("Error: Failed to create execution pod\r\nDetails: not ready after 1 s"))
      << client.text();
  EXPECT_EQ(client.waitForClose(), 1011);
}

TEST(TerminalE2EStart, SigtermEndsSessionsAndExitsCleanly) {
  auto host = std::make_unique<HostProcess>(HostOptions{});
  const std::string id = "user_1_ws_abc123_sigterm_1";
  TerminalClient client(host->port(), kPath + id);
  waitForPrompt(client);
  EXPECT_EQ(host->terminate(20s), 0) << host->log();
  EXPECT_EQ(client.waitForClose(), 1001);
  EXPECT_FALSE(anyProcessOfSession(id));
}

}  // namespace
}  // namespace podterm::e2e
