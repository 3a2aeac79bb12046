#pragma once
// A blocking WebSocket client made of our own codec (masked frames out, unmasked in), driving
// the far end of a socketpair or loopback TCP connection in tests.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "WaitFor.h"
#include "ws/FrameCodec.h"

namespace podterm::host::testing {

class WsTestClient {
 public:
  explicit WsTestClient(int fd, size_t max_message_bytes = size_t{64} << 20)
      : fd_(fd), parser_(FrameParserOptions{false, max_message_bytes}) {}
  ~WsTestClient() { closeSocket(); }

  void closeSocket() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }

  bool sendRaw(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool sendText(const std::string& s) { return sendRaw(writer_.text(s)); }
  bool sendBinary(const std::string& s) { return sendRaw(writer_.binary(s)); }
  bool sendClose(uint16_t code, const std::string& reason) {
    return sendRaw(writer_.close(code, reason));
  }
  FrameWriter& writer() { return writer_; }

  // Next message or control frame, waiting up to the deadline. False on timeout, EOF or error.
  bool read(WsMessage& out, std::chrono::milliseconds deadline = kDeadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!parser_.next(out)) {
      if (parser_.failed() || !readSome(until)) return false;
    }
    return true;
  }

  // True when the server closed the connection (EOF or reset) before the deadline; data still
  // arriving is parsed and dropped.
  bool waitForEof(std::chrono::milliseconds deadline = kDeadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (readSome(until)) {
    }
    return eof_;
  }

  const FrameParser& parser() const { return parser_; }

 private:
  bool readSome(std::chrono::steady_clock::time_point until) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() < 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
      if (r <= 0) continue;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        eof_ = true;
        return false;
      }
      parser_.feed(buf, static_cast<size_t>(n));
      return true;
    }
  }

  int fd_;
  FrameWriter writer_{true};
  FrameParser parser_;
  bool eof_ = false;
};

}  // namespace podterm::host::testing
