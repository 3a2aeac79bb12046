#pragma once
// What a Session needs from one connected client (a WebSocket today). Implementations are
// thread-safe: the shell's output arrives on runtime I/O threads and is sent from there directly,
// without a hop through another thread, because keystroke echo latency is the product.

#include <cstdint>
#include <string>
#include <string_view>

namespace podterm::host {

class TerminalClient {
 public:
  virtual ~TerminalClient() = default;
  // Shell output or one of the spec's plain-text messages: always valid UTF-8. Returns false
  // when the client is gone.
  virtual bool sendText(std::string_view utf8) = 0;
  // A host event as one JSON object. podterm.v2 clients get it as a binary frame; v1 clients
  // get nothing (they see notices as text lines instead).
  virtual void sendEvent(std::string_view json) = 0;
  virtual bool wantsEvents() const = 0;
  // True while more output is buffered for this client than it should hold: the session pauses
  // the shell until the client reports it drained (Session::onClientDrained).
  virtual bool congested() const = 0;
  virtual void close(uint16_t code, std::string_view reason) = 0;
  // For logs.
  virtual std::string describe() const = 0;
};

}  // namespace podterm::host
