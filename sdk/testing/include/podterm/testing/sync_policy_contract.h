#pragma once
// The SyncPolicy contract suite (googletest "abstract tests"): every policy instantiates it with a
// factory and runs the same cases.
//
//   INSTANTIATE_TEST_SUITE_P(MyPolicy, SyncPolicyContractTest,
//                            ::testing::Values(SyncPolicyContractParam{"my", factory}),
//                            podterm::testing::syncPolicyContractName);
//
// What every policy promises: the spec's file-writing commands (touch, `echo >`, `cat >`, `>>`,
// tee, python, node, vim, nano, pip install, npm install, wget, curl, git clone) sync whatever
// their exit code; the same command gets the same decision; concurrent calls are safe; hostile
// command lines (huge, NUL bytes, invalid UTF-8, unbalanced quotes) get an answer quickly.

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "podterm/config_view.h"
#include "podterm/sync_policy.h"
#include "podterm/testing/map_config_view.h"

namespace podterm::testing {

struct SyncPolicyContractParam {
  std::string name;
  // Returns null when the policy cannot be built (the case fails with that).
  std::function<std::shared_ptr<sdk::SyncPolicy>()> factory;
};

inline void PrintTo(const SyncPolicyContractParam& param, std::ostream* os) {
  *os << param.name;
}

std::string syncPolicyContractName(const ::testing::TestParamInfo<SyncPolicyContractParam>& info);

// Lines every policy must sync.
const std::vector<std::string>& fileWritingCommandLines();

class SyncPolicyContractTest : public ::testing::TestWithParam<SyncPolicyContractParam> {
 protected:
  // Builds a fresh policy for this case (fails the case when null).
  std::shared_ptr<sdk::SyncPolicy> policy();
  static sdk::FinishedCommand command(const std::string& line, int exit_code = 0);
};

}  // namespace podterm::testing
