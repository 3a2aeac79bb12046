#pragma once
// /api/admin/...: the operator's view of this host's sessions, and ending one now. See docs/api.md.
//
//   GET    /api/admin/sessions        every session of this host: owner, pod, clients, age, ...
//   GET    /api/admin/sessions/{id}   one of them
//   DELETE /api/admin/sessions/{id}   ends it now: its clients hear why, the final sync runs, the
//                                     pod is deleted; answers what happened
//
// Checked in the files API's order: the route and the session id's grammar (400), the method
// (405), the Origin and, for a DELETE carrying a Cookie, that an Origin is present (CSRF, 403),
// then the Authenticator (401/403), whose decision must carry the admin claim (else 403).
//
// Threading: handle() runs on Poco HTTP threads; a DELETE waits there (up to end_wait) for the
// session's end, which runs on the host's workers. OWNERSHIP: auth, sessions and runtime must
// outlive this object.

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/OriginPolicy.h"
#include "podterm/auth.h"
#include "podterm/runtime.h"
#include "session/SessionId.h"
#include "session/SessionManager.h"

namespace podterm::host {

struct AdminApiOptions {
  OriginConfig origins;
  // How long a DELETE waits for the end (final sync, pod deletion) before it answers 202.
  std::chrono::milliseconds end_wait{20000};
};

// The close the clients of a session ended through this API get.
inline constexpr uint16_t kAdminEndCode = 1008;
inline constexpr const char* kAdminEndReason = "ended by an administrator";

class AdminApi {
 public:
  static constexpr const char* kPathPrefix = "/api/admin/";

  AdminApi(AdminApiOptions options, sdk::Authenticator& auth, SessionManager& sessions,
           sdk::PodRuntime& runtime);
  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  // A Poco handler for one request to kPathPrefix.
  Poco::Net::HTTPRequestHandler* newHandler();
  // Handles one request (on a Poco HTTP thread).
  void handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);

 private:
  void listSessions(Poco::Net::HTTPServerResponse& response);
  void showSession(const SessionId& id, Poco::Net::HTTPServerResponse& response);
  void endSession(const SessionId& id, const std::string& admin,
                  Poco::Net::HTTPServerResponse& response);

  AdminApiOptions options_;
  OriginPolicy origins_;
  sdk::Authenticator& auth_;
  SessionManager& sessions_;
  sdk::PodRuntime& runtime_;
};

}  // namespace podterm::host
