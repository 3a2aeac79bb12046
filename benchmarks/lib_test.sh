#!/usr/bin/env bash
# Checks lib.sh's median and throughput_vs_bare against stand-ins for pty-baseline and
# podterm-load that print the real tools' report lines with known figures.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "lib_test: $*" >&2; exit 1; }

[[ $(median 3 1 2) == 2 ]] || fail "median of 3 1 2"
[[ $(median 4 1 2 3) == 2.5 ]] || fail "median of 4 1 2 3"
[[ $(median) == - ]] || fail "median of nothing"
[[ $(median 5 - "") == 5 ]] || fail "median skips missing figures"

# Each stand-in prints the next figure of its list, in the tools' own layout.
printf '%s\n' 100.0 120.0 80.0 >"$T/bare.list"
printf '%s\n' 90.0 99.0 60.0 >"$T/host.list"
cat >"$T/pty" <<STUB
#!/usr/bin/env bash
v=\$(head -1 "$T/bare.list"); sed -i 1d "$T/bare.list"
printf '%-28s %s\n' "output throughput" "\$v MB/s (200 MB in 2.0 s)"
STUB
cat >"$T/load" <<STUB
#!/usr/bin/env bash
v=\$(head -1 "$T/host.list"); sed -i 1d "$T/host.list"
printf '%-28s %s\n' "output per session (p50)" "\$v MB/s"
STUB
chmod +x "$T/pty" "$T/load"
out=$(throughput_vs_bare 127.0.0.1:1 "$T/load" "$T/pty" 3)
echo "$out"
grep -Eq '^2 +120.0 +99.0 +0.82$' <<<"$out" || fail "round 2 not reported"
grep -q 'bare PTY median 100.0 MB/s, host median 90.0 MB/s, ratio of medians 0.90' <<<"$out" ||
  fail "medians or their ratio wrong"
[[ ! -s $T/bare.list && ! -s $T/host.list ]] || fail "not every round ran both"
if throughput_vs_bare 127.0.0.1:1 "$T/load" "$T/pty" 31 2>/dev/null; then fail "31 rounds accepted"; fi
# require_free_port: passes a free port, exits 2 on one a listener holds (a bounded wait for it).
python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1)
open(sys.argv[1],"w").write(str(s.getsockname()[1])); time.sleep(30)' "$T/port" &
LISTENER=$!
for _ in $(seq 1 100); do [[ -s $T/port ]] && break; sleep 0.05; done
busy=$(cat "$T/port")
(require_free_port lib_test "$busy" X) 2>/dev/null && { kill "$LISTENER"; fail "a port in use passed"; }
kill "$LISTENER"
wait "$LISTENER" 2>/dev/null || true
(require_free_port lib_test "$busy" X) || fail "a free port was refused"
echo "lib_test: ok"
