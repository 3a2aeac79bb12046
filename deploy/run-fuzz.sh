#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz with clang (build/fuzz, configured once, rebuilt
# only when a source changed) and runs every target over its seed corpus for the given time.
# Fails when any target finds a crash, a sanitizer report or a violated property.
#
#   deploy/run-fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#     default 5 s per target (what `make test` runs); e.g. 300 for a longer run.
#   FUZZ_JOBS=N   targets run side by side (default 2)
#
# New inputs a run finds go to build/fuzz/corpus/<target>/ (kept between runs, never in git);
# crashes to build/fuzz/artifacts/; each target's log to build/fuzz/logs/<target>.log.
# tests/fuzz/README.md says how to reproduce a crash and when to promote an input to a seed.
set -euo pipefail

seconds=${1:-5}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
src="$root/tests/fuzz"
out="$root/build/fuzz"
jobs=${FUZZ_JOBS:-2}

if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "run-fuzz.sh: seconds per target must be a positive integer, got '$seconds'" >&2
  exit 2
fi

# Each target and its largest input: a few frames, an id, a control message, a config file,
# a tar stream of a few entries (the seeds include a real 10240-byte-blocked one).
declare -A max_len=(
  [frame_server]=4096 [frame_client]=4096 [frame_roundtrip]=4096
  [session_id]=512 [control_message]=4096 [host_config]=8192 [exec_channel]=4096
  [pod_listing]=8192 [workspace_paths]=8192 [sync_tar]=65536
)
declare -A dict=([control_message]=json.dict [exec_channel]=json.dict [host_config]=toml.dict)
all_targets=(frame_server frame_client frame_roundtrip session_id control_message host_config
  exec_channel pod_listing workspace_paths sync_tar)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
for t in "${targets[@]}"; do
  if [ -z "${max_len[$t]:-}" ]; then
    echo "run-fuzz.sh: unknown target '$t' (one of: ${all_targets[*]})" >&2
    exit 2
  fi
done

# One run at a time per build/fuzz: two would race in Ninja and in the logs (make test and a
# long run started by hand, say). A second run waits for the first.
mkdir -p "$out"
exec 9>"$out/.lock"
if ! flock -n 9; then
  echo "run-fuzz.sh: another run holds $out/.lock; waiting for it" >&2
  flock 9
fi

# Configure once; ninja re-runs CMake itself when a CMakeLists.txt changes.
if [ ! -f "$out/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$src" -B "$out" -G Ninja >"$out/configure.log" 2>&1 || {
    cat "$out/configure.log" >&2
    exit 1
  }
fi
if ! cmake --build "$out" -j "$jobs" -- "${targets[@]}" >"$out/build.log" 2>&1; then
  cat "$out/build.log" >&2
  exit 1
fi

mkdir -p "$out/logs" "$out/artifacts"
run_target() {
  local t=$1
  local corpus="$out/corpus/$t"
  mkdir -p "$corpus"
  local args=(-max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=10
    -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1
    -artifact_prefix="$out/artifacts/$t-")
  [ -n "${dict[$t]:-}" ] && args+=(-dict="$src/${dict[$t]}")
  # The first directory receives new inputs; the seeds are only read.
  if "$out/$t" "${args[@]}" "$corpus" "$src/corpus/$t" >"$out/logs/$t.log" 2>&1; then
    local runs execs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/logs/$t.log" | tail -1)
    execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/logs/$t.log" | tail -1)
    printf 'fuzz %-16s ok   %8s runs  %6s exec/s  %4s corpus entries\n' "$t" "$runs" "$execs" \
      "$(find "$corpus" "$src/corpus/$t" -type f | wc -l)"
  else
    printf 'fuzz %-16s FAILED (log: %s)\n' "$t" "${out#"$root/"}/logs/$t.log"
    grep -a -E -m 12 -A 3 'property violated|ERROR: |runtime error|SUMMARY|Test unit written' \
      "$out/logs/$t.log" | sed 's/^/    /'
    return 1
  fi
}

failed=0
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  run_target "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done

if [ "$failed" -ne 0 ]; then
  echo "run-fuzz.sh: a fuzz target failed; reproduce with build/fuzz/<target> <artifact>" >&2
  exit 1
fi
