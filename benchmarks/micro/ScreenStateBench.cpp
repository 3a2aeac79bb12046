// Server-side terminal state: MB/s that ScreenState::feed() keeps up with on typical output (a
// scrolling `ls -l` with colours, and `top` redrawing a colourful screen), in PTY-sized chunks.
// Also the cost of replay() for a full screen and its scrollback, and of skim(), what a flood
// costs (TerminalHistory skims output that comes faster than ~1.3 MB/s).
#include <benchmark/benchmark.h>

#include <string>

#include "term/ScreenState.h"

namespace podterm::host {
namespace {

constexpr size_t kInputBytes = size_t{1} << 20;
constexpr size_t kReadSize = 4096;  // what a PTY read typically returns

std::string lsInput() {
  std::string s;
  int i = 0;
  while (s.size() < kInputBytes) {
    const std::string n = std::to_string(i++);
    s += "-rw-r--r--  1 user user  " + n + " Nov 25 12:00 file" + n + ".txt\r\n";
    s += "drwxr-xr-x  2 user user 4096 Nov 25 12:00 \x1b[01;34mdir" + n + "\x1b[0m\r\n";
  }
  return s;
}

// One frame of a top-like screen: home, header lines with bold numbers, a reverse header row,
// 30 process rows with 256-colour and RGB fields, erase to end of line and screen.
std::string topInput() {
  std::string frame = "\x1b[H\x1b[?25l";
  frame +=
      "top - 12:00:00 up 1 day,  2 users,  load average: \x1b[1m0.42\x1b[m, 0.30, 0.25\x1b[K\r\n";
  frame += "Tasks:\x1b[1m 123 \x1b[mtotal,\x1b[1m   1 \x1b[mrunning\x1b[K\r\n";
  frame +=
      "%Cpu(s):\x1b[1m  3.1 \x1b[mus,\x1b[1m  1.0 \x1b[msy,\x1b[1m 95.9 "
      "\x1b[mid\x1b[K\r\n\x1b[K\r\n";
  frame +=
      "\x1b[7m    PID USER      PR  NI    VIRT    RES  %CPU  %MEM     TIME+ COMMAND   "
      "                                          \x1b[m\r\n";
  for (int r = 0; r < 30; ++r) {
    const std::string pid = std::to_string(1000 + r);
    frame += (r % 3 == 0 ? "\x1b[1m" : "") + std::string("   ") + pid +
             " user      20   0  \x1b[38;5;" + std::to_string(16 + r) + "m 123456\x1b[39m  " +
             "\x1b[38;2;200;100;" + std::to_string(r * 8) + "m45678\x1b[m   " +
             std::to_string(r % 10) + ".0   0.1   0:0" + std::to_string(r % 10) + ".00 process-" +
             pid + "\x1b[m\x1b[K\r\n";
  }
  frame += "\x1b[J";
  std::string s;
  while (s.size() < kInputBytes) s += frame;
  return s;
}

void runFeed(benchmark::State& state, const std::string& input) {
  ScreenState screen(40, 120, 5000);
  for (auto _ : state) {
    for (size_t off = 0; off < input.size(); off += kReadSize) {
      screen.feed(std::string_view(input).substr(off, kReadSize));
    }
  }
  benchmark::DoNotOptimize(screen.memoryBytes());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

void BM_ScreenStateFeedLs(benchmark::State& state) {
  runFeed(state, lsInput());
}
void BM_ScreenStateFeedTop(benchmark::State& state) {
  runFeed(state, topInput());
}

void BM_ScreenStateReplay(benchmark::State& state) {
  ScreenState screen(40, 120, 5000);
  const std::string input = lsInput();
  screen.feed(input);  // fills the scrollback (5000 lines)
  screen.feed(topInput().substr(0, 8192));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string r = screen.replay();
    bytes = r.size();
    benchmark::DoNotOptimize(r.data());
  }
  state.counters["replay_bytes"] = static_cast<double>(bytes);
  state.counters["memory_bytes"] = static_cast<double>(screen.memoryBytes());
}

// The load tool's throughput case: `head -c N /dev/zero | tr '\0' a`, one line with no break.
std::string floodInput() {
  return std::string(kInputBytes, 'a');
}

void runSkim(benchmark::State& state, const std::string& input, size_t piece = kReadSize) {
  ScreenState screen(40, 120, 5000);
  for (auto _ : state) {
    for (size_t off = 0; off < input.size(); off += piece) {
      screen.skim(std::string_view(input).substr(off, piece));
    }
  }
  benchmark::DoNotOptimize(screen.memoryBytes());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

void BM_ScreenStateSkimLs(benchmark::State& state) {
  runSkim(state, lsInput());
}
// Arg: the piece skimmed at once. TerminalHistory skims its backlog in pieces of about 48 KiB
// (a 64 KiB catch-up minus the tail it feeds whole); 4 KiB is one PTY read.
void BM_ScreenStateSkimFlood(benchmark::State& state) {
  runSkim(state, floodInput(), static_cast<size_t>(state.range(0)));
}

BENCHMARK(BM_ScreenStateFeedLs);
BENCHMARK(BM_ScreenStateFeedTop);
BENCHMARK(BM_ScreenStateReplay);
BENCHMARK(BM_ScreenStateSkimLs);
BENCHMARK(BM_ScreenStateSkimFlood)->Arg(4 << 10)->Arg(48 << 10);

}  // namespace
}  // namespace podterm::host
