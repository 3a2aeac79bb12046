#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "ws/FrameCodec.h"

namespace podterm::host {
namespace {

const unsigned char kKey[4] = {0x37, 0xfa, 0x21, 0x3d};

// A client frame (masked) as a server parser expects it.
std::string masked(Opcode op, std::string_view payload, bool fin = true) {
  std::string out;
  appendFrame(out, op, payload, fin, kKey);
  return out;
}

std::string unmasked(Opcode op, std::string_view payload, bool fin = true) {
  std::string out;
  appendFrame(out, op, payload, fin, nullptr);
  return out;
}

std::vector<WsMessage> drain(FrameParser& parser) {
  std::vector<WsMessage> out;
  WsMessage m;
  while (parser.next(m)) out.push_back(std::move(m));
  return out;
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) & 0xFF);
  return s;
}

// Valid UTF-8 of exactly n bytes, for text frames: 1-, 2-, 3- and 4-byte characters, then ASCII
// to fill.
std::string textPattern(size_t n) {
  static const std::string kUnit = "x\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";  // x é € 😀
  std::string s;
  while (s.size() + kUnit.size() <= n) s += kUnit;
  while (s.size() < n) s.push_back(static_cast<char>('a' + s.size() % 26));
  return s;
}

TEST(FrameCodecTest, Rfc6455Examples) {
  // Section 5.7: a single-frame unmasked text message and its masked form.
  EXPECT_EQ(unmasked(Opcode::Text, "Hello"), std::string("\x81\x05Hello", 7));
  std::string out;
  appendFrame(out, Opcode::Text, "Hello", true, kKey);
  EXPECT_EQ(out, std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
  // Unmasked ping with "Hello".
  EXPECT_EQ(unmasked(Opcode::Ping, "Hello"), std::string("\x89\x05Hello", 7));
}

TEST(FrameCodecTest, HeaderLengthEncodings) {
  unsigned char h[kMaxFrameHeaderBytes];
  EXPECT_EQ(encodeFrameHeader(h, Opcode::Binary, 125, true, nullptr), 2u);
  EXPECT_EQ(h[1], 125);
  EXPECT_EQ(encodeFrameHeader(h, Opcode::Binary, 126, true, nullptr), 4u);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ(h[2], 0);
  EXPECT_EQ(h[3], 126);
  EXPECT_EQ(encodeFrameHeader(h, Opcode::Binary, 65535, true, nullptr), 4u);
  EXPECT_EQ(encodeFrameHeader(h, Opcode::Binary, 65536, true, nullptr), 10u);
  EXPECT_EQ(h[1], 127);
  EXPECT_EQ(h[7], 1);  // 0x10000: byte 5 of the big-endian 64-bit length
  EXPECT_EQ(encodeFrameHeader(h, Opcode::Binary, 65536, false, kKey), 14u);
  EXPECT_EQ(h[0], 0x02);
  EXPECT_EQ(h[1] & 0x80, 0x80);
}

TEST(FrameCodecTest, MaskCopyMatchesBytewiseAtEveryPhase) {
  const std::string src = pattern(67);
  for (uint64_t phase = 0; phase < 8; ++phase) {
    std::string dst(src.size(), '\0');
    maskCopy(dst.data(), src.data(), src.size(), kKey, phase);
    for (size_t i = 0; i < src.size(); ++i) {
      ASSERT_EQ(static_cast<unsigned char>(dst[i]),
                static_cast<unsigned char>(src[i]) ^ kKey[(phase + i) % 4])
          << "phase " << phase << " byte " << i;
    }
  }
}

class RoundTripTest : public ::testing::TestWithParam<size_t> {};

TEST_P(RoundTripTest, ServerParsesClientFramesAndClientParsesServerFrames) {
  const std::string payload = pattern(GetParam());
  FrameWriter client(true);
  FrameWriter server(false);
  FrameParser at_server({true, 1 << 20});
  FrameParser at_client({false, 1 << 20});
  const std::string up = client.binary(payload);
  ASSERT_TRUE(at_server.feed(up.data(), up.size()));
  const std::string text = textPattern(GetParam());
  const std::string down = server.text(text);
  ASSERT_TRUE(at_client.feed(down.data(), down.size()));
  WsMessage m;
  ASSERT_TRUE(at_server.next(m));
  EXPECT_EQ(m.opcode, Opcode::Binary);
  EXPECT_EQ(m.payload, payload);
  ASSERT_TRUE(at_client.next(m));
  EXPECT_EQ(m.opcode, Opcode::Text);
  EXPECT_EQ(m.payload, text);
  EXPECT_FALSE(at_client.next(m));
}

INSTANTIATE_TEST_SUITE_P(Sizes, RoundTripTest,
                         ::testing::Values(0, 1, 7, 8, 9, 125, 126, 127, 65535, 65536, 70000));

TEST(FrameCodecTest, WriterMasksWithFreshKeys) {
  FrameWriter client(true);
  const std::string a = client.text("same");
  const std::string b = client.text("same");
  ASSERT_EQ(a.size(), 2u + 4u + 4u);
  EXPECT_NE(a.substr(2, 4), b.substr(2, 4)) << "two frames with the same mask key";
  EXPECT_EQ(FrameWriter(false).text("x"), std::string("\x81\x01x", 3));
}

TEST(FrameParserTest, SplitAtEveryByteBoundary) {
  // Two fragmented messages with a ping in between, then a close: every split of the stream
  // into two feeds yields the same messages.
  std::string stream = masked(Opcode::Text, "Hel", false) + masked(Opcode::Ping, "p!") +
                       masked(Opcode::Continuation, "lo", true) +
                       masked(Opcode::Binary, pattern(300)) +
                       masked(Opcode::Close, closePayload(1000, "bye"));
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameParser p;
    ASSERT_TRUE(p.feed(stream.data(), cut));
    ASSERT_TRUE(p.feed(stream.data() + cut, stream.size() - cut));
    auto msgs = drain(p);
    ASSERT_EQ(msgs.size(), 4u) << "cut " << cut;
    EXPECT_EQ(msgs[0].opcode, Opcode::Ping);
    EXPECT_EQ(msgs[0].payload, "p!");
    EXPECT_EQ(msgs[1].opcode, Opcode::Text);
    EXPECT_EQ(msgs[1].payload, "Hello");
    EXPECT_EQ(msgs[2].opcode, Opcode::Binary);
    EXPECT_EQ(msgs[2].payload, pattern(300));
    EXPECT_EQ(msgs[3].opcode, Opcode::Close);
  }
}

TEST(FrameParserTest, ByteAtATime) {
  // Multi-byte characters fed one byte at a time: the UTF-8 check carries over between feeds.
  const std::string stream = masked(Opcode::Text, textPattern(70000));
  FrameParser p;
  for (char c : stream) ASSERT_TRUE(p.feed(&c, 1));
  auto msgs = drain(p);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].payload, textPattern(70000));
}

TEST(FrameParserTest, ManyFragmentsWithControlFramesInterleaved) {
  std::string stream = masked(Opcode::Binary, "a", false);
  std::string expected = "a";
  for (int i = 0; i < 20; ++i) {
    stream += masked(Opcode::Pong, std::to_string(i));
    stream += masked(Opcode::Continuation, std::string(i, 'b'), false);
    expected += std::string(i, 'b');
  }
  stream += masked(Opcode::Continuation, "", true);
  FrameParser p;
  ASSERT_TRUE(p.feed(stream.data(), stream.size()));
  auto msgs = drain(p);
  ASSERT_EQ(msgs.size(), 21u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(msgs[i].opcode, Opcode::Pong);
    EXPECT_EQ(msgs[i].payload, std::to_string(i));
  }
  EXPECT_EQ(msgs[20].opcode, Opcode::Binary);
  EXPECT_EQ(msgs[20].payload, expected);
}

TEST(FrameParserTest, InvalidUtf8TextIsPassedThroughOnlyWhenValidationIsOff) {
  const std::string invalid = "\xff\xfe\xc0\x80 not utf-8 \xed\xa0\x80";
  FrameParserOptions options;
  options.validate_utf8 = false;
  FrameParser p(options);
  const std::string frame = masked(Opcode::Text, invalid);
  ASSERT_TRUE(p.feed(frame.data(), frame.size()));
  WsMessage m;
  ASSERT_TRUE(p.next(m));
  EXPECT_EQ(m.payload, invalid);
  FrameParser strict;
  EXPECT_FALSE(strict.feed(frame.data(), frame.size()));
  EXPECT_EQ(strict.errorCode(), close_code::kInvalidPayload);
}

TEST(Utf8ValidatorTest, AcceptsEveryWellFormedForm) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("plain ascii\r\n"));
  EXPECT_TRUE(isValidUtf8("\xc2\x80 \xdf\xbf"));                       // U+0080, U+07FF
  EXPECT_TRUE(isValidUtf8("\xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80"));  // U+0800, U+D7FF, U+E000
  EXPECT_TRUE(isValidUtf8("\xef\xbf\xbf \xf0\x90\x80\x80"));           // U+FFFF, U+10000
  EXPECT_TRUE(isValidUtf8("\xf4\x8f\xbf\xbf"));                        // U+10FFFF
  EXPECT_TRUE(isValidUtf8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"));  // Autobahn 6.2
}

TEST(Utf8ValidatorTest, RefusesOverlongSurrogatesAndOutOfRange) {
  for (const char* bad :
       {"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xed\xa0\x80",
        "\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80", "\xfe", "\xff", "a\xc2", "\xe2\x82", "\xf0\x9f\x98",
        "\xc2"
        "a"}) {
    EXPECT_FALSE(isValidUtf8(bad)) << testing::PrintToString(std::string(bad));
  }
}

// Long ASCII runs are skipped 16 bytes at a time: a character or a bad byte anywhere inside or
// at the edge of such a run, with the input split anywhere, is judged as on its own.
TEST(Utf8ValidatorTest, TheAsciiFastPathMissesNothingAtAnyOffsetOrSplit) {
  const std::pair<std::string, bool> samples[] = {
      {"\xc2\x80", true},  {"\xe2\x82\xac", true},  {"\xf0\x9f\x98\x80", true},  {"\x80", false},
      {"\xc0\xaf", false}, {"\xed\xa0\x80", false}, {"\xf4\x90\x80\x80", false}, {"\xff", false},
      {"\xe2\x82", false}};
  for (const auto& [sample, valid] : samples) {
    for (size_t before = 0; before <= 35; ++before) {
      const std::string text = std::string(before, 'a') + sample + std::string(40 - before, 'b');
      for (size_t cut = 0; cut <= text.size(); ++cut) {
        Utf8Validator v;
        v.feed(text.data(), cut);
        v.feed(text.data() + cut, text.size() - cut);
        ASSERT_EQ(v.complete(), valid)
            << testing::PrintToString(sample) << " after " << before << " bytes, split at " << cut;
      }
    }
  }
}

TEST(FrameParserTest, Utf8IsCheckedAcrossFragmentsAtEverySplit) {
  // A 4-byte character (U+1F600) split between fragments at every point is fine...
  const std::string smile = "ok \xf0\x9f\x98\x80 ok";
  for (size_t cut = 0; cut <= smile.size(); ++cut) {
    FrameParser p;
    const std::string bytes = masked(Opcode::Text, smile.substr(0, cut), false) +
                              masked(Opcode::Ping, "p") +
                              masked(Opcode::Continuation, smile.substr(cut));
    ASSERT_TRUE(p.feed(bytes.data(), bytes.size())) << cut;
    auto msgs = drain(p);
    ASSERT_EQ(msgs.size(), 2u);
    EXPECT_EQ(msgs[1].payload, smile);
  }
  // ...a character cut off by the final fragment is 1007, and so is a surrogate split in two.
  FrameParser truncated;
  std::string bytes =
      masked(Opcode::Text, "a\xf0\x9f", false) + masked(Opcode::Continuation, "\x98");
  EXPECT_FALSE(truncated.feed(bytes.data(), bytes.size()));
  EXPECT_EQ(truncated.errorCode(), close_code::kInvalidPayload);
  FrameParser surrogate;
  bytes = masked(Opcode::Text, "a\xed", false) + masked(Opcode::Continuation, "\xa0\x80");
  EXPECT_FALSE(surrogate.feed(bytes.data(), bytes.size()));
  EXPECT_EQ(surrogate.errorCode(), close_code::kInvalidPayload);
}

TEST(FrameParserTest, InvalidUtf8FailsBeforeTheMessageEnds) {
  // Fail fast: the first fragment is already hopeless, the parser does not wait for the rest.
  FrameParser p;
  const std::string first = masked(Opcode::Text,
                                   "abc\xc0\xaf"
                                   "def",
                                   false);
  EXPECT_FALSE(p.feed(first.data(), first.size()));
  EXPECT_EQ(p.errorCode(), close_code::kInvalidPayload);
}

TEST(FrameParserTest, CountsCompletedFramesNotBytes) {
  FrameParser p;
  const std::string stream = masked(Opcode::Text, "ab", false) + masked(Opcode::Ping, "") +
                             masked(Opcode::Continuation, "cd");
  ASSERT_TRUE(p.feed(stream.data(), stream.size() - 1));
  EXPECT_EQ(p.framesCompleted(), 2u);  // the last fragment lacks a byte
  ASSERT_TRUE(p.feed(stream.data() + stream.size() - 1, 1));
  EXPECT_EQ(p.framesCompleted(), 3u);
}

TEST(FrameParserTest, BinaryIsNeverUtf8Checked) {
  FrameParser p;
  const std::string frame = masked(Opcode::Binary, "\xff\xfe\xc0\x80");
  ASSERT_TRUE(p.feed(frame.data(), frame.size()));
  EXPECT_EQ(drain(p).size(), 1u);
}

struct BadStream {
  const char* name;
  std::string bytes;
  uint16_t code;
};

std::string withFirstByte(std::string frame, unsigned char b0) {
  frame[0] = static_cast<char>(b0);
  return frame;
}

std::vector<BadStream> badStreams() {
  std::string len64 = masked(Opcode::Binary, pattern(70000));
  len64[2] = static_cast<char>(0x80);  // top bit of the 64-bit length
  return {
      {"rsv1", withFirstByte(masked(Opcode::Text, "x"), 0xC1), 1002},
      {"rsv2", withFirstByte(masked(Opcode::Text, "x"), 0xA1), 1002},
      {"rsv3", withFirstByte(masked(Opcode::Text, "x"), 0x91), 1002},
      {"opcode 3", withFirstByte(masked(Opcode::Text, "x"), 0x83), 1002},
      {"opcode 7", withFirstByte(masked(Opcode::Text, "x"), 0x87), 1002},
      {"opcode B", withFirstByte(masked(Opcode::Text, "x"), 0x8B), 1002},
      {"opcode F", withFirstByte(masked(Opcode::Text, "x"), 0x8F), 1002},
      {"unmasked client frame", unmasked(Opcode::Text, "x"), 1002},
      {"fragmented ping", masked(Opcode::Ping, "x", false), 1002},
      {"fragmented close", masked(Opcode::Close, "", false), 1002},
      {"ping of 126 bytes", masked(Opcode::Ping, std::string(126, 'p')), 1002},
      {"close of 126 bytes", masked(Opcode::Close, std::string(126, 'c')), 1002},
      {"continuation without start", masked(Opcode::Continuation, "x"), 1002},
      {"text inside fragmented text", masked(Opcode::Text, "a", false) + masked(Opcode::Text, "b"),
       1002},
      {"binary inside fragmented text",
       masked(Opcode::Text, "a", false) + masked(Opcode::Binary, "b"), 1002},
      {"64-bit length with top bit", len64, 1009},
      {"ping with a 64-bit length", withFirstByte(len64, 0x89), 1002},
      {"invalid UTF-8 in text", masked(Opcode::Text, "a\xff"), 1007},
      {"single frame over the limit", masked(Opcode::Binary, std::string(1025, 'x')), 1009},
      {"fragments over the limit",
       masked(Opcode::Text, std::string(600, 'x'), false) +
           masked(Opcode::Continuation, std::string(600, 'x')),
       1009},
  };
}

TEST(FrameParserTest, ProtocolErrorsCarryTheirCloseCode) {
  for (const BadStream& bad : badStreams()) {
    FrameParser p({true, 1024});
    EXPECT_FALSE(p.feed(bad.bytes.data(), bad.bytes.size())) << bad.name;
    EXPECT_TRUE(p.failed()) << bad.name;
    EXPECT_EQ(p.errorCode(), bad.code) << bad.name;
    EXPECT_FALSE(p.errorReason().empty()) << bad.name;
    EXPECT_LT(p.errorReason().size(), 123u) << bad.name;
    // Once failed, further input is ignored.
    const std::string ok = masked(Opcode::Text, "fine");
    EXPECT_FALSE(p.feed(ok.data(), ok.size())) << bad.name;
  }
}

TEST(FrameParserTest, TooBigIsDetectedFromTheHeaderAlone) {
  // Only the 10-byte header of a 1 GiB frame (plus mask): no payload needs to arrive.
  unsigned char h[kMaxFrameHeaderBytes];
  const size_t n = encodeFrameHeader(h, Opcode::Binary, uint64_t{1} << 30, true, kKey);
  FrameParser p;
  EXPECT_FALSE(p.feed(reinterpret_cast<const char*>(h), n));
  EXPECT_EQ(p.errorCode(), close_code::kMessageTooBig);
}

TEST(FrameParserTest, ExactlyAtTheLimitIsAccepted) {
  FrameParser p({true, 1024});
  const std::string frame = masked(Opcode::Text, std::string(512, 'a'), false) +
                            masked(Opcode::Continuation, std::string(512, 'b'));
  ASSERT_TRUE(p.feed(frame.data(), frame.size()));
  EXPECT_EQ(drain(p).at(0).payload.size(), 1024u);
}

TEST(FrameParserTest, ClientRejectsMaskedServerFrames) {
  FrameParser p({false, 1 << 20});
  const std::string frame = masked(Opcode::Text, "x");
  EXPECT_FALSE(p.feed(frame.data(), frame.size()));
  EXPECT_EQ(p.errorCode(), close_code::kProtocolError);
}

TEST(FrameParserTest, EmptyMessagesAndControlFrames) {
  FrameParser p;
  const std::string stream =
      masked(Opcode::Text, "") + masked(Opcode::Ping, "") + masked(Opcode::Close, "");
  ASSERT_TRUE(p.feed(stream.data(), stream.size()));
  auto msgs = drain(p);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].opcode, Opcode::Text);
  EXPECT_TRUE(msgs[0].payload.empty());
  EXPECT_EQ(msgs[1].opcode, Opcode::Ping);
  EXPECT_EQ(msgs[2].opcode, Opcode::Close);
}

TEST(CloseCodecTest, PayloadRoundTripAndTruncation) {
  ClosePayload c;
  const std::string payload = closePayload(4001, "idle");  // c.reason points into it
  ASSERT_TRUE(parseClosePayload(payload, c));
  EXPECT_EQ(c.code, 4001);
  EXPECT_EQ(c.reason, "idle");
  ASSERT_TRUE(parseClosePayload("", c));
  EXPECT_EQ(c.code, close_code::kNoStatus);
  EXPECT_FALSE(parseClosePayload(std::string(1, '\x03'), c));
  EXPECT_EQ(closePayload(1000, std::string(300, 'r')).size(), kMaxControlPayloadBytes);
  // A close frame built by the writer parses back.
  FrameWriter server(false);
  FrameParser client({false, 1 << 20});
  const std::string frame = server.close(1009, "too big");
  ASSERT_TRUE(client.feed(frame.data(), frame.size()));
  WsMessage m;
  ASSERT_TRUE(client.next(m));
  EXPECT_EQ(m.opcode, Opcode::Close);
  ASSERT_TRUE(parseClosePayload(m.payload, c));
  EXPECT_EQ(c.code, 1009);
  EXPECT_EQ(c.reason, "too big");
}

TEST(CloseCodecTest, WhichCodesMayBeSent) {
  for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999}) {
    EXPECT_TRUE(isValidCloseCode(code)) << code;
  }
  for (uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    EXPECT_FALSE(isValidCloseCode(code)) << code;
  }
  ClosePayload c;
  EXPECT_FALSE(parseClosePayload(closePayload(1005, ""), c));
}

}  // namespace
}  // namespace podterm::host
