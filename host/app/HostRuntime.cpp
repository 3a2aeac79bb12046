#include "app/HostRuntime.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <chrono>

#include "app/HostWorkspaceSyncer.h"
#include "app/ListenerExposure.h"
#include "app/LoopScheduler.h"
#include "app/OpenFileLimit.h"
#include "common/Metrics.h"
#include "config/ConfigError.h"
#include "plugin/GuardedAuthenticator.h"
#include "plugin/GuardedPodRuntime.h"
#include "plugin/GuardedStorage.h"
#include "plugin/GuardedSyncPolicy.h"
#include "plugin/PluginLoader.h"
#include "session/PodReaper.h"
#include "session/SessionLeases.h"

namespace podterm::host {
namespace {

Poco::Logger& logger() {
  return Poco::Logger::get("podterm.host");
}

// A plugin must read every key of its table: the rest are typos or keys of another version.
void refuseUnreadKeys(const SlotConfig& slot) {
  auto unknown = slot.view->unknownKeyErrors();
  if (!unknown.empty()) throw ConfigError(unknown.front());
}

template <class T>
std::shared_ptr<T> loadSlot(PluginLoader& loader, sdk::PluginKind kind, const SlotConfig& slot) {
  auto object = loader.load<T>(kind, slot.plugin, *slot.view);
  refuseUnreadKeys(slot);
  return object;
}

SessionOptions sessionOptions(const HostConfig& config) {
  SessionOptions options;
  options.ready_timeout = config.session.ready_timeout;
  options.grace_period = config.session.grace_period;
  options.input_queue_bytes = config.session.input_queue_bytes;
  options.shell = config.session.shell;
  options.sync.retry_max = config.workspace.retry_max;
  options.sessions_per_user = config.limits.sessions_per_user;
  options.pods_per_user = config.limits.pods_per_user;
  options.terminals_per_session = config.limits.terminals_per_session;
  options.pod_scope = config.session.workspace_pods ? PodScope::Workspace : PodScope::Session;
  options.max_lifetime = config.limits.max_session_lifetime;
  options.scrollback_lines = config.session.scrollback_lines;
  options.output_log_bytes = config.session.output_log_bytes;
  options.on_shell_exit = config.session.restart_shell ? SessionOptions::OnShellExit::Restart
                                                       : SessionOptions::OnShellExit::Close;
  options.attach_mode = config.session.attach_takes_over ? SessionOptions::AttachMode::TakeOver
                                                         : SessionOptions::AttachMode::Share;
  options.idle_timeout = config.session.idle_timeout;
  options.idle_warning = config.session.idle_warning;
  options.persistent_shell = config.session.persistent_shell;
  return options;
}

}  // namespace

HostRuntime::HostRuntime(const HostConfig& config) : config_(config) {
  // Before the plugins start anything that would inherit the old limit.
  open_files_ = raiseOpenFileLimit();
  if (open_files_.raised_from != 0) {
    logger().information("open-file limit raised from %z to %z (hard limit %z)",
                         open_files_.raised_from, open_files_.soft, open_files_.hard);
  }
  loader_ = std::make_unique<PluginLoader>(config_.plugin_path);
  runtime_ = std::make_shared<GuardedPodRuntime>(
      loadSlot<sdk::PodRuntime>(*loader_, sdk::PluginKind::Runtime, config_.runtime),
      "runtime-" + config_.runtime.plugin);
  auth_ = std::make_shared<GuardedAuthenticator>(
      loadSlot<sdk::Authenticator>(*loader_, sdk::PluginKind::Auth, config_.auth),
      "auth-" + config_.auth.plugin, config_.limits.auth_timeout);
  refuseUnauthenticatedExposure();
  // Files API: storage is optional; without it the host serves terminals only.
  if (!config_.storage.plugin.empty()) {
    storage_ = std::make_shared<GuardedStorage>(
        loadSlot<sdk::Storage>(*loader_, sdk::PluginKind::Storage, config_.storage),
        "storage-" + config_.storage.plugin);
  }

  loops_ =
      std::make_unique<EventLoopGroup>(static_cast<size_t>(config_.server.event_loops), "loop");
  timers_ = std::make_unique<LoopScheduler>(loops_->at(0));
  workers_ = std::make_unique<WorkerPool>(4, "worker");
  Session::Context context{*runtime_, *timers_, *workers_};
  if (storage_) {
    // Files: the sync engine between pods and storage, and the policy that says when it runs.
    if (!config_.sync.plugin.empty()) {
      policy_ = std::make_shared<GuardedSyncPolicy>(
          loadSlot<sdk::SyncPolicy>(*loader_, sdk::PluginKind::SyncPolicy, config_.sync),
          "sync-" + config_.sync.plugin);
    }
    SyncOptions options;
    options.max_file_bytes = static_cast<int64_t>(config_.workspace.max_file_bytes);
    options.excludes = config_.workspace.excludes;
    options.lease_ttl = config_.workspace.lease_ttl;
    options.quota = {config_.limits.workspace_max_bytes, config_.limits.workspace_max_files};
    // A pod adopted after its host died (or kept, or taken over) holds files its last host may
    // not have saved: they are saved before the stored ones are loaded over them.
    options.save_before_load = true;
    syncer_ =
        std::make_unique<HostWorkspaceSyncer>(*runtime_, *storage_, options, events_, *workers_);
    context.syncer = syncer_.get();
    context.policy = policy_.get();
  }
  sessions_ = std::make_unique<SessionManager>(sessionOptions(config_), context);
  reaper_ = std::make_unique<PodReaper>(
      *runtime_, *sessions_, syncer_.get(), *workers_, *timers_,
      PodReaperOptions{config_.session.orphan_pod_ttl, config_.session.reap_interval});
  // Several replicas share a database other than SQLite's file: each session's pod is owned by
  // the replica that holds its lease (docs/operations.md).
  if (storage_ && config_.storage.plugin != "sqlite") {
    SessionLeaseOptions lease_options;
    lease_options.holder = config_.session.host_id;
    lease_options.ttl =
        std::chrono::duration_cast<std::chrono::milliseconds>(config_.session.lease_ttl);
    leases_ = std::make_unique<SessionLeases>(
        *storage_, *workers_, *timers_, lease_options,
        [this](const std::string& pod_id, const std::string&) {
          sessions_->dropPod(pod_id, SessionLeases::kMovedCode, SessionLeases::kMovedReason);
        });
    SessionManager::OwnershipHooks hooks;
    SessionLeases* leases = leases_.get();
    hooks.pod_starting = [leases](const std::string& pod_id) { leases->take(pod_id); };
    hooks.pod_ended = [leases](const std::string& pod_id) { leases->release(pod_id); };
    hooks.remote_pods = [leases](const std::string& prefix) { return leases->othersNow(prefix); };
    sessions_->setOwnershipHooks(std::move(hooks));
    reaper_->setLeases(leases);
  }

  TerminalEndpointOptions terminal;
  terminal.origins = {config_.server.allowed_origins, config_.server.allow_loopback_origins};
  terminal.max_message_bytes = config_.server.max_message_bytes;
  terminal.output_high_watermark = config_.session.output_high_watermark;
  terminal.max_connections = maxConnections();
  if (terminal.max_connections < config_.limits.max_connections) {
    terminal.max_connections_source =
        "the open-file limit of " + std::to_string(open_files_.soft) + " descriptors";
  }
  terminal.ping_interval = config_.limits.ping_interval;
  terminal.idle_timeout = config_.limits.socket_idle_timeout;
  terminal.input_bytes_per_s = config_.limits.input_bytes_per_s;
  terminal.input_burst_bytes = config_.limits.input_burst_bytes;
  terminal_ = std::make_unique<TerminalEndpoint>(terminal, *auth_, *sessions_, *loops_);

  // Files API.
  if (storage_) {
    WorkspaceApiOptions api;
    api.origins = terminal.origins;
    api.quota = {config_.limits.workspace_max_bytes, config_.limits.workspace_max_files};
    workspaces_ =
        std::make_unique<WorkspaceApi>(api, *auth_, *storage_, events_, *loops_, syncer_.get());
  }

  // The admin API: this host's sessions, for principals the auth plugin calls administrators.
  AdminApiOptions admin;
  admin.origins = terminal.origins;
  admin_ = std::make_unique<AdminApi>(admin, *auth_, *sessions_, *runtime_);

  HttpFrontOptions http;
  http.listen_host = config_.server.listen_host;
  http.listen_port = config_.server.listen_port;
  http.http_threads = config_.server.http_threads;
  http.origins = terminal.origins;
  http.web_root = config_.server.web_root;
  http.handshake_timeout = config_.limits.handshake_timeout;
  http.tls_certificate_file = config_.server.tls_certificate_file;
  http.tls_key_file = config_.server.tls_key_file;
  http_ =
      std::make_unique<HttpFront>(http, *terminal_, readiness_, workspaces_.get(), admin_.get());
}

size_t HostRuntime::maxConnections() const {
  const size_t fit = connectionsWithin(open_files_.soft);
  if (fit >= config_.limits.max_connections) return config_.limits.max_connections;
  logger().warning(
      "limits.max_connections is %z but an open-file limit of %z leaves room for %z terminals "
      "(about %z descriptors each, %z kept for the host): terminals beyond %z are refused with "
      "503; raise the host's open-file limit (ulimit -n, systemd LimitNOFILE=) to take more",
      config_.limits.max_connections, open_files_.soft, fit, kDescriptorsPerConnection,
      kReservedDescriptors, fit);
  return fit;
}

void HostRuntime::refuseUnauthenticatedExposure() const {
  std::string warning;
  std::string problem = listenerExposureProblem(config_.server.listen_host, config_.auth.plugin,
                                                auth_->verifiesCredentials(),
                                                config_.server.allow_unauthenticated, warning);
  if (!problem.empty()) throw ConfigError(config_.file + ": " + problem);
  if (!warning.empty()) logger().warning("%s", warning);
}

HostRuntime::~HostRuntime() {
  stop();
}

void HostRuntime::start() {
  loops_->start();
  http_->start();
  if (storage_) schedulePurge();
  if (leases_) leases_->start();
  reaper_->start();
  metrics::registerAll();
  metrics::registry().setGaugeFunction(
      "podterm_sessions_live", "Sessions (ids) on this host (starting, live or ending).",
      [this] { return static_cast<double>(sessions_->sessionIdCount()); });
  metrics::registry().setGaugeFunction(
      "podterm_terminals_live", "Terminals of those sessions (starting, live or ending).",
      [this] { return static_cast<double>(sessions_->sessionCount()); });
  metrics::registry().setGaugeFunction(
      "podterm_terminal_state_bytes",
      "Heap bytes the terminals keep for a reattach: output log, screen and scrollback.",
      [this] { return static_cast<double>(sessions_->terminalStateBytes()); });
  readiness_.setReady(true);
  logger().information("podterm listening on %s:%hu (runtime %s, auth %s)",
                       config_.server.listen_host, http_->port(), config_.runtime.plugin,
                       config_.auth.plugin);
}

// A graceful shutdown (SIGTERM): unready first while the listener still answers (/readyz 503, new
// terminal upgrades 503), then every session ends with 1001 after its final sync (which takes and
// releases the workspace lease), keeping its pod: a client that reconnects through another replica
// resumes in it, and that replica's reaper or next session owns it from then on. Only then does
// the listener stop. The whole of it stays inside server.shutdown_deadline_s; the application's
// watchdog ends the process if a backend hangs past it.
void HostRuntime::stop() {
  if (stopped_) return;
  stopped_ = true;
  readiness_.setDraining();
  const size_t live = sessions_->sessionCount();
  logger().information("draining: /readyz unready, new terminals refused, ending %z session(s)",
                       live);
  reaper_->stop();
  // The rest of the teardown (threads joined, plugins destroyed) gets the remainder.
  const auto deadline =
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.server.shutdown_deadline);
  const auto drain = deadline - std::min(deadline / 4, std::chrono::milliseconds(5000));
  sessions_->endAll(1001, "server shutting down", drain, /*keep_pods=*/true);
  if (sessions_->sessionCount() > 0) {
    logger().warning("draining: %z session(s) still ending after %?d ms", sessions_->sessionCount(),
                     static_cast<int64_t>(drain.count()));
  }
  // The kept pods are free for a reconnect through another replica, or its reaper.
  if (leases_) leases_->stop();
  http_->stop();
  metrics::registry().clearGaugeFunction("podterm_sessions_live");  // sessions_ goes below
  metrics::registry().clearGaugeFunction("podterm_terminals_live");
  metrics::registry().clearGaugeFunction("podterm_terminal_state_bytes");
  workers_->stop();
  loops_->stop();
  // Objects from plugins go before the libraries that hold their code.
  reaper_.reset();
  sessions_.reset();
  leases_.reset();
  syncer_.reset();
  policy_.reset();
  terminal_.reset();
  admin_.reset();
  workspaces_.reset();  // files API
  storage_.reset();     // files API
  runtime_.reset();
  auth_.reset();
  loader_.reset();
}

// Soft-deleted rows are kept for the retention period (so `rm -rf *` can be undone), then purged.
void HostRuntime::schedulePurge() {
  timers_->runAfter(std::chrono::minutes(10), [this] {
    if (stopped_) return;
    workers_->execute([this] {
      auto cutoff = std::chrono::system_clock::now() - config_.workspace.deleted_retention;
      auto purged = storage_->purgeDeleted(
          std::chrono::duration_cast<std::chrono::milliseconds>(cutoff.time_since_epoch()).count());
      if (purged && purged.value() > 0) {
        logger().information("purged %Ld deleted items past their retention", purged.value());
      }
    });
    schedulePurge();
  });
}

uint16_t HostRuntime::port() const {
  return http_->port();
}

}  // namespace podterm::host
