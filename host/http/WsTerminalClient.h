#pragma once
// A WebSocket as a session's TerminalClient, and the session's ear on that WebSocket: text frames
// are keystrokes (forwarded byte for byte), binary frames are control messages
// ({"type":"resize","cols":..,"rows":..}), backpressure flows back as onDrained.

#include <memory>
#include <mutex>

#include "session/Session.h"
#include "session/TerminalClient.h"
#include "ws/WsConnection.h"

namespace podterm::host {

class WsTerminalClient : public TerminalClient, public WsConnectionHandler {
 public:
  WsTerminalClient(std::shared_ptr<WsConnection> connection, bool wants_events);

  // The session this client feeds; set once, right after attaching.
  void bind(std::shared_ptr<Session> session);
  // Keeps resource (e.g. a slot of the host's connection limit) until the socket closes, or
  // until this client is destroyed if it never opened.
  void holdUntilClosed(std::shared_ptr<void> resource);

  // TerminalClient
  bool sendText(std::string_view utf8) override;
  void sendEvent(std::string_view json) override;
  bool wantsEvents() const override { return wants_events_; }
  bool congested() const override;
  void close(uint16_t code, std::string_view reason) override;
  std::string describe() const override;

  // WsConnectionHandler
  void onMessage(WsConnection& connection, bool is_text, std::string_view payload) override;
  void onClosed(WsConnection& connection, uint16_t code, std::string_view reason) override;
  void onDrained(WsConnection& connection) override;

 private:
  std::shared_ptr<Session> session() const;
  void onControl(std::string_view json);

  // Weak: the event loop owns a started connection, and the connection owns its handler (this);
  // a strong reference back would be a cycle that outlives a stopped loop.
  const std::weak_ptr<WsConnection> connection_;
  const uint64_t connection_id_;
  const bool wants_events_;
  mutable std::mutex mutex_;
  std::shared_ptr<Session> session_;
  std::shared_ptr<void> held_;
};

}  // namespace podterm::host
