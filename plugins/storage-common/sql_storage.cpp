#include "sql_storage.h"

#include <Poco/Data/LOB.h>
#include <Poco/Data/Statement.h>

#include <chrono>
#include <optional>

#include "item_paths.h"
#include "migrations.h"
#include "sql_session.h"

namespace podterm::storage {

using Poco::Data::BLOB;
using Poco::Data::Session;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::use;
using sdk::ErrorCode;
using sdk::Status;

namespace {

// Reading a few hundred paths per statement keeps the statement text and the parameter count
// well inside both databases' limits (SQLite: 32766 parameters).
constexpr size_t kPathsPerStatement = 200;

const char* const kMetaColumns =
    "path, kind, size, mode, mtime_ms, content_hash, version, "
    "CASE WHEN deleted THEN 1 ELSE 0 END, updated_ms, deleted_ms";

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

BLOB toBlob(const std::string& bytes) {
  return BLOB(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

std::string fromBlob(const BLOB& blob) {
  return blob.size() == 0
             ? std::string()
             : std::string(reinterpret_cast<const char*>(blob.rawContent()), blob.size());
}

// FNV-1a over user and workspace: the key of a workspace's advisory lock. A collision only makes
// two workspaces wait for each other.
Poco::Int64 workspaceKey(const sdk::WorkspaceId& ws) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;  // separator, so ("ab","c") != ("a","bc")
  };
  mix(ws.user);
  mix(ws.workspace);
  return static_cast<Poco::Int64>(h);
}

// The advisory lock key of a session lease: FNV-1a like workspaceKey, in its own key space (a
// collision with a workspace key only makes the two wait for each other).
Poco::Int64 sessionKey(const std::string& session_id) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : std::string("session-lease\0", 14) + session_id) {
    h = (h ^ c) * 1099511628211ull;
  }
  return static_cast<Poco::Int64>(h);
}

// Session leases last at most a day per renewal.
constexpr int64_t kMaxSessionLeaseTtlMs = 24 * 3600 * 1000;

// The meta columns of a result, column by column.
struct MetaColumns {
  std::vector<BLOB> path;
  std::vector<Poco::Int32> kind;
  std::vector<Poco::Int64> size;
  std::vector<Poco::Int32> mode;
  std::vector<Poco::Int64> mtime_ms;
  std::vector<std::string> content_hash;
  std::vector<Poco::Int64> version;
  std::vector<Poco::Int32> deleted;
  std::vector<Poco::Int64> updated_ms;
  std::vector<Poco::Int64> deleted_ms;

  void bindInto(Poco::Data::Statement& st) {
    st, into(path), into(kind), into(size), into(mode), into(mtime_ms), into(content_hash),
        into(version), into(deleted), into(updated_ms), into(deleted_ms);
  }
  sdk::ItemMeta meta(size_t i) const {
    sdk::ItemMeta m;
    m.path = fromBlob(path[i]);
    m.kind = static_cast<sdk::ItemKind>(kind[i]);
    m.size = size[i];
    m.mode = static_cast<uint32_t>(mode[i]);
    m.mtime_ms = mtime_ms[i];
    m.content_hash = content_hash[i];
    m.version = version[i];
    m.deleted = deleted[i] != 0;
    m.updated_unix_ms = updated_ms[i];
    m.deleted_unix_ms = deleted_ms[i];
    return m;
  }
};

// A row's version and state before a change; nullopt when there is no row.
struct Current {
  int64_t version;
  bool deleted;
};

std::string describe(const std::optional<Current>& cur) {
  if (!cur) return "there is no such row";
  return "the stored version is " + std::to_string(cur->version) +
         (cur->deleted ? " (deleted)" : "");
}

}  // namespace

SqlStorage::SqlStorage(SqlDialect dialect, SqlStorageOptions options,
                       std::unique_ptr<Notifier> notifier)
    : dialect_(std::move(dialect)),
      options_(std::move(options)),
      free_slots_(options_.pool_size),
      notifier_(notifier ? std::move(notifier) : std::make_unique<LocalNotifier>()) {}

SqlStorage::~SqlStorage() {
  // Its thread may be in a callback that calls this object: stop it while all of it still lives.
  notifier_.reset();
}

std::string SqlStorage::scrub(std::string text) const {
  if (!dialect_.secret.empty()) {
    for (size_t pos; (pos = text.find(dialect_.secret)) != std::string::npos;) {
      text.replace(pos, dialect_.secret.size(), "*****");
    }
  }
  // Driver messages end with newlines and tabs; keep one line per message.
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == '\r') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

Status SqlStorage::errorStatus(const std::string& what, ErrorCode code,
                               const std::string& detail) const {
  std::string prefix = dialect_.plugin + ": " + what + ": ";
  if (code == ErrorCode::Unavailable) {
    prefix += "the database (" + dialect_.target + ") is unavailable, retry later: ";
  }
  return {code, scrub(prefix + detail)};
}

Status SqlStorage::prepare() {
  std::lock_guard<std::mutex> lock(init_mu_);
  return ensureReadyLocked();
}

Status SqlStorage::ensureReadyLocked() {
  if (ready_.load()) return Status::ok();
  std::optional<Session> session;
  try {
    if (!pool_) {
      pool_ = std::make_unique<Poco::Data::SessionPool>(
          dialect_.connector, options_.connection_string, 1, options_.pool_size, 60);
    }
    session.emplace(pool_->get());
    runSetup(*session, dialect_, dialect_.database_setup);
    runSetup(*session, dialect_, dialect_.session_setup);
    migrate(*session, dialect_, nowMs());
    ready_ = true;
    return Status::ok();
  } catch (const Poco::Exception& e) {
    bool connected = false;
    try {
      connected = session && session->isConnected();
    } catch (...) {
    }
    ErrorCode code = dialect_.classify ? dialect_.classify(e, connected) : ErrorCode::Internal;
    return errorStatus("preparing the schema", code, e.displayText());
  } catch (const std::exception& e) {
    return errorStatus("preparing the schema", ErrorCode::Internal, e.what());
  }
}

Status SqlStorage::transact(const char* what, bool write, const Work& body) {
  // A slot per pooled session: Poco's pool throws instead of waiting when it is exhausted.
  {
    std::unique_lock<std::mutex> lock(slots_mu_);
    if (!slots_cv_.wait_for(lock, std::chrono::milliseconds(options_.timeout_ms),
                            [&] { return free_slots_ > 0; })) {
      return errorStatus(what, ErrorCode::Unavailable,
                         "all " + std::to_string(options_.pool_size) +
                             " connections stayed busy for " + std::to_string(options_.timeout_ms) +
                             " ms");
    }
    --free_slots_;
  }
  struct SlotRelease {
    SqlStorage* self;
    ~SlotRelease() {
      std::lock_guard<std::mutex> lock(self->slots_mu_);
      ++self->free_slots_;
      self->slots_cv_.notify_one();
    }
  } release{this};

  if (!ready_.load()) {
    std::lock_guard<std::mutex> lock(init_mu_);
    if (Status st = ensureReadyLocked(); !st) return st;
  }

  for (int attempt = 0;; ++attempt) {
    std::optional<Session> session;
    bool committing = false;
    try {
      session.emplace(pool_->get());
      runSetup(*session, dialect_, dialect_.session_setup);
      beginTransaction(*session, dialect_, write);
      Status st = body(*session);
      if (!st) {
        rollbackQuietly(*session, dialect_);
        return st;
      }
      committing = true;
      commitTransaction(*session, dialect_);
      return Status::ok();
    } catch (const Poco::Exception& e) {
      bool connected = false;
      if (session) {
        try {
          connected = session->isConnected();
        } catch (...) {
        }
        rollbackQuietly(*session, dialect_);
      }
      ErrorCode code = dialect_.classify ? dialect_.classify(e, connected) : ErrorCode::Internal;
      // A pooled connection the server closed while it sat idle (a database restart): the pool
      // drops it, and one more try on a fresh connection is safe since nothing was committed.
      if (code == ErrorCode::Unavailable && session && !committing && attempt == 0) continue;
      std::string detail = e.displayText();
      if (committing) detail = "the outcome of the commit is unknown: " + detail;
      return errorStatus(what, code, detail);
    } catch (const std::exception& e) {
      if (session) rollbackQuietly(*session, dialect_);
      return errorStatus(what, ErrorCode::Internal, e.what());
    }
  }
}

void SqlStorage::lockWorkspace(Session& session, const sdk::WorkspaceId& ws) {
  lockKey(session, workspaceKey(ws));
}

void SqlStorage::lockKey(Session& session, int64_t lock_key) {
  if (dialect_.lock_workspace_sql.empty()) return;
  Poco::Int64 key = lock_key;
  Poco::Int64 ignored = 0;
  auto st = statement(session, dialect_, dialect_.lock_workspace_sql);
  st, use(key), into(ignored);
  st.execute();
}

sdk::Result<std::vector<sdk::ItemMeta>> SqlStorage::listManifest(const sdk::WorkspaceId& ws,
                                                                 bool include_deleted) {
  if (Status st = validateWorkspace(ws); !st) return st;
  std::vector<sdk::ItemMeta> out;
  Status st = transact("listing a manifest", false, [&](Session& session) {
    std::string user = ws.user, workspace = ws.workspace;
    MetaColumns cols;
    auto q = statement(session, dialect_,
                       std::string("SELECT ") + kMetaColumns +
                           " FROM workspace_items WHERE user_id = $1 AND workspace_id = $2" +
                           (include_deleted ? "" : " AND deleted = FALSE") + " ORDER BY path");
    q, use(user), use(workspace);
    cols.bindInto(q);
    q.execute();
    out.clear();
    out.reserve(cols.path.size());
    for (size_t i = 0; i < cols.path.size(); ++i) out.push_back(cols.meta(i));
    return Status::ok();
  });
  if (!st) return st;
  return out;
}

sdk::Result<std::vector<sdk::Item>> SqlStorage::readRows(const char* what,
                                                         const sdk::WorkspaceId& ws,
                                                         const std::vector<std::string>* paths) {
  if (Status st = validateWorkspace(ws); !st) return st;
  std::vector<sdk::Item> out;
  if (paths != nullptr && paths->empty()) return out;
  Status st = transact(what, false, [&](Session& session) {
    out.clear();
    std::string user = ws.user, workspace = ws.workspace;
    size_t chunks =
        paths == nullptr ? 1 : (paths->size() + kPathsPerStatement - 1) / kPathsPerStatement;
    for (size_t c = 0; c < chunks; ++c) {
      std::string sql = std::string("SELECT ") + kMetaColumns +
                        ", content FROM workspace_items WHERE user_id = $1 AND workspace_id = $2 "
                        "AND deleted = FALSE";
      std::vector<BLOB> keys;
      if (paths != nullptr) {
        size_t begin = c * kPathsPerStatement;
        size_t end = std::min(paths->size(), begin + kPathsPerStatement);
        keys.reserve(end - begin);  // bound by reference: must not reallocate
        sql += " AND path IN (";
        for (size_t i = begin; i < end; ++i) {
          keys.push_back(toBlob((*paths)[i]));
          sql += (i == begin ? "$" : ", $") + std::to_string(3 + i - begin);
        }
        sql += ")";
      }
      sql += " ORDER BY path";
      MetaColumns cols;
      std::vector<BLOB> content;
      auto q = statement(session, dialect_, sql);
      q, use(user), use(workspace);
      for (auto& key : keys) q, use(key);
      cols.bindInto(q);
      q, into(content);
      q.execute();
      for (size_t i = 0; i < cols.path.size(); ++i) {
        sdk::Item item;
        item.meta = cols.meta(i);
        item.content = fromBlob(content[i]);
        BLOB().swap(content[i]);  // keep peak memory near one copy of the workspace
        out.push_back(std::move(item));
      }
    }
    return Status::ok();
  });
  if (!st) return st;
  return out;
}

sdk::Result<std::vector<sdk::Item>> SqlStorage::readItems(const sdk::WorkspaceId& ws,
                                                          const std::vector<std::string>& paths) {
  return readRows("reading items", ws, &paths);
}

sdk::Result<std::vector<sdk::Item>> SqlStorage::readWorkspace(const sdk::WorkspaceId& ws) {
  return readRows("reading a workspace", ws, nullptr);
}

sdk::Result<sdk::BatchResult> SqlStorage::applyBatch(const sdk::WorkspaceId& ws,
                                                     const std::vector<sdk::ItemChange>& changes) {
  if (Status st = validateWorkspace(ws); !st) return st;
  for (const auto& change : changes) {
    if (Status st = validateItemPath(change.item.meta.path); !st) return st;
    if (change.expected_version < -1) {
      return Status(ErrorCode::InvalidArgument, "expected_version of " +
                                                    quotePath(change.item.meta.path) +
                                                    " must be -1, 0 or a version, not " +
                                                    std::to_string(change.expected_version));
    }
  }
  sdk::BatchResult result;
  if (changes.empty()) return result;
  Status st = transact("applying a batch", true, [&](Session& session) {
    result.versions.clear();
    lockWorkspace(session, ws);
    std::string user = ws.user, workspace = ws.workspace;
    Poco::Int64 now = nowMs();
    for (const auto& change : changes) {
      const sdk::ItemMeta& meta = change.item.meta;
      BLOB path = toBlob(meta.path);
      std::optional<Current> cur;
      {
        std::vector<Poco::Int64> version;
        std::vector<Poco::Int32> deleted;
        auto q =
            statement(session, dialect_,
                      "SELECT version, CASE WHEN deleted THEN 1 ELSE 0 END FROM "
                      "workspace_items WHERE user_id = $1 AND workspace_id = $2 AND path = $3" +
                          dialect_.for_update);
        q, use(user), use(workspace), use(path), into(version), into(deleted);
        q.execute();
        if (!version.empty()) cur = Current{version[0], deleted[0] != 0};
      }
      const int64_t expected = change.expected_version;
      auto conflict = [&]() {
        return Status(ErrorCode::Conflict,
                      dialect_.plugin + ": " + quotePath(meta.path) + ": expected version " +
                          std::to_string(expected) + (expected == 0 ? " (absent or deleted)" : "") +
                          ", but " + describe(cur) + "; nothing of the batch was applied");
      };

      if (change.op == sdk::ItemChange::Op::Delete) {
        bool live = cur && !cur->deleted;
        if (!live) {
          // Nothing to delete: fine unless the caller expected a version that is not there.
          if (expected > 0 && !(cur && cur->version == expected)) return conflict();
          result.versions.push_back(cur ? cur->version : 0);
          continue;
        }
        if (expected == 0 || (expected > 0 && cur->version != expected)) return conflict();
        Poco::Int64 version = cur->version + 1;
        auto q = statement(session, dialect_,
                           "UPDATE workspace_items SET deleted = TRUE, deleted_ms = $1, "
                           "updated_ms = $1, version = $2 "
                           "WHERE user_id = $3 AND workspace_id = $4 AND path = $5");
        q, use(now), use(version), use(user), use(workspace), use(path);
        q.execute();
        result.versions.push_back(version);
        continue;
      }

      if (expected == 0 && cur && !cur->deleted) return conflict();
      if (expected > 0 && (!cur || cur->version != expected)) return conflict();
      Poco::Int32 kind = static_cast<Poco::Int32>(meta.kind);
      Poco::Int64 size = meta.size;
      Poco::Int32 mode = static_cast<Poco::Int32>(meta.mode & 07777);
      Poco::Int64 mtime = meta.mtime_ms;
      std::string hash = meta.content_hash;
      BLOB content = toBlob(change.item.content);
      // A re-created deleted path continues from its old version.
      Poco::Int64 version = cur ? cur->version + 1 : 1;
      if (cur) {
        auto q = statement(session, dialect_,
                           "UPDATE workspace_items SET kind = $1, size = $2, mode = $3, "
                           "mtime_ms = $4, content = COALESCE($5, " +
                               dialect_.empty_blob +
                               "), "
                               "content_hash = $6, version = $7, "
                               "deleted = FALSE, updated_ms = $8, deleted_ms = 0 "
                               "WHERE user_id = $9 AND workspace_id = $10 AND path = $11");
        q, use(kind), use(size), use(mode), use(mtime), use(content), use(hash), use(version),
            use(now), use(user), use(workspace), use(path);
        q.execute();
      } else {
        auto q = statement(session, dialect_,
                           "INSERT INTO workspace_items (user_id, workspace_id, path, kind, size, "
                           "mode, mtime_ms, content, content_hash, version, deleted, updated_ms, "
                           "deleted_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, " +
                               dialect_.empty_blob + "), $9, $10, FALSE, $11, 0)");
        q, use(user), use(workspace), use(path), use(kind), use(size), use(mode), use(mtime),
            use(content), use(hash), use(version), use(now);
        q.execute();
      }
      result.versions.push_back(version);
    }
    return Status::ok();
  });
  if (!st) return st;
  return result;
}

sdk::Result<sdk::ItemMeta> SqlStorage::restore(const sdk::WorkspaceId& ws,
                                               const std::string& path) {
  if (Status st = validateWorkspace(ws); !st) return st;
  if (Status st = validateItemPath(path); !st) return st;
  sdk::ItemMeta out;
  Status st = transact("restoring an item", true, [&](Session& session) {
    lockWorkspace(session, ws);
    std::string user = ws.user, workspace = ws.workspace;
    BLOB key = toBlob(path);
    Poco::Int64 now = nowMs();
    auto q = statement(session, dialect_,
                       "UPDATE workspace_items SET deleted = FALSE, deleted_ms = 0, "
                       "updated_ms = $1, version = version + 1 "
                       "WHERE user_id = $2 AND workspace_id = $3 AND path = $4 AND deleted = TRUE");
    q, use(now), use(user), use(workspace), use(key);
    if (q.execute() == 0) {
      return Status(ErrorCode::NotFound,
                    dialect_.plugin + ": no deleted item " + quotePath(path) + " to restore");
    }
    MetaColumns cols;
    auto r = statement(session, dialect_,
                       std::string("SELECT ") + kMetaColumns +
                           " FROM workspace_items WHERE user_id = $1 AND workspace_id = $2 AND "
                           "path = $3");
    r, use(user), use(workspace), use(key);
    cols.bindInto(r);
    r.execute();
    if (cols.path.empty()) return Status(ErrorCode::Internal, "restored row vanished");
    out = cols.meta(0);
    return Status::ok();
  });
  if (!st) return st;
  return out;
}

sdk::Result<int64_t> SqlStorage::purgeDeleted(int64_t deleted_before_unix_ms) {
  int64_t count = 0;
  Status st = transact("purging deleted items", true, [&](Session& session) {
    Poco::Int64 before = deleted_before_unix_ms;
    auto q = statement(session, dialect_,
                       "DELETE FROM workspace_items WHERE deleted = TRUE AND deleted_ms < $1");
    q, use(before);
    count = static_cast<int64_t>(q.execute());
    return Status::ok();
  });
  if (!st) return st;
  return count;
}

sdk::Result<sdk::LeaseGrant> SqlStorage::acquireLease(const sdk::WorkspaceId& ws,
                                                      const std::string& holder, int64_t ttl_ms) {
  if (Status st = validateWorkspace(ws); !st) return st;
  if (Status st = validateText("the lease holder", holder); !st) return st;
  if (ttl_ms <= 0) {
    return Status(ErrorCode::InvalidArgument,
                  "a lease needs a positive ttl, not " + std::to_string(ttl_ms) + " ms");
  }
  sdk::LeaseGrant grant;
  Status st = transact("acquiring a lease", true, [&](Session& session) {
    std::string user = ws.user, workspace = ws.workspace, who = holder;
    Poco::Int64 now = nowMs();
    Poco::Int64 expires = now + ttl_ms;
    // One statement decides: insert, or take over when expired or already ours. The database
    // serializes concurrent attempts on the row, so at most one holder wins.
    auto q = statement(session, dialect_,
                       "INSERT INTO workspace_leases (user_id, workspace_id, holder, expires_ms) "
                       "VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, workspace_id) DO UPDATE SET "
                       "holder = excluded.holder, expires_ms = excluded.expires_ms "
                       "WHERE workspace_leases.holder = excluded.holder OR "
                       "workspace_leases.expires_ms <= $5");
    q, use(user), use(workspace), use(who), use(expires), use(now);
    if (q.execute() > 0) {
      grant = {true, holder, expires};
      return Status::ok();
    }
    std::vector<std::string> holders;
    std::vector<Poco::Int64> expiries;
    auto r = statement(session, dialect_,
                       "SELECT holder, expires_ms FROM workspace_leases WHERE user_id = $1 AND "
                       "workspace_id = $2");
    r, use(user), use(workspace), into(holders), into(expiries);
    r.execute();
    grant = {false, holders.empty() ? std::string() : holders[0],
             expiries.empty() ? 0 : expiries[0]};
    return Status::ok();
  });
  if (!st) return st;
  return grant;
}

Status SqlStorage::releaseLease(const sdk::WorkspaceId& ws, const std::string& holder) {
  if (Status st = validateWorkspace(ws); !st) return st;
  if (Status st = validateText("the lease holder", holder); !st) return st;
  return transact("releasing a lease", true, [&](Session& session) {
    std::string user = ws.user, workspace = ws.workspace, who = holder;
    auto q = statement(session, dialect_,
                       "DELETE FROM workspace_leases WHERE user_id = $1 AND workspace_id = $2 AND "
                       "holder = $3");
    q, use(user), use(workspace), use(who);
    q.execute();
    return Status::ok();
  });
}

sdk::Result<sdk::LeaseGrant> SqlStorage::acquireSessionLease(const std::string& session_id,
                                                             const std::string& holder,
                                                             int64_t ttl_ms, sdk::LeaseMode mode) {
  if (Status st = validateText("the session id", session_id); !st) return st;
  if (Status st = validateText("the lease holder", holder); !st) return st;
  if (ttl_ms <= 0 || ttl_ms > kMaxSessionLeaseTtlMs) {
    return Status(ErrorCode::InvalidArgument, "a session lease needs a ttl of 1 ms to 24 h, not " +
                                                  std::to_string(ttl_ms) + " ms");
  }
  if (mode != sdk::LeaseMode::Acquire && mode != sdk::LeaseMode::TakeOver) {
    return Status(ErrorCode::InvalidArgument,
                  "unknown lease mode " + std::to_string(static_cast<int32_t>(mode)));
  }
  sdk::LeaseGrant grant;
  Status st = transact("acquiring a session lease", true, [&](Session& session) {
    // One decision per session at a time (PostgreSQL: an advisory lock, which also covers a
    // row that does not exist yet; SQLite: BEGIN IMMEDIATE already serializes writers).
    lockKey(session, sessionKey(session_id));
    std::string id = session_id, who = holder;
    std::vector<std::string> holders;
    std::vector<Poco::Int64> expiries;
    std::vector<Poco::Int32> expired;
    {
      auto q = statement(
          session, dialect_,
          "SELECT holder, expires_ms, CASE WHEN expires_ms <= " + dialect_.now_ms_sql +
              " THEN 1 ELSE 0 END FROM session_leases WHERE session_id = $1" + dialect_.for_update);
      q, use(id), into(holders), into(expiries), into(expired);
      q.execute();
    }
    const bool other_live = !holders.empty() && expired[0] == 0 && holders[0] != holder;
    if (other_live && mode == sdk::LeaseMode::Acquire) {
      grant = sdk::LeaseGrant{false, holders[0], expiries[0], ""};
      return Status::ok();
    }
    Poco::Int64 ttl = ttl_ms;
    {
      auto q = statement(session, dialect_,
                         "INSERT INTO session_leases (session_id, holder, expires_ms) "
                         "VALUES ($1, $2, " +
                             dialect_.now_ms_sql +
                             " + $3) ON CONFLICT (session_id) DO UPDATE SET "
                             "holder = excluded.holder, expires_ms = excluded.expires_ms");
      q, use(id), use(who), use(ttl);
      q.execute();
    }
    std::vector<Poco::Int64> now_expires;
    {
      auto q = statement(session, dialect_,
                         "SELECT expires_ms FROM session_leases WHERE session_id = $1");
      q, use(id), into(now_expires);
      q.execute();
    }
    if (now_expires.empty()) return Status(ErrorCode::Internal, "the session lease vanished");
    grant = sdk::LeaseGrant{true, holder, now_expires[0], other_live ? holders[0] : ""};
    return Status::ok();
  });
  if (!st) return st;
  return grant;
}

Status SqlStorage::releaseSessionLease(const std::string& session_id, const std::string& holder) {
  if (Status st = validateText("the session id", session_id); !st) return st;
  if (Status st = validateText("the lease holder", holder); !st) return st;
  return transact("releasing a session lease", true, [&](Session& session) {
    std::string id = session_id, who = holder;
    auto q = statement(session, dialect_,
                       "DELETE FROM session_leases WHERE session_id = $1 AND holder = $2");
    q, use(id), use(who);
    q.execute();
    return Status::ok();
  });
}

sdk::Result<std::vector<sdk::SessionLease>> SqlStorage::listSessionLeases() {
  std::vector<sdk::SessionLease> out;
  Status st = transact("listing session leases", false, [&](Session& session) {
    std::vector<std::string> ids, holders;
    std::vector<Poco::Int64> expiries;
    std::vector<Poco::Int32> expired;
    auto q = statement(session, dialect_,
                       "SELECT session_id, holder, expires_ms, CASE WHEN expires_ms <= " +
                           dialect_.now_ms_sql + " THEN 1 ELSE 0 END FROM session_leases");
    q, into(ids), into(holders), into(expiries), into(expired);
    q.execute();
    out.clear();
    out.reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      out.push_back(sdk::SessionLease{ids[i], holders[i], expiries[i], expired[i] != 0});
    }
    return Status::ok();
  });
  if (!st) return st;
  return out;
}

Status SqlStorage::notify(const std::string& channel, const std::string& payload) {
  if (Status st = validateChannel(channel); !st) return st;
  if (Status st = validatePayload(payload); !st) return st;
  if (dialect_.notify_sql.empty()) return notifier_->publish(channel, payload);
  return transact("sending a notification", true, [&](Session& session) {
    std::string c = channel, p = payload;
    Poco::Int64 ignored = 0;
    auto q = statement(session, dialect_, dialect_.notify_sql);
    q, use(c), use(p), into(ignored);
    q.execute();
    return Status::ok();
  });
}

sdk::Result<sdk::SubscriptionPtr> SqlStorage::subscribe(const std::string& channel,
                                                        sdk::NotificationCallback callback) {
  if (Status st = validateChannel(channel); !st) return st;
  if (!callback) return Status(ErrorCode::InvalidArgument, "subscribe needs a callback");
  try {
    return notifier_->subscribe(channel, std::move(callback));
  } catch (const std::exception& e) {
    return errorStatus("subscribing", ErrorCode::Internal, e.what());
  }
}

}  // namespace podterm::storage
