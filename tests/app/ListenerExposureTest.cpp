#include <gtest/gtest.h>

#include "app/ListenerExposure.h"

namespace podterm::host {
namespace {

TEST(ListenerExposure, LoopbackHosts) {
  for (const char* host : {"127.0.0.1", "127.8.9.10", "::1", "localhost", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(isLoopbackHost(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "192.0.2.1", "example.com", "128.0.0.1",
                           "::ffff:10.0.0.1", "", "localhost.evil.example"}) {
    EXPECT_FALSE(isLoopbackHost(host)) << host;
  }
}

TEST(ListenerExposure, AnUnverifyingPluginOutsideLoopbackIsRefused) {
  std::string warning;
  std::string problem = listenerExposureProblem("0.0.0.0", "none", false, false, warning);
  EXPECT_EQ(problem,
            "auth plugin \"none\" verifies no credential and server.listen \"0.0.0.0\" is not a "
            "loopback address: anyone who reaches it can act as any user; use an auth plugin such "
            "as \"jwt\", listen on 127.0.0.1, or set server.allow_unauthenticated = true if this "
            "is really meant");
  EXPECT_EQ(warning, "");
}

TEST(ListenerExposure, ExplicitlyAllowedStartsWithAWarning) {
  std::string warning;
  EXPECT_EQ(listenerExposureProblem("::", "none", false, true, warning), "");
  EXPECT_NE(warning.find("server.allow_unauthenticated = true"), std::string::npos) << warning;
}

TEST(ListenerExposure, LoopbackOrAVerifyingPluginIsFine) {
  std::string warning = "stale";
  EXPECT_EQ(listenerExposureProblem("127.0.0.1", "none", false, false, warning), "");
  EXPECT_EQ(warning, "");
  EXPECT_EQ(listenerExposureProblem("0.0.0.0", "jwt", true, false, warning), "");
  EXPECT_EQ(warning, "");
}

}  // namespace
}  // namespace podterm::host
