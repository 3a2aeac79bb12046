#pragma once
// The Storage contract suite (googletest "abstract tests"): every storage plugin instantiates it
// with a factory and runs the same cases.
//
//   INSTANTIATE_TEST_SUITE_P(MyStorage, StorageContractTest,
//                            ::testing::Values(StorageContractParam{"my", factory}),
//                            podterm::testing::storageContractName);
//
// Each case builds a fresh storage object (factory) and uses workspaces of its own (user ids
// unique to the case and process), so cases may share one database. purgeDeleted is global: a
// case only checks its own rows after it.

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

  std::shared_ptr<sdk::Storage> storage_;
  std::string user_;
};

// Builders for the cases (and for plugin-specific tests).
sdk::Item fileItem(const std::string& path, const std::string& content, uint32_t mode = 0644);
sdk::ItemChange upsert(const std::string& path, const std::string& content,
                       int64_t expected_version = -1);
sdk::ItemChange removal(const std::string& path, int64_t expected_version = -1);

}  // namespace podterm::testing
