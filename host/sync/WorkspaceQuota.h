#pragma once
// Per-workspace quotas (limits.workspace_max_bytes, limits.workspace_max_files): what a workspace
// holds, what it would hold after a batch of changes, and whether that batch is refused.
// Header-only (plain arithmetic on sdk::storage types), shared by the sync engine and the files
// API. Callers compute the usage from a manifest read under the workspace lease; see
// WorkspaceSync::runSync for why that makes the check as atomic as the batch.
//
// What counts: every live row is one entry (files, directories and symlinks alike); bytes are
// the content of files and the targets of symlinks. Soft-deleted rows count for nothing.
// A batch is refused when, in either dimension, its result exceeds the quota AND is larger than
// what is stored now: a workspace already over a quota (the quota was lowered) can always shrink.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "podterm/storage.h"

namespace podterm::host {

struct WorkspaceQuota {
  uint64_t max_bytes = 0;  // 0: unlimited
  uint64_t max_files = 0;  // entries (files, directories, symlinks); 0: unlimited
  bool enabled() const { return max_bytes != 0 || max_files != 0; }
};

struct WorkspaceUsage {
  uint64_t bytes = 0;
  uint64_t files = 0;
};

struct QuotaExceeded {
  enum class Kind { Bytes, Files } kind = Kind::Bytes;
  uint64_t limit = 0;
  uint64_t current = 0;  // stored now
  uint64_t needed = 0;   // after the refused batch
  const char* key() const {
    return kind == Kind::Bytes ? "limits.workspace_max_bytes" : "limits.workspace_max_files";
  }
};

// "1234 bytes", "12.5 KiB", "1.0 GiB": exact below 10 KiB.
inline std::string formatBytes(uint64_t bytes) {
  if (bytes < 10240) return std::to_string(bytes) + " bytes";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < sizeof units / sizeof units[0]) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

// For the user and the operator: names the quota, the stored size and what saving would need.
inline std::string describe(const QuotaExceeded& q) {
  if (q.kind == QuotaExceeded::Kind::Bytes) {
    std::string needed = formatBytes(q.needed);
    std::string limit = formatBytes(q.limit);
    if (needed == limit) {  // "1.0 GiB, more than ... 1.0 GiB": show the bytes
      needed += " (" + std::to_string(q.needed) + " bytes)";
      limit += " (" + std::to_string(q.limit) + " bytes)";
    }
    return "workspace quota exceeded: the files would take " + needed +
           ", more than the workspace quota of " + limit +
           " (limits.workspace_max_bytes); stored now: " + formatBytes(q.current) +
           ". Nothing was saved; delete files to save again";
  }
  return "workspace quota exceeded: " + std::to_string(q.needed) +
         " files and folders, more than the workspace quota of " + std::to_string(q.limit) +
         " (limits.workspace_max_files); stored now: " + std::to_string(q.current) +
         ". Nothing was saved; delete files to save again";
}

inline uint64_t storedBytes(const sdk::ItemMeta& meta) {
  return meta.kind == sdk::ItemKind::Directory
             ? 0
             : static_cast<uint64_t>(std::max<int64_t>(0, meta.size));
}

// The usage of a workspace from its manifest; deleted rows are skipped.
inline WorkspaceUsage usageOf(const std::vector<sdk::ItemMeta>& rows) {
  WorkspaceUsage usage;
  for (const auto& row : rows) {
    if (row.deleted) continue;
    usage.bytes += storedBytes(row);
    usage.files += 1;
  }
  return usage;
}

// The usage after changes, from the usage now and `live(path)`: the live stored row at path, or
// null. Upserts replace a live row or add one; deletes remove a live row.
template <class LiveRow>
WorkspaceUsage usageAfter(WorkspaceUsage usage, const std::vector<sdk::ItemChange>& changes,
                          LiveRow live) {
  auto minus = [](uint64_t a, uint64_t b) { return a > b ? a - b : 0; };
  for (const auto& change : changes) {
    const sdk::ItemMeta* now = live(change.item.meta.path);
    if (now != nullptr) {
      usage.bytes = minus(usage.bytes, storedBytes(*now));
      usage.files = minus(usage.files, 1);
    }
    if (change.op == sdk::ItemChange::Op::Upsert) {
      usage.bytes += storedBytes(change.item.meta);
      usage.files += 1;
    }
  }
  return usage;
}

// Bytes first: it is the quota a user most likely meets.
inline std::optional<QuotaExceeded> checkQuota(const WorkspaceQuota& quota, WorkspaceUsage now,
                                               WorkspaceUsage after) {
  if (quota.max_bytes != 0 && after.bytes > quota.max_bytes && after.bytes > now.bytes) {
    return QuotaExceeded{QuotaExceeded::Kind::Bytes, quota.max_bytes, now.bytes, after.bytes};
  }
  if (quota.max_files != 0 && after.files > quota.max_files && after.files > now.files) {
    return QuotaExceeded{QuotaExceeded::Kind::Files, quota.max_files, now.files, after.files};
  }
  return std::nullopt;
}

}  // namespace podterm::host
