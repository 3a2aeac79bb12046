#!/usr/bin/env bash
# Starts the host with the embedded defaults and prints where to point a browser or client.
# The page comes from the build tree of the same preset (--web-root), so any preset works.
set -euo pipefail
build_dir=${1:?usage: run-local.sh BUILD_DIR CONFIG}
config=${2:?usage: run-local.sh BUILD_DIR CONFIG}
echo "podterm: open http://127.0.0.1:8002/  (terminal: ws://127.0.0.1:8002/api/terminal/ws/<session_id>)"
exec "$build_dir/bin/podterm" --config "$config" --plugins "$build_dir/plugins" \
  --web-root "$build_dir/web"
