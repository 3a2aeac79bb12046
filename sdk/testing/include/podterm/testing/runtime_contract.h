#pragma once
// The PodRuntime contract suite (googletest "abstract tests"): every runtime instantiates it with
// a factory, and runs the same cases, with capability checks that skip what it cannot do.
//
//   INSTANTIATE_TEST_SUITE_P(MyRuntime, RuntimeContractTest,
//                            ::testing::Values(RuntimeContractParam{"my", factory}),
//                            podterm::testing::runtimeContractName);
//
// Each case builds a fresh runtime (factory), uses session ids of its own and destroys the
// runtime at the end. The runtime must provide /bin/sh, cat, seq, head, stty and sleep in its pods.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "podterm/runtime.h"

namespace podterm::testing {

// What a case asks of the runtime it gets (failure injection needs
// capabilities().failure_injection).
struct ContractOptions {
  std::string fail_create;  // non-empty: every pod fails with this message
  bool never_ready = false;
  int start_delay_ms = 0;  // time pods spend Pending
};

struct RuntimeContractParam {
  std::string name;
  // Returns null when the runtime cannot be built (the case fails with that).
  std::function<std::shared_ptr<sdk::PodRuntime>(const ContractOptions&)> factory;
  std::chrono::milliseconds ready_timeout{30000};
};

// gtest prints the parameter by its name.
inline void PrintTo(const RuntimeContractParam& param, std::ostream* os) {
  *os << param.name;
}

std::string runtimeContractName(const ::testing::TestParamInfo<RuntimeContractParam>& info);

// Records pod statuses and lets a test wait for one.
class RecordingPodObserver : public sdk::PodObserver {
 public:
  void onPodStatus(const sdk::PodStatus& status) override;
  // Waits until pred holds for some recorded status; returns it (or nullopt-like false).
  bool waitFor(const std::function<bool(const sdk::PodStatus&)>& pred,
               std::chrono::milliseconds timeout, sdk::PodStatus* found = nullptr);
  std::vector<sdk::PodStatus> statuses() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<sdk::PodStatus> statuses_;
};

// Collects a stream's output and exit.
class RecordingStreamObserver : public sdk::StreamObserver {
 public:
  void onStdout(const char* data, size_t size) override;
  void onStderr(const char* data, size_t size) override;
  void onExit(const sdk::StreamExit& exit) override;

  bool waitForExit(std::chrono::milliseconds timeout);
  bool waitForStdout(const std::string& needle, std::chrono::milliseconds timeout);
  bool waitForStdoutSize(size_t size, std::chrono::milliseconds timeout);
  std::string out() const;
  std::string err() const;
  sdk::StreamExit exit() const;
  int exitCalls() const;
  // Called (on the runtime's thread) with each stdout chunk, before it is recorded.
  void setOnStdout(std::function<void(size_t total)> hook);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string out_, err_;
  sdk::StreamExit exit_;
  int exit_calls_ = 0;
  std::function<void(size_t)> hook_;
};

class RuntimeContractTest : public ::testing::TestWithParam<RuntimeContractParam> {
 protected:
  void TearDown() override;
  // Builds the runtime for this case; null (and the case skipped) when options need a capability
  // it lacks. Callers: `auto* rt = runtime(); if (rt == nullptr) return;`
  sdk::PodRuntime* runtime(const ContractOptions& options = {});
  // A pod observer that lives until after the runtime is destroyed.
  RecordingPodObserver& podObserver();
  sdk::PodSpec spec(const std::string& suffix) const;
  // ensurePod + wait for Ready; fails the test otherwise.
  void createReady(const sdk::PodSpec& spec, RecordingPodObserver& observer);
  // Runs argv to completion (non-tty), writing input then closing stdin.
  void run(const std::string& session, const std::vector<std::string>& argv,
           const std::string& input, RecordingStreamObserver& observer);

  std::deque<RecordingPodObserver> pod_observers_;  // destroyed after runtime_ (TearDown)
  std::shared_ptr<sdk::PodRuntime> runtime_;
};

}  // namespace podterm::testing
