// The runtime contract suite over fakepod, loaded from its shared object.

#include <gtest/gtest.h>

#include "FakePodPlugin.h"
#include "podterm/testing/runtime_contract.h"

namespace podterm::tests::fakepod {
namespace {

using podterm::testing::ContractOptions;
using podterm::testing::RuntimeContractParam;
using podterm::testing::RuntimeContractTest;

std::shared_ptr<sdk::PodRuntime> make(const ContractOptions& options, int64_t warm_pool) {
  std::map<std::string, TestConfigView::Value> config = {
      {"start_delay_ms", int64_t{options.start_delay_ms}},
      {"fail_create", options.fail_create},
      {"never_ready", options.never_ready},
      {"warm_pool", warm_pool},
  };
  auto created = createFakePod(config);
  EXPECT_TRUE(created.status) << created.status.message();
  return created.runtime;
}

INSTANTIATE_TEST_SUITE_P(
    FakePod, RuntimeContractTest,
    ::testing::Values(
        RuntimeContractParam{"fakepod", [](const ContractOptions& o) { return make(o, 0); }},
        RuntimeContractParam{"fakepod_warm", [](const ContractOptions& o) { return make(o, 2); }}),
    podterm::testing::runtimeContractName);

}  // namespace
}  // namespace podterm::tests::fakepod
