#pragma once
// What one scenario measured, and its plain-text table and JSON line.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "LatencyStats.h"

namespace podterm::bench {

struct MetricRow {
  std::string name;
  std::string unit;  // "ms" or "us"
  Summary summary;
};

struct ScenarioReport {
  std::string scenario;
  std::string title;
  std::vector<MetricRow> rows;
  std::vector<std::pair<std::string, std::string>> facts;  // name, value with its unit
  std::map<std::string, int> failures;                     // reason -> count
  bool aborted = false;                                    // the --duration cap ended it
  double wall_s = 0;
};

std::string formatTable(const ScenarioReport& report);
std::string formatJson(const ScenarioReport& report);

}  // namespace podterm::bench
