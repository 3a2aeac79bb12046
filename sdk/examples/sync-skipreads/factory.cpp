// The sync-skipreads plugin's descriptor and config:
//
//   [sync]
//   plugin = "skipreads"
//
//   [sync.skipreads]
//   commands = ["ls", "pwd", "git status"]   # commands that write nothing (first words); this
//                                            # default list when absent
//   idle_sync_ms = 5000                      # sync after this long without input or output; 0:
//   never

#include <boost/dll/alias.hpp>
#include <new>

#include "SkipReadsPolicy.h"
#include "podterm/plugin.h"

namespace podterm::examples::sync_skipreads {
namespace {

constexpr int64_t kDefaultIdleSyncMs = 5000;
const char* const kDefaultCommands[] = {"ls",         "pwd",     "whoami",  "date",
                                        "git status", "git log", "git diff"};

sdk::Status invalid(const sdk::ConfigView& config, const std::string& key, const std::string& why) {
  return {sdk::ErrorCode::InvalidArgument, config.where(key) + ": " + why};
}

sdk::Status create(const sdk::ConfigView& config, sdk::PluginObject** out) {
  try {
    std::vector<std::string> commands(std::begin(kDefaultCommands), std::end(kDefaultCommands));
    if (config.has("commands")) {
      auto configured = config.getStringList("commands");
      if (!configured) return configured.status();
      commands = std::move(configured).value();
    }
    std::vector<std::vector<std::string>> read_only;
    for (size_t i = 0; i < commands.size(); ++i) {
      std::vector<std::string> words = plainWords(commands[i], commands[i].size());
      if (words.empty()) {
        return invalid(config, "commands",
                       "entry " + std::to_string(i + 1) +
                           " must be plain words (no quotes, redirections or other shell syntax)");
      }
      read_only.push_back(std::move(words));
    }
    auto idle = config.getInt("idle_sync_ms", kDefaultIdleSyncMs);
    if (!idle) return idle.status();
    if (idle.value() < 0) {
      return invalid(config, "idle_sync_ms", "must be 0 (never) or a number of milliseconds");
    }
    *out = new SkipReadsPolicy(std::move(read_only), idle.value());
    return sdk::Status::ok();
  } catch (const std::bad_alloc&) {
    return {sdk::ErrorCode::Internal, "out of memory"};
  } catch (const std::exception& e) {
    return {sdk::ErrorCode::Internal, config.path() + ": " + e.what()};
  }
}

void destroy(sdk::PluginObject* object) {
  delete object;
}

}  // namespace

const sdk::PluginDescriptor* descriptor() {
  static const sdk::PluginDescriptor d{
      sdk::kAbiVersion, sdk::PluginKind::SyncPolicy, "skipreads", "0.1.0", &create, &destroy};
  return &d;
}

}  // namespace podterm::examples::sync_skipreads

BOOST_DLL_ALIAS(podterm::examples::sync_skipreads::descriptor, podterm_plugin_descriptor)
