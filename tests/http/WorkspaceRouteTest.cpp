#include <gtest/gtest.h>

#include "http/ApiJson.h"
#include "http/WorkspaceRoute.h"

namespace podterm::host {
namespace {

TEST(WorkspaceRouteTest, ParsesEveryRoute) {
  auto tree = parseWorkspaceRoute("/api/workspaces/user_a-1_ws_B2/items?deleted=1", "GET");
  ASSERT_TRUE(tree.route);
  EXPECT_EQ(tree.route->action, WorkspaceAction::Tree);
  EXPECT_EQ(tree.route->workspace.user, "a-1");
  EXPECT_EQ(tree.route->workspace.workspace, "B2");
  EXPECT_EQ(queryValue(tree.route->query, "deleted"), "1");
  auto item =
      parseWorkspaceRoute("/api/workspaces/user_a_ws_b/items/d/%C3%A9t%C3%A9%3F.txt", "GET");
  ASSERT_TRUE(item.route);
  EXPECT_EQ(item.route->item_path, "d/\xC3\xA9t\xC3\xA9?.txt");
  auto restore = parseWorkspaceRoute("/api/workspaces/user_a_ws_b/items/d/x:restore", "POST");
  ASSERT_TRUE(restore.route);
  EXPECT_EQ(restore.route->action, WorkspaceAction::Restore);
  EXPECT_EQ(restore.route->item_path, "d/x");
  auto named =
      parseWorkspaceRoute("/api/workspaces/user_a_ws_b/items/d/x%3Arestore:restore", "POST");
  ASSERT_TRUE(named.route);
  EXPECT_EQ(named.route->item_path, "d/x:restore");
  EXPECT_EQ(parseWorkspaceRoute("/api/workspaces/user_a_ws_b/export", "GET").route->action,
            WorkspaceAction::Export);
  EXPECT_EQ(parseWorkspaceRoute("/api/workspaces/user_a_ws_b/events", "GET").route->action,
            WorkspaceAction::Events);
}

TEST(WorkspaceRouteTest, DecodesOnceOnly) {
  // "%252e%252e" decodes to the literal name "%2e%2e", never to "..".
  auto route = parseWorkspaceRoute("/api/workspaces/user_a_ws_b/items/%252e%252e", "GET");
  ASSERT_TRUE(route.route);
  EXPECT_EQ(route.route->item_path, "%2e%2e");
}

TEST(WorkspaceRouteTest, WorkspaceGrammar) {
  EXPECT_TRUE(WorkspaceRef::parse("user_a_ws_b"));
  EXPECT_TRUE(WorkspaceRef::parse("user_" + std::string(64, 'x') + "_ws_" + std::string(64, 'y')));
  EXPECT_FALSE(WorkspaceRef::parse("user_" + std::string(65, 'x') + "_ws_b"));
  EXPECT_FALSE(WorkspaceRef::parse("user_a_ws_" + std::string(65, 'y')));
  EXPECT_FALSE(WorkspaceRef::parse("user_a_ws_b_"));
  EXPECT_FALSE(WorkspaceRef::parse("User_a_ws_b"));
  EXPECT_FALSE(WorkspaceRef::parse(""));
}

TEST(ApiJsonTest, Utf8Validation) {
  EXPECT_TRUE(isValidUtf8("plain"));
  EXPECT_TRUE(isValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
  EXPECT_FALSE(isValidUtf8("\xFF"));
  EXPECT_FALSE(isValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(isValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(isValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(isValidUtf8("\xE2\x82"));          // truncated
  EXPECT_EQ(base64(std::string("\xff\xfe", 2)), "//4=");
}

}  // namespace
}  // namespace podterm::host
