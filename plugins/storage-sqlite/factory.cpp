// The storage-sqlite plugin's descriptor and config ([storage.sqlite]):
//   path        database file, relative to the config file's directory (required); its
//               directory is created
//   timeout_ms  how long a call waits for a busy database (default 5000)

#include <boost/dll/alias.hpp>
#include <filesystem>
#include <new>

#include "podterm/plugin.h"
#include "podterm/storage.h"
#include "sqlite_storage.h"

namespace podterm::storage_sqlite {
namespace {

namespace fs = std::filesystem;

sdk::Status readConfig(const sdk::ConfigView& config, SqliteConfig* out) {
  auto path = config.getString("path", "");
  if (!path) return path.status();
  if (path.value().empty()) {
    return {sdk::ErrorCode::InvalidArgument,
            config.where("path") + ": required: the SQLite database file"};
  }
  auto timeout = config.getInt("timeout_ms", 5000);
  if (!timeout) return timeout.status();
  if (timeout.value() < 1 || timeout.value() > 600000) {
    return {sdk::ErrorCode::InvalidArgument, config.where("timeout_ms") +
                                                 ": must be between 1 and 600000 ms, not " +
                                                 std::to_string(timeout.value())};
  }
  fs::path file(path.value());
  if (file.is_relative()) file = fs::path(config.baseDirectory()) / file;
  file = file.lexically_normal();
  std::error_code ec;
  if (file.has_parent_path()) fs::create_directories(file.parent_path(), ec);
  if (ec) {
    return {sdk::ErrorCode::InvalidArgument, config.where("path") +
                                                 ": cannot create the directory " +
                                                 file.parent_path().string() + ": " + ec.message()};
  }
  if (fs::is_directory(file, ec)) {
    return {sdk::ErrorCode::InvalidArgument,
            config.where("path") + ": " + file.string() + " is a directory, not a database file"};
  }
  out->path = file.string();
  out->timeout_ms = timeout.value();
  return sdk::Status::ok();
}

sdk::Status create(const sdk::ConfigView& config, sdk::PluginObject** out) {
  try {
    SqliteConfig cfg;
    if (auto st = readConfig(config, &cfg); !st) return st;
    auto storage = makeSqliteStorage(cfg);
    // A local file that cannot be opened now is a configuration error, not an outage.
    if (auto st = storage->prepare(); !st) {
      return {sdk::ErrorCode::InvalidArgument,
              config.where("path") + ": cannot use " + cfg.path + ": " + st.message()};
    }
    *out = storage.release();
    return sdk::Status::ok();
  } catch (const std::bad_alloc&) {
    return {sdk::ErrorCode::Internal, "storage-sqlite: out of memory"};
  } catch (const std::exception& e) {
    return {sdk::ErrorCode::Internal, std::string("storage-sqlite: ") + e.what()};
  }
}

void destroy(sdk::PluginObject* object) {
  delete object;
}

}  // namespace

const sdk::PluginDescriptor* descriptor() {
  static const sdk::PluginDescriptor d{
      sdk::kAbiVersion, sdk::PluginKind::Storage, "sqlite", "0.1.0", &create, &destroy};
  return &d;
}

}  // namespace podterm::storage_sqlite

BOOST_DLL_ALIAS(podterm::storage_sqlite::descriptor, podterm_plugin_descriptor)
