#include "postgres_storage.h"

#include <Poco/Data/DataException.h>
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/PostgreSQL/PostgreSQLException.h>

#include "connector_registration.h"
#include "conninfo.h"
#include "pg_listener.h"

namespace podterm::storage_postgres {

namespace {

void registerConnector() {
  Poco::Data::PostgreSQL::Connector::registerConnector();
}
void unregisterConnector() {
  Poco::Data::PostgreSQL::Connector::unregisterConnector();
}

sdk::ErrorCode classify(const Poco::Exception& e, bool connected) {
  if (dynamic_cast<const Poco::Data::ConnectionFailedException*>(&e) != nullptr ||
      dynamic_cast<const Poco::Data::NotConnectedException*>(&e) != nullptr ||
      dynamic_cast<const Poco::Data::SessionUnavailableException*>(&e) != nullptr ||
      dynamic_cast<const Poco::Data::PostgreSQL::ConnectionException*>(&e) != nullptr ||
      !connected) {
    return sdk::ErrorCode::Unavailable;
  }
  if (e.displayText().find("statement timeout") != std::string::npos)
    return sdk::ErrorCode::Timeout;
  return sdk::ErrorCode::Internal;
}

}  // namespace

sdk::Result<std::unique_ptr<storage::SqlStorage>> makePostgresStorage(
    const PostgresConfig& config) {
  auto keys = parseConninfo(config.connection);
  if (!keys) return keys.status();
  std::string conninfo = config.connection;
  std::string secret = config.password;
  if (auto it = keys.value().find("password"); it != keys.value().end()) {
    if (!config.password.empty()) {
      return sdk::Status(sdk::ErrorCode::InvalidArgument,
                         "the connection string has a password and password_file gives one too");
    }
    secret = it->second;
  }
  if (hasWhitespace(config.password)) {
    return sdk::Status(sdk::ErrorCode::InvalidArgument,
                       "the password has whitespace, which Poco's PostgreSQL connector cannot "
                       "pass on");
  }
  if (!config.password.empty()) conninfo += " password=" + escapeConninfoValue(config.password);
  if (keys.value().count("connect_timeout") == 0) {
    // libpq counts whole seconds and treats less than 2 as 2.
    conninfo += " connect_timeout=" +
                std::to_string(std::max<int64_t>(2, (config.timeout_ms + 999) / 1000));
  }
  if (keys.value().count("options") == 0) {
    // No space after -c: Poco splits the string at spaces, quoted or not.
    conninfo += " options=-cstatement_timeout=" + std::to_string(config.timeout_ms);
  }
  // The listening connection (libpq itself): named, so operators see it in pg_stat_activity, and
  // with TCP keepalives, so a peer that vanished without a FIN is noticed within ~25 s.
  std::string listen_conninfo = conninfo;
  if (keys.value().count("application_name") == 0) {
    listen_conninfo += std::string(" application_name=") + PgListener::kApplicationName;
  }
  if (keys.value().count("keepalives") == 0 && keys.value().count("keepalives_idle") == 0) {
    listen_conninfo += " keepalives=1 keepalives_idle=10 keepalives_interval=5 keepalives_count=3";
  }

  storage::SqlDialect d;
  d.plugin = "storage-postgres";
  d.connector = "PostgreSQL";
  d.blob_type = "BYTEA";
  d.empty_blob = "''::BYTEA";
  // Writers of one workspace queue on an advisory lock held until their transaction ends, so a
  // batch never races another on a row that does not exist yet, and never deadlocks with it.
  d.lock_workspace_sql = "SELECT CAST(1 AS BIGINT) FROM pg_advisory_xact_lock($1) AS l";
  // One fixed key ("podterm" in ASCII) for the schema.
  d.lock_migrations_sql =
      "SELECT CAST(1 AS BIGINT) FROM pg_advisory_xact_lock(31647674631811693) AS l";
  d.for_update = " FOR UPDATE";
  d.now_ms_sql = "CAST(FLOOR(EXTRACT(EPOCH FROM now()) * 1000) AS BIGINT)";
  // pg_notify() takes the channel as a value: nothing is spliced into the SQL.
  d.notify_sql = "SELECT CAST(1 AS BIGINT) FROM pg_notify($1, $2) AS n";
  d.classify = &classify;
  d.secret = secret;
  d.target = describeConninfo(keys.value());

  storage::SqlStorageOptions options;
  options.connection_string = conninfo;
  options.pool_size = config.pool_size;
  options.timeout_ms = config.timeout_ms;
  options.connector_registration =
      storage::connectorRegistration<&registerConnector, &unregisterConnector>();
  return std::make_unique<storage::SqlStorage>(
      std::move(d), std::move(options),
      std::make_unique<PgListener>(std::move(listen_conninfo), config.timeout_ms));
}

}  // namespace podterm::storage_postgres
