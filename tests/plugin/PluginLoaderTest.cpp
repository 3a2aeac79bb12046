#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
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

TEST(PluginLoader, RefusesAnUnknownKind) {
  EXPECT_EQ(refusalOf("unknownkind"), "plugin runtime-unknownkind (" +
                                          fixture("runtime-unknownkind.so") +
                                          "): declares unknown kind 7, expected runtime");
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
  ASSERT_EQ(byFile.size(), 8u);

  const PluginListing& good = byFile["runtime-good.so"];
  EXPECT_EQ(good.file, fixture("runtime-good.so"));
  EXPECT_EQ(good.kind, "runtime");
  EXPECT_EQ(good.name, "good");
  EXPECT_EQ(good.version, "1.2.3");
  EXPECT_EQ(good.abi_version, sdk::kAbiVersion);
  EXPECT_EQ(good.error, "");
  EXPECT_EQ(byFile["runtime-throwing.so"].error, "");
  EXPECT_EQ(byFile["runtime-createfails.so"].error, "");  // create() is never called by a listing

  const PluginListing& old = byFile["runtime-oldabi.so"];
  EXPECT_EQ(old.abi_version, sdk::kAbiVersion + 1);
  EXPECT_EQ(old.kind, "");  // not read: another ABI's layout
  EXPECT_EQ(old.name, "");
  EXPECT_EQ(old.error, "built for SDK ABI " + std::to_string(sdk::kAbiVersion + 1) +
                           ", this host has ABI " + std::to_string(sdk::kAbiVersion) +
                           "; rebuild it against this SDK");
  EXPECT_EQ(byFile["runtime-wrongkind.so"].kind, "auth");
  EXPECT_EQ(byFile["runtime-wrongkind.so"].error, "is an auth plugin, expected runtime");
  EXPECT_EQ(byFile["runtime-unknownkind.so"].kind, "");
  EXPECT_EQ(byFile["runtime-unknownkind.so"].name, "unknownkind");
  EXPECT_EQ(byFile["runtime-unknownkind.so"].error,
            "declares unknown kind 7 (known: runtime, storage, sync, auth)");
  EXPECT_EQ(byFile["runtime-misnamed.so"].name, "other");
  EXPECT_EQ(byFile["runtime-misnamed.so"].error,
            "declares the name \"other\", expected \"misnamed\" (its file must be named "
            "runtime-other.so)");
  EXPECT_EQ(byFile["runtime-nodescriptor.so"].error,
            "no symbol podterm_plugin_descriptor (not a podterm plugin)");
  EXPECT_EQ(byFile["runtime-nodescriptor.so"].abi_version, 0);
  // Listing creates nothing and keeps nothing loaded.
  EXPECT_FALSE(isLoaded(fixture("runtime-good.so")));
  EXPECT_EQ(liveObjects(fixture("runtime-good.so")), 0);
}

TEST(PluginLoader, ListingMarksDuplicatesTheHostNeverLoads) {
  TempDir first;
  std::filesystem::copy_file(fixture("runtime-good.so"), first.path() + "/runtime-good.so");
  auto listings = PluginLoader({first.path(), kFixtureDir}).listAll();
  ASSERT_EQ(listings.size(), 9u);
  EXPECT_EQ(listings[0].file, first.path() + "/runtime-good.so");
  EXPECT_EQ(listings[0].error, "");
  auto later = std::find_if(listings.begin() + 1, listings.end(), [](const PluginListing& l) {
    return l.file == fixture("runtime-good.so");
  });
  ASSERT_NE(later, listings.end());
  EXPECT_EQ(later->error, "duplicate of " + first.path() +
                              "/runtime-good.so, which comes first in the plugin path");
}

TEST(PluginLoader, ListingRefusesAFileTheHostWouldNotFindByItsName) {
  TempDir dir;
  std::filesystem::copy_file(fixture("runtime-good.so"), dir.path() + "/good.so");
  std::filesystem::copy_file(fixture("runtime-good.so"), dir.path() + "/podterm-good.so");
  auto listings = PluginLoader({dir.path()}).listAll();
  ASSERT_EQ(listings.size(), 2u);
  for (const PluginListing& l : listings) {
    EXPECT_EQ(l.kind, "runtime");
    EXPECT_EQ(l.name, "good");
    EXPECT_EQ(l.error, "the host looks for this plugin as runtime-good.so; rename the file")
        << l.file;
  }
}

TEST(PluginLoader, ListingGivesTheLoadErrorOfAFileThatIsNotALibrary) {
  TempDir dir;
  std::ofstream(dir.path() + "/auth-junk.so") << "not an ELF file\n";
  std::ofstream(dir.path() + "/README.txt") << "not a .so: not listed\n";
  auto listings = PluginLoader({dir.path()}).listAll();
  ASSERT_EQ(listings.size(), 1u);
  const std::string prefix = "cannot load it: " + dir.path() + "/auth-junk.so: ";
  EXPECT_EQ(listings[0].error.substr(0, prefix.size()), prefix) << listings[0].error;
}

TEST(PluginLoader, ListingNamesADirectoryItCannotRead) {
  TempDir dir;
  auto listings = PluginLoader({dir.path() + "/missing", dir.path()}).listAll();
  ASSERT_EQ(listings.size(), 1u);
  EXPECT_EQ(listings[0].file, dir.path() + "/missing");
  EXPECT_EQ(listings[0].error,
            "cannot read this directory of the plugin path: No such file or directory");
}

TEST(PluginLoader, FormatsTheListingAsATableThenTheRefusals) {
  std::vector<PluginListing> listings(4);
  listings[0] = {"/p/runtime-fakepod.so", "runtime", "fakepod", "0.1.0", 3, ""};
  listings[1] = {"/p/auth-apikey.so", "auth", "apikey", "12.0.1", 3, ""};
  listings[2] = {"/p/runtime-old.so", "", "", "", 2, "built for SDK ABI 2, this host has ABI 3"};
  listings[3] = {"/p/sync-x.so", "auth", "x", "1", 3, "is an auth plugin, expected sync"};
  const std::string abi = std::to_string(sdk::kAbiVersion);
  EXPECT_EQ(formatPluginListings({"/p", "/q"}, listings),
            "plugin search path (this host: SDK ABI " + abi +
                "):\n"
                "  /p\n"
                "  /q\n"
                "\n"
                "KIND     NAME     VERSION  ABI  FILE\n"
                "runtime  fakepod  0.1.0    3    /p/runtime-fakepod.so\n"
                "auth     apikey   12.0.1   3    /p/auth-apikey.so\n"
                "\n"
                "refused (the host will not load these):\n"
                "  /p/runtime-old.so (SDK ABI 2): built for SDK ABI 2, this host has ABI 3\n"
                "  /p/sync-x.so (auth x 1, SDK ABI 3): is an auth plugin, expected sync\n");
  EXPECT_EQ(formatPluginListings({}, {}), "plugin search path (this host: SDK ABI " + abi +
                                              "):\n  (empty)\n\nno usable plugin\n");
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
