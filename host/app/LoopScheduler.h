#pragma once
// Scheduler on an EventLoop: session timers run on a loop thread.

#include "common/Scheduler.h"
#include "ws/EventLoop.h"

namespace podterm::host {

class LoopScheduler : public Scheduler {
 public:
  explicit LoopScheduler(EventLoop& loop) : loop_(loop) {}
  void post(std::function<void()> fn) override { loop_.post(std::move(fn)); }
  TimerId runAfter(std::chrono::milliseconds delay, std::function<void()> fn) override {
    return loop_.runAfter(delay, std::move(fn));
  }
  void cancel(TimerId id) override { loop_.cancelTimer(id); }

 private:
  EventLoop& loop_;
};

}  // namespace podterm::host
