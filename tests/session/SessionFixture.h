#pragma once
// The environment of a Session (or a SessionManager, or SessionLeases) under test, shared by the
// session test files: a mock runtime whose pods report through the observer it was handed, a
// shell on a mock stream for every openStream, virtual time, a queue for blocking work, and a
// recording client. What a test file needs beyond that, it adds: options_ before a session
// starts, a syncer or policy or virtual clock in context_, and the hooks below.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "TestDoubles.h"
#include "podterm/testing/mocks.h"
#include "session/Session.h"

namespace podterm::host::testing {

class SessionFixture : public ::testing::Test {
 protected:
  // The runtime's defaults: a test's own ON_CALL or EXPECT_CALL takes precedence.
  SessionFixture() {
    using ::testing::_;
    using ::testing::Invoke;
    ON_CALL(runtime_, ensurePod(_, _))
        .WillByDefault(Invoke([this](const sdk::PodSpec& spec, sdk::PodObserver* observer) {
          spec_ = spec;
          observer_ = observer;
          observers_[spec.session_id] = observer;
          return sdk::Status::ok();
        }));
    ON_CALL(runtime_, deletePod(_)).WillByDefault(Invoke([this](const std::string& pod) {
      deleted_.push_back(pod);
      onPodDeleted(pod);
      return sdk::Status::ok();
    }));
    ON_CALL(runtime_, openStream(_, _, _))
        .WillByDefault(Invoke([this](const std::string&, const sdk::StreamSpec& spec,
                                     sdk::StreamObserver*) {
          ++shells_;
          shell_spec_ = spec;
          onShellOpened(spec);
          auto stream = std::make_unique<::testing::NiceMock<podterm::testing::MockExecStream>>();
          ON_CALL(*stream, close()).WillByDefault(Invoke([this] { ++closed_streams_; }));
          return sdk::Result<sdk::ExecStreamPtr>(sdk::ExecStreamPtr(std::move(stream)));
        }));
  }

  // Hooks, called by the runtime's default actions after they recorded the call.
  virtual void onShellOpened(const sdk::StreamSpec& spec) {}
  virtual void onPodDeleted(const std::string& pod) {}

  // The session's idle and restart clocks follow timers_ (virtual time) instead of steady_clock.
  void useVirtualClock() {
    context_.clock = [this] { return std::chrono::steady_clock::time_point(timers_.now()); };
  }

  // A session of id on context_ with options_, client attached, started (its pod asked for);
  // ended_ counts its end.
  std::shared_ptr<Session> startSession(const SessionId& id,
                                        std::shared_ptr<RecordingClient> client = nullptr) {
    auto session =
        std::make_shared<Session>(id, options_, context_, [this](const std::string&) { ++ended_; });
    session->attach(client ? std::move(client) : client_, std::nullopt);
    session->start();
    return session;
  }
  // The pod last asked for reports Ready, and the work that queued (loading the files, opening
  // the shell) runs.
  void podReady() {
    observer_->onPodStatus({sdk::PodPhase::Ready, "", ""});
    blocking_.drain();
  }
  // startSession, then podReady; the state is not checked (a failed load leaves it Starting).
  std::shared_ptr<Session> startReady(const SessionId& id,
                                      std::shared_ptr<RecordingClient> client = nullptr) {
    auto session = startSession(id, std::move(client));
    podReady();
    return session;
  }
  // startReady, expecting the session Ready.
  std::shared_ptr<Session> makeReady(const SessionId& id) {
    auto session = startReady(id);
    EXPECT_EQ(session->state(), SessionState::Ready);
    return session;
  }
  // Fires due timers and runs the work they queued.
  void advance(std::chrono::milliseconds by) {
    timers_.advance(by);
    blocking_.drain();
  }

  SessionOptions options_;
  ::testing::NiceMock<podterm::testing::MockPodRuntime> runtime_;
  ManualScheduler timers_;
  ManualExecutor blocking_;
  Session::Context context_{runtime_, timers_, blocking_};
  std::shared_ptr<RecordingClient> client_ = std::make_shared<RecordingClient>();

  // What the runtime was asked: the last pod (spec_, observer_), every pod's observer by session
  // id, the pods deleted in order, the shells opened (the last one's spec) and closed.
  sdk::PodSpec spec_;
  sdk::PodObserver* observer_ = nullptr;
  std::map<std::string, sdk::PodObserver*> observers_;
  std::vector<std::string> deleted_;
  int shells_ = 0;
  sdk::StreamSpec shell_spec_;
  int closed_streams_ = 0;
  int ended_ = 0;
};

}  // namespace podterm::host::testing
