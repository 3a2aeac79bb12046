#pragma once
// Runs one scenario of podterm-load on a single EventLoop thread and returns its report.
// Blocks the calling thread for at most --duration (plus a few seconds to close sessions).

#include "LoadOptions.h"
#include "Report.h"

namespace podterm::bench {

ScenarioReport runScenario(const LoadOptions& options);

}  // namespace podterm::bench
