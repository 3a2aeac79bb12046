#include "exec_stream.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "exec_channel.h"

namespace podterm::plugins::kubernetes {

namespace {

using namespace std::chrono_literals;
using sdk::ErrorCode;
using sdk::Status;

constexpr const char* kWsGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr size_t kMaxHandshake = 64 * 1024;
constexpr auto kConnectTimeout = 20s;
// The ping interval is ExecTarget::ping_interval (setting exec_ping_interval_s, 20 s by default;
// client-go pings every 5 s, the apiserver idles out after 4 h, the kubelet's streaming idle
// timeout defaults to 4 h, proxies and load balancers often cut at 60 s). A peer silent for three
// intervals and this much more is gone.
constexpr auto kDeadSlack = 5s;
constexpr int kReadsPerWake = 16;
constexpr size_t kReadChunk = 64 * 1024;

std::string base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[0]), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string messageOf(const std::string& body) {
  try {
    Poco::JSON::Parser parser;
    auto obj = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    if (obj->has("message")) return obj->getValue<std::string>("message");
  } catch (...) {
  }
  std::string t = trim(body);
  if (t.size() > 300) t = t.substr(0, 300) + "...";
  return t;
}

}  // namespace

ExecConnection::ExecConnection(EventLoop& loop, sdk::StreamObserver* observer, bool tty,
                               bool chunked_stdin, std::function<void(ExecProtocol)> on_protocol)
    : loop_(loop),
      observer_(observer),
      tty_(tty),
      chunked_(chunked_stdin),
      on_protocol_(std::move(on_protocol)) {}

ExecConnection::~ExecConnection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

Status ExecConnection::start(ExecTarget target) {
  int fd = ::socket(target.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return {ErrorCode::Internal, std::string("socket: ") + std::strerror(errno)};
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&target.addr), target.addr_len);
  if (rc != 0 && errno != EINPROGRESS) {
    int err = errno;
    ::close(fd);
    return {ErrorCode::Unavailable,
            "cannot connect to the Kubernetes API for exec: " + std::string(std::strerror(err))};
  }
  unsigned char nonce[16];
  RAND_bytes(nonce, sizeof nonce);
  key_ = base64(nonce, sizeof nonce);
  if (target.ping_interval <= std::chrono::milliseconds::zero()) target.ping_interval = 20s;
  target_ = std::move(target);
  fd_ = fd;
  auto self = shared_from_this();
  loop_.post([self] {
    if (self->state_ == State::Done) return;
    self->last_rx_ = EventLoop::Clock::now();
    if (!self->loop_.add(self->fd_, EPOLLOUT, self)) {
      self->finish({ErrorCode::Internal, "epoll_ctl failed"});
      return;
    }
    self->timer_ = self->loop_.runAfter(
        std::chrono::duration_cast<std::chrono::milliseconds>(kConnectTimeout), [self] {
          self->timer_ = 0;
          if (self->state_ != State::Open && self->state_ != State::Done) {
            self->finish({ErrorCode::Timeout, "the exec connection timed out"});
          }
        });
  });
  return {};
}

void ExecConnection::onEvents(uint32_t events) {
  if (state_ == State::Done) return;
  if (state_ == State::Connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      finish({ErrorCode::Unavailable,
              "cannot connect to the Kubernetes API for exec: " + std::string(std::strerror(err))});
      return;
    }
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    onConnected();
    return;
  }
  advance();
}

void ExecConnection::onConnected() {
  if (target_.tls != nullptr) {
    ssl_ = SSL_new(target_.tls);
    SSL_set_fd(ssl_, fd_);
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    const std::string& name = target_.tls_name;
    bool is_ip = name.find_first_not_of("0123456789.") == std::string::npos ||
                 name.find(':') != std::string::npos;
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_, name.c_str());
      SSL_set1_host(ssl_, name.c_str());
    }
    SSL_set_connect_state(ssl_);
    state_ = State::TlsHandshake;
  } else {
    state_ = State::Handshake;
  }
  // The upgrade request. Stdin waits in pending_ until the 101 is checked.
  std::string protocols =
      target_.offer_v5 ? "v5.channel.k8s.io, v4.channel.k8s.io" : "v4.channel.k8s.io";
  wbuf_ = "GET " + target_.path + " HTTP/1.1\r\nHost: " + target_.host_header +
          "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
          "Sec-WebSocket-Key: " +
          key_ + "\r\nSec-WebSocket-Protocol: " + protocols +
          "\r\nUser-Agent: podterm-runtime-kubernetes/0.1\r\n";
  if (!target_.token.empty()) wbuf_ += "Authorization: Bearer " + target_.token + "\r\n";
  wbuf_ += "\r\n";
  target_.token.clear();
  state_ = ssl_ != nullptr ? State::TlsHandshake : State::Handshake;
  advance();
}

long ExecConnection::ioRead(char* buf, size_t n) {
  if (ssl_ == nullptr) {
    ssize_t r = ::recv(fd_, buf, n, 0);
    if (r > 0) return r;
    if (r == 0) return 0;
    return (errno == EAGAIN || errno == EINTR) ? -1 : -2;
  }
  ERR_clear_error();
  int r = SSL_read(ssl_, buf, static_cast<int>(n));
  if (r > 0) return r;
  int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_WANT_READ) return -1;
  if (err == SSL_ERROR_WANT_WRITE) {
    ssl_want_write_ = true;
    return -1;
  }
  if (err == SSL_ERROR_ZERO_RETURN) return 0;
  if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return 0;  // EOF without close_notify
  return -2;
}

long ExecConnection::ioWrite(const char* buf, size_t n) {
  if (ssl_ == nullptr) {
    ssize_t r = ::send(fd_, buf, n, MSG_NOSIGNAL);
    if (r >= 0) return r;
    return (errno == EAGAIN || errno == EINTR) ? -1 : -2;
  }
  ERR_clear_error();
  int r = SSL_write(ssl_, buf, static_cast<int>(n));
  if (r > 0) return r;
  int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return -1;
  return -2;
}

void ExecConnection::advance() {
  if (state_ == State::TlsHandshake) {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    if (r != 1) {
      int err = SSL_get_error(ssl_, r);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        loop_.modify(fd_, err == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
        return;
      }
      char buf[256] = {0};
      ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
      long verify = SSL_get_verify_result(ssl_);
      std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : buf;
      finish({ErrorCode::Unavailable, "TLS handshake with the Kubernetes API failed: " + why});
      return;
    }
    state_ = State::Handshake;
  }
  flushWrites();
  if (state_ == State::Done) return;
  if (state_ == State::Handshake) {
    readHandshake();
  } else if (state_ == State::Open) {
    readFrames();
    flushWrites();
  }
  if (state_ != State::Done) updateInterest();
}

void ExecConnection::updateInterest() {
  uint32_t ev = 0;
  if (!paused_.load() || state_ != State::Open) ev |= EPOLLIN;
  if (!wbuf_.empty() || ssl_want_write_) ev |= EPOLLOUT;
  loop_.modify(fd_, ev);
}

void ExecConnection::flushWrites() {
  ssl_want_write_ = false;
  while (!wbuf_.empty()) {
    long n = ioWrite(wbuf_.data(), wbuf_.size());
    if (n > 0) {
      wbuf_.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n == -1) break;
    finish({ErrorCode::Unavailable, "the exec connection broke while writing"});
    return;
  }
  wbuf_size_.store(wbuf_.size());
}

void ExecConnection::readHandshake() {
  char buf[4096];
  for (;;) {
    long n = ioRead(buf, sizeof buf);
    if (n == -1) return;
    if (n <= 0) {
      // The answer ended: a non-101 reply without Content-Length, or a dropped connection.
      auto head_end = response_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::string line = response_.substr(0, response_.find("\r\n"));
        finish({ErrorCode::Unavailable,
                "exec refused (" + line + "): " + messageOf(response_.substr(head_end + 4))});
      } else {
        finish({ErrorCode::Unavailable, "the exec connection closed during the handshake"});
      }
      return;
    }
    response_.append(buf, static_cast<size_t>(n));
    if (response_.size() > kMaxHandshake) {
      finish({ErrorCode::Unavailable, "the exec handshake answer is too large"});
      return;
    }
    auto head_end = response_.find("\r\n\r\n");
    if (head_end == std::string::npos) continue;
    std::string head = response_.substr(0, head_end);
    std::string line = head.substr(0, head.find("\r\n"));
    if (line.size() < 12 || line.compare(9, 3, "101") != 0) {
      // Not an upgrade: wait for the whole body (Content-Length) to quote the API's message.
      std::string lh = lower(head);
      auto cl = lh.find("\r\ncontent-length:");
      if (cl != std::string::npos) {
        size_t want = std::strtoul(lh.c_str() + cl + 17, nullptr, 10);
        if (response_.size() - head_end - 4 < want) continue;
      } else if (lh.find("chunked") != std::string::npos) {
        continue;  // read to EOF
      }
      std::string status = line.size() > 9 ? line.substr(9) : line;
      finish({ErrorCode::Unavailable,
              "exec refused (HTTP " + status + "): " + messageOf(response_.substr(head_end + 4))});
      return;
    }
    std::string why;
    if (!checkHandshake(head, why)) {
      finish({ErrorCode::PermissionDenied, "exec refused: " + why});
      return;
    }
    std::string rest = response_.substr(head_end + 4);
    response_.clear();
    state_ = State::Open;
    if (timer_ != 0) loop_.cancel(timer_);
    timer_ = 0;
    if (on_protocol_) on_protocol_(protocol_);
    last_rx_ = EventLoop::Clock::now();
    auto self = shared_from_this();
    ping_timer_ = loop_.runAfter(target_.ping_interval, [self] { self->ping(); });
    {
      std::lock_guard<std::mutex> lock(mu_);
      moveInputLocked();
      if (pending_close_signal_ && protocol_ == ExecProtocol::V5) {
        wbuf_ += writer_.binary(std::string("\xff\x00", 2));
      }
    }
    if (!rest.empty()) parser_.feed(rest.data(), rest.size());
    readFrames();
    return;
  }
}

bool ExecConnection::checkHandshake(const std::string& head, std::string& why) {
  std::string upgrade, connection, accept, protocol;
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos) {
    size_t next = head.find("\r\n", pos + 2);
    std::string h =
        head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    pos = next;
    auto colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::string name = lower(trim(h.substr(0, colon)));
    std::string value = trim(h.substr(colon + 1));
    if (name == "upgrade") upgrade = lower(value);
    if (name == "connection") connection = lower(value);
    if (name == "sec-websocket-accept") accept = value;
    if (name == "sec-websocket-protocol") protocol = value;
  }
  std::string expect_src = key_ + kWsGuid;
  unsigned char sha[EVP_MAX_MD_SIZE];
  unsigned int sha_len = 0;
  EVP_Digest(expect_src.data(), expect_src.size(), sha, &sha_len, EVP_sha1(), nullptr);
  if (upgrade != "websocket" || connection.find("upgrade") == std::string::npos) {
    why = "the server did not switch to WebSocket";
    return false;
  }
  if (accept != base64(sha, sha_len)) {
    why = "wrong Sec-WebSocket-Accept";
    return false;
  }
  if (protocol == "v5.channel.k8s.io" && target_.offer_v5) {
    protocol_ = ExecProtocol::V5;
  } else if (protocol == "v4.channel.k8s.io") {
    protocol_ = ExecProtocol::V4;
  } else if (protocol.empty()) {
    // RFC 6455: a server that supports none of the offered subprotocols names none. The frames
    // would then be of no known channel protocol: nothing is sent.
    why = "the server chose no subprotocol (offered " +
          std::string(target_.offer_v5 ? "v5.channel.k8s.io, v4.channel.k8s.io"
                                       : "v4.channel.k8s.io") +
          ")";
    return false;
  } else {
    why = "the server chose subprotocol \"" + protocol + "\", which was not offered";
    return false;
  }
  return true;
}

void ExecConnection::moveInputLocked() {
  kick_posted_ = false;
  if (state_ != State::Open || pending_.empty()) return;
  wbuf_ += pending_;
  pending_.clear();
  pending_payload_ = 0;
  wbuf_size_.store(wbuf_.size());
}

void ExecConnection::readFrames() {
  char buf[kReadChunk];
  for (int i = 0; i < kReadsPerWake && state_ == State::Open; ++i) {
    // Deliver what is parsed before reading more (and nothing while paused).
    wire::WsMessage msg;
    while (!paused_.load() && state_ == State::Open && parser_.next(msg)) handleMessage(msg);
    if (paused_.load() || state_ != State::Open) return;
    long n = ioRead(buf, sizeof buf);
    if (n == -1) return;
    if (n == 0 || n == -2) {
      if (have_status_) {
        finish({});
      } else {
        finish({ErrorCode::Unavailable,
                "the exec connection to the pod was lost before the command finished"});
      }
      return;
    }
    last_rx_ = EventLoop::Clock::now();
    if (!parser_.feed(buf, static_cast<size_t>(n))) {
      finish(
          {ErrorCode::Internal, "WebSocket protocol error from the API: " + parser_.errorReason()});
      return;
    }
  }
  if (state_ == State::Open && !paused_.load() &&
      (parser_.pending() > 0 || (ssl_ != nullptr && SSL_pending(ssl_) > 0))) {
    auto self = shared_from_this();
    loop_.post([self] {
      if (self->state_ == State::Open) self->advance();
    });
  }
}

void ExecConnection::handleMessage(wire::WsMessage& msg) {
  switch (msg.opcode) {
    case wire::Opcode::Ping:
      wbuf_ += writer_.pong(msg.payload);
      return;
    case wire::Opcode::Pong:
      return;
    case wire::Opcode::Close: {
      if (!close_sent_) {
        wbuf_ += writer_.close(wire::close_code::kNormal);
        close_sent_ = true;
        flushWrites();
        if (state_ == State::Done) return;
      }
      wire::ClosePayload cp;
      wire::parseClosePayload(msg.payload, cp);
      if (have_status_) {
        finish({});
      } else {
        finish({ErrorCode::Unavailable,
                "the exec stream closed before the command's exit status (close code " +
                    std::to_string(cp.code) +
                    (cp.reason.empty() ? "" : ": " + std::string(cp.reason)) + ")"});
      }
      return;
    }
    default:
      break;
  }
  const ExecFrame frame = decodeExecFrame(msg.payload);
  if (frame.channel == kExecStdout || frame.channel == kExecStderr) {
    deliver(frame.channel, frame.data.data(), frame.data.size());
  } else if (frame.channel == kExecStatus) {
    // A status that comes after the runtime failed the stream (its pod deleted) is that
    // deletion's doing: the stream still ends with the runtime's error, not as an exit.
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_error_.isOk()) {
      exit_ = execExitFromStatus(frame.data);
      have_status_ = true;
    }
  }
}

void ExecConnection::deliver(int channel, const char* data, size_t size) {
  std::lock_guard<std::mutex> lock(cb_mu_);
  if (closed_.load()) return;
  if (channel == 2 && !tty_) {
    observer_->onStderr(data, size);
  } else {
    observer_->onStdout(data, size);
  }
}

void ExecConnection::ping() {
  ping_timer_ = 0;
  if (state_ != State::Open) return;
  // While the host has paused the output nothing is read, pongs included: that silence is the
  // host's own and says nothing about the connection, so it does not count.
  if (paused_.load()) last_rx_ = EventLoop::Clock::now();
  if (EventLoop::Clock::now() - last_rx_ > 3 * target_.ping_interval + kDeadSlack) {
    finish({ErrorCode::Unavailable, "the exec connection stopped answering pings"});
    return;
  }
  wbuf_ += writer_.ping();
  flushWrites();
  if (state_ == State::Done) return;
  updateInterest();
  auto self = shared_from_this();
  ping_timer_ = loop_.runAfter(target_.ping_interval, [self] { self->ping(); });
}

void ExecConnection::finish(const Status& error) {
  if (state_ == State::Done) return;
  state_ = State::Done;
  sdk::StreamExit exit = exit_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stdin_closed_ = true;
    pending_.clear();
    if (!fail_error_.isOk() && !have_status_) exit.error = fail_error_;
  }
  if (!error.isOk()) {
    exit.error = error;
    if (!have_status_) exit.exit_code = -1;
  }
  teardown();
  finished_.store(true);
  std::lock_guard<std::mutex> lock(cb_mu_);
  if (!closed_.load()) observer_->onExit(exit);
}

void ExecConnection::teardown() {
  if (timer_ != 0) loop_.cancel(timer_);
  if (ping_timer_ != 0) loop_.cancel(ping_timer_);
  timer_ = ping_timer_ = 0;
  if (fd_ >= 0) {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);
    }
    loop_.remove(fd_);  // may drop the loop's reference; the caller holds one
  }
  wbuf_.clear();
  wbuf_size_.store(0);
}

Status ExecConnection::write(const char* data, size_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_.load() || stdin_closed_ || finished_.load()) {
    return {ErrorCode::Unavailable, "stdin of the process is closed"};
  }
  if (size == 0) return {};
  if (pending_payload_ + wbuf_size_.load() + size > kMaxPendingInput) {
    return {ErrorCode::Unavailable, "the process is not reading its input (buffer full)"};
  }
  const std::string payload = execStdinMessage({data, size}, chunked_);
  // The writer's random generator is loop-owned; a separate one keeps this thread-safe.
  thread_local wire::FrameWriter writer(true);
  writer.append(pending_, wire::Opcode::Binary, payload);
  pending_payload_ += size;
  if (!kick_posted_) {
    kick_posted_ = true;
    auto self = shared_from_this();
    loop_.post([self] {
      if (self->state_ == State::Done) return;
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        self->moveInputLocked();
      }
      if (self->state_ == State::Open) self->advance();
    });
  }
  return {};
}

Status ExecConnection::closeStdin() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_.load() || stdin_closed_ || finished_.load()) return {};
  stdin_closed_ = true;
  thread_local wire::FrameWriter writer(true);
  if (chunked_) writer.append(pending_, wire::Opcode::Binary, execStdinMessage({}, true));
  // v5's close signal; sent only once the protocol is known (v4 would treat it as stdin data).
  auto self = shared_from_this();
  loop_.post([self] {
    if (self->state_ == State::Done) return;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->kick_posted_ = false;
      if (self->state_ == State::Open) {
        self->moveInputLocked();
      }
    }
    auto send_close = [self] {
      if (self->protocol_ == ExecProtocol::V5) {
        self->wbuf_ += self->writer_.binary(std::string("\xff\x00", 2));
      }
      self->advance();
    };
    if (self->state_ == State::Open) {
      send_close();
    } else {
      // Not open yet: pending_ (with the chunked EOF) moves at the 101; the close signal after.
      std::lock_guard<std::mutex> lock(self->mu_);
      self->pending_close_signal_ = true;
    }
  });
  return {};
}

Status ExecConnection::resize(uint16_t cols, uint16_t rows) {
  if (!tty_) return {ErrorCode::Unsupported, "resize needs a tty stream"};
  if (cols == 0 || rows == 0) return {ErrorCode::InvalidArgument, "zero terminal size"};
  if (closed_.load() || finished_.load()) return {ErrorCode::Unavailable, "the terminal is closed"};
  const std::string payload = execResizeMessage(cols, rows);
  std::lock_guard<std::mutex> lock(mu_);
  thread_local wire::FrameWriter writer(true);
  writer.append(pending_, wire::Opcode::Binary, payload);
  if (!kick_posted_) {
    kick_posted_ = true;
    auto self = shared_from_this();
    loop_.post([self] {
      if (self->state_ == State::Done) return;
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        self->moveInputLocked();
      }
      if (self->state_ == State::Open) self->advance();
    });
  }
  return {};
}

void ExecConnection::pauseOutput() {
  paused_.store(true);
}

void ExecConnection::resumeOutput() {
  if (!paused_.exchange(false)) return;
  auto self = shared_from_this();
  loop_.post([self] {
    if (self->state_ == State::Open) self->advance();
  });
}

size_t ExecConnection::pendingInput() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_payload_ + wbuf_size_.load();
}

void ExecConnection::failWith(const Status& error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_error_.isOk()) fail_error_ = error;
  }
  auto self = shared_from_this();
  loop_.post([self, error] {
    if (self->state_ != State::Done && !self->have_status_) self->finish(error);
  });
}

void ExecConnection::close() {
  if (loop_.inLoopThread()) {
    if (closed_.exchange(true)) return;
  } else {
    std::lock_guard<std::mutex> lock(cb_mu_);
    if (closed_.exchange(true)) return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stdin_closed_ = true;
    pending_.clear();
    pending_payload_ = 0;
  }
  auto self = shared_from_this();
  loop_.post([self] {
    if (self->state_ == State::Done) return;
    if (self->state_ == State::Open && !self->close_sent_) {
      self->wbuf_ += self->writer_.close(wire::close_code::kNormal);
      self->close_sent_ = true;
      self->flushWrites();
    }
    self->finish({ErrorCode::Unavailable, "closed by the host"});
  });
}

}  // namespace podterm::plugins::kubernetes
