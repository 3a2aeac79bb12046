#pragma once
// IoLoop: the runtime's one I/O thread. An edge-triggered epoll set, a task queue and timers.
// Every StreamObserver/PodObserver callback and every fork of the runtime happens on this thread
// (PR_SET_PDEATHSIG and bwrap --die-with-parent fire when the forking *thread* exits, so forks
// must come from a thread that lives as long as the runtime).
//
// Threading: add/remove/post/runAfter/cancel are thread-safe. Handlers run on the loop thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "podterm/result.h"

namespace podterm::plugins::fakepod {

class IoLoop {
 public:
  // Something that owns file descriptors watched by the loop; `tag` says which one fired.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void onEvents(int tag, uint32_t events) = 0;
  };
  using Token = uint64_t;
  using Clock = std::chrono::steady_clock;

  IoLoop();
  ~IoLoop();  // stops and joins; pending tasks are dropped
  IoLoop(const IoLoop&) = delete;
  IoLoop& operator=(const IoLoop&) = delete;

  sdk::Status start();
  void stop();
  bool inLoopThread() const;

  // Watches fd edge-triggered for `events` (EPOLLET is added). The loop keeps the handler alive
  // until remove(). Returns 0 on failure (errno set).
  Token add(int fd, uint32_t events, std::shared_ptr<Handler> handler, int tag);
  // Watches fd for `events` from now on (edge-triggered); an event already due (a writable fd
  // when EPOLLOUT is added) is reported at once. False when fd is not watched (any more).
  bool modify(int fd, Token token, uint32_t events);
  // Stops watching; the fd is not closed. Events already fetched for the token are dropped.
  void remove(int fd, Token token);

  void post(std::function<void()> task);
  // Runs task on the loop and waits for it (inline when already on the loop thread).
  void runSync(const std::function<void()>& task);
  uint64_t runAfter(std::chrono::milliseconds delay, std::function<void()> task);
  void cancel(uint64_t timer_id);

 private:
  void run();
  void wake();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::thread::id thread_id_;
  bool stopping_ = false;  // guarded by mu_

  mutable std::mutex mu_;
  std::condition_variable done_cv_;
  Token next_token_ = 1;
  std::map<Token, std::pair<std::shared_ptr<Handler>, int>> handlers_;
  std::vector<std::function<void()>> tasks_;
  uint64_t next_timer_ = 1;
  std::multimap<Clock::time_point, std::pair<uint64_t, std::function<void()>>> timers_;
};

}  // namespace podterm::plugins::fakepod
