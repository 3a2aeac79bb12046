#pragma once
// Everything a running host owns, built from a HostConfig in dependency order and torn down in
// reverse. Kept apart from the Poco application so tests can run a whole host in-process.

#include <memory>
#include <string>
#include <vector>

#include "common/WorkerPool.h"
#include "config/HostConfig.h"
#include "http/HttpFront.h"
#include "http/TerminalEndpoint.h"
#include "podterm/auth.h"
#include "podterm/runtime.h"
#include "session/SessionManager.h"
#include "ws/EventLoop.h"

namespace podterm::host {

class PluginLoader;
class LoopScheduler;

class HostRuntime {
 public:
  // Throws ConfigError / PluginError with a one-line message on any refusal.
  explicit HostRuntime(const HostConfig& config);
  ~HostRuntime();
  void start();
  // Idempotent.
  void stop();
  uint16_t port() const;

 private:
  HostConfig config_;
  std::unique_ptr<PluginLoader> loader_;
  std::shared_ptr<sdk::PodRuntime> runtime_;
  std::shared_ptr<sdk::Authenticator> auth_;
  std::unique_ptr<EventLoopGroup> loops_;
  std::unique_ptr<LoopScheduler> timers_;
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<SessionManager> sessions_;
  std::unique_ptr<TerminalEndpoint> terminal_;
  Readiness readiness_;
  std::unique_ptr<HttpFront> http_;
  bool stopped_ = false;
};

}  // namespace podterm::host
