#pragma once
// TLS on a connection after the HTTP upgrade, for a listener that speaks HTTPS/WSS itself.
//
// Why not Poco's SecureStreamSocket in non-blocking mode: in Poco 1.11 (Debian 12) its retry
// logic asks the inner socket whether it blocks, and setBlocking(false) on the outer socket does
// not reach the inner one, so a WANT_READ would poll for the whole receive timeout on the loop
// thread; and it throws on a closed peer. Poco does not expose its SSL* either. So the listener's
// SSL_CTX registers each SSL* by fd when its handshake starts (registerTlsContext), and after the
// upgrade the connection drives that same SSL* with plain non-blocking SSL_read/SSL_write on the
// fd; Poco's socket object only stays alive to own (and finally free) the SSL and close the fd.
//
// Plain TCP does not go through this class at all: WsConnection tests one pointer per read or
// write call (not per byte) and keeps its sendmsg fast path; no virtual calls.
//
// Threading: an SSL object is not thread-safe: callers serialize every call on one transport.

#include <openssl/ssl.h>
#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>

namespace podterm::host {

// Makes every SSL created from ctx findable by its fd (takeTls). Once per listener context; also
// sets the modes a non-blocking writer needs (partial writes, a moved buffer on retry) and turns
// off TLS 1.2 renegotiation. Ignores SIGPIPE for the whole process (OpenSSL writes with write(2)).
void registerTlsContext(SSL_CTX* ctx);
// The SSL whose handshake ran on fd, forgotten by the registry; null when none. Only valid while
// the socket that owns it (and fd) is open.
SSL* takeTls(int fd);

class TlsTransport {
 public:
  enum class Status { Ok, WantRead, WantWrite, Closed, Failed };

  // ssl: established on fd (see takeTls). close: releases the owner of ssl and fd (Poco's socket);
  // called once, from close() or the destructor, never throwing.
  TlsTransport(int fd, SSL* ssl, std::function<void()> close);
  ~TlsTransport();
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  int fd() const noexcept { return fd_; }
  // Sets n to the bytes read/written (0 unless Ok). Closed: the peer sent close_notify or EOF.
  Status read(char* buffer, size_t size, size_t& n);
  Status write(const char* data, size_t size, size_t& n);
  // read() and write() with the results of recv(2) and send(2) on a non-blocking socket, for
  // callers that handle both plain TCP and TLS in one loop: bytes moved; 0 from receive() when
  // the peer closed; else -1 with errno EAGAIN (would block), EPIPE (send() to a closed peer) or
  // EPROTO (lastError() says why). OpenSSL sometimes has to move bytes the other way first:
  // receive() then sets wants_write (retry it once the socket is writable) and send() sets
  // wants_read (retry it once readable); both are left alone otherwise.
  ssize_t receive(char* buffer, size_t size, bool& wants_write);
  ssize_t send(const char* data, size_t size, bool& wants_read);
  // Decrypted bytes held by OpenSSL that epoll cannot see.
  bool pending() const { return ssl_ && SSL_pending(ssl_) > 0; }
  // Sends close_notify (best effort, never blocks) and half-closes the TCP connection.
  void shutdownWrite();
  // Frees the SSL and closes fd (through the owner). Idempotent.
  void close();
  // OpenSSL's reason for the last Failed status.
  const char* lastError() const noexcept { return error_; }

 private:
  Status status(int rc, size_t& n);
  // status as send(2) would say it; other_way: the want that means the other direction first.
  static ssize_t posixResult(Status status, size_t n, Status other_way, bool& wants_other);

  int fd_;
  SSL* ssl_;
  std::function<void()> close_;
  char error_[160] = "";
};

}  // namespace podterm::host
