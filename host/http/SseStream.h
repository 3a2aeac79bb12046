#pragma once
// One Server-Sent Events response after its headers were sent: the socket has left Poco and is
// driven by an EventLoop, like a WebSocket, so an open stream costs no thread.
//
// Writes never block: what the socket does not take is queued, and a stream whose queue grows
// past max_buffered_bytes (a client that stopped reading) is closed rather than buffered forever.
// A comment line every heartbeat keeps proxies from timing the stream out. Input from the client
// is read and discarded; its EOF closes the stream.
//
// Threading: create(), start(), sendEvent() and close() are thread-safe; on_closed runs on the
// loop thread. Lifetime: once started, the loop keeps the stream alive until it closes; if the
// loop is destroyed first, the stream is destroyed with it without on_closed.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "ws/EventLoop.h"
#include "ws/TlsTransport.h"

namespace podterm::host {

struct SseStreamOptions {
  std::chrono::milliseconds heartbeat{15000};
  // The reconnection delay suggested to the client ("retry:" field).
  std::chrono::milliseconds retry{3000};
  size_t max_buffered_bytes = size_t{256} << 10;
  // Zero: none. Else the stream is closed after this long (the credential's expiry).
  std::chrono::milliseconds lifetime{0};
};

class SseStream : public std::enable_shared_from_this<SseStream> {
  struct Passkey {};

 public:
  // OWNERSHIP: takes fd, a connected socket whose response headers have been sent; it is closed
  // when the stream closes or is destroyed. on_closed: called once on the loop thread after
  // the socket is closed (not when the loop is destroyed first).
  // tls: the socket's TLS on a listener with its own certificate (it owns fd then); null: plain.
  static std::shared_ptr<SseStream> create(int fd, EventLoop& loop, SseStreamOptions options,
                                           std::function<void(const char* why)> on_closed,
                                           std::unique_ptr<TlsTransport> tls = nullptr);
  SseStream(Passkey, int fd, EventLoop& loop, SseStreamOptions options,
            std::function<void(const char* why)> on_closed, std::unique_ptr<TlsTransport> tls);
  ~SseStream();
  SseStream(const SseStream&) = delete;
  SseStream& operator=(const SseStream&) = delete;

  // Begins watching the socket; the retry hint goes out first. Call once.
  void start();
  // Queues "event: <event>\ndata: <line>\n...\n\n". False once the stream is closed or the queue
  // overflowed (then the stream closes). event must not contain CR or LF.
  bool sendEvent(std::string_view event, std::string_view data);
  // Closes the socket (queued bytes are dropped). Idempotent.
  void close();

  bool isOpen() const;
  size_t bufferedBytes() const;

 private:
  // Queues or writes bytes; false when closed or overflowing. mutex_ held.
  bool writeLocked(std::string_view bytes);
  void armWriteLocked();
  // send(2) / recv(2), or their TLS equivalents (-1 with errno EAGAIN when they would block).
  ssize_t sendLocked(const char* data, size_t size);
  ssize_t receive(char* buffer, size_t size);
  void closeSocketLocked();
  void onEvents(uint32_t events);
  void onWritable();
  void onReadable();
  void scheduleHeartbeat();
  void finish(const char* why);  // loop thread

  EventLoop& loop_;
  const SseStreamOptions options_;
  std::function<void(const char*)> on_closed_;

  mutable std::mutex mutex_;
  int fd_;
  std::unique_ptr<TlsTransport> tls_;  // null on plain TCP
  std::string out_;
  size_t out_off_ = 0;
  bool write_armed_ = false;
  bool watching_ = false;
  bool failed_ = false;  // a send failed or the queue overflowed: finish() is posted
  const char* fail_reason_ = "";

  // Loop thread only.
  bool finished_ = false;
  uint64_t heartbeat_timer_ = 0;
  uint64_t lifetime_timer_ = 0;
};

using SseStreamPtr = std::shared_ptr<SseStream>;

}  // namespace podterm::host
