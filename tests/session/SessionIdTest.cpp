#include <gtest/gtest.h>

#include "session/SessionId.h"

namespace podterm::host {
namespace {

TEST(SessionIdTest, ParsesTheSpecExample) {
  auto id = SessionId::parse("user_1_ws_abc123_1234567890_uuid");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->user, "1");
  EXPECT_EQ(id->workspace, "abc123");
  EXPECT_EQ(id->suffix, "1234567890_uuid");
}

TEST(SessionIdTest, AcceptsUuidSuffixesAndDashes) {
  auto id =
      SessionId::parse("user_al-ice_ws_Proj-1_1700000000_0b7e9c1e-5d2f-4c8a-9d41-3f2a1b0c9e8d");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->user, "al-ice");
  EXPECT_EQ(id->workspace, "Proj-1");
}

TEST(SessionIdTest, RefusesWhatTheGrammarDoesNotAllow) {
  for (const char* bad :
       {"", "user_", "user__ws_a_b", "user_1_ws__b", "user_1_ws_a_", "User_1_ws_a_b",
        "user_1_WS_a_b", "user_1_ws_a", "user_1/../x_ws_a_b", "user_1_ws_a_b/c", "user_1_ws_a_b c",
        "user_1_ws_a_b\n", "user_\xC3\xA9_ws_a_b", "user_1_ws_a.b_c", "user_1_ws_a_%2e%2e",
        "xuser_1_ws_a_b"}) {
    EXPECT_FALSE(SessionId::parse(bad)) << bad;
  }
}

TEST(SessionIdTest, EnforcesFieldLengths) {
  std::string user64(64, 'u');
  std::string ws64(64, 'w');
  std::string suffix128(128, 's');
  EXPECT_TRUE(SessionId::parse("user_" + user64 + "_ws_" + ws64 + "_" + suffix128));
  EXPECT_FALSE(SessionId::parse("user_" + user64 + "u_ws_w_s"));
  EXPECT_FALSE(SessionId::parse("user_u_ws_" + ws64 + "w_s"));
  EXPECT_FALSE(SessionId::parse("user_u_ws_w_" + suffix128 + "s"));
}

TEST(SessionIdTest, IdsDifferingOnlyInCaseAreDifferent) {
  EXPECT_NE(SessionId::parse("user_A_ws_b_c")->raw, SessionId::parse("user_a_ws_b_c")->raw);
}

}  // namespace
}  // namespace podterm::host
