// Fuzz target host_config: parseHostConfig over arbitrary TOML, linked against toml++'s shared
// library as the host is (Debian's build; its header-only mode asserts on inputs the shared
// library reports as parse errors, see shared/research/toolchain.md).
//
// Config is trusted input (the operator's file), but a typo must give a message, never a crash,
// and every message must say where: properties:
//  - the only exception is ConfigError, and its message starts with the file name
//    ("fuzz.toml:line:column: ..." or "fuzz.toml: ...");
//  - an accepted config keeps the documented ranges and shapes (listen parsed into host and port,
//    limits within bounds, plugin names well formed, absolute plugin directories, ...);
//  - the plugin views report unknown keys with the file, answer every getter on every key they
//    hold without throwing, with messages that name the file, and a key once read is no longer
//    reported unknown.

#include <filesystem>
#include <string>

#include "FuzzSupport.h"
#include "config/HostConfig.h"

namespace {

using namespace podterm::host;

constexpr const char* kFile = "fuzz.toml";

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool isPluginName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

void checkMessage(const std::string& message) {
  FUZZ_CHECKF(startsWith(message, std::string(kFile) + ":"), "message without the file: %s",
              message.c_str());
}

template <class T>
void checkResult(const podterm::sdk::Result<T>& result) {
  if (!result) {
    FUZZ_CHECK(result.status().code() == podterm::sdk::ErrorCode::InvalidArgument);
    checkMessage(result.status().message());
  }
}

void checkView(const SlotConfig& slot) {
  FUZZ_CHECK(slot.view != nullptr);
  TomlConfigView& view = *slot.view;
  for (const std::string& message : view.unknownKeyErrors()) checkMessage(message);
  for (const std::string& key : view.unreadKeys()) {
    // Keys are dotted paths: a quoted key with a dot in it ("a.b" = 1) is reported unknown but
    // never found by that name; every other key is.
    FUZZ_CHECKF(view.has(key) || key.find('.') != std::string::npos, "key '%s'", key.c_str());
    checkResult(view.getString(key, ""));
    checkResult(view.getInt(key, 0));
    checkResult(view.getDouble(key, 0));
    checkResult(view.getBool(key, false));
    checkResult(view.getStringList(key));
    checkMessage(view.where(key));
    checkMessage(view.whereElement(key, 0));
  }
  FUZZ_CHECK(view.unreadKeys().empty());
  FUZZ_CHECK(view.unknownKeyErrors().empty());
}

void checkConfig(const HostConfig& c) {
  const ServerConfig& s = c.server;
  FUZZ_CHECK(!s.listen_host.empty());
  const size_t colon = s.listen.rfind(':');
  FUZZ_CHECK(colon != std::string::npos);
  FUZZ_CHECKF(std::stoul(s.listen.substr(colon + 1)) == s.listen_port, "listen %s, port %u",
              s.listen.c_str(), s.listen_port);
  FUZZ_CHECK(s.event_loops >= 1 && s.event_loops <= 256);
  FUZZ_CHECK(s.http_threads >= 1 && s.http_threads <= 1024);
  FUZZ_CHECK(s.max_message_bytes >= 1 && s.max_message_bytes <= (size_t{1} << 30));
  for (const std::string& origin : s.allowed_origins) {
    FUZZ_CHECK(startsWith(origin, "http://") || startsWith(origin, "https://"));
    FUZZ_CHECK(origin.find_first_of("/?#@ ", origin.find("//") + 2) == std::string::npos);
  }
  FUZZ_CHECK(s.web_root.empty() || std::filesystem::path(s.web_root).is_absolute());

  FUZZ_CHECK(!c.session.shell.empty() && !c.session.shell.front().empty());
  FUZZ_CHECK(c.session.ready_timeout.count() >= 1 && c.session.reap_interval.count() >= 1);
  FUZZ_CHECK(c.session.output_high_watermark >= 1);

  for (const std::string& name : c.workspace.excludes) {
    FUZZ_CHECK(!name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos);
  }
  FUZZ_CHECK(c.workspace.lease_ttl.count() >= 1 && c.workspace.lease_ttl.count() <= 3600);

  const LimitsConfig& l = c.limits;
  FUZZ_CHECK(l.max_connections >= 1 && l.input_burst_bytes >= 1);
  FUZZ_CHECK(l.handshake_timeout.count() >= 1);
  FUZZ_CHECK(l.auth_timeout.count() >= 1 && l.auth_timeout.count() <= 600000);
  if (l.socket_idle_timeout.count() != 0 && l.ping_interval.count() != 0) {
    FUZZ_CHECK(l.socket_idle_timeout > l.ping_interval);
  }

  FUZZ_CHECK(!c.plugin_path.empty());
  for (const std::string& dir : c.plugin_path) {
    FUZZ_CHECK(std::filesystem::path(dir).is_absolute());
  }
  FUZZ_CHECK(isPluginName(c.runtime.plugin) && isPluginName(c.auth.plugin));
  FUZZ_CHECK(c.storage.plugin.empty() || isPluginName(c.storage.plugin));
  FUZZ_CHECK(c.sync.plugin.empty() || isPluginName(c.sync.plugin));
  for (const SlotConfig* slot : {&c.runtime, &c.storage, &c.sync, &c.auth}) checkView(*slot);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view toml = podterm::fuzz::asText(data, size);
  try {
    const HostConfig config = parseHostConfig(toml, kFile);
    FUZZ_CHECK(config.file == kFile);
    checkConfig(config);
  } catch (const ConfigError& e) {
    checkMessage(e.what());
  }
  // Anything else (std::out_of_range from a stoi, toml++ internals, ...) escapes: a finding.
  return 0;
}
