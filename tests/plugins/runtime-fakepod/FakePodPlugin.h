#pragma once
// Loads runtime-fakepod.so the way the host does (Boost.DLL, descriptor check) and builds
// runtimes from it, each with its own temporary data dir (removed with the runtime).

#include <map>
#include <memory>
#include <string>

#include "TestConfigView.h"
#include "podterm/runtime.h"

namespace podterm::tests::fakepod {

struct CreatedRuntime {
  std::shared_ptr<sdk::PodRuntime> runtime;  // null on failure
  sdk::Status status;
  std::vector<std::string> unread_keys;
  std::string data_dir;
};

// values: the [runtime.fakepod] table; data_dir defaults to a fresh temporary directory.
CreatedRuntime createFakePod(std::map<std::string, TestConfigView::Value> values);

}  // namespace podterm::tests::fakepod
