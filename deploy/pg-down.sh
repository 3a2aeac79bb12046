#!/usr/bin/env bash
# Stops a server started by deploy/pg-up.sh and removes its directory.
#   deploy/pg-down.sh [PGTMP]     (defaults to $PGTMP)
# Only ever touches the cluster in that directory; a no-op when it is gone.
set -euo pipefail

dir=${1:-${PGTMP:-}}
if [ -z "$dir" ]; then
  echo "usage: pg-down.sh PGTMP (the directory pg-up.sh printed)" >&2
  exit 2
fi
case "$dir" in
  /tmp/podterm-pg.*) ;;
  *) echo "pg-down: $dir was not made by pg-up.sh; refusing to remove it" >&2; exit 2 ;;
esac
[ -d "$dir" ] || exit 0

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
RUN=()
if [ "$(id -u)" = 0 ]; then RUN=(runuser -u postgres --); fi
if [ -f "$dir/data/postmaster.pid" ]; then
  "${RUN[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null || true
fi
rm -rf "$dir"
