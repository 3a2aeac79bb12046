// Fuzz target frame_server (FUZZ_SERVER_SIDE=1: masked frames from a client, as the host reads
// them) and frame_client (0: unmasked frames from a server, as runtime-kubernetes reads the
// API's exec stream): arbitrary bytes into podterm::wire::FrameParser.
//
// Input: byte 0 chooses the options and how the stream is cut into feed() calls; the rest is the
// stream. Properties:
//  - the parse does not depend on how the stream is split (one feed vs. many small ones);
//  - every message is a whole message: never Continuation, control payloads <= 125 bytes, data
//    <= max_message_bytes, text valid UTF-8 (by an independent decoder) when validation is on;
//  - errors are the documented close codes with a reason that fits a close frame;
//  - the messages re-encode into frames that parse back to the same messages, and re-encoding
//    those gives the same bytes again (one canonical encoding);
//  - Close payloads: parseClosePayload accepts exactly valid codes, and closePayload rebuilds the
//    payload byte for byte;
//  - Utf8Validator fed in pieces, isValidUtf8 and the reference decoder agree on the stream.

#include <string>
#include <vector>

#include "FuzzSupport.h"
#include "podterm/wire/FrameCodec.h"

#ifndef FUZZ_SERVER_SIDE
#error "build with FUZZ_SERVER_SIDE=0 or 1"
#endif

namespace {

using namespace podterm::wire;
using podterm::fuzz::referenceUtf8;
using podterm::fuzz::Splitter;

constexpr bool kServerSide = FUZZ_SERVER_SIDE != 0;

struct Outcome {
  std::vector<WsMessage> messages;
  uint16_t error = 0;
  std::string reason;
};

bool sameMessages(const std::vector<WsMessage>& a, const std::vector<WsMessage>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].opcode != b[i].opcode || a[i].payload != b[i].payload) return false;
  }
  return true;
}

Outcome parseWhole(const FrameParserOptions& options, std::string_view stream) {
  FrameParser parser(options);
  parser.feed(stream.data(), stream.size());
  Outcome out;
  WsMessage m;
  while (parser.next(m)) out.messages.push_back(std::move(m));
  out.error = parser.errorCode();
  out.reason = parser.errorReason();
  return out;
}

Outcome parseSplit(const FrameParserOptions& options, std::string_view stream, uint32_t seed) {
  FrameParser parser(options);
  Splitter splitter(seed);
  Outcome out;
  WsMessage m;
  size_t at = 0;
  while (at < stream.size()) {
    const size_t n = splitter.next(stream.size() - at);
    const bool ok = parser.feed(stream.data() + at, n);
    FUZZ_CHECK(ok == !parser.failed());
    at += n;
    // Drain between feeds: next() and feed() interleave in the real read loops.
    while (parser.next(m)) out.messages.push_back(std::move(m));
  }
  FUZZ_CHECK(parser.pending() == 0);
  out.error = parser.errorCode();
  out.reason = parser.errorReason();
  // Once failed, further input is ignored.
  if (parser.failed()) {
    FUZZ_CHECK(!parser.feed("\x81\x80\0\0\0\0", 6));
    FUZZ_CHECK(!parser.next(m));
  }
  return out;
}

const unsigned char kKey[4] = {0x37, 0xfa, 0x21, 0x3d};

std::string encodeAll(const std::vector<WsMessage>& messages) {
  std::string out;
  for (const WsMessage& m : messages) {
    appendFrame(out, m.opcode, m.payload, true, kServerSide ? kKey : nullptr);
  }
  return out;
}

void checkUtf8Agreement(std::string_view bytes, uint32_t seed) {
  const bool expected = referenceUtf8(bytes);
  FUZZ_CHECK(isValidUtf8(bytes) == expected);
  Utf8Validator v;
  Splitter splitter(seed);
  size_t at = 0;
  while (at < bytes.size()) {
    const size_t n = splitter.next(bytes.size() - at);
    const bool ok = v.feed(bytes.data() + at, n);
    // Invalid is final, and is only reported for bytes that cannot start valid UTF-8.
    FUZZ_CHECK(ok == !v.invalid());
    if (!ok) FUZZ_CHECK(!expected);
    at += n;
  }
  FUZZ_CHECKF(v.complete() == expected, "incremental %d, reference %d", v.complete(), expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t control = data[0];
  const std::string_view stream = podterm::fuzz::asText(data + 1, size - 1);

  FrameParserOptions options;
  options.expect_masked = kServerSide;
  // Small limits so the fuzzer reaches 1009; bit 7 turns UTF-8 validation off.
  static constexpr size_t kLimits[] = {0, 1, 125, 126, 4096, size_t{1} << 20};
  options.max_message_bytes = kLimits[(control >> 4) % 6];
  options.validate_utf8 = (control & 0x80) == 0;

  const Outcome whole = parseWhole(options, stream);
  const Outcome split = parseSplit(options, stream, control & 0x0F);
  FUZZ_CHECKF(sameMessages(whole.messages, split.messages), "whole %zu messages, split %zu",
              whole.messages.size(), split.messages.size());
  FUZZ_CHECKF(whole.error == split.error, "whole %u, split %u", whole.error, split.error);
  FUZZ_CHECK(whole.reason == split.reason);

  if (whole.error != 0) {
    FUZZ_CHECKF(whole.error == close_code::kProtocolError ||
                    whole.error == close_code::kMessageTooBig ||
                    (whole.error == close_code::kInvalidPayload && options.validate_utf8),
                "error %u", whole.error);
    FUZZ_CHECK(!whole.reason.empty() && whole.reason.size() < 123);
  } else {
    FUZZ_CHECK(whole.reason.empty());
  }

  for (const WsMessage& m : whole.messages) {
    FUZZ_CHECK(m.opcode != Opcode::Continuation);
    if (isControl(m.opcode)) {
      FUZZ_CHECKF(m.payload.size() <= kMaxControlPayloadBytes, "control payload %zu",
                  m.payload.size());
    } else {
      FUZZ_CHECKF(m.payload.size() <= options.max_message_bytes, "message %zu > limit %zu",
                  m.payload.size(), options.max_message_bytes);
    }
    if (m.opcode == Opcode::Text && options.validate_utf8) FUZZ_CHECK(referenceUtf8(m.payload));
    if (m.opcode == Opcode::Close) {
      ClosePayload close;
      const bool ok = parseClosePayload(m.payload, close);
      if (m.payload.empty()) {
        FUZZ_CHECK(ok && close.code == close_code::kNoStatus && close.reason.empty());
      } else if (m.payload.size() == 1) {
        FUZZ_CHECK(!ok);
      } else {
        FUZZ_CHECK(ok == isValidCloseCode(close.code));
        FUZZ_CHECK(closePayload(close.code, close.reason) == m.payload);
      }
    }
  }

  // Canonical re-encoding: parses back to the same messages, and encodes to the same bytes.
  const std::string encoded = encodeAll(whole.messages);
  const Outcome again = parseWhole(options, encoded);
  FUZZ_CHECKF(again.error == 0, "re-encoded messages fail with %u (%s)", again.error,
              again.reason.c_str());
  FUZZ_CHECK(sameMessages(whole.messages, again.messages));
  FUZZ_CHECK(encodeAll(again.messages) == encoded);

  checkUtf8Agreement(stream, control);
  return 0;
}
