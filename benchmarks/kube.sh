#!/usr/bin/env bash
# The Kubernetes runtime against the fake API server (tests/fake-kube-apiserver): connect to the
# first prompt with a cold pod and with a warm-pool pod, and keystroke echo and command round trip
# through plugin + fake (exec over WebSocket over TLS) next to fakepod's, measured in the same run.
#
#   benchmarks/kube.sh [BUILD_DIR]      (default build/release; nothing is built here)
#
# Three hosts, one after the other, on 127.0.0.1:$PODTERM_BENCH_PORT (default 18097): kubernetes
# with warm_pool = 0 (cold connect, echo, command), kubernetes with warm_pool = $WARM (connect once
# the pool's pods are Ready, so every session claims one), and fakepod (echo, command). The fake
# and each host are started by PID and killed by PID; only 127.0.0.1 is used, and every step is
# bounded by its count and by `timeout`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build/release}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
for f in "$BUILD/bin/podterm" "$BUILD/bin/podterm-load" "$BUILD/plugins/runtime-kubernetes.so" \
  "$BUILD/plugins/runtime-fakepod.so" "$BUILD/plugins/auth-none.so"; do
  [[ -e $f ]] || { echo "kube.sh: $f is missing; build first" >&2; exit 2; }
done
PORT=${PODTERM_BENCH_PORT:-18097}
WARM=8
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
[[ -s $WORK/fake.json ]] || { echo "kube.sh: the fake API server did not start" >&2; exit 1; }
field() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/fake.json" "$1"; }
KUBECONFIG_FILE=$(field kubeconfig)

# start_host NAME RUNTIME_TABLE: a fresh config, then wait for /readyz.
start_host() {
  local name=$1 runtime=$2
  mkdir -p "$WORK/$name"
  cat >"$WORK/$name/host.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"
[session]
grace_period_s = 0
[plugins]
path = ["$BUILD/plugins"]
$runtime
$(limits_table)

[auth]
plugin = "none"
[log]
level = "warning"
TOML
  "$BUILD/bin/podterm" --config "$WORK/$name/host.toml" 2>"$WORK/$name/host.log" &
  HOST_PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "kube.sh: host '$name' did not become ready" >&2
  cat "$WORK/$name/host.log" >&2
  exit 1
}
stop_host() {
  stop_pid "$HOST_PID" "kube.sh: host"
  HOST_PID=""
}
kube_table() {
  cat <<TOML
[runtime]
plugin = "kubernetes"
[runtime.kubernetes]
credentials = "kubeconfig"
kubeconfig = "$KUBECONFIG_FILE"
run_as_user = 0
restricted = false
warm_pool = $1
TOML
}
# pool_ready N: waits (bounded) until the fake holds N unclaimed pool pods that are Running+Ready.
pool_ready() {
  /usr/bin/python3 - "$WORK/fake.json" "$1" <<'PY'
import json, ssl, sys, time, urllib.request
info, want = json.load(open(sys.argv[1])), int(sys.argv[2])
ctx = ssl.create_default_context(cafile=info["ca"])
url = info["url"] + "/api/v1/namespaces/default/pods?labelSelector=podterm.io%2Fpool"
deadline = time.time() + 60
while time.time() < deadline:
    req = urllib.request.Request(url, headers={"Authorization": "Bearer bench"})
    items = json.load(urllib.request.urlopen(req, context=ctx, timeout=10))["items"]
    ready = [p for p in items if not p["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
    if len(ready) >= want:
        sys.exit(0)
    time.sleep(0.1)
sys.exit("kube.sh: the warm pool did not fill in 60 s")
PY
}
load() { timeout 300 "$BUILD/bin/podterm-load" --target "127.0.0.1:$PORT" "$@"; }

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, commit $(git -C "$ROOT" rev-parse --short HEAD), runtime-kubernetes against the fake API server"

echo "## kubernetes, warm_pool = 0"
start_host kube-cold "$(kube_table 0)"
load --scenario connect --label cold --sessions 10 --concurrency 1
load --scenario echo --iterations 1000
load --scenario command --iterations 300
stop_host

echo "## kubernetes, warm_pool = $WARM"
start_host kube-warm "$(kube_table $WARM)"
pool_ready $WARM
sleep 0.5  # the fake's Ready events reach the host's watch (ms); not part of any figure
load --scenario connect --label warm --sessions $WARM --concurrency 1
stop_host

echo "## fakepod (the same machine, the same minute)"
start_host fakepod "$(printf '[runtime]\nplugin = "fakepod"\n[runtime.fakepod]\ndata_dir = "%s"\nnetwork = "none"\nwarm_pool = 0\n' "$WORK/fakepod/data")"
load --scenario echo --iterations 1000
load --scenario command --iterations 300
stop_host
