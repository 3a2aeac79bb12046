#!/usr/bin/env bash
# The Kubernetes runtime against the fake API server (tests/fake-kube-apiserver): connect to the
# first prompt with a cold pod, keystroke echo and command round trip through plugin + fake
# (exec over WebSocket over TLS), to compare with fakepod's figures from benchmarks/run.sh.
#
#   benchmarks/kube.sh [BUILD_DIR]      (default build/release; nothing is built here)
#
# The fake and the host are started by PID and killed by PID on exit; only 127.0.0.1 is used, and
# every step is bounded by its count and by `timeout`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build/release}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
for f in "$BUILD/bin/podterm" "$BUILD/bin/podterm-load" "$BUILD/plugins/runtime-kubernetes.so"; do
  [[ -e $f ]] || { echo "kube.sh: $f is missing; build first" >&2; exit 2; }
done
PORT=${PODTERM_BENCH_PORT:-18097}
WORK=$(mktemp -d /tmp/podterm-kube-bench.XXXXXX)
chmod 755 "$WORK"
FAKE_PID="" HOST_PID=""
cleanup() {
  stop_pid "$HOST_PID" "kube.sh: host"
  stop_pid "$FAKE_PID" "kube.sh: fake API server"
  rm -rf "$WORK"
}
trap cleanup EXIT

/usr/bin/python3 "$ROOT/tests/fake-kube-apiserver/fake_apiserver.py" --port 0 \
  --data-dir "$WORK/data" --token bench >"$WORK/fake.json" 2>"$WORK/fake.log" &
FAKE_PID=$!
for _ in $(seq 1 100); do [[ -s $WORK/fake.json ]] && break; sleep 0.1; done
KUBECONFIG_FILE=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kubeconfig"])' "$WORK/fake.json")

cat >"$WORK/host.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"
[session]
grace_period_s = 0
[plugins]
path = ["$BUILD/plugins"]
[runtime]
plugin = "kubernetes"
[runtime.kubernetes]
credentials = "kubeconfig"
kubeconfig = "$KUBECONFIG_FILE"
run_as_user = 0
restricted = false
[auth]
plugin = "none"
[log]
level = "warning"
TOML
"$BUILD/bin/podterm" --config "$WORK/host.toml" 2>"$WORK/host.log" &
HOST_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, runtime-kubernetes against the fake API server"
load() { timeout 300 "$BUILD/bin/podterm-load" --target "127.0.0.1:$PORT" "$@"; }
load --scenario connect --sessions 10 --concurrency 1
load --scenario echo --iterations 1000
load --scenario command --iterations 300
