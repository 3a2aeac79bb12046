#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "app/ShutdownWatchdog.h"

namespace podterm::host {
namespace {

using namespace std::chrono_literals;

TEST(ShutdownWatchdog, FiresWhenTheShutdownOutlastsTheDeadline) {
  std::atomic<bool> fired{false};
  {
    ShutdownWatchdog watchdog(20ms, [&] { fired.store(true); });
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!fired.load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(1ms);
    }
  }
  EXPECT_TRUE(fired.load());
}

TEST(ShutdownWatchdog, DisarmedInTimeNeverFires) {
  std::atomic<bool> fired{false};
  const auto started = std::chrono::steady_clock::now();
  {
    ShutdownWatchdog watchdog(30s, [&] { fired.store(true); });
    watchdog.disarm();
  }  // the destructor joins at once, not after 30 s
  EXPECT_FALSE(fired.load());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

}  // namespace
}  // namespace podterm::host
