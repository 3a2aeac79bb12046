// The sync-always plugin's descriptor and config:
//
//   [sync.always]
//   idle_sync_ms = 5000   # sync after this long without input or output; 0: never on idle

#include <boost/dll/alias.hpp>
#include <new>

#include "AlwaysSyncPolicy.h"
#include "podterm/plugin.h"

namespace podterm::sync_always {
namespace {

constexpr int64_t kDefaultIdleSyncMs = 5000;

sdk::Status create(const sdk::ConfigView& config, sdk::PluginObject** out) {
  try {
    auto idle = config.getInt("idle_sync_ms", kDefaultIdleSyncMs);
    if (!idle) return idle.status();
    if (idle.value() < 0) {
      return {sdk::ErrorCode::InvalidArgument,
              config.where("idle_sync_ms") + ": must be 0 (never) or a number of milliseconds"};
    }
    *out = new AlwaysSyncPolicy(idle.value());
    return sdk::Status::ok();
  } catch (const std::bad_alloc&) {
    return {sdk::ErrorCode::Internal, "out of memory"};
  } catch (const std::exception& e) {
    return {sdk::ErrorCode::Internal, std::string("sync.always: ") + e.what()};
  }
}

void destroy(sdk::PluginObject* object) {
  delete object;
}

}  // namespace

const sdk::PluginDescriptor* descriptor() {
  static const sdk::PluginDescriptor d{
      sdk::kAbiVersion, sdk::PluginKind::SyncPolicy, "always", "0.1.0", &create, &destroy};
  return &d;
}

}  // namespace podterm::sync_always

BOOST_DLL_ALIAS(podterm::sync_always::descriptor, podterm_plugin_descriptor)
