#!/usr/bin/env bash
# `podterm plugins` end to end: the real binary over the fixture plugins (one of each refusal) and
# the built plugins. Usage: list_plugins_command.sh PODTERM FIXTURE_DIR PLUGIN_DIR ABI_VERSION
set -u
podterm=$1 fixtures=$2 plugins=$3 abi=$4
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect_line PATTERN: the output has a line matching the extended regex (anchored).
expect_line() { grep -Eq -- "^$1\$" <<<"$out" || fail "no line matching: $1"; }

out=$("$podterm" plugins --plugins "$fixtures" --plugins "$plugins" 2>&1); rc=$?
echo "$out"
[ "$rc" = 1 ] || fail "exit status $rc with refused files, expected 1"
expect_line "plugin search path \\(this host: SDK ABI $abi\\):"
expect_line "  $fixtures"
expect_line "KIND +NAME +VERSION +ABI +FILE"
expect_line "runtime +good +1\\.2\\.3 +$abi +$fixtures/runtime-good\\.so"
expect_line "auth +none +[0-9.]+ +$abi +$plugins/auth-none\\.so"
expect_line "refused \\(the host will not load these\\):"
expect_line "  $fixtures/runtime-oldabi\\.so \\(SDK ABI $((abi + 1))\\): built for SDK ABI $((abi + 1)), this host has ABI $abi; rebuild it against this SDK"
expect_line "  $fixtures/runtime-nodescriptor\\.so: no symbol podterm_plugin_descriptor \\(not a podterm plugin\\)"
expect_line "  $fixtures/runtime-unknownkind\\.so \\(SDK ABI $abi\\): declares unknown kind 7 .*"
expect_line "  $fixtures/runtime-wrongkind\\.so \\(auth wrongkind 1\\.2\\.3, SDK ABI $abi\\): is an auth plugin, expected runtime"
# Refused files are not in the table.
grep -Eq "^runtime +oldabi" <<<"$out" && fail "the old-ABI fixture is listed as usable"

# The same directory twice: every file of the second is a duplicate the host never loads.
out=$("$podterm" plugins --plugins "$plugins" --plugins "$plugins/." 2>&1); rc=$?
[ "$rc" = 1 ] || fail "exit status $rc with duplicates, expected 1"
expect_line "  $plugins/auth-none\\.so: duplicate of $plugins/auth-none\\.so, which comes first in the plugin path"

# Only usable plugins: exit 0. A config's [plugins] path is searched after --plugins.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/only"
cp "$plugins/auth-none.so" "$tmp/only/"
printf '[plugins]\npath = ["%s"]\n[runtime]\nplugin = "fakepod"\n[auth]\nplugin = "none"\n' \
  "$tmp/only" >"$tmp/host.toml"
out=$("$podterm" plugins --config "$tmp/host.toml" 2>&1); rc=$?
[ "$rc" = 0 ] || fail "exit status $rc with only usable plugins, expected 0"
expect_line "auth +none +[0-9.]+ +$abi +$tmp/only/auth-none\\.so"
grep -q "refused" <<<"$out" && fail "nothing should be refused: $out"

# Usage errors: no search path; an unknown command.
out=$("$podterm" plugins 2>&1); rc=$?
[ "$rc" = 64 ] || fail "exit status $rc without a search path, expected 64 (usage)"
expect_line "podterm plugins: no search path: give --config FILE or --plugins DIR"
out=$("$podterm" plugin --plugins "$plugins" 2>&1); rc=$?
[ "$rc" = 64 ] || fail "exit status $rc for an unknown command, expected 64 (usage)"
expect_line "podterm: unknown command plugin"

[ "$failures" = 0 ] && echo "PASS" || { echo "$failures failure(s)"; exit 1; }
