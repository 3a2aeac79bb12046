#!/usr/bin/env bash
# Installs what building, running and testing podterm needs on Debian 12, as root.
# Idempotent: when everything is present it only asks dpkg and returns in well under a second.
# postgresql brings the server binaries deploy/pg-up.sh uses; installing it starts no cluster.
set -euo pipefail

APT_PACKAGES=(
  cmake ninja-build pkg-config g++ clang-format
  libpoco-dev libboost-dev libtomlplusplus-dev libcurl4-openssl-dev libssl-dev
  libpq-dev libsqlite3-dev libarchive-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql bubblewrap slirp4netns util-linux procps python3 python3-yaml
  python3-aiohttp python3-kubernetes
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
