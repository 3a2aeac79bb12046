#pragma once
// A fixed set of threads for blocking work (backend calls, database, tar), so the event loops
// never block. Threads do not grow with load: work queues instead.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/Executor.h"

namespace podterm::host {

class WorkerPool : public Executor {
 public:
  WorkerPool(size_t threads, std::string name);
  ~WorkerPool() override;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues fn; returns false once the pool is stopping. Thread-safe.
  bool execute(std::function<void()> fn) override;
  // Runs what is queued, then joins the threads. Idempotent.
  void stop();
  size_t threadCount() const { return threads_.size(); }

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace podterm::host
