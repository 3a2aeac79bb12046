#pragma once
// Storage in one SQLite file (WAL mode): for a single host, development and tests.

#include <memory>
#include <string>

#include "sql_storage.h"

namespace podterm::storage_sqlite {

struct SqliteConfig {
  std::string path;           // absolute path of the database file; its directory exists
  int64_t timeout_ms = 5000;  // how long a call waits for another writer (busy_timeout)
};

// Registers the SQLite connector (while the object lives); connects on prepare() or first use.
std::unique_ptr<storage::SqlStorage> makeSqliteStorage(const SqliteConfig& config);

}  // namespace podterm::storage_sqlite
