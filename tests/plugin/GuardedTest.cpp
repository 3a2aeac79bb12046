#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

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
  sdk::Result<std::vector<sdk::ItemMeta>> listManifest(const sdk::WorkspaceId&, bool) override {
    throw std::runtime_error("db gone");
  }
  sdk::Result<std::vector<sdk::Item>> readItems(const sdk::WorkspaceId&,
                                                const std::vector<std::string>&) override {
    throw std::out_of_range("no row");
  }
  sdk::Result<std::vector<sdk::Item>> readWorkspace(const sdk::WorkspaceId&) override {
    throw std::out_of_range("no row");
  }
  sdk::Result<sdk::BatchResult> applyBatch(const sdk::WorkspaceId&,
                                           const std::vector<sdk::ItemChange>&) override {
    throw std::bad_alloc();
  }
  sdk::Result<sdk::ItemMeta> restore(const sdk::WorkspaceId&, const std::string&) override {
    throw 42;
  }
  sdk::Result<int64_t> purgeDeleted(int64_t) override { throw std::runtime_error("purge"); }
  sdk::Result<sdk::LeaseGrant> acquireLease(const sdk::WorkspaceId&, const std::string&,
                                            int64_t) override {
    throw std::runtime_error("lease");
  }
  sdk::Status releaseLease(const sdk::WorkspaceId&, const std::string&) override {
    throw std::runtime_error("lease");
  }
  sdk::Result<sdk::LeaseGrant> acquireSessionLease(const std::string&, const std::string&, int64_t,
                                                   sdk::LeaseMode) override {
    throw std::runtime_error("session lease");
  }
  sdk::Status releaseSessionLease(const std::string&, const std::string&) override {
    throw std::runtime_error("session lease");
  }
  sdk::Result<std::vector<sdk::SessionLease>> listSessionLeases() override {
    throw std::runtime_error("list");
  }
  sdk::Status notify(const std::string&, const std::string&) override {
    throw std::runtime_error("notify");
  }
  sdk::Result<sdk::SubscriptionPtr> subscribe(const std::string&,
                                              sdk::NotificationCallback) override {
    throw std::runtime_error("subscribe");
  }
  sdk::SyncDecision afterCommand(const sdk::FinishedCommand&) override {
    throw std::runtime_error("regex");
  }
  int64_t idleSyncAfterMs() const override { throw std::runtime_error("idle"); }
  sdk::Result<sdk::AuthDecision> authenticate(const sdk::AuthRequest&) override {
    throw std::runtime_error("jwks fetch");
  }
  bool verifiesCredentials() const noexcept override { return true; }
};

struct Working final : sdk::Storage, sdk::SyncPolicy, sdk::Authenticator {
  sdk::Result<std::vector<sdk::ItemMeta>> listManifest(const sdk::WorkspaceId& ws, bool) override {
    sdk::ItemMeta meta;
    meta.path = ws.user + "/" + ws.workspace;
    return std::vector<sdk::ItemMeta>{meta};
  }
  sdk::Result<std::vector<sdk::Item>> readItems(const sdk::WorkspaceId&,
                                                const std::vector<std::string>& paths) override {
    sdk::Item item;
    item.content = "content of " + paths.at(0);
    return std::vector<sdk::Item>{item};
  }
  sdk::Result<std::vector<sdk::Item>> readWorkspace(const sdk::WorkspaceId&) override {
    return std::vector<sdk::Item>{};
  }
  sdk::Result<sdk::BatchResult> applyBatch(const sdk::WorkspaceId&,
                                           const std::vector<sdk::ItemChange>&) override {
    return sdk::Status(ErrorCode::Conflict, "lost");
  }
  sdk::Result<sdk::ItemMeta> restore(const sdk::WorkspaceId&, const std::string&) override {
    return sdk::Status(ErrorCode::NotFound, "none");
  }
  sdk::Result<int64_t> purgeDeleted(int64_t) override { return int64_t{3}; }
  sdk::Result<sdk::LeaseGrant> acquireLease(const sdk::WorkspaceId&, const std::string& holder,
                                            int64_t) override {
    return sdk::LeaseGrant{true, holder, 1};
  }
  sdk::Status releaseLease(const sdk::WorkspaceId&, const std::string&) override { return {}; }
  sdk::Result<sdk::LeaseGrant> acquireSessionLease(const std::string&, const std::string& holder,
                                                   int64_t, sdk::LeaseMode mode) override {
    return sdk::LeaseGrant{true, holder, 1, mode == sdk::LeaseMode::TakeOver ? "old" : ""};
  }
  sdk::Status releaseSessionLease(const std::string&, const std::string&) override { return {}; }
  sdk::Result<std::vector<sdk::SessionLease>> listSessionLeases() override {
    return std::vector<sdk::SessionLease>{{"s1", "h", 7, true}};
  }
  sdk::Status notify(const std::string& channel, const std::string& payload) override {
    sdk::Notification n;
    n.channel = channel;
    n.payload = payload;
    if (callback) callback(n);  // synchronously, for the test
    return {};
  }
  // Counts live handles, so a test sees when the plugin's handle is gone.
  struct Handle final : sdk::Subscription {
    explicit Handle(int* live) : live(live) { ++*live; }
    ~Handle() override { --*live; }
    int* live;
  };
  sdk::Result<sdk::SubscriptionPtr> subscribe(const std::string&,
                                              sdk::NotificationCallback cb) override {
    callback = std::move(cb);
    return sdk::SubscriptionPtr(std::make_unique<Handle>(&live_handles));
  }
  sdk::NotificationCallback callback;
  int live_handles = 0;
  sdk::SyncDecision afterCommand(const sdk::FinishedCommand&) override {
    return sdk::SyncDecision::Sync;
  }
  int64_t idleSyncAfterMs() const override { return 5000; }
  sdk::Result<sdk::AuthDecision> authenticate(const sdk::AuthRequest& request) override {
    sdk::AuthDecision decision;
    decision.allowed = true;
    decision.principal = request.user;
    return decision;
  }
  bool verifiesCredentials() const noexcept override { return false; }
};

// Answers only when released: a plugin stuck on a network call.
struct Hanging final : sdk::Authenticator {
  std::mutex mutex;
  std::condition_variable changed;
  bool released = false;
  int calls = 0;
  sdk::Result<sdk::AuthDecision> authenticate(const sdk::AuthRequest&) override {
    std::unique_lock lock(mutex);
    ++calls;
    changed.notify_all();
    changed.wait(lock, [&] { return released; });
    sdk::AuthDecision decision;
    decision.allowed = true;
    return decision;
  }
  bool verifiesCredentials() const noexcept override { return true; }
  void release() {
    std::lock_guard lock(mutex);
    released = true;
    changed.notify_all();
  }
};

TEST(GuardedStorage, ThrowsBecomeInternalErrors) {
  GuardedStorage storage(std::make_shared<Throwing>(), "pg");
  EXPECT_EQ(storage.listManifest({}, false).status().message(), "plugin pg threw: db gone");
  EXPECT_EQ(storage.listManifest({}, false).status().code(), ErrorCode::Internal);
  EXPECT_EQ(storage.readItems({}, {"a"}).status().message(), "plugin pg threw: no row");
  EXPECT_EQ(storage.applyBatch({}, {}).status().message(), "plugin pg threw: std::bad_alloc");
  EXPECT_EQ(storage.restore({}, "a").status().code(), ErrorCode::Internal);
  EXPECT_EQ(storage.acquireLease({}, "h", 1).status().message(), "plugin pg threw: lease");
  EXPECT_EQ(storage.releaseLease({}, "h").code(), ErrorCode::Internal);
  EXPECT_EQ(storage.acquireSessionLease("s", "h", 1, sdk::LeaseMode::Acquire).status().message(),
            "plugin pg threw: session lease");
  EXPECT_EQ(storage.releaseSessionLease("s", "h").code(), ErrorCode::Internal);
  EXPECT_EQ(storage.listSessionLeases().status().message(), "plugin pg threw: list");
  EXPECT_EQ(storage.notify("c", "p").message(), "plugin pg threw: notify");
  EXPECT_EQ(storage.subscribe("c", [](const sdk::Notification&) {}).status().message(),
            "plugin pg threw: subscribe");
}

TEST(GuardedStorage, ForwardsResults) {
  GuardedStorage storage(std::make_shared<Working>(), "pg");
  EXPECT_EQ(storage.listManifest({"u", "w"}, false).value().at(0).path, "u/w");
  EXPECT_EQ(storage.readItems({}, {"a"}).value().at(0).content, "content of a");
  EXPECT_EQ(storage.applyBatch({}, {}).status().code(), ErrorCode::Conflict);
  EXPECT_EQ(storage.purgeDeleted(0).value(), 3);
  EXPECT_TRUE(storage.acquireLease({}, "h", 1).value().acquired);
  auto over = storage.acquireSessionLease("s", "h", 1, sdk::LeaseMode::TakeOver);
  ASSERT_TRUE(over);
  EXPECT_EQ(over.value().previous_holder, "old");
  EXPECT_TRUE(storage.releaseSessionLease("s", "h"));
  EXPECT_TRUE(storage.listSessionLeases().value().at(0).expired);
}

TEST(GuardedStorage, SubscriptionsKeepTheStorageAndStopAThrowingCallback) {
  auto working = std::make_shared<Working>();
  auto storage = std::make_unique<GuardedStorage>(working, "pg");
  std::vector<std::string> seen;
  auto sub = storage->subscribe("c", [&](const sdk::Notification& n) {
    seen.push_back(n.payload);
    throw std::runtime_error("host bug");  // must not reach the plugin's thread
  });
  ASSERT_TRUE(sub) << sub.status().message();
  EXPECT_EQ(working->live_handles, 1);
  EXPECT_TRUE(storage->notify("c", "one"));
  EXPECT_EQ(seen, std::vector<std::string>{"one"});
  // The handle holds the plugin's storage: the guard may go first.
  std::weak_ptr<Working> weak = working;
  storage.reset();
  working.reset();
  EXPECT_FALSE(weak.expired());
  sub.value().reset();
  EXPECT_TRUE(weak.expired());
}

TEST(GuardedSyncPolicy, AThrowIsASkip) {
  std::vector<std::string> reports;
  GuardedSyncPolicy policy(std::make_shared<Throwing>(), "heuristic",
                           [&](const std::string& m) { reports.push_back(m); });
  EXPECT_EQ(policy.afterCommand({}), sdk::SyncDecision::Skip);
  EXPECT_EQ(reports, std::vector<std::string>{"plugin heuristic threw: regex"});
  EXPECT_EQ(policy.idleSyncAfterMs(), 0);
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

TEST(GuardedAuthenticator, ForwardsWhetherItVerifiesCredentials) {
  EXPECT_TRUE(GuardedAuthenticator(std::make_shared<Throwing>(), "jwt").verifiesCredentials());
  EXPECT_FALSE(GuardedAuthenticator(std::make_shared<Working>(), "none").verifiesCredentials());
}

TEST(GuardedAuthenticator, AHungPluginIsARefusalAfterTheTimeout) {
  auto hanging = std::make_shared<Hanging>();
  {
    GuardedAuthenticator auth(hanging, "oidc", std::chrono::milliseconds(50));
    auto started = std::chrono::steady_clock::now();
    auto decision = auth.authenticate({});
    auto waited = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(decision.isOk());
    EXPECT_EQ(decision.status().code(), ErrorCode::Timeout);
    EXPECT_EQ(decision.status().message(), "plugin oidc gave no answer within 50 ms");
    EXPECT_GE(waited, std::chrono::milliseconds(50));
    // Further calls are refused too (never silently allowed) while the plugin stays stuck.
    EXPECT_EQ(auth.authenticate({}).status().code(), ErrorCode::Timeout);
    hanging->release();
  }  // the guard's threads finish the late calls before it goes
  EXPECT_EQ(hanging->calls, 2);
}

TEST(GuardedAuthenticator, AnAnswerInTimeIsForwardedFromItsThread) {
  GuardedAuthenticator auth(std::make_shared<Working>(), "jwt", std::chrono::milliseconds(5000));
  sdk::AuthRequest request;
  request.user = "carol";
  EXPECT_EQ(auth.authenticate(request).value().principal, "carol");
  EXPECT_EQ(GuardedAuthenticator(std::make_shared<Throwing>(), "jwt", std::chrono::seconds(5))
                .authenticate({})
                .status()
                .message(),
            "plugin jwt threw: jwks fetch");
}

}  // namespace
}  // namespace podterm::host
