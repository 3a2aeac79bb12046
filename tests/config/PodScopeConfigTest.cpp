// session.pod_scope and limits.terminals_per_session (issue 9: terminals and shared pods).

#include <gtest/gtest.h>

#include <string>

#include "config/HostConfig.h"

namespace podterm::host {
namespace {

const std::string kMinimal = "[runtime]\nplugin = \"fakepod\"\n[auth]\nplugin = \"none\"\n";

TEST(PodScopeConfigTest, DefaultsAreOnePodPerSessionAndEightTerminals) {
  HostConfig config = parseHostConfig(kMinimal, "p.toml");
  EXPECT_FALSE(config.session.workspace_pods);
  EXPECT_EQ(config.limits.terminals_per_session, 8u);
}

TEST(PodScopeConfigTest, ReadsBothKeys) {
  HostConfig config = parseHostConfig(
      kMinimal + "[session]\npod_scope = \"workspace\"\n[limits]\nterminals_per_session = 0\n",
      "p.toml");
  EXPECT_TRUE(config.session.workspace_pods);
  EXPECT_EQ(config.limits.terminals_per_session, 0u);
  EXPECT_FALSE(parseHostConfig(kMinimal + "[session]\npod_scope = \"session\"\n", "p.toml")
                   .session.workspace_pods);
}

TEST(PodScopeConfigTest, RefusesOtherScopesAndNegativeLimits) {
  try {
    parseHostConfig(kMinimal + "[session]\npod_scope = \"user\"\n", "p.toml");
    FAIL() << "accepted pod_scope = \"user\"";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "p.toml:6:13: session.pod_scope: expected \"session\" or \"workspace\", got "
              "\"user\"");
  }
  EXPECT_THROW(parseHostConfig(kMinimal + "[limits]\nterminals_per_session = -1\n", "p.toml"),
               ConfigError);
}

}  // namespace
}  // namespace podterm::host
