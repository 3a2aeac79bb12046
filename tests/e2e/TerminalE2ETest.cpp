// End to end: the real podterm process, driven over WebSocket the way the spec's clients drive
// it, on each runtime: fakepod (local sandboxes) and kubernetes (the runtime-kubernetes plugin
// against the fake Kubernetes API server, tests/fake-kube-apiserver).

#include <Poco/Net/NetException.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <thread>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

const std::string kPath = "/api/terminal/ws/";
// A session's first output: on kubernetes the pod is created (scheduled, started) first.
constexpr auto kFirst = 60s;

std::string sessionPath(const std::string& suffix) {
  return kPath + "user_1_ws_abc123_" + suffix;
}

// on_shell_exit = "close": these tests check that an exiting shell ends the session; the default
// restart is tested in LifecycleE2ETest.
HostOptions terminalHostOptions() {
  HostOptions options;
  options.extra_session = "on_shell_exit = \"close\"\n";
  return options;
}

// One host per runtime for the whole suite, made by the first test of that runtime.
class TerminalE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto& slot = hosts_[GetParam()];
    if (!slot) slot = std::make_unique<RuntimeHost>(GetParam(), terminalHostOptions());
    if (!slot->ok()) GTEST_SKIP() << slot->why();
    runtime_ = slot.get();
    host_ = &slot->host();
  }
  static void TearDownTestSuite() { hosts_.clear(); }
  FakeKube* kube() { return runtime_->kube(); }

  static std::map<std::string, std::unique_ptr<RuntimeHost>> hosts_;
  RuntimeHost* runtime_ = nullptr;
  HostProcess* host_ = nullptr;
};
std::map<std::string, std::unique_ptr<RuntimeHost>> TerminalE2E::hosts_;

INSTANTIATE_TEST_SUITE_P(Runtimes, TerminalE2E, ::testing::Values("fakepod", "kubernetes"),
                         RuntimeParamName());

TEST_P(TerminalE2E, EchoHelloAsTheSpecClientSendsIt) {
  TerminalClient client(host_->port(), sessionPath("echo_1"));
  client.send("echo hello\n");
  EXPECT_TRUE(client.waitFor("hello\r\n", kFirst)) << client.text();
}

TEST_P(TerminalE2E, ShellStatePersistsBetweenCommands) {
  TerminalClient client(host_->port(), sessionPath("state_1"));
  waitForPrompt(client, kFirst);
  client.send("cd /tmp\n");
  client.send("export GREETING=persisted\n");
  client.send("pwd; echo \"$GREETING\"\n");
  EXPECT_TRUE(client.waitFor("/tmp\r\npersisted\r\n")) << client.text();
}

TEST_P(TerminalE2E, RunsPythonAndReportsItsErrorsAsText) {
  TerminalClient client(host_->port(), sessionPath("python_1"));
  waitForPrompt(client, kFirst);
  client.send("python3 -c \"print(2+3)\"\n");
  EXPECT_TRUE(client.waitFor("\r5\r\n")) << client.text();
  client.send("python3 -c 'print(\"hello\"'\n");
  EXPECT_TRUE(client.waitFor("SyntaxError")) << client.text();
}

TEST_P(TerminalE2E, XtermStyleKeystrokesOneByOne) {
  TerminalClient client(host_->port(), sessionPath("keys_1"));
  waitForPrompt(client, kFirst);
  client.consume();
  for (char c : std::string("echo $((6*7))")) client.send(std::string(1, c));
  client.send("\r");
  EXPECT_TRUE(client.waitFor("\r42\r\n")) << client.text();
}

TEST_P(TerminalE2E, ResizeReachesTheShell) {
  TerminalClient client(host_->port(), sessionPath("resize_1") + "?cols=90&rows=30");
  waitForPrompt(client, kFirst);
  client.send("stty size\n");
  EXPECT_TRUE(client.waitFor("30 90\r\n")) << client.text();
  client.sendBinary(R"({"type":"resize","cols":132,"rows":43})");
  client.send("stty size\n");
  EXPECT_TRUE(client.waitFor("43 132\r\n")) << client.text();
}

TEST_P(TerminalE2E, InvalidBytesArriveAsReplacementCharacters) {
  TerminalClient client(host_->port(), sessionPath("utf8_1"));
  waitForPrompt(client, kFirst);
  client.send("printf 'a\\377b\\342\\202\\254\\n'\n");
  EXPECT_TRUE(
      client.waitFor("a\xEF\xBF\xBD"
                     "b\xE2\x82\xAC\r\n"))
      << client.text();
}

TEST_P(TerminalE2E, TwoClientsOnOneIdShareTheShell) {
  TerminalClient first(host_->port(), sessionPath("shared_1"));
  waitForPrompt(first, kFirst);
  TerminalClient second(host_->port(), sessionPath("shared_1"));
  // Two sockets may be served by two loops: let the first command finish before the second.
  first.send("export MARK=shared; echo exported\n");
  ASSERT_TRUE(first.waitFor("\rexported\r\n")) << first.text();
  second.send("echo \"mark=$MARK\"\n");
  EXPECT_TRUE(second.waitFor("mark=shared\r\n")) << second.text();
  EXPECT_TRUE(first.waitFor("mark=shared\r\n")) << first.text();
}

// The host's threads by name (/proc/<pid>/task/<tid>/comm), for a failed thread budget.
std::string threadNames(pid_t pid) {
  std::map<std::string, int> counts;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* dir = ::opendir(tasks.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      std::ifstream comm(tasks + "/" + entry->d_name + "/comm");
      std::string name;
      std::getline(comm, name);
      ++counts[name];
    }
    ::closedir(dir);
  }
  std::string text = "threads:";
  for (const auto& [name, n] : counts) text += " " + name + " x" + std::to_string(n);
  return text;
}

TEST_P(TerminalE2E, FiftyConcurrentSessions) {
  constexpr int kSessions = 50;
  std::vector<std::unique_ptr<TerminalClient>> clients;
  for (int i = 0; i < kSessions; ++i) {
    clients.push_back(
        std::make_unique<TerminalClient>(host_->port(), sessionPath("many_" + std::to_string(i))));
  }
  for (int i = 0; i < kSessions; ++i)
    clients[i]->send("echo tok$((" + std::to_string(i) + "+1000))\n");
  for (int i = 0; i < kSessions; ++i) {
    EXPECT_TRUE(clients[i]->waitFor("tok" + std::to_string(i + 1000) + "\r\n", 120s))
        << "session " << i << ": " << clients[i]->text();
  }
  // A fixed thread budget, whatever the number of sessions: 2 loops, at most 8 HTTP threads,
  // 4 workers, 4 for the auth plugin's calls, main and Poco's housekeeping, plus the runtime's own:
  // fakepod's I/O thread; the kubernetes plugin's event loop (every exec stream), its worker and
  // its watch (no warm pool here).
  const int runtime_threads = kube() ? 3 : 1;
  EXPECT_LE(threadCount(host_->pid()), 20 + runtime_threads) << threadNames(host_->pid());
}

int64_t rssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

TEST_P(TerminalE2E, SlowClientPausesTheShellAndHostMemoryStaysBounded) {
  TerminalClient client(host_->port(), sessionPath("flood_1"));
  // Draining the flood can take longer than limits.socket_idle_timeout_s (90 s) on a loaded
  // machine, and the client sends nothing meanwhile: it answers the host's pings.
  client.answerPings(true);
  waitForPrompt(client, kFirst);
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
  EXPECT_GE(received, kFlood) << "the flood did not arrive whole after the client read again ("
                              << (client.error().empty()
                                      ? "close code " + std::to_string(client.waitForClose(0ms))
                                      : client.error())
                              << ")";
}

TEST_P(TerminalE2E, V2ClientsGetEventsInBinaryFrames) {
  TerminalClient client(host_->port(), sessionPath("v2_1"), "podterm.v2");
  EXPECT_EQ(client.protocol(), "podterm.v2");
  waitForPrompt(client, kFirst);
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

TEST_P(TerminalE2E, V1ClientsGetNoticesAsText) {
  TerminalClient client(host_->port(), sessionPath("v1_1"), "podterm.v1");
  EXPECT_EQ(client.protocol(), "podterm.v1");
  waitForPrompt(client, kFirst);
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

bool processAlive(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

// Whether anything of the session's pod still runs: on fakepod its processes (marked with the
// session id); on kubernetes the fake's pod (terminating included) or its sandboxes' processes
// (sandboxes: their host pids, noted while the session was live).
bool shellRuns(FakeKube* kube, const std::string& session_id, std::vector<std::string>& pods,
               std::vector<pid_t>& sandboxes) {
  if (kube == nullptr) return anyProcessOfSession(session_id);
  for (const auto& name : kube->podsOf(session_id)) {
    if (std::find(pods.begin(), pods.end(), name) != pods.end()) continue;
    pods.push_back(name);
    for (pid_t pid : kube->sandboxPids(name)) sandboxes.push_back(pid);
  }
  const auto all = kube->allPods();
  for (const auto& name : pods) {
    if (std::find(all.begin(), all.end(), name) != all.end()) return true;
  }
  return std::any_of(sandboxes.begin(), sandboxes.end(), processAlive);
}

TEST_P(TerminalE2E, ShellEndsWhenTheSessionEnds) {
  const std::string id = "user_1_ws_abc123_cleanup_1";
  std::vector<std::string> pods;
  std::vector<pid_t> sandboxes;
  {
    TerminalClient client(host_->port(), kPath + id);
    waitForPrompt(client, kFirst);
    ASSERT_TRUE(shellRuns(kube(), id, pods, sandboxes));
    if (kube()) {
      ASSERT_FALSE(sandboxes.empty()) << "the fake's pod runs no sandbox";
    }
  }
  // grace_period_s = 0 in this host: the pod goes as soon as the client does.
  EXPECT_TRUE(waitUntil([&] { return !shellRuns(kube(), id, pods, sandboxes); }, 15s));
}

// docs/image-contract.md: what the shell and the sync need in a pod, checked in fakepod's sandbox
// and in the fake API server's (both run the host's /usr, as an image meeting the contract would,
// with the environment the runtime gives the pod).
TEST_P(TerminalE2E, ThePodMeetsTheImageContract) {
  TerminalClient client(host_->port(), sessionPath("contract_1"));
  waitForPrompt(client, kFirst);
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

// Refused before any runtime is asked for anything: one runtime (fakepod) covers it.
TEST(TerminalE2EHttp, BadSessionIdIsRefusedBeforeTheUpgrade) {
  HostProcess host(terminalHostOptions());
  std::string response = rawRequest(
      host.port(), "GET " + kPath +
                       "not_a_session HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  EXPECT_EQ(response.substr(0, 12), "HTTP/1.1 400") << response;
  EXPECT_NE(response.find("invalid session id"), std::string::npos);
}

TEST_P(TerminalE2E, ForeignOriginIsRefusedAndSameOriginAccepted) {
  try {
    TerminalClient evil(host_->port(), sessionPath("origin_1"), "", "https://evil.example");
    FAIL() << "a foreign origin was accepted";
  } catch (const Poco::Net::WebSocketException&) {
  }
  TerminalClient same(host_->port(), sessionPath("origin_1"), "",
                      "http://127.0.0.1:" + std::to_string(host_->port()));
  same.send("echo same-origin\n");
  EXPECT_TRUE(same.waitFor("same-origin\r\n", kFirst)) << same.text();
}

TEST_P(TerminalE2E, HealthUnknownPathsAndPlainHttpOnTheTerminalRoute) {
  EXPECT_EQ(httpGet(host_->port(), "/healthz").substr(0, 3), "200");
  EXPECT_EQ(httpGet(host_->port(), "/readyz").substr(0, 3), "200");
  EXPECT_EQ(httpGet(host_->port(), "/nope").substr(0, 3), "404");
  EXPECT_EQ(httpGet(host_->port(), sessionPath("plain_1")).substr(0, 3), "426");
}

// A client that answers the host's pings (a browser) sends frames while it only reads: its socket
// is never idle (limits.socket_idle_timeout_s), which the flood test above relies on. Host-level:
// one runtime (fakepod) covers it.
TEST(TerminalE2EHttp, AClientThatAnswersPingsIsNeverIdle) {
  HostOptions options = terminalHostOptions();
  options.extra_tables = "[limits]\nping_interval_s = 1\nsocket_idle_timeout_s = 2\n";
  HostProcess host(options);
  TerminalClient client(host.port(), sessionPath("pongs_1"));
  client.answerPings(true);
  waitForPrompt(client);
  // Reading only, for twice the idle timeout and more: no close comes.
  EXPECT_EQ(client.waitForClose(5s), -1) << client.closeReason();
  client.send("echo alive-$((5*5))\n");
  EXPECT_TRUE(client.waitFor("alive-25")) << client.text();
}

// Hosts of their own, with a fault in the pod's start: fakepod's options, or the fake API
// server's faults (the scheduler, the API refusing the pod).
class TerminalE2EStart : public ::testing::TestWithParam<std::string> {
 protected:
  // False when the kubernetes fake cannot run (the test then skips with why()).
  bool start(const HostOptions& options, const std::string& kube_faults = "[]") {
    runtime_ = std::make_unique<RuntimeHost>(GetParam(), options, kube_faults);
    return runtime_->ok();
  }
  std::string why() const { return runtime_->why(); }
  HostProcess& host() { return runtime_->host(); }
  FakeKube* kube() { return runtime_->kube(); }

  std::unique_ptr<RuntimeHost> runtime_;
};

INSTANTIATE_TEST_SUITE_P(Runtimes, TerminalE2EStart, ::testing::Values("fakepod", "kubernetes"),
                         RuntimeParamName());

// fakepod: a start delay; kubernetes: the scheduler finds no node for 1.5 s. The status is the
// pod's at that moment (Creating, Pending, Unschedulable, ContainerCreating: when the input came
// decides which), in the spec's text.
TEST_P(TerminalE2EStart, EarlyInputGetsTheSpecTextAndRunsOnceReady) {
  HostOptions options;
  options.fakepod = "start_delay_ms = 1500\nwarm_pool = 0\n";
  if (!start(options, R"([{"type":"unschedulable","name":"exec-*","seconds":1.5}])")) {
    GTEST_SKIP() << why();
  }
  TerminalClient client(host().port(), sessionPath("early_1"));
  client.send("echo early-bird\n");
  ASSERT_TRUE(client.waitFor("Please wait...\r\n", kFirst)) << client.text();
  EXPECT_TRUE(std::regex_search(
      client.text(), std::regex("(^|\n)Error: Pod is not ready yet\\. Current status: [A-Za-z]+\r\n"
                                "Please wait\\.\\.\\.\r\n")))
      << client.text();
  EXPECT_TRUE(client.waitFor("early-bird\r\n", kFirst)) << client.text();
  size_t first = client.text().find("Error: Pod is not ready yet");
  EXPECT_EQ(client.text().find("Error: Pod is not ready yet", first + 1), std::string::npos);
}

// fakepod: its creation fails; kubernetes: the API refuses the pod (422) with that message.
TEST_P(TerminalE2EStart, CreationFailureSendsTheSpecTextAndCloses) {
  HostOptions options;
  options.fakepod = "fail_create = \"Insufficient resources in cluster\"\n";
  if (!start(options,
             R"([{"type":"http_error","code":422,"reason":"Invalid","verb":"create",)"
             R"("resource":"pods","count":null,"message":"Insufficient resources in cluster"}])")) {
    GTEST_SKIP() << why();
  }
  TerminalClient client(host().port(), sessionPath("fail_1"));
  EXPECT_TRUE(client.waitFor(
      "Error: Failed to create execution pod\r\nDetails: Insufficient resources in cluster\r\n",
      kFirst))
      << client.text();
  EXPECT_EQ(client.waitForClose(), 1011);
}

// fakepod: a pod that never gets ready; kubernetes: one the scheduler never places. The host's
// own ready_timeout_s (1 s) comes before the plugin's (30 s).
TEST_P(TerminalE2EStart, ReadinessTimeoutSendsTheSpecTextAndCloses) {
  HostOptions options;
  options.extra_session = "ready_timeout_s = 1\n";
  options.fakepod = "never_ready = true\n";
  if (!start(options, R"([{"type":"unschedulable","name":"exec-*"}])")) GTEST_SKIP() << why();
  TerminalClient client(host().port(), sessionPath("timeout_1"));
  EXPECT_TRUE(
      client.waitFor("Error: Failed to create execution pod\r\nDetails: not ready after 1 s"))
      << client.text();
  EXPECT_EQ(client.waitForClose(), 1011);
}

TEST_P(TerminalE2EStart, SigtermEndsSessionsAndExitsCleanly) {
  if (!start(HostOptions{})) GTEST_SKIP() << why();
  const std::string id = "user_1_ws_abc123_sigterm_1";
  TerminalClient client(host().port(), kPath + id);
  waitForPrompt(client, kFirst);
  std::vector<std::string> pods;
  std::vector<pid_t> sandboxes;
  ASSERT_TRUE(shellRuns(kube(), id, pods, sandboxes));
  EXPECT_EQ(host().terminate(20s), 0) << host().log();
  EXPECT_EQ(client.waitForClose(), 1001);
  // docs/operations.md, "Shutdown": the pod is kept for a reconnect through another replica.
  // fakepod's sandboxes are processes of the host and end with it; a Kubernetes pod stays.
  if (kube()) {
    EXPECT_EQ(kube()->podsOf(id), pods) << "the pod was deleted at shutdown";
    EXPECT_TRUE(std::all_of(sandboxes.begin(), sandboxes.end(), processAlive));
  } else {
    EXPECT_FALSE(anyProcessOfSession(id));
  }
}

}  // namespace
}  // namespace podterm::e2e
