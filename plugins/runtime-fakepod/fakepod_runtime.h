#pragma once
// FakePodRuntime: a local Kubernetes stand-in. Each session gets one long-lived bubblewrap
// sandbox (a "pod"); execs enter it. One IoLoop thread serves every pod and stream.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fakepod_config.h"
#include "io_loop.h"
#include "pod.h"
#include "podterm/runtime.h"

namespace podterm::plugins::fakepod {

class FakePodRuntime : public sdk::PodRuntime {
 public:
  // Checks the environment (bubblewrap, slirp4netns, cgroups) against the config; the error
  // tells an operator what to change.
  static sdk::Result<std::unique_ptr<FakePodRuntime>> create(const FakePodConfig& config,
                                                             bool network_explicit);
  ~FakePodRuntime() override;  // deletes every pod

  sdk::Status ensurePod(const sdk::PodSpec& spec, sdk::PodObserver* observer) override;
  void stopObserving(const std::string& session_id) override;
  sdk::Result<sdk::PodStatus> podStatus(const std::string& session_id) override;
  sdk::Result<sdk::ExecStreamPtr> openStream(const std::string& session_id,
                                             const sdk::StreamSpec& spec,
                                             sdk::StreamObserver* observer) override;
  sdk::Status deletePod(const std::string& session_id) override;
  sdk::Result<std::vector<sdk::PodInfo>> listPods() override;
  sdk::RuntimeCapabilities capabilities() const override;

 private:
  FakePodRuntime() = default;
  std::shared_ptr<Pod> find(const std::string& session_id) const;
  std::shared_ptr<Pod> makePod(const std::string& session_id, const std::string& name,
                               const std::string& dir_name);
  void refillWarmPool();  // loop thread

  RuntimeContext ctx_;
  IoLoop loop_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Pod>> pods_;  // by session id
  std::vector<std::shared_ptr<Pod>> warm_;
  uint64_t next_id_ = 1;
  bool shutting_down_ = false;
};

}  // namespace podterm::plugins::fakepod
