#pragma once
// Parses a request target under /api/workspaces/ into the workspace, the action and the item
// path, before anything else looks at the request. Pure functions: no I/O, no Poco.
//
//   /api/workspaces/{ws}/items            tree
//   /api/workspaces/{ws}/items/{path}     one item ("{path}:restore" is Restore, for POST only)
//   /api/workspaces/{ws}/export           tar of the live workspace
//   /api/workspaces/{ws}/events           Server-Sent Events
//
// {ws} is user_<user>_ws_<workspace>, each part [A-Za-z0-9-]{1,64} (the session id's prefix).
// {path} is percent-decoded exactly once, then must be a relative '/'-separated path with no
// empty, "." or ".." part and no NUL byte. An encoded '/' ("%2F") is refused: a name can never
// contain '/', and proxies disagree on what an encoded slash means.

#include <optional>
#include <string>
#include <string_view>

namespace podterm::host {

struct WorkspaceRef {
  std::string raw;  // user_<user>_ws_<workspace>
  std::string user;
  std::string workspace;

  static std::optional<WorkspaceRef> parse(std::string_view text);
};

enum class WorkspaceAction { Tree, Item, Restore, Export, Events };

struct WorkspaceRoute {
  WorkspaceRef workspace;
  WorkspaceAction action = WorkspaceAction::Tree;
  std::string item_path;  // decoded bytes; Item and Restore only
  std::string query;      // after '?', undecoded
};

// A parse result: the route, or the reason for a 400/404.
struct WorkspaceRouteResult {
  std::optional<WorkspaceRoute> route;
  int status = 0;      // 400 or 404 when route is empty
  std::string reason;  // short and safe to show: never echoes the request
};

// target: the raw request target (path and query). method decides whether ":restore" is an action.
WorkspaceRouteResult parseWorkspaceRoute(std::string_view target, std::string_view method);

// Percent-decodes once. nullopt on a malformed escape ('%' not followed by two hex digits) or an
// encoded '/'.
std::optional<std::string> percentDecodePath(std::string_view text);

// nullopt when path is acceptable as an item path, else why not.
std::optional<std::string> checkItemPath(std::string_view path);

// The value of key in an undecoded query string ("a=1&b=2"); nullopt when absent.
std::optional<std::string> queryValue(std::string_view query, std::string_view key);

}  // namespace podterm::host
