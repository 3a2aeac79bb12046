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

# For a sanitizer build (make test's): known leaks of system libraries are suppressed, and a
# report stops the test that caused it. Harmless for other builds.
export LSAN_OPTIONS="suppressions=$here/../tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" --timeout 300

# The libFuzzer harnesses (clang, build/fuzz), briefly; `deploy/run-fuzz.sh 300` runs longer.
"$here/run-fuzz.sh" "${PODTERM_FUZZ_SECONDS:-5}"
