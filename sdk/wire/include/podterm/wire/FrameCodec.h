#pragma once
// RFC 6455 framing, for both ends of a connection: the server parses masked frames and writes
// unmasked ones; a client (a load tool, a runtime plugin talking to a cluster's WebSocket API) does
// the opposite. Nothing here knows about sockets, threads or the host: bytes in, messages out, and
// bytes built into std::strings. Part of the SDK's wire utilities (podterm::wire), so plugins can
// use it without including host/.
//
// Threading: a FrameParser or FrameWriter is not thread-safe (one per connection, used by one
// thread at a time). The free functions are pure and thread-safe.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <string_view>

namespace podterm::wire {

enum class Opcode : uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xA,
};

inline bool isControl(Opcode op) noexcept {
  return (static_cast<uint8_t>(op) & 0x8) != 0;
}

// Close codes this layer uses (RFC 6455 section 7.4.1).
namespace close_code {
inline constexpr uint16_t kNormal = 1000;
inline constexpr uint16_t kGoingAway = 1001;
inline constexpr uint16_t kProtocolError = 1002;
inline constexpr uint16_t kUnsupportedData = 1003;
inline constexpr uint16_t kNoStatus = 1005;  // never sent: reported when a close had no code
inline constexpr uint16_t kAbnormal = 1006;  // never sent: reported when TCP ended without close
inline constexpr uint16_t kInvalidPayload = 1007;
inline constexpr uint16_t kPolicyViolation = 1008;
inline constexpr uint16_t kMessageTooBig = 1009;
inline constexpr uint16_t kInternalError = 1011;
}  // namespace close_code

// Longest frame header: 2 bytes + 8 bytes of extended length + 4 bytes of mask key.
inline constexpr size_t kMaxFrameHeaderBytes = 14;
// Control frames carry at most 125 payload bytes and are never fragmented.
inline constexpr size_t kMaxControlPayloadBytes = 125;

// A complete data message (Text/Binary, reassembled from its fragments) or a control frame
// (Close/Ping/Pong), in the order it completed on the wire.
struct WsMessage {
  Opcode opcode = Opcode::Text;
  std::string payload;  // unmasked; text is valid UTF-8 when the parser validates it (default)
};

// Incremental UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF), for text split across frames or reads. Not thread-safe.
class Utf8Validator {
 public:
  // False once the bytes so far cannot be the start of valid UTF-8 (and from then on).
  bool feed(const char* data, size_t n) noexcept;
  // True when everything fed is valid and no character is cut off at the end.
  bool complete() const noexcept { return !invalid_ && need_ == 0; }
  bool invalid() const noexcept { return invalid_; }
  void reset() noexcept { *this = Utf8Validator(); }

 private:
  uint8_t need_ = 0;   // continuation bytes still expected
  uint8_t lo_ = 0x80;  // bounds of the next continuation byte (narrower after E0, ED, F0, F4)
  uint8_t hi_ = 0xBF;
  bool invalid_ = false;
};

bool isValidUtf8(std::string_view text) noexcept;

struct FrameParserOptions {
  // A server requires masked frames from its clients; a client requires unmasked ones.
  bool expect_masked = true;
  // Upper bound of a reassembled data message; exceeding it is error 1009, detected from the
  // frame header before any of its payload is buffered.
  size_t max_message_bytes = size_t{1} << 20;
  // Text messages must be valid UTF-8 (RFC 6455 section 8.1); invalid bytes are error 1007,
  // detected as soon as they arrive, also when a character spans two fragments.
  bool validate_utf8 = true;
};

// Incremental parser: feed() any split of the byte stream, then pull messages with next().
// After the first protocol error it ignores all further input; failed() and errorCode() say
// which close code to send.
class FrameParser {
 public:
  explicit FrameParser(FrameParserOptions options = {});

  // Consumes all n bytes (buffering at most one partial header and the message being assembled).
  // Returns false once the stream is in error.
  bool feed(const char* data, size_t n);

  // Moves the next complete message or control frame into out; false when none is ready.
  bool next(WsMessage& out);
  size_t pending() const noexcept { return ready_.size(); }
  // Frames whose last byte has arrived (data fragments and control frames), since construction:
  // what "the peer sent a frame" means for an idle timeout, which bytes trickling in do not meet.
  uint64_t framesCompleted() const noexcept { return frames_completed_; }

  bool failed() const noexcept { return error_code_ != 0; }
  // The close code to send (1002, 1007 or 1009); 0 while the stream is fine.
  uint16_t errorCode() const noexcept { return error_code_; }
  // What went wrong, short enough for a close frame's reason (< 123 bytes).
  const std::string& errorReason() const noexcept { return error_reason_; }

  const FrameParserOptions& options() const noexcept { return options_; }

 private:
  size_t consumeHeader(const char* data, size_t n);
  size_t consumePayload(const char* data, size_t n);
  bool startFrame();
  void finishFrame();
  void fail(uint16_t code, const char* reason);

  FrameParserOptions options_;
  // Current frame header, accumulated until complete.
  unsigned char header_[kMaxFrameHeaderBytes];
  size_t header_have_ = 0;
  bool in_payload_ = false;
  // Current frame.
  bool fin_ = false;
  Opcode opcode_ = Opcode::Continuation;
  bool masked_ = false;
  unsigned char mask_[4] = {0, 0, 0, 0};
  uint64_t remaining_ = 0;   // payload bytes of the current frame still to come
  uint64_t mask_phase_ = 0;  // payload bytes of the current frame already unmasked
  // Data message being reassembled; message_open_ between its first and its final fragment.
  bool message_open_ = false;
  Opcode message_opcode_ = Opcode::Text;
  std::string message_;
  Utf8Validator utf8_;   // over the text message being reassembled
  std::string control_;  // payload of the control frame in progress (may interleave fragments)
  std::deque<WsMessage> ready_;
  uint64_t frames_completed_ = 0;
  uint16_t error_code_ = 0;
  std::string error_reason_;
};

// Copies n bytes from src to dst XOR-ing with the 4-byte mask key, starting at byte `phase` of
// the key (the offset of src within the frame's payload). dst may equal src.
void maskCopy(char* dst, const char* src, size_t n, const unsigned char key[4], uint64_t phase);

// Writes a frame header into out (kMaxFrameHeaderBytes available) and returns its length.
// mask_key is null for an unmasked (server) frame.
size_t encodeFrameHeader(unsigned char* out, Opcode op, uint64_t payload_len, bool fin,
                         const unsigned char* mask_key);

// Appends one complete frame to out. With a mask_key the payload is masked (client frames).
void appendFrame(std::string& out, Opcode op, std::string_view payload, bool fin = true,
                 const unsigned char* mask_key = nullptr);

// Payload of a Close frame: 2-byte code then a reason, truncated to fit 125 bytes.
std::string closePayload(uint16_t code, std::string_view reason);

// Close codes an endpoint may put on the wire (1000-1003, 1007-1014, 3000-4999).
bool isValidCloseCode(uint16_t code) noexcept;

struct ClosePayload {
  uint16_t code = close_code::kNoStatus;  // kNoStatus when the payload was empty
  std::string_view reason;                // points into the parsed payload
};
// Parses a received Close payload. False (a protocol error, 1002) for a 1-byte payload or a code
// not allowed on the wire. The reason is not checked here: see isValidUtf8 (1007).
bool parseClosePayload(std::string_view payload, ClosePayload& out);

// Builds frames for one end of a connection. A client (mask_frames = true) masks every frame
// with a fresh random key, as RFC 6455 section 5.3 requires; a server never masks.
class FrameWriter {
 public:
  explicit FrameWriter(bool mask_frames);

  void append(std::string& out, Opcode op, std::string_view payload, bool fin = true);
  std::string encode(Opcode op, std::string_view payload, bool fin = true);
  std::string text(std::string_view payload) { return encode(Opcode::Text, payload); }
  std::string binary(std::string_view payload) { return encode(Opcode::Binary, payload); }
  // Control frames: payloads longer than 125 bytes are truncated (close reasons) or refused by
  // the peer (pings), so keep them short.
  std::string close(uint16_t code, std::string_view reason = {});
  std::string ping(std::string_view payload = {}) { return encode(Opcode::Ping, payload); }
  std::string pong(std::string_view payload = {}) { return encode(Opcode::Pong, payload); }

  bool masksFrames() const noexcept { return mask_frames_; }

 private:
  bool mask_frames_;
  std::mt19937 rng_;
};

}  // namespace podterm::wire
