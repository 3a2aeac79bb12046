#!/usr/bin/env bash
# Runs every test of a configured and built tree. Services the tests need are started here and
# stopped on exit: a throwaway PostgreSQL on 127.0.0.1 (deploy/pg-up.sh) for the storage tests,
# which must then run rather than skip (PODTERM_REQUIRE_PG=1).
set -euo pipefail
build_dir=${1:?usage: run-tests.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)

eval "$("$here/pg-up.sh")"
trap '"$here/pg-down.sh" "$PGTMP"' EXIT
export PODTERM_PGTEST_PORT PODTERM_REQUIRE_PG=1

ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" --timeout 300
