#include "HostMetrics.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <cstdlib>
#include <sstream>

namespace podterm::bench {

std::optional<double> metricValue(const std::string& exposition, const std::string& name) {
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() <= name.size() + 1 || line.compare(0, name.size(), name) != 0 ||
        line[name.size()] != ' ') {
      continue;  // a comment, another metric, or this one with labels
    }
    const char* start = line.c_str() + name.size() + 1;
    char* end = nullptr;
    const double value = std::strtod(start, &end);
    if (end != start) return value;
  }
  return std::nullopt;
}

std::optional<double> scrapeHostMetric(const std::string& host, uint16_t port,
                                       const std::string& name) {
  try {
    Poco::Net::HTTPClientSession session(host, port);
    session.setTimeout(Poco::Timespan(1, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/metrics",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& body = session.receiveResponse(response);
    std::string text;
    Poco::StreamCopier::copyToString(body, text);
    if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) return std::nullopt;
    return metricValue(text, name);
  } catch (...) {
    return std::nullopt;  // no metrics endpoint: the line is left out of the report
  }
}

}  // namespace podterm::bench
