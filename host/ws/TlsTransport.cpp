#include "ws/TlsTransport.h"

#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace podterm::host {

namespace {

// fd -> the SSL whose handshake last started on it. An entry whose connection closed without an
// upgrade stays until its fd number is reused (then overwritten): takeTls is only asked about an
// fd whose socket is open, and that socket's own handshake is the latest one on that number.
std::mutex g_registry_mutex;
std::unordered_map<int, SSL*> g_registry;

void onTlsInfo(const SSL* ssl, int where, int /*ret*/) {
  if ((where & SSL_CB_HANDSHAKE_START) == 0) return;
  const int fd = SSL_get_fd(ssl);
  if (fd < 0) return;
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  g_registry[fd] = const_cast<SSL*>(ssl);
}

}  // namespace

void registerTlsContext(SSL_CTX* ctx) {
  // OpenSSL's socket BIO writes with write(2), not send(MSG_NOSIGNAL): a write to a peer that
  // has gone would end the process with SIGPIPE. EPIPE is handled where it comes back.
  std::signal(SIGPIPE, SIG_IGN);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_info_callback(ctx, onTlsInfo);
}

SSL* takeTls(int fd) {
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  auto it = g_registry.find(fd);
  if (it == g_registry.end()) return nullptr;
  SSL* ssl = it->second;
  g_registry.erase(it);
  return SSL_get_fd(ssl) == fd ? ssl : nullptr;
}

TlsTransport::TlsTransport(int fd, SSL* ssl, std::function<void()> close)
    : fd_(fd), ssl_(ssl), close_(std::move(close)) {}

TlsTransport::~TlsTransport() {
  close();
}

TlsTransport::Status TlsTransport::status(int rc, size_t& n) {
  if (rc > 0) {
    n = static_cast<size_t>(rc);
    return Status::Ok;
  }
  n = 0;
  const int err = SSL_get_error(ssl_, rc);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return Status::WantRead;
    case SSL_ERROR_WANT_WRITE:
      return Status::WantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Status::Closed;
    case SSL_ERROR_SYSCALL: {
      const unsigned long queued = ERR_get_error();
      if (queued == 0 && (errno == 0 || rc == 0)) return Status::Closed;  // EOF, no close_notify
      if (queued == 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return Status::WantRead;
      }
      if (queued != 0) {
        ERR_error_string_n(queued, error_, sizeof error_);
      } else {
        std::strncpy(error_, std::strerror(errno), sizeof error_ - 1);
      }
      ERR_clear_error();
      return Status::Failed;
    }
    default:
      ERR_error_string_n(ERR_get_error(), error_, sizeof error_);
      ERR_clear_error();
      return Status::Failed;
  }
}

TlsTransport::Status TlsTransport::read(char* buffer, size_t size, size_t& n) {
  n = 0;
  if (!ssl_) return Status::Failed;
  ERR_clear_error();
  errno = 0;
  return status(SSL_read(ssl_, buffer, static_cast<int>(std::min<size_t>(size, 1 << 30))), n);
}

TlsTransport::Status TlsTransport::write(const char* data, size_t size, size_t& n) {
  n = 0;
  if (!ssl_) return Status::Failed;
  if (size == 0) return Status::Ok;
  ERR_clear_error();
  errno = 0;
  return status(SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(size, 1 << 30))), n);
}

ssize_t TlsTransport::receive(char* buffer, size_t size, bool& wants_write) {
  size_t n = 0;
  const Status status = read(buffer, size, n);
  if (status == Status::Closed) return 0;
  return posixResult(status, n, Status::WantWrite, wants_write);
}

ssize_t TlsTransport::send(const char* data, size_t size, bool& wants_read) {
  size_t n = 0;
  const Status status = write(data, size, n);  // sets n: not in the same call as reading it
  return posixResult(status, n, Status::WantRead, wants_read);
}

ssize_t TlsTransport::posixResult(Status status, size_t n, Status other_way, bool& wants_other) {
  switch (status) {
    case Status::Ok:
      return static_cast<ssize_t>(n);
    case Status::WantRead:
    case Status::WantWrite:
      if (status == other_way) wants_other = true;
      errno = EAGAIN;
      return -1;
    case Status::Closed:
      errno = EPIPE;
      return -1;
    case Status::Failed:
      break;
  }
  errno = EPROTO;
  return -1;
}

void TlsTransport::shutdownWrite() {
  if (!ssl_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues close_notify; what the socket does not take is lost, like a RST
  ERR_clear_error();
  ::shutdown(fd_, SHUT_WR);
}

void TlsTransport::close() {
  if (!ssl_) return;
  // The owner's close would run SSL_shutdown again, in a loop, and may throw on a dead peer:
  // mark the shutdown as done both ways so it does no I/O.
  SSL_set_quiet_shutdown(ssl_, 1);
  SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  ssl_ = nullptr;
  auto close = std::move(close_);
  close_ = nullptr;
  if (close) close();
}

}  // namespace podterm::host
