// The plugin's descriptor and its config: reads [runtime.fakepod] through the SDK's ConfigView,
// validates it and builds a FakePodRuntime. No logic here.

#include <boost/dll/alias.hpp>
#include <exception>
#include <filesystem>
#include <string>

#include "fakepod_config.h"
#include "fakepod_runtime.h"
#include "podterm/plugin.h"

namespace podterm::plugins::fakepod {

namespace {

using sdk::ConfigView;
using sdk::ErrorCode;
using sdk::Status;

Status invalid(const ConfigView& view, const std::string& key, const std::string& what) {
  return {ErrorCode::InvalidArgument, view.where(key) + ": " + what};
}

// Reads an integer key within [min, max].
Status readInt(const ConfigView& view, const std::string& key, int64_t min, int64_t max,
               int64_t& out) {
  auto r = view.getInt(key, out);
  if (!r) return r.status();
  if (r.value() < min || r.value() > max) {
    return invalid(view, key,
                   "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  out = r.value();
  return {};
}

Status readConfig(const ConfigView& view, FakePodConfig& c, bool& network_explicit) {
  auto data_dir = view.getString("data_dir", "var/fakepod");
  if (!data_dir) return data_dir.status();
  if (data_dir.value().empty()) return invalid(view, "data_dir", "must not be empty");
  std::filesystem::path dir(data_dir.value());
  if (dir.is_relative()) dir = std::filesystem::path(view.baseDirectory()) / dir;
  c.data_dir = dir.lexically_normal().string();
  while (c.data_dir.size() > 1 && c.data_dir.back() == '/') c.data_dir.pop_back();

  if (auto st = readInt(view, "start_delay_ms", 0, 600000, c.start_delay_ms); !st) return st;
  auto fail_create = view.getString("fail_create", "");
  if (!fail_create) return fail_create.status();
  c.fail_create = fail_create.value();
  auto never_ready = view.getBool("never_ready", false);
  if (!never_ready) return never_ready.status();
  c.never_ready = never_ready.value();
  int64_t warm = 0;
  if (auto st = readInt(view, "warm_pool", 0, 64, warm); !st) return st;
  c.warm_pool = static_cast<int>(warm);

  auto isolation = view.getString("isolation", "bwrap");
  if (!isolation) return isolation.status();
  if (isolation.value() == "bwrap") {
    c.isolation = Isolation::Bwrap;
  } else if (isolation.value() == "none") {
    c.isolation = Isolation::None;
  } else {
    return invalid(view, "isolation", "must be \"bwrap\" or \"none\"");
  }

  network_explicit = view.has("network");
  auto network = view.getString("network", "outbound");
  if (!network) return network.status();
  if (network.value() == "none") {
    c.network = Network::None;
  } else if (network.value() == "outbound") {
    c.network = Network::Outbound;
  } else if (network.value() == "host") {
    c.network = Network::Host;
  } else {
    return invalid(view, "network", "must be \"none\", \"outbound\" or \"host\"");
  }

  auto limits = view.getString("limits", "auto");
  if (!limits) return limits.status();
  if (limits.value() == "auto") {
    c.limits = LimitsMode::Auto;
  } else if (limits.value() == "off") {
    c.limits = LimitsMode::Off;
  } else if (limits.value() == "require") {
    c.limits = LimitsMode::Require;
  } else {
    return invalid(view, "limits", "must be \"auto\", \"off\" or \"require\"");
  }
  if (auto st = readInt(view, "cpu_millis", 10, 1000000, c.cpu_millis); !st) return st;
  if (auto st = readInt(view, "memory_mib", 16, 1 << 24, c.memory_mib); !st) return st;
  if (auto st = readInt(view, "pids_max", 8, 1 << 22, c.pids_max); !st) return st;
  if (auto st = readInt(view, "host_uid", 1, 0x7fffffff, c.host_uid); !st) return st;
  if (auto st = readInt(view, "host_gid", 1, 0x7fffffff, c.host_gid); !st) return st;
  return {};
}

Status create(const ConfigView& view, sdk::PluginObject** out) {
  try {
    FakePodConfig config;
    bool network_explicit = false;
    if (auto st = readConfig(view, config, network_explicit); !st) return st;
    auto runtime = FakePodRuntime::create(config, network_explicit);
    if (!runtime) {
      return {runtime.status().code(), view.where("") + ": " + runtime.status().message()};
    }
    *out = runtime.value().release();
    return {};
  } catch (const std::exception& e) {
    return {ErrorCode::Internal, std::string("fakepod: ") + e.what()};
  } catch (...) {
    return {ErrorCode::Internal, "fakepod: unknown error"};
  }
}

void destroy(sdk::PluginObject* object) {
  delete object;
}

}  // namespace

const sdk::PluginDescriptor* descriptor() {
  static const sdk::PluginDescriptor d{
      sdk::kAbiVersion, sdk::PluginKind::Runtime, "fakepod", "0.1.0", &create, &destroy};
  return &d;
}

}  // namespace podterm::plugins::fakepod

BOOST_DLL_ALIAS(podterm::plugins::fakepod::descriptor, podterm_plugin_descriptor)
