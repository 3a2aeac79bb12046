#include <gtest/gtest.h>

#include <filesystem>

#include "config/ConfigError.h"
#include "config/TomlConfigView.h"

namespace podterm::host {
namespace {

using sdk::ErrorCode;

const char* kDoc = R"([runtime]
plugin = "fakepod"

[runtime.fakepod]
start_delay_ms = "slow"
name = "pods"
ratio = 0.5
whole = 3
enabled = true
argv = ["a", 2]
images = ["x", "y"]
unused = 1

[runtime.fakepod.limits]
cpu = 2
memory = 4
)";

TomlConfigViewPtr fakepod() {
  return TomlConfigView::parse(kDoc, "local.toml", "runtime.fakepod");
}

TEST(TomlConfigView, GettersReturnValues) {
  auto view = fakepod();
  EXPECT_EQ(view->path(), "runtime.fakepod");
  EXPECT_EQ(view->getString("name", "").value(), "pods");
  EXPECT_EQ(view->getInt("whole", 0).value(), 3);
  EXPECT_DOUBLE_EQ(view->getDouble("ratio", 0).value(), 0.5);
  EXPECT_DOUBLE_EQ(view->getDouble("whole", 0).value(), 3.0);  // an integer is a number too
  EXPECT_TRUE(view->getBool("enabled", false).value());
  EXPECT_EQ(view->getStringList("images").value(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(view->getInt("limits.cpu", 0).value(), 2);  // dotted keys reach sub-tables
}

TEST(TomlConfigView, AbsentKeysGiveTheFallback) {
  auto view = fakepod();
  EXPECT_FALSE(view->has("missing"));
  EXPECT_TRUE(view->has("name"));
  EXPECT_TRUE(view->has("limits.cpu"));
  EXPECT_EQ(view->getString("missing", "dflt").value(), "dflt");
  EXPECT_EQ(view->getInt("missing", 7).value(), 7);
  EXPECT_DOUBLE_EQ(view->getDouble("missing", 1.5).value(), 1.5);
  EXPECT_FALSE(view->getBool("missing", false).value());
  EXPECT_TRUE(view->getStringList("missing").value().empty());
  EXPECT_EQ(view->getInt("name.deeper", 9).value(), 9);  // through a string: absent
}

TEST(TomlConfigView, WrongTypesNameFileLineColumnAndDottedKey) {
  auto view = fakepod();
  auto i = view->getInt("start_delay_ms", 0);
  ASSERT_FALSE(i.isOk());
  EXPECT_EQ(i.status().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(i.status().message(),
            "local.toml:5:18: runtime.fakepod.start_delay_ms: expected an integer, got a string");
  EXPECT_EQ(view->getString("whole", "").status().message(),
            "local.toml:8:9: runtime.fakepod.whole: expected a string, got an integer");
  EXPECT_EQ(view->getBool("ratio", false).status().message(),
            "local.toml:7:9: runtime.fakepod.ratio: expected a boolean, got a float");
  EXPECT_EQ(view->getDouble("enabled", 0).status().message(),
            "local.toml:9:11: runtime.fakepod.enabled: expected a number, got a boolean");
  EXPECT_EQ(view->getStringList("name").status().message(),
            "local.toml:6:8: runtime.fakepod.name: expected an array of strings, got a string");
  EXPECT_EQ(view->getStringList("argv").status().message(),
            "local.toml:10:14: runtime.fakepod.argv[1]: expected a string, got an integer");
  EXPECT_EQ(view->getInt("limits", 0).status().message(),
            "local.toml:14:1: runtime.fakepod.limits: expected an integer, got a table");
}

TEST(TomlConfigView, WhereNamesKeysAndTheTable) {
  auto view = fakepod();
  EXPECT_EQ(view->where("name"), "local.toml:6:8: runtime.fakepod.name");
  EXPECT_EQ(view->where(""), "local.toml:4:1: runtime.fakepod");
  EXPECT_EQ(view->where("missing"), "local.toml:4:1: runtime.fakepod.missing");
  EXPECT_EQ(view->whereElement("images", 1), "local.toml:11:16: runtime.fakepod.images[1]");
  EXPECT_EQ(view->whereElement("images", 5), "local.toml:11:10: runtime.fakepod.images");
}

TEST(TomlConfigView, UnreadKeysInDocumentOrder) {
  auto view = fakepod();
  EXPECT_EQ(view->unreadKeys(),
            (std::vector<std::string>{"start_delay_ms", "name", "ratio", "whole", "enabled", "argv",
                                      "images", "unused", "limits.cpu", "limits.memory"}));
  (void)view->getString("name", "");
  (void)view->getInt("start_delay_ms", 0);  // a failed read still counts as known
  (void)view->getDouble("ratio", 0);
  (void)view->getInt("whole", 0);
  (void)view->getBool("enabled", false);
  (void)view->getStringList("argv");
  (void)view->getStringList("images");
  (void)view->getInt("limits.cpu", 0);
  EXPECT_TRUE(view->has("unused"));  // has() is not a read
  EXPECT_EQ(view->unreadKeys(), (std::vector<std::string>{"unused", "limits.memory"}));
  EXPECT_EQ(
      view->unknownKeyErrors(),
      (std::vector<std::string>{"local.toml:12:10: unknown key runtime.fakepod.unused",
                                "local.toml:16:10: unknown key runtime.fakepod.limits.memory"}));
}

TEST(TomlConfigView, EmptySubTableIsAnUnreadKey) {
  auto view = TomlConfigView::parse("[auth.none]\n[auth.none.extra]\n", "c.toml", "auth.none");
  EXPECT_EQ(view->unknownKeyErrors(),
            (std::vector<std::string>{"c.toml:2:1: unknown key auth.none.extra"}));
}

TEST(TomlConfigView, AQuotedKeyWithADotIsAnUnknownKeyNotACrash) {
  // Found by the host_config fuzz target (tests/fuzz): the key "a.b" was looked up again as a
  // then b, not found, and its null node dereferenced.
  auto view = TomlConfigView::parse("[server]\nlisten = \"x\"\n\"a.b\" = 1\n", "c.toml", "server");
  (void)view->getString("listen", "");
  EXPECT_EQ(view->unknownKeyErrors(),
            (std::vector<std::string>{"c.toml:1:1: unknown key server.a.b"}));
}

TEST(TomlConfigView, AbsentTableIsAnEmptyViewPlacedAtItsParent) {
  auto view = TomlConfigView::parse("x = 1\n\n[auth]\nplugin = \"none\"\n", "c.toml", "auth.none");
  EXPECT_EQ(view->path(), "auth.none");
  EXPECT_FALSE(view->has("anything"));
  EXPECT_TRUE(view->unreadKeys().empty());
  EXPECT_EQ(view->where(""), "c.toml:3:1: auth.none");
  EXPECT_EQ(view->where("key"), "c.toml:3:1: auth.none.key");
}

TEST(TomlConfigView, BaseDirectoryIsTheFilesAbsoluteDirectory) {
  auto view = TomlConfigView::parse("", "/etc/podterm/podterm.toml", "runtime.fakepod");
  EXPECT_EQ(view->baseDirectory(), "/etc/podterm");
  EXPECT_EQ(view->file(), "/etc/podterm/podterm.toml");
  auto relative = TomlConfigView::parse("", "conf/p.toml", "");
  EXPECT_EQ(relative->baseDirectory(),
            (std::filesystem::current_path() / "conf").lexically_normal().string());
}

TEST(TomlConfigView, PathThroughANonTableIsAnError) {
  try {
    TomlConfigView::parse("[runtime]\nfakepod = 3\n", "c.toml", "runtime.fakepod");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "c.toml:2:11: runtime.fakepod: expected a table, got an integer");
  }
}

}  // namespace
}  // namespace podterm::host
