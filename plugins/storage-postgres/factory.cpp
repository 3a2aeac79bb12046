// The storage-postgres plugin's descriptor and config ([storage.postgres]):
//   connection     libpq key=value string (required), e.g.
//                  "host=127.0.0.1 port=5432 dbname=podterm user=podterm"
//   password_file  file whose first line is the password, relative to the config file's
//                  directory; read once at start, never logged (optional)
//   pool_size      connections at most (default 4)
//   timeout_ms     connecting, waiting for a connection, and per statement (default 5000)
// An unreachable database does not fail create(): calls return Unavailable until it is back.

#include <boost/dll/alias.hpp>
#include <filesystem>
#include <fstream>
#include <new>

#include "podterm/plugin.h"
#include "podterm/storage.h"
#include "postgres_storage.h"

namespace podterm::storage_postgres {
namespace {

namespace fs = std::filesystem;

sdk::Status readPassword(const sdk::ConfigView& config, std::string* out) {
  auto file = config.getString("password_file", "");
  if (!file) return file.status();
  if (file.value().empty()) return sdk::Status::ok();
  fs::path path(file.value());
  if (path.is_relative()) path = fs::path(config.baseDirectory()) / path;
  std::ifstream in(path);
  if (!in) {
    return {sdk::ErrorCode::InvalidArgument,
            config.where("password_file") + ": cannot read " + path.string()};
  }
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.empty()) {
    return {sdk::ErrorCode::InvalidArgument,
            config.where("password_file") + ": " + path.string() + " is empty"};
  }
  for (char c : line) {
    if (c == ' ' || c == '\t') {
      return {
          sdk::ErrorCode::InvalidArgument,
          config.where("password_file") +
              ": the password has whitespace, which Poco's PostgreSQL connector cannot pass on"};
    }
  }
  *out = line;
  return sdk::Status::ok();
}

sdk::Status readConfig(const sdk::ConfigView& config, PostgresConfig* out) {
  auto connection = config.getString("connection", "");
  if (!connection) return connection.status();
  if (connection.value().empty()) {
    return {sdk::ErrorCode::InvalidArgument,
            config.where("connection") +
                ": required: a libpq connection string such as \"host=127.0.0.1 port=5432 "
                "dbname=podterm user=podterm\""};
  }
  auto pool = config.getInt("pool_size", 4);
  if (!pool) return pool.status();
  if (pool.value() < 1 || pool.value() > 64) {
    return {sdk::ErrorCode::InvalidArgument, config.where("pool_size") +
                                                 ": must be between 1 and 64, not " +
                                                 std::to_string(pool.value())};
  }
  auto timeout = config.getInt("timeout_ms", 5000);
  if (!timeout) return timeout.status();
  if (timeout.value() < 100 || timeout.value() > 600000) {
    return {sdk::ErrorCode::InvalidArgument, config.where("timeout_ms") +
                                                 ": must be between 100 and 600000 ms, not " +
                                                 std::to_string(timeout.value())};
  }
  if (auto st = readPassword(config, &out->password); !st) return st;
  out->connection = connection.value();
  out->pool_size = static_cast<int>(pool.value());
  out->timeout_ms = timeout.value();
  return sdk::Status::ok();
}

sdk::Status create(const sdk::ConfigView& config, sdk::PluginObject** out) {
  try {
    PostgresConfig cfg;
    if (auto st = readConfig(config, &cfg); !st) return st;
    auto storage = makePostgresStorage(cfg);
    if (!storage) {
      return {sdk::ErrorCode::InvalidArgument,
              config.where("connection") + ": " + storage.status().message()};
    }
    // Unavailable is fine: the host keeps serving terminals and a later call connects and
    // migrates. Anything else (a failed migration) is not going to pass by itself.
    if (auto st = storage.value()->prepare(); !st && st.code() != sdk::ErrorCode::Unavailable) {
      return st;
    }
    *out = storage.value().release();
    return sdk::Status::ok();
  } catch (const std::bad_alloc&) {
    return {sdk::ErrorCode::Internal, "storage-postgres: out of memory"};
  } catch (const std::exception& e) {
    return {sdk::ErrorCode::Internal, std::string("storage-postgres: ") + e.what()};
  }
}

void destroy(sdk::PluginObject* object) {
  delete object;
}

}  // namespace

const sdk::PluginDescriptor* descriptor() {
  static const sdk::PluginDescriptor d{
      sdk::kAbiVersion, sdk::PluginKind::Storage, "postgres", "0.1.0", &create, &destroy};
  return &d;
}

}  // namespace podterm::storage_postgres

BOOST_DLL_ALIAS(podterm::storage_postgres::descriptor, podterm_plugin_descriptor)
