#pragma once
// Runs blocking work off the event loops (WorkerPool in production, a manual queue in tests).

#include <functional>

namespace podterm::host {

class Executor {
 public:
  virtual ~Executor() = default;
  // Returns false when the executor no longer accepts work (shutting down). Thread-safe.
  virtual bool execute(std::function<void()> fn) = 0;
};

}  // namespace podterm::host
