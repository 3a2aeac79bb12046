#pragma once
// ListingDiff: the pod's listing against the stored manifest and what the session last saw in
// the pod, the compare step of a save (pod -> DB). A path is unchanged when it matches what this
// session last saw, or the stored row where that can vouch for it; a changed directory or
// symlink is a change at once; a file that may have changed is fetched and hashed by the caller.
// Pure: no exec, no storage; the caller owns the entries, which to_fetch points into.

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "podterm/storage.h"
#include "sync/PodListing.h"
#include "sync/WorkspaceSync.h"

namespace podterm::host {

// Files modified less than this before the listing are not trusted by metadata (see
// PodFileState::racy): a later write in the same clock tick would leave size and mtime alone.
inline constexpr int64_t kRacyWindowMs = 2000;

using StoredManifest = std::unordered_map<std::string, sdk::ItemMeta>;

struct ListingDiff {
  std::vector<sdk::ItemChange> changes;     // changed directories and symlinks
  std::unordered_set<std::string> present;  // every listed path that is not excluded
  // The pod's side of the paths whose state this session did not know yet (new or changed); an
  // unchanged path keeps the state the session has, without a copy here and back.
  std::map<std::string, PodFileState> listed;
  std::map<std::string, int64_t> seen;    // unchanged paths, with the stored version
  std::vector<const PodEntry*> to_fetch;  // files to fetch and hash
  std::vector<SkippedPath> skipped;
  // Listed paths that what this session last saw cannot settle, in listing order: the stored
  // manifest decides them (settleWithManifest).
  std::vector<std::pair<const PodEntry*, sdk::ItemKind>> undecided;
};

// The listing against what this session last saw: every path it settles, and the rest undecided.
ListingDiff diffAgainstSession(const std::vector<PodEntry>& entries, const SessionSyncState& state,
                               const SyncOptions& options);
// Whether the stored manifest has anything to decide: an undecided path, or a path this session
// knows of that is missing from the listing (a delete is checked against the stored rows). Most
// command-end syncs find nothing changed and then need not read storage at all.
bool needsManifest(const ListingDiff& diff, const SessionSyncState& state,
                   const SyncOptions& options);
// Decides the undecided paths against the stored manifest (and clears them).
void settleWithManifest(ListingDiff& diff, const StoredManifest& manifest,
                        const SessionSyncState& state, int64_t clock_ms);
// Both steps: the whole comparison.
ListingDiff diffListing(const std::vector<PodEntry>& entries, const StoredManifest& manifest,
                        const SessionSyncState& state, const SyncOptions& options,
                        int64_t clock_ms);

// An upsert of path whose compare-and-swap base is the version this session knows (0: none).
sdk::ItemChange upsertChange(const SessionSyncState& state, const std::string& path,
                             sdk::ItemKind kind, int64_t size, uint32_t mode, int64_t mtime_ms,
                             std::string content, std::string hash);

}  // namespace podterm::host
