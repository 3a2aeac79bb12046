#pragma once
// What differs between the SQL databases SqlStorage runs on. Statements are written once with
// PostgreSQL's $n placeholders and standard SQL (INSERT ... ON CONFLICT works in both); the
// dialect only names types, transaction start and locking, and how to read the driver's errors.

#include <Poco/Exception.h>

#include <functional>
#include <string>
#include <vector>

#include "podterm/result.h"

namespace podterm::storage {

struct SqlDialect {
  std::string plugin;     // for messages: "storage-sqlite"
  std::string connector;  // Poco Data connector name: "SQLite", "PostgreSQL"
  std::string blob_type;  // "BLOB", "BYTEA"
  // An empty blob literal: the drivers bind an empty BLOB as NULL.
  std::string empty_blob;  // "X''", "''::BYTEA"
  // SQLite numbers "$n" by first appearance, not by n; "?n" binds parameter n exactly.
  bool rewrite_placeholders = false;
  // SQLite: BEGIN IMMEDIATE, so a writer takes the write lock up front (a deferred transaction
  // that upgrades later fails with SQLITE_BUSY instead of waiting). Otherwise Session::begin().
  bool begin_immediate = false;
  // Run inside a write transaction before it touches a workspace; serializes writers of one
  // workspace (PostgreSQL: an advisory lock on a hash of the workspace, bound as $1). Empty:
  // begin_immediate already serializes all writers.
  std::string lock_workspace_sql;
  // Run inside the migration transaction before anything else, so two hosts starting at once
  // migrate one after the other. Empty: begin_immediate already does.
  std::string lock_migrations_sql;
  // Appended to SELECTs that read a row before changing it.
  std::string for_update;
  // The database's clock in Unix milliseconds, as an SQL expression: session leases expire by
  // it, so replicas with skewed clocks agree.
  std::string now_ms_sql;
  // Sends a notification ($1 channel, $2 payload) when the database carries them between its
  // clients (PostgreSQL: pg_notify). Empty: notifications stay in this process.
  std::string notify_sql;
  // Run on a session before each unit of work (cheap, idempotent), and once per database.
  std::vector<std::string> session_setup;
  std::vector<std::string> database_setup;
  // Maps a driver error to a status code; connected: the session still works afterwards.
  std::function<sdk::ErrorCode(const Poco::Exception& e, bool connected)> classify;
  // Removed from every message (e.g. a password), and how the database is named in messages.
  std::string secret;
  std::string target;
};

}  // namespace podterm::storage
