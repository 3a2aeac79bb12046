#include "FaultRuntime.h"

#include <algorithm>

namespace podterm::tests::sync {

namespace {

// Passes output on until the cut, then swallows the rest and turns the exit into a stream error.
class CuttingObserver : public sdk::StreamObserver {
 public:
  CuttingObserver(sdk::StreamObserver* inner, long long cut) : inner_(inner), left_(cut) {}
  void onStdout(const char* data, size_t size) override {
    if (left_ < 0) return inner_->onStdout(data, size);
    size_t n = std::min<size_t>(size, static_cast<size_t>(left_));
    left_ -= static_cast<long long>(n);
    if (n > 0) inner_->onStdout(data, n);
  }
  void onStderr(const char* data, size_t size) override { inner_->onStderr(data, size); }
  void onExit(const sdk::StreamExit& exit) override {
    if (left_ < 0) return inner_->onExit(exit);
    sdk::StreamExit lost = exit;
    lost.error = {sdk::ErrorCode::Unavailable, "fault injection: connection lost"};
    inner_->onExit(lost);
  }

 private:
  sdk::StreamObserver* inner_;
  long long left_;
};

class WrappedStream : public sdk::ExecStream {
 public:
  WrappedStream(std::unique_ptr<CuttingObserver> observer) : observer_(std::move(observer)) {}
  ~WrappedStream() override { inner_.reset(); }  // no callback into observer_ after this
  void setInner(sdk::ExecStreamPtr inner) { inner_ = std::move(inner); }
  sdk::Status write(const char* data, size_t size) override { return inner_->write(data, size); }
  sdk::Status closeStdin() override { return inner_->closeStdin(); }
  sdk::Status resize(uint16_t cols, uint16_t rows) override { return inner_->resize(cols, rows); }
  void pauseOutput() override { inner_->pauseOutput(); }
  void resumeOutput() override { inner_->resumeOutput(); }
  void close() override { inner_->close(); }
  size_t pendingInput() const override { return inner_->pendingInput(); }

 private:
  std::unique_ptr<CuttingObserver> observer_;
  sdk::ExecStreamPtr inner_;
};

}  // namespace

void FaultRuntime::inject(ExecFault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(std::move(fault));
}

void FaultRuntime::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
}

sdk::Result<sdk::ExecStreamPtr> FaultRuntime::openStream(const std::string& session_id,
                                                         const sdk::StreamSpec& spec,
                                                         sdk::StreamObserver* observer) {
  ExecFault fault;
  bool found = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      if (spec.argv.empty() || spec.argv[0] != it->program) continue;
      if (!it->with_arg.empty() &&
          std::find(spec.argv.begin(), spec.argv.end(), it->with_arg) == spec.argv.end()) {
        continue;
      }
      fault = *it;
      found = true;
      if (it->once) faults_.erase(it);
      break;
    }
  }
  if (!found) return inner_.openStream(session_id, spec, observer);
  sdk::StreamSpec changed = spec;
  if (!fault.replace_argv.empty()) changed.argv = fault.replace_argv;
  auto cutting = std::make_unique<CuttingObserver>(observer, fault.cut_stdout_after);
  CuttingObserver* raw = cutting.get();
  auto wrapped = std::make_unique<WrappedStream>(std::move(cutting));
  auto inner = inner_.openStream(session_id, changed, raw);
  if (!inner) return inner.status();
  wrapped->setInner(std::move(inner).value());
  return sdk::ExecStreamPtr(std::move(wrapped));
}

}  // namespace podterm::tests::sync
