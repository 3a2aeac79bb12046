#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "WaitFor.h"
#include "ws/EventLoop.h"

namespace podterm::host {
namespace {

using namespace std::chrono_literals;
using testing::Signal;

// Runs fn on the loop thread and waits for it.
void onLoop(EventLoop& loop, std::function<void()> fn) {
  Signal done;
  loop.post([&] {
    fn();
    done.notify();
  });
  ASSERT_TRUE(done.waitFor());
}

TEST(EventLoopTest, PostedTasksRunInOrderOnTheLoopThread) {
  EventLoop loop("test-loop");
  loop.start();
  std::mutex m;
  std::vector<int> order;
  std::atomic<bool> all_in_loop{true};
  Signal done;
  for (int i = 0; i < 1000; ++i) {
    loop.post([&, i] {
      if (!loop.inLoopThread()) all_in_loop = false;
      std::lock_guard<std::mutex> lock(m);
      order.push_back(i);
      if (i == 999) done.notify();
    });
  }
  ASSERT_TRUE(done.waitFor());
  EXPECT_TRUE(all_in_loop);
  EXPECT_FALSE(loop.inLoopThread());
  std::lock_guard<std::mutex> lock(m);
  ASSERT_EQ(order.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(order[i], i);
}

TEST(EventLoopTest, PostFromManyThreadsLosesNothing) {
  EventLoop loop("test-loop");
  loop.start();
  std::atomic<int> ran{0};
  Signal done;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        loop.post([&] {
          if (++ran == 2000) done.notify();
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(done.waitFor());
  EXPECT_EQ(ran.load(), 2000);
}

TEST(EventLoopTest, TimersFireInDeadlineOrderAndCancelWorks) {
  EventLoop loop("test-loop");
  loop.start();
  std::mutex m;
  std::vector<int> fired;
  Signal last;
  auto record = [&](int v) {
    return [&, v] {
      std::lock_guard<std::mutex> lock(m);
      fired.push_back(v);
      if (v == 40) last.notify();
    };
  };
  // Registered out of order; 25 is cancelled from another thread, 35 from the loop thread.
  loop.runAfter(30ms, record(30));
  loop.runAfter(10ms, record(10));
  loop.runAfter(40ms, record(40));
  const uint64_t c1 = loop.runAfter(25ms, record(25));
  loop.runAfter(20ms, record(20));
  const uint64_t c2 = loop.runAfter(35ms, record(35));
  loop.cancelTimer(c1);
  loop.post([&] { loop.cancelTimer(c2); });
  ASSERT_TRUE(last.waitFor());
  std::lock_guard<std::mutex> lock(m);
  EXPECT_EQ(fired, (std::vector<int>{10, 20, 30, 40}));
}

TEST(EventLoopTest, TimerMeetsItsDeadlineButNotEarlier) {
  EventLoop loop("test-loop");
  loop.start();
  const auto start = std::chrono::steady_clock::now();
  std::atomic<int64_t> elapsed_ms{-1};
  Signal fired;
  loop.runAfter(50ms, [&] {
    elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count();
    fired.notify();
  });
  ASSERT_TRUE(fired.waitFor());
  EXPECT_GE(elapsed_ms.load(), 50);
}

TEST(EventLoopTest, CancelAfterFiringIsANoOp) {
  EventLoop loop("test-loop");
  loop.start();
  Signal fired;
  const uint64_t id = loop.runAfter(0ms, [&] { fired.notify(); });
  ASSERT_TRUE(fired.waitFor());
  loop.cancelTimer(id);
  loop.cancelTimer(987654);
  EXPECT_EQ(fired.count(), 1);
}

TEST(EventLoopTest, WatchAndUnwatchASocketPair) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  EventLoop loop("test-loop");
  loop.start();
  std::atomic<int> reads{0};
  Signal readable;
  onLoop(loop, [&] {
    loop.watch(sv[0], EPOLLIN, [&](uint32_t events) {
      EXPECT_TRUE(events & EPOLLIN);
      char buf[16];
      while (::read(sv[0], buf, sizeof buf) > 0) {
      }
      ++reads;
      readable.notify();
    });
  });
  ASSERT_EQ(::write(sv[1], "x", 1), 1);
  ASSERT_TRUE(readable.waitFor(1));
  ASSERT_EQ(::write(sv[1], "y", 1), 1);
  ASSERT_TRUE(readable.waitFor(2));

  // EPOLLOUT via modify: a connected socket is writable at once.
  Signal writable;
  onLoop(loop, [&] {
    loop.unwatch(sv[0]);
    loop.watch(sv[0], EPOLLIN, [&](uint32_t events) {
      if (events & EPOLLOUT) {
        loop.modify(sv[0], EPOLLIN);
        writable.notify();
      }
    });
    loop.modify(sv[0], EPOLLIN | EPOLLOUT);
  });
  ASSERT_TRUE(writable.waitFor());

  onLoop(loop, [&] { loop.unwatch(sv[0]); });
  const int before = reads.load();
  ASSERT_EQ(::write(sv[1], "z", 1), 1);
  // A task posted after the write: a unix socket's write is in the peer's queue when write()
  // returns, so epoll reports the fd no later than the wakeup, and fd events run before tasks.
  Signal marker;
  loop.post([&] { marker.notify(); });
  ASSERT_TRUE(marker.waitFor());
  EXPECT_EQ(reads.load(), before);
  ::close(sv[0]);
  ::close(sv[1]);
}

TEST(EventLoopTest, UnwatchFromInsideTheHandlerIsSafe) {
  int a[2];
  int b[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
  EventLoop loop("test-loop");
  loop.start();
  std::atomic<int> calls{0};
  Signal called;
  // Both fds become ready in the same epoll batch; whichever handler runs first unwatches both,
  // so the other must not run (its handler is already destroyed).
  onLoop(loop, [&] {
    auto handler = [&](uint32_t) {
      ++calls;
      loop.unwatch(a[0]);
      loop.unwatch(b[0]);
      called.notify();
    };
    loop.watch(a[0], EPOLLIN, handler);
    loop.watch(b[0], EPOLLIN, handler);
    ASSERT_EQ(::write(a[1], "x", 1), 1);
    ASSERT_EQ(::write(b[1], "x", 1), 1);
  });
  ASSERT_TRUE(called.waitFor());
  Signal marker;
  loop.post([&] { marker.notify(); });
  ASSERT_TRUE(marker.waitFor());
  EXPECT_EQ(calls.load(), 1);
  for (int fd : {a[0], a[1], b[0], b[1]}) ::close(fd);
}

TEST(EventLoopTest, StopIsIdempotentAndWorksFromAnotherThread) {
  EventLoop loop("test-loop");
  loop.start();
  std::thread stopper([&] { loop.stop(); });
  stopper.join();
  loop.stop();
  // Stop requested from inside a callback, joined later by the destructor.
  EventLoop loop2("test-loop2");
  loop2.start();
  Signal ran;
  loop2.post([&] {
    loop2.stop();
    ran.notify();
  });
  ASSERT_TRUE(ran.waitFor());
}

TEST(EventLoopGroupTest, RoundRobinOverFixedThreads) {
  EventLoopGroup group(3, "grp");
  group.start();
  ASSERT_EQ(group.size(), 3u);
  EXPECT_EQ(&group.next(), &group.at(0));
  EXPECT_EQ(&group.next(), &group.at(1));
  EXPECT_EQ(&group.next(), &group.at(2));
  EXPECT_EQ(&group.next(), &group.at(0));
  std::mutex m;
  std::vector<std::thread::id> ids;
  Signal done;
  for (size_t i = 0; i < group.size(); ++i) {
    group.at(i).post([&] {
      std::lock_guard<std::mutex> lock(m);
      ids.push_back(std::this_thread::get_id());
      done.notify();
    });
  }
  ASSERT_TRUE(done.waitFor(3));
  std::lock_guard<std::mutex> lock(m);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[1], ids[2]);
  EXPECT_NE(ids[0], ids[2]);
  group.stop();
}

}  // namespace
}  // namespace podterm::host
