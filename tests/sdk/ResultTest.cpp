#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include "podterm/result.h"

namespace podterm::sdk {
namespace {

TEST(Status, DefaultIsOk) {
  Status status;
  EXPECT_TRUE(status.isOk());
  EXPECT_TRUE(static_cast<bool>(status));
  EXPECT_EQ(status.code(), ErrorCode::Ok);
  EXPECT_EQ(status.message(), "");
  EXPECT_TRUE(Status::ok().isOk());
}

TEST(Status, ErrorCarriesCodeAndMessage) {
  Status status(ErrorCode::NotFound, "pod alice-1 does not exist");
  EXPECT_FALSE(status.isOk());
  EXPECT_FALSE(static_cast<bool>(status));
  EXPECT_EQ(status.code(), ErrorCode::NotFound);
  EXPECT_EQ(status.message(), "pod alice-1 does not exist");
}

TEST(Result, HoldsAValue) {
  Result<std::string> result(std::string("ready"));
  ASSERT_TRUE(result.isOk());
  EXPECT_TRUE(static_cast<bool>(result));
  EXPECT_EQ(result.value(), "ready");
  EXPECT_TRUE(result.status().isOk());
  result.value() += "!";
  EXPECT_EQ(result.value(), "ready!");
}

TEST(Result, HoldsAnError) {
  Result<int> fromStatus(Status(ErrorCode::Timeout, "slow"));
  EXPECT_FALSE(fromStatus.isOk());
  EXPECT_EQ(fromStatus.status().code(), ErrorCode::Timeout);
  EXPECT_EQ(fromStatus.status().message(), "slow");
  Result<int> fromCode(ErrorCode::Unavailable, "db down");
  EXPECT_FALSE(static_cast<bool>(fromCode));
  EXPECT_EQ(fromCode.status().code(), ErrorCode::Unavailable);
  EXPECT_EQ(fromCode.status().message(), "db down");
}

TEST(Result, MovesOutMoveOnlyValues) {
  Result<std::unique_ptr<int>> result(std::make_unique<int>(7));
  std::unique_ptr<int> value = std::move(result).value();
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(*value, 7);
}

TEST(Result, ConstAccess) {
  const Result<int> result(42);
  EXPECT_EQ(result.value(), 42);
}

TEST(ErrorCodeName, EveryCodeHasItsOwnName) {
  std::set<std::string> names;
  for (int code = 0; code <= static_cast<int>(ErrorCode::Internal); ++code) {
    std::string name = errorCodeName(static_cast<ErrorCode>(code));
    EXPECT_NE(name, "unknown error") << code;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(ErrorCode::Internal) + 1);
  EXPECT_STREQ(errorCodeName(ErrorCode::Ok), "ok");
  EXPECT_STREQ(errorCodeName(ErrorCode::PermissionDenied), "permission denied");
  EXPECT_STREQ(errorCodeName(static_cast<ErrorCode>(99)), "unknown error");
}

}  // namespace
}  // namespace podterm::sdk
