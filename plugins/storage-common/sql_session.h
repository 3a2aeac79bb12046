#pragma once
// Small helpers over a Poco Data session that follow the dialect: placeholders, transactions.
// They throw Poco::Exception like Poco itself; SqlStorage turns that into a Status.

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <string>

#include "sql_dialect.h"

namespace podterm::storage {

// The statement text for this dialect ("$2" becomes "?2" for SQLite).
std::string sqlFor(const SqlDialect& dialect, const std::string& sql);

// A statement on session with the dialect's text; add bindings with ',' and call execute(),
// which returns the number of rows a DML statement changed.
Poco::Data::Statement statement(Poco::Data::Session& session, const SqlDialect& dialect,
                                const std::string& sql);

// Runs each of the dialect's per-session statements (pragmas may return a row; it is ignored).
void runSetup(Poco::Data::Session& session, const SqlDialect& dialect,
              const std::vector<std::string>& sqls);

void beginTransaction(Poco::Data::Session& session, const SqlDialect& dialect, bool write);
void commitTransaction(Poco::Data::Session& session, const SqlDialect& dialect);
// Never throws: used on the way out of a failed unit of work.
void rollbackQuietly(Poco::Data::Session& session, const SqlDialect& dialect) noexcept;

}  // namespace podterm::storage
