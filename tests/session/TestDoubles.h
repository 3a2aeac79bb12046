#pragma once
// Deterministic stand-ins for the session's environment: virtual time, a queue for blocking
// work that the test drains, and a client that records what it was sent.

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/Executor.h"
#include "common/Scheduler.h"
#include "session/TerminalClient.h"

namespace podterm::host::testing {

class ManualScheduler : public Scheduler {
 public:
  void post(std::function<void()> fn) override {
    runAfter(std::chrono::milliseconds(0), std::move(fn));
  }
  TimerId runAfter(std::chrono::milliseconds delay, std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(mutex_);
    TimerId id = ++next_id_;
    timers_[id] = {now_ + delay, std::move(fn)};
    return id;
  }
  void cancel(TimerId id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    timers_.erase(id);
  }
  // Moves virtual time forward, firing due timers in time order.
  void advance(std::chrono::milliseconds by) {
    auto target = now_ + by;
    for (;;) {
      std::function<void()> fn;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        auto due = std::min_element(
            timers_.begin(), timers_.end(),
            [](const auto& a, const auto& b) { return a.second.at < b.second.at; });
        if (due == timers_.end() || due->second.at > target) break;
        now_ = due->second.at;
        fn = std::move(due->second.fn);
        timers_.erase(due);
      }
      fn();
    }
    now_ = target;
  }
  // Virtual time: how far advance() has moved.
  std::chrono::milliseconds now() const { return now_; }
  size_t pendingTimers() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return timers_.size();
  }

 private:
  struct Timer {
    std::chrono::milliseconds at;
    std::function<void()> fn;
  };
  mutable std::mutex mutex_;
  std::chrono::milliseconds now_{0};
  TimerId next_id_ = 0;
  std::map<TimerId, Timer> timers_;
};

class ManualExecutor : public Executor {
 public:
  bool execute(std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(fn));
    return true;
  }
  // Runs queued work (and work it queues) until none is left; returns how many ran.
  size_t drain() {
    size_t ran = 0;
    for (;;) {
      std::function<void()> fn;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (queue_.empty()) return ran;
        fn = std::move(queue_.front());
        queue_.erase(queue_.begin());
      }
      fn();
      ++ran;
    }
  }

 private:
  std::mutex mutex_;
  std::vector<std::function<void()>> queue_;
};

class RecordingClient : public TerminalClient {
 public:
  explicit RecordingClient(bool events = false) : events_(events) {}
  bool sendText(std::string_view utf8) override {
    std::lock_guard<std::mutex> lock(mutex_);
    text_.append(utf8);
    return !closed_;
  }
  void sendEvent(std::string_view json) override {
    std::lock_guard<std::mutex> lock(mutex_);
    events_sent_.emplace_back(json);
  }
  bool wantsEvents() const override { return events_; }
  bool congested() const override { return congested_; }
  void close(uint16_t code, std::string_view reason) override {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    close_code_ = code;
    close_reason_ = std::string(reason);
  }
  std::string describe() const override { return "recording-client"; }

  std::string text() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }
  std::vector<std::string> events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_sent_;
  }
  bool closed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return closed_;
  }
  uint16_t closeCode() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return close_code_;
  }
  std::string closeReason() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return close_reason_;
  }
  void setCongested(bool congested) { congested_ = congested; }

 private:
  const bool events_;
  mutable std::mutex mutex_;
  std::string text_;
  std::vector<std::string> events_sent_;
  bool closed_ = false;
  uint16_t close_code_ = 0;
  std::string close_reason_;
  std::atomic<bool> congested_{false};
};

}  // namespace podterm::host::testing
