// Fuzz target frame_roundtrip: the encoder and the parser of podterm::wire against a model.
//
// The input describes a conversation (messages, how each is fragmented, control frames between
// fragments, mask keys, which side sends, the message limit); it is encoded with appendFrame /
// FrameWriter and parsed back. Properties:
//  - the parser returns exactly the model's messages, in order (control frames where they were
//    sent, data messages reassembled), and fails with 1009 exactly at the first data frame that
//    would take a message past the limit;
//  - a frame that holds a whole message parses to that message and re-encodes, with the same key,
//    to the same bytes;
//  - FrameWriter's masked frames parse like unmasked ones; frames of the wrong masking are 1002;
//  - closePayload/parseClosePayload round-trip codes and (truncated) reasons.

#include <fuzzer/FuzzedDataProvider.h>

#include <string>
#include <vector>

#include "FuzzSupport.h"
#include "podterm/wire/FrameCodec.h"

namespace {

using namespace podterm::wire;

struct Frame {
  Opcode opcode;
  std::string payload;
  bool fin;
};

std::string encodeFrame(const Frame& f, const unsigned char* key) {
  std::string out;
  appendFrame(out, f.opcode, f.payload, f.fin, key);
  return out;
}

// Parses one whole-message frame and checks that it re-encodes to the same bytes.
void checkSingleFrame(const Frame& f, const unsigned char* key) {
  const std::string bytes = encodeFrame(f, key);
  FrameParserOptions options;
  options.expect_masked = key != nullptr;
  options.validate_utf8 = false;
  FrameParser parser(options);
  FUZZ_CHECK(parser.feed(bytes.data(), bytes.size()));
  WsMessage m;
  FUZZ_CHECK(parser.next(m));
  FUZZ_CHECK(!parser.next(m));
  FUZZ_CHECK(m.opcode == f.opcode && m.payload == f.payload);
  std::string again;
  appendFrame(again, m.opcode, m.payload, true, key);
  FUZZ_CHECK(again == bytes);
  // The header alone says how long the frame is.
  unsigned char header[kMaxFrameHeaderBytes];
  const size_t header_len = encodeFrameHeader(header, f.opcode, f.payload.size(), true, key);
  FUZZ_CHECK(header_len + f.payload.size() == bytes.size());
  FUZZ_CHECK(std::string_view(bytes).substr(0, header_len) ==
             std::string_view(reinterpret_cast<const char*>(header), header_len));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const bool client_sends = in.ConsumeBool();  // client frames are masked
  const size_t limit = in.ConsumeIntegralInRange<size_t>(0, 300);

  std::vector<Frame> frames;
  std::vector<WsMessage> expected;
  bool overflow = false;  // the model's stream ends in a 1009 here
  const int messages = in.ConsumeIntegralInRange(0, 8);
  for (int i = 0; i < messages && !overflow && in.remaining_bytes() > 0; ++i) {
    const uint8_t kind = in.ConsumeIntegralInRange<uint8_t>(0, 4);
    if (kind >= 2) {  // a control frame
      static constexpr Opcode kControls[] = {Opcode::Close, Opcode::Ping, Opcode::Pong};
      Frame f{kControls[kind - 2], in.ConsumeRandomLengthString(kMaxControlPayloadBytes), true};
      expected.push_back({f.opcode, f.payload});
      frames.push_back(std::move(f));
      continue;
    }
    const Opcode opcode = kind == 0 ? Opcode::Text : Opcode::Binary;
    const int fragments = in.ConsumeIntegralInRange(1, 4);
    std::string whole;
    for (int k = 0; k < fragments; ++k) {
      Frame f{k == 0 ? opcode : Opcode::Continuation, in.ConsumeRandomLengthString(200),
              k == fragments - 1};
      if (whole.size() + f.payload.size() > limit) {
        frames.push_back(std::move(f));
        overflow = true;
        break;
      }
      whole += f.payload;
      frames.push_back(std::move(f));
      if (!frames.back().fin && in.ConsumeBool()) {  // a ping between two fragments
        Frame ping{Opcode::Ping, in.ConsumeRandomLengthString(8), true};
        expected.push_back({ping.opcode, ping.payload});
        frames.push_back(std::move(ping));
      }
    }
    if (!overflow) expected.push_back({opcode, whole});
  }

  // Encode, each frame with its own key on the client side.
  std::string stream;
  for (const Frame& f : frames) {
    unsigned char key[4];
    for (auto& b : key) b = in.ConsumeIntegral<uint8_t>();
    stream += encodeFrame(f, client_sends ? key : nullptr);
    if (f.opcode != Opcode::Continuation && f.fin) {
      checkSingleFrame(f, client_sends ? key : nullptr);
    }
  }

  FrameParserOptions options;
  options.expect_masked = client_sends;
  options.max_message_bytes = limit;
  options.validate_utf8 = false;  // payloads are arbitrary bytes here
  FrameParser parser(options);
  parser.feed(stream.data(), stream.size());
  std::vector<WsMessage> got;
  WsMessage m;
  while (parser.next(m)) got.push_back(std::move(m));
  FUZZ_CHECKF(got.size() == expected.size(), "got %zu messages, expected %zu", got.size(),
              expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    FUZZ_CHECKF(got[i].opcode == expected[i].opcode && got[i].payload == expected[i].payload,
                "message %zu differs", i);
  }
  if (overflow) {
    FUZZ_CHECKF(parser.errorCode() == close_code::kMessageTooBig, "error %u", parser.errorCode());
  } else {
    FUZZ_CHECKF(!parser.failed(), "error %u (%s)", parser.errorCode(),
                parser.errorReason().c_str());
  }

  // The other side's parser refuses these frames (wrong masking) at the first one.
  if (!stream.empty()) {
    FrameParserOptions other = options;
    other.expect_masked = !client_sends;
    FrameParser wrong(other);
    FUZZ_CHECK(!wrong.feed(stream.data(), stream.size()));
    FUZZ_CHECK(wrong.errorCode() == close_code::kProtocolError && wrong.pending() == 0);
  }

  // FrameWriter: random keys on the client side, none on the server side.
  const std::string text = in.ConsumeRandomLengthString(300);
  for (bool masks : {true, false}) {
    FrameWriter writer(masks);
    const std::string frame = writer.binary(text);
    FrameParserOptions o;
    o.expect_masked = masks;
    FrameParser p(o);
    FUZZ_CHECK(p.feed(frame.data(), frame.size()));
    FUZZ_CHECK(p.next(m) && m.opcode == Opcode::Binary && m.payload == text);
  }

  // Close payloads.
  const uint16_t code = in.ConsumeIntegral<uint16_t>();
  const std::string payload = closePayload(code, text);
  FUZZ_CHECK(payload.size() <= kMaxControlPayloadBytes);
  ClosePayload close;
  FUZZ_CHECK(parseClosePayload(payload, close) == isValidCloseCode(code));
  FUZZ_CHECK(close.code == code);
  FUZZ_CHECK(close.reason == std::string_view(text).substr(0, kMaxControlPayloadBytes - 2));
  return 0;
}
