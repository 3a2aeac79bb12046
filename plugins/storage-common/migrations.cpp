#include "migrations.h"

#include <Poco/Data/Statement.h>

#include <algorithm>
#include <set>

#include "sql_session.h"

namespace podterm::storage {

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::use;

namespace {

std::string withBlob(std::string sql, const std::string& blob) {
  const std::string marker = "{blob}";
  for (size_t pos; (pos = sql.find(marker)) != std::string::npos;)
    sql.replace(pos, marker.size(), blob);
  return sql;
}

}  // namespace

std::vector<Migration> schemaMigrations(const SqlDialect& dialect) {
  const std::string& blob = dialect.blob_type;
  return {
      {1,
       "workspace items and leases",
       {
           // path is bytes: file names need not be UTF-8 and must round-trip exactly.
           withBlob(
               "CREATE TABLE workspace_items ("
               "user_id TEXT NOT NULL, workspace_id TEXT NOT NULL, path {blob} NOT NULL, "
               "kind INTEGER NOT NULL, size BIGINT NOT NULL, mode INTEGER NOT NULL, "
               "mtime_ms BIGINT NOT NULL, content {blob} NOT NULL, content_hash TEXT NOT NULL, "
               "version BIGINT NOT NULL, deleted BOOLEAN NOT NULL, updated_ms BIGINT NOT NULL, "
               "deleted_ms BIGINT NOT NULL DEFAULT 0, "
               "PRIMARY KEY (user_id, workspace_id, path))",
               blob),
           // purgeDeleted scans only deleted rows.
           "CREATE INDEX workspace_items_deleted ON workspace_items (deleted_ms) WHERE deleted",
           "CREATE TABLE workspace_leases ("
           "user_id TEXT NOT NULL, workspace_id TEXT NOT NULL, holder TEXT NOT NULL, "
           "expires_ms BIGINT NOT NULL, PRIMARY KEY (user_id, workspace_id))",
       }},
      {2,
       "session leases",
       {
           // Which host replica owns a live session; expires_ms by the database's clock.
           "CREATE TABLE session_leases ("
           "session_id TEXT NOT NULL PRIMARY KEY, holder TEXT NOT NULL, "
           "expires_ms BIGINT NOT NULL)",
       }},
  };
}

int migrate(Poco::Data::Session& session, const SqlDialect& dialect, int64_t now_ms) {
  beginTransaction(session, dialect, /*write=*/true);
  try {
    if (!dialect.lock_migrations_sql.empty()) {
      Poco::Int64 ignored = 0;
      auto st = statement(session, dialect, dialect.lock_migrations_sql);
      st, into(ignored);
      st.execute();
    }
    // Inside the lock: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a concurrent
    // one.
    statement(session, dialect,
              "CREATE TABLE IF NOT EXISTS schema_migrations ("
              "version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)")
        .execute();
    std::vector<Poco::Int32> versions;
    {
      auto st = statement(session, dialect, "SELECT version FROM schema_migrations");
      st, into(versions);
      st.execute();
    }
    std::set<int32_t> applied(versions.begin(), versions.end());
    int count = 0;
    for (const auto& m : schemaMigrations(dialect)) {
      if (applied.count(m.version) != 0) continue;
      for (const auto& sql : m.statements) statement(session, dialect, sql).execute();
      Poco::Int32 version = m.version;
      Poco::Int64 applied_ms = now_ms;
      auto st = statement(session, dialect,
                          "INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)");
      st, use(version), use(applied_ms);
      st.execute();
      ++count;
    }
    commitTransaction(session, dialect);
    return count;
  } catch (...) {
    rollbackQuietly(session, dialect);
    throw;
  }
}

}  // namespace podterm::storage
