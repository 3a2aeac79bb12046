#!/usr/bin/env bash
# Installs what building, running and testing podterm needs on Debian 12, as root.
# Idempotent: when everything is present it only asks dpkg and returns in well under a second.
# postgresql brings the server binaries deploy/pg-up.sh uses; installing it starts no cluster.
set -euo pipefail

APT_PACKAGES=(
  cmake ninja-build pkg-config g++ clang-format
  libpoco-dev libboost-dev libtomlplusplus-dev libcurl4-openssl-dev libssl-dev
  libpq-dev libsqlite3-dev libarchive-dev libyaml-dev libvterm-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql bubblewrap slirp4netns util-linux procps python3 python3-yaml dtach tmux
  python3-aiohttp python3-kubernetes
  chromium fonts-liberation
  clang libclang-rt-14-dev python3-websocket
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The web page's npm packages (xterm.js and its fit addon; playwright-core for the browser test),
# exactly as host/web/package-lock.json says; only when node_modules is missing or older than it.
web_dir="$(cd "$(dirname "$0")/.." && pwd)/host/web"
web_stamp="$web_dir/node_modules/.package-lock.json"
if [ ! -f "$web_stamp" ] || [ "$web_dir/package-lock.json" -nt "$web_stamp" ]; then
  if ! command -v npm >/dev/null; then
    echo "install-deps: npm is missing: install Node.js 20 with npm, then run this again" >&2
    exit 1
  fi
  echo "install-deps: npm ci in host/web"
  (cd "$web_dir" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$web_stamp"
fi
