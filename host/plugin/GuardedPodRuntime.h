#pragma once
// A PodRuntime (and the ExecStreams it opens) whose plugin exceptions become errors.

#include <memory>
#include <string>

#include "plugin/Guard.h"
#include "podterm/runtime.h"

namespace podterm::host {

// Every call forwards to the plugin's runtime; an exception becomes
// Status(Internal, "plugin <name> threw: <what>"), or a report for calls that return no Status
// (capabilities() then reports none). Streams it opens are GuardedExecStreams that keep the
// runtime, and so its library, alive. Thread-safe as the wrapped runtime.
class GuardedPodRuntime final : public sdk::PodRuntime {
 public:
  GuardedPodRuntime(std::shared_ptr<sdk::PodRuntime> inner, std::string plugin,
                    GuardReporter report = {});

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
  std::shared_ptr<sdk::PodRuntime> inner_;
  std::string plugin_;
  GuardReporter report_;
};

class GuardedExecStream final : public sdk::ExecStream {
 public:
  // `owner` is kept alive until `inner` is destroyed (the runtime that made the stream).
  GuardedExecStream(sdk::ExecStreamPtr inner, std::shared_ptr<const void> owner, std::string plugin,
                    GuardReporter report = {});

  sdk::Status write(const char* data, size_t size) override;
  sdk::Status closeStdin() override;
  sdk::Status resize(uint16_t cols, uint16_t rows) override;
  void pauseOutput() override;
  void resumeOutput() override;
  void close() override;
  size_t pendingInput() const override;  // 0 when it threw

 private:
  std::shared_ptr<const void> owner_;  // declared first: destroyed after inner_
  sdk::ExecStreamPtr inner_;
  std::string plugin_;
  GuardReporter report_;
};

}  // namespace podterm::host
