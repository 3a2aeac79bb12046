#pragma once
// The host's metrics and their Prometheus text exposition (format 0.0.4), for GET /metrics.
//
// Hot path: Counter::inc, Gauge::add and Histogram::observe are relaxed atomic operations on
// objects that never move, so the event loops and session threads take no lock to count. Every
// series is created at registration (under the registry's mutex), never on the hot path: a
// labelled family lists its label values up front, so each series shows from the first scrape,
// at zero.
//
// Secrets: only numbers and the fixed names and label values below are ever rendered; no token,
// session id, user name or config value becomes a label.
//
// Threading: every method is thread-safe. OWNERSHIP: references returned by the registry live as
// long as the registry (the process's lives until exit).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace podterm::host {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void add(int64_t by) { value_.fetch_add(by, std::memory_order_relaxed); }
  void set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Fixed upper bounds (ascending, finite; +Inf is implied). observe() is lock-free: one bucket
// increment, the count and a compare-exchange on the sum.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (bounds().size() is the +Inf overflow bucket).
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registration: the same name and labels return the same series. A name is one type; names
  // and label names must match [a-zA-Z_:][a-zA-Z0-9_:]* (std::invalid_argument otherwise).
  Counter& counter(const std::string& name, const std::string& help,
                   const MetricLabels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const MetricLabels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       const std::vector<double>& bounds, const MetricLabels& labels = {});
  // A gauge read at scrape time (e.g. a map's size). Replaces any earlier function of that
  // name; clearGaugeFunction() before what it reads goes away.
  void setGaugeFunction(const std::string& name, const std::string& help,
                        std::function<double()> read);
  void clearGaugeFunction(const std::string& name);

  // Every family in name order, in the text exposition format 0.0.4.
  std::string render() const;

 private:
  struct Family;
  Family& family(const std::string& name, const std::string& help, const char* type);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Family>> families_;
};

// Text format escaping: label values escape \, " and newline; HELP escapes \ and newline.
std::string escapeLabelValue(const std::string& value);
std::string escapeHelp(const std::string& help);
// A sample value as Prometheus writes it: integers without a fraction, +Inf / -Inf / NaN.
std::string formatSampleValue(double value);

// The host's own metrics, in the process's registry (docs/operations.md lists them).
namespace metrics {

MetricsRegistry& registry();
// Registers every series below (at zero), so the first scrape lists them all.
void registerAll();

// Why the host ended a session: no client for its grace period, its pod's maximum lifetime,
// idle, or an administrator (the admin API).
enum class Culled { Grace, Lifetime, Idle, Admin };
enum class ErrorKind {
  SessionStart,       // a pod could not be created or readied, or the shell not started
  PodLost,            // a live session's pod stopped under it
  PodDelete,          // a pod could not be deleted at a session's end
  WebSocketProtocol,  // a client broke RFC 6455 (close 1002 / 1007 / 1009)
};

Counter& connects(bool v2);     // a client attached to a terminal of a session, by subprotocol
Counter& reconnects();          // a client came back to a session that had none left (grace period)
Counter& culls(Culled reason);  // sessions (ids, not terminals) the host ended
Histogram& timeToPrompt(bool warm);
Histogram& syncDuration(bool load);
Counter& syncBytes(bool load);
Counter& syncsFailed(bool load);
Counter& webSocketBytesIn();
Counter& webSocketBytesOut();
Counter& errors(ErrorKind kind);
// Orphaned-pod reaper rounds that listed the pods (and read the leases) and went through them: a
// counter that stops moving says the reaper is stuck or failing; tests wait on it, not on time.
Counter& reaperRounds();
Counter& orphanedPodsDeleted();  // pods the reaper deleted

// Seconds from `since` to now (steady clock), for histograms.
inline double secondsSince(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace metrics
}  // namespace podterm::host
