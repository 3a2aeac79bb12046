#include "http/TlsHandoff.h"

#include <Poco/Net/SecureStreamSocketImpl.h>

#include <stdexcept>

namespace podterm::host {

std::unique_ptr<TlsTransport> detachTls(const Poco::Net::StreamSocket& socket) {
  if (!dynamic_cast<Poco::Net::SecureStreamSocketImpl*>(socket.impl())) return nullptr;
  const int fd = socket.impl()->sockfd();
  SSL* ssl = takeTls(fd);
  if (!ssl) throw std::runtime_error("a TLS socket whose SSL is not registered");
  return std::make_unique<TlsTransport>(fd, ssl,
                                        [owner = Poco::Net::StreamSocket(socket)]() mutable {
                                          try {
                                            owner.close();
                                          } catch (...) {
                                            // Closing a socket whose peer is gone: nothing left to
                                            // do.
                                          }
                                        });
}

}  // namespace podterm::host
