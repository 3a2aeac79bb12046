// The sync-commands plugin's descriptor and config:
//
//   [sync.commands]
//   extra_commands = ["terraform", "dvc"]  # more programs that always sync (basenames)
//   idle_sync_ms = 0                       # sync after this long without input or output; 0: never

#include <boost/dll/alias.hpp>
#include <new>

#include "CommandsSyncPolicy.h"
#include "podterm/plugin.h"

namespace podterm::sync_commands {
namespace {

constexpr int64_t kDefaultIdleSyncMs = 0;

sdk::Status create(const sdk::ConfigView& config, sdk::PluginObject** out) {
  try {
    auto idle = config.getInt("idle_sync_ms", kDefaultIdleSyncMs);
    if (!idle) return idle.status();
    if (idle.value() < 0) {
      return {sdk::ErrorCode::InvalidArgument,
              config.where("idle_sync_ms") + ": must be 0 (never) or a number of milliseconds"};
    }
    auto extra = config.getStringList("extra_commands");
    if (!extra) return extra.status();
    for (const auto& name : extra.value()) {
      if (name.empty() || name.find_first_of(" \t/;|&<>") != std::string::npos) {
        return {sdk::ErrorCode::InvalidArgument,
                config.where("extra_commands") + ": \"" + name +
                    "\" is not a program name (a basename such as \"terraform\")"};
      }
    }
    *out = new CommandsSyncPolicy(extra.value(), idle.value());
    return sdk::Status::ok();
  } catch (const std::bad_alloc&) {
    return {sdk::ErrorCode::Internal, "out of memory"};
  } catch (const std::exception& e) {
    return {sdk::ErrorCode::Internal, std::string("sync.commands: ") + e.what()};
  }
}

void destroy(sdk::PluginObject* object) {
  delete object;
}

}  // namespace

const sdk::PluginDescriptor* descriptor() {
  static const sdk::PluginDescriptor d{
      sdk::kAbiVersion, sdk::PluginKind::SyncPolicy, "commands", "0.1.0", &create, &destroy};
  return &d;
}

}  // namespace podterm::sync_commands

BOOST_DLL_ALIAS(podterm::sync_commands::descriptor, podterm_plugin_descriptor)
