#pragma once
// The sync tests' world: the real fakepod runtime (dlopen'ed like the host does, network "none"),
// behind a FaultRuntime, an InMemoryStorage, and helpers to start pods and run commands in them.

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "FaultRuntime.h"
#include "InMemoryStorage.h"
#include "podterm/testing/runtime_contract.h"
#include "sync/PodExec.h"
#include "sync/WorkspacePaths.h"
#include "sync/WorkspaceSync.h"

namespace podterm::tests::sync {

class SyncTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void TearDown() override;

  // A Ready pod for a new session id (deleted after the test).
  std::string startPod(const std::string& name);
  // sh -c script in the pod (script is a constant of the test), stdin from input.
  host::ExecResult sh(const std::string& session, const std::string& script,
                      const std::string& input = {});
  // A row as the API would have stored it.
  void putFile(const std::string& path, const std::string& content, uint32_t mode = 0644,
               int64_t mtime_ms = 1700000000123);
  void putItem(const std::string& path, sdk::ItemKind kind, const std::string& content);
  std::string stored(const std::string& path);  // content of the live row, "<none>" if absent
  bool isLive(const std::string& path) { return storage_.get(ws_, path, nullptr); }
  host::WorkspaceSync makeSync(host::SyncOptions options = {});

  static std::shared_ptr<sdk::PodRuntime> real_;
  static std::unique_ptr<FaultRuntime> runtime_;
  InMemoryStorage storage_;
  sdk::WorkspaceId ws_{"user", "ws"};
  std::vector<std::string> sessions_;
  std::deque<podterm::testing::RecordingPodObserver> observers_;
};

// Checks a report is Ok, printing it otherwise.
::testing::AssertionResult reportOk(const host::SyncReport& report);

}  // namespace podterm::tests::sync
