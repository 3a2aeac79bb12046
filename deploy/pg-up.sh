#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests: a fresh cluster in a temporary directory
# (owned by the postgres user when run as root, since initdb refuses root), listening on
# 127.0.0.1 only, on a free port, with trust auth and fsync off. Prints what the caller needs:
#
#   eval "$(deploy/pg-up.sh)"    # exports PGTMP and PODTERM_PGTEST_PORT
#   deploy/pg-down.sh "$PGTMP"   # stops it and removes the directory
#
# Diagnostics go to stderr; the server log is $PGTMP/server.log.
set -euo pipefail

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "pg-up: no PostgreSQL server binaries under /usr/lib/postgresql (deploy/install-deps.sh installs them)" >&2
  exit 1
fi

# A port nothing listens on: ask the kernel for one, unless the caller chose it (PGUP_PORT).
port=${PGUP_PORT:-}
if [ -z "$port" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
fi

# Not under /root or $HOME: the postgres user must be able to reach it.
PGTMP=$(mktemp -d /tmp/podterm-pg.XXXXXX)
RUN=()
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$PGTMP"
  RUN=(runuser -u postgres --)
fi

if ! "${RUN[@]}" "$PGBIN/initdb" -D "$PGTMP/data" -U postgres -A trust -E UTF8 --no-locale \
    --no-sync >"$PGTMP/initdb.log" 2>&1; then
  echo "pg-up: initdb failed, see $PGTMP/initdb.log:" >&2
  tail -5 "$PGTMP/initdb.log" >&2
  exit 1
fi
if ! "${RUN[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PGTMP -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null; then
  echo "pg-up: the server did not start, see $PGTMP/server.log:" >&2
  tail -5 "$PGTMP/server.log" >&2
  exit 1
fi
echo "export PGTMP=$PGTMP PODTERM_PGTEST_PORT=$port"
