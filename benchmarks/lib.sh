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

# bench_host_toml LISTEN PLUGINS DATA_DIR [WARM_POOL [LIMITS [PERSISTENT]]]: the config of every
# benchmarked host: fakepod with no network, no auth, grace 0, two event loops, the limits above.
# LIMITS is fakepod's `limits`, "off" by default: the sandbox's shell is not held to the spec's
# 500m CPU (a pod property, not the terminal server's: `head | tr` under 500m makes about half of
# what the bare PTY loop, which has no limit, makes). PERSISTENT is session.persistent_shell, "off"
# by default (fakepod's sandboxes end with the host, so a shell kept under dtach survives nothing).
bench_host_toml() {
  local listen=$1 plugins=$2 data_dir=$3 warm=${4:-0} limits=${5:-off} persistent=${6:-off}
  cat <<TOML
[server]
listen = "$listen"
event_loops = 2

[session]
grace_period_s = 0
persistent_shell = "$persistent"

[plugins]
path = ["$plugins"]

[runtime]
plugin = "fakepod"

[runtime.fakepod]
data_dir = "$data_dir"
network = "none"
warm_pool = $warm
limits = "$limits"

$(limits_table)

[auth]
plugin = "none"

[log]
level = "warning"
TOML
}

# require_free_port LABEL PORT VARIABLE: exits 2 (naming VARIABLE, which sets another port) when
# something listens on 127.0.0.1:PORT already.
require_free_port() {
  if ss -Htln "sport = :$2" | grep -q .; then
    echo "$1: port $2 is in use; set $3" >&2
    exit 2
  fi
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

# median VALUES...: the median of the numbers given ("-" for none).
median() {
  printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g | awk '
    { a[NR] = $1 }
    END {
      if (NR == 0) print "-"
      else if (NR % 2) print a[(NR + 1) / 2]
      else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2
    }'
}

# bare_mbs PTY_BASELINE / host_mbs LOAD TARGET: one 200 MB throughput run of the bare PTY loop
# or of a host, in MB/s (empty when it failed). Bounded by timeouts.
bare_mbs() {
  timeout 60 "$1" --iterations 1 --commands 1 --mb 200 2>&1 | awk '/output throughput/ {print $3}'
}
host_mbs() {
  timeout 60 "$1" --target "$2" --scenario throughput --mb 200 --timeout 15 --duration 40 2>&1 |
    awk '/output per session/ {print $5}'
}

# throughput_vs_bare TARGET LOAD PTY ROUNDS: the bare PTY loop's and the host's 200 MB throughput,
# ROUNDS times each, in a random order within each round, then their medians and the ratio of the
# medians. Why rounds: on a shared 2-core VM one run of either moves by 20-30% (which CPUs the
# writer, the kernel's PTY worker and the reader land on), so a single pair decides nothing.
# Bounded: each run has a timeout, ROUNDS <= 30.
throughput_vs_bare() {
  local target=$1 load=$2 pty=$3 rounds=$4 r k bare host
  local bares=() hosts=()
  ((rounds >= 1 && rounds <= 30)) || { echo "throughput_vs_bare: ROUNDS must be 1..30" >&2; return 2; }
  printf '%-6s %10s %10s %8s\n' round bare_MB/s host_MB/s ratio
  for ((r = 1; r <= rounds; r++)); do
    bare="" host=""
    for k in $(printf 'bare\nhost\n' | shuf); do
      if [[ $k == bare ]]; then
        bare=$(bare_mbs "$pty")
      else
        host=$(host_mbs "$load" "$target")
      fi
    done
    printf '%-6s %10s %10s %8s\n' "$r" "${bare:--}" "${host:--}" \
      "$(awk -v b="$bare" -v h="$host" 'BEGIN { if (b > 0 && h > 0) printf "%.2f", h / b; else print "-" }')"
    bares+=("$bare")
    hosts+=("$host")
  done
  local mb mh
  mb=$(median "${bares[@]}")
  mh=$(median "${hosts[@]}")
  printf 'throughput over %d alternating rounds: bare PTY median %s MB/s, host median %s MB/s, ratio of medians %s\n' \
    "$rounds" "$mb" "$mh" \
    "$(awk -v b="$mb" -v h="$mh" 'BEGIN { if (b > 0 && h > 0) printf "%.2f", h / b; else print "-" }')"
}
