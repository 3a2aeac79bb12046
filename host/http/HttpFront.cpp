#include "http/HttpFront.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>

#include "http/PlainResponse.h"
#include "http/StaticFiles.h"
#include "http/TerminalEndpoint.h"
#include "http/WorkspaceApi.h"

namespace podterm::host {
namespace {

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

class Router : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Router(TerminalEndpoint* terminal, Readiness& readiness, WorkspaceApi* workspaces,
         const StaticFiles* static_files)
      : terminal_(terminal),
        readiness_(readiness),
        workspaces_(workspaces),
        static_files_(static_files) {}

  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest& request) override {
    std::string path = request.getURI().substr(0, request.getURI().find('?'));
    if (terminal_ && path.rfind(TerminalEndpoint::kPathPrefix, 0) == 0) {
      return terminal_->newHandler();
    }
    if (workspaces_ && path.rfind(WorkspaceApi::kPathPrefix, 0) == 0) {
      return workspaces_->newHandler();
    }
    if (path == "/healthz") return new HealthHandler(nullptr);
    if (path == "/readyz") return new HealthHandler(&readiness_);
    // The page and its assets; /api/ stays the API's even where no endpoint answers it.
    if (static_files_ && path.rfind("/api/", 0) != 0) return static_files_->newHandler();
    if (path == "/") return new IndexHandler();
    return new NotFoundHandler();
  }

 private:
  TerminalEndpoint* terminal_;
  Readiness& readiness_;
  WorkspaceApi* workspaces_;
  const StaticFiles* static_files_;
};

}  // namespace

HttpFront::HttpFront(HttpFrontOptions options, TerminalEndpoint& terminal, Readiness& readiness,
                     WorkspaceApi* workspaces)
    : HttpFront(std::move(options), readiness, &terminal, workspaces) {}

HttpFront::HttpFront(HttpFrontOptions options, Readiness& readiness, TerminalEndpoint* terminal,
                     WorkspaceApi* workspaces)
    : options_(std::move(options)) {
  if (!options_.web_root.empty()) static_files_ = std::make_unique<StaticFiles>(options_.web_root);
  Poco::Net::ServerSocket socket(
      Poco::Net::SocketAddress(options_.listen_host, options_.listen_port), 256);
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(options_.http_threads);
  params->setMaxQueued(1024);
  params->setKeepAlive(true);
  params->setTimeout(Poco::Timespan(10, 0));
  server_ = std::make_unique<Poco::Net::HTTPServer>(
      new Router(terminal, readiness, workspaces, static_files_.get()), socket, params);
}

HttpFront::~HttpFront() {
  stop();
}

void HttpFront::start() {
  server_->start();
}

void HttpFront::stop() {
  if (server_) server_->stopAll(false);
}

uint16_t HttpFront::port() const {
  return server_->port();
}

}  // namespace podterm::host
