// End to end with `plugin = "kubernetes"`: the real host and the runtime-kubernetes plugin against
// the fake Kubernetes API server (tests/fake-kube-apiserver), over HTTPS, watch and exec over
// WebSocket: the terminal, the files and the spec's error texts.

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

// The fake, started by PID and stopped by PID.
class FakeKube {
 public:
  explicit FakeKube(const std::string& faults = "[]") {
    if (::access("/usr/bin/python3", X_OK) != 0 || ::access(FAKE_APISERVER, R_OK) != 0) {
      why_ = "no /usr/bin/python3 or no fake API server script";
      return;
    }
    char tmpl[] = "/tmp/podterm-kube-e2e.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ::chmod(dir_.c_str(), 0755);
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      int log = ::open((dir_ + "/fake.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(log, 2);
      const std::string data = dir_ + "/data";
      ::execl("/usr/bin/python3", "python3", FAKE_APISERVER, "--port", "0", "--data-dir",
              data.c_str(), "--token", "e2e-token", "--faults", faults.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    ::close(out[0]);
    try {
      auto json = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
      kubeconfig_ = json->getValue<std::string>("kubeconfig");
    } catch (const std::exception&) {
      why_ = "the fake API server did not start: " + line;
    }
  }
  ~FakeKube() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  bool ok() const { return !kubeconfig_.empty(); }
  const std::string& why() const { return why_; }
  const std::string& kubeconfig() const { return kubeconfig_; }

 private:
  pid_t pid_ = -1;
  std::string dir_, kubeconfig_, why_;
};

void waitForPrompt(TerminalClient& client) {
  ASSERT_TRUE(client.waitForAny({"$ ", "# "}, 60s)) << "no prompt; got: " << client.text();
}

std::string kubernetesRuntime(const FakeKube& kube) {
  return "[runtime]\nplugin = \"kubernetes\"\n[runtime.kubernetes]\n"
         "credentials = \"kubeconfig\"\nkubeconfig = \"" +
         kube.kubeconfig() + "\"\nrun_as_user = 0\nrestricted = false\nready_timeout_s = 3\n";
}

TEST(KubernetesE2E, TheSpecsTerminalAndFilesThroughTheKubernetesRuntime) {
  FakeKube kube;
  if (!kube.ok()) GTEST_SKIP() << kube.why();
  HostOptions options;
  options.runtime = kubernetesRuntime(kube);
  options.extra_tables =
      "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\n"
      "path = \"{dir}/podterm.db\"\n[sync]\nplugin = \"always\"\n";
  HostProcess host(options);
  {
    TerminalClient client(host.port(), "/api/terminal/ws/user_8_ws_kube_a");
    waitForPrompt(client);
    client.send("cd /tmp && pwd\n");
    EXPECT_TRUE(client.waitFor("/tmp\r\n")) << client.text();
    client.send("cd /app/workspace && echo from-kube > k.txt && python3 -c 'print(6*7)'\n");
    EXPECT_TRUE(client.waitFor("42\r\n")) << client.text();
  }
  // The first pod was synced and deleted; the next session's pod gets the file back.
  TerminalClient again(host.port(), "/api/terminal/ws/user_8_ws_kube_b");
  waitForPrompt(again);
  again.send("cat k.txt\n");
  EXPECT_TRUE(again.waitFor("\rfrom-kube\r\n")) << again.text() << host.log();
}

TEST(KubernetesE2E, AnUnschedulablePodGivesTheSpecsTextsWithTheSchedulersReason) {
  FakeKube kube(R"([{"type":"unschedulable","name":"exec-*"}])");
  if (!kube.ok()) GTEST_SKIP() << kube.why();
  HostOptions options;
  options.extra_session = "ready_timeout_s = 3\n";
  options.runtime = kubernetesRuntime(kube);
  HostProcess host(options);
  TerminalClient client(host.port(), "/api/terminal/ws/user_8_ws_kube_c");
  client.send("ls\n");
  EXPECT_TRUE(client.waitFor("Error: Pod is not ready yet. Current status: ")) << client.text();
  EXPECT_TRUE(client.waitFor("Please wait...\r\n")) << client.text();
  EXPECT_TRUE(client.waitFor("Error: Failed to create execution pod\r\nDetails: ", 30s))
      << client.text();
  EXPECT_TRUE(client.waitFor("Insufficient cpu")) << client.text();
  EXPECT_EQ(client.waitForClose(), 1011);
}

TEST(KubernetesE2E, ACreationTheApiRefusesGivesItsMessage) {
  FakeKube kube(R"([{"type":"http_error","code":403,"verb":"create","resource":"pods"}])");
  if (!kube.ok()) GTEST_SKIP() << kube.why();
  HostOptions options;
  options.runtime = kubernetesRuntime(kube);
  HostProcess host(options);
  TerminalClient client(host.port(), "/api/terminal/ws/user_8_ws_kube_d");
  EXPECT_TRUE(client.waitFor("Error: Failed to create execution pod\r\nDetails: ", 30s))
      << client.text();
  EXPECT_TRUE(client.waitFor("forbidden")) << client.text();
  EXPECT_EQ(client.waitForClose(), 1011);
}

}  // namespace
}  // namespace podterm::e2e
