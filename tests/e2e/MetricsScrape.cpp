#include "MetricsScrape.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "HostProcess.h"

namespace podterm::e2e {

std::map<std::string, double> parseMetrics(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    const auto close = line.rfind('}');
    const auto space = line.find(' ', close == std::string::npos ? 0 : close);
    if (line.empty() || line[0] == '#' || space == std::string::npos) {
      ADD_FAILURE() << "not a sample: " << line;
      continue;
    }
    const std::string value = line.substr(space + 1);
    samples[line.substr(0, space)] = value == "+Inf" ? INFINITY : std::stod(value);
  }
  return samples;
}

std::map<std::string, double> scrapeMetrics(uint16_t port) {
  const std::string response = httpGet(port, "/metrics");
  EXPECT_EQ(response.substr(0, 4), "200 ") << response;
  return parseMetrics(response.size() > 4 ? response.substr(4) : "");
}

double scrapeMetric(uint16_t port, const std::string& series) {
  const auto samples = scrapeMetrics(port);
  const auto it = samples.find(series);
  return it == samples.end() ? 0 : it->second;
}

}  // namespace podterm::e2e
