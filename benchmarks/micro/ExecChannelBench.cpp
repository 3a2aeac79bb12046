// The Kubernetes runtime's exec channel (v4/v5.channel.k8s.io over WebSocket), both ways, as
// runtime-kubernetes does it: a keystroke or a paste to stdin (the channel message, then a
// masked binary frame), and the pod's output back (an unmasked binary frame parsed, then split
// by channel), plus the exit status on channel 3.
#include <benchmark/benchmark.h>

#include <string>

#include "exec_channel.h"
#include "podterm/wire/FrameCodec.h"

namespace podterm::plugins::kubernetes {
namespace {

void BM_ExecEncodeStdin(benchmark::State& state) {
  const std::string data(static_cast<size_t>(state.range(0)), 'k');
  wire::FrameWriter writer(true);  // client frames are masked
  std::string out;
  for (auto _ : state) {
    out.clear();  // keeps its capacity, as the connection's pending buffer would
    writer.append(out, wire::Opcode::Binary, execStdinMessage(data, false));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ExecEncodeStdin)->Arg(1)->Arg(4 << 10);

// Output as the API server relays it: one stdout message per frame, fed one frame per read.
void BM_ExecDecodeStdout(benchmark::State& state) {
  const std::string data(static_cast<size_t>(state.range(0)), 'o');
  wire::FrameWriter server(false);
  std::string frame;
  server.append(frame, wire::Opcode::Binary, std::string(1, char{kExecStdout}) + data);
  wire::FrameParser parser(wire::FrameParserOptions{false, size_t{1} << 20, true});
  wire::WsMessage message;
  size_t delivered = 0;
  for (auto _ : state) {
    parser.feed(frame.data(), frame.size());
    while (parser.next(message)) {
      const ExecFrame decoded = decodeExecFrame(message.payload);
      delivered += decoded.data.size();
      benchmark::DoNotOptimize(decoded.data.data());
    }
  }
  if (delivered != static_cast<size_t>(state.iterations()) * data.size()) {
    state.SkipWithError("output lost in decoding");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ExecDecodeStdout)->Arg(1)->Arg(4 << 10)->Arg(64 << 10);

// Channel 3 at the end of every exec (each sync step is one): a non-zero exit's status JSON.
void BM_ExecExitStatus(benchmark::State& state) {
  const std::string status =
      R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit )"
      R"(code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode",)"
      R"("details":{"causes":[{"reason":"ExitCode","message":"3"}]}})";
  for (auto _ : state) {
    const sdk::StreamExit exit = execExitFromStatus(status);
    if (exit.exit_code != 3) state.SkipWithError("wrong exit code");
    benchmark::DoNotOptimize(exit.exit_code);
  }
}
BENCHMARK(BM_ExecExitStatus);

}  // namespace
}  // namespace podterm::plugins::kubernetes
