#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/HostConfig.h"

namespace podterm::host {
namespace {

namespace fs = std::filesystem;

const std::string kMinimal = "[runtime]\nplugin = \"fakepod\"\n[auth]\nplugin = \"none\"\n";

// The message of the ConfigError that parsing `toml` as "p.toml" throws, or "" if none.
std::string errorOf(const std::string& toml) {
  try {
    parseHostConfig(toml, "p.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "podterm-config-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    fs::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name) << text;
    return (path_ / name).string();
  }

 private:
  fs::path path_;
};

TEST(HostConfig, Defaults) {
  HostConfig c = parseHostConfig(kMinimal, "/etc/podterm/podterm.toml");
  EXPECT_EQ(c.file, "/etc/podterm/podterm.toml");
  EXPECT_EQ(c.base_directory, "/etc/podterm");
  EXPECT_EQ(c.server.listen, "127.0.0.1:8002");
  EXPECT_EQ(c.server.listen_host, "127.0.0.1");
  EXPECT_EQ(c.server.listen_port, 8002);
  EXPECT_EQ(c.server.event_loops, 2);
  EXPECT_EQ(c.server.http_threads, 8);
  EXPECT_TRUE(c.server.allowed_origins.empty());
  EXPECT_FALSE(c.server.allow_loopback_origins);
  EXPECT_EQ(c.server.web_root, "");
  EXPECT_EQ(c.server.max_message_bytes, 1048576u);
  EXPECT_EQ(c.session.ready_timeout, std::chrono::seconds(60));
  EXPECT_EQ(c.session.grace_period, std::chrono::seconds(30));
  EXPECT_EQ(c.session.input_queue_bytes, 65536u);
  EXPECT_EQ(c.session.output_high_watermark, 1048576u);
  EXPECT_EQ(c.session.shell, std::vector<std::string>{"/bin/bash"});
  EXPECT_EQ(c.session.scrollback_lines, 1000u);
  EXPECT_EQ(c.session.output_log_bytes, 1048576u);
  EXPECT_TRUE(c.session.restart_shell);
  EXPECT_EQ(c.session.idle_timeout, std::chrono::seconds(0));
  EXPECT_EQ(c.plugin_path, std::vector<std::string>{"/etc/podterm/plugins"});
  EXPECT_EQ(c.runtime.plugin, "fakepod");
  EXPECT_EQ(c.auth.plugin, "none");
  EXPECT_EQ(c.storage.plugin, "");
  EXPECT_EQ(c.sync.plugin, "");
  EXPECT_EQ(c.log_level, "information");
  // Absent plugin tables are empty views placed at their slot.
  ASSERT_NE(c.runtime.view, nullptr);
  EXPECT_EQ(c.runtime.view->path(), "runtime.fakepod");
  EXPECT_EQ(c.runtime.view->where(""), "/etc/podterm/podterm.toml:1:1: runtime.fakepod");
  EXPECT_EQ(c.auth.view->where(""), "/etc/podterm/podterm.toml:3:1: auth.none");
  ASSERT_NE(c.storage.view, nullptr);
  EXPECT_FALSE(c.storage.view->has("anything"));
}

TEST(HostConfig, EveryKeyRead) {
  const char* toml = R"([server]
listen = "[::1]:0"
event_loops = 4
http_threads = 16
allowed_origins = ["https://app.example.com", "http://localhost:3000"]
allow_loopback_origins = true
max_message_bytes = 4096
[session]
ready_timeout_s = 5
grace_period_s = 0
input_queue_bytes = 10
output_high_watermark = 20
shell = ["/bin/sh", "-l"]
[plugins]
path = ["/opt/podterm/plugins", "../lib/podterm"]
[runtime]
plugin = "fakepod"
[runtime.fakepod]
start_delay_ms = 5
[runtime.kubernetes]
namespace = "kept for later"
[storage]
plugin = "sqlite"
[storage.sqlite]
file = "items.db"
[sync]
plugin = ""
[auth]
plugin = "none"
[log]
level = "debug"
)";
  HostConfig c = parseHostConfig(toml, "/srv/conf/podterm.toml");
  EXPECT_EQ(c.server.listen, "[::1]:0");
  EXPECT_EQ(c.server.listen_host, "::1");
  EXPECT_EQ(c.server.listen_port, 0);
  EXPECT_EQ(c.server.event_loops, 4);
  EXPECT_EQ(c.server.http_threads, 16);
  EXPECT_EQ(c.server.allowed_origins,
            (std::vector<std::string>{"https://app.example.com", "http://localhost:3000"}));
  EXPECT_TRUE(c.server.allow_loopback_origins);
  EXPECT_EQ(c.server.max_message_bytes, 4096u);
  EXPECT_EQ(c.session.ready_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c.session.grace_period, std::chrono::seconds(0));
  EXPECT_EQ(c.session.input_queue_bytes, 10u);
  EXPECT_EQ(c.session.output_high_watermark, 20u);
  EXPECT_EQ(c.session.shell, (std::vector<std::string>{"/bin/sh", "-l"}));
  EXPECT_EQ(c.plugin_path, (std::vector<std::string>{"/opt/podterm/plugins", "/srv/lib/podterm"}));
  EXPECT_EQ(c.runtime.view->getInt("start_delay_ms", 0).value(), 5);
  EXPECT_TRUE(c.runtime.view->unreadKeys().empty());
  EXPECT_EQ(c.storage.plugin, "sqlite");
  EXPECT_EQ(c.storage.view->path(), "storage.sqlite");
  EXPECT_EQ(
      c.storage.view->unknownKeyErrors(),
      std::vector<std::string>{"/srv/conf/podterm.toml:25:8: unknown key storage.sqlite.file"});
  EXPECT_EQ(c.sync.plugin, "");
  EXPECT_EQ(c.sync.view->path(), "sync");
  EXPECT_TRUE(c.sync.view->unreadKeys().empty());  // no plugin: nothing to check
  EXPECT_EQ(c.sync.view->where(""), "/srv/conf/podterm.toml:26:1: sync");
  EXPECT_EQ(c.log_level, "debug");
}

TEST(HostConfig, SessionLifecycleKeys) {
  HostConfig c = parseHostConfig(kMinimal +
                                     "[session]\nscrollback_lines = 50\noutput_log_bytes = 4096\n"
                                     "on_shell_exit = \"close\"\nidle_timeout_s = 1800\n"
                                     "idle_warning_s = 120\nattach_mode = \"takeover\"\n",
                                 "p.toml");
  EXPECT_TRUE(c.session.attach_takes_over);
  EXPECT_FALSE(parseHostConfig(kMinimal, "p.toml").session.attach_takes_over);
  EXPECT_EQ(c.session.scrollback_lines, 50u);
  EXPECT_EQ(c.session.output_log_bytes, 4096u);
  EXPECT_FALSE(c.session.restart_shell);
  EXPECT_EQ(c.session.idle_timeout, std::chrono::seconds(1800));
  EXPECT_EQ(c.session.idle_warning, std::chrono::seconds(120));
}

TEST(HostConfig, PersistentShellIsAutoOrOff) {
  EXPECT_TRUE(parseHostConfig(kMinimal, "p.toml").session.persistent_shell);
  EXPECT_TRUE(parseHostConfig(kMinimal + "[session]\npersistent_shell = \"auto\"\n", "p.toml")
                  .session.persistent_shell);
  EXPECT_FALSE(parseHostConfig(kMinimal + "[session]\npersistent_shell = \"off\"\n", "p.toml")
                   .session.persistent_shell);
  EXPECT_EQ(errorOf(kMinimal + "[session]\npersistent_shell = \"tmux\"\n"),
            "p.toml:6:20: session.persistent_shell: expected \"auto\" or \"off\", got \"tmux\"");
}

TEST(HostConfig, ViewsOutliveTheConfig) {
  TomlConfigViewPtr view;
  {
    HostConfig c = parseHostConfig(kMinimal + "[runtime.fakepod]\nx = \"kept\"\n", "p.toml");
    view = c.runtime.view;
  }
  EXPECT_EQ(view->getString("x", "").value(), "kept");
}

TEST(HostConfig, ParseErrorHasItsPosition) {
  EXPECT_EQ(errorOf("[server]\nlisten = \n"),
            "p.toml:2:10: Error while parsing key-value pair: expected value, saw '\\n'");
}

TEST(HostConfig, UnknownKeys) {
  EXPECT_EQ(errorOf(kMinimal + "[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n"),
            "p.toml:7:9: unknown key server.lisen");
  EXPECT_EQ(errorOf(kMinimal + "[servr]\nlisten = \"x\"\n"), "p.toml:5:1: unknown key servr");
  EXPECT_EQ(errorOf(kMinimal + "[session.extra]\na = 1\n"),
            "p.toml:6:5: unknown key session.extra.a");
  EXPECT_EQ(errorOf("[runtime]\nplugin = \"fakepod\"\nimage = \"x\"\n[auth]\nplugin = \"none\"\n"),
            "p.toml:3:9: unknown key runtime.image");
  EXPECT_EQ(errorOf(kMinimal + "[log]\nlevel = \"debug\"\nfile = \"x\"\n"),
            "p.toml:7:8: unknown key log.file");
  EXPECT_EQ(errorOf(kMinimal + "[plugins]\ndirs = []\n"), "p.toml:6:8: unknown key plugins.dirs");
}

TEST(HostConfig, WrongTypes) {
  EXPECT_EQ(errorOf(kMinimal + "[server]\nevent_loops = \"2\"\n"),
            "p.toml:6:15: server.event_loops: expected an integer, got a string");
  EXPECT_EQ(errorOf(kMinimal + "[server]\nallowed_origins = \"https://a\"\n"),
            "p.toml:6:19: server.allowed_origins: expected an array of strings, got a string");
  EXPECT_EQ(errorOf(kMinimal + "[server]\nallow_loopback_origins = 1\n"),
            "p.toml:6:26: server.allow_loopback_origins: expected a boolean, got an integer");
  EXPECT_EQ(errorOf(kMinimal + "[session]\nshell = [\"/bin/sh\", 1]\n"),
            "p.toml:6:21: session.shell[1]: expected a string, got an integer");
  EXPECT_EQ(errorOf("server = 1\n" + kMinimal),
            "p.toml:1:10: server: expected a table, got an integer");
  EXPECT_EQ(errorOf("[runtime]\nplugin = 1\n[auth]\nplugin = \"none\"\n"),
            "p.toml:2:10: runtime.plugin: expected a string, got an integer");
  EXPECT_EQ(errorOf("[runtime]\nplugin = \"fakepod\"\nfakepod = 1\n[auth]\nplugin = \"none\"\n"),
            "p.toml:3:11: runtime.fakepod: expected a table, got an integer");
}

TEST(HostConfig, MissingPlugin) {
  EXPECT_EQ(errorOf("[auth]\nplugin = \"none\"\n"),
            "p.toml:1:1: runtime.plugin: missing: name the runtime plugin to use, e.g. plugin = "
            "\"fakepod\"");
  EXPECT_EQ(
      errorOf("[runtime]\nplugin = \"fakepod\"\n\n[auth]\n"),
      "p.toml:4:1: auth.plugin: missing: name the auth plugin to use, e.g. plugin = \"none\"");
  EXPECT_EQ(errorOf("[runtime]\nplugin = \"\"\n[auth]\nplugin = \"none\"\n"),
            "p.toml:2:10: runtime.plugin: must not be empty: name the runtime plugin to use, e.g. "
            "plugin = \"fakepod\"");
  EXPECT_EQ(errorOf("[runtime]\nplugin = \"../evil\"\n[auth]\nplugin = \"none\"\n"),
            "p.toml:2:10: runtime.plugin: expected a plugin name (letters, digits, '-' and '_'), "
            "got \"../evil\"");
}

TEST(HostConfig, BadListenAddress) {
  auto listen = [](const std::string& value) {
    return errorOf(kMinimal + "[server]\nlisten = \"" + value + "\"\n");
  };
  EXPECT_EQ(listen("localhost"),
            "p.toml:6:10: server.listen: expected host:port (e.g. \"127.0.0.1:8002\" or "
            "\"[::1]:8002\"), got \"localhost\"");
  EXPECT_EQ(listen("::1:80"),
            "p.toml:6:10: server.listen: expected host:port (e.g. \"127.0.0.1:8002\" or "
            "\"[::1]:8002\"), got \"::1:80\"");
  EXPECT_EQ(listen(":80").substr(0, 38), "p.toml:6:10: server.listen: expected h");
  EXPECT_EQ(listen("127.0.0.1:http"),
            "p.toml:6:10: server.listen: port must be a number from 0 to 65535, got "
            "\"127.0.0.1:http\"");
  EXPECT_EQ(listen("127.0.0.1:65536"),
            "p.toml:6:10: server.listen: port must be a number from 0 to 65535, got "
            "\"127.0.0.1:65536\"");
  EXPECT_EQ(listen("example.com:443"), "");
}

TEST(HostConfig, InvalidValues) {
  EXPECT_EQ(errorOf(kMinimal + "[server]\nevent_loops = 0\n"),
            "p.toml:6:15: server.event_loops: must be between 1 and 256, got 0");
  EXPECT_EQ(
      errorOf(kMinimal + "[server]\nallowed_origins = [\"https://a.example\", \"https://b/\"]\n"),
      "p.toml:6:41: server.allowed_origins[1]: expected an origin like "
      "\"https://app.example.com\" (scheme://host[:port], no path), got \"https://b/\"");
  EXPECT_EQ(errorOf(kMinimal + "[session]\nshell = []\n"),
            "p.toml:6:9: session.shell: must name the shell to run, e.g. [\"/bin/bash\"]");
  EXPECT_EQ(errorOf(kMinimal + "[session]\non_shell_exit = \"reboot\"\n"),
            "p.toml:6:17: session.on_shell_exit: expected \"restart\" or \"close\", got "
            "\"reboot\"");
  EXPECT_EQ(errorOf(kMinimal + "[session]\nattach_mode = \"newest\"\n"),
            "p.toml:6:15: session.attach_mode: expected \"share\" or \"takeover\", got "
            "\"newest\"");
  EXPECT_EQ(errorOf(kMinimal + "[plugins]\npath = []\n"),
            "p.toml:6:8: plugins.path: must name at least one directory");
  EXPECT_EQ(errorOf(kMinimal + "[log]\nlevel = \"verbose\"\n"),
            "p.toml:6:9: log.level: expected one of none, fatal, critical, error, warning, notice, "
            "information, debug, trace, got \"verbose\"");
}

TEST(HostConfig, LoadResolvesPathsAgainstTheFilesDirectory) {
  TempDir dir;
  fs::create_directories(dir.path() / "conf" / "www");
  std::string file =
      dir.write("conf/podterm.toml", kMinimal +
                                         "[server]\nweb_root = \"www\"\n"
                                         "[plugins]\npath = [\"plugins\", \"../lib\", "
                                         "\"/abs\"]\n");
  HostConfig c = loadHostConfig(file);
  EXPECT_EQ(c.base_directory, (dir.path() / "conf").string());
  EXPECT_EQ(c.server.web_root, (dir.path() / "conf" / "www").string());
  EXPECT_EQ(c.plugin_path, (std::vector<std::string>{(dir.path() / "conf" / "plugins").string(),
                                                     (dir.path() / "lib").string(), "/abs"}));
  EXPECT_EQ(c.runtime.view->baseDirectory(), (dir.path() / "conf").string());
}

TEST(HostConfig, LoadErrors) {
  TempDir dir;
  std::string missing = (dir.path() / "missing.toml").string();
  try {
    loadHostConfig(missing);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), missing + ": cannot open: No such file or directory");
  }
  std::string file = dir.write("p.toml", kMinimal + "[server]\nweb_root = \"nowhere\"\n");
  try {
    loadHostConfig(file);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), file + ":6:12: server.web_root: " +
                                         (dir.path() / "nowhere").string() + " is not a directory");
  }
}

}  // namespace
}  // namespace podterm::host

namespace podterm::host {
namespace {

TEST(HostConfig, TlsFiles) {
  TempDir dir;
  dir.write("conf/tls/cert.pem", "certificate");
  dir.write("conf/tls/key.pem", "key");
  const std::string both =
      "[server]\ntls_certificate_file = \"tls/cert.pem\"\ntls_key_file = \"tls/key.pem\"\n";
  HostConfig c = loadHostConfig(dir.write("conf/p.toml", kMinimal + both));
  EXPECT_EQ(c.server.tls_certificate_file, (dir.path() / "conf/tls/cert.pem").string());
  EXPECT_EQ(c.server.tls_key_file, (dir.path() / "conf/tls/key.pem").string());
  // Neither: plain HTTP.
  c = loadHostConfig(dir.write("conf/none.toml", kMinimal));
  EXPECT_EQ(c.server.tls_certificate_file, "");
  EXPECT_EQ(c.server.tls_key_file, "");

  // One without the other, pointing at the one that is there.
  std::string file =
      dir.write("conf/half.toml", kMinimal + "[server]\ntls_certificate_file = \"tls/cert.pem\"\n");
  try {
    loadHostConfig(file);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              file +
                  ":6:24: server.tls_certificate_file: TLS needs both tls_certificate_file and "
                  "tls_key_file; tls_key_file is missing");
  }
  EXPECT_EQ(errorOf(kMinimal + "[server]\ntls_key_file = \"k.pem\"\n"),
            "p.toml:6:16: server.tls_key_file: TLS needs both tls_certificate_file and "
            "tls_key_file; tls_certificate_file is missing");
  // A file that cannot be read.
  file = dir.write("conf/missing.toml", kMinimal +
                                            "[server]\ntls_certificate_file = \"tls/cert.pem\"\n"
                                            "tls_key_file = \"tls/nokey.pem\"\n");
  try {
    loadHostConfig(file);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              file + ":7:16: server.tls_key_file: " + (dir.path() / "conf/tls/nokey.pem").string() +
                  " cannot be read");
  }
}

TEST(HostConfig, WorkspaceTable) {
  HostConfig defaults = parseHostConfig(kMinimal, "p.toml");
  EXPECT_EQ(defaults.workspace.max_file_bytes, 10u * 1024 * 1024);
  EXPECT_EQ(defaults.workspace.excludes,
            (std::vector<std::string>{"node_modules", ".git", "__pycache__", ".venv"}));
  EXPECT_EQ(defaults.workspace.deleted_retention, std::chrono::hours(24 * 7));
  HostConfig set =
      parseHostConfig(kMinimal +
                          "[workspace]\nmax_file_bytes = 1024\nexcludes = [\"target\"]\n"
                          "deleted_retention_h = 1\nlease_ttl_s = 5\nretry_max_s = 2\n",
                      "p.toml");
  EXPECT_EQ(set.workspace.max_file_bytes, 1024u);
  EXPECT_EQ(set.workspace.excludes, std::vector<std::string>{"target"});
  EXPECT_EQ(set.workspace.lease_ttl, std::chrono::seconds(5));
  EXPECT_EQ(errorOf(kMinimal + "[workspace]\nexcludes = [\"a/b\"]\n"),
            "p.toml:6:12: workspace.excludes: entries are single file or folder names, e.g. "
            "\"node_modules\"");
  EXPECT_EQ(errorOf(kMinimal + "[workspace]\nmax_files = 3\n"),
            "p.toml:6:13: unknown key workspace.max_files");
}

}  // namespace
}  // namespace podterm::host

namespace podterm::host {
namespace {

TEST(HostConfig, LimitsTable) {
  HostConfig defaults = parseHostConfig(kMinimal, "p.toml");
  EXPECT_EQ(defaults.limits.max_connections, 4096u);
  EXPECT_EQ(defaults.limits.socket_idle_timeout, std::chrono::seconds(90));
  EXPECT_EQ(defaults.limits.input_burst_bytes, 4u * 1048576);
  EXPECT_EQ(defaults.limits.workspace_max_bytes, uint64_t{1} << 30);
  HostConfig set = parseHostConfig(kMinimal +
                                       "[limits]\nmax_connections = 3\nsessions_per_user = 0\n"
                                       "workspace_max_files = 7\nmax_session_lifetime_s = 0\n",
                                   "p.toml");
  EXPECT_EQ(set.limits.max_connections, 3u);
  EXPECT_EQ(set.limits.sessions_per_user, 0u);
  EXPECT_EQ(set.limits.workspace_max_files, 7u);
  EXPECT_EQ(set.limits.max_session_lifetime, std::chrono::seconds(0));
  EXPECT_EQ(errorOf(kMinimal + "[limits]\nmax_connections = 0\n"),
            "p.toml:6:19: limits.max_connections: must be between 1 and 2147483647, got 0");
  EXPECT_EQ(errorOf(kMinimal + "[limits]\nping_interval_s = 30\nsocket_idle_timeout_s = 30\n"),
            "p.toml:7:25: limits.socket_idle_timeout_s: must be longer than ping_interval_s, or a "
            "client answering every ping would be closed");
  EXPECT_EQ(errorOf(kMinimal + "[limits]\nmax_sessions = 3\n"),
            "p.toml:6:16: unknown key limits.max_sessions");
}

// Operations: the shutdown deadline and the log format.
TEST(HostConfig, ShutdownDeadlineAndLogFormat) {
  HostConfig d = parseHostConfig(kMinimal, "p.toml");
  EXPECT_EQ(d.server.shutdown_deadline, std::chrono::seconds(30));
  EXPECT_EQ(d.log_format, "text");
  HostConfig c = parseHostConfig(
      "[server]\nshutdown_deadline_s = 5\n" + kMinimal + "[log]\nformat = \"json\"\n", "p.toml");
  EXPECT_EQ(c.server.shutdown_deadline, std::chrono::seconds(5));
  EXPECT_EQ(c.log_format, "json");
  EXPECT_NE(errorOf("[server]\nshutdown_deadline_s = 0\n" + kMinimal), "");
  EXPECT_EQ(errorOf(kMinimal + "[log]\nformat = \"xml\"\n"),
            "p.toml:6:10: log.format: expected \"text\" or \"json\", got \"xml\"");
}

}  // namespace
}  // namespace podterm::host
