#include "plugin/GuardedPodRuntime.h"

#include <utility>

namespace podterm::host {

using guard_detail::reportThrown;
using guard_detail::thrownStatus;

GuardedPodRuntime::GuardedPodRuntime(std::shared_ptr<sdk::PodRuntime> inner, std::string plugin,
                                     GuardReporter report)
    : inner_(std::move(inner)), plugin_(std::move(plugin)), report_(std::move(report)) {}

sdk::Status GuardedPodRuntime::ensurePod(const sdk::PodSpec& spec, sdk::PodObserver* observer) {
  try {
    return inner_->ensurePod(spec, observer);
  } catch (...) {
    return thrownStatus(plugin_);
  }
}

void GuardedPodRuntime::stopObserving(const std::string& session_id) {
  try {
    inner_->stopObserving(session_id);
  } catch (...) {
    reportThrown(report_, plugin_);
  }
}

sdk::Result<sdk::PodStatus> GuardedPodRuntime::podStatus(const std::string& session_id) {
  try {
    return inner_->podStatus(session_id);
  } catch (...) {
    return thrownStatus(plugin_);
  }
}

sdk::Result<sdk::ExecStreamPtr> GuardedPodRuntime::openStream(const std::string& session_id,
                                                              const sdk::StreamSpec& spec,
                                                              sdk::StreamObserver* observer) {
  try {
    auto stream = inner_->openStream(session_id, spec, observer);
    if (!stream) return stream;
    if (!stream.value()) {
      return sdk::Status(sdk::ErrorCode::Internal, "plugin " + plugin_ + " returned no stream");
    }
    return sdk::ExecStreamPtr(
        std::make_unique<GuardedExecStream>(std::move(stream).value(), inner_, plugin_, report_));
  } catch (...) {
    return thrownStatus(plugin_);
  }
}

sdk::Status GuardedPodRuntime::deletePod(const std::string& session_id) {
  try {
    return inner_->deletePod(session_id);
  } catch (...) {
    return thrownStatus(plugin_);
  }
}

sdk::Result<std::vector<sdk::PodInfo>> GuardedPodRuntime::listPods() {
  try {
    return inner_->listPods();
  } catch (...) {
    return thrownStatus(plugin_);
  }
}

sdk::RuntimeCapabilities GuardedPodRuntime::capabilities() const {
  try {
    return inner_->capabilities();
  } catch (...) {
    reportThrown(report_, plugin_);
    return {};
  }
}

GuardedExecStream::GuardedExecStream(sdk::ExecStreamPtr inner, std::shared_ptr<const void> owner,
                                     std::string plugin, GuardReporter report)
    : owner_(std::move(owner)),
      inner_(std::move(inner)),
      plugin_(std::move(plugin)),
      report_(std::move(report)) {}

sdk::Status GuardedExecStream::write(const char* data, size_t size) {
  try {
    return inner_->write(data, size);
  } catch (...) {
    return thrownStatus(plugin_);
  }
}

sdk::Status GuardedExecStream::closeStdin() {
  try {
    return inner_->closeStdin();
  } catch (...) {
    return thrownStatus(plugin_);
  }
}

sdk::Status GuardedExecStream::resize(uint16_t cols, uint16_t rows) {
  try {
    return inner_->resize(cols, rows);
  } catch (...) {
    return thrownStatus(plugin_);
  }
}

void GuardedExecStream::pauseOutput() {
  try {
    inner_->pauseOutput();
  } catch (...) {
    reportThrown(report_, plugin_);
  }
}

void GuardedExecStream::resumeOutput() {
  try {
    inner_->resumeOutput();
  } catch (...) {
    reportThrown(report_, plugin_);
  }
}

void GuardedExecStream::close() {
  try {
    inner_->close();
  } catch (...) {
    reportThrown(report_, plugin_);
  }
}

size_t GuardedExecStream::pendingInput() const {
  try {
    return inner_->pendingInput();
  } catch (...) {
    reportThrown(report_, plugin_);
    return 0;
  }
}

}  // namespace podterm::host
