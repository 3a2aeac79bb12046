#include "common/Metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace podterm::host {
namespace {

bool validName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

std::string renderLabels(const MetricLabels& labels, const std::string& extra_name = "",
                         const std::string& extra_value = "") {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::string& name, const std::string& value) {
    if (!first) out += ',';
    first = false;
    out += name + "=\"" + escapeLabelValue(value) + "\"";
  };
  for (const auto& [name, value] : labels) add(name, value);
  if (!extra_name.empty()) add(extra_name, extra_value);
  return out + "}";
}

}  // namespace

std::string escapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string formatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char text[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", value);
    return text;
  }
  // The shortest form that reads back as the same double (0.1, not 0.10000000000000001).
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(text, sizeof text, "%.*g", precision, value);
    if (std::strtod(text, nullptr) == value) break;
  }
  return text;
}

// --- Histogram ----------------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  // The first bound the value does not exceed (Prometheus buckets are "le").
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                       bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
  count_.fetch_add(1, std::memory_order_relaxed);
}

// --- Registry -----------------------------------------------------------------------------------

struct MetricsRegistry::Family {
  std::string name;
  std::string help;
  std::string type;  // counter, gauge, histogram
  // Series in registration order; unique_ptr keeps their addresses stable.
  std::vector<std::pair<MetricLabels, std::unique_ptr<Counter>>> counters;
  std::vector<std::pair<MetricLabels, std::unique_ptr<Gauge>>> gauges;
  std::vector<std::pair<MetricLabels, std::unique_ptr<Histogram>>> histograms;
  std::function<double()> read;  // a gauge function
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, const std::string& help,
                                                 const char* type) {
  if (!validName(name)) throw std::invalid_argument("invalid metric name " + name);
  auto& slot = families_[name];
  if (!slot) {
    slot = std::make_unique<Family>();
    slot->name = name;
    slot->help = help;
    slot->type = type;
  } else if (slot->type != type) {
    throw std::invalid_argument("metric " + name + " is a " + slot->type + ", not a " + type);
  }
  return *slot;
}

namespace {
void checkLabels(const MetricLabels& labels) {
  for (const auto& label : labels) {
    if (!validName(label.first) || label.first.rfind("__", 0) == 0 || label.first == "le") {
      throw std::invalid_argument("invalid label name " + label.first);
    }
  }
}
template <class Series>
auto* findSeries(Series& series, const MetricLabels& labels) {
  for (auto& [l, object] : series) {
    if (l == labels) return object.get();
  }
  return static_cast<decltype(series.front().second.get())>(nullptr);
}
}  // namespace

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  const MetricLabels& labels) {
  checkLabels(labels);
  std::lock_guard<std::mutex> lock(mutex_);
  Family& f = family(name, help, "counter");
  if (auto* found = findSeries(f.counters, labels)) return *found;
  f.counters.emplace_back(labels, std::make_unique<Counter>());
  return *f.counters.back().second;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                              const MetricLabels& labels) {
  checkLabels(labels);
  std::lock_guard<std::mutex> lock(mutex_);
  Family& f = family(name, help, "gauge");
  if (auto* found = findSeries(f.gauges, labels)) return *found;
  f.gauges.emplace_back(labels, std::make_unique<Gauge>());
  return *f.gauges.back().second;
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      const std::vector<double>& bounds,
                                      const MetricLabels& labels) {
  checkLabels(labels);
  if (!std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end() ||
      std::any_of(bounds.begin(), bounds.end(), [](double b) { return !std::isfinite(b); })) {
    throw std::invalid_argument("histogram " + name + ": bounds must be finite and ascending");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  Family& f = family(name, help, "histogram");
  if (auto* found = findSeries(f.histograms, labels)) return *found;
  f.histograms.emplace_back(labels, std::make_unique<Histogram>(bounds));
  return *f.histograms.back().second;
}

void MetricsRegistry::setGaugeFunction(const std::string& name, const std::string& help,
                                       std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mutex_);
  family(name, help, "gauge").read = std::move(read);
}

void MetricsRegistry::clearGaugeFunction(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second->read = nullptr;
}

std::string MetricsRegistry::render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + escapeHelp(f->help) + "\n";
    out += "# TYPE " + name + " " + f->type + "\n";
    for (const auto& [labels, c] : f->counters) {
      out += name + renderLabels(labels) + " " + std::to_string(c->value()) + "\n";
    }
    for (const auto& [labels, g] : f->gauges) {
      out += name + renderLabels(labels) + " " + std::to_string(g->value()) + "\n";
    }
    // A gauge function with no value yet (before the host wired it, after it stopped) shows 0.
    if (f->type == "gauge" && f->gauges.empty()) {
      out += name + " " + formatSampleValue(f->read ? f->read() : 0.0) + "\n";
    }
    for (const auto& [labels, h] : f->histograms) {
      // Cumulative from the bucket counts themselves, so the series is consistent even while
      // observe() runs concurrently.
      uint64_t cumulative = 0;
      for (size_t i = 0; i < h->bounds().size(); ++i) {
        cumulative += h->bucket(i);
        out += name + "_bucket" + renderLabels(labels, "le", formatSampleValue(h->bounds()[i])) +
               " " + std::to_string(cumulative) + "\n";
      }
      cumulative += h->bucket(h->bounds().size());
      out += name + "_bucket" + renderLabels(labels, "le", "+Inf") + " " +
             std::to_string(cumulative) + "\n";
      out += name + "_sum" + renderLabels(labels) + " " + formatSampleValue(h->sum()) + "\n";
      // _count equals the +Inf bucket (a concurrent observe() may be half done).
      out += name + "_count" + renderLabels(labels) + " " + std::to_string(cumulative) + "\n";
    }
  }
  return out;
}

// --- The host's metrics -------------------------------------------------------------------------

namespace metrics {
namespace {

const std::vector<double> kSecondsBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

// Every series of every labelled family, registered on first use of any of them, so a scrape
// shows each at 0 before its first event.
struct HostMetrics {
  MetricsRegistry& r = registry();
  Counter& connects_v1 = r.counter("podterm_connects_total",
                                   "Clients attached to a terminal of a session, by subprotocol.",
                                   {{"protocol", "podterm.v1"}});
  Counter& connects_v2 = r.counter("podterm_connects_total", "", {{"protocol", "podterm.v2"}});
  Counter& reconnects = r.counter(
      "podterm_reconnects_total",
      "Sessions a client came back to after the last one left (within the grace period).");
  Counter& culls_grace = r.counter("podterm_culls_total", "Sessions ended by the host, by reason.",
                                   {{"reason", "grace"}});
  Counter& culls_lifetime = r.counter("podterm_culls_total", "", {{"reason", "lifetime"}});
  Counter& culls_idle = r.counter("podterm_culls_total", "", {{"reason", "idle"}});
  Counter& culls_admin = r.counter("podterm_culls_total", "", {{"reason", "admin"}});
  Histogram& prompt_cold = r.histogram(
      "podterm_time_to_prompt_seconds",
      "From a new session's start to its shell running, by pod start (warm: the pod was ready "
      "when first reported).",
      kSecondsBuckets, {{"start", "cold"}});
  Histogram& prompt_warm =
      r.histogram("podterm_time_to_prompt_seconds", "", kSecondsBuckets, {{"start", "warm"}});
  Histogram& sync_load = r.histogram("podterm_sync_duration_seconds",
                                     "Workspace syncs, by direction (load: storage to pod; save: "
                                     "pod to storage).",
                                     kSecondsBuckets, {{"direction", "load"}});
  Histogram& sync_save =
      r.histogram("podterm_sync_duration_seconds", "", kSecondsBuckets, {{"direction", "save"}});
  Counter& bytes_load =
      r.counter("podterm_sync_bytes_total", "File content bytes moved by syncs, by direction.",
                {{"direction", "load"}});
  Counter& bytes_save = r.counter("podterm_sync_bytes_total", "", {{"direction", "save"}});
  Counter& failed_load =
      r.counter("podterm_syncs_failed_total", "Workspace syncs that failed, by direction.",
                {{"direction", "load"}});
  Counter& failed_save = r.counter("podterm_syncs_failed_total", "", {{"direction", "save"}});
  Counter& ws_in = r.counter("podterm_websocket_received_bytes_total",
                             "Bytes read from WebSocket clients (frames, headers included).");
  Counter& ws_out = r.counter("podterm_websocket_sent_bytes_total",
                              "Bytes written to WebSocket clients (frames, headers included).");
  Counter& err_start =
      r.counter("podterm_errors_total", "Errors, by kind.", {{"kind", "session_start"}});
  Counter& err_pod_lost = r.counter("podterm_errors_total", "", {{"kind", "pod_lost"}});
  Counter& err_pod_delete = r.counter("podterm_errors_total", "", {{"kind", "pod_delete"}});
  Counter& err_ws = r.counter("podterm_errors_total", "", {{"kind", "websocket_protocol"}});
  Counter& reaper_rounds =
      r.counter("podterm_reaper_rounds_total",
                "Orphaned-pod reaper rounds that listed the pods and went through them.");
  Counter& orphans_deleted =
      r.counter("podterm_orphaned_pods_deleted_total",
                "Pods the reaper deleted: no session here used them and no replica held a lease.");
};

HostMetrics& host() {
  static HostMetrics* metrics = new HostMetrics();  // never destroyed: counted until exit
  return *metrics;
}

}  // namespace

MetricsRegistry& registry() {
  static MetricsRegistry* registry = new MetricsRegistry();  // never destroyed: see host()
  return *registry;
}

void registerAll() {
  host();
}

Counter& connects(bool v2) {
  return v2 ? host().connects_v2 : host().connects_v1;
}
Counter& reconnects() {
  return host().reconnects;
}
Counter& culls(Culled reason) {
  switch (reason) {
    case Culled::Grace:
      return host().culls_grace;
    case Culled::Lifetime:
      return host().culls_lifetime;
    case Culled::Admin:
      return host().culls_admin;
    case Culled::Idle:
      break;
  }
  return host().culls_idle;
}
Histogram& timeToPrompt(bool warm) {
  return warm ? host().prompt_warm : host().prompt_cold;
}
Histogram& syncDuration(bool load) {
  return load ? host().sync_load : host().sync_save;
}
Counter& syncBytes(bool load) {
  return load ? host().bytes_load : host().bytes_save;
}
Counter& syncsFailed(bool load) {
  return load ? host().failed_load : host().failed_save;
}
Counter& webSocketBytesIn() {
  return host().ws_in;
}
Counter& webSocketBytesOut() {
  return host().ws_out;
}
Counter& errors(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::SessionStart:
      return host().err_start;
    case ErrorKind::PodLost:
      return host().err_pod_lost;
    case ErrorKind::PodDelete:
      return host().err_pod_delete;
    case ErrorKind::WebSocketProtocol:
      break;
  }
  return host().err_ws;
}
Counter& reaperRounds() {
  return host().reaper_rounds;
}
Counter& orphanedPodsDeleted() {
  return host().orphans_deleted;
}

}  // namespace metrics
}  // namespace podterm::host
