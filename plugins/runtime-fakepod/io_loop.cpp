#include "io_loop.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>

namespace podterm::plugins::fakepod {

IoLoop::IoLoop() = default;

IoLoop::~IoLoop() {
  stop();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

sdk::Status IoLoop::start() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    return {sdk::ErrorCode::Internal,
            std::string("fakepod: cannot create the I/O loop: ") + std::strerror(errno)};
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    return {sdk::ErrorCode::Internal, std::string("fakepod: epoll_ctl: ") + std::strerror(errno)};
  }
  std::promise<void> started;
  thread_ = std::thread([this, &started] {
    thread_id_ = std::this_thread::get_id();
    // Named for top, perf and ps -L (and the tests that count its wake-ups).
    ::pthread_setname_np(::pthread_self(), "fakepod-io");
    started.set_value();
    run();
  });
  started.get_future().wait();
  return {};
}

void IoLoop::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  handlers_.clear();
  tasks_.clear();
  timers_.clear();
}

bool IoLoop::inLoopThread() const {
  return std::this_thread::get_id() == thread_id_;
}

void IoLoop::wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

IoLoop::Token IoLoop::add(int fd, uint32_t events, std::shared_ptr<Handler> handler, int tag) {
  std::lock_guard<std::mutex> lock(mu_);
  Token token = next_token_++;
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.u64 = token;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return 0;
  handlers_[token] = {std::move(handler), tag};
  return token;
}

bool IoLoop::modify(int fd, Token token, uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.u64 = token;
  return ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void IoLoop::remove(int fd, Token token) {
  std::shared_ptr<Handler> keep;  // released outside the lock: its destructor may call us
  std::lock_guard<std::mutex> lock(mu_);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  auto it = handlers_.find(token);
  if (it != handlers_.end()) {
    keep = std::move(it->second.first);
    handlers_.erase(it);
  }
}

void IoLoop::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  wake();
}

void IoLoop::runSync(const std::function<void()>& task) {
  if (inLoopThread()) {
    task();
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  post([&task, done] {
    task();
    done->set_value();
  });
  future.wait();
}

uint64_t IoLoop::runAfter(std::chrono::milliseconds delay, std::function<void()> task) {
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_timer_++;
    timers_.emplace(Clock::now() + delay, std::make_pair(id, std::move(task)));
  }
  wake();
  return id;
}

void IoLoop::cancel(uint64_t timer_id) {
  std::function<void()> drop;  // destroyed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (it->second.first == timer_id) {
      drop = std::move(it->second.second);
      timers_.erase(it);
      return;
    }
  }
}

void IoLoop::run() {
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
      if (events[i].data.u64 == 0) {
        uint64_t value;
        [[maybe_unused]] auto r = ::read(wake_fd_, &value, sizeof value);
        continue;
      }
      std::shared_ptr<Handler> handler;
      int tag = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = handlers_.find(events[i].data.u64);
        if (it == handlers_.end()) continue;  // removed earlier in this batch
        handler = it->second.first;
        tag = it->second.second;
      }
      handler->onEvents(tag, events[i].events);
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

}  // namespace podterm::plugins::fakepod
