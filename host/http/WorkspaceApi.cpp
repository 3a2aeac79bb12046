#include "http/WorkspaceApi.h"

#include <Poco/DigestEngine.h>
#include <Poco/JSON/Array.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/SHA2Engine.h>
#include <Poco/String.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include "http/ApiJson.h"
#include "http/SseStream.h"
#include "http/TarExport.h"
#include "http/TlsHandoff.h"

namespace podterm::host {

struct WorkspaceApi::StreamSlots {
  std::atomic<size_t> open{0};
};

namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

Poco::Logger& logger() {
  return Poco::Logger::get("podterm.http.workspace");
}

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(WorkspaceApi& api) : api_(api) {}
  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    try {
      api_.handle(request, response);
    } catch (const std::exception& e) {
      logger().error("workspace request failed: %s", std::string(e.what()));
      fail(response);
    } catch (...) {
      logger().error("workspace request failed with an unknown exception");
      fail(response);
    }
  }

 private:
  static void fail(HTTPServerResponse& response) {
    if (response.sent()) return;
    response.setKeepAlive(false);
    const std::string body = errorJson("internal error");
    response.setStatusAndReason(HTTPServerResponse::HTTP_INTERNAL_SERVER_ERROR);
    response.setContentType("application/json");
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send() << body;
  }
  WorkspaceApi& api_;
};

void commonHeaders(HTTPServerResponse& response) {
  response.set("Cache-Control", "no-store");
  response.set("X-Content-Type-Options", "nosniff");
}

void sendBody(HTTPServerResponse& response, int status, const std::string& content_type,
              const std::string& body) {
  response.setStatusAndReason(static_cast<HTTPServerResponse::HTTPStatus>(status));
  commonHeaders(response);
  response.setContentType(content_type);
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.sendBuffer(body.data(), body.size());
}

void sendJson(HTTPServerResponse& response, int status, const std::string& json) {
  sendBody(response, status, "application/json; charset=utf-8", json);
}

void sendError(HTTPServerResponse& response, int status, const std::string& message) {
  sendJson(response, status, errorJson(message));
}

std::string etagOf(int64_t version) {
  return "\"" + std::to_string(version) + "\"";
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// "123" -> 123; anything else (weak tags, lists, garbage) -> nullopt.
std::optional<int64_t> parseStrongEtag(std::string_view text) {
  text = trim(text);
  if (text.size() < 3 || text.size() > 21 || text.front() != '"' || text.back() != '"') {
    return std::nullopt;
  }
  text = text.substr(1, text.size() - 2);
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

// If-None-Match: "*", or a list of (possibly weak) tags; weak comparison (RFC 9110 13.1.2).
bool noneMatchHits(std::string_view header, int64_t version) {
  const std::string mine = etagOf(version);
  size_t start = 0;
  while (start <= header.size()) {
    size_t end = header.find(',', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view tag = trim(header.substr(start, end - start));
    if (tag == "*") return true;
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (tag == mine) return true;
    start = end + 1;
  }
  return false;
}

bool isChange(const std::string& method) {
  return method == "PUT" || method == "DELETE" || method == "POST";
}

bool hasBody(const HTTPServerRequest& request) {
  return request.getChunkedTransferEncoding() || request.getContentLength64() > 0;
}

const char* allowedMethods(WorkspaceAction action) {
  switch (action) {
    case WorkspaceAction::Item:
      return "GET, PUT, DELETE";
    case WorkspaceAction::Restore:
      return "POST";
    default:
      return "GET";
  }
}

bool methodAllowed(WorkspaceAction action, const std::string& method) {
  switch (action) {
    case WorkspaceAction::Item:
      return method == "GET" || method == "PUT" || method == "DELETE";
    case WorkspaceAction::Restore:
      return method == "POST";
    default:
      return method == "GET";
  }
}

sdk::WorkspaceId workspaceId(const WorkspaceRoute& route) {
  return {route.workspace.user, route.workspace.workspace};
}

sdk::AuthRequest authRequest(const HTTPServerRequest& request, const WorkspaceRoute& route) {
  sdk::AuthRequest auth;
  auth.method = request.getMethod();
  auth.path = request.getURI();  // with the query: it may carry ?token= (never logged)
  for (const auto& [name, value] : request) auth.headers.emplace_back(Poco::toLower(name), value);
  auth.remote_address = request.clientAddress().host().toString();
  auth.user = route.workspace.user;
  auth.workspace = route.workspace.workspace;
  return auth;
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string sha256Hex(const std::string& bytes) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(bytes.data(), static_cast<unsigned>(bytes.size()));
  return Poco::DigestEngine::digestToHex(engine.digest());
}

// X-Podterm-Mode: octal permission bits ("755", "0644").
std::optional<uint32_t> parseMode(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  if (mode > 07777) return std::nullopt;
  return mode;
}

// The workspace's lease for one write through the API while a quota is set, released when it
// goes out of scope. Its holder is unique to this request, so it never renews someone else's.
class WriteLease {
 public:
  WriteLease(sdk::Storage& storage, sdk::WorkspaceId ws) : storage_(storage), ws_(std::move(ws)) {
    thread_local std::mt19937_64 random{std::random_device{}()};
    char holder[32];
    std::snprintf(holder, sizeof holder, "api-%016llx", static_cast<unsigned long long>(random()));
    holder_ = holder;
  }
  WriteLease(const WriteLease&) = delete;
  WriteLease& operator=(const WriteLease&) = delete;
  ~WriteLease() {
    if (held_) storage_.releaseLease(ws_, holder_);  // an expired lease frees itself if this fails
  }

  // Waits (backing off) while a sync holds it; Unavailable when it stays busy past `wait`.
  sdk::Status acquire(std::chrono::milliseconds ttl, std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    auto backoff = std::chrono::milliseconds(2);
    for (;;) {
      auto grant = storage_.acquireLease(ws_, holder_, ttl.count());
      if (!grant) return grant.status();
      if (grant.value().acquired) {
        held_ = true;
        return {};
      }
      if (std::chrono::steady_clock::now() + backoff > deadline) {
        return {sdk::ErrorCode::Unavailable, "the workspace lease stayed busy"};
      }
      std::this_thread::sleep_for(backoff);  // leases have no notification
      backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
    }
  }

 private:
  sdk::Storage& storage_;
  const sdk::WorkspaceId ws_;
  std::string holder_;
  bool held_ = false;
};

std::string quotaJson(const QuotaExceeded& exceeded) {
  Poco::JSON::Object::Ptr object = new Poco::JSON::Object;
  object->set("error", describe(exceeded));
  object->set("quota", exceeded.key());
  object->set("limit", exceeded.limit);
  object->set("stored", exceeded.current);
  object->set("needed", exceeded.needed);
  return toJsonText(object);
}

// A JSON answer naming one item and its version.
std::string versionJson(const std::string& path, int64_t version, bool deleted) {
  Poco::JSON::Object::Ptr object = new Poco::JSON::Object;
  setBytesField(*object, "path", path);
  object->set("version", version);
  if (deleted) object->set("deleted", true);
  return toJsonText(object);
}

}  // namespace

WorkspaceApi::WorkspaceApi(WorkspaceApiOptions options, sdk::Authenticator& auth,
                           sdk::Storage& storage, WorkspaceEvents& events, EventLoopGroup& loops,
                           WorkspaceWriter* writer)
    : options_(std::move(options)),
      origins_(options_.origins),
      auth_(auth),
      storage_(storage),
      events_(events),
      loops_(loops),
      writer_(writer),
      slots_(std::make_shared<StreamSlots>()) {}

WorkspaceApi::~WorkspaceApi() = default;

Poco::Net::HTTPRequestHandler* WorkspaceApi::newHandler() {
  return new Handler(*this);
}

size_t WorkspaceApi::openStreams() const {
  return slots_->open.load();
}

void WorkspaceApi::handle(HTTPServerRequest& request, HTTPServerResponse& response) {
  const std::string& method = request.getMethod();
  // A body this handler does not read would be taken for the next request: refusals close.
  if (hasBody(request)) response.setKeepAlive(false);

  WorkspaceRouteResult parsed = parseWorkspaceRoute(request.getURI(), method);
  if (!parsed.route) {
    sendError(response, parsed.status, parsed.reason);
    return;
  }
  const WorkspaceRoute& route = *parsed.route;
  if (!methodAllowed(route.action, method)) {
    response.set("Allow", allowedMethods(route.action));
    sendError(response, 405, "method not allowed");
    return;
  }
  std::optional<std::string> origin;
  if (request.has("Origin")) origin = request.get("Origin");
  if (auto refusal = origins_.check(origin, request.getHost())) {
    logger().warning("workspace=%s %s refused: %s", route.workspace.raw, method, *refusal);
    sendError(response, 403, *refusal);
    return;
  }
  // A browser attaches cookies to cross-site form posts; only a request that names its Origin
  // (checked above) may change anything with one.
  if (isChange(method) && request.has("Cookie") && !origin) {
    logger().warning("workspace=%s %s refused: cookie without Origin", route.workspace.raw, method);
    sendError(response, 403, "a change authenticated by cookie must carry an Origin header");
    return;
  }
  sdk::Result<sdk::AuthDecision> decision = auth_.authenticate(authRequest(request, route));
  if (!decision || !decision.value().allowed) {
    int status = decision ? decision.value().http_status : 401;
    std::string reason = decision ? decision.value().reason : "authentication failed";
    if (status != 401 && status != 403) status = 401;
    logger().warning("workspace=%s %s refused by auth (%d): %s", route.workspace.raw, method,
                     status, reason);
    sendError(response, status, reason);
    return;
  }

  switch (route.action) {
    case WorkspaceAction::Tree:
      getTree(route, response);
      break;
    case WorkspaceAction::Item:
      if (method == "GET") getItem(route, request, response);
      if (method == "PUT") putItem(route, request, response);
      if (method == "DELETE") deleteItem(route, request, response);
      break;
    case WorkspaceAction::Restore:
      restoreItem(route, response);
      break;
    case WorkspaceAction::Export:
      exportTar(route, response);
      break;
    case WorkspaceAction::Events:
      openEvents(route, decision.value(), request, response);
      break;
  }
}

void WorkspaceApi::sendStorageError(HTTPServerResponse& response, const sdk::Status& status,
                                    bool precondition) {
  switch (status.code()) {
    case sdk::ErrorCode::Unavailable:
    case sdk::ErrorCode::Timeout:
      logger().warning("storage unavailable: %s", status.message());
      response.set("Retry-After", std::to_string(options_.retry_after_seconds));
      sendError(response, 503, "storage unavailable, retry later");
      return;
    case sdk::ErrorCode::NotFound:
      sendError(response, 404, "not found");
      return;
    case sdk::ErrorCode::Conflict:
      if (precondition) {
        sendError(response, 412, "the item changed: its version does not match");
      } else {
        sendError(response, 409, "the item changed concurrently, retry");
      }
      return;
    case sdk::ErrorCode::AlreadyExists:
      sendError(response, 409, "already exists");
      return;
    case sdk::ErrorCode::InvalidArgument:
      logger().information("storage refused a request: %s", status.message());
      sendError(response, 400, "storage refused the path or content");
      return;
    case sdk::ErrorCode::PermissionDenied:
      sendError(response, 403, "permission denied");
      return;
    default:
      logger().error("storage failed (%s): %s", std::string(sdk::errorCodeName(status.code())),
                     status.message());
      sendError(response, 500, "storage error");
      return;
  }
}

void WorkspaceApi::notifyWritten(const sdk::WorkspaceId& ws, const std::vector<sdk::Item>& items) {
  if (!writer_) return;
  try {
    writer_->onItemsWritten(ws, items);
  } catch (const std::exception& e) {
    logger().error("workspace writer failed: %s", std::string(e.what()));
  } catch (...) {
    logger().error("workspace writer failed with an unknown exception");
  }
}

bool WorkspaceApi::refusedByQuota(const WorkspaceRoute& route,
                                  const std::vector<sdk::ItemMeta>& rows,
                                  const std::vector<sdk::ItemChange>& changes,
                                  HTTPServerResponse& response) {
  std::unordered_map<std::string, const sdk::ItemMeta*> live;
  for (const auto& row : rows) {
    if (!row.deleted) live[row.path] = &row;
  }
  const WorkspaceUsage now = usageOf(rows);
  const WorkspaceUsage after =
      usageAfter(now, changes, [&live](const std::string& path) -> const sdk::ItemMeta* {
        auto it = live.find(path);
        return it != live.end() ? it->second : nullptr;
      });
  auto exceeded = checkQuota(options_.quota, now, after);
  if (!exceeded) return false;
  logger().information("workspace=%s write refused: %s", route.workspace.raw, describe(*exceeded));
  sendJson(response, 507, quotaJson(*exceeded));
  return true;
}

void WorkspaceApi::getTree(const WorkspaceRoute& route, HTTPServerResponse& response) {
  const bool with_deleted = queryValue(route.query, "deleted").value_or("0") == "1";
  auto manifest = storage_.listManifest(workspaceId(route), with_deleted);
  if (!manifest) {
    sendStorageError(response, manifest.status(), false);
    return;
  }
  auto& rows = manifest.value();
  std::sort(rows.begin(), rows.end(), [](const sdk::ItemMeta& a, const sdk::ItemMeta& b) {
    return a.path != b.path ? a.path < b.path : a.deleted < b.deleted;
  });
  Poco::JSON::Array::Ptr array = new Poco::JSON::Array;
  for (const auto& row : rows) {
    if (row.deleted && !with_deleted) continue;
    array->add(itemMetaJson(row, with_deleted));
  }
  sendJson(response, 200, toJsonText(array));
}

void WorkspaceApi::getItem(const WorkspaceRoute& route, HTTPServerRequest& request,
                           HTTPServerResponse& response) {
  auto items = storage_.readItems(workspaceId(route), {route.item_path});
  if (!items) {
    sendStorageError(response, items.status(), false);
    return;
  }
  auto found = std::find_if(items.value().begin(), items.value().end(), [&](const sdk::Item& i) {
    return i.meta.path == route.item_path && !i.meta.deleted;
  });
  if (found == items.value().end()) {
    sendError(response, 404, "not found");
    return;
  }
  const sdk::Item& item = *found;
  response.set("ETag", etagOf(item.meta.version));
  if (request.has("If-None-Match") &&
      noneMatchHits(request.get("If-None-Match"), item.meta.version)) {
    response.setStatusAndReason(HTTPServerResponse::HTTP_NOT_MODIFIED);
    commonHeaders(response);
    response.setContentLength(0);
    response.send();
    return;
  }
  response.set("X-Podterm-Kind", itemKindName(item.meta.kind));
  if (item.meta.kind != sdk::ItemKind::File) {
    Poco::JSON::Object::Ptr object = itemMetaJson(item.meta, false);
    if (item.meta.kind == sdk::ItemKind::Symlink) setBytesField(*object, "target", item.content);
    sendJson(response, 200, toJsonText(object));
    return;
  }
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", item.meta.mode & 07777);
  response.set("X-Podterm-Mode", mode);
  response.set("X-Podterm-Mtime-Ms", std::to_string(item.meta.mtime_ms));
  // The bytes came from a user's pod: never let a browser run them as a page of this origin.
  response.set("Content-Security-Policy", "default-src 'none'; sandbox");
  sendBody(response, 200, "application/octet-stream", item.content);
}

void WorkspaceApi::putItem(const WorkspaceRoute& route, HTTPServerRequest& request,
                           HTTPServerResponse& response) {
  const sdk::WorkspaceId ws = workspaceId(route);
  if (request.getContentLength64() > static_cast<int64_t>(options_.max_body_bytes)) {
    sendError(response, 413,
              "body larger than " + std::to_string(options_.max_body_bytes) + " bytes");
    return;
  }
  std::optional<uint32_t> mode;
  if (request.has("X-Podterm-Mode")) {
    mode = parseMode(request.get("X-Podterm-Mode"));
    if (!mode) {
      sendError(response, 400, "X-Podterm-Mode must be octal permission bits, e.g. 0644");
      return;
    }
  }
  // Preconditions: If-Match "<version>" (compare-and-swap), If-Match * (must exist),
  // If-None-Match * (must not exist); none: create or replace.
  const bool has_match = request.has("If-Match");
  const bool has_none_match = request.has("If-None-Match");
  if (has_match && has_none_match) {
    sendError(response, 400, "send either If-Match or If-None-Match, not both");
    return;
  }
  int64_t expected = -1;
  bool match_any = false;
  if (has_match) {
    const std::string value = request.get("If-Match");
    if (trim(value) == "*") {
      match_any = true;
    } else if (auto version = parseStrongEtag(value)) {
      expected = *version;
    } else {
      sendError(response, 400, "If-Match must be one strong ETag (\"<version>\") or *");
      return;
    }
  } else if (has_none_match) {
    if (trim(request.get("If-None-Match")) != "*") {
      sendError(response, 400, "If-None-Match on PUT must be *");
      return;
    }
    expected = 0;
  }

  std::string body;
  std::istream& in = request.stream();
  char chunk[65536];
  while (in) {
    in.read(chunk, sizeof chunk);
    body.append(chunk, static_cast<size_t>(in.gcount()));
    if (body.size() > options_.max_body_bytes) {
      sendError(response, 413,
                "body larger than " + std::to_string(options_.max_body_bytes) + " bytes");
      return;
    }
  }
  // The whole body was read: the connection may serve another request.
  response.setKeepAlive(request.getKeepAlive());

  // With a quota, the manifest read, the check and the batch happen under the workspace lease
  // (taken only now: a slow upload never holds it). See WorkspaceApiOptions::quota.
  std::optional<WriteLease> lease;
  std::vector<sdk::ItemMeta> manifest;
  if (options_.quota.enabled()) {
    lease.emplace(storage_, ws);
    if (sdk::Status held = lease->acquire(options_.lease_ttl, options_.lease_wait); !held) {
      sendStorageError(response, held, false);
      return;
    }
    auto rows = storage_.listManifest(ws, false);
    if (!rows) {
      sendStorageError(response, rows.status(), false);
      return;
    }
    manifest = std::move(rows).value();
  }

  // The current row keeps its mode unless the client names one (an editor saving a script must
  // not drop its executable bit), and a directory is never silently replaced by a file.
  auto current = storage_.readItems(ws, {route.item_path});
  if (!current) {
    sendStorageError(response, current.status(), false);
    return;
  }
  const sdk::ItemMeta* existing = nullptr;
  for (const auto& item : current.value()) {
    if (item.meta.path == route.item_path && !item.meta.deleted) existing = &item.meta;
  }
  if (existing && existing->kind == sdk::ItemKind::Directory) {
    sendError(response, 409, "a directory exists at this path");
    return;
  }
  if (match_any) {
    if (!existing) {
      sendError(response, 412, "the item does not exist");
      return;
    }
    expected = existing->version;
  }

  sdk::ItemChange change;
  change.op = sdk::ItemChange::Op::Upsert;
  change.expected_version = expected;
  sdk::Item& item = change.item;
  item.meta.path = route.item_path;
  item.meta.kind = sdk::ItemKind::File;
  item.meta.size = static_cast<int64_t>(body.size());
  item.meta.mode = mode ? *mode : (existing ? existing->mode & 07777 : 0644);
  item.meta.mtime_ms = nowMs();
  item.meta.content_hash = sha256Hex(body);
  item.content = std::move(body);
  const bool created = existing == nullptr;
  if (options_.quota.enabled() && refusedByQuota(route, manifest, {change}, response)) return;

  auto applied = storage_.applyBatch(ws, {change});
  if (!applied) {
    sendStorageError(response, applied.status(), has_match || has_none_match);
    return;
  }
  if (applied.value().versions.empty()) {
    logger().error("storage applied a batch but returned no version");
    sendError(response, 500, "storage error");
    return;
  }
  const int64_t version = applied.value().versions.front();
  item.meta.version = version;
  item.meta.updated_unix_ms = item.meta.mtime_ms;
  notifyWritten(ws, {item});
  events_.publish(ws, "sync", WorkspaceEvents::syncJson({route.item_path}, {}, version));
  response.set("ETag", etagOf(version));
  sendJson(response, created ? 201 : 200, versionJson(route.item_path, version, false));
}

void WorkspaceApi::deleteItem(const WorkspaceRoute& route, HTTPServerRequest& request,
                              HTTPServerResponse& response) {
  const sdk::WorkspaceId ws = workspaceId(route);
  sdk::ItemChange change;
  change.op = sdk::ItemChange::Op::Delete;
  change.item.meta.path = route.item_path;
  const bool has_match = request.has("If-Match");
  if (has_match) {
    auto version = parseStrongEtag(request.get("If-Match"));
    if (!version) {
      sendError(response, 400, "If-Match must be one strong ETag (\"<version>\")");
      return;
    }
    change.expected_version = *version;
  }
  auto applied = storage_.applyBatch(ws, {change});
  if (!applied) {
    sendStorageError(response, applied.status(), has_match);
    return;
  }
  const int64_t version = applied.value().versions.empty() ? 0 : applied.value().versions.front();
  sdk::Item deleted;
  deleted.meta.path = route.item_path;
  deleted.meta.deleted = true;
  deleted.meta.version = version;
  notifyWritten(ws, {deleted});
  events_.publish(ws, "sync", WorkspaceEvents::syncJson({}, {route.item_path}, version));
  sendJson(response, 200, versionJson(route.item_path, version, true));
}

void WorkspaceApi::restoreItem(const WorkspaceRoute& route, HTTPServerResponse& response) {
  const sdk::WorkspaceId ws = workspaceId(route);
  // A restore brings a row back: with a quota it is checked like a PUT, under the lease.
  std::optional<WriteLease> lease;
  if (options_.quota.enabled()) {
    lease.emplace(storage_, ws);
    if (sdk::Status held = lease->acquire(options_.lease_ttl, options_.lease_wait); !held) {
      sendStorageError(response, held, false);
      return;
    }
    auto rows = storage_.listManifest(ws, true);
    if (!rows) {
      sendStorageError(response, rows.status(), false);
      return;
    }
    auto deleted = std::find_if(rows.value().begin(), rows.value().end(), [&](const auto& row) {
      return row.deleted && row.path == route.item_path;
    });
    if (deleted != rows.value().end()) {
      sdk::ItemChange change;
      change.item.meta = *deleted;
      if (refusedByQuota(route, rows.value(), {change}, response)) return;
    }
  }
  auto restored = storage_.restore(ws, route.item_path);
  if (!restored) {
    sendStorageError(response, restored.status(), false);
    return;
  }
  const sdk::ItemMeta& meta = restored.value();
  if (writer_) {
    // The pods need the content back, not only the row.
    auto items = storage_.readItems(ws, {route.item_path});
    if (items && !items.value().empty()) {
      notifyWritten(ws, items.value());
    } else {
      logger().warning("workspace=%s restored an item that could not be read back for the pods",
                       route.workspace.raw);
    }
  }
  events_.publish(ws, "sync", WorkspaceEvents::syncJson({route.item_path}, {}, meta.version));
  response.set("ETag", etagOf(meta.version));
  sendJson(response, 200, toJsonText(itemMetaJson(meta, false)));
}

void WorkspaceApi::exportTar(const WorkspaceRoute& route, HTTPServerResponse& response) {
  auto items = storage_.readWorkspace(workspaceId(route));
  if (!items) {
    sendStorageError(response, items.status(), false);
    return;
  }
  const std::string too_large = "the workspace is larger than the export limit (" +
                                std::to_string(options_.max_export_bytes) + " bytes)";
  size_t total = 0;
  for (const auto& item : items.value()) total += item.content.size();
  if (total > options_.max_export_bytes) {
    sendError(response, 413, too_large);
    return;
  }
  TarResult tar = buildTar(std::move(items.value()), options_.max_export_bytes);
  if (tar.too_large) {
    sendError(response, 413, too_large);
    return;
  }
  if (!tar.error.empty()) {
    logger().error("workspace=%s export failed: %s", route.workspace.raw, tar.error);
    sendError(response, 500, "export failed");
    return;
  }
  response.set("Content-Disposition", "attachment; filename=\"" + route.workspace.raw + ".tar\"");
  sendBody(response, 200, "application/x-tar", tar.archive);
}

void WorkspaceApi::openEvents(const WorkspaceRoute& route, const sdk::AuthDecision& decision,
                              HTTPServerRequest& request, HTTPServerResponse& response) {
  std::shared_ptr<StreamSlots> slots = slots_;
  if (slots->open.fetch_add(1) >= options_.max_sse_streams) {
    slots->open.fetch_sub(1);
    logger().warning("workspace=%s event stream refused: %s streams open", route.workspace.raw,
                     std::to_string(options_.max_sse_streams));
    response.set("Retry-After", std::to_string(options_.retry_after_seconds));
    sendError(response, 503, "too many event streams, retry later");
    return;
  }
  // Released by the stream's close callback once the stream exists, by this guard before.
  struct SlotGuard {
    std::shared_ptr<StreamSlots> slots;
    ~SlotGuard() {
      if (slots) slots->open.fetch_sub(1);
    }
  } guard{slots};

  SseStreamOptions stream_options;
  stream_options.heartbeat = options_.heartbeat_interval;
  stream_options.retry = options_.sse_retry;
  stream_options.max_buffered_bytes = options_.sse_max_buffered_bytes;
  if (decision.expires_unix_ms > 0) {
    stream_options.lifetime =
        std::chrono::milliseconds(std::max<int64_t>(1, decision.expires_unix_ms - nowMs()));
  }

  // No chunked encoding: after the headers the socket carries the raw event stream, delimited
  // by closing the connection.
  response.setStatusAndReason(HTTPServerResponse::HTTP_OK);
  commonHeaders(response);
  response.setContentType("text/event-stream; charset=utf-8");
  response.set("X-Accel-Buffering", "no");
  response.setChunkedTransferEncoding(false);
  response.setContentLength(HTTPServerResponse::UNKNOWN_CONTENT_LENGTH);
  response.setKeepAlive(false);
  response.send().flush();

  // The socket leaves Poco: the event loop owns a duplicate, Poco closes its own copy (over TLS
  // the loop drives the socket's SSL, and Poco's socket lives on in it).
  Poco::Net::StreamSocket socket =
      static_cast<Poco::Net::HTTPServerRequestImpl&>(request).detachSocket();
  std::unique_ptr<TlsTransport> tls = detachTls(socket);
  const int fd = tls ? tls->fd() : ::dup(socket.impl()->sockfd());
  if (fd < 0) throw std::runtime_error("dup of an event-stream socket failed");

  // The token is stored here after subscribe(); the close callback may run first.
  struct Subscription {
    std::mutex mutex;
    WorkspaceEvents::Token token = 0;
    bool closed = false;
  };
  auto subscription = std::make_shared<Subscription>();
  const sdk::WorkspaceId ws = workspaceId(route);
  WorkspaceEvents& events = events_;
  const std::string name = route.workspace.raw;
  auto stream = SseStream::create(
      fd, loops_.next(), stream_options,
      [slots, subscription, &events, name](const char* why) {
        WorkspaceEvents::Token token;
        {
          std::lock_guard<std::mutex> lock(subscription->mutex);
          subscription->closed = true;
          token = subscription->token;
        }
        if (token != 0) events.unsubscribe(token);
        slots->open.fetch_sub(1);
        logger().information("workspace=%s event stream closed: %s", name, std::string(why));
      },
      std::move(tls));
  guard.slots.reset();  // the stream's callback releases the slot from now on

  std::weak_ptr<SseStream> weak = stream;
  const WorkspaceEvents::Token token =
      events_.subscribe(ws, [weak](const std::string& event, const std::string& json) {
        if (auto target = weak.lock()) target->sendEvent(event, json);
      });
  bool closed;
  {
    std::lock_guard<std::mutex> lock(subscription->mutex);
    closed = subscription->closed;
    subscription->token = token;
  }
  if (closed) events_.unsubscribe(token);
  stream->start();
  logger().information("workspace=%s event stream opened from %s", name,
                       request.clientAddress().toString());
}

}  // namespace podterm::host
