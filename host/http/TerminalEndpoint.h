#pragma once
// /api/terminal/ws/{session_id}: checks a request in the order that lets nothing through that
// should not pass (id, upgrade headers, Origin, authentication), then completes the handshake and
// hands the socket to an event loop and the session to the SessionManager.

#include <Poco/Net/HTTPRequestHandler.h>

#include <memory>
#include <string>

#include "http/OriginPolicy.h"
#include "podterm/auth.h"
#include "session/SessionManager.h"
#include "ws/EventLoop.h"
#include "ws/WsConnection.h"

namespace podterm::host {

struct TerminalEndpointOptions {
  OriginConfig origins;
  size_t max_message_bytes = 1 << 20;
  size_t output_high_watermark = 1 << 20;
};

class TerminalEndpoint {
 public:
  static constexpr const char* kPathPrefix = "/api/terminal/ws/";

  TerminalEndpoint(TerminalEndpointOptions options, sdk::Authenticator& auth,
                   SessionManager& sessions, EventLoopGroup& loops);
  // A Poco handler for one request to kPathPrefix.
  Poco::Net::HTTPRequestHandler* newHandler();
  // Handles one request (called on a Poco HTTP thread).
  void handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);

 private:
  TerminalEndpointOptions options_;
  OriginPolicy origins_;
  sdk::Authenticator& auth_;
  SessionManager& sessions_;
  EventLoopGroup& loops_;
};

}  // namespace podterm::host
