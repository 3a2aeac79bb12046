#include "http/TerminalEndpoint.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "http/PlainResponse.h"
#include "http/TlsHandoff.h"
#include "http/WebSocketHandshake.h"
#include "http/WsTerminalClient.h"
#include "session/SessionId.h"
#include "session/TerminalName.h"

namespace podterm::host {
namespace {

Poco::Logger& logger() {
  return Poco::Logger::get("podterm.http");
}

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(TerminalEndpoint& endpoint) : endpoint_(endpoint) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    try {
      endpoint_.handle(request, response);
    } catch (const std::exception& e) {
      logger().error("terminal request failed: %s", std::string(e.what()));
      if (!response.sent()) sendPlain(response, 500, "internal error\n");
    } catch (...) {
      logger().error("terminal request failed with an unknown exception");
      if (!response.sent()) sendPlain(response, 500, "internal error\n");
    }
  }

 private:
  TerminalEndpoint& endpoint_;
};

// ?cols=&rows= : the terminal's size before the first resize message.
std::optional<TerminalSize> initialSize(const std::string& uri) {
  Poco::URI parsed(uri);
  int cols = 0, rows = 0;
  for (const auto& [key, value] : parsed.getQueryParameters()) {
    int number = 0;
    if (value.empty() || value.size() > 4 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    number = std::stoi(value);
    if (key == "cols") cols = number;
    if (key == "rows") rows = number;
  }
  if (cols < 1 || rows < 1 || cols > 1000 || rows > 1000) return std::nullopt;
  return TerminalSize{static_cast<uint16_t>(cols), static_cast<uint16_t>(rows)};
}

// ?since=N : resume from byte N of the session's output stream (decimal, 64-bit). Anything else
// (empty, a sign, not a number, past 2^64) is ignored, and the client gets the screen replay.
std::optional<uint64_t> resumeOffset(const std::string& uri) {
  for (const auto& [key, value] : Poco::URI(uri).getQueryParameters()) {
    if (key != "since" || value.empty() || value.size() > 20 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    errno = 0;
    const unsigned long long n = std::strtoull(value.c_str(), nullptr, 10);
    if (errno == ERANGE) continue;
    return static_cast<uint64_t>(n);
  }
  return std::nullopt;
}

// ?term=<name>: which terminal of the session (TerminalName); without it, the default one. Empty,
// given twice or outside the grammar: nullopt, and the request is refused.
std::optional<std::string> terminalName(const std::string& uri) {
  std::optional<std::string> name;
  for (const auto& [key, value] : Poco::URI(uri).getQueryParameters()) {
    if (key != "term") continue;
    if (name) return std::nullopt;
    name = TerminalName::parse(value);
    if (!name) return std::nullopt;
  }
  if (!name) name = TerminalName::kDefault;
  return name;
}

sdk::AuthRequest authRequest(const Poco::Net::HTTPServerRequest& request, const SessionId& id,
                             const std::vector<std::string>& offered) {
  sdk::AuthRequest auth;
  auth.method = request.getMethod();
  auth.path = request.getURI();  // with the query: it may carry ?token= (never logged)
  for (const auto& [name, value] : request) auth.headers.emplace_back(Poco::toLower(name), value);
  auth.offered_subprotocols = offered;
  auth.remote_address = request.clientAddress().host().toString();
  auth.session_id = id.raw;
  auth.user = id.user;
  auth.workspace = id.workspace;
  return auth;
}

// A live socket outlives nothing it was allowed for: when the credential that opened it expires,
// it is closed with 1008 (policy violation), and the client must come back with a fresh one.
void closeWhenCredentialExpires(const std::shared_ptr<WsConnection>& connection,
                                int64_t expires_unix_ms) {
  if (expires_unix_ms <= 0) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::weak_ptr<WsConnection> weak = connection;
  connection->loop().runAfter(
      std::chrono::milliseconds(std::max<int64_t>(0, expires_unix_ms - now)), [weak] {
        if (auto live = weak.lock()) live->close(1008, "credential expired");
      });
}

}  // namespace

TerminalEndpoint::TerminalEndpoint(TerminalEndpointOptions options, sdk::Authenticator& auth,
                                   SessionManager& sessions, EventLoopGroup& loops)
    : options_(std::move(options)),
      origins_(options_.origins),
      auth_(auth),
      sessions_(sessions),
      loops_(loops) {}

std::shared_ptr<void> TerminalEndpoint::takeConnectionSlot() {
  auto counter = open_connections_;
  const size_t limit = options_.max_connections;
  size_t open = counter->load();
  do {
    if (limit != 0 && open >= limit) return nullptr;
  } while (!counter->compare_exchange_weak(open, open + 1));
  // The slot is the counter itself, with a deleter that gives the place back.
  return std::shared_ptr<void>(counter.get(), [counter](void*) { counter->fetch_sub(1); });
}

InputBudgetPtr TerminalEndpoint::inputBudgetFor(const std::string& session_id) {
  if (options_.input_bytes_per_s == 0) return nullptr;
  std::lock_guard<std::mutex> lock(budgets_mutex_);
  auto& weak = budgets_[session_id];
  InputBudgetPtr budget = weak.lock();
  if (!budget) {
    budget = std::make_shared<InputBudget>(options_.input_bytes_per_s, options_.input_burst_bytes);
    weak = budget;
  }
  // Budgets live as long as a socket of their session; forget the dead ones now and then.
  if (budgets_.size() >= prune_budgets_at_) {
    for (auto it = budgets_.begin(); it != budgets_.end();) {
      it = it->second.expired() ? budgets_.erase(it) : std::next(it);
    }
    prune_budgets_at_ = std::max<size_t>(64, 2 * budgets_.size());
  }
  return budget;
}

Poco::Net::HTTPRequestHandler* TerminalEndpoint::newHandler() {
  return new Handler(*this);
}

void TerminalEndpoint::handle(Poco::Net::HTTPServerRequest& request,
                              Poco::Net::HTTPServerResponse& response) {
  // A refused upgrade ends the connection: the client asked for a WebSocket, not HTTP keep-alive.
  response.setKeepAlive(false);
  const std::string path = request.getURI().substr(0, request.getURI().find('?'));
  auto id = SessionId::parse(std::string_view(path).substr(std::string_view(kPathPrefix).size()));
  if (!id) {
    sendPlain(response, 400,
              "invalid session id: expected user_<user>_ws_<workspace>_<suffix> "
              "(letters, digits and '-'; '_' also in the suffix)\n");
    return;
  }
  const std::optional<std::string> terminal = terminalName(request.getURI());
  if (!terminal) {
    sendPlain(response, 400,
              "invalid terminal name: expected ?term= with 1 to 32 of a-z, 0-9, '_' and '-'\n");
    return;
  }
  UpgradeRequest upgrade{request.getMethod(),
                         request.get("Upgrade", ""),
                         request.get("Connection", ""),
                         request.get("Sec-WebSocket-Version", ""),
                         request.get("Sec-WebSocket-Key", ""),
                         request.get("Sec-WebSocket-Protocol", "")};
  if (auto refusal = validateUpgrade(upgrade)) {
    if (refusal->status == 426) response.set("Sec-WebSocket-Version", "13");
    sendPlain(response, refusal->status, refusal->reason + "\n");
    return;
  }
  std::optional<std::string> origin;
  if (request.has("Origin")) origin = request.get("Origin");
  if (auto refusal = origins_.check(origin, request.getHost())) {
    logger().warning("session=%s refused: %s", id->raw, *refusal);
    sendPlain(response, 403, *refusal + "\n");
    return;
  }
  auto offered = splitProtocols(upgrade.protocols);
  sdk::Result<sdk::AuthDecision> decision = auth_.authenticate(authRequest(request, *id, offered));
  if (!decision || !decision.value().allowed) {
    int status = decision ? decision.value().http_status : 401;
    std::string reason = decision ? decision.value().reason : "authentication failed";
    if (status != 401 && status != 403) status = 401;
    logger().warning("session=%s refused by auth (%d): %s", id->raw, status, reason);
    sendPlain(response, status, reason + "\n");
    return;
  }
  if (!decision.value().credential_subprotocol.empty()) {
    offered.erase(
        std::remove(offered.begin(), offered.end(), decision.value().credential_subprotocol),
        offered.end());
  }
  const std::string protocol = chooseSubprotocol(offered);
  // Per-user sessions and pods (limits.*_per_user): refused before the upgrade, so no pod is
  // made; a granted admission holds the user's place until attach() below.
  SessionManager::Admission admission = sessions_.admit(*id, *terminal);
  if (!admission) {
    sendPlain(response, 429, admission.refusal() + "\n");
    return;
  }
  std::shared_ptr<void> slot = takeConnectionSlot();
  if (!slot) {
    logger().warning("session=%s refused: %z connections open (%s)", id->raw, openConnections(),
                     options_.max_connections_source);
    response.set("Retry-After", "5");
    sendPlain(response, 503, "too many connections to this host; try again shortly\n");
    return;
  }

  response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_SWITCHING_PROTOCOLS);
  response.set("Upgrade", "websocket");
  response.set("Connection", "Upgrade");
  response.set("Sec-WebSocket-Accept", acceptKey(upgrade.key));
  if (!protocol.empty()) response.set("Sec-WebSocket-Protocol", protocol);
  response.setContentLength(Poco::Net::HTTPResponse::UNKNOWN_CONTENT_LENGTH);
  response.send().flush();

  // The socket leaves Poco: the event loop owns a duplicate, Poco closes its own copy; over TLS
  // the loop drives the socket's SSL, and Poco's socket stays alive in it to own that SSL.
  Poco::Net::StreamSocket socket =
      static_cast<Poco::Net::HTTPServerRequestImpl&>(request).detachSocket();
  std::unique_ptr<TlsTransport> tls = detachTls(socket);
  int fd = -1;
  if (!tls) {
    fd = ::dup(socket.impl()->sockfd());
    if (fd < 0) throw std::runtime_error("dup of an upgraded socket failed");
  }

  WsConnectionOptions limits;
  limits.max_message_bytes = options_.max_message_bytes;
  limits.high_watermark = options_.output_high_watermark;
  limits.low_watermark = options_.output_high_watermark / 4;
  limits.ping_interval = options_.ping_interval;
  limits.idle_timeout = options_.idle_timeout;
  limits.input_budget = inputBudgetFor(id->raw);
  auto connection = tls ? WsConnection::create(std::move(tls), loops_.next(), limits, protocol)
                        : WsConnection::create(fd, loops_.next(), limits, protocol);
  auto client = std::make_shared<WsTerminalClient>(connection, protocol == "podterm.v2");
  client->holdUntilClosed(std::move(slot));
  auto session = sessions_.attach(*id, std::move(admission), client, initialSize(request.getURI()),
                                  resumeOffset(request.getURI()));
  client->bind(session);
  connection->start(client);
  closeWhenCredentialExpires(connection, decision.value().expires_unix_ms);
  logger().information("session=%s terminal %s connected from %s (protocol %s)", id->raw, *terminal,
                       request.clientAddress().toString(), protocol.empty() ? "none" : protocol);
}

}  // namespace podterm::host
