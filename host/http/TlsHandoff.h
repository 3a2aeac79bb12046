#pragma once
// Hands an upgraded (or streaming) connection from Poco to an event loop when it speaks TLS.

#include <Poco/Net/StreamSocket.h>

#include <memory>

#include "ws/TlsTransport.h"

namespace podterm::host {

// socket: just detached from Poco's HTTP session. Null for a plain TCP socket (the caller dup()s
// its fd as before); for a TLS one, a transport that drives its SSL and keeps socket alive until
// closed. Throws when a TLS socket's SSL is not known (its listener did not registerTlsContext).
std::unique_ptr<TlsTransport> detachTls(const Poco::Net::StreamSocket& socket);

}  // namespace podterm::host
