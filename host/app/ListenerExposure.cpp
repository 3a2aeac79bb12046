#include "app/ListenerExposure.h"

#include <Poco/Net/IPAddress.h>

namespace podterm::host {

bool isLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  Poco::Net::IPAddress address;
  if (!Poco::Net::IPAddress::tryParse(host, address)) return false;
  if (address.isLoopback()) return true;
  // An IPv4-mapped IPv6 loopback (::ffff:127.0.0.1) is loopback too.
  return address.family() == Poco::Net::AddressFamily::IPv6 && address.isIPv4Mapped() &&
         host.rfind("::ffff:127.", 0) == 0;
}

std::string listenerExposureProblem(const std::string& listen_host, const std::string& auth_plugin,
                                    bool verifies_credentials, bool allow_unauthenticated,
                                    std::string& warning) {
  warning.clear();
  if (verifies_credentials || isLoopbackHost(listen_host)) return {};
  std::string what = "auth plugin \"" + auth_plugin +
                     "\" verifies no credential and server.listen \"" + listen_host +
                     "\" is not a loopback address: anyone who reaches it can act as "
                     "any user";
  if (!allow_unauthenticated) {
    return what +
           "; use an auth plugin such as \"jwt\", listen on 127.0.0.1, or set "
           "server.allow_unauthenticated = true if this is really meant";
  }
  warning = what + " (server.allow_unauthenticated = true)";
  return {};
}

}  // namespace podterm::host
