#pragma once
// GoogleMock mocks of every SDK interface, for testing the host without real plugins.

#include <gmock/gmock.h>

#include "podterm/auth.h"
#include "podterm/runtime.h"
#include "podterm/storage.h"
#include "podterm/sync_policy.h"

namespace podterm::testing {

class MockPodRuntime : public sdk::PodRuntime {
 public:
  MOCK_METHOD(sdk::Status, ensurePod, (const sdk::PodSpec&, sdk::PodObserver*), (override));
  MOCK_METHOD(void, stopObserving, (const std::string&), (override));
  MOCK_METHOD(sdk::Result<sdk::PodStatus>, podStatus, (const std::string&), (override));
  MOCK_METHOD(sdk::Result<sdk::ExecStreamPtr>, openStream,
              (const std::string&, const sdk::StreamSpec&, sdk::StreamObserver*), (override));
  MOCK_METHOD(sdk::Status, deletePod, (const std::string&), (override));
  MOCK_METHOD(sdk::Result<std::vector<sdk::PodInfo>>, listPods, (), (override));
  MOCK_METHOD(sdk::RuntimeCapabilities, capabilities, (), (const, override));
};

class MockExecStream : public sdk::ExecStream {
 public:
  MOCK_METHOD(sdk::Status, write, (const char*, size_t), (override));
  MOCK_METHOD(sdk::Status, closeStdin, (), (override));
  MOCK_METHOD(sdk::Status, resize, (uint16_t, uint16_t), (override));
  MOCK_METHOD(void, pauseOutput, (), (override));
  MOCK_METHOD(void, resumeOutput, (), (override));
  MOCK_METHOD(void, close, (), (override));
  MOCK_METHOD(size_t, pendingInput, (), (const, override));
};

class MockStorage : public sdk::Storage {
 public:
  MOCK_METHOD(sdk::Result<std::vector<sdk::ItemMeta>>, listManifest,
              (const sdk::WorkspaceId&, bool), (override));
  MOCK_METHOD(sdk::Result<std::vector<sdk::Item>>, readItems,
              (const sdk::WorkspaceId&, const std::vector<std::string>&), (override));
  MOCK_METHOD(sdk::Result<std::vector<sdk::Item>>, readWorkspace, (const sdk::WorkspaceId&),
              (override));
  MOCK_METHOD(sdk::Result<sdk::BatchResult>, applyBatch,
              (const sdk::WorkspaceId&, const std::vector<sdk::ItemChange>&), (override));
  MOCK_METHOD(sdk::Result<sdk::ItemMeta>, restore, (const sdk::WorkspaceId&, const std::string&),
              (override));
  MOCK_METHOD(sdk::Result<int64_t>, purgeDeleted, (int64_t), (override));
  MOCK_METHOD(sdk::Result<sdk::LeaseGrant>, acquireLease,
              (const sdk::WorkspaceId&, const std::string&, int64_t), (override));
  MOCK_METHOD(sdk::Status, releaseLease, (const sdk::WorkspaceId&, const std::string&), (override));
  MOCK_METHOD(sdk::Result<sdk::LeaseGrant>, acquireSessionLease,
              (const std::string&, const std::string&, int64_t, sdk::LeaseMode), (override));
  MOCK_METHOD(sdk::Status, releaseSessionLease, (const std::string&, const std::string&),
              (override));
  MOCK_METHOD(sdk::Result<std::vector<sdk::SessionLease>>, listSessionLeases, (), (override));
  MOCK_METHOD(sdk::Status, notify, (const std::string&, const std::string&), (override));
  MOCK_METHOD(sdk::Result<sdk::SubscriptionPtr>, subscribe,
              (const std::string&, sdk::NotificationCallback), (override));
};

class MockSyncPolicy : public sdk::SyncPolicy {
 public:
  MOCK_METHOD(sdk::SyncDecision, afterCommand, (const sdk::FinishedCommand&), (override));
  MOCK_METHOD(int64_t, idleSyncAfterMs, (), (const, override));
};

class MockAuthenticator : public sdk::Authenticator {
 public:
  MOCK_METHOD(sdk::Result<sdk::AuthDecision>, authenticate, (const sdk::AuthRequest&), (override));
  MOCK_METHOD(bool, verifiesCredentials, (), (const, noexcept, override));
};

}  // namespace podterm::testing
