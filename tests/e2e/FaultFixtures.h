#pragma once
// Fixtures shared by the e2e tests: a polling wait (all of them); the fake Kubernetes API server
// with its fault and control API, a TCP proxy on 127.0.0.1 that a test can cut (its database
// "goes away"), a command runner, and what /proc says about a process (descriptors, threads)
// (Faults, Kubernetes, Replicas); a host on either runtime, fakepod or kubernetes on the fake
// (the Terminal and Files suites, value-parameterised over the runtime). Every process here is
// started and stopped by its PID.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "HostProcess.h"

namespace podterm::e2e {

// Polls condition every 20 ms until it holds (true) or the deadline passes (false).
bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds deadline);

// Runs argv (no shell) with stdin from `input`; returns its exit status and stdout + stderr.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult runCommand(const std::vector<std::string>& argv, const std::string& input = "");

// A database of its own (named prefix + pid) on the throwaway PostgreSQL of deploy/pg-up.sh
// (PODTERM_PGTEST_PORT), dropped at the end. ok() is false without one; why() says why.
class PgDatabase {
 public:
  explicit PgDatabase(const std::string& prefix);
  ~PgDatabase();
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;
  bool ok() const { return !name_.empty(); }
  std::string why() const;
  const std::string& name() const { return name_; }
  uint16_t port() const { return static_cast<uint16_t>(std::stoi(port_)); }
  std::string connection() const;
  // One value, unaligned (psql -At), without its trailing newline; empty when there is none.
  std::string value(const std::string& query) const;

 private:
  CommandResult admin(const std::string& sql) const;  // on the server's "postgres" database
  std::string port_, name_, why_;
};

// PODTERM_REQUIRE_PG=1 (make test): a test without PostgreSQL fails instead of skipping.
bool pgRequired();

// Open descriptors and threads of a live process, from /proc (-1 when it cannot be read).
int openDescriptors(pid_t pid);
int threadCount(pid_t pid);

// tests/fake-kube-apiserver/fake_apiserver.py, with the token "e2e-token".
class FakeKube {
 public:
  explicit FakeKube(const std::string& faults = "[]");
  ~FakeKube();
  FakeKube(const FakeKube&) = delete;
  FakeKube& operator=(const FakeKube&) = delete;

  bool ok() const { return !kubeconfig_.empty(); }
  const std::string& why() const { return why_; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  // The [runtime] tables of a host that uses this fake.
  std::string runtimeConfig(int ready_timeout_s = 30) const;

  // HTTPS to the fake (control endpoints and the API with the token); returns "<status> <body>".
  std::string request(const std::string& method, const std::string& path,
                      const std::string& body = "");
  // POST /_fake/faults.
  bool addFaults(const std::string& json);
  // Names of the live (not terminating) pods whose session annotation is session_id.
  std::vector<std::string> podsOf(const std::string& session_id);
  // Every pod name the fake holds, terminating ones included.
  std::vector<std::string> allPods();
  // Host pids of the sandbox agents (each container's pid 1) of this pod, from /_fake/state.
  std::vector<pid_t> sandboxPids(const std::string& pod_name);
  // Number of requests in the fake's log with this method, a path containing path_part and a
  // query string containing query_part.
  size_t requestsMatching(const std::string& method, const std::string& path_part,
                          const std::string& query_part = "");

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string dir_, kubeconfig_, why_;
  std::mutex mutex_;
};

// The runtimes the general e2e suites run on, as a value-parameterised suite's parameter:
//   INSTANTIATE_TEST_SUITE_P(Runtimes, Suite, ::testing::Values("fakepod", "kubernetes"),
//                            RuntimeParamName());
// names its tests Runtimes/Suite.Test/fakepod and Runtimes/Suite.Test/kubernetes.
struct RuntimeParamName {
  template <class Info>
  std::string operator()(const Info& info) const {
    return info.param;
  }
};

// A host on one runtime: "fakepod" (its [runtime.fakepod] lines from options.fakepod), or
// "kubernetes" on a FakeKube of its own started with kube_faults (options.runtime from it, with
// the plugin's ready_timeout_s). ok() is false only when the fake cannot run; why() says why.
class RuntimeHost {
 public:
  RuntimeHost(const std::string& runtime, HostOptions options,
              const std::string& kube_faults = "[]", int kube_ready_timeout_s = 30);
  bool ok() const { return host_ != nullptr; }
  std::string why() const { return kube_ ? kube_->why() : std::string(); }
  HostProcess& host() { return *host_; }
  // The fake under a kubernetes host; null on fakepod.
  FakeKube* kube() { return kube_.get(); }

 private:
  std::unique_ptr<FakeKube> kube_;
  std::unique_ptr<HostProcess> host_;
};

// Forwards 127.0.0.1:port() to 127.0.0.1:target. cut() closes every connection and the listener,
// so new connections are refused (the database is gone for the host); restore() listens again on
// the same port. One thread, poll(2), bounded buffers.
class TcpProxy {
 public:
  explicit TcpProxy(uint16_t target);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const { return port_; }
  bool ok() const { return listener_ >= 0 || port_ != 0; }
  void cut();
  bool restore();
  size_t connectionsAccepted() const { return accepted_.load(); }

 private:
  void run();
  bool listen();

  const uint16_t target_;
  uint16_t port_ = 0;
  std::atomic<int> listener_{-1};
  std::atomic<bool> stop_{false};
  std::atomic<bool> cut_requested_{false};
  std::atomic<size_t> accepted_{0};
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::mutex mutex_;
};

}  // namespace podterm::e2e
