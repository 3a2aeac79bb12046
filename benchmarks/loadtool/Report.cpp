#include "Report.h"

#include <cstdio>
#include <sstream>

namespace podterm::bench {
namespace {

std::string fixed(double v, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
  return buffer;
}

std::string pad(const std::string& s, size_t width, bool left) {
  if (s.size() >= width) return s;
  return left ? s + std::string(width - s.size(), ' ') : std::string(width - s.size(), ' ') + s;
}

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string formatTable(const ScenarioReport& r) {
  std::ostringstream out;
  out << "== " << r.title << (r.aborted ? "  [ABORTED by --duration]" : "") << " ==\n";
  if (!r.rows.empty()) {
    out << pad("metric", 28, true) << pad("n", 7, false) << pad("p50", 11, false)
        << pad("p90", 11, false) << pad("p99", 11, false) << pad("max", 11, false) << "  unit\n";
    for (const auto& row : r.rows) {
      const int digits = row.unit == "us" ? 1 : 2;
      const Summary& s = row.summary;
      out << pad(row.name, 28, true) << pad(std::to_string(s.count), 7, false)
          << pad(fixed(s.p50, digits), 11, false) << pad(fixed(s.p90, digits), 11, false)
          << pad(fixed(s.p99, digits), 11, false) << pad(fixed(s.max, digits), 11, false) << "  "
          << row.unit << "\n";
    }
  }
  for (const auto& [name, value] : r.facts) out << pad(name, 28, true) << " " << value << "\n";
  out << pad("wall time", 28, true) << " " << fixed(r.wall_s, 2) << " s\n";
  out << pad("failures", 28, true) << " ";
  if (r.failures.empty()) {
    out << "none";
  } else {
    bool first = true;
    for (const auto& [reason, n] : r.failures) {
      out << (first ? "" : ", ") << reason << "=" << n;
      first = false;
    }
  }
  out << "\n";
  return out.str();
}

std::string formatJson(const ScenarioReport& r) {
  std::ostringstream out;
  out << "{\"scenario\":" << jsonString(r.scenario) << ",\"title\":" << jsonString(r.title)
      << ",\"aborted\":" << (r.aborted ? "true" : "false") << ",\"wall_s\":" << fixed(r.wall_s, 3)
      << ",\"rows\":[";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const auto& row = r.rows[i];
    const Summary& s = row.summary;
    out << (i ? "," : "") << "{\"name\":" << jsonString(row.name)
        << ",\"unit\":" << jsonString(row.unit) << ",\"count\":" << s.count
        << ",\"p50\":" << fixed(s.p50, 3) << ",\"p90\":" << fixed(s.p90, 3)
        << ",\"p99\":" << fixed(s.p99, 3) << ",\"max\":" << fixed(s.max, 3)
        << ",\"mean\":" << fixed(s.mean, 3) << "}";
  }
  out << "],\"facts\":{";
  for (size_t i = 0; i < r.facts.size(); ++i) {
    out << (i ? "," : "") << jsonString(r.facts[i].first) << ":" << jsonString(r.facts[i].second);
  }
  out << "},\"failures\":{";
  bool first = true;
  for (const auto& [reason, n] : r.failures) {
    out << (first ? "" : ",") << jsonString(reason) << ":" << n;
    first = false;
  }
  out << "}}";
  return out.str();
}

}  // namespace podterm::bench
