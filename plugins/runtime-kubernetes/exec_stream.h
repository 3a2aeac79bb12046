#pragma once
// ExecConnection: one `pods/exec` call over a WebSocket (v5.channel.k8s.io or v4.channel.k8s.io),
// spoken with podterm::wire frames over a non-blocking socket (TLS through OpenSSL) on the
// runtime's EventLoop: no thread per stream.
//
// Security: no stdin byte is sent before the server answered 101 with the right
// Sec-WebSocket-Accept and one of the offered subprotocols (CVE-2018-1002105); redirects are never
// followed; any other answer ends the stream with the API's message.
//
// Channels: 0 stdin, 1 stdout, 2 stderr, 3 status (exit code from NonZeroExitCode causes), 4
// resize; v5's close signal (255, 0) ends stdin. Under v4 there is no stdin EOF, so streams that
// may need one run a wrapper that reads length-prefixed chunks ("<n>\n" then n bytes, "0\n" is
// EOF) and pipes them into the command (chunked_stdin below).
//
// Threading: the public methods are thread-safe and never block. Observer callbacks run on the
// loop thread with cb_mu_ held, so close() from another thread waits for a running callback and
// close() from inside one just marks the stream closed.

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "event_loop.h"
#include "podterm/runtime.h"
#include "podterm/wire/FrameCodec.h"

namespace podterm::plugins::kubernetes {

// Negotiated subprotocol, remembered by the runtime.
enum class ExecProtocol { Unknown = 0, V4 = 4, V5 = 5 };

struct ExecTarget {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string host_header;  // "host:port"
  std::string tls_name;     // name (or IP) checked in the certificate; empty for plain http
  SSL_CTX* tls = nullptr;   // null: plain http (tests only)
  std::string token;
  std::string path;  // /api/v1/namespaces/.../exec?...
  bool offer_v5 = true;
  // A ping every interval once open; a connection silent for three intervals and 5 s more (no
  // pong, no data; time the output is paused does not count) is dead.
  std::chrono::milliseconds ping_interval{20000};
};

class ExecConnection : public EventLoop::Handler,
                       public std::enable_shared_from_this<ExecConnection> {
 public:
  static constexpr size_t kMaxPendingInput = 1024 * 1024;

  ExecConnection(EventLoop& loop, sdk::StreamObserver* observer, bool tty, bool chunked_stdin,
                 std::function<void(ExecProtocol)> on_protocol);
  ~ExecConnection() override;

  // Any thread: starts connecting (the socket work happens on the loop).
  sdk::Status start(ExecTarget target);

  sdk::Status write(const char* data, size_t size);
  sdk::Status closeStdin();
  sdk::Status resize(uint16_t cols, uint16_t rows);
  void pauseOutput();
  void resumeOutput();
  void close();
  size_t pendingInput() const;
  // The pod went away: end with this error (unless the exit is already known).
  void failWith(const sdk::Status& error);
  bool finished() const { return finished_.load(); }

  void onEvents(uint32_t events) override;

 private:
  enum class State { Connecting, TlsHandshake, Handshake, Open, Done };

  void onConnected();
  void advance();
  void readHandshake();
  bool checkHandshake(const std::string& head, std::string& why);
  void readFrames();
  void handleMessage(wire::WsMessage& msg);
  void flushWrites();
  void updateInterest();
  void moveInputLocked();
  void finish(const sdk::Status& error);
  void teardown();
  void ping();
  // -1: would block (reads or writes as want_write_ says), 0: EOF, >0 bytes; -2 error.
  long ioRead(char* buf, size_t n);
  long ioWrite(const char* buf, size_t n);
  void deliver(int channel, const char* data, size_t size);

  EventLoop& loop_;
  sdk::StreamObserver* observer_;
  const bool tty_;
  const bool chunked_;
  std::function<void(ExecProtocol)> on_protocol_;

  // Loop thread only.
  ExecTarget target_;
  State state_ = State::Connecting;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool ssl_want_write_ = false;
  std::string key_;
  std::string response_;  // handshake answer so far
  std::string wbuf_;      // bytes for the socket (handshake request, frames)
  wire::FrameParser parser_{wire::FrameParserOptions{false, size_t{4} << 20}};
  wire::FrameWriter writer_{true};
  ExecProtocol protocol_ = ExecProtocol::Unknown;
  bool have_status_ = false;
  sdk::StreamExit exit_;
  bool close_sent_ = false;
  uint64_t timer_ = 0;
  uint64_t ping_timer_ = 0;
  EventLoop::Clock::time_point last_rx_;

  mutable std::mutex mu_;  // input side
  std::string pending_;    // encoded stdin frames waiting for the 101 or a flush
  size_t pending_payload_ = 0;
  bool stdin_closed_ = false;
  bool kick_posted_ = false;
  bool pending_close_signal_ = false;  // closeStdin() before the 101: send v5's signal after it
  sdk::Status fail_error_;
  std::atomic<size_t> wbuf_size_{0};

  std::mutex cb_mu_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> paused_{false};
  std::atomic<bool> finished_{false};
};

class KubeExecStream : public sdk::ExecStream {
 public:
  explicit KubeExecStream(std::shared_ptr<ExecConnection> c) : c_(std::move(c)) {}
  ~KubeExecStream() override { c_->close(); }
  sdk::Status write(const char* data, size_t size) override { return c_->write(data, size); }
  sdk::Status closeStdin() override { return c_->closeStdin(); }
  sdk::Status resize(uint16_t cols, uint16_t rows) override { return c_->resize(cols, rows); }
  void pauseOutput() override { c_->pauseOutput(); }
  void resumeOutput() override { c_->resumeOutput(); }
  void close() override { c_->close(); }
  size_t pendingInput() const override { return c_->pendingInput(); }

 private:
  std::shared_ptr<ExecConnection> c_;
};

}  // namespace podterm::plugins::kubernetes
