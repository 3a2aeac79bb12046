#pragma once
// EventLoop: the runtime's one I/O thread for exec streams and observer callbacks. A
// level-triggered epoll set (interest changes as a stream's TLS state needs reads or writes), a
// task queue and timers.
//
// Threading: every public method is thread-safe; handlers, tasks and timers run on the loop thread.

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "podterm/result.h"

namespace podterm::plugins::kubernetes {

class EventLoop {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void onEvents(uint32_t events) = 0;
  };
  using Clock = std::chrono::steady_clock;

  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  sdk::Status start();
  // Joins the thread; pending tasks and timers are dropped, handlers released.
  void stop();
  bool inLoopThread() const { return std::this_thread::get_id() == thread_id_; }

  // The loop keeps handler alive until remove(fd).
  bool add(int fd, uint32_t events, std::shared_ptr<Handler> handler);
  void modify(int fd, uint32_t events);
  void remove(int fd);

  void post(std::function<void()> task);
  uint64_t runAfter(std::chrono::milliseconds delay, std::function<void()> task);
  void cancel(uint64_t timer_id);

 private:
  void run();
  void wake();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::thread::id thread_id_;
  std::mutex mu_;
  bool stopping_ = false;
  std::map<int, std::shared_ptr<Handler>> handlers_;
  std::vector<std::function<void()>> tasks_;
  uint64_t next_timer_ = 1;
  std::multimap<Clock::time_point, std::pair<uint64_t, std::function<void()>>> timers_;
};

}  // namespace podterm::plugins::kubernetes
