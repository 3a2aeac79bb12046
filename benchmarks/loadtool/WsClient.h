#pragma once
// One client WebSocket on the load tool's EventLoop: non-blocking connect, the upgrade written by
// hand, then the host's FrameParser (expect_masked = false) and a masking FrameWriter.
//
// Threading: everything, construction and destruction included, runs on the loop thread.
// Callbacks run on the loop thread from inside the socket handler; they must not destroy the
// client (close() it, and destroy it later from a posted task or at the end of the run).

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "ws/EventLoop.h"
#include "ws/FrameCodec.h"

namespace podterm::bench {

using Clock = std::chrono::steady_clock;

// Why a client ended, for the failure counts of the report.
enum class EndReason {
  None,           // still open
  ClientClosed,   // this side closed it (normal)
  ServerClosed,   // the server sent a Close frame (code in closeCode())
  ConnectFailed,  // TCP connect refused or failed
  Refused,        // HTTP answer other than 101, or a malformed one
  Reset,          // TCP ended (EOF, ECONNRESET) without a Close frame
  ProtocolError,  // a frame the parser rejected
};
const char* endReasonName(EndReason reason);

struct WsClientCallbacks {
  std::function<void()> on_open;                       // after a valid 101
  std::function<void(std::string_view)> on_text;       // a text message (terminal output)
  std::function<void(std::string_view)> on_binary;     // a binary message (v2 events)
  std::function<void(EndReason, uint16_t)> on_closed;  // exactly once, socket already closed
};

class WsClient {
 public:
  WsClient(host::EventLoop& loop, std::string host, uint16_t port, std::string path,
           std::string subprotocol, WsClientCallbacks callbacks);
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Starts the non-blocking connect; failures arrive through on_closed.
  void connect();
  void sendText(std::string_view text);
  void sendBinary(std::string_view bytes);
  // Sends a Close frame; the socket closes when the server answers (or on EOF).
  void close(uint16_t code = host::close_code::kNormal);
  // Closes the socket now, without a closing handshake (reported as ClientClosed).
  void abort();

  bool isOpen() const noexcept { return state_ == State::Open; }
  bool isEnded() const noexcept { return state_ == State::Ended; }
  EndReason endReason() const noexcept { return end_reason_; }
  uint16_t closeCode() const noexcept { return close_code_; }
  const std::string& detail() const noexcept { return detail_; }  // refusal text, errno text
  Clock::time_point connectStart() const noexcept { return connect_start_; }
  Clock::time_point openedAt() const noexcept { return opened_at_; }
  uint64_t bytesReceived() const noexcept { return bytes_received_; }

 private:
  enum class State { Idle, Connecting, Upgrading, Open, Closing, Ended };

  void onEvents(uint32_t events);
  void onConnected();
  void readAvailable();
  void handleHead();
  void handleFrames(const char* data, size_t n);
  void queue(std::string bytes);
  void flush();
  void finish(EndReason reason, uint16_t code, std::string detail = {});

  host::EventLoop& loop_;
  std::string host_;
  uint16_t port_;
  std::string path_;
  std::string subprotocol_;
  WsClientCallbacks callbacks_;
  int fd_ = -1;
  bool watching_ = false;
  uint32_t watched_events_ = 0;
  State state_ = State::Idle;
  EndReason end_reason_ = EndReason::None;
  uint16_t close_code_ = 0;
  std::string detail_;
  std::string key_;
  std::string head_;  // response head being received
  std::string out_;   // bytes not yet written
  size_t out_pos_ = 0;
  host::FrameParser parser_;
  host::FrameWriter writer_{true};
  host::WsMessage message_;
  Clock::time_point connect_start_{};
  Clock::time_point opened_at_{};
  uint64_t bytes_received_ = 0;
};

}  // namespace podterm::bench
