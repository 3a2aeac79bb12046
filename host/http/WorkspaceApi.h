#pragma once
// /api/workspaces/{ws}/...: the files of a workspace over REST (tree, read, write, delete,
// restore, tar export) and its change events over Server-Sent Events. See docs/api.md.
//
// Every request is checked in the order the terminal route uses: the route and the workspace
// name, the Origin (and, for PUT/DELETE/POST carrying a Cookie, that an Origin is present:
// CSRF), then the Authenticator, before storage is touched at all.
//
// Threading: handle() runs on Poco HTTP threads and calls storage there (storage blocks for a
// bounded time; event loops never call it). Event streams leave Poco after their headers and live
// on the EventLoopGroup. OWNERSHIP: auth, storage, events and loops must outlive this object
// and every stream (stop the loops before destroying the hub); writer may be null.

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>

#include "http/OriginPolicy.h"
#include "http/WorkspaceEvents.h"
#include "http/WorkspaceRoute.h"
#include "http/WorkspaceWriter.h"
#include "podterm/auth.h"
#include "podterm/storage.h"
#include "sync/WorkspaceQuota.h"
#include "ws/EventLoop.h"

namespace podterm::host {

struct WorkspaceApiOptions {
  OriginConfig origins;
  // PUT bodies larger than this are refused with 413.
  size_t max_body_bytes = size_t{10} << 20;
  // An export whose archive would be larger is refused with 413.
  size_t max_export_bytes = size_t{256} << 20;
  // Event streams open at once over all workspaces; more are refused with 503.
  size_t max_sse_streams = 1000;
  std::chrono::milliseconds heartbeat_interval{15000};
  std::chrono::milliseconds sse_retry{3000};
  // A stream whose unsent bytes exceed this (a client that stopped reading) is closed.
  size_t sse_max_buffered_bytes = size_t{256} << 10;
  // Sent as Retry-After with 503.
  int retry_after_seconds = 5;
  // Workspace quotas (limits.workspace_max_bytes / limits.workspace_max_files): a PUT or restore
  // whose result would exceed one is refused with 507. While a quota is set, those two hold the
  // workspace's lease (the one syncs hold) from their manifest read to their batch, so the check
  // and the write are atomic with respect to every other writer that can grow the workspace.
  WorkspaceQuota quota;
  std::chrono::milliseconds lease_ttl{30000};
  // How long a write waits for a sync that holds the lease; then 503 with Retry-After.
  std::chrono::milliseconds lease_wait{5000};
};

class WorkspaceApi {
 public:
  static constexpr const char* kPathPrefix = "/api/workspaces/";

  WorkspaceApi(WorkspaceApiOptions options, sdk::Authenticator& auth, sdk::Storage& storage,
               WorkspaceEvents& events, EventLoopGroup& loops, WorkspaceWriter* writer = nullptr);
  ~WorkspaceApi();
  WorkspaceApi(const WorkspaceApi&) = delete;
  WorkspaceApi& operator=(const WorkspaceApi&) = delete;

  // A Poco handler for one request to kPathPrefix.
  Poco::Net::HTTPRequestHandler* newHandler();
  // Handles one request (on a Poco HTTP thread).
  void handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  // Event streams open now. Thread-safe.
  size_t openStreams() const;

 private:
  struct StreamSlots;

  void getTree(const WorkspaceRoute& route, Poco::Net::HTTPServerResponse& response);
  void getItem(const WorkspaceRoute& route, Poco::Net::HTTPServerRequest& request,
               Poco::Net::HTTPServerResponse& response);
  void putItem(const WorkspaceRoute& route, Poco::Net::HTTPServerRequest& request,
               Poco::Net::HTTPServerResponse& response);
  void deleteItem(const WorkspaceRoute& route, Poco::Net::HTTPServerRequest& request,
                  Poco::Net::HTTPServerResponse& response);
  void restoreItem(const WorkspaceRoute& route, Poco::Net::HTTPServerResponse& response);
  void exportTar(const WorkspaceRoute& route, Poco::Net::HTTPServerResponse& response);
  void openEvents(const WorkspaceRoute& route, const sdk::AuthDecision& decision,
                  Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  void sendStorageError(Poco::Net::HTTPServerResponse& response, const sdk::Status& status,
                        bool precondition);
  void notifyWritten(const sdk::WorkspaceId& ws, const std::vector<sdk::Item>& items);
  // With a quota: answers 507 when applying changes to the workspace whose manifest is rows
  // (deleted rows may be among them) would exceed it. True when it answered.
  bool refusedByQuota(const WorkspaceRoute& route, const std::vector<sdk::ItemMeta>& rows,
                      const std::vector<sdk::ItemChange>& changes,
                      Poco::Net::HTTPServerResponse& response);

  WorkspaceApiOptions options_;
  OriginPolicy origins_;
  sdk::Authenticator& auth_;
  sdk::Storage& storage_;
  WorkspaceEvents& events_;
  EventLoopGroup& loops_;
  WorkspaceWriter* writer_;
  // Shared with the streams' close callbacks, which may run after this object is gone.
  std::shared_ptr<StreamSlots> slots_;
};

}  // namespace podterm::host
