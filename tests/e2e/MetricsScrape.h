#pragma once
// The host's GET /metrics as the e2e tests read it: "name{labels}" -> value.

#include <cstdint>
#include <map>
#include <string>

namespace podterm::e2e {

// A tiny reader of the Prometheus text format; fails the test on a line that is neither a comment
// nor "series value".
std::map<std::string, double> parseMetrics(const std::string& text);

// GET /metrics from the host on `port` (a test failure unless it answers 200), parsed.
std::map<std::string, double> scrapeMetrics(uint16_t port);

// One series of scrapeMetrics(port), 0 when the host does not list it.
double scrapeMetric(uint16_t port, const std::string& series);

}  // namespace podterm::e2e
