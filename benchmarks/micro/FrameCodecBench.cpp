// Frame encode and parse throughput: the per-keystroke and per-output-chunk cost of the codec.
#include <benchmark/benchmark.h>

#include <string>

#include "ws/FrameCodec.h"

namespace podterm::host {
namespace {

void BM_EncodeServerText(benchmark::State& state) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'x');
  std::string out;
  for (auto _ : state) {
    out.clear();  // keeps its capacity, as a connection's queue would
    appendFrame(out, Opcode::Text, payload);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_EncodeServerText)->Arg(1)->Arg(4 << 10)->Arg(64 << 10);

void BM_EncodeClientTextMasked(benchmark::State& state) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'x');
  FrameWriter writer(true);
  std::string out;
  for (auto _ : state) {
    out.clear();
    writer.append(out, Opcode::Text, payload);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_EncodeClientTextMasked)->Arg(1)->Arg(4 << 10)->Arg(64 << 10);

// A server parsing masked client frames, one frame per feed (a keystroke per read) and the
// message pulled out, as WsConnection does.
void BM_ParseMaskedFrame(benchmark::State& state) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'k');
  FrameWriter client(true);
  const std::string frame = client.text(payload);
  FrameParser parser(FrameParserOptions{true, size_t{1} << 20});
  WsMessage message;
  for (auto _ : state) {
    parser.feed(frame.data(), frame.size());
    parser.next(message);
    benchmark::DoNotOptimize(message.payload.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ParseMaskedFrame)->Arg(1)->Arg(4 << 10)->Arg(64 << 10);

// Many small frames arriving in one 64 KiB read (a paste).
void BM_ParseMaskedBurst(benchmark::State& state) {
  FrameWriter client(true);
  std::string burst;
  while (burst.size() < (64 << 10)) client.append(burst, Opcode::Text, "abcdefgh");
  FrameParser parser(FrameParserOptions{true, size_t{1} << 20});
  WsMessage message;
  for (auto _ : state) {
    parser.feed(burst.data(), burst.size());
    while (parser.next(message)) benchmark::DoNotOptimize(message.payload.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * burst.size()));
}
BENCHMARK(BM_ParseMaskedBurst);

}  // namespace
}  // namespace podterm::host
