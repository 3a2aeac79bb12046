#pragma once
// One value from the host's Prometheus endpoint (GET /metrics on the target, 127.0.0.1 only),
// read beside the /proc samples: what the host itself counts, such as the bytes its terminals
// keep for a reattach.

#include <cstdint>
#include <optional>
#include <string>

namespace podterm::bench {

// The value of the unlabelled sample `name`, or nullopt when the endpoint does not answer 200
// within a second or has no such sample (a peer that is not podterm).
std::optional<double> scrapeHostMetric(const std::string& host, uint16_t port,
                                       const std::string& name);

// The same, from an exposition text already fetched.
std::optional<double> metricValue(const std::string& exposition, const std::string& name);

}  // namespace podterm::bench
