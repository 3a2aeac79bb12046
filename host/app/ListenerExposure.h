#pragma once
// Whether the host may serve on its listen address with the auth plugin it loaded: one that
// verifies no credential lets anyone who can reach the port act as any user, which is fine on
// loopback (a developer's machine) and nowhere else unless the operator says so.

#include <string>

namespace podterm::host {

// True for 127.0.0.0/8, ::1, ::ffff:127.x and "localhost".
bool isLoopbackHost(const std::string& host);

// Empty when the host may start; otherwise the one-line reason it must not. `warning` is set
// when it may start but the operator should be told (verifying nothing outside loopback, allowed).
std::string listenerExposureProblem(const std::string& listen_host, const std::string& auth_plugin,
                                    bool verifies_credentials, bool allow_unauthenticated,
                                    std::string& warning);

}  // namespace podterm::host
