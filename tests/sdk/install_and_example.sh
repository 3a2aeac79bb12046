#!/usr/bin/env bash
# sdk.install_and_example: the SDK as a third-party author gets it.
#  1. installs the SDK alone (cmake --install --component sdk) into a fresh prefix in the build tree;
#  2. configures and builds sdk/examples against that prefix only (no package registry, nothing of
#     the build tree), with this build's compiler and flags;
#  3. runs the examples' tests: the SDK's auth and sync policy contract suites over the built
#     plugins;
#  4. runs the real host with both example plugins selected: `podterm plugins` lists them, a bad
#     key table is refused at start with the plugin's message, and the files API answers 401, 403
#     or 200/201 as the auth plugin decides.
# Idempotent: the prefix and the host's state are fresh each run; the example's build tree is
# reused (only what changed is rebuilt).
set -euo pipefail
usage="install_and_example.sh CMAKE CTEST BUILD_DIR SOURCE_DIR PODTERM PLUGIN_DIR GENERATOR MAKE_PROGRAM CXX BUILD_TYPE CXX_FLAGS LINKER_FLAGS ABI"
[ $# = 13 ] || { echo "usage: $usage" >&2; exit 2; }
cmake=$1 ctest=$2 build=$3 source=$4 podterm=$5 plugin_dir=$6 generator=$7 make_program=$8
cxx=$9 build_type=${10} cxx_flags=${11} linker_flags=${12} abi=${13}

work=$build/tests/sdk/install-and-example
prefix=$work/prefix
examples=$work/examples
step() { echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "install the SDK into $prefix"
mkdir -p "$work"
rm -rf "$prefix"
"$cmake" --install "$build" --component sdk --prefix "$prefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install --component sdk failed"; }
# The SDK and nothing of the host.
[ -f "$prefix/lib/cmake/podterm-sdk/podterm-sdkConfigVersion.cmake" ] || fail "no package version file"
[ -f "$prefix/include/podterm/testing/auth_contract.h" ] || fail "no contract suites installed"
[ ! -e "$prefix/bin" ] || fail "the SDK install put programs in $prefix/bin"
grep -q "PACKAGE_VERSION \"$abi\"" "$prefix/lib/cmake/podterm-sdk/podterm-sdkConfigVersion.cmake" ||
  fail "the package version is not the SDK ABI version $abi"

step "configure and build sdk/examples against $prefix only"
"$cmake" -S "$source/sdk/examples" -B "$examples" -G "$generator" \
  -DCMAKE_MAKE_PROGRAM="$make_program" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE="$build_type" -DCMAKE_CXX_FLAGS="$cxx_flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$linker_flags" -DCMAKE_MODULE_LINKER_FLAGS="$linker_flags" \
  -DCMAKE_COMPILE_WARNING_AS_ERROR=ON -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -U "podterm-sdk_DIR" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; fail "configuring the examples failed"; }
grep -q -- "-- podterm-sdk ABI $abi from $prefix/lib/cmake/podterm-sdk$" "$work/configure.log" ||
  { cat "$work/configure.log"; fail "the examples did not find podterm-sdk in $prefix"; }
"$cmake" --build "$examples" -j 2 || fail "building the examples failed"
plugin=$examples/plugins/auth-apikey.so
[ -f "$plugin" ] || fail "no $plugin"
# Hidden visibility: a plugin's own code exports nothing but the descriptor.
for so in "$examples"/plugins/*.so; do
  if nm -DC --defined-only "$so" | grep -q "podterm::"; then
    nm -DC --defined-only "$so" | grep "podterm::"
    fail "$so exports podterm:: symbols: not built with hidden visibility"
  fi
  nm -D --defined-only "$so" | grep -q " podterm_plugin_descriptor$" || fail "$so exports no descriptor"
done

step "the examples' tests (the SDK's auth and sync policy contract suites)"
"$ctest" --test-dir "$examples" --output-on-failure -j 2 || fail "the examples' tests failed"
count=$("$ctest" --test-dir "$examples" -N | sed -n 's/^Total Tests: //p')
[ "${count:-0}" -ge 20 ] || fail "only ${count:-0} tests in the examples: a contract suite did not run"

step "a real host with the example plugin"
state=$(mktemp -d /tmp/podterm-sdk-example.XXXXXX)
chmod 0755 "$state"  # fakepod's sandboxes run as an unprivileged uid
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" || true
  fi
  rm -rf "$state"
}
trap cleanup EXIT
alice_key=alice-key-7d2f1c9a0b
bob_key=bob-key-3e8a6d4c21
config() {  # config KEYS... : a host config selecting the example with this key table
  local keys
  keys=$(printf '"%s", ' "$@")
  cat <<TOML
[server]
listen = "127.0.0.1:0"

[plugins]
path = ["$examples/plugins", "$plugin_dir"]

[runtime]
plugin = "fakepod"

[runtime.fakepod]
data_dir = "$state/fakepod"
network = "none"

[storage]
plugin = "sqlite"

[storage.sqlite]
path = "$state/podterm.db"

[sync]
plugin = "skipreads"

[sync.skipreads]
commands = ["ls", "git status"]

[auth]
plugin = "apikey"

[auth.apikey]
keys = [${keys%, }]

[log]
level = "information"
TOML
}
config "alice:$alice_key" "bob:$bob_key" >"$state/host.toml"

listing=$("$podterm" plugins --config "$state/host.toml") || { echo "$listing"; fail "podterm plugins refused a file"; }
echo "$listing"
grep -Eq "^auth +apikey +0\.1\.0 +$abi +$plugin\$" <<<"$listing" ||
  fail "podterm plugins does not list the example auth plugin"
grep -Eq "^sync +skipreads +0\.1\.0 +$abi +$examples/plugins/sync-skipreads\.so\$" <<<"$listing" ||
  fail "podterm plugins does not list the example sync policy"

config "alice:short" >"$state/bad.toml"
set +e
refusal=$("$podterm" --config "$state/bad.toml" 2>&1)
rc=$?
set -e
[ "$rc" = 78 ] || { echo "$refusal"; fail "the host started (or failed with $rc) with a bad key table"; }
grep -Fq "plugin auth-apikey ($plugin): create failed: $state/bad.toml:" <<<"$refusal" &&
  grep -Fq "auth.apikey.keys: entry 1: the key must be 16 to 256 printable characters" <<<"$refusal" ||
  { echo "$refusal"; fail "the host did not pass on the plugin's config error"; }

"$podterm" --config "$state/host.toml" >"$state/host.log" 2>&1 &
pid=$!
port=""
for _ in $(seq 200); do
  kill -0 "$pid" 2>/dev/null || { cat "$state/host.log"; fail "the host exited at start"; }
  port=$(sed -n 's/.*podterm listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$state/host.log")
  [ -n "$port" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && break
  port=""
  sleep 0.05
done
[ -n "$port" ] || { cat "$state/host.log"; fail "the host did not become ready"; }

url=http://127.0.0.1:$port/api/workspaces/user_alice_ws_w1/items/hello.txt
expect() {  # expect STATUS BODY_SUBSTRING CURL_ARGS...
  local want=$1 text=$2 got
  shift 2
  got=$(curl -s -o "$state/body" -w '%{http_code}' "$@" "$url")
  [ "$got" = "$want" ] || { cat "$state/body"; fail "$url $*: $got, expected $want"; }
  grep -Fq "$text" "$state/body" || { cat "$state/body"; fail "$url $*: the body lacks '$text'"; }
}
expect 401 "an API key is required" -X PUT --data-binary "from nobody"
expect 401 "invalid API key" -X PUT --data-binary "x" -H "Authorization: Bearer not-a-key-00000"
expect 403 "does not open user alice" -X PUT --data-binary "x" -H "Authorization: Bearer $bob_key"
expect 201 '"path":"hello.txt"' -X PUT --data-binary "hello from alice" \
  -H "Authorization: Bearer $alice_key"
expect 200 "hello from alice" -H "Authorization: Bearer $alice_key"
expect 403 "does not open user alice" -H "Authorization: Bearer $bob_key"
! grep -Fq -e "$alice_key" -e "$bob_key" "$state/host.log" || fail "a key reached the host's log"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" = 0 ] || { cat "$state/host.log"; fail "the host exited with $rc on SIGTERM"; }
echo "PASS"
