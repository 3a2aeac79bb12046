#!/usr/bin/env python3
"""RFC 6455 conformance of the host's server side, against the real podterm binary.

Autobahn|Testsuite does not install here, so its server cases that apply to us (framing, ping/pong,
reserved bits, opcodes, fragmentation, UTF-8, close handling, limits) are rebuilt with raw
sockets: every frame is built by hand, so invalid ones can be sent on purpose. The host is not an
echo server: text frames go to a shell (fakepod), so a text case checks the shell's answer, and a
binary frame (a control message to the host) is ignored when it is not one.

After every case a new connection must still be served (upgrade, then a ping answered).

Usage: ws_conformance.py --host build/.../podterm --plugins build/.../plugins [-k substring]
Exit status 0 when every case passes; each failure is printed with what was expected.
"""

import argparse
import base64
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_MESSAGE = 1 << 20  # server.max_message_bytes default (the test config does not change it)

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class CaseFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CaseFailure(message)


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None):
    """One client frame. length overrides the header's payload length (the payload sent stays
    what it is); rsv is the three RSV bits as a number 0..7."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0x80 if mask else 0
    if n < 126:
        header = struct.pack("!BB", b0, mask_bit | n)
    elif n <= 0xFFFF:
        header = struct.pack("!BBH", b0, mask_bit | 126, n)
    else:
        header = struct.pack("!BBQ", b0, mask_bit | 127, n)
    if not mask:
        return header + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return header + key + masked


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class Conn:
    """A raw WebSocket client connection to the host."""

    def __init__(self, port, session, protocol=None, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /api/terminal/ws/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
        )
        if protocol:
            request += f"Sec-WebSocket-Protocol: {protocol}\r\n"
        self.sock.sendall((request + "\r\n").encode())
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            check(time.monotonic() < deadline, "no upgrade response")
            chunk = self._recv(deadline)
            check(chunk, f"connection closed during the handshake: {self.buf!r}")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        check(lines[0].startswith("HTTP/1.1 101"), f"upgrade refused: {lines[0]}")
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        check(headers.get("sec-websocket-accept") == accept, "wrong Sec-WebSocket-Accept")
        self.text = b""  # text frames received so far (the shell's output)

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        self.sock.settimeout(left)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return b""

    def send(self, data):
        self.sock.sendall(data)

    def _need(self, n, deadline):
        while len(self.buf) < n:
            chunk = self._recv(deadline)
            if chunk is None:
                raise CaseFailure("timed out waiting for a frame")
            if not chunk:
                return False
            self.buf += chunk
        return True

    def read_frame(self, timeout=10.0):
        """(fin, opcode, payload), or None at EOF."""
        deadline = time.monotonic() + timeout
        if not self._need(2, deadline):
            check(not self.buf, f"EOF inside a frame header: {self.buf!r}")
            return None
        b0, b1 = self.buf[0], self.buf[1]
        check(b0 & 0x70 == 0, "server frame with RSV bits set")
        check(b1 & 0x80 == 0, "server frame is masked")
        n, pos = b1 & 0x7F, 2
        if n == 126:
            check(self._need(4, deadline), "EOF inside a frame header")
            n, pos = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            check(self._need(10, deadline), "EOF inside a frame header")
            n, pos = struct.unpack("!Q", self.buf[2:10])[0], 10
        check(self._need(pos + n, deadline), "EOF inside a frame payload")
        payload = self.buf[pos : pos + n]
        self.buf = self.buf[pos + n :]
        opcode = b0 & 0x0F
        if opcode == OP_TEXT or (opcode == OP_CONT and self._in_text):
            self.text += payload
        self._in_text = (opcode == OP_TEXT or (opcode == OP_CONT and self._in_text)) and not (
            b0 & 0x80
        )
        return bool(b0 & 0x80), opcode, payload

    _in_text = False

    def expect_pong(self, payload, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            f = self.read_frame(max(0.01, deadline - time.monotonic()))
            check(f is not None, "EOF while waiting for a pong")
            _, opcode, got = f
            check(opcode != OP_CLOSE, f"closed while waiting for a pong: {got!r}")
            if opcode == OP_PONG:
                check(got == payload, f"pong payload {got[:40]!r} != ping payload {payload[:40]!r}")
                return

    def expect_output(self, needle, timeout=20.0):
        if isinstance(needle, str):
            needle = needle.encode()
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            f = self.read_frame(max(0.01, deadline - time.monotonic()))
            check(f is not None, f"EOF while waiting for {needle!r}")
            check(f[1] != OP_CLOSE, f"closed while waiting for {needle!r}: {f[2]!r}")

    def expect_close(self, codes, timeout=10.0):
        """Reads up to the server's Close; checks its code, answers it, and checks that nothing
        follows it but the end of the TCP connection."""
        if isinstance(codes, int):
            codes = (codes,)
        deadline = time.monotonic() + timeout
        while True:
            f = self.read_frame(max(0.01, deadline - time.monotonic()))
            check(f is not None, f"TCP closed without a close frame (expected {codes})")
            fin, opcode, payload = f
            if opcode == OP_CLOSE:
                break
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        check(code in codes, f"close code {code} ({payload[2:]!r}), expected {codes}")
        try:
            self.send(frame(OP_CLOSE, payload[:2]))
        except OSError:
            pass  # the server may already be gone
        f = self.read_frame(max(0.01, deadline - time.monotonic()))
        check(f is None, f"a frame after the server's close: {f!r}")
        return code

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Host:
    def __init__(self, binary, plugins):
        binary, plugins = os.path.abspath(binary), os.path.abspath(plugins)
        self.dir = tempfile.mkdtemp(prefix="podterm-conformance.")
        os.chmod(self.dir, 0o755)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = os.path.join(self.dir, "host.toml")
        with open(config, "w") as f:
            f.write(
                f'[server]\nlisten = "127.0.0.1:{self.port}"\nevent_loops = 2\n'
                "[session]\ngrace_period_s = 0\n"
                f'[plugins]\npath = ["{plugins}"]\n'
                f'[runtime]\nplugin = "fakepod"\n[runtime.fakepod]\ndata_dir = "{self.dir}/fakepod"\n'
                '[auth]\nplugin = "none"\n'
                # Every case is a new session of user 1: the per-user caps are not under test.
                "[limits]\nsessions_per_user = 0\npods_per_user = 0\n"
            )
        self.log = open(os.path.join(self.dir, "host.log"), "wb")
        self.proc = subprocess.Popen(
            [binary, "--config", config], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("podterm exited at start:\n" + self.log_text())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("podterm did not become ready:\n" + self.log_text())

    def log_text(self):
        with open(os.path.join(self.dir, "host.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if not os.environ.get("PODTERM_KEEP_CONFORMANCE"):
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Cases. Each takes (host, session id) and raises CaseFailure.

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn

    return register


def protocol_error(name, data, codes=1002):
    """A case that sends data on a fresh connection and expects the server to close with codes."""

    def run(host, session):
        c = Conn(host.port, session)
        try:
            c.send(data)
            c.expect_close(codes)
        finally:
            c.close()

    CASES.append((name, run))


# 1. Framing: 7-, 16- and 64-bit lengths, text and binary.
@case("1.1 text with a 7-bit length reaches the shell")
def _(host, session):
    c = Conn(host.port, session)
    c.send(frame(OP_TEXT, "echo len7-$((3+4))\n"))
    c.expect_output("len7-7")
    c.close()


@case("1.2 text with a 16-bit length (200 bytes) reaches the shell")
def _(host, session):
    c = Conn(host.port, session)
    line = "echo len16-$((8+8))".ljust(199) + "\n"
    c.send(frame(OP_TEXT, line))
    c.expect_output("len16-16")
    c.close()


@case("1.3 text with a 64-bit length (70000 bytes) reaches the shell whole")
def _(host, session):
    c = Conn(host.port, session)
    # Once the shell runs: before that, input beyond session.input_queue_bytes (64 KiB) is
    # dropped with a notice, by design.
    c.send(frame(OP_TEXT, "echo ready-$((1+1))\n"))
    c.expect_output("ready-2")
    # Read by head in the pod (lines, as a terminal in canonical mode takes them), not typed at
    # the prompt: a 70000-character prompt line only measures readline's redisplay.
    c.send(frame(OP_TEXT, "stty -echo; head -c 70000 | md5sum; stty echo\n"))
    body = b"".join(b"%05d" % i + b"x" * 94 + b"\n" for i in range(700))
    c.send(frame(OP_TEXT, body))
    c.expect_output(hashlib.md5(body).hexdigest(), timeout=30)
    c.close()


for _n in (0, 125, 126, 127, 65535, 65536, 131072):

    def _binary(host, session, n=_n):
        c = Conn(host.port, session)
        c.send(frame(OP_BINARY, bytes(i & 0xFF for i in range(n))))
        c.send(frame(OP_PING, b"after-%d" % n))
        c.expect_pong(b"after-%d" % n)
        c.close()

    CASES.append((f"1.4 binary of {_n} bytes is taken (then a ping is answered)", _binary))


@case("1.5 a frame split into single bytes on the wire")
def _(host, session):
    c = Conn(host.port, session)
    for b in frame(OP_TEXT, "echo bytewise-$((5*5))\n"):
        c.send(bytes([b]))
    c.expect_output("bytewise-25")
    c.close()


# 2. Ping and pong.
for _name, _payload in (
    ("empty", b""),
    ("text", b"Hello, podterm"),
    ("125 binary bytes", bytes(range(125))),
):

    def _ping(host, session, payload=_payload):
        c = Conn(host.port, session)
        c.send(frame(OP_PING, payload))
        c.expect_pong(payload)
        c.close()

    CASES.append((f"2.1 ping ({_name}) gets a pong with the same payload", _ping))


@case("2.2 ten pings in one write get ten pongs in order")
def _(host, session):
    c = Conn(host.port, session)
    c.send(b"".join(frame(OP_PING, b"p%d" % i) for i in range(10)))
    for i in range(10):
        c.expect_pong(b"p%d" % i)
    c.close()


@case("2.3 an unsolicited pong is ignored")
def _(host, session):
    c = Conn(host.port, session)
    c.send(frame(OP_PONG, b"unsolicited"))
    c.send(frame(OP_PING, b"still-here"))
    c.expect_pong(b"still-here")
    c.close()


protocol_error("2.4 ping of 126 bytes -> 1002", frame(OP_PING, b"p" * 126))
protocol_error("2.5 fragmented ping -> 1002", frame(OP_PING, b"p", fin=False))
protocol_error("2.6 pong of 126 bytes -> 1002", frame(OP_PONG, b"p" * 126))

# 3. Reserved bits.
for _rsv in range(1, 8):
    protocol_error(f"3.{_rsv} RSV={_rsv} on a text frame -> 1002", frame(OP_TEXT, "x", rsv=_rsv))
protocol_error("3.8 RSV on a ping -> 1002", frame(OP_PING, "x", rsv=4))

# 4. Opcodes.
for _op in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF):
    protocol_error(f"4.{_op:X} reserved opcode {_op:#x} -> 1002", frame(_op, "x"))
protocol_error(
    "4.10 reserved opcode after a valid frame -> 1002",
    frame(OP_PING, b"ok") + frame(0x5, "x"),
)

# 5. Fragmentation.


@case("5.1 fragmented text with pings in between: pongs come at once, the message whole")
def _(host, session):
    c = Conn(host.port, session)
    c.send(frame(OP_TEXT, "echo fr", fin=False))
    c.send(frame(OP_PING, b"mid-1"))
    c.expect_pong(b"mid-1")
    c.send(frame(OP_CONT, "ag-$((2+2))", fin=False))
    c.send(frame(OP_PING, b"mid-2"))
    c.expect_pong(b"mid-2")
    c.send(frame(OP_CONT, "\n", fin=True))
    c.expect_output("frag-4")
    c.close()


@case("5.2 a message in 100 one-byte fragments")
def _(host, session):
    c = Conn(host.port, session)
    line = "echo many-$((9*9))\n"
    data = b""
    for i, ch in enumerate(line):
        op = OP_TEXT if i == 0 else OP_CONT
        data += frame(op, ch, fin=(i == len(line) - 1))
    c.send(data)
    c.expect_output("many-81")
    c.close()


@case("5.3 empty fragments are fine")
def _(host, session):
    c = Conn(host.port, session)
    c.send(frame(OP_TEXT, "", fin=False) + frame(OP_CONT, "", fin=False))
    c.send(frame(OP_CONT, "echo empty-$((1+0))\n", fin=False) + frame(OP_CONT, "", fin=True))
    c.expect_output("empty-1")
    c.close()


protocol_error("5.4 continuation without a start -> 1002", frame(OP_CONT, "x"))
protocol_error(
    "5.5 final continuation without a start -> 1002", frame(OP_CONT, "x", fin=True)
)
protocol_error(
    "5.6 text inside a fragmented text -> 1002",
    frame(OP_TEXT, "a", fin=False) + frame(OP_TEXT, "b"),
)
protocol_error(
    "5.7 binary inside a fragmented text -> 1002",
    frame(OP_TEXT, "a", fin=False) + frame(OP_BINARY, "b"),
)
protocol_error(
    "5.8 continuation after a complete message -> 1002",
    frame(OP_BINARY, "a") + frame(OP_CONT, "b"),
)
protocol_error("5.9 fragmented close -> 1002", frame(OP_CLOSE, close_payload(1000), fin=False))

# 6. UTF-8.


@case("6.1 valid multi-byte UTF-8 split inside a character across fragments")
def _(host, session):
    c = Conn(host.port, session)
    smile = "\U0001F600".encode()
    c.send(frame(OP_TEXT, b"echo utf-" + smile[:2], fin=False))
    c.send(frame(OP_CONT, smile[2:] + "-κόσμε-$((1+1))\n".encode()))
    c.expect_output(b"utf-" + smile + "-κόσμε-2".encode())
    c.close()


for _name, _bad in (
    ("a lone continuation byte", b"\x80"),
    ("0xFF", b"a\xffb"),
    ("an overlong '/'", b"\xc0\xaf"),
    ("an overlong NUL (3 bytes)", b"\xe0\x80\x80"),
    ("a UTF-16 surrogate", b"\xed\xa0\x80"),
    ("above U+10FFFF", b"\xf4\x90\x80\x80"),
    ("a truncated 3-byte character at the end", b"ok \xe2\x82"),
    ("Autobahn 6.3.1", "κόσμε".encode() + b"\xed\xa0\x80edited"),
):
    protocol_error(f"6.2 invalid UTF-8 in a text frame: {_name} -> 1007", frame(OP_TEXT, _bad), 1007)

protocol_error(
    "6.3 invalid UTF-8 across fragments (the bad byte in the second) -> 1007",
    frame(OP_TEXT, b"caf\xc3", fin=False) + frame(OP_CONT, b"(", fin=True),
    1007,
)
protocol_error(
    "6.4 a character cut off by the final fragment -> 1007",
    frame(OP_TEXT, b"ok \xf0\x9f", fin=False) + frame(OP_CONT, b"\x98", fin=True),
    1007,
)


@case("6.5 invalid UTF-8 fails fast: the first fragment is enough")
def _(host, session):
    c = Conn(host.port, session)
    c.send(frame(OP_TEXT, b"abc\xc0\xaf", fin=False))  # no final fragment ever comes
    c.expect_close(1007)
    c.close()


@case("6.6 binary frames are never UTF-8 checked")
def _(host, session):
    c = Conn(host.port, session)
    c.send(frame(OP_BINARY, b"\xff\xfe\xc0\xaf\xed\xa0\x80"))
    c.send(frame(OP_PING, b"bin-ok"))
    c.expect_pong(b"bin-ok")
    c.close()


# 7. Close handling.
# Codes in IANA's registry (1012-1014 included, which podterm itself sends 1013 of) and the
# application ranges.
for _code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
              4000, 4999):

    def _echo(host, session, code=_code):
        c = Conn(host.port, session)
        c.send(frame(OP_CLOSE, close_payload(code, b"bye")))
        c.expect_close(code)
        c.close()

    CASES.append((f"7.1 close {_code} is echoed, then TCP closes", _echo))


@case("7.2 an empty close is answered with an empty close (or 1000)")
def _(host, session):
    c = Conn(host.port, session)
    c.send(frame(OP_CLOSE, b""))
    deadline = time.monotonic() + 10
    while True:
        f = c.read_frame(max(0.01, deadline - time.monotonic()))
        check(f is not None, "TCP closed without a close frame")
        if f[1] == OP_CLOSE:
            break
    check(f[2] in (b"", close_payload(1000)), f"answer to an empty close: {f[2]!r}")
    check(c.read_frame(5) is None, "a frame after the server's close")
    c.close()


@case("7.3 a close with a 123-byte UTF-8 reason is echoed")
def _(host, session):
    c = Conn(host.port, session)
    c.send(frame(OP_CLOSE, close_payload(1000, ("é" * 61 + "x").encode())))
    c.expect_close(1000)
    c.close()


@case("7.4 nothing is processed after the client's close")
def _(host, session):
    c = Conn(host.port, session)
    c.send(frame(OP_CLOSE, close_payload(1000)) + frame(OP_PING, b"too-late"))
    deadline = time.monotonic() + 10
    while True:
        f = c.read_frame(max(0.01, deadline - time.monotonic()))
        check(f is not None, "TCP closed without a close frame")
        check(f[1] != OP_PONG, "a ping after the close was answered")
        if f[1] == OP_CLOSE:
            break
    check(c.read_frame(5) is None, "a frame after the server's close")
    c.close()


protocol_error("7.5 a 1-byte close payload -> 1002", frame(OP_CLOSE, b"\x03"))
for _code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535):
    protocol_error(
        f"7.6 close with code {_code} (not allowed on the wire) -> 1002",
        frame(OP_CLOSE, close_payload(_code)),
    )
protocol_error(
    "7.7 a close reason that is not UTF-8 -> 1007",
    frame(OP_CLOSE, close_payload(1000, b"\xff\xfe")),
    1007,
)
protocol_error("7.8 close of 126 bytes -> 1002", frame(OP_CLOSE, close_payload(1000, b"x" * 124)))

# 9. Limits.
protocol_error("9.1 an unmasked client frame -> 1002", frame(OP_TEXT, "x", mask=False))
protocol_error("9.2 an unmasked ping -> 1002", frame(OP_PING, "x", mask=False))


def _header_only(length, opcode=OP_BINARY):
    # Header and mask key only: a server that waits for (or allocates) the payload fails.
    return frame(opcode, b"", length=length)[:14]


for _name, _len in (("2^63", 1 << 63), ("2^64-1", (1 << 64) - 1), ("2^62", 1 << 62),
                    ("1 TiB", 1 << 40), ("max+1", MAX_MESSAGE + 1)):
    protocol_error(f"9.3 a frame header claiming {_name} bytes -> 1009 at once",
                   _header_only(_len), 1009)
protocol_error("9.4 a text header claiming 2^63 bytes -> 1009", _header_only(1 << 63, OP_TEXT), 1009)
protocol_error(
    "9.5 a fragmented message over the limit -> 1009",
    frame(OP_BINARY, b"a" * (MAX_MESSAGE // 2 + 1), fin=False)
    + frame(OP_CONT, b"b" * (MAX_MESSAGE // 2 + 1), fin=True),
    1009,
)
protocol_error(
    "9.6 a ping claiming 2^63 bytes -> 1002 (a control frame over 125)",
    _header_only(1 << 63, OP_PING),
)


@case("9.7 a message of exactly the limit is taken")
def _(host, session):
    c = Conn(host.port, session)
    c.send(frame(OP_BINARY, b"z" * MAX_MESSAGE))
    c.send(frame(OP_PING, b"at-limit"))
    c.expect_pong(b"at-limit", timeout=30)
    c.close()


@case("9.8 claimed lengths allocate nothing: RSS stays flat over 20 huge headers")
def _(host, session):
    before = host.rss_kib()
    for i in range(20):
        c = Conn(host.port, f"{session}-{i}")
        c.send(_header_only(1 << 62))
        c.expect_close(1009)
        c.close()
    grown = host.rss_kib() - before
    check(grown < 64 * 1024, f"RSS grew by {grown} KiB")


@case("9.9 10000 tiny fragments are reassembled")
def _(host, session):
    c = Conn(host.port, session)
    body = b": " + b"f" * 9996 + b"\n"
    parts = [frame(OP_TEXT, body[:1], fin=False)]
    parts += [frame(OP_CONT, body[i : i + 1], fin=False) for i in range(1, len(body))]
    parts += [frame(OP_CONT, b"echo tiny-$((4*4))\n", fin=True)]
    c.send(b"".join(parts))
    c.expect_output("tiny-16", timeout=60)
    c.close()


# ---------------------------------------------------------------------------------------------


def still_serving(host, session):
    """A new connection is upgraded and its ping answered."""
    c = Conn(host.port, session, timeout=15)
    c.send(frame(OP_PING, b"alive"))
    c.expect_pong(b"alive", timeout=15)
    c.send(frame(OP_CLOSE, close_payload(1000)))
    c.expect_close(1000)
    c.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="the podterm executable")
    parser.add_argument("--plugins", required=True, help="the directory of built plugins")
    parser.add_argument("-k", default="", help="run only the cases whose name contains this")
    args = parser.parse_args()

    host = Host(args.host, args.plugins)
    failures = []
    ran = 0
    try:
        for index, (name, run) in enumerate(CASES):
            if args.k not in name:
                continue
            ran += 1
            session = f"user_1_ws_conformance_c{index}"
            started = time.monotonic()
            try:
                run(host, session)
                still_serving(host, f"user_1_ws_conformance_alive{index}")
                status = "ok"
            except Exception as e:  # noqa: BLE001 - every failure is reported, then the next case
                detail = str(e) if isinstance(e, CaseFailure) else traceback.format_exc()
                failures.append((name, detail))
                status = "FAILED: " + detail
            check_alive = host.alive()
            print(f"[{time.monotonic() - started:5.2f}s] {name}: {status}", flush=True)
            if not check_alive:
                failures.append((name, "the host process died"))
                break
    finally:
        host.stop()
    print(f"\n{ran - len(failures)} of {ran} cases passed")
    for name, detail in failures:
        print(f"FAILED {name}: {detail}")
    if failures and not os.environ.get("PODTERM_KEEP_CONFORMANCE"):
        print("(PODTERM_KEEP_CONFORMANCE=1 keeps the host's log and data)")
    return 1 if failures or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
