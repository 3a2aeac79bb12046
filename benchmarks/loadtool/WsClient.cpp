#include "WsClient.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "HttpUpgrade.h"

namespace podterm::bench {
namespace {

host::FrameParserOptions clientParserOptions() {
  host::FrameParserOptions o;
  o.expect_masked = false;
  o.max_message_bytes = size_t{64} << 20;
  return o;
}

}  // namespace

const char* endReasonName(EndReason reason) {
  switch (reason) {
    case EndReason::None:
      return "open";
    case EndReason::ClientClosed:
      return "client-closed";
    case EndReason::ServerClosed:
      return "server-closed";
    case EndReason::ConnectFailed:
      return "connect-failed";
    case EndReason::Refused:
      return "refused";
    case EndReason::Reset:
      return "reset";
    case EndReason::ProtocolError:
      return "protocol-error";
  }
  return "?";
}

WsClient::WsClient(host::EventLoop& loop, std::string host, uint16_t port, std::string path,
                   std::string subprotocol, WsClientCallbacks callbacks)
    : loop_(loop),
      host_(std::move(host)),
      port_(port),
      path_(std::move(path)),
      subprotocol_(std::move(subprotocol)),
      callbacks_(std::move(callbacks)),
      parser_(clientParserOptions()) {}

WsClient::~WsClient() {
  if (watching_) loop_.unwatch(fd_);
  if (fd_ >= 0) ::close(fd_);
}

void WsClient::connect() {
  connect_start_ = Clock::now();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return finish(EndReason::ConnectFailed, 0, std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  if (::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) {
    return finish(EndReason::ConnectFailed, 0, "bad address " + host_);
  }
  state_ = State::Connecting;
  const int rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno != EINPROGRESS) {
    return finish(EndReason::ConnectFailed, 0, std::strerror(errno));
  }
  watched_events_ = EPOLLOUT;
  loop_.watch(fd_, watched_events_, [this](uint32_t events) { onEvents(events); });
  watching_ = true;
  if (rc == 0) onConnected();
}

void WsClient::onEvents(uint32_t events) {
  if (state_ == State::Connecting) {
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) return finish(EndReason::ConnectFailed, 0, std::strerror(error));
    if (events & (EPOLLOUT | EPOLLIN)) onConnected();
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) readAvailable();
  if (state_ != State::Ended && (events & EPOLLOUT)) flush();
}

void WsClient::onConnected() {
  state_ = State::Upgrading;
  key_ = makeWebSocketKey(static_cast<unsigned>(fd_) ^
                          static_cast<unsigned>(connect_start_.time_since_epoch().count()));
  queue(buildUpgradeRequest(host_ + ":" + std::to_string(port_), path_, key_, subprotocol_));
}

void WsClient::readAvailable() {
  char buffer[65536];
  // Level-triggered: a bounded number of reads per wakeup keeps one busy session from starving
  // the others on the loop.
  for (int round = 0; round < 16 && state_ != State::Ended; ++round) {
    const ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n > 0) {
      bytes_received_ += static_cast<uint64_t>(n);
      if (state_ == State::Upgrading) {
        head_.append(buffer, static_cast<size_t>(n));
        handleHead();
      } else {
        handleFrames(buffer, static_cast<size_t>(n));
      }
      if (static_cast<size_t>(n) < sizeof buffer) return;
      continue;
    }
    if (n == 0) {
      return finish(state_ == State::Closing ? EndReason::ClientClosed : EndReason::Reset,
                    host::close_code::kAbnormal, "EOF");
    }
    if (errno == EAGAIN || errno == EINTR) return;
    return finish(EndReason::Reset, host::close_code::kAbnormal, std::strerror(errno));
  }
}

void WsClient::handleHead() {
  const UpgradeResponse r = parseUpgradeResponse(head_, key_);
  if (r.state == UpgradeResponse::State::Incomplete) return;
  if (r.state != UpgradeResponse::State::Accepted) {
    return finish(EndReason::Refused, 0, r.reason);
  }
  state_ = State::Open;
  opened_at_ = Clock::now();
  std::string rest = head_.substr(r.head_bytes);
  head_.clear();
  head_.shrink_to_fit();
  if (callbacks_.on_open) callbacks_.on_open();
  if (!rest.empty() && state_ != State::Ended) handleFrames(rest.data(), rest.size());
}

void WsClient::handleFrames(const char* data, size_t n) {
  if (!parser_.feed(data, n)) {
    queue(writer_.close(parser_.errorCode(), parser_.errorReason()));
    return finish(EndReason::ProtocolError, parser_.errorCode(), parser_.errorReason());
  }
  while (state_ != State::Ended && parser_.next(message_)) {
    switch (message_.opcode) {
      case host::Opcode::Text:
        if (callbacks_.on_text) callbacks_.on_text(message_.payload);
        break;
      case host::Opcode::Binary:
        if (callbacks_.on_binary) callbacks_.on_binary(message_.payload);
        break;
      case host::Opcode::Ping:
        queue(writer_.pong(message_.payload));
        break;
      case host::Opcode::Close: {
        host::ClosePayload close;
        host::parseClosePayload(message_.payload, close);
        if (state_ == State::Closing) return finish(EndReason::ClientClosed, close.code);
        queue(writer_.close(close.code == host::close_code::kNoStatus ? host::close_code::kNormal
                                                                      : close.code));
        flush();
        return finish(EndReason::ServerClosed, close.code, std::string(close.reason));
      }
      default:
        break;
    }
  }
}

void WsClient::sendText(std::string_view text) {
  if (state_ == State::Open) queue(writer_.text(text));
}

void WsClient::sendBinary(std::string_view bytes) {
  if (state_ == State::Open) queue(writer_.binary(bytes));
}

void WsClient::close(uint16_t code) {
  if (state_ == State::Open) {
    state_ = State::Closing;
    queue(writer_.close(code));
  } else if (state_ != State::Ended && state_ != State::Closing) {
    abort();
  }
}

void WsClient::abort() {
  if (state_ != State::Ended) finish(EndReason::ClientClosed, 0, "aborted");
}

void WsClient::queue(std::string bytes) {
  if (state_ == State::Ended) return;
  if (out_pos_ == out_.size()) {
    out_ = std::move(bytes);
    out_pos_ = 0;
  } else {
    out_ += bytes;
  }
  flush();
}

void WsClient::flush() {
  while (out_pos_ < out_.size()) {
    const ssize_t n = ::send(fd_, out_.data() + out_pos_, out_.size() - out_pos_, MSG_NOSIGNAL);
    if (n > 0) {
      out_pos_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    return finish(EndReason::Reset, host::close_code::kAbnormal, std::strerror(errno));
  }
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  }
  const uint32_t want = EPOLLIN | (out_.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT));
  if (watching_ && want != watched_events_) {
    watched_events_ = want;
    loop_.modify(fd_, want);
  }
}

void WsClient::finish(EndReason reason, uint16_t code, std::string detail) {
  if (state_ == State::Ended) return;
  state_ = State::Ended;
  end_reason_ = reason;
  close_code_ = code;
  detail_ = std::move(detail);
  if (watching_) {
    loop_.unwatch(fd_);
    watching_ = false;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (callbacks_.on_closed) callbacks_.on_closed(reason, code);
}

}  // namespace podterm::bench
