#pragma once
// GET /metrics: the host's metrics registry in the Prometheus text exposition format 0.0.4
// (docs/operations.md lists the series). Unauthenticated like /healthz, and like it shows nothing
// secret: counts only, no session id, user, token or config value. Other methods get 405.

#include <Poco/Net/HTTPRequestHandler.h>

namespace podterm::host {

class MetricsRegistry;

class MetricsEndpoint {
 public:
  static constexpr const char* kPath = "/metrics";
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // OWNERSHIP: registry must outlive this object and its handlers.
  explicit MetricsEndpoint(const MetricsRegistry& registry) : registry_(registry) {}
  // A handler for one request (Poco's HTTPServer deletes it).
  Poco::Net::HTTPRequestHandler* newHandler() const;

 private:
  const MetricsRegistry& registry_;
};

}  // namespace podterm::host
