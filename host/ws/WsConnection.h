#pragma once
// One server-side WebSocket connection after the HTTP upgrade, driven by an EventLoop.
//
// Poco does the handshake; then the raw socket fd is handed here and never touched by Poco again.
// Reads, control frames, timers and all callbacks run on the connection's loop thread. Sends are
// thread-safe and may come from any thread (the shell's output arrives on a runtime I/O thread
// and is written straight to the socket, without a thread hop, for keystroke latency).
//
// Lifetime: create() returns a shared_ptr; once started, the loop keeps the connection alive
// until it is closed, so the host may drop its pointer. The handler is released right after
// onClosed, which breaks handler <-> connection reference cycles. If the loop is stopped and
// destroyed first, open connections are destroyed with it, without onClosed.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "ws/EventLoop.h"
#include "ws/FrameCodec.h"
#include "ws/InputBudget.h"
#include "ws/TlsTransport.h"

namespace podterm::host {

class WsConnection;

struct WsConnectionOptions {
  // Largest message accepted from the peer; larger ones close the connection with 1009.
  size_t max_message_bytes = size_t{1} << 20;
  // Backpressure: once more than high_watermark bytes are queued, aboveHighWatermark() turns
  // true; when the queue has drained to low_watermark, onDrained() fires once.
  size_t high_watermark = size_t{1} << 20;
  size_t low_watermark = size_t{256} << 10;
  // Zero disables. Pings keep proxies from dropping idle connections; the idle timeout closes a
  // connection (1001, reason "idle timeout") after that long without a complete frame from the
  // peer (pongs count; bytes of an unfinished frame do not; a socket paused by input_budget
  // counts as active).
  std::chrono::milliseconds ping_interval{0};
  std::chrono::milliseconds idle_timeout{0};
  // How long a closing handshake may take before the socket is closed anyway.
  std::chrono::milliseconds close_timeout{5000};
  // Null: unlimited. Else the socket reads only what this budget (shared by the connections of
  // one session) holds, and stops reading until it refills: the peer's TCP window closes, and
  // nothing it sent is dropped.
  InputBudgetPtr input_budget;
};

// Callbacks, all on the connection's loop thread. They may call any WsConnection method.
class WsConnectionHandler {
 public:
  virtual ~WsConnectionHandler() = default;
  // A complete data message (fragments reassembled). Text is not UTF-8 checked. payload is only
  // valid during the call.
  virtual void onMessage(WsConnection& conn, bool is_text, std::string_view payload) = 0;
  // Exactly once, after the socket is closed; then the handler is released. code is the peer's
  // code when the peer started the closing handshake (1005 when it gave none), the code this side
  // sent when it did (close(), a protocol error, the idle timeout), and 1006 when the TCP
  // connection ended without a close frame.
  virtual void onClosed(WsConnection& conn, uint16_t code, std::string_view reason) = 0;
  // The outgoing queue went above the high watermark and has now drained to the low watermark:
  // resume whatever was paused (e.g. ExecStream::resumeOutput).
  virtual void onDrained(WsConnection& conn) {}
};

class WsConnection : public std::enable_shared_from_this<WsConnection> {
  struct Passkey {};

 public:
  // OWNERSHIP: takes fd, a connected socket whose upgrade response has been sent (it is closed
  // when the connection closes or is destroyed). Sets O_NONBLOCK and TCP_NODELAY.
  // subprotocol: the negotiated Sec-WebSocket-Protocol ("" for none).
  static std::shared_ptr<WsConnection> create(int fd, EventLoop& loop,
                                              WsConnectionOptions options = {},
                                              std::string subprotocol = {});
  // The same over TLS (a listener with its own certificate): tls carries the socket's SSL and
  // owns the fd. Reads and writes go through it, under the connection's mutex.
  static std::shared_ptr<WsConnection> create(std::unique_ptr<TlsTransport> tls, EventLoop& loop,
                                              WsConnectionOptions options = {},
                                              std::string subprotocol = {});
  WsConnection(Passkey, int fd, EventLoop& loop, WsConnectionOptions options,
               std::string subprotocol, std::unique_ptr<TlsTransport> tls);
  ~WsConnection();
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  // Starts reading and delivering callbacks to handler. Any thread; call once.
  void start(std::shared_ptr<WsConnectionHandler> handler);

  // Send one message. Thread-safe, never block: if nothing is queued the frame goes straight to
  // the socket, and what the socket does not take is queued (without bound: watch
  // aboveHighWatermark() and pause the producer). False once the connection is closing or
  // closed. sendText sends the bytes as they are: pass them through a Utf8Sanitizer first.
  bool sendText(std::string_view payload) { return sendFrame(Opcode::Text, &payload, 1); }
  bool sendBinary(std::string_view payload) { return sendFrame(Opcode::Binary, &payload, 1); }
  // One text message whose payload is the concatenation of parts, without concatenating them.
  bool sendTextParts(const std::string_view* parts, size_t count) {
    return sendFrame(Opcode::Text, parts, count);
  }
  bool sendPing(std::string_view payload = {});

  // Starts the closing handshake: sends a Close frame with code (1000 is sent instead of a code
  // that may not go on the wire) and reason (truncated to 123 bytes), waits up to close_timeout
  // for the peer's Close, then closes the socket and calls onClosed. Thread-safe; a no-op when
  // already closing.
  void close(uint16_t code = close_code::kNormal, std::string reason = {});

  // Bytes queued and not yet taken by the socket. Thread-safe.
  size_t bufferedBytes() const noexcept { return buffered_.load(std::memory_order_relaxed); }
  bool aboveHighWatermark() const noexcept { return above_high_.load(std::memory_order_relaxed); }
  // True until a close frame was sent or received, or the connection failed. Thread-safe.
  bool isOpen() const noexcept { return state_.load() == State::Open; }

  const std::string& subprotocol() const noexcept { return subprotocol_; }
  // Process-unique, for logs.
  uint64_t id() const noexcept { return id_; }
  EventLoop& loop() const noexcept { return loop_; }

 private:
  enum class State { Open, Closing, Closed };

  bool sendFrame(Opcode op, const std::string_view* parts, size_t count);
  bool writeFrameLocked(Opcode op, const std::string_view* parts, size_t count);
  void queueLocked(const unsigned char* header, size_t header_len, const std::string_view* parts,
                   size_t count, size_t skip);
  void armWriteLocked();
  void sendCloseLocked(uint16_t code, std::string_view reason);
  void onSendFailed(int err);
  // One send of out_'s unsent bytes; like send(2): -1 with errno EAGAIN when it would block.
  ssize_t sendQueuedLocked();
  // Sends out_ until it is empty or the socket is full. Mutex held.
  void drainQueueLocked();
  ssize_t receive(char* buffer, size_t size);
  void closeSocketLocked();

  // Loop thread only.
  void onStart(std::shared_ptr<WsConnectionHandler> handler);
  void onEvents(uint32_t events);
  void onReadable(uint32_t events);
  void pauseReading();
  void resumeReading();
  uint32_t interestLocked() const;
  void onWritable();
  void dispatchMessages();
  void onCloseFrame(std::string_view payload);
  void failConnection(uint16_t code, std::string_view reason);
  void afterFlush();
  void armCloseTimer();
  void schedulePing();
  void scheduleIdleCheck(std::chrono::milliseconds delay);
  void finish(std::string_view abnormal_reason);

  const uint64_t id_;
  EventLoop& loop_;
  const WsConnectionOptions options_;
  const std::string subprotocol_;
  std::atomic<State> state_{State::Open};
  std::atomic<size_t> buffered_{0};
  std::atomic<bool> above_high_{false};

  // Guards the fd against closing while another thread sends, the queue, and the close code.
  mutable std::mutex mutex_;
  int fd_;
  // Null on plain TCP (the common, zero-overhead path). Mutex held for every call.
  std::unique_ptr<TlsTransport> tls_;
  bool tls_read_wants_write_ = false;  // a TLS read must write first: retry it on EPOLLOUT
  bool tls_write_wants_read_ = false;  // a TLS write must read first: retry it on EPOLLIN
  std::string out_;                    // queued bytes are out_[out_off_, size)
  size_t out_off_ = 0;
  bool write_armed_ = false;  // EPOLLOUT requested (or about to be)
  bool watching_ = false;     // registered with the loop
  bool send_failed_ = false;
  uint16_t close_code_ = 0;  // 0 until a close frame was sent or received
  std::string close_reason_;

  // Loop thread only.
  FrameParser parser_;
  std::shared_ptr<WsConnectionHandler> handler_;
  bool linger_after_flush_ = false;  // shut down our side once the queue (ending in Close) drains
  bool shut_down_write_ = false;
  bool finished_ = false;
  uint64_t close_timer_ = 0;
  uint64_t ping_timer_ = 0;
  uint64_t idle_timer_ = 0;
  uint64_t resume_timer_ = 0;
  bool read_paused_ = false;  // input budget spent: not watching EPOLLIN until it refills
  std::chrono::steady_clock::time_point last_frame_;  // the last complete frame from the peer
};

using WsConnectionPtr = std::shared_ptr<WsConnection>;

}  // namespace podterm::host
