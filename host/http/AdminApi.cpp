#include "http/AdminApi.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/String.h>

#include <algorithm>
#include <map>
#include <vector>

#include "common/Metrics.h"
#include "http/ApiJson.h"

namespace podterm::host {
namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

constexpr std::string_view kSessionsPath = "/api/admin/sessions";

Poco::Logger& logger() {
  return Poco::Logger::get("podterm.http.admin");
}

void sendJson(HTTPServerResponse& response, int status, const std::string& json) {
  response.setStatusAndReason(static_cast<HTTPServerResponse::HTTPStatus>(status));
  response.set("Cache-Control", "no-store");
  response.set("X-Content-Type-Options", "nosniff");
  response.setContentType("application/json; charset=utf-8");
  response.setContentLength(static_cast<std::streamsize>(json.size()));
  response.sendBuffer(json.data(), json.size());
}

void sendError(HTTPServerResponse& response, int status, const std::string& message) {
  sendJson(response, status, errorJson(message));
}

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(AdminApi& api) : api_(api) {}
  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    try {
      api_.handle(request, response);
    } catch (const std::exception& e) {
      logger().error("admin request failed: %s", std::string(e.what()));
      fail(response);
    } catch (...) {
      logger().error("admin request failed with an unknown exception");
      fail(response);
    }
  }

 private:
  static void fail(HTTPServerResponse& response) {
    if (response.sent()) return;
    response.setKeepAlive(false);
    sendError(response, 500, "internal error");
  }
  AdminApi& api_;
};

// The route: the list, or one session (its id checked with the session id's grammar, on the raw
// path: nothing is decoded).
struct AdminRoute {
  std::optional<SessionId> id;  // empty: the list
  int status = 0;               // 400 or 404 when the target names no route
  std::string reason;
};

AdminRoute parseAdminRoute(std::string_view target) {
  AdminRoute route;
  target = target.substr(0, target.find('?'));
  if (target == kSessionsPath) return route;
  if (target.substr(0, kSessionsPath.size() + 1) != std::string(kSessionsPath) + "/") {
    route.status = 404;
    route.reason = "not found";
    return route;
  }
  route.id = SessionId::parse(target.substr(kSessionsPath.size() + 1));
  if (!route.id) {
    route.status = 400;
    route.reason =
        "invalid session id: expected user_<user>_ws_<workspace>_<suffix> (letters, digits, '-' "
        "and, in the suffix, '_')";
  }
  return route;
}

bool hasBody(const HTTPServerRequest& request) {
  return request.getChunkedTransferEncoding() || request.getContentLength64() > 0;
}

sdk::AuthRequest authRequest(const HTTPServerRequest& request) {
  sdk::AuthRequest auth;
  auth.method = request.getMethod();
  auth.path = request.getURI();  // with the query: it may carry ?token= (never logged)
  for (const auto& [name, value] : request) auth.headers.emplace_back(Poco::toLower(name), value);
  auth.remote_address = request.clientAddress().host().toString();
  // No session, user or workspace: the route is nobody's own; the plugin decides `admin`.
  return auth;
}

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// starting | live | grace | ending | ended: what an operator asks first.
const char* stateName(const Session::Info& info) {
  switch (info.state) {
    case SessionState::Ending:
      return "ending";
    case SessionState::Ended:
      return "ended";
    default:
      break;
  }
  if (info.clients == 0) return "grace";  // waiting for a reconnect, then the end
  return info.state == SessionState::Ready ? "live" : "starting";
}

// A session's state from its terminals': the liveliest one.
const char* sessionStateOf(const std::vector<Session::Info>& infos) {
  static const char* const kOrder[] = {"live", "starting", "grace", "ending", "ended"};
  for (const char* state : kOrder) {
    for (const auto& info : infos) {
      if (std::string_view(stateName(info)) == state) return state;
    }
  }
  return "ended";
}

// The id the runtime knows the session's pod by (the session id, or its workspace's pod id).
std::string podIdOf(const Session& session) {
  return session.pod() ? session.pod()->id().raw : session.id().raw;
}

// One session id with its terminals (`?term=`), which share its pod.
Poco::JSON::Object::Ptr sessionJson(const SessionId& id,
                                    const std::vector<std::shared_ptr<Session>>& terminals,
                                    const std::map<std::string, sdk::PodInfo>& pods,
                                    int64_t now_ms) {
  std::vector<Session::Info> infos;
  for (const auto& terminal : terminals) infos.push_back(terminal->info());
  Poco::JSON::Object::Ptr object = new Poco::JSON::Object;
  object->set("session_id", id.raw);
  object->set("user", id.user);
  object->set("workspace", id.workspace);
  object->set("state", std::string(sessionStateOf(infos)));

  uint64_t clients = 0, bytes_in = 0, bytes_out = 0;
  int64_t created = infos.front().created_unix_ms;
  auto age = infos.front().age;
  auto idle = infos.front().idle;
  bool saves_files = false;
  Poco::JSON::Array::Ptr terminal_list = new Poco::JSON::Array;
  for (size_t i = 0; i < infos.size(); ++i) {
    const Session::Info& info = infos[i];
    clients += info.clients;
    bytes_in += info.bytes_in;
    bytes_out += info.bytes_out;
    created = std::min(created, info.created_unix_ms);
    age = std::max(age, info.age);
    idle = std::min(idle, info.idle);
    saves_files = saves_files || info.syncs_files;
    Poco::JSON::Object::Ptr terminal = new Poco::JSON::Object;
    terminal->set("name", terminals[i]->terminal());
    terminal->set("state", std::string(stateName(info)));
    terminal->set("stage", std::string(sessionStateName(info.state)));
    terminal->set("clients", static_cast<uint64_t>(info.clients));
    terminal->set("bytes_in", info.bytes_in);
    terminal->set("bytes_out", info.bytes_out);
    terminal->set("idle_s", static_cast<int64_t>(info.idle.count() / 1000));
    terminal_list->add(terminal);
  }
  object->set("clients", clients);
  object->set("terminals", terminal_list);

  // The runtime's listing is fresher than the session's last status (a session stops following
  // its pod's phases once the shell runs).
  const std::string pod_id = podIdOf(*terminals.front());
  auto listed = pods.find(pod_id);
  const sdk::PodInfo* pod = listed == pods.end() ? nullptr : &listed->second;
  const sdk::PodStatus& status = pod ? pod->status : infos.front().pod;
  Poco::JSON::Object::Ptr pod_json = new Poco::JSON::Object;
  pod_json->set("id", pod_id);
  pod_json->set("shared", pod_id != id.raw);  // the workspace's pod (session.pod_scope)
  if (pod) pod_json->set("name", pod->pod_name);
  pod_json->set("phase", std::string(sdk::podPhaseName(status.phase)));
  if (!status.reason.empty()) pod_json->set("reason", status.reason);
  if (pod && pod->created_unix_ms > 0) pod_json->set("created_unix_ms", pod->created_unix_ms);
  object->set("pod", pod_json);

  object->set("created_unix_ms", created);
  object->set("age_s", static_cast<int64_t>(age.count() / 1000));
  object->set("last_activity_unix_ms", now_ms - idle.count());
  object->set("idle_s", static_cast<int64_t>(idle.count() / 1000));
  object->set("bytes_in", bytes_in);
  object->set("bytes_out", bytes_out);
  object->set("saves_files", saves_files);
  return object;
}

// The runtime's pods by pod id; empty (and false) when it could not list them.
bool listPods(sdk::PodRuntime& runtime, std::map<std::string, sdk::PodInfo>& pods) {
  auto listed = runtime.listPods();
  if (!listed) {
    logger().warning("admin: the runtime could not list pods: %s", listed.status().message());
    return false;
  }
  for (auto& pod : listed.value()) pods[pod.session_id] = std::move(pod);
  return true;
}

std::vector<std::shared_ptr<Session>> withoutNull(std::vector<std::shared_ptr<Session>> list) {
  list.erase(std::remove(list.begin(), list.end(), nullptr), list.end());
  return list;
}

}  // namespace

AdminApi::AdminApi(AdminApiOptions options, sdk::Authenticator& auth, SessionManager& sessions,
                   sdk::PodRuntime& runtime)
    : options_(std::move(options)),
      origins_(options_.origins),
      auth_(auth),
      sessions_(sessions),
      runtime_(runtime) {}

Poco::Net::HTTPRequestHandler* AdminApi::newHandler() {
  return new Handler(*this);
}

void AdminApi::handle(HTTPServerRequest& request, HTTPServerResponse& response) {
  const std::string& method = request.getMethod();
  // No route reads a body: one left unread would be taken for the next request.
  if (hasBody(request)) response.setKeepAlive(false);

  const AdminRoute route = parseAdminRoute(request.getURI());
  if (route.status != 0) {
    sendError(response, route.status, route.reason);
    return;
  }
  const bool allowed = method == "GET" || (route.id && method == "DELETE");
  if (!allowed) {
    response.set("Allow", route.id ? "GET, DELETE" : "GET");
    sendError(response, 405, "method not allowed");
    return;
  }
  std::optional<std::string> origin;
  if (request.has("Origin")) origin = request.get("Origin");
  if (auto refusal = origins_.check(origin, request.getHost())) {
    logger().warning("admin %s refused: %s", method, *refusal);
    sendError(response, 403, *refusal);
    return;
  }
  // A browser attaches cookies to cross-site requests; only one that names its Origin (checked
  // above) may end a session with one.
  if (method != "GET" && request.has("Cookie") && !origin) {
    logger().warning("admin %s refused: cookie without Origin", method);
    sendError(response, 403, "a change authenticated by cookie must carry an Origin header");
    return;
  }
  sdk::Result<sdk::AuthDecision> decision = auth_.authenticate(authRequest(request));
  if (!decision || !decision.value().allowed) {
    int status = decision ? decision.value().http_status : 401;
    std::string reason = decision ? decision.value().reason : "authentication failed";
    if (status != 401 && status != 403) status = 401;
    logger().warning("admin %s refused by auth (%d): %s", method, status, reason);
    sendError(response, status, reason);
    return;
  }
  const std::string& principal = decision.value().principal;
  if (!decision.value().admin) {
    logger().warning("admin %s refused: %s has no admin claim", method,
                     principal.empty() ? std::string("the caller") : principal);
    sendError(response, 403, "this credential is not an administrator's");
    return;
  }

  if (!route.id) {
    listSessions(response);
  } else if (method == "GET") {
    showSession(*route.id, response);
  } else {
    endSession(*route.id, principal.empty() ? std::string("an administrator") : principal,
               response);
  }
}

void AdminApi::listSessions(HTTPServerResponse& response) {
  // By session id (sorted), each with its terminals.
  std::map<std::string, std::vector<std::shared_ptr<Session>>> by_id;
  for (auto& session : withoutNull(sessions_.sessions())) {
    by_id[session->id().raw].push_back(std::move(session));
  }
  // One listing from the runtime names the pods (the host knows sessions, the runtime pods).
  std::map<std::string, sdk::PodInfo> pods;
  const bool listed = listPods(runtime_, pods);
  const int64_t now_ms = nowUnixMs();
  Poco::JSON::Array::Ptr array = new Poco::JSON::Array;
  for (const auto& [raw, terminals] : by_id) {
    array->add(sessionJson(terminals.front()->id(), terminals, pods, now_ms));
  }
  Poco::JSON::Object::Ptr object = new Poco::JSON::Object;
  object->set("sessions", array);
  object->set("count", static_cast<uint64_t>(array->size()));
  if (!listed) object->set("pods_error", std::string("the runtime could not list pods"));
  sendJson(response, 200, toJsonText(object));
}

void AdminApi::showSession(const SessionId& id, HTTPServerResponse& response) {
  auto terminals = withoutNull(sessions_.terminals(id.raw));
  if (terminals.empty()) {
    sendError(response, 404, "no such session on this host");
    return;
  }
  std::map<std::string, sdk::PodInfo> pods;
  listPods(runtime_, pods);
  sendJson(response, 200, toJsonText(sessionJson(id, terminals, pods, nowUnixMs())));
}

void AdminApi::endSession(const SessionId& id, const std::string& admin,
                          HTTPServerResponse& response) {
  auto terminals = withoutNull(sessions_.terminals(id.raw));
  if (terminals.empty()) {
    sendError(response, 404, "no such session on this host");
    return;
  }
  uint64_t clients = 0;
  bool already_ending = true;
  for (const auto& terminal : terminals) {
    const Session::Info info = terminal->info();
    clients += info.clients;
    already_ending =
        already_ending && (info.state == SessionState::Ending || info.state == SessionState::Ended);
  }
  const std::shared_ptr<SessionPod> pod = terminals.front()->pod();
  const std::string pod_id = podIdOf(*terminals.front());
  logger().information("session=%s ended by %s (%z terminal(s), %Lu client(s))%s", id.raw, admin,
                       terminals.size(), static_cast<unsigned long long>(clients),
                       std::string(already_ending ? ": it was already ending" : ""));
  // Every terminal: the pod's end (final sync, deletion) comes with its last one.
  for (const auto& terminal : terminals) {
    terminal->endWithNotice(kAdminEndCode, kAdminEndReason,
                            "this session was ended by an administrator", metrics::Culled::Admin);
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.end_wait;
  bool ended = true;
  for (const auto& terminal : terminals) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    ended = sessions_.waitEnded(terminal, std::max(left, std::chrono::milliseconds(0))) && ended;
  }

  Poco::JSON::Object::Ptr object = new Poco::JSON::Object;
  object->set("session_id", id.raw);
  object->set("user", id.user);
  object->set("already_ending", already_ending);
  object->set("terminals_ended", static_cast<uint64_t>(terminals.size()));
  object->set("clients_closed", clients);
  object->set("ended", ended);
  object->set("pod_id", pod_id);
  if (!ended) {
    // Still in its final sync (a large workspace) or deleting its pod: it goes on without us.
    object->set("state", std::string("ending"));
    sendJson(response, 202, toJsonText(object));
    return;
  }
  bool saves_files = pod && pod->sync() != nullptr;
  bool kept = pod && pod->kept();
  for (const auto& terminal : terminals) {
    saves_files = saves_files || terminal->info().syncs_files;
    kept = kept || terminal->podKept();  // the pod's last terminal ended it
  }
  // A workspace's pod that other sessions still use goes on: its final sync comes with theirs.
  const bool in_use = pod && pod->state() != PodLifecycle::Ended;
  // saved: the final sync committed; failed: it did not, and the pod is kept with the files;
  // none: the host keeps no files (no storage); deferred: the pod is still in use.
  object->set("final_sync", std::string(in_use         ? "deferred"
                                        : !saves_files ? "none"
                                        : kept         ? "failed"
                                                       : "saved"));
  std::string outcome = "unknown";
  auto status = runtime_.podStatus(pod_id);
  if (in_use) {
    outcome = "in use";
  } else if (kept) {
    outcome = "kept";
  } else if (status) {
    const sdk::PodPhase phase = status.value().phase;
    outcome = phase == sdk::PodPhase::Gone          ? "deleted"
              : phase == sdk::PodPhase::Terminating ? "deleting"
                                                    : "still present";
  }
  object->set("pod", outcome);
  if (status) object->set("pod_phase", std::string(sdk::podPhaseName(status.value().phase)));
  sendJson(response, 200, toJsonText(object));
}

}  // namespace podterm::host
