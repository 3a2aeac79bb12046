#!/usr/bin/env bash
# The peer side by side (issue 7), in one run so every figure comes from the same minutes:
#   1. the bare PTY loop, no server (pty-baseline: the physical limit);
#   2. podterm (fakepod, network "none", no auth): echo, command, throughput, as run.sh does,
#      and 1,000 sessions held;
#   3. websocketd serving bash on a pipe (no PTY): command, throughput;
#   4. websocketd serving bash under `script` (a PTY): echo, command, throughput, 1,000 sessions;
#   5. the spec's naive design, a fresh process per command: a local fork+exec loop of
#      `bash -c 'echo tok'` (no network), and websocketd's own process per connection (connect,
#      spawn bash, one command answered: the `connect` scenario with --no-prompt).
# Prints the tables and writes them to benchmarks/results/<date>_<time>_peer.txt.
#
#   benchmarks/peer.sh [BUILD_DIR]   (default build/release; nothing is built here)
#   PODTERM_LOAD=build/<dir>/bin/podterm-load benchmarks/peer.sh   (a load tool from elsewhere)
#
# Every server is started by PID and killed by PID on exit; every step is bounded (--duration and
# `timeout`); only 127.0.0.1 is used. websocketd runs in --binary mode: in its default line mode
# it appends a newline to every message (a keystroke would become a command line) and sends
# output line by line (a 200 MB line would be one message).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build/release}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
HOST_BIN=$BUILD/bin/podterm
LOAD=${PODTERM_LOAD:-$BUILD/bin/podterm-load}
[[ $LOAD = /* ]] || LOAD=$ROOT/$LOAD
PTY=$BUILD/bin/pty-baseline
PLUGINS=$BUILD/plugins
WSD=${WEBSOCKETD:-/usr/bin/websocketd}
for f in "$HOST_BIN" "$LOAD" "$PTY" "$PLUGINS/runtime-fakepod.so" "$PLUGINS/auth-none.so" "$WSD"; do
  if [[ ! -e $f ]]; then
    echo "peer.sh: $f is missing; build first (cmake --build $BUILD --target podterm" \
      "podterm-load pty-baseline runtime-fakepod auth-none) or install websocketd" >&2
    exit 2
  fi
done
if ! "$LOAD" --help | grep -q -- --no-prompt; then
  echo "peer.sh: $LOAD has no --no-prompt/--path (an old build): cmake --build $BUILD" \
    "--target podterm-load, or set PODTERM_LOAD" >&2
  exit 2
fi
for t in script perl bash; do
  command -v "$t" >/dev/null || {
    echo "peer.sh: $t is required" >&2
    exit 2
  }
done

PORT=${PODTERM_BENCH_PORT:-18091}
WSD_PORT=${PODTERM_PEER_PORT:-18191}
require_free_port peer.sh "$PORT" PODTERM_BENCH_PORT
require_free_port peer.sh "$WSD_PORT" PODTERM_PEER_PORT
TARGET=127.0.0.1:$PORT
WSD_TARGET=127.0.0.1:$WSD_PORT

WORK=$(mktemp -d /tmp/podterm-peer.XXXXXX)
chmod 755 "$WORK" # the sandboxes (uid 65534) must reach their data_dir
mkdir -p "$ROOT/benchmarks/results"
RESULT=$ROOT/benchmarks/results/$(date +%Y-%m-%d_%H%M)_peer.txt
SERVER_PID=""

stop_server() {
  stop_pid "$SERVER_PID" "peer.sh: server"
  SERVER_PID=""
}
cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

out() { echo "$@" | tee -a "$RESULT"; }

wait_port() { # wait_port NAME HOSTPORT: until something listens (bounded: 30 s)
  local name=$1 hp=$2
  for _ in $(seq 1 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "peer.sh: $name exited at start:" >&2
      cat "$WORK/$name.log" >&2
      exit 1
    fi
    if ss -Htln "sport = :${hp##*:}" | grep -q .; then return 0; fi
    sleep 0.1
  done
  echo "peer.sh: $name did not listen in 30 s" >&2
  exit 1
}

start_podterm() {
  local dir=$WORK/podterm
  mkdir -p "$dir"
  # The peers keep no shell across a restart either: compare like with like (run.sh measures dtach).
  bench_host_toml "$TARGET" "$PLUGINS" "$dir/fakepod" >"$dir/host.toml"
  "$HOST_BIN" --config "$dir/host.toml" --plugins "$PLUGINS" >"$WORK/podterm.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "peer.sh: podterm exited at start:" >&2
      cat "$WORK/podterm.log" >&2
      exit 1
    fi
    if curl -fs "http://$TARGET/readyz" >/dev/null 2>&1; then
      out "# podterm (pid $SERVER_PID): fakepod warm_pool=0, network=none, limits=off (no CPU cap on the shells, like the peer's), event_loops=2"
      return 0
    fi
    sleep 0.1
  done
  echo "peer.sh: podterm did not become ready in 30 s" >&2
  exit 1
}

# start_wsd NAME COMMAND...: websocketd --binary serving COMMAND, one process per connection.
start_wsd() {
  local name=$1
  shift
  "$WSD" --port "$WSD_PORT" --address 127.0.0.1 --binary --loglevel error "$@" \
    >"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  wait_port "$name" "$WSD_TARGET"
  out "# $name (pid $SERVER_PID): websocketd $("$WSD" --version 2>&1 | head -1 | awk '{print $2}') --binary $*"
}

# load TARGET DURATION ARGS...: one podterm-load scenario, bounded twice.
load() {
  local target=$1 duration=$2
  shift 2
  timeout --signal=KILL $((duration + 30)) "$LOAD" --target "$target" --duration "$duration" "$@" \
    2>&1 | tee -a "$RESULT" || true
  out ""
}
# The peers' request path and framing.
PEER=(--path / --binary)

: >"$RESULT"
out "podterm peer side by side $(date -u +%Y-%m-%dT%H:%M:%SZ)"
out "commit:  $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (dirty tree)')"
out "build:   $BUILD (load tool: $LOAD)"
out "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
out ""

# 1. The physical limit: a bare PTY and bash, no server.
timeout --signal=KILL 300 "$PTY" --iterations 2000 --commands 1000 --mb 200 2>&1 | tee -a "$RESULT" || true
out ""

# 2. podterm, the same cases as run.sh.
start_podterm
load "$TARGET" 60 --scenario echo --label podterm --sessions 1 --iterations 2000 --timeout 10
load "$TARGET" 60 --scenario command --label podterm --sessions 1 --iterations 1000 --timeout 10
load "$TARGET" 120 --scenario throughput --label podterm --sessions 1 --mb 200 --timeout 15
load "$TARGET" 300 --scenario hold --label "podterm 1000" --host-pid "$SERVER_PID" --sessions 1000 \
  --concurrency 20 --timeout 15
stop_server

# 3. websocketd + bash on a pipe: no PTY, no prompt, no echo.
start_wsd websocketd-bash bash --norc --noprofile
load "$WSD_TARGET" 60 --scenario command --label "websocketd bash" "${PEER[@]}" --no-prompt \
  --sessions 1 --iterations 1000 --timeout 10
load "$WSD_TARGET" 120 --scenario throughput --label "websocketd bash" "${PEER[@]}" --no-prompt \
  --sessions 1 --mb 200 --timeout 15
# 5b. The naive design over the network: websocketd starts one process per connection; connect,
# spawn bash, one command answered (`echo READY`) is what each command would cost.
load "$WSD_TARGET" 120 --scenario connect --label "naive: websocketd, a process per connection" \
  "${PEER[@]}" --no-prompt --sessions 200 --concurrency 1 --timeout 10
stop_server

# 4. websocketd + bash under script(1): a PTY, so readline echoes and prints a prompt.
# PS1 is fixed so the prompt ending is "$ " whoever runs this.
start_wsd websocketd-script env TERM=xterm PS1='peer$ ' script -qfc 'bash --norc --noprofile' /dev/null
load "$WSD_TARGET" 60 --scenario echo --label "websocketd script bash" "${PEER[@]}" \
  --prompt '$ ' --sessions 1 --iterations 2000 --timeout 10
load "$WSD_TARGET" 60 --scenario command --label "websocketd script bash" "${PEER[@]}" \
  --prompt '$ ' --sessions 1 --iterations 1000 --timeout 10
load "$WSD_TARGET" 120 --scenario throughput --label "websocketd script bash" "${PEER[@]}" \
  --prompt '$ ' --sessions 1 --mb 200 --timeout 15
# 1,000 sessions held at their prompts, each answering one command: the server's own RSS and
# threads (a Go process that forks script + bash per connection) against podterm's above.
load "$WSD_TARGET" 300 --scenario hold --label "websocketd script bash 1000" "${PEER[@]}" \
  --prompt '$ ' --host-pid "$SERVER_PID" --sessions 1000 --concurrency 20 --timeout 15
stop_server

# 5a. The naive design without any network: fork+exec `bash -c 'echo tok'` and read its output,
# 500 times (perl: list-form open, no intermediate shell).
out "== naive: a fresh process per command, local (fork+exec bash -c 'echo tok<i>', read it) =="
timeout --signal=KILL 120 perl -MTime::HiRes=time -e '
  my $n = 500; my @t;
  for my $i (1 .. $n) {
    my $t0 = time;
    open(my $fh, "-|", "bash", "-c", "echo tok$i") or die "spawn: $!";
    my $line = <$fh>; close($fh);
    die "bad output" unless $line eq "tok$i\n";
    push @t, (time - $t0) * 1e3;
  }
  @t = sort { $a <=> $b } @t;
  my $q = sub { $t[int($_[0] * ($n - 1) + 0.5)] };
  printf "%-28s %5s %10s %10s %10s %10s  %s\n", "metric", "n", "p50", "p90", "p99", "max", "unit";
  printf "%-28s %5d %10.2f %10.2f %10.2f %10.2f  %s\n", "spawn bash, read its answer",
    $n, $q->(0.5), $q->(0.9), $q->(0.99), $t[-1], "ms";
' 2>&1 | tee -a "$RESULT" || true
out ""

out "results written to $RESULT"
