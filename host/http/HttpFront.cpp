#include "http/HttpFront.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerConnection.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <sys/socket.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "common/Metrics.h"
#include "http/AdminApi.h"
#include "http/MetricsEndpoint.h"
#include "http/PlainResponse.h"
#include "http/StaticFiles.h"
#include "http/TerminalEndpoint.h"
#include "http/WorkspaceApi.h"
#include "ws/TlsTransport.h"

namespace podterm::host {

// Bounds the time a connection may take to deliver the headers of a request. Poco reads them
// with blocking reads on an HTTP thread, and its timeout applies to each read, so a client that
// sends one byte every few seconds (or nothing, on keep-alive) would hold that thread for as long
// as it likes. Past the deadline this thread answers 408 and shuts the socket down; the blocked
// read then returns and the HTTP thread is free.
// Threading: all methods are thread-safe.
class HandshakeWatchdog {
 public:
  // tls: the connections speak TLS, where a plaintext 408 would only corrupt the stream: they
  // are just shut down.
  HandshakeWatchdog(std::chrono::milliseconds timeout, bool tls)
      : timeout_(timeout), tls_(tls), thread_([this] { run(); }) {}
  ~HandshakeWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // Starts watching fd (armed). The caller keeps owning fd and calls remove() before closing it.
  uint64_t add(int fd) {
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t id = next_id_++;
    entries_[id] = Entry{fd, Clock::now() + timeout_, true};
    cv_.notify_all();
    return id;
  }
  // The headers arrived: no deadline while the request is handled.
  void disarm(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(id);
    if (it != entries_.end()) it->second.armed = false;
  }
  // Waiting for the next request on the same connection: a new deadline.
  void rearm(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    it->second.armed = true;
    it->second.deadline = Clock::now() + timeout_;
    cv_.notify_all();
  }
  void remove(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.erase(id);
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    int fd;
    Clock::time_point deadline;
    bool armed;
  };

  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!quit_) {
      auto next = Clock::time_point::max();
      const auto now = Clock::now();
      for (auto& [id, entry] : entries_) {
        if (!entry.armed) continue;
        if (entry.deadline <= now) {
          // Still under the lock: remove() cannot return (and the fd be closed and reused)
          // while this runs.
          static constexpr char kTimeout[] =
              "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain\r\n"
              "Content-Length: 32\r\n\r\nrequest took too long to arrive\n";
          if (!tls_) ::send(entry.fd, kTimeout, sizeof kTimeout - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
          ::shutdown(entry.fd, SHUT_RDWR);
          entry.armed = false;
          continue;
        }
        next = std::min(next, entry.deadline);
      }
      if (next == Clock::time_point::max()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, next);
      }
    }
  }

  const std::chrono::milliseconds timeout_;
  const bool tls_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<uint64_t, Entry> entries_;
  uint64_t next_id_ = 1;
  bool quit_ = false;
  std::thread thread_;  // last: starts after everything it uses
};

namespace {

// The listener's TLS: TLS 1.2 and 1.3 only, forward-secret AEAD suites for 1.2 (1.3's are all
// fine), the server's preference. No client certificates.
Poco::Net::Context::Ptr serverTlsContext(const HttpFrontOptions& options) {
  Poco::Net::Context::Params params;
  params.certificateFile = options.tls_certificate_file;
  params.privateKeyFile = options.tls_key_file;
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;
  params.loadDefaultCAs = false;
  params.cipherList = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!SHA1";
  Poco::Net::Context::Ptr context =
      new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  context->preferServerCiphers();
  // After the upgrade the event loops drive each connection's SSL themselves.
  registerTlsContext(context->sslContext());
  return context;
}

// The watchdog entry of the connection this HTTP thread is serving (set for the duration of
// TimedConnection::run), so the router can disarm it once a request's headers are parsed.
struct WatchedConnection {
  HandshakeWatchdog* watchdog = nullptr;
  uint64_t id = 0;
  int fd = -1;
};
thread_local WatchedConnection t_watched;

// Poco's HTTP connection, watched from accept to the end of each request's headers.
class TimedConnection : public Poco::Net::HTTPServerConnection {
 public:
  TimedConnection(const Poco::Net::StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params,
                  Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                  std::shared_ptr<HandshakeWatchdog> watchdog)
      : HTTPServerConnection(socket, params, factory), watchdog_(std::move(watchdog)) {}

  void run() override {
    if (!watchdog_) {
      HTTPServerConnection::run();
      return;
    }
    const int fd = socket().impl()->sockfd();
    const uint64_t id = watchdog_->add(fd);
    t_watched = {watchdog_.get(), id, fd};
    try {
      HTTPServerConnection::run();
    } catch (...) {
      t_watched = {};
      watchdog_->remove(id);
      throw;
    }
    t_watched = {};
    watchdog_->remove(id);
  }

 private:
  std::shared_ptr<HandshakeWatchdog> watchdog_;
};

class TimedConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  TimedConnectionFactory(Poco::Net::HTTPServerParams::Ptr params,
                         Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                         std::shared_ptr<HandshakeWatchdog> watchdog)
      : params_(std::move(params)), factory_(std::move(factory)), watchdog_(std::move(watchdog)) {}

  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
    return new TimedConnection(socket, params_, factory_, watchdog_);
  }

 private:
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
  std::shared_ptr<HandshakeWatchdog> watchdog_;
};

// Runs a handler, then puts the connection's deadline back for its next request, unless the
// handler took the socket (it then belongs to an event loop: shutting it down would end the
// WebSocket or event stream, whose fd shares the socket).
class RearmingHandler : public Poco::Net::HTTPRequestHandler {
 public:
  RearmingHandler(Poco::Net::HTTPRequestHandler* inner, WatchedConnection watched)
      : inner_(inner), watched_(watched) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    inner_->handleRequest(request, response);
    // A handler that took the socket (a WebSocket's 101, an event stream's 200) left Poco's
    // session with an unconnected one in its place.
    auto& impl = static_cast<Poco::Net::HTTPServerRequestImpl&>(request);
    const bool detached = impl.socket().impl()->sockfd() != watched_.fd;
    if (!detached && response.getStatus() != Poco::Net::HTTPResponse::HTTP_SWITCHING_PROTOCOLS) {
      watched_.watchdog->rearm(watched_.id);
    }
  }

 private:
  std::unique_ptr<Poco::Net::HTTPRequestHandler> inner_;
  WatchedConnection watched_;
};

// /healthz: the process serves HTTP. /readyz: it may be sent new sessions (plugins loaded, not
// draining).
class HealthHandler : public Poco::Net::HTTPRequestHandler {
 public:
  HealthHandler(const Readiness* readiness) : readiness_(readiness) {}
  void handleRequest(Poco::Net::HTTPServerRequest&,
                     Poco::Net::HTTPServerResponse& response) override {
    if (!readiness_ || readiness_->ready()) {
      sendPlain(response, 200, "ok\n");
    } else {
      sendPlain(response, 503, "not ready\n");
    }
  }

 private:
  const Readiness* readiness_;
};

// A terminal upgrade while the host drains: another replica should take it.
class DrainingHandler : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest&,
                     Poco::Net::HTTPServerResponse& response) override {
    response.set("Retry-After", "1");
    sendPlain(response, 503, "server shutting down: connect again to reach another replica\n");
  }
};

class IndexHandler : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest&,
                     Poco::Net::HTTPServerResponse& response) override {
    sendPlain(response, 200,
              "podterm is running.\nOpen a WebSocket to /api/terminal/ws/{session_id}, e.g. "
              "/api/terminal/ws/user_1_ws_abc123_1234567890_uuid\n");
  }
};

class NotFoundHandler : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest&,
                     Poco::Net::HTTPServerResponse& response) override {
    sendPlain(response, 404, "not found\n");
  }
};

}  // namespace

class HttpFront::Router : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Router(TerminalEndpoint* terminal, Readiness& readiness, WorkspaceApi* workspaces,
         AdminApi* admin, const StaticFiles* static_files)
      : terminal_(terminal),
        readiness_(readiness),
        workspaces_(workspaces),
        admin_(admin),
        static_files_(static_files) {}

  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest& request) override {
    // The headers are in: the handshake deadline stops here (a request's body and its handling
    // have their own bounds).
    const WatchedConnection watched = t_watched;
    if (!watched.watchdog) return route(request);
    watched.watchdog->disarm(watched.id);
    return new RearmingHandler(route(request), watched);
  }

  // What HTTPServer::stopAll does besides stopping the listener: tells the open connections.
  void notifyStopped(bool abort_current) { serverStopped.notify(this, abort_current); }

 private:
  Poco::Net::HTTPRequestHandler* route(const Poco::Net::HTTPServerRequest& request) {
    std::string path = request.getURI().substr(0, request.getURI().find('?'));
    if (terminal_ && path.rfind(TerminalEndpoint::kPathPrefix, 0) == 0) {
      if (readiness_.draining()) return new DrainingHandler();
      return terminal_->newHandler();
    }
    if (workspaces_ && path.rfind(WorkspaceApi::kPathPrefix, 0) == 0) {
      return workspaces_->newHandler();
    }
    if (admin_ && path.rfind(AdminApi::kPathPrefix, 0) == 0) return admin_->newHandler();
    if (path == "/healthz") return new HealthHandler(nullptr);
    if (path == MetricsEndpoint::kPath) return metrics_.newHandler();
    if (path == "/readyz") return new HealthHandler(&readiness_);
    // The page and its assets; /api/ stays the API's even where no endpoint answers it.
    if (static_files_ && path.rfind("/api/", 0) != 0) return static_files_->newHandler();
    if (path == "/") return new IndexHandler();
    return new NotFoundHandler();
  }

  TerminalEndpoint* terminal_;
  const MetricsEndpoint metrics_{metrics::registry()};  // the process's metrics
  Readiness& readiness_;
  WorkspaceApi* workspaces_;
  AdminApi* admin_;
  const StaticFiles* static_files_;
};

HttpFront::HttpFront(HttpFrontOptions options, TerminalEndpoint& terminal, Readiness& readiness,
                     WorkspaceApi* workspaces, AdminApi* admin)
    : HttpFront(std::move(options), readiness, &terminal, workspaces, admin) {}

HttpFront::HttpFront(HttpFrontOptions options, Readiness& readiness, TerminalEndpoint* terminal,
                     WorkspaceApi* workspaces, AdminApi* admin)
    : options_(std::move(options)) {
  if (!options_.web_root.empty()) static_files_ = std::make_unique<StaticFiles>(options_.web_root);
  const bool tls = !options_.tls_certificate_file.empty();
  const Poco::Net::SocketAddress address(options_.listen_host, options_.listen_port);
  // The TLS handshake is lazy: it runs on the HTTP thread's first read, under the watchdog.
  // The accept backlog absorbs a burst (a whole class opening its terminals, clients reconnecting
  // after a restart): a SYN beyond it is dropped and retried by the client 1, 3, 7 and 15 s
  // later, which is how 1,000 connects at once took up to 15 s with a backlog of 256. The kernel
  // caps it at net.core.somaxconn.
  constexpr int kAcceptBacklog = 4096;
  Poco::Net::ServerSocket socket =
      tls ? static_cast<Poco::Net::ServerSocket>(
                Poco::Net::SecureServerSocket(address, kAcceptBacklog, serverTlsContext(options_)))
          : Poco::Net::ServerSocket(address, kAcceptBacklog);
  // One reference-counted object shared by the factory and the server (a raw pointer handed to both
  // would be freed twice).
  Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(options_.http_threads);
  params->setMaxQueued(kAcceptBacklog);  // accepted, waiting for an HTTP thread
  params->setKeepAlive(true);
  params->setTimeout(Poco::Timespan(10, 0));
  if (options_.handshake_timeout.count() > 0) {
    watchdog_ = std::make_shared<HandshakeWatchdog>(options_.handshake_timeout, tls);
  }
  router_ = new Router(terminal, readiness, workspaces, admin, static_files_.get());
  // Poco's HTTPServer with our connection class (HTTPServer itself offers no way to watch the
  // connections it reads from).
  server_ = std::make_unique<Poco::Net::TCPServer>(
      new TimedConnectionFactory(params, router_, watchdog_), socket, params);
}

HttpFront::~HttpFront() {
  stop();
}

void HttpFront::start() {
  server_->start();
}

void HttpFront::stop() {
  if (!server_) return;
  server_->stop();
  router_->notifyStopped(false);
}

uint16_t HttpFront::port() const {
  return server_->port();
}

}  // namespace podterm::host
