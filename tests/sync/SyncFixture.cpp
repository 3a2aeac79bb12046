#include "SyncFixture.h"

#include <atomic>
#include <chrono>

#include "FakePodPlugin.h"

namespace podterm::tests::sync {

std::shared_ptr<sdk::PodRuntime> SyncTest::real_;
std::unique_ptr<FaultRuntime> SyncTest::runtime_;

namespace {
std::atomic<int> session_counter{0};
}

::testing::AssertionResult reportOk(const host::SyncReport& report) {
  if (report.ok()) return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure() << report.summary();
  for (const auto& s : report.skipped) failure << "\n  skipped " << s.path << ": " << s.reason;
  return failure;
}

void SyncTest::SetUpTestSuite() {
  auto created = fakepod::createFakePod({{"network", std::string("none")}});
  ASSERT_TRUE(created.status) << created.status.message();
  real_ = created.runtime;
  runtime_ = std::make_unique<FaultRuntime>(*real_);
}

void SyncTest::TearDownTestSuite() {
  runtime_.reset();
  real_.reset();
}

void SyncTest::TearDown() {
  if (!runtime_) return;
  runtime_->clear();
  for (const auto& s : sessions_) {
    runtime_->stopObserving(s);
    runtime_->deletePod(s);
  }
}

std::string SyncTest::startPod(const std::string& name) {
  std::string session = "user_1_ws_" + name + "_" + std::to_string(::getpid()) + "_" +
                        std::to_string(session_counter++);
  auto& observer = observers_.emplace_back();
  sdk::PodSpec spec;
  spec.session_id = session;
  spec.user = ws_.user;
  spec.workspace = ws_.workspace;
  EXPECT_TRUE(runtime_->ensurePod(spec, &observer));
  sessions_.push_back(session);
  sdk::PodStatus status;
  EXPECT_TRUE(observer.waitFor(
      [](const sdk::PodStatus& s) {
        return s.phase == sdk::PodPhase::Ready || s.phase == sdk::PodPhase::Failed;
      },
      std::chrono::seconds(30), &status));
  EXPECT_EQ(status.phase, sdk::PodPhase::Ready) << status.message;
  return session;
}

host::ExecResult SyncTest::sh(const std::string& session, const std::string& script,
                              const std::string& input) {
  host::ExecRequest request;
  request.argv = {"sh", "-c", script};
  request.timeout = std::chrono::seconds(30);
  return host::PodExec::run(*runtime_, session, request, input);
}

void SyncTest::putFile(const std::string& path, const std::string& content, uint32_t mode,
                       int64_t mtime_ms) {
  sdk::Item item;
  item.meta.path = path;
  item.meta.kind = sdk::ItemKind::File;
  item.meta.size = static_cast<int64_t>(content.size());
  item.meta.mode = mode;
  item.meta.mtime_ms = mtime_ms;
  item.meta.content_hash = host::sha256Hex(content);
  item.content = content;
  storage_.put(ws_, std::move(item));
}

void SyncTest::putItem(const std::string& path, sdk::ItemKind kind, const std::string& content) {
  sdk::Item item;
  item.meta.path = path;
  item.meta.kind = kind;
  item.meta.size = static_cast<int64_t>(content.size());
  item.meta.mode = kind == sdk::ItemKind::Directory ? 0755 : 0777;
  item.meta.mtime_ms = 1700000000000;
  item.meta.content_hash = kind == sdk::ItemKind::Directory ? "" : host::sha256Hex(content);
  item.content = content;
  storage_.put(ws_, std::move(item));
}

std::string SyncTest::stored(const std::string& path) {
  sdk::Item item;
  if (!storage_.get(ws_, path, &item)) return "<none>";
  return item.content;
}

host::WorkspaceSync SyncTest::makeSync(host::SyncOptions options) {
  return host::WorkspaceSync(*runtime_, storage_, std::move(options));
}

}  // namespace podterm::tests::sync
