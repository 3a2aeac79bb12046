#include "ws/EventLoop.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace podterm::host {

namespace {

// The wakeup eventfd's tag in epoll_event.data; real fds are tagged (generation << 32 | fd) with
// a non-zero generation, so they never collide with it.
constexpr uint64_t kWakeTag = 0;

std::system_error sysError(const char* what) {
  return std::system_error(errno, std::generic_category(), what);
}

uint64_t tagFor(int fd, uint32_t generation) {
  return (uint64_t{generation} << 32) | static_cast<uint32_t>(fd);
}

}  // namespace

EventLoop::EventLoop(std::string name) : name_(std::move(name)) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw sysError("epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    ::close(epoll_fd_);
    throw sysError("eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    ::close(wake_fd_);
    ::close(epoll_fd_);
    throw sysError("epoll_ctl(eventfd)");
  }
}

EventLoop::~EventLoop() {
  // Destroying a loop from one of its own callbacks would pull its state out from under run().
  assert(!inLoopThread());
  stop();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void EventLoop::start() {
  std::lock_guard<std::mutex> lock(stop_mutex_);
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void EventLoop::stop() {
  quit_.store(true);
  wakeup();
  if (inLoopThread()) return;
  std::lock_guard<std::mutex> lock(stop_mutex_);
  if (thread_.joinable()) thread_.join();
}

bool EventLoop::inLoopThread() const noexcept {
  return loop_thread_id_.load(std::memory_order_relaxed) == std::this_thread::get_id();
}

void EventLoop::post(Task task) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    was_empty = tasks_.empty();
    tasks_.push_back(std::move(task));
  }
  // The loop takes the whole queue at once, so only the first task of a batch needs to wake it.
  if (was_empty) wakeup();
}

uint64_t EventLoop::runAfter(std::chrono::milliseconds delay, Task task) {
  uint64_t id;
  bool earliest;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = next_timer_id_++;
    const auto deadline = std::chrono::steady_clock::now() + delay;
    earliest = timer_heap_.empty() || deadline < timer_heap_.top().deadline;
    timer_heap_.push(TimerEntry{deadline, id});
    timers_.emplace(id, std::move(task));
  }
  // A new earliest deadline shortens the loop's current epoll_wait timeout.
  if (earliest && !inLoopThread()) wakeup();
  return id;
}

void EventLoop::cancelTimer(uint64_t id) {
  Task dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    dropped = std::move(it->second);  // destroyed outside the lock: it may own anything
    timers_.erase(it);
  }
  // The heap entry stays and is skipped when it comes due: cheaper than a removable heap.
}

void EventLoop::watch(int fd, uint32_t epoll_events, FdHandler handler) {
  assert(inLoopThread() || !thread_.joinable());
  const uint32_t generation = next_generation_++;
  if (next_generation_ == 0) next_generation_ = 1;
  epoll_event ev{};
  ev.events = epoll_events;
  ev.data.u64 = tagFor(fd, generation);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) throw sysError("epoll_ctl(ADD)");
  watches_[fd] = std::make_shared<Watch>(Watch{std::move(handler), generation});
}

void EventLoop::modify(int fd, uint32_t epoll_events) {
  assert(inLoopThread() || !thread_.joinable());
  auto it = watches_.find(fd);
  if (it == watches_.end()) return;
  epoll_event ev{};
  ev.events = epoll_events;
  ev.data.u64 = tagFor(fd, it->second->generation);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) throw sysError("epoll_ctl(MOD)");
}

void EventLoop::unwatch(int fd) {
  assert(inLoopThread() || !thread_.joinable());
  auto it = watches_.find(fd);
  if (it == watches_.end()) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  // A handler running right now holds its own reference (see run()), so erasing is safe.
  watches_.erase(it);
}

void EventLoop::wakeup() {
  const uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the loop will wake anyway.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void EventLoop::drainWakeup() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof count);
}

void EventLoop::runTasks() {
  std::vector<Task> batch;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    batch.swap(tasks_);
  }
  // Tasks posted by these tasks run in the next iteration, after fd events: no starvation.
  for (Task& task : batch) task();
}

void EventLoop::runDueTimers() {
  const auto now = std::chrono::steady_clock::now();
  for (;;) {
    Task task;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (timer_heap_.empty() || timer_heap_.top().deadline > now) return;
      const uint64_t id = timer_heap_.top().id;
      timer_heap_.pop();
      auto it = timers_.find(id);
      if (it == timers_.end()) continue;  // cancelled
      task = std::move(it->second);
      timers_.erase(it);
    }
    task();
  }
}

int EventLoop::pollTimeoutMs() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!tasks_.empty()) return 0;
  // Drop cancelled entries at the top so they do not cause useless wakeups.
  while (!timer_heap_.empty() && timers_.count(timer_heap_.top().id) == 0) timer_heap_.pop();
  if (timer_heap_.empty()) return -1;
  const auto left = timer_heap_.top().deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return 0;
  // Round up: waking a little early would only spin until the deadline.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > 3600 * 1000 ? 3600 * 1000 : static_cast<int>(ms);
}

void EventLoop::run() {
  loop_thread_id_.store(std::this_thread::get_id());
  ::pthread_setname_np(::pthread_self(), name_.substr(0, 15).c_str());
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  while (!quit_.load()) {
    const int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, pollTimeoutMs());
    if (n < 0 && errno != EINTR) throw sysError("epoll_wait");
    for (int i = 0; i < n && !quit_.load(); ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        drainWakeup();
        continue;
      }
      const int fd = static_cast<int>(tag & 0xFFFFFFFFu);
      auto it = watches_.find(fd);
      // Skip events for an fd unwatched earlier in this batch, or for a new watch that reused
      // the fd number (different generation).
      if (it == watches_.end() || tagFor(fd, it->second->generation) != tag) continue;
      std::shared_ptr<Watch> keep = it->second;
      keep->handler(events[i].events);
    }
    runDueTimers();
    runTasks();
  }
  loop_thread_id_.store(std::thread::id());
}

EventLoopGroup::EventLoopGroup(size_t n, const std::string& name) {
  if (n == 0) throw std::invalid_argument("EventLoopGroup needs at least one loop");
  loops_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    loops_.push_back(std::make_unique<EventLoop>(name + "-" + std::to_string(i)));
  }
}

EventLoopGroup::~EventLoopGroup() {
  stop();
}

void EventLoopGroup::start() {
  for (auto& loop : loops_) loop->start();
}

void EventLoopGroup::stop() {
  for (auto& loop : loops_) loop->stop();
}

EventLoop& EventLoopGroup::next() {
  return *loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
}

}  // namespace podterm::host
