#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "PluginTestSupport.h"
#include "plugin/PluginLoader.h"

namespace podterm::host {
namespace {

using namespace test;
using sdk::PluginKind;

// The PluginError message of loading <kind>-<name> from `path`, or "" when it loads.
std::string refusalOf(const std::vector<std::string>& path, const std::string& name,
                      const std::string& toml = "") {
  try {
    PluginLoader(path).load<sdk::PodRuntime>(PluginKind::Runtime, name,
                                             *viewOf(toml, "runtime." + name));
  } catch (const PluginError& e) {
    return e.what();
  }
  return "";
}

std::string refusalOf(const std::string& name, const std::string& toml = "") {
  return refusalOf(std::vector<std::string>{kFixtureDir}, name, toml);
}

TEST(PluginLoader, LoadsCreatesAndDestroys) {
  const std::string file = fixture("runtime-good.so");
  auto view = viewOf("[runtime.good]\ngreeting = \"hi there\"\n", "runtime.good");
  auto runtime =
      PluginLoader({kFixtureDir}).load<sdk::PodRuntime>(PluginKind::Runtime, "good", *view);
  ASSERT_NE(runtime, nullptr);
  EXPECT_TRUE(view->unreadKeys().empty());  // the plugin read its config through the view
  auto status = runtime->podStatus("s1");
  ASSERT_TRUE(status.isOk());
  EXPECT_EQ(status.value().reason, "hi there");
  EXPECT_TRUE(runtime->capabilities().failure_injection);
  EXPECT_EQ(liveObjects(file), 1);
  auto second =
      PluginLoader({kFixtureDir}).load<sdk::PodRuntime>(PluginKind::Runtime, "good", *view);
  EXPECT_EQ(liveObjects(file), 2);
  runtime.reset();
  EXPECT_EQ(liveObjects(file), 1);
  second.reset();
  EXPECT_FALSE(isLoaded(file));
}

TEST(PluginLoader, LibraryStaysLoadedWhileAnObjectLives) {
  const std::string file = fixture("runtime-good.so");
  ASSERT_FALSE(isLoaded(file));
  std::shared_ptr<sdk::PodRuntime> runtime;
  {
    PluginLoader loader({kFixtureDir});
    runtime = loader.load<sdk::PodRuntime>(PluginKind::Runtime, "good", *viewOf("", ""));
  }  // the loader is gone; the object still holds its library
  EXPECT_TRUE(isLoaded(file));
  EXPECT_EQ(runtime->podStatus("s").value().reason, "hello");  // its code is still mapped
  runtime.reset();
  EXPECT_FALSE(isLoaded(file));
}

TEST(PluginLoader, SearchesTheDirectoriesInOrder) {
  TempDir empty;
  auto runtime = PluginLoader({empty.path(), kFixtureDir})
                     .load<sdk::PodRuntime>(PluginKind::Runtime, "good", *viewOf("", ""));
  EXPECT_NE(runtime, nullptr);
}

TEST(PluginLoader, MissingFileNamesTheSearchPath) {
  EXPECT_EQ(refusalOf(std::vector<std::string>{"/a", "/b"}, "nope"),
            "plugin runtime-nope: runtime-nope.so not found in /a, /b");
  EXPECT_EQ(refusalOf(std::vector<std::string>{}, "nope"),
            "plugin runtime-nope: runtime-nope.so not found in an empty plugin path");
}

TEST(PluginLoader, RefusesAnotherAbi) {
  EXPECT_EQ(refusalOf("oldabi"),
            "plugin runtime-oldabi (" + fixture("runtime-oldabi.so") + "): built for SDK ABI " +
                std::to_string(sdk::kAbiVersion + 1) + ", this host has ABI " +
                std::to_string(sdk::kAbiVersion) + "; rebuild it against this SDK");
}

TEST(PluginLoader, RefusesAnotherKind) {
  EXPECT_EQ(refusalOf("wrongkind"), "plugin runtime-wrongkind (" + fixture("runtime-wrongkind.so") +
                                        "): is an auth plugin, expected runtime");
}

TEST(PluginLoader, RefusesAnotherName) {
  EXPECT_EQ(refusalOf("misnamed"),
            "plugin runtime-misnamed (" + fixture("runtime-misnamed.so") +
                "): declares the name \"other\", expected \"misnamed\" (its file must be named "
                "runtime-other.so)");
}

TEST(PluginLoader, RefusesALibraryWithoutDescriptor) {
  EXPECT_EQ(refusalOf("nodescriptor"), "plugin runtime-nodescriptor (" +
                                           fixture("runtime-nodescriptor.so") +
                                           "): no symbol podterm_plugin_descriptor (not a podterm "
                                           "plugin)");
}

TEST(PluginLoader, ReportsCreateFailureWithThePluginsMessage) {
  EXPECT_EQ(refusalOf("createfails", "[runtime.createfails]\nsize = -1\n"),
            "plugin runtime-createfails (" + fixture("runtime-createfails.so") +
                "): create failed: t.toml:2:8: runtime.createfails.size: must be positive");
  EXPECT_EQ(refusalOf("good", "[runtime.good]\ngreeting = 5\n"),
            "plugin runtime-good (" + fixture("runtime-good.so") +
                "): create failed: t.toml:2:12: runtime.good.greeting: expected a string, got an "
                "integer");
}

TEST(PluginLoader, RefusesAFileThatIsNotALibrary) {
  TempDir dir;
  const std::string file = dir.path() + "/runtime-junk.so";
  std::ofstream(file) << "not an ELF file\n";
  std::string error = refusalOf(std::vector<std::string>{dir.path()}, "junk");
  const std::string prefix = "plugin runtime-junk (" + file + "): cannot load it: " + file + ": ";
  EXPECT_EQ(error.substr(0, prefix.size()), prefix) << error;
}

TEST(PluginLoader, RefusesNamesThatAreNotNames) {
  EXPECT_EQ(refusalOf("../good"),
            "plugin runtime-../good: invalid name (letters, digits, '-' and '_' only)");
}

TEST(PluginLoader, ListsEveryLibraryWithItsDescriptorOrItsRefusal) {
  auto listings = PluginLoader({kFixtureDir}).listAll();
  std::map<std::string, PluginListing> byFile;
  for (const auto& l : listings) byFile[l.file.substr(kFixtureDir.size() + 1)] = l;
  ASSERT_EQ(byFile.size(), 7u);

  const PluginListing& good = byFile["runtime-good.so"];
  EXPECT_EQ(good.file, fixture("runtime-good.so"));
  EXPECT_EQ(good.kind, "runtime");
  EXPECT_EQ(good.name, "good");
  EXPECT_EQ(good.version, "1.2.3");
  EXPECT_EQ(good.abi_version, sdk::kAbiVersion);
  EXPECT_EQ(good.error, "");
  EXPECT_EQ(byFile["runtime-throwing.so"].error, "");

  EXPECT_EQ(byFile["runtime-oldabi.so"].abi_version, sdk::kAbiVersion + 1);
  EXPECT_EQ(byFile["runtime-oldabi.so"].kind, "");  // not read: another ABI's layout
  const std::string abiRefusal = "built for SDK ABI " + std::to_string(sdk::kAbiVersion + 1) + ",";
  EXPECT_EQ(byFile["runtime-oldabi.so"].error.substr(0, abiRefusal.size()), abiRefusal);
  EXPECT_EQ(byFile["runtime-wrongkind.so"].kind, "auth");
  EXPECT_EQ(byFile["runtime-wrongkind.so"].error, "is an auth plugin, expected runtime");
  EXPECT_EQ(byFile["runtime-misnamed.so"].name, "other");
  EXPECT_NE(byFile["runtime-misnamed.so"].error, "");
  EXPECT_EQ(byFile["runtime-nodescriptor.so"].error,
            "no symbol podterm_plugin_descriptor (not a podterm plugin)");
  // Listing creates nothing and keeps nothing loaded.
  EXPECT_FALSE(isLoaded(fixture("runtime-good.so")));
}

TEST(PluginLoader, ListingMarksShadowedFiles) {
  auto listings = PluginLoader({kFixtureDir, kFixtureDir + "/."}).listAll();
  ASSERT_EQ(listings.size(), 14u);
  EXPECT_EQ(listings[7].error, "shadowed by " + listings[0].file);
}

TEST(AuthNone, AllowsTheUserOfTheSessionId) {
  auto view = viewOf("", "auth.none");
  auto auth = PluginLoader({kPluginDir}).load<sdk::Authenticator>(PluginKind::Auth, "none", *view);
  sdk::AuthRequest request;
  request.user = "alice";
  request.session_id = "alice.ws1";
  auto decision = auth->authenticate(request);
  ASSERT_TRUE(decision.isOk());
  EXPECT_TRUE(decision.value().allowed);
  EXPECT_EQ(decision.value().principal, "alice");
  EXPECT_EQ(decision.value().expires_unix_ms, 0);
  EXPECT_EQ(decision.value().credential_subprotocol, "");
}

TEST(AuthNone, ReadsNoKeysSoTheHostRefusesAny) {
  auto view = viewOf("[auth.none]\nsecret = \"x\"\n", "auth.none");
  auto auth = PluginLoader({kPluginDir}).load<sdk::Authenticator>(PluginKind::Auth, "none", *view);
  EXPECT_EQ(view->unknownKeyErrors(),
            std::vector<std::string>{"t.toml:2:10: unknown key auth.none.secret"});
}

}  // namespace
}  // namespace podterm::host
