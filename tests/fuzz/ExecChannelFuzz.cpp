// Fuzz target exec_channel: what runtime-kubernetes reads from the API server's exec stream
// (v4/v5.channel.k8s.io): the channel byte of each binary message, and channel 3's status JSON
// (decodeExecFrame, parseExecStatus, execExitFromStatus).
//
// Input: one binary message (channel byte + payload); the payload is also decoded as a status
// whatever its channel, so the fuzzer reaches the JSON without first finding byte 3. Properties:
//  - a frame is decoded only when it has a channel and a non-empty payload, which is the rest of
//    the message byte for byte;
//  - an exit is either a code 0..255 (with the signal exactly when it is 128+1..128+64) and no
//    error, or code -1, no signal and an Internal error with a message;
//  - a well-formed NonZeroExitCode status built from the input's number gives that exit code
//    when it is 0..255 and an error otherwise; "Success" is always exit 0;
//  - nothing throws.

#include <cstring>
#include <string>

#include "FuzzSupport.h"
#include "exec_channel.h"

namespace {

using namespace podterm::plugins::kubernetes;
using podterm::sdk::ErrorCode;
using podterm::sdk::StreamExit;

void checkExit(const StreamExit& exit) {
  if (exit.error.isOk()) {
    FUZZ_CHECKF(exit.exit_code >= 0 && exit.exit_code <= 255, "exit code %d", exit.exit_code);
    const int expected_signal =
        exit.exit_code > 128 && exit.exit_code <= 128 + 64 ? exit.exit_code - 128 : 0;
    FUZZ_CHECK(exit.signal == expected_signal);
  } else {
    FUZZ_CHECK(exit.exit_code == -1 && exit.signal == 0);
    FUZZ_CHECK(exit.error.code() == ErrorCode::Internal && !exit.error.message().empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view message = podterm::fuzz::asText(data, size);
  const ExecFrame frame = decodeExecFrame(message);
  if (size < 2) {
    FUZZ_CHECK(frame.channel == -1 && frame.data.empty());
  } else {
    FUZZ_CHECK(frame.channel == data[0]);
    FUZZ_CHECK(frame.data.data() == message.data() + 1 && frame.data.size() == size - 1);
  }
  const std::string_view status = size > 0 ? message.substr(1) : message;
  checkExit(execExitFromStatus(status));

  int code = 0;
  std::string error;
  const bool ok = parseExecStatus(std::string(status), code, error);
  if (ok) {
    FUZZ_CHECK(code >= 0 && code <= 255);
  } else {
    FUZZ_CHECK(!error.empty());
  }

  // A status as the API server writes it, with the input's first four bytes as the exit code.
  int32_t n = 0;
  std::memcpy(&n, data, size < sizeof n ? size : sizeof n);
  const std::string built =
      "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero "
      "exit code\",\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":"
      "\"ExitCode\",\"message\":\"" +
      std::to_string(n) + "\"}]}}";
  const StreamExit exit = execExitFromStatus(built);
  checkExit(exit);
  if (n >= 0 && n <= 255) {
    FUZZ_CHECKF(exit.error.isOk() && exit.exit_code == n, "exit code %d for %d", exit.exit_code, n);
  } else {
    FUZZ_CHECKF(!exit.error.isOk(), "exit code %d accepted", n);
  }
  const StreamExit success = execExitFromStatus("{\"metadata\":{},\"status\":\"Success\"}");
  FUZZ_CHECK(success.error.isOk() && success.exit_code == 0 && success.signal == 0);
  return 0;
}
