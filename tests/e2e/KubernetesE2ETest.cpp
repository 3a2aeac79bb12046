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

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

TEST(KubernetesE2E, TheSpecsTerminalAndFilesThroughTheKubernetesRuntime) {
  FakeKube kube;
  if (!kube.ok()) GTEST_SKIP() << kube.why();
  HostOptions options;
  options.runtime = kube.runtimeConfig(3);
  options.extra_tables =
      "[storage]\nplugin = \"sqlite\"\n[storage.sqlite]\n"
      "path = \"{dir}/podterm.db\"\n[sync]\nplugin = \"always\"\n";
  HostProcess host(options);
  {
    TerminalClient client(host.port(), "/api/terminal/ws/user_8_ws_kube_a");
    waitForPrompt(client, 60s);
    client.send("cd /tmp && pwd\n");
    EXPECT_TRUE(client.waitFor("/tmp\r\n")) << client.text();
    client.send("cd /app/workspace && echo from-kube > k.txt && python3 -c 'print(6*7)'\n");
    EXPECT_TRUE(client.waitFor("42\r\n")) << client.text();
  }
  // The first pod was synced and deleted; the next session's pod gets the file back.
  TerminalClient again(host.port(), "/api/terminal/ws/user_8_ws_kube_b");
  waitForPrompt(again, 60s);
  again.send("cat k.txt\n");
  EXPECT_TRUE(again.waitFor("\rfrom-kube\r\n")) << again.text() << host.log();
}

TEST(KubernetesE2E, AnUnschedulablePodGivesTheSpecsTextsWithTheSchedulersReason) {
  FakeKube kube(R"([{"type":"unschedulable","name":"exec-*"}])");
  if (!kube.ok()) GTEST_SKIP() << kube.why();
  HostOptions options;
  options.extra_session = "ready_timeout_s = 3\n";
  options.runtime = kube.runtimeConfig(3);
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
  options.runtime = kube.runtimeConfig(3);
  HostProcess host(options);
  TerminalClient client(host.port(), "/api/terminal/ws/user_8_ws_kube_d");
  EXPECT_TRUE(client.waitFor("Error: Failed to create execution pod\r\nDetails: ", 30s))
      << client.text();
  EXPECT_TRUE(client.waitFor("forbidden")) << client.text();
  EXPECT_EQ(client.waitForClose(), 1011);
}

}  // namespace
}  // namespace podterm::e2e
