#pragma once
// /api/terminal/ws/{session_id}: checks a request in the order that lets nothing through that
// should not pass (id, upgrade headers, Origin, authentication), then completes the handshake and
// hands the socket to an event loop and the session to the SessionManager.

#include <Poco/Net/HTTPRequestHandler.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "http/OriginPolicy.h"
#include "podterm/auth.h"
#include "session/SessionManager.h"
#include "ws/EventLoop.h"
#include "ws/InputBudget.h"
#include "ws/WsConnection.h"

namespace podterm::host {

struct TerminalEndpointOptions {
  OriginConfig origins;
  size_t max_message_bytes = 1 << 20;
  size_t output_high_watermark = 1 << 20;
  // Open WebSockets of this host, all users; beyond it an upgrade is refused with 503 before the
  // 101 (no pod). 0: unlimited.
  size_t max_connections = 4096;
  // What set max_connections, for the log line of a refusal.
  std::string max_connections_source = "limits.max_connections";
  // Per socket; zero disables (see WsConnectionOptions).
  std::chrono::milliseconds ping_interval{30000};
  std::chrono::milliseconds idle_timeout{90000};
  // Input per session, shared by its sockets: above the rate a socket is read more slowly, never
  // dropped. 0: unlimited.
  size_t input_bytes_per_s = 1 << 20;
  size_t input_burst_bytes = 4 << 20;
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
  // WebSockets open now (upgraded and not yet closed). Thread-safe.
  size_t openConnections() const { return open_connections_->load(); }

 private:
  // A slot under max_connections, released when the socket closes; null when the host is full.
  std::shared_ptr<void> takeConnectionSlot();
  // The input budget of a session, shared by all its sockets; null when unlimited.
  InputBudgetPtr inputBudgetFor(const std::string& session_id);

  TerminalEndpointOptions options_;
  OriginPolicy origins_;
  sdk::Authenticator& auth_;
  SessionManager& sessions_;
  EventLoopGroup& loops_;
  // Shared with the slots, which may outlive this endpoint on a stopping loop.
  std::shared_ptr<std::atomic<size_t>> open_connections_ = std::make_shared<std::atomic<size_t>>(0);
  std::mutex budgets_mutex_;
  std::unordered_map<std::string, std::weak_ptr<InputBudget>> budgets_;
  size_t prune_budgets_at_ = 64;
};

}  // namespace podterm::host
