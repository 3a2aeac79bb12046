// Terminal output to valid UTF-8: throughput per MB for typical, mixed and binary output.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "ws/Utf8Sanitizer.h"

namespace podterm::host {
namespace {

constexpr size_t kInputBytes = size_t{1} << 20;
constexpr size_t kReadSize = 4096;  // what a PTY read typically returns

std::string asciiInput() {
  std::string s;
  const std::string line = "drwxr-xr-x  2 user user 4096 Nov 25 12:00 \x1b[01;34msrc\x1b[0m\r\n";
  while (s.size() < kInputBytes) s += line;
  return s;
}

std::string mixedInput() {
  std::string s;
  const std::string line = "│ naïve café ── 日本語のテキスト ── emoji 😀 ok │\r\n";
  while (s.size() < kInputBytes) s += line;
  return s;
}

std::string invalidInput() {  // `cat /bin/ls`: random bytes
  std::mt19937 rng(7);
  std::string s(kInputBytes, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

void runSanitizer(benchmark::State& state, const std::string& input) {
  Utf8Sanitizer sanitizer;
  std::string out;
  out.reserve(input.size() * 3);
  for (auto _ : state) {
    out.clear();
    for (size_t off = 0; off < input.size(); off += kReadSize) {
      sanitizer.feedInto(out, input.data() + off, std::min(kReadSize, input.size() - off));
    }
    sanitizer.flushInto(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

void BM_Utf8SanitizeAscii(benchmark::State& state) {
  runSanitizer(state, asciiInput());
}
void BM_Utf8SanitizeMixed(benchmark::State& state) {
  runSanitizer(state, mixedInput());
}
void BM_Utf8SanitizeInvalid(benchmark::State& state) {
  runSanitizer(state, invalidInput());
}
BENCHMARK(BM_Utf8SanitizeAscii);
BENCHMARK(BM_Utf8SanitizeMixed);
BENCHMARK(BM_Utf8SanitizeInvalid);

}  // namespace
}  // namespace podterm::host
