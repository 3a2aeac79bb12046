#include "podterm/wire/FrameCodec.h"

#include <algorithm>
#include <cstring>

namespace podterm::wire {

namespace {

constexpr unsigned char kFinBit = 0x80;
constexpr unsigned char kRsvBits = 0x70;
constexpr unsigned char kOpcodeBits = 0x0F;
constexpr unsigned char kMaskBit = 0x80;
constexpr unsigned char kLenBits = 0x7F;

bool isKnownOpcode(unsigned op) {
  switch (op) {
    case 0x0:
    case 0x1:
    case 0x2:
    case 0x8:
    case 0x9:
    case 0xA:
      return true;
    default:
      return false;
  }
}

// Bytes of header the frame needs, known once its first two bytes are in.
size_t headerLength(const unsigned char* h) {
  size_t len = 2;
  unsigned len7 = h[1] & kLenBits;
  if (len7 == 126) len += 2;
  if (len7 == 127) len += 8;
  if (h[1] & kMaskBit) len += 4;
  return len;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// UTF-8

// Terminal output is mostly ASCII: between characters, 16 bytes with no high bit set are 16
// valid characters, skipped in two loads instead of 16 branches (a load tool or a browser-side
// check reading a 100 MB flood spends most of its time here otherwise).
namespace {
size_t asciiRun(const unsigned char* p, size_t n) noexcept {
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    uint64_t a;
    uint64_t b;
    std::memcpy(&a, p + i, 8);
    std::memcpy(&b, p + i + 8, 8);
    if (((a | b) & kHighs) != 0) break;
  }
  return i;
}
}  // namespace

bool Utf8Validator::feed(const char* data, size_t n) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n && !invalid_; ++i) {
    // Only from an ASCII byte: in text that is mostly multi-byte (CJK) the next byte is usually a
    // lead byte, and the try would be wasted on every character.
    if (need_ == 0 && p[i] < 0x80 && n - i >= 16) {
      i += asciiRun(p + i, n - i);
      if (i == n) break;
    }
    const unsigned char b = p[i];
    if (need_ > 0) {
      if (b < lo_ || b > hi_) invalid_ = true;
      lo_ = 0x80;
      hi_ = 0xBF;
      --need_;
      continue;
    }
    if (b < 0x80) continue;
    if (b >= 0xC2 && b <= 0xDF) {
      need_ = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need_ = 2;
      if (b == 0xE0) lo_ = 0xA0;  // overlong below U+0800
      if (b == 0xED) hi_ = 0x9F;  // UTF-16 surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      need_ = 3;
      if (b == 0xF0) lo_ = 0x90;  // overlong below U+10000
      if (b == 0xF4) hi_ = 0x8F;  // above U+10FFFF
    } else {
      invalid_ = true;  // continuation byte without a lead, C0/C1 (overlong), F5..FF
    }
  }
  return !invalid_;
}

bool isValidUtf8(std::string_view text) noexcept {
  Utf8Validator v;
  v.feed(text.data(), text.size());
  return v.complete();
}

// ---------------------------------------------------------------------------------------------
// Masking

void maskCopy(char* dst, const char* src, size_t n, const unsigned char key[4], uint64_t phase) {
  // Rotate the key so that byte 0 of this chunk lines up with key[phase % 4]; then the same
  // 8-byte pattern applies to every 8-byte word, which the compiler turns into wide XORs.
  unsigned char rotated[8];
  for (size_t i = 0; i < 8; ++i) rotated[i] = key[(phase + i) & 3];
  uint64_t key64;
  std::memcpy(&key64, rotated, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, src + i, 8);
    word ^= key64;
    std::memcpy(dst + i, &word, 8);
  }
  for (; i < n; ++i) dst[i] = static_cast<char>(src[i] ^ rotated[i & 7]);
}

// ---------------------------------------------------------------------------------------------
// Encoding

size_t encodeFrameHeader(unsigned char* out, Opcode op, uint64_t payload_len, bool fin,
                         const unsigned char* mask_key) {
  out[0] = static_cast<unsigned char>((fin ? kFinBit : 0) | static_cast<unsigned char>(op));
  const unsigned char mask_bit = mask_key ? kMaskBit : 0;
  size_t len = 2;
  if (payload_len < 126) {
    out[1] = static_cast<unsigned char>(mask_bit | payload_len);
  } else if (payload_len <= 0xFFFF) {
    out[1] = mask_bit | 126;
    out[2] = static_cast<unsigned char>(payload_len >> 8);
    out[3] = static_cast<unsigned char>(payload_len);
    len = 4;
  } else {
    out[1] = mask_bit | 127;
    for (int i = 0; i < 8; ++i)
      out[2 + i] = static_cast<unsigned char>(payload_len >> (56 - 8 * i));
    len = 10;
  }
  if (mask_key) {
    std::memcpy(out + len, mask_key, 4);
    len += 4;
  }
  return len;
}

void appendFrame(std::string& out, Opcode op, std::string_view payload, bool fin,
                 const unsigned char* mask_key) {
  unsigned char header[kMaxFrameHeaderBytes];
  const size_t header_len = encodeFrameHeader(header, op, payload.size(), fin, mask_key);
  const size_t start = out.size();
  // One resize for header + payload: no per-byte appends on the keystroke path.
  out.resize(start + header_len + payload.size());
  char* dst = out.data() + start;
  std::memcpy(dst, header, header_len);
  if (mask_key) {
    maskCopy(dst + header_len, payload.data(), payload.size(), mask_key, 0);
  } else if (!payload.empty()) {
    std::memcpy(dst + header_len, payload.data(), payload.size());
  }
}

std::string closePayload(uint16_t code, std::string_view reason) {
  reason = reason.substr(0, kMaxControlPayloadBytes - 2);
  std::string payload;
  payload.reserve(2 + reason.size());
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason);
  return payload;
}

bool isValidCloseCode(uint16_t code) noexcept {
  if (code >= 3000 && code <= 4999) return true;  // registered (3xxx) and private (4xxx)
  if (code < 1000 || code > 1014) return false;
  // 1004 is reserved; 1005 and 1006 are only ever reported locally, never sent.
  return code != 1004 && code != 1005 && code != 1006;
}

bool parseClosePayload(std::string_view payload, ClosePayload& out) {
  out = ClosePayload{};
  if (payload.empty()) return true;
  if (payload.size() == 1) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(payload.data());
  out.code = static_cast<uint16_t>((p[0] << 8) | p[1]);
  out.reason = payload.substr(2);
  return isValidCloseCode(out.code);
}

FrameWriter::FrameWriter(bool mask_frames) : mask_frames_(mask_frames) {
  if (mask_frames_) {
    // The mask only has to be unpredictable to script in a browser that shares a proxy with us
    // (RFC 6455 section 10.3); a per-process random seed is enough for our own clients.
    std::random_device seed;
    rng_.seed(seed());
  }
}

void FrameWriter::append(std::string& out, Opcode op, std::string_view payload, bool fin) {
  if (!mask_frames_) {
    appendFrame(out, op, payload, fin, nullptr);
    return;
  }
  const uint32_t r = rng_();
  const unsigned char key[4] = {static_cast<unsigned char>(r >> 24),
                                static_cast<unsigned char>(r >> 16),
                                static_cast<unsigned char>(r >> 8), static_cast<unsigned char>(r)};
  appendFrame(out, op, payload, fin, key);
}

std::string FrameWriter::encode(Opcode op, std::string_view payload, bool fin) {
  std::string out;
  out.reserve(kMaxFrameHeaderBytes + payload.size());
  append(out, op, payload, fin);
  return out;
}

std::string FrameWriter::close(uint16_t code, std::string_view reason) {
  return encode(Opcode::Close, closePayload(code, reason));
}

// ---------------------------------------------------------------------------------------------
// Parsing

FrameParser::FrameParser(FrameParserOptions options) : options_(options) {}

void FrameParser::fail(uint16_t code, const char* reason) {
  error_code_ = code;
  error_reason_ = reason;
}

bool FrameParser::feed(const char* data, size_t n) {
  while (n > 0 && !failed()) {
    const size_t used = in_payload_ ? consumePayload(data, n) : consumeHeader(data, n);
    data += used;
    n -= used;
  }
  return !failed();
}

size_t FrameParser::consumeHeader(const char* data, size_t n) {
  // First the two fixed bytes, which tell how long the whole header is.
  size_t used = 0;
  size_t need = header_have_ < 2 ? 2 : headerLength(header_);
  while (header_have_ < need && used < n) {
    const size_t take = std::min(need - header_have_, n - used);
    std::memcpy(header_ + header_have_, data + used, take);
    header_have_ += take;
    used += take;
    if (header_have_ == 2) need = headerLength(header_);
  }
  if (header_have_ < need) return used;
  if (startFrame()) {
    in_payload_ = true;
    if (remaining_ == 0) finishFrame();
  }
  return used;
}

// Validates a complete header and sets up the frame; false after reporting a protocol error.
bool FrameParser::startFrame() {
  const unsigned char* h = header_;
  fin_ = (h[0] & kFinBit) != 0;
  if (h[0] & kRsvBits) {
    // We negotiate no extension, so every RSV bit must be clear.
    fail(close_code::kProtocolError, "reserved bits set");
    return false;
  }
  const unsigned raw_op = h[0] & kOpcodeBits;
  if (!isKnownOpcode(raw_op)) {
    fail(close_code::kProtocolError, "unknown opcode");
    return false;
  }
  opcode_ = static_cast<Opcode>(raw_op);
  masked_ = (h[1] & kMaskBit) != 0;
  if (masked_ != options_.expect_masked) {
    fail(close_code::kProtocolError, masked_ ? "masked frame from server" : "unmasked frame");
    return false;
  }
  const unsigned len7 = h[1] & kLenBits;
  size_t pos = 2;
  uint64_t len = len7;
  if (len7 == 126) {
    len = (uint64_t{h[2]} << 8) | h[3];
    pos = 4;
  } else if (len7 == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | h[2 + i];
    pos = 10;
    if ((len >> 63) && !isControl(opcode_)) {
      // Not a length anyone can send (RFC 6455 requires the top bit clear); refused as too big,
      // from the header, so nothing is allocated for it.
      fail(close_code::kMessageTooBig, "frame length has its top bit set");
      return false;
    }
  }
  if (masked_) std::memcpy(mask_, h + pos, 4);

  if (isControl(opcode_)) {
    if (!fin_) {
      fail(close_code::kProtocolError, "fragmented control frame");
      return false;
    }
    if (len > kMaxControlPayloadBytes) {
      fail(close_code::kProtocolError, "control frame too long");
      return false;
    }
    control_.clear();
    control_.reserve(len);
  } else {
    if (opcode_ == Opcode::Continuation && !message_open_) {
      fail(close_code::kProtocolError, "continuation frame without a message");
      return false;
    }
    if (opcode_ != Opcode::Continuation && message_open_) {
      fail(close_code::kProtocolError, "new message inside a fragmented message");
      return false;
    }
    if (opcode_ != Opcode::Continuation) {
      message_open_ = true;
      message_opcode_ = opcode_;
      message_.clear();
      utf8_.reset();
    }
    // Checked from the header, before any payload is buffered, so a peer cannot make us
    // allocate more than the limit.
    if (len > options_.max_message_bytes - message_.size()) {
      fail(close_code::kMessageTooBig, "message too big");
      return false;
    }
    message_.reserve(message_.size() + len);
  }
  remaining_ = len;
  mask_phase_ = 0;
  return true;
}

size_t FrameParser::consumePayload(const char* data, size_t n) {
  const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, n));
  std::string& dst = isControl(opcode_) ? control_ : message_;
  const size_t start = dst.size();
  dst.resize(start + take);
  if (masked_) {
    maskCopy(dst.data() + start, data, take, mask_, mask_phase_);
  } else {
    std::memcpy(dst.data() + start, data, take);
  }
  mask_phase_ += take;
  remaining_ -= take;
  if (!isControl(opcode_) && message_opcode_ == Opcode::Text && options_.validate_utf8 &&
      !utf8_.feed(dst.data() + start, take)) {
    // Fail fast: the rest of the message is not waited for.
    fail(close_code::kInvalidPayload, "invalid UTF-8 in a text message");
    return take;
  }
  if (remaining_ == 0) finishFrame();
  return take;
}

void FrameParser::finishFrame() {
  in_payload_ = false;
  header_have_ = 0;
  ++frames_completed_;
  if (isControl(opcode_)) {
    ready_.push_back(WsMessage{opcode_, std::move(control_)});
    control_.clear();
    return;
  }
  if (fin_) {
    if (message_opcode_ == Opcode::Text && options_.validate_utf8 && !utf8_.complete()) {
      fail(close_code::kInvalidPayload, "text message ends inside a UTF-8 character");
      return;
    }
    ready_.push_back(WsMessage{message_opcode_, std::move(message_)});
    message_.clear();
    message_open_ = false;
  }
}

bool FrameParser::next(WsMessage& out) {
  if (ready_.empty()) return false;
  out = std::move(ready_.front());
  ready_.pop_front();
  return true;
}

}  // namespace podterm::wire
