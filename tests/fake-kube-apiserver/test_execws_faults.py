#!/usr/bin/python3
"""The fake's exec faults that check a client's WebSocket discipline, seen by raw clients:
exec_refuse (the fake counts the bytes a client sends before the answer to its upgrade: after
CVE-2018-1002105 a client must send none) and exec_idle_timeout (a stream with no frame from the
client, pings included, for "seconds" is cut; pings are counted; mode "no_pong" withholds pongs).
  /usr/bin/python3 test_execws_faults.py [Suite]
Exit code 77 (ctest: skipped) when every test of the run was skipped."""

import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fakecase import FakeCase, run, wait_until  # noqa: E402
from fakeclient import exec_path  # noqa: E402

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def masked(payload, opcode=2):
    """One masked client frame (payloads under 126 bytes)."""
    assert len(payload) < 126
    mask = os.urandom(4)
    return (bytes([0x80 | opcode, 0x80 | len(payload)]) + mask +
            bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


class RawExec:
    """An exec upgrade over TLS written byte by byte, so that a test can send bytes before the
    server's answer (which a WebSocket library never does)."""

    def __init__(self, fake, path, first=b"", protocols=("v5.channel.k8s.io", "v4.channel.k8s.io")):
        raw = socket.create_connection(("127.0.0.1", fake.port), timeout=20)
        self.sock = fake.ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{fake.port}",
                 f"Authorization: Bearer {fake.token}", "Connection: Upgrade",
                 "Upgrade: websocket", "Sec-WebSocket-Version: 13", f"Sec-WebSocket-Key: {self.key}",
                 "Sec-WebSocket-Protocol: " + ", ".join(protocols)]
        # The headers and `first` leave in one write: one TLS record, likely one TCP segment.
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + first)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def answer(self):
        """(status, headers, body) of the server's answer; the body is read for non-101s."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *hdr_lines = head.decode().split("\r\n")
        headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
                   for l in hdr_lines if ":" in l}
        body = None
        if status_line.split()[1] != "101":
            n = int(headers.get("content-length", "0"))
            while len(self.buf) < n:
                self._fill()
            body = json.loads(self.buf[:n])
        return int(status_line.split()[1]), headers, body

    def accept_ok(self, headers):
        want = base64.b64encode(hashlib.sha1((self.key + WS_GUID).encode()).digest()).decode()
        return headers.get("sec-websocket-accept") == want

    def at_eof(self, timeout=10):
        """True when the server closes the connection within timeout (what it sends is dropped)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionError, ssl.SSLError, OSError):
            return True

    def close(self):
        self.sock.close()


class WsExec:
    """A minimal well-behaved WebSocket exec client: nothing is sent before the 101; frames are
    returned as they come (pings and pongs included), so tests see what the server does with them."""

    def __init__(self, fake, path):
        self.raw = RawExec(fake, path)
        self.status, self.headers, self.body = self.raw.answer()
        assert self.status == 101, (self.status, self.body)
        assert self.raw.accept_ok(self.headers)

    def _exact(self, n):
        while len(self.raw.buf) < n:
            self.raw._fill()
        out, self.raw.buf = self.raw.buf[:n], self.raw.buf[n:]
        return out

    def send(self, payload, opcode=2):
        self.raw.send(masked(payload, opcode))

    def recv(self, timeout=10):
        """(opcode, payload); EOFError when the connection ends."""
        self.raw.sock.settimeout(timeout)
        try:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            return b0 & 0x0F, self._exact(n)
        except (ConnectionError, ssl.SSLError, OSError) as e:
            raise EOFError(str(e))

    def read_to_end(self, timeout=20):
        """Every frame until the server's close frame or EOF: (frames, 'close'|'eof')."""
        frames, deadline = [], time.time() + timeout
        while time.time() < deadline:
            try:
                op, p = self.recv(max(0.1, deadline - time.time()))
            except EOFError:
                return frames, "eof"
            if op == 8:
                self.send(p[:2], 8)
                return frames, "close"
            frames.append((op, p))
        raise AssertionError(f"the exec did not end within {timeout}s: {frames}")

    def close(self):
        self.raw.close()


class ExecFaultCase(FakeCase):
    tmp_prefix = "kubefake-execws-"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fake.make_pod("xf")

    def setUp(self):
        self.fake.control("DELETE", "faults")
        self.fake.control("DELETE", "requests")

    def exec_entry(self, key):
        """The (single) exec request of the test once `key` is in its log entry."""
        def find():
            log = [e for e in self.fake.control("GET", "requests")["requests"]
                   if e["path"].endswith("/exec")]
            return log[-1] if log and key in log[-1] else None
        return wait_until(find, what=f"an exec log entry with {key}")

    def fired(self, type_):
        return [f for f in self.fake.control("GET", "faults")["fired"] if f["type"] == type_]


class ExecRefuseTest(ExecFaultCase):
    def test_counts_what_a_client_sends_before_the_answer(self):
        self.fake.control("POST", "faults", {"type": "exec_refuse", "name": "xf", "code": 403, "seconds": 1})
        stdin_frame = masked(b"\x00" + b"echo pwned\n")
        close_signal = masked(b"\xff\x00")
        # Bytes in the headers' own write, then a stdin frame and more while the answer is held.
        c = RawExec(self.fake, exec_path("xf", ["cat"]), first=b"garbage!")
        c.send(stdin_frame)
        c.send(close_signal)
        status, headers, body = c.answer()
        self.assertEqual(status, 403)
        self.assertEqual((body["kind"], body["reason"], body["code"]), ("Status", "Forbidden", 403))
        self.assertIn('cannot get resource "pods/exec"', body["message"])
        self.assertTrue(c.at_eof(), "the connection closes after a refused upgrade")
        c.close()
        sent = len(b"garbage!") + len(stdin_frame) + len(close_signal)
        self.assertEqual(self.exec_entry("bytes_before_answer")["bytes_before_answer"], sent)
        self.assertEqual(self.exec_entry("status")["status"], 403)
        self.assertEqual(self.fired("exec_refuse")[-1]["bytes_before_answer"], sent)
        self.assertEqual(self.fake.control("GET", "faults")["active"], [], "count 1: used up")

    def test_a_client_that_waits_sends_nothing(self):
        self.fake.control("POST", "faults", {"type": "exec_refuse", "name": "xf", "code": 500,
                                             "message": "the kubelet is away", "seconds": 0.3})
        c = RawExec(self.fake, exec_path("xf", ["cat"]))
        status, _, body = c.answer()
        c.close()
        self.assertEqual((status, body["reason"], body["message"]), (500, "InternalError", "the kubelet is away"))
        self.assertEqual(self.exec_entry("bytes_before_answer")["bytes_before_answer"], 0)
        # The fault was used up: the next exec is served.
        ws = WsExec(self.fake, exec_path("xf", ["sh", "-c", "echo served"], stdin=False))
        frames, end = ws.read_to_end()
        ws.close()
        self.assertIn((2, b"\x01served\n"), frames)
        self.assertEqual(end, "close")

    def test_matches_by_name(self):
        self.fake.make_pod("xf-other")
        self.fake.control("POST", "faults", {"type": "exec_refuse", "name": "xf-other", "code": 400})
        ws = WsExec(self.fake, exec_path("xf", ["true"], stdin=False))
        ws.close()
        c = RawExec(self.fake, exec_path("xf-other", ["true"]))
        status, _, body = c.answer()
        c.close()
        self.assertEqual((status, body["reason"]), (400, "BadRequest"))

    def test_a_101_with_a_protocol_not_offered(self):
        self.fake.control("POST", "faults", {"type": "exec_refuse", "name": "xf", "mode": "protocol"})
        c = RawExec(self.fake, exec_path("xf", ["cat"]))
        status, headers, _ = c.answer()
        self.assertEqual((status, headers.get("sec-websocket-protocol")), (101, "v3.channel.k8s.io"))
        self.assertTrue(c.accept_ok(headers))
        # A client that (wrongly) accepts it and sends stdin is seen doing so.
        c.send(masked(b"\x00hi\n"))
        c.send(masked(b"\x03\xe8", 8))
        self.assertTrue(c.at_eof())
        c.close()
        entry = self.exec_entry("frames_after_101")
        self.assertEqual((entry["status"], entry["protocol"]), (101, "v3.channel.k8s.io"))
        self.assertEqual(wait_until(lambda: self.fired("exec_refuse")[-1].get("frames_after_101"),
                                    what="the frame count"), 1)

    def test_a_101_without_a_protocol(self):
        self.fake.control("POST", "faults", {"type": "exec_refuse", "name": "xf", "mode": "no_protocol"})
        c = RawExec(self.fake, exec_path("xf", ["cat"]))
        status, headers, _ = c.answer()
        self.assertEqual(status, 101)
        self.assertNotIn("sec-websocket-protocol", headers)
        started = time.time()
        c.close()  # what a client must do: hang up without a byte
        entry = self.exec_entry("frames_after_101")
        self.assertEqual((entry["frames_after_101"], entry["bytes_before_answer"]), (0, 0))
        self.assertLess(time.time() - started, 4, "the fake notices the hang-up (no 5 s wait)")


class ExecIdleTest(ExecFaultCase):
    def running_execs(self):
        return self.fake.control("GET", "state")["running_execs"]

    def test_a_silent_client_is_cut(self):
        self.fake.control("POST", "faults", {"type": "exec_idle_timeout", "name": "xf", "seconds": 1})
        started = time.time()
        ws = WsExec(self.fake, exec_path("xf", ["sh", "-c", "sleep 60"]))
        frames, end = ws.read_to_end()
        elapsed = time.time() - started
        ws.close()
        self.assertEqual(end, "eof", "no close frame: the connection is dropped")
        self.assertEqual(frames, [(2, b"\x01")], "no status either")
        self.assertGreaterEqual(elapsed, 1)
        self.assertLess(elapsed, 8)
        entry = self.exec_entry("idle_timed_out")
        self.assertEqual((entry["idle_timed_out"], entry["pings"]), (True, 0))
        self.assertTrue(self.fired("exec_idle_timeout")[-1]["idle_timed_out"])
        wait_until(lambda: self.running_execs() == 0, what="the command killed")
        self.assertEqual(len(self.fake.control("GET", "faults")["active"]), 1, "count null: stays")

    def test_pings_keep_a_stream_alive(self):
        self.fake.control("POST", "faults", {"type": "exec_idle_timeout", "name": "xf", "seconds": 1})
        ws = WsExec(self.fake, exec_path("xf", ["cat"]))
        self.assertEqual(ws.recv(), (2, b"\x01"))
        pongs = []
        started = time.time()
        n = 0
        while time.time() - started < 3:  # three idle timeouts, with a ping every 0.3 s
            n += 1
            ws.send(b"p%d" % n, 9)
            op, p = ws.recv()
            self.assertEqual(op, 10, "only a pong comes back")
            pongs.append(p)
            time.sleep(0.3)  # the client's ping interval (what is under test), not a wait
        self.assertEqual(pongs, [b"p%d" % i for i in range(1, n + 1)], "each ping's payload, echoed")
        ws.send(b"\x00still here\n")
        ws.send(b"\xff\x00")
        frames, end = ws.read_to_end()
        ws.close()
        self.assertEqual(end, "close")
        self.assertIn((2, b"\x01still here\n"), frames)
        self.assertEqual(json.loads(frames[-1][1][1:])["status"], "Success")
        entry = self.exec_entry("exit_code")
        self.assertEqual(entry["pings"], n)
        self.assertNotIn("idle_timed_out", entry)
        self.assertEqual(self.fired("exec_idle_timeout")[-1]["pings"], n)

    def test_no_pong_mode_leaves_pings_unanswered(self):
        self.fake.control("POST", "faults", {"type": "exec_idle_timeout", "name": "xf", "mode": "no_pong"})
        ws = WsExec(self.fake, exec_path("xf", ["cat"]))
        ws.send(b"anyone?", 9)
        # The fake handles a client's frames in order: a pong would precede the echo of this.
        ws.send(b"\x00after the ping\n")
        ws.send(b"\xff\x00")
        frames, end = ws.read_to_end()
        ws.close()
        self.assertEqual(end, "close")
        self.assertNotIn(10, [op for op, _ in frames], frames)
        self.assertIn((2, b"\x01after the ping\n"), frames)
        self.assertEqual(self.exec_entry("exit_code")["pings"], 1)

    def test_pings_are_answered_without_the_fault(self):
        ws = WsExec(self.fake, exec_path("xf", ["cat"]))
        ws.send(b"hello?", 9)
        ws.send(b"\xff\x00")
        frames, end = ws.read_to_end()
        ws.close()
        self.assertIn((10, b"hello?"), frames)
        self.assertEqual(self.exec_entry("exit_code")["pings"], 1)


if __name__ == "__main__":
    run(__name__)
