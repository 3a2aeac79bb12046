#include "sqlite_storage.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>

#include "connector_registration.h"

namespace podterm::storage_sqlite {

namespace {

void registerConnector() {
  Poco::Data::SQLite::Connector::registerConnector();
}
void unregisterConnector() {
  Poco::Data::SQLite::Connector::unregisterConnector();
}

sdk::ErrorCode classify(const Poco::Exception& e, bool /*connected*/) {
  namespace sq = Poco::Data::SQLite;
  // Busy past busy_timeout, a file that cannot be opened (yet), a full or failing disk: all may
  // pass, so the caller may retry. Anything else is a bug or a damaged file.
  if (dynamic_cast<const sq::DBLockedException*>(&e) != nullptr ||
      dynamic_cast<const sq::TableLockedException*>(&e) != nullptr ||
      dynamic_cast<const sq::CantOpenDBFileException*>(&e) != nullptr ||
      dynamic_cast<const sq::IOErrorException*>(&e) != nullptr ||
      dynamic_cast<const sq::DatabaseFullException*>(&e) != nullptr ||
      dynamic_cast<const sq::ReadOnlyException*>(&e) != nullptr ||
      dynamic_cast<const sq::DBAccessDeniedException*>(&e) != nullptr ||
      dynamic_cast<const Poco::Data::ConnectionFailedException*>(&e) != nullptr) {
    return sdk::ErrorCode::Unavailable;
  }
  return sdk::ErrorCode::Internal;
}

}  // namespace

std::unique_ptr<storage::SqlStorage> makeSqliteStorage(const SqliteConfig& config) {
  storage::SqlDialect d;
  d.plugin = "storage-sqlite";
  d.connector = "SQLite";
  d.blob_type = "BLOB";
  d.empty_blob = "X''";
  d.rewrite_placeholders = true;
  d.begin_immediate = true;
  // Per connection: wait for other writers instead of failing at once; NORMAL is durable
  // enough in WAL mode (a power cut may lose the last commits, never corrupt the file).
  d.session_setup = {"PRAGMA busy_timeout = " + std::to_string(config.timeout_ms),
                     "PRAGMA synchronous = NORMAL"};
  // Persistent in the file: readers never block the writer.
  d.database_setup = {"PRAGMA journal_mode = WAL"};
  // This machine's clock (one replica), in the database so the SQL is the same as PostgreSQL's.
  d.now_ms_sql = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
  d.classify = &classify;
  d.target = config.path;

  storage::SqlStorageOptions options;
  options.connection_string = config.path;
  options.pool_size = 4;
  options.timeout_ms = config.timeout_ms;
  options.connector_registration =
      storage::connectorRegistration<&registerConnector, &unregisterConnector>();
  return std::make_unique<storage::SqlStorage>(std::move(d), std::move(options));
}

}  // namespace podterm::storage_sqlite
