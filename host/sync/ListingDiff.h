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
  std::vector<sdk::ItemChange> changes;        // changed directories and symlinks
  std::unordered_set<std::string> present;     // every listed path that is not excluded
  std::map<std::string, PodFileState> listed;  // the pod's side of the paths settled here
  std::map<std::string, int64_t> seen;         // unchanged paths, with the stored version
  std::vector<const PodEntry*> to_fetch;       // files to fetch and hash
  std::vector<SkippedPath> skipped;
};

ListingDiff diffListing(const std::vector<PodEntry>& entries, const StoredManifest& manifest,
                        const SessionSyncState& state, const SyncOptions& options,
                        int64_t clock_ms);

// An upsert of path whose compare-and-swap base is the version this session knows (0: none).
sdk::ItemChange upsertChange(const SessionSyncState& state, const std::string& path,
                             sdk::ItemKind kind, int64_t size, uint32_t mode, int64_t mtime_ms,
                             std::string content, std::string hash);

}  // namespace podterm::host
