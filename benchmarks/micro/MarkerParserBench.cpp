// Shell marker parsing on the output hot path: throughput per MB for plain output, colourful
// output (an ESC every few bytes) and output with a command's markers every 200 bytes.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "session/MarkerParser.h"
#include "session/ShellIntegration.h"

namespace podterm::host {
namespace {

constexpr size_t kInputBytes = size_t{1} << 20;
constexpr size_t kReadSize = 4096;  // what a PTY read typically returns
const std::string kNonce = "0123456789abcdef";

std::string repeat(const std::string& piece) {
  std::string s;
  while (s.size() < kInputBytes) s += piece;
  return s;
}

void runParser(benchmark::State& state, const std::string& input) {
  MarkerParser parser(kNonce);
  std::string out;
  std::vector<ShellEvent> events;
  out.reserve(input.size());
  for (auto _ : state) {
    out.clear();
    events.clear();
    for (size_t off = 0; off < input.size(); off += kReadSize) {
      parser.feed(input.data() + off, std::min(kReadSize, input.size() - off), out, events);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.counters["events"] = static_cast<double>(events.size());
}

void BM_MarkerParserPlain(benchmark::State& state) {
  runParser(state, repeat("total 48 -rw-r--r-- 1 user user 1234 Nov 25 12:00 main.cpp\r\n"));
}
void BM_MarkerParserColours(benchmark::State& state) {
  runParser(state, repeat("drwxr-xr-x 2 user user 4096 Nov 25 \x1b[01;34msrc\x1b[0m\r\n"));
}
void BM_MarkerParserWithMarkers(benchmark::State& state) {
  runParser(state, repeat(commandStartMarkers("ls -la; echo 'caf\xc3\xa9' > f", kNonce) +
                          "a line of output from the command\r\n" + commandEndMarker(0, kNonce) +
                          "\x1b[1;32muser@podterm\x1b[0m:\x1b[1;34m~\x1b[0m$ "));
}
void BM_MarkerParserDisabled(benchmark::State& state) {
  std::string input = repeat("total 48 -rw-r--r-- 1 user user 1234 Nov 25 12:00 main.cpp\r\n");
  MarkerParser parser("");
  std::string out;
  std::vector<ShellEvent> events;
  for (auto _ : state) {
    out.clear();
    for (size_t off = 0; off < input.size(); off += kReadSize) {
      parser.feed(input.data() + off, std::min(kReadSize, input.size() - off), out, events);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}
BENCHMARK(BM_MarkerParserPlain);
BENCHMARK(BM_MarkerParserColours);
BENCHMARK(BM_MarkerParserWithMarkers);
BENCHMARK(BM_MarkerParserDisabled);

}  // namespace
}  // namespace podterm::host
