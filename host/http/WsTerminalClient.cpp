#include "http/WsTerminalClient.h"

#include <Poco/Logger.h>

#include "http/ControlMessage.h"

namespace podterm::host {
namespace {

Poco::Logger& logger() {
  return Poco::Logger::get("podterm.ws");
}

}  // namespace

WsTerminalClient::WsTerminalClient(std::shared_ptr<WsConnection> connection, bool wants_events)
    : connection_(connection), connection_id_(connection->id()), wants_events_(wants_events) {}

void WsTerminalClient::bind(std::shared_ptr<Session> session) {
  std::lock_guard<std::mutex> lock(mutex_);
  session_ = std::move(session);
}

void WsTerminalClient::holdUntilClosed(std::shared_ptr<void> resource) {
  std::lock_guard<std::mutex> lock(mutex_);
  held_ = std::move(resource);
}

std::shared_ptr<Session> WsTerminalClient::session() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return session_;
}

bool WsTerminalClient::sendText(std::string_view utf8) {
  auto connection = connection_.lock();
  return connection && connection->sendText(utf8);
}

void WsTerminalClient::sendEvent(std::string_view json) {
  if (!wants_events_) return;
  if (auto connection = connection_.lock()) connection->sendBinary(json);
}

bool WsTerminalClient::congested() const {
  auto connection = connection_.lock();
  return connection && connection->aboveHighWatermark();
}

void WsTerminalClient::close(uint16_t code, std::string_view reason) {
  if (auto connection = connection_.lock()) connection->close(code, std::string(reason));
}

std::string WsTerminalClient::describe() const {
  return "ws#" + std::to_string(connection_id_);
}

void WsTerminalClient::onMessage(WsConnection&, bool is_text, std::string_view payload) {
  if (is_text) {
    if (auto s = session()) s->onClientInput(payload);
    return;
  }
  onControl(payload);
}

void WsTerminalClient::onControl(std::string_view json) {
  auto s = session();
  if (!s) return;
  const ControlMessage message = parseControlMessage(json);
  switch (message.kind) {
    case ControlMessage::Kind::Resize:
      s->resize({static_cast<uint16_t>(message.cols), static_cast<uint16_t>(message.rows)});
      return;
    case ControlMessage::Kind::BadResize:
      logger().warning("session=%s ignored a resize to %dx%d", s->id().raw, message.cols,
                       message.rows);
      return;
    case ControlMessage::Kind::Other:
      logger().debug("session=%s ignored a control message of type '%s'", s->id().raw,
                     message.type);
      return;
    case ControlMessage::Kind::Malformed:
      logger().warning("session=%s ignored a malformed control message", s->id().raw);
      return;
  }
}

void WsTerminalClient::onClosed(WsConnection&, uint16_t code, std::string_view) {
  std::shared_ptr<Session> s;
  std::shared_ptr<void> held;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    s = std::move(session_);
    held = std::move(held_);
  }
  if (s) s->detach(this);
}

void WsTerminalClient::onDrained(WsConnection&) {
  if (auto s = session()) s->onClientDrained();
}

}  // namespace podterm::host
