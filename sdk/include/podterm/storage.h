#pragma once
// Storage: the workspace_items of each workspace (user, ws), the files the sync keeps in step
// with the pod.
//
// Threading: thread-safe; every call may block on the database for a bounded time (the plugin's
// timeouts) and the host makes them only from its worker threads. Errors: Unavailable when the
// database cannot be reached (the host retries), Conflict when a compare-and-swap lost.
// A batch is applied in one transaction: all of it or none of it.

#include <cstdint>
#include <string>
#include <vector>

#include "podterm/plugin.h"
#include "podterm/result.h"

namespace podterm::sdk {

struct WorkspaceId {
  std::string user;
  std::string workspace;
};

enum class ItemKind : int32_t { File = 0, Directory = 1, Symlink = 2 };

// One row of the manifest: everything but the content.
struct ItemMeta {
  std::string path;  // relative to the workspace root, '/'-separated, no "." or ".." parts
  ItemKind kind = ItemKind::File;
  int64_t size = 0;
  uint32_t mode = 0644;
  int64_t mtime_ms = 0;
  std::string content_hash;  // hex SHA-256 of the content (files) or of the target (symlinks)
  int64_t version = 0;       // increases on every change of this row
  bool deleted = false;
};

struct ItemChange {
  enum class Op : int32_t { Upsert = 0, Delete = 1 } op = Op::Upsert;
  ItemMeta meta;
  std::string content;  // bytes, byte-exact (files), link target (symlinks)
  // Compare-and-swap: apply only if the stored version equals this (0: the row must not exist,
  // -1: do not check).
  int64_t expected_version = -1;
};

class Storage : public PluginObject {
 public:
  virtual Result<std::vector<ItemMeta>> listManifest(const WorkspaceId& ws) = 0;
  virtual Result<std::string> readContent(const WorkspaceId& ws, const std::string& path) = 0;
  virtual Status applyBatch(const WorkspaceId& ws, const std::vector<ItemChange>& changes) = 0;
};

}  // namespace podterm::sdk
