#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "session/SessionSync.h"

namespace podterm::host {

// Session behaviour from [session] in the config; defaults are those of docs/protocol.md.
struct SessionOptions {
  std::chrono::milliseconds ready_timeout{60'000};
  std::chrono::milliseconds grace_period{30'000};
  size_t input_queue_bytes = 64 * 1024;
  std::vector<std::string> shell{"/bin/bash"};
  uint16_t initial_cols = 80;
  uint16_t initial_rows = 24;
  SessionSyncOptions sync;
};

}  // namespace podterm::host
