#pragma once
// The HTTP side of the host: Poco's server for requests and WebSocket handshakes. After a 101 the
// socket leaves Poco for an event loop (TerminalEndpoint), so HTTP threads never wait on a session.

#include <Poco/Net/TCPServer.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "http/OriginPolicy.h"

namespace podterm::host {

class AdminApi;
class HandshakeWatchdog;
class StaticFiles;
class TerminalEndpoint;
class WorkspaceApi;

struct HttpFrontOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8002;
  int http_threads = 8;
  OriginConfig origins;
  std::string web_root;  // empty: `/` answers a line of text; else the page (StaticFiles)
  // How long a connection may take to deliver a request's headers, from its first byte's
  // wait on (and again between keep-alive requests). Past it the connection gets 408 and is
  // closed, which frees its HTTP thread: a client trickling its request (slowloris) or sending
  // nothing holds a thread at most this long. Zero: only Poco's per-read timeout applies.
  std::chrono::milliseconds handshake_timeout{10000};
  // Both set: the listener speaks HTTPS/WSS only (TLS 1.2+, PEM files; see docs/security.md).
  // Both empty: plain HTTP. The constructor throws when the files do not load.
  std::string tls_certificate_file;
  std::string tls_key_file;
};

// What /readyz reports: ready once the plugins are loaded and the host serves, and unready again
// from the moment it starts draining (SIGTERM). Never the database's health: a storage outage
// must not take every replica out of the load balancer. Draining also refuses new terminal
// upgrades with 503 (the HTTP listener stays up while sessions drain). Thread-safe.
class Readiness {
 public:
  void setReady(bool ready) { ready_.store(ready); }
  void setDraining() { draining_.store(true); }
  bool ready() const { return ready_.load() && !draining_.load(); }
  bool draining() const { return draining_.load(); }

 private:
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};
};

class HttpFront {
 public:
  // workspaces: the files API and its events under /api/workspaces/; null when the host has no
  // storage (those routes then answer 404). admin: the admin API under /api/admin/ (null: 404).
  // Endpoints must outlive this object.
  HttpFront(HttpFrontOptions options, TerminalEndpoint& terminal, Readiness& readiness,
            WorkspaceApi* workspaces = nullptr, AdminApi* admin = nullptr);
  // The same with any endpoint optional (tests of one endpoint): a null one's routes answer 404.
  HttpFront(HttpFrontOptions options, Readiness& readiness, TerminalEndpoint* terminal,
            WorkspaceApi* workspaces, AdminApi* admin = nullptr);
  ~HttpFront();
  void start();
  // Stops accepting; open WebSockets are not affected (they belong to the event loops).
  void stop();
  // The bound port (useful with port 0).
  uint16_t port() const;

 private:
  HttpFrontOptions options_;
  std::unique_ptr<StaticFiles> static_files_;    // before server_: its handlers point here
  std::shared_ptr<HandshakeWatchdog> watchdog_;  // shared with the connections it watches
  class Router;
  Poco::SharedPtr<Router> router_;  // also the connections' handler factory
  std::unique_ptr<Poco::Net::TCPServer> server_;
};

}  // namespace podterm::host
