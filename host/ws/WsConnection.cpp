#include "ws/WsConnection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/Metrics.h"

namespace podterm::host {

namespace {

constexpr uint32_t kReadEvents = EPOLLIN | EPOLLRDHUP;
// One read's buffer, shared by all connections of a loop thread.
constexpr size_t kReadChunk = 64 * 1024;
// Reads per readiness event: bounded, so one busy peer cannot starve the others on the loop.
constexpr int kReadsPerEvent = 4;
// Parts beyond this are concatenated before sending (iovec array on the stack).
constexpr size_t kMaxParts = 15;

std::atomic<uint64_t> g_next_id{1};

bool wouldBlock(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

}  // namespace

std::shared_ptr<WsConnection> WsConnection::create(int fd, EventLoop& loop,
                                                   WsConnectionOptions options,
                                                   std::string subprotocol) {
  return std::make_shared<WsConnection>(Passkey{}, fd, loop, options, std::move(subprotocol),
                                        nullptr);
}

std::shared_ptr<WsConnection> WsConnection::create(std::unique_ptr<TlsTransport> tls,
                                                   EventLoop& loop, WsConnectionOptions options,
                                                   std::string subprotocol) {
  const int fd = tls->fd();
  return std::make_shared<WsConnection>(Passkey{}, fd, loop, options, std::move(subprotocol),
                                        std::move(tls));
}

WsConnection::WsConnection(Passkey, int fd, EventLoop& loop, WsConnectionOptions options,
                           std::string subprotocol, std::unique_ptr<TlsTransport> tls)
    : id_(g_next_id.fetch_add(1)),
      loop_(loop),
      options_(options),
      subprotocol_(std::move(subprotocol)),
      fd_(fd),
      tls_(std::move(tls)),
      parser_(FrameParserOptions{true, options.max_message_bytes}) {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
  // Keystrokes and their echo are tiny frames: never hold them back for Nagle. Fails harmlessly
  // on a non-TCP socket (tests use socketpairs).
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

WsConnection::~WsConnection() {
  // Only reached without finish() when never started or when the loop was destroyed first.
  closeSocketLocked();
}

void WsConnection::closeSocketLocked() {
  if (fd_ < 0) return;
  if (tls_) {
    tls_->close();  // frees the SSL and closes fd_
  } else {
    ::close(fd_);
  }
  fd_ = -1;
}

void WsConnection::start(std::shared_ptr<WsConnectionHandler> handler) {
  loop_.post([self = shared_from_this(), handler = std::move(handler)]() mutable {
    self->onStart(std::move(handler));
  });
}

void WsConnection::onStart(std::shared_ptr<WsConnectionHandler> handler) {
  if (finished_) {
    // A send failed (or the close timed out) before start() reached the loop: still keep the
    // promise of exactly one onClosed.
    if (handler) handler->onClosed(*this, close_code::kAbnormal, "closed before start");
    return;
  }
  handler_ = std::move(handler);
  last_frame_ = std::chrono::steady_clock::now();
  bool failed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    failed = send_failed_ || fd_ < 0;
    if (!failed) {
      // The loop's watch table owns a reference: the connection lives while it is watched.
      loop_.watch(fd_, interestLocked(),
                  [self = shared_from_this()](uint32_t events) { self->onEvents(events); });
      watching_ = true;
    }
  }
  if (failed) {
    finish("send failed before start");
    return;
  }
  if (state_.load() != State::Open) armCloseTimer();  // close() came before start()
  if (options_.ping_interval.count() > 0) schedulePing();
  if (options_.idle_timeout.count() > 0) scheduleIdleCheck(options_.idle_timeout);
}

// ---------------------------------------------------------------------------------------------
// Sending (any thread)

bool WsConnection::sendFrame(Opcode op, const std::string_view* parts, size_t count) {
  std::string joined;
  if (count > kMaxParts) {
    for (size_t i = 0; i < count; ++i) joined.append(parts[i]);
    std::string_view whole(joined);
    return sendFrame(op, &whole, 1);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_.load() != State::Open) return false;
  return writeFrameLocked(op, parts, count);
}

bool WsConnection::sendPing(std::string_view payload) {
  return sendFrame(Opcode::Ping, &payload, 1);
}

bool WsConnection::writeFrameLocked(Opcode op, const std::string_view* parts, size_t count) {
  if (fd_ < 0 || send_failed_) return false;
  size_t payload_len = 0;
  for (size_t i = 0; i < count; ++i) payload_len += parts[i].size();
  unsigned char header[kMaxFrameHeaderBytes];
  const size_t header_len = encodeFrameHeader(header, op, payload_len, true, nullptr);
  size_t sent = 0;
  if (tls_) {
    // TLS encrypts into its own buffer anyway: one copy into the queue, then as much of it as
    // the socket takes.
    const bool was_empty = out_off_ == out_.size();
    queueLocked(header, header_len, parts, count, 0);
    if (!was_empty) return true;  // EPOLLOUT is armed already
    drainQueueLocked();
    if (send_failed_) {
      state_.store(State::Closing);
      loop_.post([self = shared_from_this()] { self->finish("send failed"); });
      return false;
    }
    if (out_off_ != out_.size()) armWriteLocked();
    return true;
  }
  if (out_off_ == out_.size()) {
    // Nothing queued: hand header and payload to the kernel in one call, with no copy. This is
    // the keystroke-echo path.
    iovec iov[kMaxParts + 1];
    iov[0] = {header, header_len};
    size_t n_iov = 1;
    for (size_t i = 0; i < count; ++i) {
      if (parts[i].empty()) continue;
      iov[n_iov++] = {const_cast<char*>(parts[i].data()), parts[i].size()};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n_iov;
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && !wouldBlock(errno)) {
      onSendFailed(errno);
      return false;
    }
    sent = n < 0 ? 0 : static_cast<size_t>(n);
    metrics::webSocketBytesOut().inc(sent);
    if (sent == header_len + payload_len) return true;
  }
  queueLocked(header, header_len, parts, count, sent);
  armWriteLocked();
  return true;
}

// Appends what the socket did not take (the frame minus its first `skip` bytes) to the queue.
void WsConnection::queueLocked(const unsigned char* header, size_t header_len,
                               const std::string_view* parts, size_t count, size_t skip) {
  if (skip < header_len) {
    out_.append(reinterpret_cast<const char*>(header) + skip, header_len - skip);
    skip = 0;
  } else {
    skip -= header_len;
  }
  for (size_t i = 0; i < count; ++i) {
    if (skip >= parts[i].size()) {
      skip -= parts[i].size();
      continue;
    }
    out_.append(parts[i].data() + skip, parts[i].size() - skip);
    skip = 0;
  }
  const size_t buffered = out_.size() - out_off_;
  buffered_.store(buffered, std::memory_order_relaxed);
  if (buffered > options_.high_watermark) above_high_.store(true, std::memory_order_relaxed);
}

void WsConnection::armWriteLocked() {
  if (write_armed_) return;
  write_armed_ = true;
  if (loop_.inLoopThread()) {
    if (watching_) loop_.modify(fd_, interestLocked());
    return;
  }
  // epoll registrations belong to the loop thread; before start() the watch picks it up.
  loop_.post([self = shared_from_this()] {
    std::lock_guard<std::mutex> lock(self->mutex_);
    if (self->watching_ && self->write_armed_ && self->fd_ >= 0) {
      self->loop_.modify(self->fd_, self->interestLocked());
    }
  });
}

void WsConnection::onSendFailed(int err) {
  // Called with mutex_ held, on any thread: the teardown itself belongs to the loop thread.
  send_failed_ = true;
  state_.store(State::Closing);
  std::string reason = std::string("send failed: ") + std::strerror(err);
  loop_.post([self = shared_from_this(), reason = std::move(reason)] { self->finish(reason); });
}

void WsConnection::sendCloseLocked(uint16_t code, std::string_view reason) {
  close_code_ = code;
  close_reason_.assign(reason.substr(0, kMaxControlPayloadBytes - 2));
  state_.store(State::Closing);
  // 1005 ("no status") is echoed as an empty close frame.
  const std::string payload =
      code == close_code::kNoStatus
          ? std::string()
          : closePayload(isValidCloseCode(code) ? code : close_code::kNormal, reason);
  const std::string_view part(payload);
  writeFrameLocked(Opcode::Close, &part, 1);
}

void WsConnection::close(uint16_t code, std::string reason) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_.load() != State::Open) return;
    sendCloseLocked(code, reason);
  }
  // Wait for the peer's Close, but not forever.
  if (loop_.inLoopThread()) {
    armCloseTimer();
  } else {
    loop_.post([self = shared_from_this()] { self->armCloseTimer(); });
  }
}

// ---------------------------------------------------------------------------------------------
// Loop thread

// What the loop watches the fd for. Called with mutex_ held (write_armed_ is shared).
uint32_t WsConnection::interestLocked() const {
  return (read_paused_ ? 0u : kReadEvents) | (write_armed_ ? uint32_t{EPOLLOUT} : 0u);
}

void WsConnection::onEvents(uint32_t events) {
  if (events & EPOLLOUT) onWritable();
  if (!finished_ && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) onReadable(events);
}

void WsConnection::onReadable(uint32_t events) {
  if (read_paused_) {
    // Only EPOLLHUP / EPOLLERR get here while paused (they cannot be unsubscribed, and are level
    // triggered): the peer is gone, so there is no one left to slow down.
    finish((events & EPOLLERR) ? "socket error" : "connection closed without a close frame");
    return;
  }
  thread_local char buffer[kReadChunk];
  for (int round = 0; round < kReadsPerEvent; ++round) {
    // Input after a protocol error or our half-close is only drained, never metered.
    const bool metered = options_.input_budget && !parser_.failed() && !shut_down_write_;
    size_t want = kReadChunk;
    if (metered) {
      want = std::min(want, options_.input_budget->available());
      if (want == 0) {
        pauseReading();
        return;
      }
    }
    const ssize_t n = tls_ ? receive(buffer, want) : ::recv(fd_, buffer, want, MSG_DONTWAIT);
    if (n > 0) {
      metrics::webSocketBytesIn().inc(static_cast<uint64_t>(n));
      if (metered) options_.input_budget->consume(static_cast<size_t>(n));
      // After a protocol error, or once our side is shut down, input is only drained.
      if (!parser_.failed() && !shut_down_write_) {
        const uint64_t frames_before = parser_.framesCompleted();
        parser_.feed(buffer, static_cast<size_t>(n));
        // Only whole frames count as activity: a peer trickling one frame byte by byte is idle.
        if (parser_.framesCompleted() != frames_before) {
          last_frame_ = std::chrono::steady_clock::now();
        }
        dispatchMessages();
        if (finished_) return;
      }
      // A short read drained the kernel's buffer; TLS returns a record at a time, so it reads
      // on until OpenSSL wants more from the socket.
      if (!tls_ && static_cast<size_t>(n) < want) return;
      continue;
    }
    if (n == 0) {
      finish("connection closed without a close frame");
      return;
    }
    if (wouldBlock(errno)) break;
    finish(std::string("receive failed: ") + (tls_ ? tls_->lastError() : std::strerror(errno)));
    return;
  }
  if (!tls_) return;
  bool pending;
  bool retry_write;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending = fd_ >= 0 && tls_->pending();
    retry_write = tls_write_wants_read_;
    tls_write_wants_read_ = false;
  }
  if (retry_write) onWritable();
  // Decrypted bytes OpenSSL holds are invisible to epoll: come back for them after the others
  // on this loop had their turn.
  if (pending && !finished_ && !read_paused_) {
    loop_.post([self = shared_from_this()] {
      if (!self->finished_) self->onReadable(EPOLLIN);
    });
  }
}

// TLS only: one SSL_read, mapped onto recv(2)'s results.
ssize_t WsConnection::receive(char* buffer, size_t size) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fd_ < 0) return 0;
  bool wants_write = false;
  const ssize_t n = tls_->receive(buffer, size, wants_write);
  if (wants_write) {
    tls_read_wants_write_ = true;  // onWritable retries the read
    armWriteLocked();
  }
  return n;
}

// The session's input budget is spent: stop watching for input, so the kernel's receive buffer
// fills and the peer's TCP window closes; read again once the budget has refilled a little.
void WsConnection::pauseReading() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (fd_ < 0) return;
    read_paused_ = true;
    if (watching_) loop_.modify(fd_, interestLocked());
  }
  auto& budget = *options_.input_budget;
  const auto wait =
      std::max(budget.timeUntil(budget.resumeThreshold()), std::chrono::milliseconds(1));
  std::weak_ptr<WsConnection> weak = weak_from_this();
  resume_timer_ = loop_.runAfter(wait, [weak] {
    if (auto self = weak.lock()) self->resumeReading();
  });
}

void WsConnection::resumeReading() {
  resume_timer_ = 0;
  if (finished_ || !read_paused_) return;
  // The peer was sending all along: the pause is not idleness.
  last_frame_ = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  read_paused_ = false;
  if (watching_ && fd_ >= 0) loop_.modify(fd_, interestLocked());
  // OpenSSL may hold decrypted input that epoll will not report.
  if (tls_ && fd_ >= 0 && tls_->pending()) {
    loop_.post([self = shared_from_this()] {
      if (!self->finished_) self->onReadable(EPOLLIN);
    });
  }
}

void WsConnection::dispatchMessages() {
  WsMessage message;
  while (parser_.next(message)) {
    switch (message.opcode) {
      case Opcode::Text:
      case Opcode::Binary:
        // Data after a close frame is dropped: the handler has nothing left to do with it.
        if (state_.load() == State::Open && handler_) {
          handler_->onMessage(*this, message.opcode == Opcode::Text, message.payload);
        }
        break;
      case Opcode::Ping: {
        std::lock_guard<std::mutex> lock(mutex_);
        const std::string_view part(message.payload);
        if (state_.load() == State::Open) writeFrameLocked(Opcode::Pong, &part, 1);
        break;
      }
      case Opcode::Pong:
        break;  // only proves liveness, which last_frame_ already recorded
      case Opcode::Close:
        onCloseFrame(message.payload);
        break;
      case Opcode::Continuation:
        break;  // never surfaced by the parser
    }
    if (finished_) return;
  }
  if (parser_.failed()) failConnection(parser_.errorCode(), parser_.errorReason());
}

void WsConnection::onCloseFrame(std::string_view payload) {
  ClosePayload peer;
  if (!parseClosePayload(payload, peer)) {
    failConnection(close_code::kProtocolError, "invalid close frame");
    return;
  }
  if (!isValidUtf8(peer.reason)) {
    failConnection(close_code::kInvalidPayload, "close reason is not UTF-8");
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_.load() == State::Open) {
      // The peer started the handshake: echo its code, then close the TCP connection first, as
      // a server should (RFC 6455 section 7.1.1).
      sendCloseLocked(peer.code, peer.reason);
      linger_after_flush_ = true;
    }
  }
  if (!linger_after_flush_) {
    // Our Close was answered: the handshake is complete.
    finish("");
    return;
  }
  armCloseTimer();
  afterFlush();
}

void WsConnection::failConnection(uint16_t code, std::string_view reason) {
  metrics::errors(metrics::ErrorKind::WebSocketProtocol).inc();  // the peer broke RFC 6455
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_.load() != State::Open) {
      // Already closing and now the peer misbehaves too: stop waiting for it.
      if (close_code_ == 0) close_code_ = code;
    } else {
      sendCloseLocked(code, reason);
    }
  }
  if (linger_after_flush_ || close_timer_ != 0) {
    finish(reason);
    return;
  }
  linger_after_flush_ = true;
  armCloseTimer();
  afterFlush();
}

ssize_t WsConnection::sendQueuedLocked() {
  const char* data = out_.data() + out_off_;
  const size_t size = out_.size() - out_off_;
  if (!tls_) return ::send(fd_, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
  // A write that must read first is retried on EPOLLIN, which is watched (unless paused, when
  // pongs can wait).
  return tls_->send(data, size, tls_write_wants_read_);
}

void WsConnection::drainQueueLocked() {
  while (out_off_ < out_.size()) {
    const ssize_t n = sendQueuedLocked();
    if (n < 0) {
      if (errno == EINTR) continue;
      if (wouldBlock(errno)) break;
      send_failed_ = true;
      state_.store(State::Closing);
      break;
    }
    out_off_ += static_cast<size_t>(n);
    metrics::webSocketBytesOut().inc(static_cast<uint64_t>(n));
  }
  if (out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
  } else if (out_off_ > (size_t{64} << 10) && out_off_ > out_.size() / 2) {
    // Drop the sent prefix once it dominates, so the queue does not grow forever.
    out_.erase(0, out_off_);
    out_off_ = 0;
  }
  buffered_.store(out_.size() - out_off_, std::memory_order_relaxed);
}

void WsConnection::onWritable() {
  bool drained = false;
  bool failed = false;
  bool retry_read = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (fd_ < 0) return;
    drainQueueLocked();
    retry_read = tls_read_wants_write_;
    tls_read_wants_write_ = false;
    if (out_.empty()) {
      write_armed_ = false;
      if (!send_failed_) loop_.modify(fd_, interestLocked());
    }
    const size_t buffered = out_.size() - out_off_;
    buffered_.store(buffered, std::memory_order_relaxed);
    if (above_high_.load(std::memory_order_relaxed) && buffered <= options_.low_watermark) {
      above_high_.store(false, std::memory_order_relaxed);
      drained = true;
    }
    failed = send_failed_;  // other threads set it, under the mutex
  }
  if (failed) {
    finish("send failed");
    return;
  }
  if (drained && handler_ && state_.load() == State::Open) handler_->onDrained(*this);
  afterFlush();
  if (retry_read && !finished_) onReadable(EPOLLIN);
}

// Once the closing frame is on the wire, half-close: the peer sees EOF and closes its end; we
// keep draining its input until then (closing with unread input would send a RST, which can
// destroy our Close frame before the peer reads it).
void WsConnection::afterFlush() {
  if (!linger_after_flush_ || shut_down_write_ || finished_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (fd_ < 0 || out_off_ != out_.size()) return;
  if (tls_) {
    tls_->shutdownWrite();  // close_notify, then the TCP half-close
  } else {
    ::shutdown(fd_, SHUT_WR);
  }
  shut_down_write_ = true;
}

void WsConnection::armCloseTimer() {
  if (close_timer_ != 0 || finished_) return;
  std::weak_ptr<WsConnection> weak = weak_from_this();
  close_timer_ = loop_.runAfter(options_.close_timeout, [weak] {
    if (auto self = weak.lock()) self->finish("closing handshake timed out");
  });
}

void WsConnection::schedulePing() {
  std::weak_ptr<WsConnection> weak = weak_from_this();
  ping_timer_ = loop_.runAfter(options_.ping_interval, [weak] {
    auto self = weak.lock();
    if (!self || self->finished_) return;
    if (self->sendPing()) self->schedulePing();
  });
}

void WsConnection::scheduleIdleCheck(std::chrono::milliseconds delay) {
  std::weak_ptr<WsConnection> weak = weak_from_this();
  idle_timer_ = loop_.runAfter(delay, [weak] {
    auto self = weak.lock();
    if (!self || self->finished_ || !self->isOpen()) return;
    if (self->read_paused_) self->last_frame_ = std::chrono::steady_clock::now();
    const auto idle = std::chrono::steady_clock::now() - self->last_frame_;
    if (idle >= self->options_.idle_timeout) {
      self->close(close_code::kGoingAway, "idle timeout");
      return;
    }
    self->scheduleIdleCheck(
        std::chrono::ceil<std::chrono::milliseconds>(self->options_.idle_timeout - idle));
  });
}

void WsConnection::finish(std::string_view abnormal_reason) {
  if (finished_) return;
  finished_ = true;
  // Keeps this alive through onClosed even if unwatch() drops the loop's reference.
  auto self = shared_from_this();
  uint16_t code;
  std::string reason;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    state_.store(State::Closed);
    if (close_code_ != 0) {
      code = close_code_;
      reason = close_reason_;
    } else {
      code = close_code::kAbnormal;
      reason.assign(abnormal_reason);
    }
    if (fd_ >= 0) {
      if (watching_) loop_.unwatch(fd_);
      watching_ = false;
      closeSocketLocked();
    }
    out_.clear();
    out_off_ = 0;
    buffered_.store(0);
    above_high_.store(false);
  }
  for (uint64_t* timer : {&close_timer_, &ping_timer_, &idle_timer_, &resume_timer_}) {
    if (*timer != 0) loop_.cancelTimer(*timer);
    *timer = 0;
  }
  std::shared_ptr<WsConnectionHandler> handler = std::move(handler_);
  if (handler) handler->onClosed(*this, code, reason);
}

}  // namespace podterm::host
