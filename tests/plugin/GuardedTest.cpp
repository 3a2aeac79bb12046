#include <gtest/gtest.h>

#include "PluginTestSupport.h"
#include "plugin/GuardedAuthenticator.h"
#include "plugin/GuardedPodRuntime.h"
#include "plugin/GuardedStorage.h"
#include "plugin/GuardedSyncPolicy.h"
#include "plugin/PluginLoader.h"

namespace podterm::host {
namespace {

using namespace test;
using sdk::ErrorCode;

class GuardedPodRuntimeTest : public ::testing::Test {
 protected:
  std::shared_ptr<sdk::PodRuntime> load(const std::string& name) {
    auto inner = PluginLoader({kFixtureDir})
                     .load<sdk::PodRuntime>(sdk::PluginKind::Runtime, name, *viewOf("", ""));
    return std::make_shared<GuardedPodRuntime>(
        inner, name, [this](const std::string& message) { reports.push_back(message); });
  }

  std::vector<std::string> reports;
};

void expectThrew(const sdk::Status& status, const std::string& what) {
  EXPECT_EQ(status.code(), ErrorCode::Internal);
  EXPECT_EQ(status.message(), "plugin throwing threw: " + what);
}

TEST_F(GuardedPodRuntimeTest, ForwardsCallsThatSucceed) {
  auto runtime = load("good");
  EXPECT_TRUE(runtime->ensurePod({}, nullptr).isOk());
  EXPECT_EQ(runtime->podStatus("s").value().phase, sdk::PodPhase::Ready);
  EXPECT_TRUE(runtime->deletePod("s").isOk());
  EXPECT_TRUE(runtime->listPods().isOk());
  EXPECT_TRUE(runtime->capabilities().failure_injection);
  auto stream = runtime->openStream("s", {}, nullptr);
  ASSERT_TRUE(stream.isOk());
  EXPECT_TRUE(stream.value()->write("abc", 3).isOk());
  EXPECT_EQ(stream.value()->pendingInput(), 3u);
  EXPECT_TRUE(reports.empty());
}

TEST_F(GuardedPodRuntimeTest, ThrowsBecomeInternalErrors) {
  auto runtime = load("throwing");
  expectThrew(runtime->ensurePod({}, nullptr), "boom in ensurePod");
  expectThrew(runtime->podStatus("s").status(), "boom in podStatus");
  expectThrew(runtime->deletePod("s"), "boom in deletePod");
  expectThrew(runtime->listPods().status(), "boom in listPods");
  EXPECT_FALSE(runtime->capabilities().failure_injection);  // none, reported
  runtime->stopObserving("s");
  EXPECT_EQ(reports, (std::vector<std::string>{
                         "plugin throwing threw: boom in capabilities",
                         "plugin throwing threw: an exception that is not a std::exception"}));
}

TEST_F(GuardedPodRuntimeTest, StreamsAreGuardedToo) {
  auto runtime = load("throwing");
  auto opened = runtime->openStream("s", {}, nullptr);
  ASSERT_TRUE(opened.isOk());
  sdk::ExecStream& stream = *opened.value();
  expectThrew(stream.write("x", 1), "boom in write");
  expectThrew(stream.closeStdin(), "boom in closeStdin");
  expectThrew(stream.resize(80, 24), "boom in resize");
  stream.pauseOutput();
  stream.resumeOutput();
  EXPECT_EQ(stream.pendingInput(), 0u);
  stream.close();
  EXPECT_EQ(reports, (std::vector<std::string>{"plugin throwing threw: boom in pauseOutput",
                                               "plugin throwing threw: boom in resumeOutput",
                                               "plugin throwing threw: boom in pendingInput",
                                               "plugin throwing threw: boom in close"}));
}

TEST_F(GuardedPodRuntimeTest, AStreamKeepsItsRuntimeAndLibraryAlive) {
  const std::string file = fixture("runtime-good.so");
  auto runtime = load("good");
  auto stream = std::move(runtime->openStream("s", {}, nullptr)).value();
  runtime.reset();
  EXPECT_EQ(liveObjects(file), 2);  // the stream and the runtime it came from
  EXPECT_TRUE(stream->write("ab", 2).isOk());
  stream.reset();
  EXPECT_FALSE(isLoaded(file));
}

struct Throwing final : sdk::Storage, sdk::SyncPolicy, sdk::Authenticator {
  sdk::Result<std::vector<sdk::ItemMeta>> listManifest(const sdk::WorkspaceId&) override {
    throw std::runtime_error("db gone");
  }
  sdk::Result<std::string> readContent(const sdk::WorkspaceId&, const std::string&) override {
    throw std::out_of_range("no row");
  }
  sdk::Status applyBatch(const sdk::WorkspaceId&, const std::vector<sdk::ItemChange>&) override {
    throw std::bad_alloc();
  }
  sdk::SyncDecision afterCommand(const sdk::FinishedCommand&) override {
    throw std::runtime_error("regex");
  }
  sdk::Result<sdk::AuthDecision> authenticate(const sdk::AuthRequest&) override {
    throw std::runtime_error("jwks fetch");
  }
};

struct Working final : sdk::Storage, sdk::SyncPolicy, sdk::Authenticator {
  sdk::Result<std::vector<sdk::ItemMeta>> listManifest(const sdk::WorkspaceId& ws) override {
    sdk::ItemMeta meta;
    meta.path = ws.user + "/" + ws.workspace;
    return std::vector<sdk::ItemMeta>{meta};
  }
  sdk::Result<std::string> readContent(const sdk::WorkspaceId&, const std::string& path) override {
    return "content of " + path;
  }
  sdk::Status applyBatch(const sdk::WorkspaceId&, const std::vector<sdk::ItemChange>&) override {
    return {ErrorCode::Conflict, "lost"};
  }
  sdk::SyncDecision afterCommand(const sdk::FinishedCommand&) override {
    return sdk::SyncDecision::Sync;
  }
  sdk::Result<sdk::AuthDecision> authenticate(const sdk::AuthRequest& request) override {
    sdk::AuthDecision decision;
    decision.allowed = true;
    decision.principal = request.user;
    return decision;
  }
};

TEST(GuardedStorage, ThrowsBecomeInternalErrors) {
  GuardedStorage storage(std::make_shared<Throwing>(), "pg");
  EXPECT_EQ(storage.listManifest({}).status().message(), "plugin pg threw: db gone");
  EXPECT_EQ(storage.listManifest({}).status().code(), ErrorCode::Internal);
  EXPECT_EQ(storage.readContent({}, "a").status().message(), "plugin pg threw: no row");
  EXPECT_EQ(storage.applyBatch({}, {}).message(), "plugin pg threw: std::bad_alloc");
}

TEST(GuardedStorage, ForwardsResults) {
  GuardedStorage storage(std::make_shared<Working>(), "pg");
  EXPECT_EQ(storage.listManifest({"u", "w"}).value().at(0).path, "u/w");
  EXPECT_EQ(storage.readContent({}, "a").value(), "content of a");
  EXPECT_EQ(storage.applyBatch({}, {}).code(), ErrorCode::Conflict);
}

TEST(GuardedSyncPolicy, AThrowIsASkip) {
  std::vector<std::string> reports;
  GuardedSyncPolicy policy(std::make_shared<Throwing>(), "heuristic",
                           [&](const std::string& m) { reports.push_back(m); });
  EXPECT_EQ(policy.afterCommand({}), sdk::SyncDecision::Skip);
  EXPECT_EQ(reports, std::vector<std::string>{"plugin heuristic threw: regex"});
  EXPECT_EQ(GuardedSyncPolicy(std::make_shared<Working>(), "heuristic").afterCommand({}),
            sdk::SyncDecision::Sync);
}

TEST(GuardedAuthenticator, AThrowIsARefusal) {
  GuardedAuthenticator auth(std::make_shared<Throwing>(), "jwt");
  auto decision = auth.authenticate({});
  ASSERT_FALSE(decision.isOk());
  EXPECT_EQ(decision.status().code(), ErrorCode::Internal);
  EXPECT_EQ(decision.status().message(), "plugin jwt threw: jwks fetch");
  sdk::AuthRequest request;
  request.user = "bob";
  EXPECT_EQ(GuardedAuthenticator(std::make_shared<Working>(), "jwt")
                .authenticate(request)
                .value()
                .principal,
            "bob");
}

}  // namespace
}  // namespace podterm::host
