#pragma once
// libpq "key=value" connection strings: parsing, quoting, and a name for messages that leaves
// out the password.

#include <map>
#include <string>

#include "podterm/result.h"

namespace podterm::storage_postgres {

// Parses "host=127.0.0.1 port=5432 dbname=podterm" (values may be single-quoted, with backslash
// escapes). URIs (postgresql://...) are refused: the plugin appends keys to the string. So are
// values with whitespace: Poco 1.11's PostgreSQL connector splits the string at every space.
sdk::Result<std::map<std::string, std::string>> parseConninfo(const std::string& text);

// A value for a connection string, unquoted (Poco splits at spaces even inside quotes), with
// quotes and backslashes escaped: it\'s.
std::string escapeConninfoValue(const std::string& value);

// True when value has whitespace, which Poco's connector cannot pass on.
bool hasWhitespace(const std::string& value);

// "host:port/dbname as user" for messages, with libpq's defaults where keys are absent.
std::string describeConninfo(const std::map<std::string, std::string>& keys);

}  // namespace podterm::storage_postgres
