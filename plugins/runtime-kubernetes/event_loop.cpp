#include "event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>

namespace podterm::plugins::kubernetes {

EventLoop::~EventLoop() {
  stop();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

sdk::Status EventLoop::start() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    return {sdk::ErrorCode::Internal,
            std::string("kubernetes: cannot create the I/O loop: ") + std::strerror(errno)};
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  std::promise<void> started;
  thread_ = std::thread([this, &started] {
    thread_id_ = std::this_thread::get_id();
    started.set_value();
    run();
  });
  started.get_future().wait();
  return {};
}

void EventLoop::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake();
  if (thread_.joinable()) thread_.join();
  std::map<int, std::shared_ptr<Handler>> handlers;
  std::vector<std::function<void()>> tasks;
  decltype(timers_) timers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    handlers.swap(handlers_);
    tasks.swap(tasks_);
    timers.swap(timers_);
  }
}

void EventLoop::wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

bool EventLoop::add(int fd, uint32_t events, std::shared_ptr<Handler> handler) {
  std::lock_guard<std::mutex> lock(mu_);
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  handlers_[fd] = std::move(handler);
  return true;
}

void EventLoop::modify(int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
}

void EventLoop::remove(int fd) {
  std::shared_ptr<Handler> keep;  // released outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  auto it = handlers_.find(fd);
  if (it != handlers_.end()) {
    keep = std::move(it->second);
    handlers_.erase(it);
  }
}

void EventLoop::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  wake();
}

uint64_t EventLoop::runAfter(std::chrono::milliseconds delay, std::function<void()> task) {
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_timer_++;
    timers_.emplace(Clock::now() + delay, std::make_pair(id, std::move(task)));
  }
  wake();
  return id;
}

void EventLoop::cancel(uint64_t timer_id) {
  std::function<void()> drop;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (it->second.first == timer_id) {
      drop = std::move(it->second.second);
      timers_.erase(it);
      return;
    }
  }
}

void EventLoop::run() {
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  for (;;) {
    int timeout_ms = -1;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      if (!tasks_.empty()) {
        timeout_ms = 0;
      } else if (!timers_.empty()) {
        auto wait =
            std::chrono::ceil<std::chrono::milliseconds>(timers_.begin()->first - Clock::now());
        timeout_ms = wait.count() < 0 ? 0 : static_cast<int>(wait.count());
      }
    }
    int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t value;
        [[maybe_unused]] auto r = ::read(wake_fd_, &value, sizeof value);
        continue;
      }
      std::shared_ptr<Handler> handler;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = handlers_.find(fd);
        if (it == handlers_.end()) continue;
        handler = it->second;
      }
      handler->onEvents(events[i].events);
    }
    std::vector<std::function<void()>> due;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      due.swap(tasks_);
      auto now = Clock::now();
      while (!timers_.empty() && timers_.begin()->first <= now) {
        due.push_back(std::move(timers_.begin()->second.second));
        timers_.erase(timers_.begin());
      }
    }
    for (auto& task : due) task();
  }
}

}  // namespace podterm::plugins::kubernetes
