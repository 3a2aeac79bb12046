#include "http/SseStream.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace podterm::host {
namespace {

constexpr uint32_t kReadEvents = EPOLLIN | EPOLLRDHUP;

bool wouldBlock(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

}  // namespace

std::shared_ptr<SseStream> SseStream::create(int fd, EventLoop& loop, SseStreamOptions options,
                                             std::function<void(const char*)> on_closed,
                                             std::unique_ptr<TlsTransport> tls) {
  return std::make_shared<SseStream>(Passkey{}, fd, loop, options, std::move(on_closed),
                                     std::move(tls));
}

SseStream::SseStream(Passkey, int fd, EventLoop& loop, SseStreamOptions options,
                     std::function<void(const char*)> on_closed, std::unique_ptr<TlsTransport> tls)
    : loop_(loop),
      options_(options),
      on_closed_(std::move(on_closed)),
      fd_(fd),
      tls_(std::move(tls)) {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
  // Queued before anything else so the hint precedes every event, and only leaves once the
  // loop watches the socket: a client that sees it knows the stream is subscribed.
  out_ = "retry: " + std::to_string(options_.retry.count()) + "\n: connected\n\n";
  write_armed_ = true;
}

SseStream::~SseStream() {
  closeSocketLocked();
}

void SseStream::closeSocketLocked() {
  if (fd_ < 0) return;
  if (tls_) {
    tls_->close();  // frees the SSL and closes fd_
  } else {
    ::close(fd_);
  }
  fd_ = -1;
}

ssize_t SseStream::sendLocked(const char* data, size_t size) {
  if (!tls_) return ::send(fd_, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
  bool wants_read = false;  // not tracked: EPOLLIN is always watched, and a read event retries
  return tls_->send(data, size, wants_read);
}

ssize_t SseStream::receive(char* buffer, size_t size) {
  if (!tls_) return ::recv(fd_, buffer, size, MSG_DONTWAIT);
  std::lock_guard<std::mutex> lock(mutex_);
  if (fd_ < 0) return 0;
  // Not tracked either (unlike WsConnection): the next event on the socket retries the read.
  bool wants_write = false;
  return tls_->receive(buffer, size, wants_write);
}

void SseStream::start() {
  loop_.post([self = shared_from_this()] {
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      if (self->fd_ < 0) return;
      self->loop_.watch(self->fd_, kReadEvents | (self->write_armed_ ? uint32_t{EPOLLOUT} : 0u),
                        [self](uint32_t events) { self->onEvents(events); });
      self->watching_ = true;
    }
    if (self->options_.heartbeat.count() > 0) self->scheduleHeartbeat();
    if (self->options_.lifetime.count() > 0) {
      std::weak_ptr<SseStream> weak = self;
      self->lifetime_timer_ = self->loop_.runAfter(self->options_.lifetime, [weak] {
        if (auto stream = weak.lock()) stream->finish("credential expired");
      });
    }
  });
}

bool SseStream::sendEvent(std::string_view event, std::string_view data) {
  std::string frame;
  frame.reserve(event.size() + data.size() + 16);
  frame.append("event: ");
  for (char c : event) {
    if (c != '\r' && c != '\n') frame.push_back(c);
  }
  frame.append("\n");
  // A data line cannot hold a line break (CR, LF or CRLF): each line gets its own "data:".
  size_t start = 0;
  while (true) {
    const size_t end = data.find_first_of("\r\n", start);
    const std::string_view line =
        data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    frame.append("data: ").append(line).append("\n");
    if (end == std::string_view::npos) break;
    start = end + 1;
    if (data[end] == '\r' && start < data.size() && data[start] == '\n') ++start;
  }
  frame.append("\n");
  std::lock_guard<std::mutex> lock(mutex_);
  return writeLocked(frame);
}

bool SseStream::writeLocked(std::string_view bytes) {
  if (fd_ < 0 || failed_) return false;
  size_t sent = 0;
  if (out_off_ == out_.size()) {
    const ssize_t n = sendLocked(bytes.data(), bytes.size());
    if (n < 0 && !wouldBlock(errno)) {
      failed_ = true;
      fail_reason_ = "send failed";
      loop_.post([self = shared_from_this()] { self->finish(self->fail_reason_); });
      return false;
    }
    sent = n < 0 ? 0 : static_cast<size_t>(n);
    if (sent == bytes.size()) return true;
  }
  if (out_.size() - out_off_ + bytes.size() - sent > options_.max_buffered_bytes) {
    // A client that does not read is dropped; the publisher never waits for it.
    failed_ = true;
    fail_reason_ = "client too slow";
    loop_.post([self = shared_from_this()] { self->finish(self->fail_reason_); });
    return false;
  }
  out_.append(bytes.substr(sent));
  armWriteLocked();
  return true;
}

void SseStream::armWriteLocked() {
  if (write_armed_) return;
  write_armed_ = true;
  if (loop_.inLoopThread()) {
    if (watching_) loop_.modify(fd_, kReadEvents | EPOLLOUT);
    return;
  }
  loop_.post([self = shared_from_this()] {
    std::lock_guard<std::mutex> lock(self->mutex_);
    if (self->watching_ && self->write_armed_ && self->fd_ >= 0) {
      self->loop_.modify(self->fd_, kReadEvents | EPOLLOUT);
    }
  });
}

void SseStream::onEvents(uint32_t events) {
  if (events & EPOLLOUT) onWritable();
  if (!finished_ && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) onReadable();
}

void SseStream::onWritable() {
  bool failed = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (fd_ < 0) return;
    while (out_off_ < out_.size()) {
      const ssize_t n = sendLocked(out_.data() + out_off_, out_.size() - out_off_);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (!wouldBlock(errno)) failed = true;
        break;
      }
      out_off_ += static_cast<size_t>(n);
    }
    if (out_off_ == out_.size()) {
      out_.clear();
      out_off_ = 0;
      write_armed_ = false;
      if (!failed) loop_.modify(fd_, kReadEvents);
    } else if (out_off_ > out_.size() / 2) {
      out_.erase(0, out_off_);
      out_off_ = 0;
    }
  }
  if (failed) finish("send failed");
}

void SseStream::onReadable() {
  // A client has nothing to say on an event stream: drain and discard, bounded per event.
  char buffer[4096];
  for (int round = 0; round < 4; ++round) {
    const ssize_t n = receive(buffer, sizeof buffer);
    if (n > 0) continue;
    if (n == 0) {
      finish("client closed the connection");
      return;
    }
    if (wouldBlock(errno)) return;
    finish("receive failed");
    return;
  }
}

void SseStream::scheduleHeartbeat() {
  std::weak_ptr<SseStream> weak = weak_from_this();
  heartbeat_timer_ = loop_.runAfter(options_.heartbeat, [weak] {
    auto self = weak.lock();
    if (!self || self->finished_) return;
    bool ok;
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      ok = self->writeLocked(": heartbeat\n\n");
    }
    if (ok) self->scheduleHeartbeat();
  });
}

void SseStream::close() {
  loop_.post([self = shared_from_this()] { self->finish("closed by the host"); });
}

bool SseStream::isOpen() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return fd_ >= 0 && !failed_;
}

size_t SseStream::bufferedBytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return out_.size() - out_off_;
}

void SseStream::finish(const char* why) {
  if (finished_) return;
  finished_ = true;
  auto self = shared_from_this();  // the watch table's reference goes with unwatch()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    failed_ = true;
    if (fd_ >= 0) {
      if (watching_) loop_.unwatch(fd_);
      watching_ = false;
      closeSocketLocked();
    }
    out_.clear();
    out_off_ = 0;
  }
  for (uint64_t* timer : {&heartbeat_timer_, &lifetime_timer_}) {
    if (*timer != 0) loop_.cancelTimer(*timer);
    *timer = 0;
  }
  auto on_closed = std::move(on_closed_);
  on_closed_ = nullptr;
  if (on_closed) on_closed(why);
}

}  // namespace podterm::host
