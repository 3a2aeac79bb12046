// End to end with `plugin = "kubernetes"` only: what the fake Kubernetes API server
// (tests/fake-kube-apiserver) can do and fakepod cannot: the scheduler's reason, an image that
// cannot be pulled, the API refusing the pod with its RBAC text. The terminal, the files and the
// texts both runtimes can give run on both in TerminalE2ETest and FilesE2ETest
// (Runtimes/...(/kubernetes)).

#include <gtest/gtest.h>

#include <chrono>

#include "FaultFixtures.h"
#include "HostProcess.h"
#include "TerminalClient.h"

namespace podterm::e2e {
namespace {

using namespace std::chrono_literals;

// The plugin gives up on a pod that is not ready after 3 s; the host's own limit (60 s) is later.
constexpr int kPluginReadyTimeoutS = 3;

TEST(KubernetesE2E, AnUnschedulablePodGivesTheSpecsTextsWithTheSchedulersReason) {
  RuntimeHost runtime("kubernetes", HostOptions{}, R"([{"type":"unschedulable","name":"exec-*"}])",
                      kPluginReadyTimeoutS);
  if (!runtime.ok()) GTEST_SKIP() << runtime.why();
  TerminalClient client(runtime.host().port(), "/api/terminal/ws/user_8_ws_kube_c");
  client.send("ls\n");
  // The status is the pod's when the input came: Creating, Pending or Unschedulable.
  EXPECT_TRUE(client.waitFor("Error: Pod is not ready yet. Current status: ")) << client.text();
  EXPECT_TRUE(client.waitFor("Please wait...\r\n")) << client.text();
  EXPECT_TRUE(client.waitFor("Error: Failed to create execution pod\r\nDetails: ", 30s))
      << client.text();
  EXPECT_TRUE(client.waitFor("Insufficient cpu")) << client.text();
  EXPECT_EQ(client.waitForClose(), 1011);
}

TEST(KubernetesE2E, AnImageThatCannotBePulledGivesTheSpecsTextWithTheImage) {
  RuntimeHost runtime("kubernetes", HostOptions{},
                      R"([{"type":"image_pull_backoff","name":"exec-*"}])", kPluginReadyTimeoutS);
  if (!runtime.ok()) GTEST_SKIP() << runtime.why();
  TerminalClient client(runtime.host().port(), "/api/terminal/ws/user_8_ws_kube_e");
  EXPECT_TRUE(client.waitFor("Error: Failed to create execution pod\r\nDetails: ", 30s))
      << client.text();
  EXPECT_TRUE(client.waitFor("rraup12/code-execution:latest")) << client.text();
  EXPECT_EQ(client.waitForClose(), 1011);
}

TEST(KubernetesE2E, ACreationTheApiRefusesGivesItsMessage) {
  RuntimeHost runtime("kubernetes", HostOptions{},
                      R"([{"type":"http_error","code":403,"verb":"create","resource":"pods"}])",
                      kPluginReadyTimeoutS);
  if (!runtime.ok()) GTEST_SKIP() << runtime.why();
  TerminalClient client(runtime.host().port(), "/api/terminal/ws/user_8_ws_kube_d");
  EXPECT_TRUE(client.waitFor("Error: Failed to create execution pod\r\nDetails: ", 30s))
      << client.text();
  EXPECT_TRUE(client.waitFor("forbidden")) << client.text();
  EXPECT_EQ(client.waitForClose(), 1011);
}

}  // namespace
}  // namespace podterm::e2e
