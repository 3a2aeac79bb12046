#include "podterm/testing/runtime_contract.h"

#include <algorithm>
#include <sstream>

namespace podterm::testing {

using namespace std::chrono_literals;
using sdk::PodPhase;

namespace {

constexpr auto kExecTimeout = 30s;
// How long a "nothing happens" check watches (no event can prove a negative).
constexpr auto kQuietPeriod = 300ms;

bool isPhase(const sdk::PodStatus& s, PodPhase phase) {
  return s.phase == phase;
}

std::string phases(const std::vector<sdk::PodStatus>& statuses) {
  std::string out;
  for (const auto& s : statuses) {
    out += std::string(sdk::podPhaseName(s.phase)) + "(" + s.reason + ") ";
  }
  return out;
}

}  // namespace

std::string runtimeContractName(const ::testing::TestParamInfo<RuntimeContractParam>& info) {
  std::string name;
  for (char c : info.param.name) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

// --- RecordingPodObserver ---------------------------------------------------------------------

void RecordingPodObserver::onPodStatus(const sdk::PodStatus& status) {
  std::lock_guard<std::mutex> lock(mu_);
  statuses_.push_back(status);
  cv_.notify_all();
}

bool RecordingPodObserver::waitFor(const std::function<bool(const sdk::PodStatus&)>& pred,
                                   std::chrono::milliseconds timeout, sdk::PodStatus* found) {
  std::unique_lock<std::mutex> lock(mu_);
  bool ok = cv_.wait_for(lock, timeout,
                         [&] { return std::any_of(statuses_.begin(), statuses_.end(), pred); });
  if (ok && found != nullptr) *found = *std::find_if(statuses_.begin(), statuses_.end(), pred);
  return ok;
}

std::vector<sdk::PodStatus> RecordingPodObserver::statuses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return statuses_;
}

// --- RecordingStreamObserver ------------------------------------------------------------------

void RecordingStreamObserver::onStdout(const char* data, size_t size) {
  std::function<void(size_t)> hook;
  size_t total;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out_.append(data, size);
    total = out_.size();
    hook = hook_;
    cv_.notify_all();
  }
  if (hook) hook(total);
}

void RecordingStreamObserver::onStderr(const char* data, size_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  err_.append(data, size);
  cv_.notify_all();
}

void RecordingStreamObserver::onExit(const sdk::StreamExit& exit) {
  std::lock_guard<std::mutex> lock(mu_);
  exit_ = exit;
  ++exit_calls_;
  cv_.notify_all();
}

bool RecordingStreamObserver::waitForExit(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return exit_calls_ > 0; });
}

bool RecordingStreamObserver::waitForStdout(const std::string& needle,
                                            std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return out_.find(needle) != std::string::npos; });
}

bool RecordingStreamObserver::waitForStdoutSize(size_t size, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return out_.size() >= size; });
}

std::string RecordingStreamObserver::out() const {
  std::lock_guard<std::mutex> lock(mu_);
  return out_;
}

std::string RecordingStreamObserver::err() const {
  std::lock_guard<std::mutex> lock(mu_);
  return err_;
}

sdk::StreamExit RecordingStreamObserver::exit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exit_;
}

int RecordingStreamObserver::exitCalls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exit_calls_;
}

void RecordingStreamObserver::setOnStdout(std::function<void(size_t)> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  hook_ = std::move(hook);
}

// --- fixture ----------------------------------------------------------------------------------

void RuntimeContractTest::TearDown() {
  runtime_.reset();
}

sdk::PodRuntime* RuntimeContractTest::runtime(const ContractOptions& options) {
  runtime_ = GetParam().factory(options);
  if (!runtime_) {
    ADD_FAILURE() << GetParam().name << ": the factory could not build a runtime";
    return nullptr;
  }
  bool injects = !options.fail_create.empty() || options.never_ready || options.start_delay_ms;
  if (injects && !runtime_->capabilities().failure_injection) {
    []() { GTEST_SKIP() << "this runtime cannot inject failures (capabilities())"; }();
    return nullptr;
  }
  return runtime_.get();
}

RecordingPodObserver& RuntimeContractTest::podObserver() {
  return pod_observers_.emplace_back();
}

sdk::PodSpec RuntimeContractTest::spec(const std::string& suffix) const {
  sdk::PodSpec s;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string test = info != nullptr ? info->name() : "test";
  test = test.substr(0, test.find('/'));
  std::transform(test.begin(), test.end(), test.begin(),
                 [](unsigned char c) { return std::isalnum(c) ? c : '-'; });
  s.session_id = "contract-" + test + "-" + suffix;
  s.user = "contract";
  s.workspace = suffix;
  s.labels["test"] = "contract";
  return s;
}

void RuntimeContractTest::createReady(const sdk::PodSpec& spec, RecordingPodObserver& observer) {
  ASSERT_TRUE(runtime_->ensurePod(spec, &observer)) << "ensurePod refused";
  sdk::PodStatus final_status;
  bool done = observer.waitFor(
      [](const sdk::PodStatus& s) {
        return s.phase == PodPhase::Ready || s.phase == PodPhase::Failed;
      },
      GetParam().ready_timeout, &final_status);
  ASSERT_TRUE(done) << "no Ready within the deadline; saw " << phases(observer.statuses());
  ASSERT_EQ(final_status.phase, PodPhase::Ready)
      << "pod failed: " << final_status.reason << ": " << final_status.message;
}

void RuntimeContractTest::run(const std::string& session, const std::vector<std::string>& argv,
                              const std::string& input, RecordingStreamObserver& observer) {
  sdk::StreamSpec s;
  s.argv = argv;
  auto stream = runtime_->openStream(session, s, &observer);
  ASSERT_TRUE(stream) << stream.status().message();
  if (!input.empty()) {
    ASSERT_TRUE(stream.value()->write(input.data(), input.size()));
  }
  ASSERT_TRUE(stream.value()->closeStdin());
  ASSERT_TRUE(observer.waitForExit(kExecTimeout)) << "no exit; stdout so far: " << observer.out();
}

// --- lifecycle --------------------------------------------------------------------------------

TEST_P(RuntimeContractTest, CreateReachesReadyThroughTheObserver) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto& observer = podObserver();
  auto s = spec("a");
  ASSERT_NO_FATAL_FAILURE(createReady(s, observer));
  auto statuses = observer.statuses();
  for (const auto& st : statuses) {
    EXPECT_NE(st.phase, PodPhase::Failed) << phases(statuses);
    EXPECT_NE(st.phase, PodPhase::Gone) << phases(statuses);
  }
  auto now = rt->podStatus(s.session_id);
  ASSERT_TRUE(now);
  EXPECT_EQ(now.value().phase, PodPhase::Ready);
}

TEST_P(RuntimeContractTest, EnsurePodIsIdempotent) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto s = spec("a");
  ASSERT_NO_FATAL_FAILURE(createReady(s, podObserver()));
  RecordingStreamObserver write;
  ASSERT_NO_FATAL_FAILURE(run(s.session_id, {"sh", "-c", "echo kept > idempotent.txt"}, "", write));
  // The second call adopts the pod: the new observer starts with the current state.
  auto& second = podObserver();
  ASSERT_NO_FATAL_FAILURE(createReady(s, second));
  EXPECT_EQ(second.statuses().front().phase, PodPhase::Ready) << phases(second.statuses());
  RecordingStreamObserver read;
  ASSERT_NO_FATAL_FAILURE(run(s.session_id, {"cat", "idempotent.txt"}, "", read));
  EXPECT_EQ(read.out(), "kept\n");
  auto pods = rt->listPods();
  ASSERT_TRUE(pods);
  EXPECT_EQ(std::count_if(pods.value().begin(), pods.value().end(),
                          [&](const sdk::PodInfo& p) { return p.session_id == s.session_id; }),
            1);
}

TEST_P(RuntimeContractTest, MissingPodIsGone) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto status = rt->podStatus("contract-never-created");
  ASSERT_TRUE(status) << status.status().message();
  EXPECT_EQ(status.value().phase, PodPhase::Gone);
  RecordingStreamObserver observer;
  sdk::StreamSpec s;
  s.argv = {"true"};
  auto stream = rt->openStream("contract-never-created", s, &observer);
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.status().code(), sdk::ErrorCode::NotFound);
}

TEST_P(RuntimeContractTest, CreationFailureIsReportedAsFailed) {
  ContractOptions options;
  options.fail_create = "Insufficient resources in cluster";
  auto* rt = runtime(options);
  if (rt == nullptr) return;
  auto& observer = podObserver();
  auto s = spec("a");
  ASSERT_TRUE(rt->ensurePod(s, &observer));
  sdk::PodStatus failed;
  ASSERT_TRUE(
      observer.waitFor([](const sdk::PodStatus& st) { return isPhase(st, PodPhase::Failed); },
                       GetParam().ready_timeout, &failed))
      << phases(observer.statuses());
  EXPECT_EQ(failed.message, "Insufficient resources in cluster");
  EXPECT_EQ(rt->podStatus(s.session_id).value().phase, PodPhase::Failed);
  for (const auto& st : observer.statuses()) EXPECT_NE(st.phase, PodPhase::Ready);
}

TEST_P(RuntimeContractTest, StartDelayKeepsThePodPending) {
  ContractOptions options;
  options.start_delay_ms = 300;
  auto* rt = runtime(options);
  if (rt == nullptr) return;
  auto& observer = podObserver();
  auto s = spec("a");
  ASSERT_TRUE(rt->ensurePod(s, &observer));
  EXPECT_EQ(rt->podStatus(s.session_id).value().phase, PodPhase::Pending);
  ASSERT_NO_FATAL_FAILURE(createReady(s, observer));
  auto statuses = observer.statuses();
  ASSERT_FALSE(statuses.empty());
  EXPECT_EQ(statuses.front().phase, PodPhase::Pending) << phases(statuses);
  EXPECT_FALSE(statuses.front().reason.empty());
}

TEST_P(RuntimeContractTest, NeverReadyStaysNotReady) {
  ContractOptions options;
  options.never_ready = true;
  auto* rt = runtime(options);
  if (rt == nullptr) return;
  auto& observer = podObserver();
  auto s = spec("a");
  ASSERT_TRUE(rt->ensurePod(s, &observer));
  ASSERT_TRUE(observer.waitFor([](const sdk::PodStatus&) { return true; }, kExecTimeout));
  EXPECT_FALSE(observer.waitFor(
      [](const sdk::PodStatus& st) { return st.phase == PodPhase::Ready; }, kQuietPeriod))
      << phases(observer.statuses());
  EXPECT_NE(rt->podStatus(s.session_id).value().phase, PodPhase::Ready);
  RecordingStreamObserver stream_observer;
  sdk::StreamSpec stream_spec;
  stream_spec.argv = {"true"};
  auto stream = rt->openStream(s.session_id, stream_spec, &stream_observer);
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.status().code(), sdk::ErrorCode::Unavailable);
}

TEST_P(RuntimeContractTest, ListPodsShowsEveryPodAndKeepsCaseApart) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto lower = spec("case");
  auto upper = spec("CASE");
  ASSERT_NO_FATAL_FAILURE(createReady(lower, podObserver()));
  ASSERT_NO_FATAL_FAILURE(createReady(upper, podObserver()));
  auto pods = rt->listPods();
  ASSERT_TRUE(pods);
  std::vector<std::string> names;
  for (const auto& p : pods.value()) {
    if (p.session_id == lower.session_id || p.session_id == upper.session_id) {
      names.push_back(p.pod_name);
      EXPECT_FALSE(p.pod_name.empty());
      EXPECT_GT(p.created_unix_ms, 0);
    }
  }
  ASSERT_EQ(names.size(), 2u);
  EXPECT_NE(names[0], names[1]);
  RecordingStreamObserver write, read;
  ASSERT_NO_FATAL_FAILURE(run(lower.session_id, {"sh", "-c", "echo lower > who"}, "", write));
  ASSERT_NO_FATAL_FAILURE(
      run(upper.session_id, {"sh", "-c", "cat who 2>/dev/null; true"}, "", read));
  EXPECT_EQ(read.out(), "");
}

// --- exec ---------------------------------------------------------------------------------------

TEST_P(RuntimeContractTest, ExecSeparatesStdoutStderrAndReportsTheExitCode) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto s = spec("a");
  ASSERT_NO_FATAL_FAILURE(createReady(s, podObserver()));
  RecordingStreamObserver observer;
  ASSERT_NO_FATAL_FAILURE(run(s.session_id,
                              {"sh", "-c", "read line; echo out:$line; echo err:$line >&2; exit 3"},
                              "hello\n", observer));
  EXPECT_EQ(observer.out(), "out:hello\n");
  EXPECT_EQ(observer.err(), "err:hello\n");
  EXPECT_EQ(observer.exit().exit_code, 3);
  EXPECT_EQ(observer.exit().signal, 0);
  EXPECT_TRUE(observer.exit().error.isOk());
  EXPECT_EQ(observer.exitCalls(), 1);
}

TEST_P(RuntimeContractTest, CloseStdinEndsCat) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto s = spec("a");
  ASSERT_NO_FATAL_FAILURE(createReady(s, podObserver()));
  RecordingStreamObserver observer;
  ASSERT_NO_FATAL_FAILURE(run(s.session_id, {"cat"}, "line one\nline two", observer));
  EXPECT_EQ(observer.out(), "line one\nline two");
  EXPECT_EQ(observer.exit().exit_code, 0);
  EXPECT_EQ(observer.exitCalls(), 1);
}

TEST_P(RuntimeContractTest, KilledProcessReportsTheSignal) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto s = spec("a");
  ASSERT_NO_FATAL_FAILURE(createReady(s, podObserver()));
  RecordingStreamObserver observer;
  ASSERT_NO_FATAL_FAILURE(run(s.session_id, {"sh", "-c", "kill -9 $$"}, "", observer));
  EXPECT_EQ(observer.exit().signal, 9);
  EXPECT_EQ(observer.exit().exit_code, 137);
}

TEST_P(RuntimeContractTest, MissingCommandFails) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto s = spec("a");
  ASSERT_NO_FATAL_FAILURE(createReady(s, podObserver()));
  RecordingStreamObserver observer;
  sdk::StreamSpec stream_spec;
  stream_spec.argv = {"podterm-no-such-command"};
  auto stream = rt->openStream(s.session_id, stream_spec, &observer);
  if (!stream) return;  // refusing up front is fine too
  ASSERT_TRUE(observer.waitForExit(kExecTimeout));
  EXPECT_NE(observer.exit().exit_code, 0);
}

TEST_P(RuntimeContractTest, LargeOutputArrivesCompleteAndInOrder) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto s = spec("a");
  ASSERT_NO_FATAL_FAILURE(createReady(s, podObserver()));
  constexpr int kLines = 1200000;  // about 8 MiB
  std::string expected;
  expected.reserve(9 << 20);
  for (int i = 1; i <= kLines; ++i) expected += std::to_string(i) + "\n";
  RecordingStreamObserver observer;
  ASSERT_NO_FATAL_FAILURE(run(s.session_id, {"seq", "1", std::to_string(kLines)}, "", observer));
  EXPECT_EQ(observer.exit().exit_code, 0);
  const std::string out = observer.out();
  ASSERT_EQ(out.size(), expected.size());
  EXPECT_TRUE(out == expected) << "output differs from seq's";
}

TEST_P(RuntimeContractTest, PauseStopsOutputAndResumeDeliversTheRest) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto s = spec("a");
  ASSERT_NO_FATAL_FAILURE(createReady(s, podObserver()));
  constexpr size_t kTotal = 4 << 20;
  RecordingStreamObserver observer;
  sdk::ExecStream* raw = nullptr;
  std::mutex raw_mu;
  // Pause from inside the first callback, the way a host reacts to a slow client.
  observer.setOnStdout([&](size_t) {
    std::lock_guard<std::mutex> lock(raw_mu);
    if (raw != nullptr) raw->pauseOutput();
  });
  sdk::StreamSpec stream_spec;
  stream_spec.argv = {"head", "-c", std::to_string(kTotal), "/dev/zero"};
  sdk::ExecStreamPtr stream;
  {
    std::lock_guard<std::mutex> lock(raw_mu);
    auto opened = rt->openStream(s.session_id, stream_spec, &observer);
    ASSERT_TRUE(opened) << opened.status().message();
    stream = std::move(opened.value());
    raw = stream.get();
    raw->pauseOutput();
  }
  // A callback already under way when pauseOutput() returned may still finish (the contract
  // allows it), so let it settle first. Then, while paused, the process fills its pipe and
  // blocks: it cannot finish and nothing more arrives.
  EXPECT_FALSE(observer.waitForExit(kQuietPeriod));
  const size_t before = observer.out().size();
  EXPECT_FALSE(observer.waitForExit(kQuietPeriod));
  EXPECT_LT(before, kTotal);
  EXPECT_EQ(observer.out().size(), before);
  observer.setOnStdout(nullptr);
  stream->resumeOutput();
  ASSERT_TRUE(observer.waitForExit(kExecTimeout));
  EXPECT_EQ(observer.out().size(), kTotal);
  EXPECT_EQ(observer.exit().exit_code, 0);
  {
    std::lock_guard<std::mutex> lock(raw_mu);
    raw = nullptr;
  }
}

TEST_P(RuntimeContractTest, InteractiveShellHasATerminalOfTheRequestedSize) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto s = spec("a");
  ASSERT_NO_FATAL_FAILURE(createReady(s, podObserver()));
  RecordingStreamObserver observer;
  sdk::StreamSpec stream_spec;
  stream_spec.argv = {"sh", "-c",
                      "test -t 0 && echo is-a-tty; stty size; read line; stty size; exit 0"};
  stream_spec.tty = true;
  stream_spec.cols = 100;
  stream_spec.rows = 30;
  stream_spec.env["TERM"] = "xterm-256color";
  auto stream = rt->openStream(s.session_id, stream_spec, &observer);
  ASSERT_TRUE(stream) << stream.status().message();
  ASSERT_TRUE(observer.waitForStdout("30 100", kExecTimeout)) << observer.out();
  EXPECT_NE(observer.out().find("is-a-tty"), std::string::npos);
  ASSERT_TRUE(stream.value()->resize(120, 40));
  ASSERT_TRUE(stream.value()->write("\r", 1));
  ASSERT_TRUE(observer.waitForStdout("40 120", kExecTimeout)) << observer.out();
  ASSERT_TRUE(observer.waitForExit(kExecTimeout));
  EXPECT_EQ(observer.exit().exit_code, 0);
  EXPECT_EQ(observer.err(), "");  // a terminal merges stderr into stdout
}

TEST_P(RuntimeContractTest, ClosingAStreamStopsCallbacksAndTheProcess) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto s = spec("a");
  ASSERT_NO_FATAL_FAILURE(createReady(s, podObserver()));
  RecordingStreamObserver observer;
  sdk::StreamSpec stream_spec;
  stream_spec.argv = {"sh", "-c", "echo started; while :; do echo tick; done"};
  stream_spec.tty = true;
  auto stream = rt->openStream(s.session_id, stream_spec, &observer);
  ASSERT_TRUE(stream);
  ASSERT_TRUE(observer.waitForStdout("started", kExecTimeout));
  stream.value()->close();
  const size_t after_close = observer.out().size();
  EXPECT_FALSE(observer.waitForStdoutSize(after_close + 1, kQuietPeriod));
  EXPECT_EQ(observer.exitCalls(), 0);
  EXPECT_FALSE(stream.value()->write("x", 1));
}

TEST_P(RuntimeContractTest, ExecsShareTheSameFilesystem) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto s = spec("a");
  ASSERT_NO_FATAL_FAILURE(createReady(s, podObserver()));
  RecordingStreamObserver first, second;
  ASSERT_NO_FATAL_FAILURE(
      run(s.session_id, {"sh", "-c", "mkdir -p sub && printf shared > sub/file"}, "", first));
  ASSERT_EQ(first.exit().exit_code, 0) << first.err();
  ASSERT_NO_FATAL_FAILURE(run(s.session_id, {"cat", "sub/file"}, "", second));
  EXPECT_EQ(second.out(), "shared");
}

// --- delete -------------------------------------------------------------------------------------

TEST_P(RuntimeContractTest, DeleteEndsStreamsWithAnErrorAndLeavesGone) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto& pod_observer = podObserver();
  auto s = spec("a");
  ASSERT_NO_FATAL_FAILURE(createReady(s, pod_observer));
  RecordingStreamObserver observer;
  sdk::StreamSpec stream_spec;
  stream_spec.argv = {"sh", "-c", "echo started; exec sleep 1000"};
  auto stream = rt->openStream(s.session_id, stream_spec, &observer);
  ASSERT_TRUE(stream);
  ASSERT_TRUE(observer.waitForStdout("started", kExecTimeout));
  ASSERT_TRUE(rt->deletePod(s.session_id));
  ASSERT_TRUE(observer.waitForExit(kExecTimeout));
  EXPECT_FALSE(observer.exit().error.isOk());
  EXPECT_EQ(observer.exitCalls(), 1);
  EXPECT_EQ(rt->podStatus(s.session_id).value().phase, PodPhase::Gone);
  auto pods = rt->listPods();
  ASSERT_TRUE(pods);
  for (const auto& p : pods.value()) EXPECT_NE(p.session_id, s.session_id);
}

TEST_P(RuntimeContractTest, DeleteIsIdempotent) {
  auto* rt = runtime();
  if (rt == nullptr) return;
  auto s = spec("a");
  ASSERT_NO_FATAL_FAILURE(createReady(s, podObserver()));
  EXPECT_TRUE(rt->deletePod(s.session_id));
  EXPECT_TRUE(rt->deletePod(s.session_id));
  EXPECT_TRUE(rt->deletePod("contract-never-created"));
  // A deleted session can get a fresh pod, without the old files.
  ASSERT_NO_FATAL_FAILURE(createReady(s, podObserver()));
}

}  // namespace podterm::testing
