#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/Metrics.h"

namespace podterm::host {
namespace {

// A tiny reader of the text format: "name{labels} value" -> value, and what # TYPE says.
struct Scrape {
  std::map<std::string, double> samples;  // key: name + labels exactly as written
  std::map<std::string, std::string> types;
  std::map<std::string, std::string> helps;
};

Scrape parse(const std::string& text) {
  Scrape scrape;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      auto space = line.find(' ', 7);
      scrape.types[line.substr(7, space - 7)] = line.substr(space + 1);
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) {
      auto space = line.find(' ', 7);
      scrape.helps[line.substr(7, space - 7)] = line.substr(space + 1);
      continue;
    }
    EXPECT_FALSE(line.empty());
    EXPECT_NE(line[0], '#') << line;
    // The value follows the last space outside the labels (label values may hold spaces).
    const auto close = line.rfind('}');
    const auto space = line.find(' ', close == std::string::npos ? 0 : close);
    if (space == std::string::npos) {
      ADD_FAILURE() << "not a sample: " << line;
      continue;
    }
    const std::string value = line.substr(space + 1);
    scrape.samples[line.substr(0, space)] =
        value == "+Inf" ? INFINITY : (value == "-Inf" ? -INFINITY : std::stod(value));
  }
  return scrape;
}

TEST(Metrics, CountersAndGaugesRender) {
  MetricsRegistry r;
  r.counter("t_requests_total", "Requests.", {{"code", "200"}}).inc(3);
  r.counter("t_requests_total", "ignored", {{"code", "500"}}).inc();
  r.gauge("t_temperature", "Degrees.").set(-4);
  EXPECT_EQ(r.render(),
            "# HELP t_requests_total Requests.\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{code=\"200\"} 3\n"
            "t_requests_total{code=\"500\"} 1\n"
            "# HELP t_temperature Degrees.\n"
            "# TYPE t_temperature gauge\n"
            "t_temperature -4\n");
  // The same name and labels: the same series.
  EXPECT_EQ(&r.counter("t_requests_total", "", {{"code", "200"}}),
            &r.counter("t_requests_total", "", {{"code", "200"}}));
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  MetricsRegistry r;
  Histogram& h = r.histogram("t_latency_seconds", "Latency.", {0.1, 1, 2.5}, {{"path", "x"}});
  h.observe(0.05);
  h.observe(0.1);  // "le": on the bound counts in that bucket
  h.observe(2);
  h.observe(100);
  EXPECT_EQ(r.render(), std::string("# HELP t_latency_seconds Latency.\n"
                                    "# TYPE t_latency_seconds histogram\n"
                                    "t_latency_seconds_bucket{path=\"x\",le=\"0.1\"} 2\n"
                                    "t_latency_seconds_bucket{path=\"x\",le=\"1\"} 2\n"
                                    "t_latency_seconds_bucket{path=\"x\",le=\"2.5\"} 3\n"
                                    "t_latency_seconds_bucket{path=\"x\",le=\"+Inf\"} 4\n"
                                    "t_latency_seconds_sum{path=\"x\"} ") +
                            formatSampleValue(0.05 + 0.1 + 2.0 + 100.0) +
                            "\nt_latency_seconds_count{path=\"x\"} 4\n");
  Scrape s = parse(r.render());
  EXPECT_EQ(s.types["t_latency_seconds"], "histogram");
  EXPECT_DOUBLE_EQ(s.samples["t_latency_seconds_sum{path=\"x\"}"], 102.15);
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(escapeHelp("one\\two\nthree \"q\""), "one\\\\two\\nthree \"q\"");
  MetricsRegistry r;
  r.counter("t_odd_total", "Line\nbreak.", {{"v", "x\"y"}}).inc();
  EXPECT_EQ(r.render(),
            "# HELP t_odd_total Line\\nbreak.\n# TYPE t_odd_total counter\n"
            "t_odd_total{v=\"x\\\"y\"} 1\n");
}

TEST(Metrics, SampleValues) {
  EXPECT_EQ(formatSampleValue(3), "3");
  EXPECT_EQ(formatSampleValue(0.5), "0.5");
  EXPECT_EQ(formatSampleValue(INFINITY), "+Inf");
  EXPECT_EQ(formatSampleValue(-INFINITY), "-Inf");
  EXPECT_EQ(formatSampleValue(NAN), "NaN");
}

TEST(Metrics, RefusesBadNamesTypesAndBounds) {
  MetricsRegistry r;
  EXPECT_THROW(r.counter("9lives", ""), std::invalid_argument);
  EXPECT_THROW(r.counter("a-b", ""), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_total", "", {{"le", "1"}}), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_total", "", {{"__x", "1"}}), std::invalid_argument);
  r.counter("ok_total", "");
  EXPECT_THROW(r.gauge("ok_total", ""), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", "", {2, 1}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", "", {1, 1}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", "", {1, INFINITY}), std::invalid_argument);
}

TEST(Metrics, GaugeFunctionIsReadAtScrapeAndClears) {
  MetricsRegistry r;
  int live = 2;
  r.setGaugeFunction("t_live", "Live things.", [&] { return static_cast<double>(live); });
  live = 5;
  EXPECT_NE(r.render().find("\nt_live 5\n"), std::string::npos) << r.render();
  r.clearGaugeFunction("t_live");
  EXPECT_NE(r.render().find("\nt_live 0\n"), std::string::npos) << r.render();
}

// Hot-path updates from many threads lose nothing (and, under TSan/ASan, race with nothing).
TEST(Metrics, ConcurrentUpdatesAddUp) {
  MetricsRegistry r;
  Counter& c = r.counter("t_c_total", "");
  Histogram& h = r.histogram("t_h", "", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.5);
      }
    });
  }
  std::string during = r.render();  // rendering while updating is allowed
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(h.count(), 40000u);
  EXPECT_DOUBLE_EQ(h.sum(), 20000.0);
  Scrape s = parse(r.render());
  EXPECT_EQ(s.samples["t_h_bucket{le=\"1\"}"], 40000);
  EXPECT_EQ(s.samples["t_h_bucket{le=\"+Inf\"}"], 40000);
}

// The host's own families: every series present from the start, typed, and nothing else.
TEST(Metrics, HostFamiliesAreRegisteredAtZero) {
  metrics::registerAll();
  Scrape s = parse(metrics::registry().render());
  EXPECT_EQ(s.types["podterm_connects_total"], "counter");
  EXPECT_EQ(s.types["podterm_time_to_prompt_seconds"], "histogram");
  EXPECT_EQ(s.types["podterm_sync_duration_seconds"], "histogram");
  EXPECT_EQ(s.types["podterm_sync_bytes_total"], "counter");
  EXPECT_EQ(s.types["podterm_syncs_failed_total"], "counter");
  EXPECT_EQ(s.types["podterm_reconnects_total"], "counter");
  EXPECT_EQ(s.types["podterm_culls_total"], "counter");
  EXPECT_EQ(s.types["podterm_websocket_received_bytes_total"], "counter");
  EXPECT_EQ(s.types["podterm_websocket_sent_bytes_total"], "counter");
  EXPECT_EQ(s.types["podterm_errors_total"], "counter");
  for (const char* series :
       {"podterm_connects_total{protocol=\"podterm.v1\"}",
        "podterm_connects_total{protocol=\"podterm.v2\"}", "podterm_culls_total{reason=\"grace\"}",
        "podterm_culls_total{reason=\"lifetime\"}", "podterm_culls_total{reason=\"idle\"}",
        "podterm_time_to_prompt_seconds_count{start=\"cold\"}",
        "podterm_time_to_prompt_seconds_count{start=\"warm\"}",
        "podterm_errors_total{kind=\"session_start\"}",
        "podterm_errors_total{kind=\"websocket_protocol\"}"}) {
    EXPECT_EQ(s.samples.count(series), 1u) << series;
  }
  const auto before = metrics::culls(metrics::Culled::Idle).value();
  metrics::culls(metrics::Culled::Idle).inc();
  EXPECT_EQ(parse(metrics::registry().render()).samples["podterm_culls_total{reason=\"idle\"}"],
            static_cast<double>(before + 1));
}

}  // namespace
}  // namespace podterm::host
