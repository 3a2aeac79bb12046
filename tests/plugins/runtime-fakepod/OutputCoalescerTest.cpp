// When fakepod hands output to the host: at once for typed echo and prompts, in large pieces
// during a flood, and nothing lost or reordered in between.

#include <gtest/gtest.h>

#include <string>

#include "output_coalescer.h"

namespace podterm::plugins::fakepod {
namespace {

using Clock = OutputCoalescer::Clock;
using namespace std::chrono_literals;

std::string large(char c) {
  return std::string(OutputCoalescer::kLargeRead * 2, c);
}

TEST(OutputCoalescerTest, SmallReadsGoAtOnce) {
  OutputCoalescer c;
  const auto t = Clock::now();
  EXPECT_EQ(c.offer("x", t), "x");
  EXPECT_EQ(c.offer("\b \b", t + 10us), "\b \b");
  EXPECT_FALSE(c.holding());
  EXPECT_TRUE(c.drain().empty());
}

TEST(OutputCoalescerTest, LargeReadsFarApartGoAtOnce) {
  OutputCoalescer c;
  const auto t = Clock::now();
  EXPECT_EQ(c.offer(large('a'), t), large('a'));
  EXPECT_EQ(c.offer(large('b'), t + OutputCoalescer::kFloodGap + 1us), large('b'));
  EXPECT_FALSE(c.holding());
}

TEST(OutputCoalescerTest, AFloodIsHeldAndDrainedInOrder) {
  OutputCoalescer c;
  const auto t = Clock::now();
  EXPECT_EQ(c.offer(large('a'), t), large('a'));  // the first read of a burst is not delayed
  EXPECT_TRUE(c.offer(large('b'), t + 20us).empty());
  EXPECT_TRUE(c.holding());
  // A short read while holding joins the held output: nothing overtakes it.
  EXPECT_TRUE(c.offer("$ ", t + 30us).empty());
  EXPECT_EQ(c.drain(), large('b') + "$ ");
  EXPECT_FALSE(c.holding());
  EXPECT_TRUE(c.drain().empty());  // handed over once
}

TEST(OutputCoalescerTest, AFloodIsHandedOverInLargePieces) {
  OutputCoalescer c;
  auto t = Clock::now();
  std::string expected, got;
  int hand_overs = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string read = large(static_cast<char>('a' + i % 26));
    expected += read;
    t += 20us;
    const std::string_view out = c.offer(read, t);
    if (!out.empty()) {
      got += out;
      ++hand_overs;
      if (i > 0) {
        EXPECT_GE(out.size(), OutputCoalescer::kHandOverAt);
      }
    }
  }
  got += c.drain();
  EXPECT_EQ(got, expected);
  // 400 KiB in 2 KiB reads: the first read, then 48 KiB pieces, not 200 hand-overs.
  EXPECT_LE(hand_overs, 1 + static_cast<int>(expected.size() / OutputCoalescer::kHandOverAt));
}

TEST(OutputCoalescerTest, AfterAFloodTypedEchoGoesAtOnceAgain) {
  OutputCoalescer c;
  const auto t = Clock::now();
  c.offer(large('a'), t);
  EXPECT_TRUE(c.offer(large('b'), t + 20us).empty());
  EXPECT_EQ(c.drain(), large('b'));
  c.release();
  EXPECT_EQ(c.offer("x", t + 5ms), "x");
  EXPECT_FALSE(c.holding());
}

}  // namespace
}  // namespace podterm::plugins::fakepod
