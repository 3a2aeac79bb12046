#!/usr/bin/env bash
# As many sessions as this machine holds (issue 7): one fresh host (fakepod, network "none", as
# run.sh), then `hold` runs of growing size, 20 opening at a time, each session at its prompt with
# one command answered, all held together; stops at the first size with a failure (or at MAX)
# and reports the largest size served whole, with the machine's own limits beside it.
#
#   benchmarks/capacity.sh [BUILD_DIR (default build/release)] [MAX (default 5000, the load tool's cap)]
#
# Bounded: sizes 2000, 2500, 3000, 4000, 5000 up to MAX, each run capped by --duration and
# `timeout`; the host is started and killed by PID; only 127.0.0.1. Writes
# benchmarks/results/<date>_<time>_capacity.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build/release}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
MAX=${2:-5000}
((MAX >= 100 && MAX <= 5000)) || { echo "capacity.sh: MAX must be 100..5000" >&2; exit 2; }
for f in bin/podterm bin/podterm-load plugins/runtime-fakepod.so plugins/auth-none.so; do
  [[ -e $BUILD/$f ]] || { echo "capacity.sh: $BUILD/$f is missing; build first" >&2; exit 2; }
done
PORT=${PODTERM_BENCH_PORT:-18092}
require_free_port capacity.sh "$PORT" PODTERM_BENCH_PORT
TARGET=127.0.0.1:$PORT
WORK=$(mktemp -d /tmp/podterm-capacity.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$ROOT/benchmarks/results"
RESULT=$ROOT/benchmarks/results/$(date +%Y-%m-%d_%H%M)_capacity.txt
HOST_PID=""
cleanup() {
  stop_pid "$HOST_PID" "capacity.sh: host"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
out() { echo "$@" | tee -a "$RESULT"; }

# Every session costs the host about 7 descriptors and the load tool one: as many as allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

: >"$RESULT"
out "podterm capacity run $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
out "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), MemAvailable $(awk '/MemAvailable/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
out "limits: open files $(ulimit -n) (hard $(ulimit -Hn)), processes $(ulimit -u), kernel.pid_max $(cat /proc/sys/kernel/pid_max), user.max_user_namespaces $(cat /proc/sys/user/max_user_namespaces)"
out ""

bench_host_toml "$TARGET" "$BUILD/plugins" "$WORK/fakepod" >"$WORK/host.toml"
"$BUILD/bin/podterm" --config "$WORK/host.toml" --plugins "$BUILD/plugins" >"$WORK/host.log" 2>&1 &
HOST_PID=$!
for _ in $(seq 1 300); do
  curl -fs "http://$TARGET/readyz" >/dev/null 2>&1 && break
  kill -0 "$HOST_PID" 2>/dev/null || { cat "$WORK/host.log" >&2; exit 1; }
  sleep 0.1
done
out "host pid $HOST_PID, open files allowed $(awk '/Max open files/ {print $4}' /proc/$HOST_PID/limits)"

served=0
for n in 2000 2500 3000 4000 5000; do
  ((n <= MAX)) || break
  report=$(timeout --signal=KILL 900 "$BUILD/bin/podterm-load" --target "$TARGET" --duration 600 \
    --host-pid "$HOST_PID" --scenario hold --label "$n" --sessions "$n" --concurrency 20 \
    --timeout 60 2>&1 || true)
  echo "$report" | tee -a "$RESULT"
  out "$(no_shell_outlives "$HOST_PID" "$n")"
  kill -0 "$HOST_PID" 2>/dev/null || { out "the host died at $n sessions:"; tail -20 "$WORK/host.log" | tee -a "$RESULT"; break; }
  if grep -q "^failures *none" <<<"$report"; then
    served=$n
  else
    out "at $n sessions: not all served (the failures line above says how); the host's log:"
    grep -v '^$' "$WORK/host.log" | tail -5 | tee -a "$RESULT"
    break
  fi
done
out ""
out "largest number of sessions held at once with none failing: $served (of at most $MAX tried)"
out "results written to $RESULT"
