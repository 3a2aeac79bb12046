#!/usr/bin/env bash
# A/B of two builds in the same minutes: on a shared 2-core VM the bare PTY itself moves by 30%
# from one run to the next, so two builds are compared by alternating them, round after round,
# with the bare PTY loop in between, and reading medians.
#
#   benchmarks/ab.sh BUILD_A BUILD_B [ROUNDS (default 8)]
#
# Each build's own podterm and plugins run a host (fakepod, network "none", persistent_shell off,
# as run.sh) on 127.0.0.1:18193 (A) and :18194 (B); both are killed by PID on exit. Per round:
# the bare PTY's 200 MB throughput, then A's and B's (podterm-load of BUILD_A), then a 2,000-key
# echo on A and on B, A and B in a random order. Bounded: every step has a timeout, ROUNDS <= 30.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
abs() { [[ $1 = /* ]] && echo "$1" || echo "$ROOT/$1"; }
A=$(abs "${1:?usage: ab.sh BUILD_A BUILD_B [ROUNDS]}")
B=$(abs "${2:?usage: ab.sh BUILD_A BUILD_B [ROUNDS]}")
ROUNDS=${3:-8}
((ROUNDS >= 1 && ROUNDS <= 30)) || { echo "ab.sh: ROUNDS must be 1..30" >&2; exit 2; }
for b in "$A" "$B"; do
  for f in bin/podterm bin/podterm-load bin/pty-baseline plugins/runtime-fakepod.so plugins/auth-none.so; do
    [[ -e $b/$f ]] || { echo "ab.sh: $b/$f is missing; build first" >&2; exit 2; }
  done
done
WORK=$(mktemp -d /tmp/podterm-ab.XXXXXX)
chmod 755 "$WORK"
PID_A="" PID_B=""
cleanup() {
  stop_pid "$PID_A" "ab.sh: host A"
  stop_pid "$PID_B" "ab.sh: host B"
  rm -rf "$WORK"
}
trap cleanup EXIT

start_host() { # NAME BUILD PORT -> prints the PID
  local dir=$WORK/$1
  mkdir -p "$dir"
  bench_host_toml "127.0.0.1:$3" "$2/plugins" "$dir/fakepod" >"$dir/host.toml"
  "$2/bin/podterm" --config "$dir/host.toml" --plugins "$2/plugins" >"$dir/host.log" 2>&1 &
  echo $!
}
PID_A=$(start_host a "$A" 18193)
PID_B=$(start_host b "$B" 18194)
for port in 18193 18194; do
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { echo "ab.sh: host on $port not ready" >&2; exit 1; }
done

LOAD=$A/bin/podterm-load
mbs() { host_mbs "$LOAD" "127.0.0.1:$1"; }
echo_p50() { timeout 60 "$LOAD" --target "127.0.0.1:$1" --scenario echo --iterations 2000 \
  --timeout 15 --duration 40 2>&1 | awk '/echo .x/ {print $5}'; }

echo "ab.sh $(date -u +%Y-%m-%dT%H:%M:%SZ): A=$A B=$B, $ROUNDS rounds, $(nproc) cores"
printf '%-6s %10s %10s %10s %12s %12s %8s\n' round bare_MB/s A_MB/s B_MB/s A_echo_us B_echo_us load
for r in $(seq 1 "$ROUNDS"); do
  bare=$(bare_mbs "$A/bin/pty-baseline")
  # A and B in a random order each round, so that an order effect cannot pass for a difference.
  if ((RANDOM % 2)); then
    ta=$(mbs 18193); tb=$(mbs 18194); ea=$(echo_p50 18193); eb=$(echo_p50 18194)
  else
    tb=$(mbs 18194); ta=$(mbs 18193); eb=$(echo_p50 18194); ea=$(echo_p50 18193)
  fi
  printf '%-6s %10s %10s %10s %12s %12s %8s\n' "$r" "${bare:--}" "${ta:--}" "${tb:--}" "${ea:--}" \
    "${eb:--}" "$(cut -d' ' -f1 /proc/loadavg)"
done
