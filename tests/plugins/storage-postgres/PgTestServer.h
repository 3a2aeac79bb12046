#pragma once
// The PostgreSQL the tests run against: the server deploy/pg-up.sh started (its port in
// PODTERM_PGTEST_PORT; host 127.0.0.1, user postgres, trust auth), with a fresh database for this
// process, dropped when the tests end.

#include <string>

namespace podterm::tests::storage {

// The connection string of this process's database, or empty when there is no server to test
// against; then the current test is skipped, or fails when PODTERM_REQUIRE_PG=1.
std::string testDatabase();

// Creates or drops another database on the test server (for tests that need an empty one).
void createDatabase(const std::string& name);
void dropDatabase(const std::string& name);
std::string connectionTo(const std::string& dbname);

// Runs a query on a database of the test server returning one integer.
long long queryInt(const std::string& dbname, const std::string& sql);

// A port nothing listens on right now.
int freePort();

}  // namespace podterm::tests::storage
