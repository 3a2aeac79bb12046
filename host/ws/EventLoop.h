#pragma once
// A single-threaded epoll reactor: fd readiness callbacks, posted tasks and timers, all run on
// the loop's own thread. The host runs a small fixed group of these (EventLoopGroup) and spreads
// WebSocket connections over them; there is never a thread per connection.
//
// Threading:
//   - start(), stop(), post(), runAfter(), cancelTimer() and inLoopThread() are thread-safe.
//   - watch(), modify() and unwatch() must be called on the loop thread (from a callback, a
//     posted task or a timer); post() a task to get there. unwatch() from inside any callback,
//     including the fd's own handler, is safe: the handler is not called again afterwards, and
//     it stays alive until it returns.
// Callbacks must not block (every connection on the loop waits for them) and must not throw.
// The loop must not be destroyed from its own thread.
// Tasks posted or timers due after stop() are dropped (destroyed unrun) when the loop is destroyed.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace podterm::host {

class EventLoop {
 public:
  using Task = std::function<void()>;
  using FdHandler = std::function<void(uint32_t epoll_events)>;

  // name: shown in logs and as the thread name (truncated to 15 characters).
  explicit EventLoop(std::string name);
  ~EventLoop();  // stop()s the loop
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Starts the loop thread. Call once.
  void start();
  // Stops the loop and joins its thread. Idempotent. From the loop thread itself it only asks
  // the loop to stop after the current callback (a thread cannot join itself).
  void stop();

  bool inLoopThread() const noexcept;
  const std::string& name() const noexcept { return name_; }

  // Runs task on the loop thread, after tasks posted before it (FIFO).
  void post(Task task);

  // Runs task once on the loop thread after delay. Returns an id for cancelTimer (never 0).
  uint64_t runAfter(std::chrono::milliseconds delay, Task task);
  // Cancels a timer that has not fired yet; a no-op for one that fired or was cancelled. A timer
  // cancelled from the loop thread is guaranteed not to run afterwards.
  void cancelTimer(uint64_t id);

  // Calls handler(events) on the loop thread whenever fd is ready for epollEvents
  // (level-triggered; EPOLLERR and EPOLLHUP are always reported). Loop thread only.
  // OWNERSHIP: the caller keeps owning fd and must unwatch() it before closing it.
  void watch(int fd, uint32_t epoll_events, FdHandler handler);
  void modify(int fd, uint32_t epoll_events);
  void unwatch(int fd);

 private:
  struct Watch {
    FdHandler handler;
    uint32_t generation;
  };
  struct TimerEntry {
    std::chrono::steady_clock::time_point deadline;
    uint64_t id;
    bool operator>(const TimerEntry& other) const {
      return deadline != other.deadline ? deadline > other.deadline : id > other.id;
    }
  };

  void run();
  void wakeup();
  void drainWakeup();
  void runTasks();
  void runDueTimers();
  int pollTimeoutMs();

  const std::string name_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<std::thread::id> loop_thread_id_{};
  std::atomic<bool> quit_{false};
  std::mutex stop_mutex_;  // serializes concurrent stop() calls

  // Loop thread only.
  std::unordered_map<int, std::shared_ptr<Watch>> watches_;
  uint32_t next_generation_ = 1;

  // Shared with other threads.
  std::mutex mutex_;
  std::vector<Task> tasks_;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<TimerEntry>> timer_heap_;
  std::unordered_map<uint64_t, Task> timers_;  // live timers; cancelled ones are erased
  uint64_t next_timer_id_ = 1;
};

// A fixed set of loops, started and stopped together; connections are assigned round robin.
class EventLoopGroup {
 public:
  EventLoopGroup(size_t n, const std::string& name);
  ~EventLoopGroup();  // stop()s all loops

  void start();
  void stop();
  // Thread-safe.
  EventLoop& next();
  size_t size() const noexcept { return loops_.size(); }
  EventLoop& at(size_t i) { return *loops_.at(i); }

 private:
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::atomic<size_t> next_{0};
};

}  // namespace podterm::host
