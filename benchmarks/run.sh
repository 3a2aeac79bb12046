#!/usr/bin/env bash
# One repeatable benchmark run: the bare PTY baseline, then podterm-load against a fresh host
# (fakepod sandboxes, network "none", no auth) for every scenario; prints the tables and writes
# them to benchmarks/results/<date>_<time>.txt.
#
#   benchmarks/run.sh [BUILD_DIR]     (default build/release; nothing is built here)
#   PODTERM_BENCH_ROUNDS=N (default 9): alternating bare/host throughput rounds
#
# Every step is bounded (--duration and `timeout`), the whole run takes a few minutes. The host
# is started by PID and killed by PID on exit. Only 127.0.0.1 is used.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build/release}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
HOST_BIN=$BUILD/bin/podterm
LOAD=$BUILD/bin/podterm-load
PTY=$BUILD/bin/pty-baseline
PLUGINS=$BUILD/plugins
for f in "$HOST_BIN" "$LOAD" "$PTY" "$PLUGINS/runtime-fakepod.so" "$PLUGINS/auth-none.so"; do
  if [[ ! -e $f ]]; then
    echo "run.sh: $f is missing; build first:" >&2
    echo "  cmake --preset release && cmake --build build/release -j\$(nproc)" >&2
    echo "  (or pass another build directory: benchmarks/run.sh build/<dir>)" >&2
    exit 2
  fi
done

PORT=${PODTERM_BENCH_PORT:-18091}
require_free_port run.sh "$PORT" PODTERM_BENCH_PORT
TARGET=127.0.0.1:$PORT

WORK=$(mktemp -d /tmp/podterm-bench.XXXXXX)
chmod 755 "$WORK" # the sandboxes (uid 65534) must reach their data_dir
mkdir -p "$ROOT/benchmarks/results"
RESULT=$ROOT/benchmarks/results/$(date +%Y-%m-%d_%H%M).txt
HOST_PID=""

stop_host() {
  stop_pid "$HOST_PID" "run.sh: host"
  HOST_PID=""
}
cleanup() {
  stop_host
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1000 sessions: one socket each in the load tool; about 10 descriptors each in the host (socket,
# PTY, process handles).
HARD=$(ulimit -Hn)
if [[ $HARD == unlimited || $HARD -ge 65536 ]]; then ulimit -n 65536; else ulimit -n "$HARD"; fi
if [[ $(ulimit -n) -lt 16384 ]]; then
  echo "run.sh: the open-file limit $(ulimit -n) is too low for 1000 sessions (need 16384)" >&2
  exit 2
fi

out() { echo "$@" | tee -a "$RESULT"; }

# start_host NAME WARM_POOL [LIMITS [PERSISTENT]]: a fresh config (bench_host_toml) and data
# directory, then wait for /readyz. One throughput run with LIMITS "auto" shows the spec's 500m CPU;
# the dtach host below has PERSISTENT "auto".
start_host() {
  local name=$1 warm=$2 limits=${3:-off} persistent=${4:-off}
  local dir=$WORK/$name
  mkdir -p "$dir"
  bench_host_toml "$TARGET" "$PLUGINS" "$dir/fakepod" "$warm" "$limits" "$persistent" >"$dir/host.toml"
  "$HOST_BIN" --config "$dir/host.toml" --plugins "$PLUGINS" >"$dir/host.log" 2>&1 &
  HOST_PID=$!
  for _ in $(seq 1 300); do
    if ! kill -0 "$HOST_PID" 2>/dev/null; then
      echo "run.sh: the host exited at start:" >&2
      cat "$dir/host.log" >&2
      exit 1
    fi
    if curl -fs "http://$TARGET/readyz" >/dev/null 2>&1; then
      out "# host '$name' (pid $HOST_PID): fakepod warm_pool=$warm, network=none, limits=$limits, persistent_shell=$persistent, event_loops=2, grace_period_s=0"
      return 0
    fi
    sleep 0.1
  done
  echo "run.sh: the host did not become ready in 30 s" >&2
  exit 1
}

# load DURATION ARGS...: one podterm-load scenario, bounded twice (--duration and timeout).
load() {
  local duration=$1
  shift
  timeout --signal=KILL $((duration + 30)) "$LOAD" --target "$TARGET" --duration "$duration" \
    --host-pid "$HOST_PID" "$@" 2>&1 | tee -a "$RESULT" || true
  out ""
}

: >"$RESULT"
out "podterm benchmark run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
out "commit:  $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (dirty tree)')"
out "build:   $BUILD"
out "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
out ""

# The physical limit: a bare PTY and bash, no server.
timeout --signal=KILL 300 "$PTY" --iterations 2000 --commands 1000 --mb 200 2>&1 | tee -a "$RESULT" || true
out ""

# Cold connect: no warm pool, one session at a time.
start_host cold 0
load 120 --scenario connect --label cold --sessions 20 --concurrency 1 --timeout 15
stop_host

# Warm connect: a pool of 8 pre-started sandboxes, 8 sessions one at a time.
start_host warm 8
sleep 5 # let the pool fill
load 60 --scenario connect --label warm --sessions 8 --concurrency 1 --timeout 15
stop_host

# Everything else on one host without a pool (so no refill runs in the background).
start_host main 0
load 60 --scenario echo --sessions 1 --iterations 2000 --timeout 10
load 60 --scenario command --sessions 1 --iterations 1000 --timeout 10
load 120 --scenario command --sessions 100 --concurrency 20 --iterations 20 --timeout 15
load 120 --scenario throughput --sessions 1 --mb 200 --timeout 15
# The throughput target (>= 0.95x the bare PTY) is read from alternating rounds, not from the
# single pair above.
throughput_vs_bare "$TARGET" "$LOAD" "$PTY" "${PODTERM_BENCH_ROUNDS:-9}" 2>&1 | tee -a "$RESULT"
out ""
load 120 --scenario hold --label 100 --sessions 100 --concurrency 20 --timeout 15
out "$(no_shell_outlives "$HOST_PID" 100)"
load 300 --scenario hold --label 1000 --sessions 1000 --concurrency 20 --timeout 15
out "$(no_shell_outlives "$HOST_PID" 1000)"
# Every session opened at the same moment (ttyd resets 20-40% of 500 this way): all must succeed.
load 200 --scenario hold --label 500-at-once --sessions 500 --timeout 120
out "$(no_shell_outlives "$HOST_PID" 500-at-once)"
load 300 --scenario hold --label 1000-at-once --sessions 1000 --timeout 180
out "$(no_shell_outlives "$HOST_PID" 1000-at-once)"
stop_host

# What a Kubernetes deployment's default (persistent_shell = "auto") costs: the shell under dtach
# behind a second PTY. fakepod's own configs turn it off (its sandboxes end with the host anyway).
start_host persistent 0 off auto
load 60 --scenario echo --label dtach --sessions 1 --iterations 2000 --timeout 10
load 60 --scenario command --label dtach --sessions 1 --iterations 1000 --timeout 10
load 120 --scenario throughput --label dtach --sessions 1 --mb 200 --timeout 15
stop_host

# The same throughput with the sandbox held to the spec's 500m CPU (cgroup limits where the
# machine allows them): what a user of a default pod sees.
start_host limited 0 auto
load 120 --scenario throughput --label pod-500m --sessions 1 --mb 200 --timeout 15
stop_host

out "results written to $RESULT"
