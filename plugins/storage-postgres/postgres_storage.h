#pragma once
// Storage in PostgreSQL: for several hosts sharing one database.

#include <memory>
#include <string>

#include "podterm/result.h"
#include "sql_storage.h"

namespace podterm::storage_postgres {

struct PostgresConfig {
  std::string connection;  // libpq key=value string, without the password
  std::string password;    // from password_file; empty: none (or in connection)
  int pool_size = 4;
  int64_t timeout_ms = 5000;  // connecting, waiting for a pooled session, and per statement
};

// Registers the PostgreSQL connector (while the object lives); connects on prepare() or first
// use. InvalidArgument (message without position) when the connection string is malformed.
sdk::Result<std::unique_ptr<storage::SqlStorage>> makePostgresStorage(const PostgresConfig& config);

}  // namespace podterm::storage_postgres
