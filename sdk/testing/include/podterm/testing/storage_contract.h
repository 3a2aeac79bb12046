#pragma once
// The Storage contract suite (googletest "abstract tests"): every storage plugin instantiates it
// with a factory and runs the same cases.
//
//   INSTANTIATE_TEST_SUITE_P(MyStorage, StorageContractTest,
//                            ::testing::Values(StorageContractParam{"my", factory}),
//                            podterm::testing::storageContractName);
//
// Each case builds a fresh storage object (factory) and uses workspaces, session ids and
// notification channels of its own (unique to the case and process), so cases may share one
// database. purgeDeleted and listSessionLeases are global: a case only checks its own rows.
// Notification cases wait for deliveries with deadlines (kNotifyDeadline), never a fixed sleep.

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "podterm/storage.h"

namespace podterm::testing {

struct StorageContractParam {
  std::string name;
  // Returns null when the storage cannot be built (the case fails with that, unless the factory
  // called GTEST_SKIP(), e.g. because the database it needs is not configured).
  std::function<std::shared_ptr<sdk::Storage>()> factory;
  // True when a notification reaches subscribers of another storage object the factory built
  // (another replica on the same database). False for single-replica plugins whose notifications
  // stay within one object (storage-sqlite).
  bool notifies_other_instances = true;
};

inline void PrintTo(const StorageContractParam& param, std::ostream* os) {
  *os << param.name;
}

std::string storageContractName(const ::testing::TestParamInfo<StorageContractParam>& info);

class StorageContractTest : public ::testing::TestWithParam<StorageContractParam> {
 protected:
  void SetUp() override;
  void TearDown() override;

  sdk::Storage& storage() { return *storage_; }
  // A workspace no other case or process uses; suffix tells two apart within a case.
  sdk::WorkspaceId workspace(const std::string& suffix = "ws") const;
  // A session id no other case or process uses, in the host's grammar.
  std::string sessionId(const std::string& suffix = "s") const;
  // A notification channel (at most 63 bytes) no other case or process uses.
  std::string channel(const std::string& suffix = "c") const;
  // Another storage object from the factory (on the same database): a second replica.
  std::shared_ptr<sdk::Storage> another();

  std::shared_ptr<sdk::Storage> storage_;
  std::string user_;
  std::string tag_;  // short and unique to the case and process, for channels
};

// Builders for the cases (and for plugin-specific tests).
sdk::Item fileItem(const std::string& path, const std::string& content, uint32_t mode = 0644);
sdk::ItemChange upsert(const std::string& path, const std::string& content,
                       int64_t expected_version = -1);
sdk::ItemChange removal(const std::string& path, int64_t expected_version = -1);

}  // namespace podterm::testing
