#include <gtest/gtest.h>

#include "http/OriginPolicy.h"

namespace podterm::host {
namespace {

TEST(OriginPolicyTest, NoOriginIsNotABrowserAndPasses) {
  OriginPolicy policy({});
  EXPECT_FALSE(policy.check(std::nullopt, "podterm.example:8002"));
}

TEST(OriginPolicyTest, SameOriginMustMatchHostAndPortExactly) {
  OriginPolicy policy({});
  EXPECT_FALSE(policy.check("http://podterm.example:8002", "podterm.example:8002"));
  EXPECT_FALSE(policy.check("https://podterm.example", "podterm.example"));
  EXPECT_FALSE(policy.check("http://PODTERM.example", "podterm.example:80"));
  EXPECT_TRUE(policy.check("http://podterm.example:9000", "podterm.example:8002"));
  EXPECT_TRUE(policy.check("https://podterm.example", "podterm.example:80"));
  EXPECT_TRUE(policy.check("http://evil.podterm.example", "podterm.example"));
  EXPECT_TRUE(policy.check("http://podterm.example.evil", "podterm.example"));
}

TEST(OriginPolicyTest, MalformedOriginsAreRefused) {
  OriginPolicy policy({{}, true});
  for (const char* bad :
       {"null", "", "127.0.0.1", "file:///etc", "http://", "http://a b", "http://127.0.0.1:99999",
        "http://127.0.0.1/path", "http://u@127.0.0.1", "javascript://127.0.0.1"}) {
    EXPECT_TRUE(policy.check(std::string(bad), "127.0.0.1:8002")) << bad;
  }
}

TEST(OriginPolicyTest, AllowListMatchesWholeOriginsNotPrefixes) {
  OriginPolicy policy({{"https://app.example.com"}, false});
  EXPECT_FALSE(policy.check("https://app.example.com", "api.example.com"));
  EXPECT_FALSE(policy.check("https://app.example.com:443", "api.example.com"));
  EXPECT_TRUE(policy.check("http://app.example.com", "api.example.com"));
  EXPECT_TRUE(policy.check("https://app.example.com.evil.net", "api.example.com"));
  EXPECT_TRUE(policy.check("https://xapp.example.com", "api.example.com"));
}

TEST(OriginPolicyTest, LoopbackOriginsOnAnyPortOnlyWhenAllowed) {
  OriginPolicy strict({});
  OriginPolicy local({{}, true});
  for (const char* origin : {"http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8080",
                             "http://127.1.2.3"}) {
    EXPECT_TRUE(strict.check(std::string(origin), "127.0.0.1:8002")) << origin;
    EXPECT_FALSE(local.check(std::string(origin), "127.0.0.1:8002")) << origin;
  }
  EXPECT_TRUE(local.check("http://127.0.0.1.evil.net", "127.0.0.1:8002"));
  EXPECT_TRUE(local.check("http://localhost.evil.net", "127.0.0.1:8002"));
  EXPECT_TRUE(local.check("http://128.0.0.1", "127.0.0.1:8002"));
}

}  // namespace
}  // namespace podterm::host
