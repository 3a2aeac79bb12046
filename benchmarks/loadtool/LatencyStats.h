#pragma once
// Latency samples and their order statistics (nearest-rank percentiles). Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace podterm::bench {

struct Summary {
  size_t count = 0;
  double min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

class LatencyStats {
 public:
  void add(double value) { samples_.push_back(value); }
  size_t count() const noexcept { return samples_.size(); }
  // Nearest rank: the smallest sample with at least q of all samples at or below it.
  Summary summarize() const;

 private:
  std::vector<double> samples_;
};

// Nearest-rank percentile of sorted values, q in [0, 1]; 0 for none.
double percentileSorted(const std::vector<double>& sorted, double q);

}  // namespace podterm::bench
