#include "http/MetricsEndpoint.h"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include "common/Metrics.h"
#include "http/PlainResponse.h"

namespace podterm::host {
namespace {

class MetricsHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit MetricsHandler(const MetricsRegistry& registry) : registry_(registry) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    try {
      if (request.getMethod() != Poco::Net::HTTPRequest::HTTP_GET &&
          request.getMethod() != Poco::Net::HTTPRequest::HTTP_HEAD) {
        response.set("Allow", "GET, HEAD");
        sendPlain(response, 405, "method not allowed\n");
        return;
      }
      const std::string body = registry_.render();
      response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
      response.setContentType(MetricsEndpoint::kContentType);
      response.set("Cache-Control", "no-store");
      response.setContentLength(static_cast<std::streamsize>(body.size()));
      if (request.getMethod() == Poco::Net::HTTPRequest::HTTP_HEAD) {
        response.send();
      } else {
        response.send() << body;
      }
    } catch (const std::exception&) {
      if (!response.sent()) sendPlain(response, 500, "metrics unavailable\n");
    } catch (...) {
      if (!response.sent()) sendPlain(response, 500, "metrics unavailable\n");
    }
  }

 private:
  const MetricsRegistry& registry_;
};

}  // namespace

Poco::Net::HTTPRequestHandler* MetricsEndpoint::newHandler() const {
  return new MetricsHandler(registry_);
}

}  // namespace podterm::host
