#include "LatencyStats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace podterm::bench {

double percentileSorted(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

Summary LatencyStats::summarize() const {
  Summary s;
  s.count = samples_.size();
  if (samples_.empty()) return s;
  std::vector<double> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  s.min = sorted.front();
  s.max = sorted.back();
  s.p50 = percentileSorted(sorted, 0.50);
  s.p90 = percentileSorted(sorted, 0.90);
  s.p99 = percentileSorted(sorted, 0.99);
  s.mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(s.count);
  return s;
}

}  // namespace podterm::bench
