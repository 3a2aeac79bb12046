#include "sync/WorkspaceSync.h"

#include <time.h>

#include <algorithm>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "sync/ListingDiff.h"
#include "sync/PodExec.h"
#include "sync/PodListing.h"
#include "sync/SyncTar.h"
#include "sync/WorkspacePaths.h"

namespace podterm::host {

namespace {

using Clock = std::chrono::steady_clock;

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string utcStamp() {
  time_t now = ::time(nullptr);
  struct tm tm {};
  ::gmtime_r(&now, &tm);
  char buf[32];
  ::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// An exec that did not run to a clean exit, as the error of a sync.
sdk::Status execFailure(const char* what, const ExecResult& result) {
  sdk::ErrorCode code = result.error.isOk() ? sdk::ErrorCode::Internal : result.error.code();
  return {code, std::string(what) + " in the pod failed (" + result.describe() + ")"};
}

}  // namespace

std::string SyncReport::summary() const {
  const auto ms = std::to_string(duration.count() / 1000) + " ms";
  if (!status.isOk()) {
    return std::string("sync failed (") + sdk::errorCodeName(status.code()) +
           "): " + status.message() + " after " + ms;
  }
  return "synced: " + std::to_string(created.size()) + " created, " +
         std::to_string(changed.size()) + " changed, " + std::to_string(deleted.size()) +
         " deleted, " + std::to_string(skipped.size()) + " skipped, " +
         std::to_string(conflicts.size()) + " conflicts in " + ms;
}

WorkspaceSync::WorkspaceSync(sdk::PodRuntime& runtime, sdk::Storage& storage, SyncOptions options)
    : runtime_(runtime), storage_(storage), options_(std::move(options)) {}

// --- DB -> pod ----------------------------------------------------------------------------------

SyncReport WorkspaceSync::load(const std::string& session_id, const sdk::WorkspaceId& ws,
                               SessionSyncState& state) {
  const auto start = Clock::now();
  SyncReport report;
  if (options_.save_before_load) {
    ExecRequest list_request;
    list_request.argv = listingCommand(options_.workspace_root, options_.excludes);
    list_request.timeout = options_.exec_timeout;
    ExecResult listed = PodExec::run(runtime_, session_id, list_request);
    if (!listed.succeeded()) {
      report.status = execFailure("listing the workspace before the load", listed);
    } else if (auto parsed = parseListing(listed.stdout_data); !parsed) {
      report.status = {sdk::ErrorCode::Internal,
                       "listing the workspace before the load: " + parsed.status().message()};
    } else if (!parsed.value().entries.empty()) {
      report.pod_had_files = true;
      SyncReport saved = syncFromPod(session_id, ws, state);
      report.status = saved.status;
      report.conflicts = std::move(saved.conflicts);
      report.skipped = std::move(saved.skipped);
      report.bytes = saved.bytes;
    }
    if (!report.ok()) {
      report.duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
      return report;
    }
  }
  auto items = storage_.readWorkspace(ws);
  if (!items) {
    report.status = items.status();
  } else {
    report = pushItems(session_id, std::move(items).value(), &state, std::move(report));
    if (report.ok()) state.loaded = true;
  }
  report.duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  return report;
}

SyncReport WorkspaceSync::writeIntoPod(const std::string& session_id,
                                       const std::vector<sdk::Item>& items,
                                       SessionSyncState* state) {
  const auto start = Clock::now();
  SyncReport report = pushItems(session_id, items, state, SyncReport{});
  report.duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  return report;
}

SyncReport WorkspaceSync::pushItems(const std::string& session_id, std::vector<sdk::Item> items,
                                    SessionSyncState* state, SyncReport report) {
  // Parents before their contents: a path sorts before every path it is a prefix of.
  std::sort(items.begin(), items.end(),
            [](const sdk::Item& a, const sdk::Item& b) { return a.meta.path < b.meta.path; });
  // Refuse what could land outside the workspace: unsafe names, and anything beneath a symlink
  // (tar would write through it) or beneath a file (tar would fail on it) of the same stream.
  std::unordered_set<std::string> non_dirs;
  std::unordered_set<std::string> dirs;
  std::vector<const sdk::Item*> accepted;
  for (const auto& item : items) {
    const std::string& path = item.meta.path;
    if (item.meta.deleted) continue;
    if (std::string why = unsafePathReason(path); !why.empty()) {
      report.skipped.push_back({path, why});
      continue;
    }
    if (std::string above = ancestorIn(path, non_dirs); !above.empty()) {
      report.skipped.push_back({path, "beneath '" + above + "', which is not a directory"});
      continue;
    }
    if (item.meta.kind == sdk::ItemKind::File &&
        static_cast<int64_t>(item.content.size()) > options_.max_file_bytes) {
      report.skipped.push_back(
          {path, "larger than " + std::to_string(options_.max_file_bytes) + " bytes"});
      continue;
    }
    (item.meta.kind == sdk::ItemKind::Directory ? dirs : non_dirs).insert(path);
    accepted.push_back(&item);
  }

  ExecRequest request;
  request.argv = {"tar", "-x", "-f", "-", "-C", options_.workspace_root, "--no-same-owner",
                  // Keep existing directories' metadata. GNU tar's default for everything else
                  // (create with O_EXCL, on EEXIST remove and retry) replaces an existing
                  // symlink rather than writing through it; never --overwrite, never -P.
                  "--no-overwrite-dir", "--no-acls", "--no-xattrs", "--no-selinux",
                  "--warning=no-timestamp"};
  request.timeout = options_.exec_timeout;
  PodExec exec(runtime_, session_id, request);
  if (sdk::Status started = exec.start(); !started) {
    report.status = started;
    return report;
  }
  sdk::Status written;
  {
    TarWriter writer([&](const char* data, size_t size) { return exec.writeStdin(data, size); });
    // Directories a path needs but the items do not name (writeIntoPod of "a/b" alone): an
    // explicit entry makes tar create a real directory rather than follow whatever is there.
    std::set<std::string> implicit;
    for (const auto* item : accepted) {
      for (std::string_view p = parentPath(item->meta.path); !p.empty(); p = parentPath(p)) {
        if (dirs.count(std::string(p)) == 0) implicit.insert(std::string(p));
      }
    }
    auto next_implicit = implicit.begin();
    const int64_t now_ms = nowUnixMs();
    for (const auto* item : accepted) {
      while (written && next_implicit != implicit.end() && *next_implicit < item->meta.path) {
        sdk::ItemMeta dir;
        dir.path = *next_implicit++;
        dir.kind = sdk::ItemKind::Directory;
        dir.mode = 0755;
        dir.mtime_ms = now_ms;
        written = writer.add(dir, {});
      }
      if (!written) break;
      written = writer.add(item->meta, item->content);
      report.written_entries++;
      report.bytes += static_cast<int64_t>(item->content.size());
    }
    if (written) written = writer.close();
  }
  exec.closeStdin();
  ExecResult result = exec.finish();
  if (!result.succeeded()) {
    report.status = execFailure("tar -x", result);
    return report;
  }
  if (!written) {
    report.status = written;
    return report;
  }
  if (state != nullptr) {
    for (const auto* item : accepted) {
      const auto& m = item->meta;
      state->versions[m.path] = m.version;
      state->listed[m.path] = {m.kind, static_cast<int64_t>(item->content.size()), m.mtime_ms,
                               m.mode & 0777,
                               m.kind == sdk::ItemKind::Symlink ? item->content : std::string()};
    }
  }
  return report;
}

// --- pod -> DB ----------------------------------------------------------------------------------

sdk::Status WorkspaceSync::acquireLease(const sdk::WorkspaceId& ws, const std::string& holder) {
  const auto deadline = Clock::now() + options_.lease_wait;
  auto backoff = std::chrono::milliseconds(2);
  for (;;) {
    auto grant = storage_.acquireLease(ws, holder, options_.lease_ttl.count());
    if (!grant) return grant.status();
    if (grant.value().acquired) return {};
    if (Clock::now() + backoff > deadline) {
      return {sdk::ErrorCode::Unavailable, "another sync of this workspace (" +
                                               grant.value().holder +
                                               ") holds the lease; try again shortly"};
    }
    std::this_thread::sleep_for(backoff);  // the lease has no notification: back off and retry
    backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
  }
}

SyncReport WorkspaceSync::syncFromPod(const std::string& session_id, const sdk::WorkspaceId& ws,
                                      SessionSyncState& state) {
  const auto start = Clock::now();
  SyncReport report;
  report.status = acquireLease(ws, session_id);
  if (report.ok()) {
    report.status = runSync(session_id, ws, state, report);
    storage_.releaseLease(ws, session_id);  // an expired lease frees itself if this fails
  }
  if (!report.ok()) {
    // Nothing was applied: the lists describe no change.
    report.created.clear();
    report.changed.clear();
    report.deleted.clear();
    report.conflicts.clear();
  } else {
    state.last_sync_unix_ms = nowUnixMs();
  }
  report.duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  return report;
}

sdk::Status WorkspaceSync::runSync(const std::string& session_id, const sdk::WorkspaceId& ws,
                                   SessionSyncState& state, SyncReport& report) {
  // 1. The pod's listing, in one exec. Only a listing that ran to a clean exit is used at all.
  ExecRequest list_request;
  list_request.argv = listingCommand(options_.workspace_root, options_.excludes);
  list_request.timeout = options_.exec_timeout;
  ExecResult listed = PodExec::run(runtime_, session_id, list_request);
  if (!listed.succeeded()) return execFailure("listing the workspace", listed);
  auto parsed = parseListing(listed.stdout_data);
  if (!parsed)
    return {sdk::ErrorCode::Internal, "listing the workspace: " + parsed.status().message()};
  const int64_t clock_ms = parsed.value().clock_ms;
  std::vector<PodEntry> entries = std::move(parsed.value().entries);
  // Timestamps have a coarse granularity (a kernel tick, a second on some file systems): a file
  // written this close to the listing may change again without its size or mtime moving.
  auto isRacy = [clock_ms](int64_t mtime_ms) { return mtime_ms + kRacyWindowMs >= clock_ms; };
  report.listed_entries = entries.size();

  // 2-3. Compare (ListingDiff): what is unchanged, what changed, which files to fetch and hash.
  // First against what this session last saw; the stored manifest is read only for what that
  // leaves undecided (most commands change no file, and their sync then reads no storage).
  StoredManifest manifest;
  ListingDiff diff = diffAgainstSession(entries, state, options_);
  if (needsManifest(diff, state, options_)) {
    auto manifest_result = storage_.listManifest(ws, false);
    if (!manifest_result) return manifest_result.status();
    for (auto& meta : manifest_result.value()) manifest.emplace(meta.path, std::move(meta));
    settleWithManifest(diff, manifest, state, clock_ms);
  }
  report.skipped.insert(report.skipped.end(), diff.skipped.begin(), diff.skipped.end());
  std::vector<sdk::ItemChange>& changes = diff.changes;
  std::map<std::string, PodFileState>& new_listed = diff.listed;
  std::map<std::string, int64_t>& seen = diff.seen;
  const std::vector<const PodEntry*>& to_fetch = diff.to_fetch;
  std::unordered_map<std::string, const PodEntry*> fetch_index;
  for (const auto* e : to_fetch) fetch_index[e->path] = e;
  auto upsert = [&](const std::string& path, sdk::ItemKind kind, int64_t size, uint32_t mode,
                    int64_t mtime_ms, std::string content, std::string hash) {
    changes.push_back(
        upsertChange(state, path, kind, size, mode, mtime_ms, std::move(content), std::move(hash)));
  };

  // 4. The changed files, as one tar stream read as hostile input: only the requested names,
  // symlinks stored as links, nothing beneath a symlink, no hard links or special files.
  if (!to_fetch.empty()) {
    std::string names;
    for (const auto* e : to_fetch) {
      names += e->path;
      names.push_back('\0');
    }
    ExecRequest tar_request;
    tar_request.argv = {"tar",
                        "-c",
                        "-f",
                        "-",
                        "--format=posix",
                        "--pax-option=delete=atime,delete=ctime",
                        "--no-recursion",
                        "--hard-dereference",
                        "--ignore-failed-read",  // a file removed since the listing is skipped
                        "--no-acls",
                        "--no-xattrs",
                        "--no-selinux",
                        "-C",
                        options_.workspace_root,
                        "--null",
                        "--verbatim-files-from",
                        "-T",
                        "-"};
    tar_request.timeout = options_.exec_timeout;
    PodExec exec(runtime_, session_id, tar_request);
    if (sdk::Status started = exec.start(); !started) return started;
    sdk::Status written = exec.writeStdin(names.data(), names.size());
    exec.closeStdin();
    TarReader reader([&exec](std::string& chunk) { return exec.readStdout(chunk); },
                     options_.max_file_bytes);
    std::unordered_set<std::string> received;
    std::unordered_set<std::string> tar_symlinks;
    sdk::Status refused;
    for (;;) {
      TarEntry t;
      bool end = false;
      sdk::Status next = reader.next(t, &end);
      if (!next) {
        refused = next;
        break;
      }
      if (end) break;
      if (fetch_index.count(t.path) == 0 || received.count(t.path) != 0) {
        refused = {sdk::ErrorCode::Internal,
                   "refused the pod's tar stream: entry '" + t.path + "' was not asked for"};
        break;
      }
      if (std::string above = ancestorIn(t.path, tar_symlinks); !above.empty()) {
        refused = {sdk::ErrorCode::Internal, "refused the pod's tar stream: entry '" + t.path +
                                                 "' lies beneath symlink '" + above + "'"};
        break;
      }
      received.insert(t.path);
      report.fetched_files++;
      const PodEntry& e = *fetch_index[t.path];
      auto stored = manifest.find(t.path);
      const sdk::ItemMeta* meta = stored != manifest.end() ? &stored->second : nullptr;
      switch (t.type) {
        case TarEntry::Type::File: {
          if (t.content_skipped) {
            report.skipped.push_back(
                {t.path, "larger than " + std::to_string(options_.max_file_bytes) + " bytes"});
            break;
          }
          std::string hash = sha256Hex(t.content);
          report.bytes += static_cast<int64_t>(t.content.size());
          PodFileState pod_state{sdk::ItemKind::File, e.size, e.mtime_ms, e.mode, {},
                                 isRacy(e.mtime_ms)};
          new_listed[t.path] = pod_state;
          if (meta != nullptr && meta->kind == sdk::ItemKind::File && meta->content_hash == hash &&
              (meta->mode & 0777) == t.mode) {
            seen[t.path] = meta->version;  // same bytes, only the mtime moved
            break;
          }
          const auto size = static_cast<int64_t>(t.content.size());  // before the move below
          upsert(t.path, sdk::ItemKind::File, size, t.mode, t.mtime_ms, std::move(t.content),
                 std::move(hash));
          break;
        }
        case TarEntry::Type::Symlink: {  // replaced by a link since the listing: store the link
          tar_symlinks.insert(t.path);
          std::string hash = sha256Hex(t.link_target);
          if (meta != nullptr && meta->kind == sdk::ItemKind::Symlink &&
              meta->content_hash == hash) {
            seen[t.path] = meta->version;
            break;
          }
          upsert(t.path, sdk::ItemKind::Symlink, static_cast<int64_t>(t.link_target.size()), 0777,
                 t.mtime_ms, t.link_target, std::move(hash));
          break;
        }
        case TarEntry::Type::Directory:
          upsert(t.path, sdk::ItemKind::Directory, 0, t.mode, t.mtime_ms, {}, {});
          break;
        case TarEntry::Type::Hardlink:
        case TarEntry::Type::Other:
          report.skipped.push_back({t.path, "a hard link or special file in the tar stream"});
          break;
      }
    }
    if (!refused.isOk()) return refused;  // the exec is closed with `exec`
    ExecResult result = exec.finish();
    // GNU tar exits 1 when a file changed while it was read; its entry is still complete.
    if (!result.error.isOk() || result.signal != 0 ||
        (result.exit_code != 0 && result.exit_code != 1)) {
      return execFailure("tar -c", result);
    }
    if (!written) return written;
    for (const auto* e : to_fetch) {
      if (received.count(e->path) == 0) {
        report.skipped.push_back({e->path, "removed or unreadable while syncing"});
      }
    }
  }

  // 5. Deletes: only paths this session loaded or saw, missing from this complete listing.
  for (const auto& [path, version] : state.versions) {
    if (diff.present.count(path) != 0 || isExcluded(path, options_.excludes)) continue;
    if (manifest.count(path) == 0) continue;  // already gone from storage
    sdk::ItemChange change;
    change.op = sdk::ItemChange::Op::Delete;
    change.item.meta.path = path;
    change.expected_version = version;
    changes.push_back(std::move(change));
  }

  // 6. One batch; on a lost compare-and-swap, resolve against the fresh manifest, retry once.
  //
  // Quotas are checked on the manifest read under the workspace lease, which we still hold (it is
  // renewed right here). That is as atomic as the batch: every writer that can grow a workspace
  // (the syncs of every session on every replica, and the files API's PUT and restore) holds the
  // same lease from its manifest read to its batch, so nothing grows the workspace in between; a
  // delete through the API takes no lease but only shrinks it, so the check can only err on the
  // safe side; and a row that changed under our feet fails the batch's compare-and-swap, after
  // which the check runs again on the fresh manifest. The SDK's applyBatch has no quota of its
  // own, and needs none.
  auto quotaRefusal = [&](const auto& rows, bool rows_have_deleted) -> sdk::Status {
    if (!options_.quota.enabled()) return {};
    WorkspaceUsage now;
    for (const auto& [path, meta] : rows) {
      if (meta.deleted) continue;
      now.bytes += storedBytes(meta);
      now.files += 1;
    }
    WorkspaceUsage after = usageAfter(now, changes, [&](const std::string& path) {
      auto it = rows.find(path);
      const sdk::ItemMeta* live = it != rows.end() ? &it->second : nullptr;
      return live != nullptr && !(rows_have_deleted && live->deleted) ? live : nullptr;
    });
    auto exceeded = checkQuota(options_.quota, now, after);
    if (!exceeded) return {};
    report.quota_exceeded = exceeded;
    return {sdk::ErrorCode::PermissionDenied, describe(*exceeded)};
  };
  std::vector<int64_t> versions;
  std::vector<std::string> forget;  // deletes that lost to a change elsewhere
  if (!changes.empty()) {
    auto renewed = storage_.acquireLease(ws, session_id, options_.lease_ttl.count());
    if (!renewed) return renewed.status();
    if (!renewed.value().acquired) {
      return {sdk::ErrorCode::Unavailable, "lost the workspace lease during a long sync"};
    }
    if (sdk::Status refused = quotaRefusal(manifest, false); !refused) return refused;
    auto applied = storage_.applyBatch(ws, changes);
    if (!applied && applied.status().code() == sdk::ErrorCode::Conflict) {
      auto fresh_result = storage_.listManifest(ws, true);
      if (!fresh_result) return fresh_result.status();
      std::unordered_map<std::string, sdk::ItemMeta> fresh;
      for (auto& meta : fresh_result.value()) fresh.emplace(meta.path, std::move(meta));
      std::vector<sdk::ItemChange> resolved;
      std::vector<sdk::ItemChange> copies;
      const std::string stamp = utcStamp();
      for (auto& change : changes) {
        const std::string& path = change.item.meta.path;
        auto it = fresh.find(path);
        const sdk::ItemMeta* now = it != fresh.end() ? &it->second : nullptr;
        const bool live = now != nullptr && !now->deleted;
        const bool matches = change.expected_version == -1 ||
                             (change.expected_version == 0
                                  ? !live
                                  : now != nullptr && now->version == change.expected_version);
        if (matches) {
          resolved.push_back(std::move(change));
          continue;
        }
        if (change.op == sdk::ItemChange::Op::Delete) {
          // Changed elsewhere since this session saw it: that change is kept, not deleted.
          if (live) report.conflicts.push_back({path, {}});
          forget.push_back(path);
          continue;
        }
        if (!live) {  // deleted elsewhere: this later write brings it back
          change.expected_version = now != nullptr ? now->version : 0;
          resolved.push_back(std::move(change));
          continue;
        }
        const auto& mine = change.item.meta;
        if (now->kind == mine.kind && now->content_hash == mine.content_hash &&
            (now->mode & 0777) == (mine.mode & 0777)) {
          seen[path] = now->version;  // both sides wrote the same bytes
          continue;
        }
        if (now->kind == sdk::ItemKind::File || now->kind == sdk::ItemKind::Symlink) {
          auto theirs = storage_.readItems(ws, {path});
          if (!theirs) return theirs.status();
          if (!theirs.value().empty()) {
            std::string copy_path = path + ".conflict-" + stamp;
            for (int n = 2; fresh.count(copy_path) != 0; ++n) {
              copy_path = path + ".conflict-" + stamp + "-" + std::to_string(n);
            }
            sdk::ItemChange copy;
            copy.op = sdk::ItemChange::Op::Upsert;
            copy.item = std::move(theirs.value().front());
            copy.item.meta.path = copy_path;
            copy.expected_version = 0;
            copies.push_back(std::move(copy));
            fresh[copy_path] = sdk::ItemMeta{};
            report.conflicts.push_back({path, copy_path});
          }
        }
        change.expected_version = now->version;  // the later writer keeps the path
        resolved.push_back(std::move(change));
      }
      changes = std::move(resolved);
      const size_t copy_start = changes.size();
      for (auto& copy : copies) changes.push_back(std::move(copy));
      if (changes.empty()) {
        applied = sdk::BatchResult{};
      } else if (sdk::Status refused = quotaRefusal(fresh, true); !refused) {
        return refused;  // conflict copies count too
      } else {
        applied = storage_.applyBatch(ws, changes);
      }
      if (applied) changes.resize(copy_start);  // the copies are reported as conflicts only
    }
    if (!applied) return applied.status();
    versions = applied.value().versions;
  }

  // 7. Applied: what this session now knows.
  for (size_t i = 0; i < changes.size(); ++i) {
    const auto& change = changes[i];
    const std::string& path = change.item.meta.path;
    if (change.op == sdk::ItemChange::Op::Delete) {
      state.versions.erase(path);
      report.deleted.push_back(path);
    } else {
      if (i < versions.size()) state.versions[path] = versions[i];
      (manifest.count(path) != 0 ? report.changed : report.created).push_back(path);
    }
  }
  for (const auto& [path, version] : seen) state.versions[path] = version;
  for (const auto& path : forget) state.versions.erase(path);
  for (auto& [path, pod_state] : new_listed) state.listed[path] = pod_state;
  for (auto it = state.listed.begin(); it != state.listed.end();) {
    it = diff.present.count(it->first) != 0 || isExcluded(it->first, options_.excludes)
             ? std::next(it)
             : state.listed.erase(it);
  }
  return {};
}

}  // namespace podterm::host
