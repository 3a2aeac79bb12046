#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <string>

namespace podterm::host {

// A short text/plain answer; refusals carry a one-line reason and nothing from the request.
void sendPlain(Poco::Net::HTTPServerResponse& response, int status, const std::string& body);

}  // namespace podterm::host
