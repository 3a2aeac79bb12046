#include "sync/ListingDiff.h"

#include "sync/WorkspacePaths.h"

namespace podterm::host {

namespace {

bool samePodState(const PodFileState& a, const PodEntry& e, sdk::ItemKind kind) {
  if (a.kind != kind) return false;
  switch (kind) {
    case sdk::ItemKind::File:
      return !a.racy && a.size == e.size && a.mtime_ms == e.mtime_ms && a.mode == e.mode;
    case sdk::ItemKind::Directory:
      return a.mode == e.mode;
    case sdk::ItemKind::Symlink:
      return a.link_target == e.link_target;
  }
  return false;
}

PodFileState podStateOf(const PodEntry& e, sdk::ItemKind kind) {
  return {kind, e.size, e.mtime_ms, e.mode, e.link_target};
}

sdk::ItemKind kindOf(char type) {
  return type == 'd' ? sdk::ItemKind::Directory
                     : (type == 'l' ? sdk::ItemKind::Symlink : sdk::ItemKind::File);
}

}  // namespace

sdk::ItemChange upsertChange(const SessionSyncState& state, const std::string& path,
                             sdk::ItemKind kind, int64_t size, uint32_t mode, int64_t mtime_ms,
                             std::string content, std::string hash) {
  sdk::ItemChange change;
  change.op = sdk::ItemChange::Op::Upsert;
  change.item.meta.path = path;
  change.item.meta.kind = kind;
  change.item.meta.size = size;
  change.item.meta.mode = mode;
  change.item.meta.mtime_ms = mtime_ms;
  change.item.meta.content_hash = std::move(hash);
  change.item.content = std::move(content);
  auto known = state.versions.find(path);
  change.expected_version = known != state.versions.end() ? known->second : 0;
  return change;
}

ListingDiff diffAgainstSession(const std::vector<PodEntry>& entries, const SessionSyncState& state,
                               const SyncOptions& options) {
  ListingDiff diff;
  std::unordered_set<std::string> non_dirs;
  for (const auto& e : entries) {
    if (std::string why = unsafePathReason(e.path); !why.empty()) {
      diff.skipped.push_back({e.path, "listing: " + why});
      continue;
    }
    if (isExcluded(e.path, options.excludes)) continue;
    diff.present.insert(e.path);
    if (std::string above = ancestorIn(e.path, non_dirs); !above.empty()) {
      diff.skipped.push_back({e.path, "beneath '" + above + "', which is not a directory"});
      continue;
    }
    if (e.type != 'f' && e.type != 'd' && e.type != 'l') {
      non_dirs.insert(e.path);
      diff.skipped.push_back(
          {e.path, std::string("not a regular file, directory or symlink (type ") + e.type + ")"});
      continue;
    }
    const sdk::ItemKind kind = kindOf(e.type);
    if (kind != sdk::ItemKind::Directory) non_dirs.insert(e.path);
    if (kind == sdk::ItemKind::File && e.size > options.max_file_bytes) {
      diff.skipped.push_back(
          {e.path, "larger than " + std::to_string(options.max_file_bytes) + " bytes"});
      continue;
    }
    auto last = state.listed.find(e.path);
    if (last != state.listed.end() && samePodState(last->second, e, kind)) {
      continue;  // unchanged in the pod since this session last looked: its state stays as is
    }
    diff.undecided.emplace_back(&e, kind);
  }
  return diff;
}

bool needsManifest(const ListingDiff& diff, const SessionSyncState& state,
                   const SyncOptions& options) {
  if (!diff.undecided.empty()) return true;
  for (const auto& [path, version] : state.versions) {
    if (diff.present.count(path) == 0 && !isExcluded(path, options.excludes)) return true;
  }
  return false;
}

void settleWithManifest(ListingDiff& diff, const StoredManifest& manifest,
                        const SessionSyncState& state, int64_t clock_ms) {
  for (const auto& [entry, kind] : diff.undecided) {
    const PodEntry& e = *entry;
    const bool seen_before = state.listed.count(e.path) != 0;
    auto stored = manifest.find(e.path);
    const sdk::ItemMeta* meta = stored != manifest.end() ? &stored->second : nullptr;
    switch (kind) {
      case sdk::ItemKind::File:
        // The stored row's size and mtime only vouch for a path this session has not seen
        // change: once the pod changed it, equal metadata may be another writer's (same size,
        // same clock tick), so it is fetched and hashed.
        if (!seen_before && e.mtime_ms + kRacyWindowMs < clock_ms && meta != nullptr &&
            meta->kind == kind && meta->size == e.size && meta->mtime_ms == e.mtime_ms &&
            (meta->mode & 0777) == e.mode) {
          diff.seen[e.path] = meta->version;
          diff.listed[e.path] = podStateOf(e, kind);
        } else {
          diff.to_fetch.push_back(&e);
        }
        break;
      case sdk::ItemKind::Directory:
        diff.listed[e.path] = podStateOf(e, kind);
        if (meta != nullptr && meta->kind == kind && (meta->mode & 0777) == e.mode) {
          diff.seen[e.path] = meta->version;
        } else {
          diff.changes.push_back(upsertChange(state, e.path, kind, 0, e.mode, e.mtime_ms, {}, {}));
        }
        break;
      case sdk::ItemKind::Symlink: {
        diff.listed[e.path] = podStateOf(e, kind);
        std::string hash = sha256Hex(e.link_target);
        if (meta != nullptr && meta->kind == kind && meta->content_hash == hash) {
          diff.seen[e.path] = meta->version;
        } else {
          diff.changes.push_back(upsertChange(state, e.path, kind,
                                              static_cast<int64_t>(e.link_target.size()), 0777,
                                              e.mtime_ms, e.link_target, std::move(hash)));
        }
        break;
      }
    }
  }
  diff.undecided.clear();
}

ListingDiff diffListing(const std::vector<PodEntry>& entries, const StoredManifest& manifest,
                        const SessionSyncState& state, const SyncOptions& options,
                        int64_t clock_ms) {
  ListingDiff diff = diffAgainstSession(entries, state, options);
  settleWithManifest(diff, manifest, state, clock_ms);
  return diff;
}

}  // namespace podterm::host
