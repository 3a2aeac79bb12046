#include <gtest/gtest.h>

#include <random>
#include <string>

#include "term/OutputLog.h"

namespace podterm::host {
namespace {

using Status = OutputLog::Read::Status;

TEST(OutputLog, EmptyLogAnswersOnlyOffsetZero) {
  OutputLog log(16);
  EXPECT_EQ(log.end(), 0u);
  EXPECT_EQ(log.begin(), 0u);
  auto r = log.readFrom(0);
  EXPECT_EQ(r.status, Status::kOk);
  EXPECT_EQ(r.bytes, "");
  EXPECT_EQ(log.readFrom(1).status, Status::kInFuture);
}

TEST(OutputLog, ReadsExactBytesFromAnyKeptOffset) {
  OutputLog log(64);
  log.append("hello ");
  log.append("world");
  EXPECT_EQ(log.end(), 11u);
  EXPECT_EQ(log.readFrom(0).bytes, "hello world");
  EXPECT_EQ(log.readFrom(6).bytes, "world");
  EXPECT_EQ(log.readFrom(11).bytes, "");
  EXPECT_EQ(log.readFrom(11).status, Status::kOk);
  EXPECT_EQ(log.readFrom(12).status, Status::kInFuture);
}

TEST(OutputLog, OffsetsSurviveWraparound) {
  OutputLog log(10);
  log.append("0123456789");  // full
  log.append("abcd");        // wraps: keeps 456789abcd
  EXPECT_EQ(log.end(), 14u);
  EXPECT_EQ(log.begin(), 4u);
  EXPECT_EQ(log.size(), 10u);
  EXPECT_EQ(log.readFrom(4).bytes, "456789abcd");
  EXPECT_EQ(log.readFrom(9).bytes, "9abcd");
  EXPECT_EQ(log.readFrom(12).bytes, "cd");
  auto old = log.readFrom(3);
  EXPECT_EQ(old.status, Status::kTooOld);
  EXPECT_TRUE(old.bytes.empty());
  EXPECT_EQ(old.begin, 4u);
  EXPECT_EQ(old.end, 14u);
}

TEST(OutputLog, AppendLargerThanCapacityKeepsItsTail) {
  OutputLog log(4);
  log.append("ab");
  log.append("0123456789");
  EXPECT_EQ(log.end(), 12u);
  EXPECT_EQ(log.begin(), 8u);
  EXPECT_EQ(log.readFrom(8).bytes, "6789");
  EXPECT_EQ(log.readFrom(7).status, Status::kTooOld);
}

TEST(OutputLog, ZeroCapacityCountsOffsetsButKeepsNothing) {
  OutputLog log(0);
  log.append("abc");
  EXPECT_EQ(log.end(), 3u);
  EXPECT_EQ(log.readFrom(3).status, Status::kOk);
  EXPECT_EQ(log.readFrom(2).status, Status::kTooOld);
  EXPECT_EQ(log.readFrom(4).status, Status::kInFuture);
}

TEST(OutputLog, OffsetsBeyond32Bits) {
  OutputLog log(8);
  const std::string chunk(1 << 20, 'x');
  for (int i = 0; i < 4200; ++i) log.append(chunk);  // ~4.4 GB of offsets
  log.append("tail");
  const uint64_t end = uint64_t{4200} * (1 << 20) + 4;
  EXPECT_EQ(log.end(), end);
  EXPECT_EQ(log.readFrom(end - 4).bytes, "tail");
  EXPECT_EQ(log.readFrom(end - 8).bytes, "xxxxtail");
  EXPECT_EQ(log.readFrom(end - 9).status, Status::kTooOld);
}

// Against a model that keeps everything: random appends, every offset checked.
TEST(OutputLog, MatchesAnUnboundedModel) {
  std::mt19937 rng(42);
  OutputLog log(37);
  std::string all;
  for (int round = 0; round < 300; ++round) {
    std::string chunk(rng() % 50, '\0');
    for (char& c : chunk) c = static_cast<char>('a' + rng() % 26);
    log.append(chunk);
    all += chunk;
    ASSERT_EQ(log.end(), all.size());
    ASSERT_LE(log.size(), log.capacity());
    for (uint64_t since = 0; since <= all.size() + 1; ++since) {
      auto r = log.readFrom(since);
      if (since > all.size()) {
        ASSERT_EQ(r.status, Status::kInFuture);
      } else if (all.size() - since > 37) {
        ASSERT_EQ(r.status, Status::kTooOld) << since;
      } else {
        ASSERT_EQ(r.status, Status::kOk) << since;
        ASSERT_EQ(r.bytes, all.substr(since)) << since;
      }
    }
  }
}

TEST(OutputLogTest, MemoryGrowsWithTheOutputUpToTheCapacity) {
  OutputLog log(1 << 20);
  EXPECT_EQ(log.memoryBytes(), 0u);
  log.append("prompt$ ");
  EXPECT_LE(log.memoryBytes(), 4096u);
  std::string all = "prompt$ ";
  for (int i = 0; log.end() < 3u * (1 << 20); ++i) {
    std::string chunk = std::to_string(i) + std::string(static_cast<size_t>(i % 5000), 'x');
    log.append(chunk);
    all += chunk;
    if (i % 97 == 0) {
      const uint64_t since = log.end() - std::min<uint64_t>(log.size(), 10000);
      ASSERT_EQ(log.readFrom(since).bytes, all.substr(since)) << i;
    }
  }
  EXPECT_EQ(log.memoryBytes(), size_t{1} << 20);
  EXPECT_EQ(log.readFrom(log.begin()).bytes, all.substr(all.size() - (1 << 20)));
}

}  // namespace
}  // namespace podterm::host
