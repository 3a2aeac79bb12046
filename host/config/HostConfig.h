#pragma once
// The host's config file: its own tables, typed, with defaults, and the plugin selected for each
// slot together with a view of that plugin's table.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/ConfigError.h"
#include "config/TomlConfigView.h"

namespace podterm::host {

struct ServerConfig {
  std::string listen = "127.0.0.1:8002";  // as written; Poco::Net::SocketAddress accepts it
  std::string listen_host = "127.0.0.1";  // without the brackets of an IPv6 address
  uint16_t listen_port = 8002;            // 0: any free port
  int event_loops = 2;
  int http_threads = 8;
  // Both or neither (absolute paths, PEM): the listener speaks HTTPS/WSS itself, for a deployment
  // without an ingress in front (docs/security.md).
  std::string tls_certificate_file;
  std::string tls_key_file;
  std::vector<std::string> allowed_origins;  // exact "scheme://host[:port]"; empty: Origin == Host
  bool allow_loopback_origins = false;
  std::string web_root;  // absolute; empty: nothing served at /
  size_t max_message_bytes = 1048576;
  // An auth plugin that verifies no credential (auth-none) on a listener outside 127.0.0.0/8 and
  // ::1 lets anyone act as anyone: the host refuses to start unless this says it is meant.
  bool allow_unauthenticated = false;
  // SIGTERM: the process exits within this, drained or not (a hung backend cannot hold it).
  std::chrono::seconds shutdown_deadline{30};
};

struct SessionConfig {
  std::chrono::seconds ready_timeout{60};
  std::chrono::seconds grace_period{30};  // how long a session outlives its last client
  size_t input_queue_bytes = 65536;       // input queued before the pod is ready
  size_t output_high_watermark = 1048576;
  std::vector<std::string> shell{"/bin/bash"};
  std::chrono::seconds orphan_pod_ttl{600};  // pods no session owns are reaped after this
  std::chrono::seconds reap_interval{300};   // between reaper rounds
  // Several replicas on one database (PostgreSQL): a session lease not renewed for this long is
  // free (renewed every third of it), and this replica's name in the leases ("": generated).
  std::chrono::seconds lease_ttl{30};
  std::string host_id;
  size_t scrollback_lines = 1000;     // kept per session for a reattaching client
  size_t output_log_bytes = 1048576;  // output kept per session for ?since=N
  bool restart_shell = true;          // on_shell_exit: "restart" (true) or "close"
  bool attach_takes_over = false;     // attach_mode: "share" (false) or "takeover"
  // persistent_shell: "auto" (true: under dtach, else tmux, when the image has one) or "off".
  bool persistent_shell = true;
  std::chrono::seconds idle_timeout{0};   // 0: sessions are never culled for idling
  std::chrono::seconds idle_warning{60};  // the notice comes this long before
  // pod_scope: "session" (false: a pod per session id) or "workspace" (true: one pod per
  // workspace, shared by its sessions, each with its own shells).
  bool workspace_pods = false;
};

// How a workspace's files are kept in step with its pods ([workspace]; see docs/sync.md).
struct WorkspaceConfig {
  size_t max_file_bytes = 10 * 1024 * 1024;  // larger files are skipped with a notice
  std::vector<std::string> excludes{"node_modules", ".git", "__pycache__", ".venv"};
  std::chrono::hours deleted_retention{24 * 7};  // soft-deleted rows are purged after this
  std::chrono::seconds lease_ttl{30};            // the per-workspace sync lease
  std::chrono::seconds retry_max{30};            // longest wait between retries of a failed sync
};

// Limits that keep one hostile or runaway client from hurting the others ([limits]; the defaults
// table in docs/protocol.md). Zero disables a limit where the comment says so.
struct LimitsConfig {
  size_t max_connections = 4096;               // WebSocket connections per host, all users
  std::chrono::seconds handshake_timeout{10};  // request line to the end of the upgrade
  std::chrono::seconds ping_interval{30};  // server pings keep proxies from dropping idle sockets
  std::chrono::seconds socket_idle_timeout{
      90};                                 // no frame at all (pongs included): that socket closes
  size_t input_bytes_per_s = 1048576;      // sustained input per session; 0: unlimited
  size_t input_burst_bytes = 4 * 1048576;  // input allowed at once (a large paste)
  size_t sessions_per_user = 16;           // live sessions of one user; 0: unlimited
  size_t pods_per_user = 16;               // pods of one user; 0: unlimited
  size_t terminals_per_session = 8;        // `?term=` terminals of one session id; 0: unlimited
  std::chrono::seconds max_session_lifetime{86400};  // 0: unlimited
  uint64_t workspace_max_bytes = uint64_t{1} << 30;  // stored bytes per workspace; 0: unlimited
  size_t workspace_max_files = 100000;               // stored files per workspace; 0: unlimited
  std::chrono::milliseconds auth_timeout{2000};      // an auth plugin slower than this refuses
};

// One plugin slot ([runtime], [storage], [sync], [auth]).
struct SlotConfig {
  std::string plugin;  // empty: no plugin (optional slots only)
  // The table [<slot>.<plugin>] (an empty view placed at [<slot>] when absent; an empty view named
  // <slot> when plugin is empty). Never null. After the plugin's create(), unknownKeyErrors() on
  // it names the keys the plugin does not know.
  TomlConfigViewPtr view;
};

struct HostConfig {
  std::string file;            // as given to loadHostConfig: the name messages show
  std::string base_directory;  // absolute directory of the file
  ServerConfig server;
  SessionConfig session;
  WorkspaceConfig workspace;
  LimitsConfig limits;
  std::vector<std::string> plugin_path;  // absolute directories, in search order
  SlotConfig runtime;                    // required
  SlotConfig storage;
  SlotConfig sync;
  SlotConfig auth;                        // required
  std::string log_level = "information";  // a Poco priority name
  std::string log_format = "text";        // "text" or "json" (one object per line)
};

// Reads and checks the file. Throws ConfigError (one line, "file:line:column: dotted.key: message")
// on a parse error, an unknown key or a wrong type in the host's own tables, a missing required
// plugin or an invalid value. Plugin tables are checked later, through SlotConfig::view.
HostConfig loadHostConfig(const std::string& file);

// The same for a document already in memory; `file` names it in messages and relative paths
// resolve against its directory.
HostConfig parseHostConfig(std::string_view toml, const std::string& file);

}  // namespace podterm::host
