#include "config/HostConfig.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <tuple>
#include <type_traits>

#include "config/TomlTable.h"

namespace podterm::host {

namespace fs = std::filesystem;
using config_detail::describeType;
using config_detail::formatWhere;

namespace {

constexpr std::array<const char*, 10> kTopLevelTables = {
    "server",  "session", "workspace", "limits", "plugins",
    "runtime", "storage", "sync",      "auth",   "log"};
constexpr std::array<const char*, 9> kLogLevels = {
    "none", "fatal", "critical", "error", "warning", "notice", "information", "debug", "trace"};

std::string inQuotes(const std::string& value) {
  return "\"" + value + "\"";
}

// Reads one of the host's own tables through a TomlConfigView, turning every error into a
// ConfigError, and refuses the keys nothing read.
class TableReader {
 public:
  explicit TableReader(TomlConfigViewPtr view) : view_(std::move(view)) {}

  const TomlConfigView& view() const { return *view_; }

  std::string string(const std::string& key, const std::string& fallback) const {
    return unwrap(view_->getString(key, fallback));
  }
  bool boolean(const std::string& key, bool fallback) const {
    return unwrap(view_->getBool(key, fallback));
  }
  std::vector<std::string> list(const std::string& key,
                                const std::vector<std::string>& fallback) const {
    auto value = unwrap(view_->getStringList(key));
    return view_->has(key) ? value : fallback;
  }
  int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
    int64_t value = unwrap(view_->getInt(key, fallback));
    if (value < min || value > max) {
      fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                    ", got " + std::to_string(value));
    }
    return value;
  }

  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw ConfigError(view_->where(key) + ": " + message);
  }
  [[noreturn]] void failElement(const std::string& key, size_t index,
                                const std::string& message) const {
    throw ConfigError(view_->whereElement(key, index) + ": " + message);
  }

  void rejectUnread() const {
    auto errors = view_->unknownKeyErrors();
    if (!errors.empty()) throw ConfigError(errors.front());
  }

 private:
  template <class T>
  static T unwrap(sdk::Result<T> result) {
    if (!result) throw ConfigError(result.status().message());
    return std::move(result).value();
  }

  TomlConfigViewPtr view_;
};

bool allDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "host:port", "[v6]:port"; fills host and port or returns why not.
std::string parseListen(const std::string& listen, std::string& host, uint16_t& port) {
  const char* expected = "expected host:port (e.g. \"127.0.0.1:8002\" or \"[::1]:8002\"), got ";
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return expected + inQuotes(listen);
  host = listen.substr(0, colon);
  std::string portText = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find_first_of("[]:") != std::string::npos) {
    return expected + inQuotes(listen);
  }
  if (host.empty() || host.find_first_of(" \t/") != std::string::npos) {
    return expected + inQuotes(listen);
  }
  if (!allDigits(portText) || portText.size() > 5 || std::stoi(portText) > 65535) {
    return "port must be a number from 0 to 65535, got " + inQuotes(listen);
  }
  port = static_cast<uint16_t>(std::stoi(portText));
  return {};
}

// "scheme://host[:port]" with nothing after it: the form browsers send in Origin.
bool isOrigin(const std::string& origin) {
  for (const char* scheme : {"http://", "https://"}) {
    size_t n = std::strlen(scheme);
    if (origin.compare(0, n, scheme) == 0) {
      std::string rest = origin.substr(n);
      return !rest.empty() && rest.find_first_of("/?#@ ") == std::string::npos;
    }
  }
  return false;
}

bool isPluginName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

std::string resolve(const std::string& base, const std::string& path) {
  return (fs::path(base) / path).lexically_normal().string();
}

struct Document {
  std::shared_ptr<const toml::table> root;
  std::string file;
  std::string base;

  TableReader table(const std::string& path) const {
    return TableReader(config_detail::viewAt(root, file, base, path));
  }
};

// [server] tls_certificate_file and tls_key_file: both or neither, each a readable file, relative
// to the config file's directory. Whether they hold a matching certificate and key is checked when
// the listener opens (OpenSSL's message then names the file).
void readTlsFiles(const Document& doc, TableReader& t, ServerConfig& server) {
  const std::string cert = t.string("tls_certificate_file", "");
  const std::string key = t.string("tls_key_file", "");
  if (cert.empty() != key.empty()) {
    const char* missing = cert.empty() ? "tls_certificate_file" : "tls_key_file";
    t.fail(cert.empty() ? "tls_key_file" : "tls_certificate_file",
           std::string("TLS needs both tls_certificate_file and tls_key_file; ") + missing +
               " is missing");
  }
  for (auto [name, value, target] :
       {std::tuple{"tls_certificate_file", &cert, &server.tls_certificate_file},
        std::tuple{"tls_key_file", &key, &server.tls_key_file}}) {
    if (value->empty()) continue;
    *target = resolve(doc.base, *value);
    std::ifstream in(*target);
    if (!in) t.fail(name, *target + " cannot be read");
  }
}

void readServer(const Document& doc, ServerConfig& server) {
  TableReader t = doc.table("server");
  server.listen = t.string("listen", server.listen);
  std::string error = parseListen(server.listen, server.listen_host, server.listen_port);
  if (!error.empty()) t.fail("listen", error);
  server.event_loops = static_cast<int>(t.integer("event_loops", server.event_loops, 1, 256));
  server.http_threads = static_cast<int>(t.integer("http_threads", server.http_threads, 1, 1024));
  readTlsFiles(doc, t, server);
  server.allowed_origins = t.list("allowed_origins", {});
  for (size_t i = 0; i < server.allowed_origins.size(); ++i) {
    if (!isOrigin(server.allowed_origins[i])) {
      t.failElement("allowed_origins", i,
                    "expected an origin like \"https://app.example.com\" (scheme://host[:port], "
                    "no path), got " +
                        inQuotes(server.allowed_origins[i]));
    }
  }
  server.allow_loopback_origins = t.boolean("allow_loopback_origins", false);
  server.allow_unauthenticated = t.boolean("allow_unauthenticated", false);
  std::string webRoot = t.string("web_root", "");
  if (!webRoot.empty()) {
    server.web_root = resolve(doc.base, webRoot);
    std::error_code ec;
    if (!fs::is_directory(server.web_root, ec)) {
      t.fail("web_root", server.web_root + " is not a directory");
    }
  }
  server.max_message_bytes = static_cast<size_t>(t.integer(
      "max_message_bytes", static_cast<int64_t>(server.max_message_bytes), 1, int64_t{1} << 30));
  server.shutdown_deadline = std::chrono::seconds(
      t.integer("shutdown_deadline_s", server.shutdown_deadline.count(), 1, 3600));
  t.rejectUnread();
}

void readSession(const Document& doc, SessionConfig& session) {
  constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();
  TableReader t = doc.table("session");
  session.ready_timeout =
      std::chrono::seconds(t.integer("ready_timeout_s", session.ready_timeout.count(), 1, kMaxInt));
  session.grace_period =
      std::chrono::seconds(t.integer("grace_period_s", session.grace_period.count(), 0, kMaxInt));
  session.input_queue_bytes = static_cast<size_t>(t.integer(
      "input_queue_bytes", static_cast<int64_t>(session.input_queue_bytes), 0, int64_t{1} << 30));
  session.output_high_watermark = static_cast<size_t>(
      t.integer("output_high_watermark", static_cast<int64_t>(session.output_high_watermark), 1,
                int64_t{1} << 30));
  session.orphan_pod_ttl = std::chrono::seconds(
      t.integer("orphan_pod_ttl_s", session.orphan_pod_ttl.count(), 0, kMaxInt));
  session.reap_interval =
      std::chrono::seconds(t.integer("reap_interval_s", session.reap_interval.count(), 1, kMaxInt));
  session.lease_ttl =
      std::chrono::seconds(t.integer("lease_ttl_s", session.lease_ttl.count(), 1, 3600));
  session.host_id = t.string("host_id", session.host_id);
  session.scrollback_lines = static_cast<size_t>(
      t.integer("scrollback_lines", static_cast<int64_t>(session.scrollback_lines), 0, 100000));
  session.output_log_bytes = static_cast<size_t>(t.integer(
      "output_log_bytes", static_cast<int64_t>(session.output_log_bytes), 0, int64_t{1} << 30));
  const std::string on_exit = t.string("on_shell_exit", "restart");
  if (on_exit != "restart" && on_exit != "close") {
    t.fail("on_shell_exit", "expected \"restart\" or \"close\", got " + inQuotes(on_exit));
  }
  session.restart_shell = on_exit == "restart";
  const std::string attach = t.string("attach_mode", "share");
  if (attach != "share" && attach != "takeover") {
    t.fail("attach_mode", "expected \"share\" or \"takeover\", got " + inQuotes(attach));
  }
  session.attach_takes_over = attach == "takeover";
  const std::string persistent = t.string("persistent_shell", "auto");
  if (persistent != "auto" && persistent != "off") {
    t.fail("persistent_shell", "expected \"auto\" or \"off\", got " + inQuotes(persistent));
  }
  session.persistent_shell = persistent == "auto";
  const std::string scope = t.string("pod_scope", "session");
  if (scope != "session" && scope != "workspace") {
    t.fail("pod_scope", "expected \"session\" or \"workspace\", got " + inQuotes(scope));
  }
  session.workspace_pods = scope == "workspace";
  session.idle_timeout =
      std::chrono::seconds(t.integer("idle_timeout_s", session.idle_timeout.count(), 0, kMaxInt));
  session.idle_warning =
      std::chrono::seconds(t.integer("idle_warning_s", session.idle_warning.count(), 0, kMaxInt));
  session.shell = t.list("shell", session.shell);
  if (session.shell.empty() || session.shell.front().empty()) {
    t.fail("shell", "must name the shell to run, e.g. [\"/bin/bash\"]");
  }
  t.rejectUnread();
}

void readLimits(const Document& doc, LimitsConfig& limits) {
  constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();
  constexpr int64_t kMaxBytes = int64_t{1} << 50;
  TableReader t = doc.table("limits");
  auto size = [&](const char* key, auto& field, int64_t min, int64_t max) {
    using Field = std::remove_reference_t<decltype(field)>;
    field = static_cast<Field>(t.integer(key, static_cast<int64_t>(field), min, max));
  };
  auto seconds = [&](const char* key, std::chrono::seconds& field, int64_t min) {
    field = std::chrono::seconds(t.integer(key, field.count(), min, kMaxInt));
  };
  size("max_connections", limits.max_connections, 1, kMaxInt);
  seconds("handshake_timeout_s", limits.handshake_timeout, 1);
  seconds("ping_interval_s", limits.ping_interval, 0);
  seconds("socket_idle_timeout_s", limits.socket_idle_timeout, 0);
  size("input_bytes_per_s", limits.input_bytes_per_s, 0, kMaxBytes);
  size("input_burst_bytes", limits.input_burst_bytes, 1, kMaxBytes);
  size("sessions_per_user", limits.sessions_per_user, 0, kMaxInt);
  size("pods_per_user", limits.pods_per_user, 0, kMaxInt);
  size("terminals_per_session", limits.terminals_per_session, 0, kMaxInt);
  seconds("max_session_lifetime_s", limits.max_session_lifetime, 0);
  size("workspace_max_bytes", limits.workspace_max_bytes, 0, kMaxBytes);
  size("workspace_max_files", limits.workspace_max_files, 0, kMaxInt);
  limits.auth_timeout = std::chrono::milliseconds(
      t.integer("auth_timeout_ms", limits.auth_timeout.count(), 1, 600000));
  if (limits.socket_idle_timeout.count() != 0 && limits.ping_interval.count() != 0 &&
      limits.socket_idle_timeout <= limits.ping_interval) {
    t.fail("socket_idle_timeout_s",
           "must be longer than ping_interval_s, or a client answering every ping would be closed");
  }
  t.rejectUnread();
}

void readWorkspace(const Document& doc, WorkspaceConfig& workspace) {
  constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();
  TableReader t = doc.table("workspace");
  workspace.max_file_bytes = static_cast<size_t>(t.integer(
      "max_file_bytes", static_cast<int64_t>(workspace.max_file_bytes), 0, int64_t{1} << 32));
  workspace.excludes = t.list("excludes", workspace.excludes);
  for (const auto& name : workspace.excludes) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      t.fail("excludes", "entries are single file or folder names, e.g. \"node_modules\"");
    }
  }
  workspace.deleted_retention = std::chrono::hours(
      t.integer("deleted_retention_h", workspace.deleted_retention.count(), 0, kMaxInt));
  workspace.lease_ttl =
      std::chrono::seconds(t.integer("lease_ttl_s", workspace.lease_ttl.count(), 1, 3600));
  workspace.retry_max =
      std::chrono::seconds(t.integer("retry_max_s", workspace.retry_max.count(), 1, 3600));
  t.rejectUnread();
}

SlotConfig readSlot(const Document& doc, const std::string& slot, bool required,
                    const char* example) {
  TableReader t = doc.table(slot);
  SlotConfig config;
  config.plugin = t.string("plugin", "");
  if (config.plugin.empty()) {
    if (required) {
      t.fail("plugin", std::string(t.view().has("plugin") ? "must not be empty" : "missing") +
                           ": name the " + slot + " plugin to use, e.g. plugin = \"" + example +
                           "\"");
    }
  } else if (!isPluginName(config.plugin)) {
    t.fail("plugin",
           "expected a plugin name (letters, digits, '-' and '_'), got " + inQuotes(config.plugin));
  }
  // Besides `plugin`, [slot] holds only plugin tables: the selected one, and others an operator
  // keeps around to switch back to.
  if (const toml::table* table = doc.root->get_as<toml::table>(slot)) {
    for (auto&& [key, node] : *table) {
      if (key == "plugin" || node.is_table()) continue;
      if (key == config.plugin) {
        t.fail(std::string(key.str()),
               std::string("expected a table, got ") + describeType(node.type()));
      }
      throw ConfigError(formatWhere(doc.file, node.source().begin) + ": unknown key " + slot + "." +
                        std::string(key.str()));
    }
  }
  if (config.plugin.empty()) {
    // No plugin: nothing will read this view, so it shows no keys (not even the slot's own).
    auto empty = std::make_shared<TomlConfigView::Table>();
    empty->file = doc.file;
    empty->base_directory = doc.base;
    empty->path = slot;
    const toml::node* table = doc.root->get(slot);
    empty->position = (table != nullptr ? table : doc.root.get())->source().begin;
    config.view = std::make_shared<TomlConfigView>(std::move(empty));
  } else {
    config.view = config_detail::viewAt(doc.root, doc.file, doc.base, slot + "." + config.plugin);
  }
  return config;
}

}  // namespace

HostConfig parseHostConfig(std::string_view toml, const std::string& file) {
  Document doc;
  doc.file = file;
  doc.base = fs::absolute(file).parent_path().lexically_normal().string();
  doc.root = config_detail::parseDocument(toml, file);

  for (auto&& [key, node] : *doc.root) {
    bool known = std::any_of(kTopLevelTables.begin(), kTopLevelTables.end(),
                             [&key = key](const char* name) { return key == name; });
    if (!known) {
      throw ConfigError(formatWhere(file, node.source().begin) + ": unknown key " +
                        std::string(key.str()));
    }
    if (!node.is_table()) {
      throw ConfigError(formatWhere(file, node.source().begin) + ": " + std::string(key.str()) +
                        ": expected a table, got " + describeType(node.type()));
    }
  }

  HostConfig config;
  config.file = file;
  config.base_directory = doc.base;
  readServer(doc, config.server);
  readSession(doc, config.session);
  readWorkspace(doc, config.workspace);

  readLimits(doc, config.limits);

  TableReader plugins = doc.table("plugins");
  std::vector<std::string> path = plugins.list("path", {"plugins"});
  if (path.empty()) plugins.fail("path", "must name at least one directory");
  for (const std::string& dir : path) config.plugin_path.push_back(resolve(doc.base, dir));
  plugins.rejectUnread();

  config.runtime = readSlot(doc, "runtime", true, "fakepod");
  config.storage = readSlot(doc, "storage", false, "");
  config.sync = readSlot(doc, "sync", false, "");
  config.auth = readSlot(doc, "auth", true, "none");

  TableReader log = doc.table("log");
  config.log_level = log.string("level", config.log_level);
  if (std::find(kLogLevels.begin(), kLogLevels.end(), config.log_level) == kLogLevels.end()) {
    log.fail("level",
             "expected one of none, fatal, critical, error, warning, notice, information, debug, "
             "trace, got " +
                 inQuotes(config.log_level));
  }
  config.log_format = log.string("format", config.log_format);
  if (config.log_format != "text" && config.log_format != "json") {
    log.fail("format", "expected \"text\" or \"json\", got " + inQuotes(config.log_format));
  }
  log.rejectUnread();
  return config;
}

HostConfig loadHostConfig(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(file + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(file + ": cannot read: " + std::strerror(errno));
  return parseHostConfig(text.str(), file);
}

}  // namespace podterm::host
