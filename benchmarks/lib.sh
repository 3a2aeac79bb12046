# Shared by the benchmark scripts (sourced): the hosts' [limits] table, and stopping a server they
# started, by its PID only.

# limits_table: the [limits] of every benchmarked host. The load tool opens every session as one
# user: no per-user caps, and no input rate or lifetime limit in a measurement.
limits_table() {
  cat <<'TOML'
[limits]
sessions_per_user = 0
pods_per_user = 0
input_bytes_per_s = 0
max_session_lifetime_s = 0
max_connections = 100000
TOML
}

# stop_pid PID LABEL: SIGTERM, wait up to 20 s, then SIGKILL; reaps it. No-op for an empty PID.
stop_pid() {
  local pid=$1 label=$2
  [[ -n $pid ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$label $pid did not stop in 20 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

# descendants PID: how many processes descend from PID (the host's sandboxes and their shells).
descendants() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END {
      n = 0
      for (p in parent) {
        q = parent[p]
        while (q != "" && q != 0 && q != 1) {
          if (q == root) { n++; break }
          q = parent[q]
        }
      }
      print n
    }'
}

# no_shell_outlives PID LABEL: after the load tool closed its sessions, wait (at most 60 s) until
# nothing descends from the host any more, and report what is left. A pool (warm_pool > 0) would
# keep its sandboxes: call this only on hosts without one.
no_shell_outlives() {
  local pid=$1 label=$2 left
  for _ in $(seq 1 600); do
    left=$(descendants "$pid")
    [[ $left -eq 0 ]] && break
    sleep 0.1
  done
  echo "processes left under the host after '$label' closed its sessions: $left"
}
