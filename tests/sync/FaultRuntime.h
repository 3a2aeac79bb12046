#pragma once
// A PodRuntime decorator over the real fakepod runtime that breaks chosen execs the way a lost
// connection or a hostile pod would: output cut after N bytes with a stream error at the end, or
// the command replaced by another (a crafted tar served by `cat`).

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "podterm/runtime.h"

namespace podterm::tests::sync {

struct ExecFault {
  // Which exec: argv[0] equals this, and any argv element equals `with_arg` (when not empty).
  std::string program;
  std::string with_arg;
  // Stdout bytes passed on before the cut (-1: all); then the stream ends with a stream error.
  long long cut_stdout_after = -1;
  // Non-empty: run this argv instead.
  std::vector<std::string> replace_argv;
  bool once = true;
};

class FaultRuntime : public sdk::PodRuntime {
 public:
  explicit FaultRuntime(sdk::PodRuntime& inner) : inner_(inner) {}

  void inject(ExecFault fault);
  void clear();

  sdk::Status ensurePod(const sdk::PodSpec& spec, sdk::PodObserver* observer) override {
    return inner_.ensurePod(spec, observer);
  }
  void stopObserving(const std::string& session_id) override { inner_.stopObserving(session_id); }
  sdk::Result<sdk::PodStatus> podStatus(const std::string& session_id) override {
    return inner_.podStatus(session_id);
  }
  sdk::Result<sdk::ExecStreamPtr> openStream(const std::string& session_id,
                                             const sdk::StreamSpec& spec,
                                             sdk::StreamObserver* observer) override;
  sdk::Status deletePod(const std::string& session_id) override {
    return inner_.deletePod(session_id);
  }
  sdk::Result<std::vector<sdk::PodInfo>> listPods() override { return inner_.listPods(); }
  sdk::RuntimeCapabilities capabilities() const override { return inner_.capabilities(); }

 private:
  sdk::PodRuntime& inner_;
  std::mutex mu_;
  std::vector<ExecFault> faults_;
};

}  // namespace podterm::tests::sync
