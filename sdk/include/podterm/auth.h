#pragma once
// Authenticator: decides, before any WebSocket upgrade or API call, whether a request may open a
// session. Fails closed: an error result is a refusal.
//
// Threading: thread-safe, called concurrently from the host's HTTP threads; may block briefly
// (the host bounds it with a timeout and refuses on expiry). Must never log a credential.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "podterm/plugin.h"
#include "podterm/result.h"

namespace podterm::sdk {

struct AuthRequest {
  std::string method;
  std::string path;  // the request target with its query string: may hold a credential, never log it
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::vector<std::string> offered_subprotocols;
  std::string remote_address;
  std::string session_id;  // validated grammar; empty for non-session routes
  std::string user;        // from the session id
  std::string workspace;   // from the session id
};

struct AuthDecision {
  bool allowed = false;
  int http_status = 401;   // 401 or 403 when refused
  std::string reason;      // short, safe to show the client
  std::string principal;   // the authenticated user when allowed
  int64_t expires_unix_ms = 0;  // 0: no expiry; else the host closes the socket then
  // A subprotocol the host must not echo back (e.g. "bearer.<token>"): the plugin names the
  // offered entry that carried the credential so the host never selects it.
  std::string credential_subprotocol;
  // The principal may use the admin REST API (list and end anyone's sessions). Only meaningful
  // when allowed; a plugin grants it from the credential itself (a claim, a role), never from
  // what the request names.
  bool admin = false;
};

class Authenticator : public PluginObject {
 public:
  virtual Result<AuthDecision> authenticate(const AuthRequest& request) = 0;
  // True when an allowed request has proved who it is (a signature, a password). False for
  // development plugins that trust what the request claims: the host then refuses a listener
  // outside loopback unless its config explicitly allows it.
  virtual bool verifiesCredentials() const noexcept = 0;
};

}  // namespace podterm::sdk
