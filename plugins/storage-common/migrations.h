#pragma once
// Versioned schema migrations, run when a storage plugin first reaches its database.
//
// Policy: expand, then contract. A release only ever adds (tables, nullable or defaulted
// columns, indexes); it never drops or renames what the previous release reads. Dropping comes
// in a later release, once no host of the old release can still be running. So hosts of two
// adjacent releases can share a database during a rolling update, and a host that finds
// migrations newer than it knows keeps working. Applied migrations are never edited: a fix is a
// new version.

#include <Poco/Data/Session.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sql_dialect.h"

namespace podterm::storage {

struct Migration {
  int32_t version;
  std::string description;
  std::vector<std::string> statements;  // in the dialect's types
};

// Every migration this build knows, in version order.
std::vector<Migration> schemaMigrations(const SqlDialect& dialect);

// Applies the missing migrations in one transaction, under the dialect's migration lock, and
// records each in schema_migrations. Safe when several hosts call it at once. Throws
// Poco::Exception on database errors (the transaction is rolled back). Returns how many it applied.
int migrate(Poco::Data::Session& session, const SqlDialect& dialect, int64_t now_ms);

}  // namespace podterm::storage
