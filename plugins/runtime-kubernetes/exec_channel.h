#pragma once
// What arrives on a Kubernetes exec stream (v4.channel.k8s.io / v5.channel.k8s.io), decoded: each
// binary message is one channel byte and a payload; channel 3 carries a metav1.Status as JSON
// whose NonZeroExitCode cause holds the exit code.
//
// The bytes are hostile (the API server relays what kubelet and the pod produce). Pure functions:
// thread-safe, no I/O, and they throw nothing but std::bad_alloc for any input.

#include <cstdint>
#include <string>
#include <string_view>

#include "podterm/runtime.h"

namespace podterm::plugins::kubernetes {

// Channel numbers of the protocol.
inline constexpr int kExecStdin = 0;
inline constexpr int kExecStdout = 1;
inline constexpr int kExecStderr = 2;
inline constexpr int kExecStatus = 3;
inline constexpr int kExecResize = 4;

struct ExecFrame {
  int channel = -1;       // -1: nothing to act on (an empty message or a channel's empty frame)
  std::string_view data;  // the payload after the channel byte; points into the message
};

// Splits one binary message. The server's first frame on each channel is empty: no channel.
ExecFrame decodeExecFrame(std::string_view message);

// The client's messages, before framing. Stdin: channel 0, then the data; chunked, the data is
// preceded by its size and a newline, for the wrapper script that pipes a non-tty's stdin (no
// data, chunked: the end of input). Resize: channel 4, then the size as JSON.
std::string execStdinMessage(std::string_view data, bool chunked);
std::string execResizeMessage(uint16_t cols, uint16_t rows);

// The exec exit status on channel 3 -> exit code; false with a message for other failures.
// (Also declared in exec_stream.h, for its existing callers.)
bool parseExecStatus(const std::string& json, int& exit_code, std::string& error);

// Channel 3's payload as the stream's exit: the exit code (0..255, with the signal when it is
// 128+N for a signal N, as a shell reports it), or exit code -1 and an Internal error.
sdk::StreamExit execExitFromStatus(std::string_view json);

}  // namespace podterm::plugins::kubernetes
