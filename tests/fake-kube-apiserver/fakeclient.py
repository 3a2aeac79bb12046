"""Test helpers: start/stop the fake, an HTTPS JSON client, and a minimal RFC 6455 client that
speaks the channel protocol byte for byte (independent of the fake's own code)."""

import base64
import hashlib
import http.client
import json
import os
import select
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"


class Fake:
    def __init__(self, *extra, token="T", data_dir=None):
        args = [PYTHON, os.path.join(HERE, "fake_apiserver.py"), "--port", "0", "--token", token,
                "--unprivileged-token", "U", "--schedule-delay", "0.1", "--start-delay", "0.15",
                "--terminate-delay", "0.2", "--bookmark-interval", "0.5", *extra]
        if data_dir:
            args += ["--data-dir", data_dir]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        r, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline() if r else b""
        if not line:
            self.proc.kill()
            raise RuntimeError("fake did not start: " + self.proc.stderr.read().decode())
        self.info = json.loads(line)
        self.port, self.token = self.info["port"], self.info["token"]
        self.ctx = ssl.create_default_context(cafile=self.info["ca"])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def conn(self, cert=False):
        ctx = self.ctx
        if cert:
            ctx = ssl.create_default_context(cafile=self.info["ca"])
            ctx.load_cert_chain(self.info["client_cert"], self.info["client_key"])
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=20)

    def call(self, method, path, body=None, token=None, headers=None, cert=False, raw=False):
        """Returns (status, parsed JSON or text, headers)."""
        h = {"Accept": "application/json"}
        if token is not False and not cert:
            h["Authorization"] = f"Bearer {token or self.token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        h.update(headers or {})
        c = self.conn(cert)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            text = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        if raw or not hdrs.get("content-type", "").startswith("application/json"):
            return r.status, text.decode(), hdrs
        return r.status, json.loads(text), hdrs

    def control(self, method, path, body=None):
        return self.call(method, "/_fake/" + path, body, token=False)[1]

    def watch_lines(self, path, max_events=100, timeout=10):
        """Reads a watch stream to its end (or max_events) and returns the parsed events."""
        c = self.conn()
        c.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
        r = c.getresponse()
        events, deadline = [], time.time() + timeout
        if r.status != 200:
            body = json.loads(r.read())
            c.close()
            return r.status, body
        buf = b""
        c.sock.settimeout(timeout)
        while len(events) < max_events and time.time() < deadline:
            try:
                chunk = r.read1(65536)
            except (socket.timeout, http.client.IncompleteRead, ConnectionError):
                break
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    events.append(json.loads(line))
        c.close()
        return 200, events

    def wait_phase(self, ns, name, phase, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, pod, _ = self.call("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
            if st == 200 and pod["status"].get("phase") == phase and (
                    phase != "Running" or any(c["type"] == "Ready" and c["status"] == "True"
                                              for c in pod["status"].get("conditions", []))):
                return pod
            time.sleep(0.05)
        raise AssertionError(f"pod {ns}/{name} never reached {phase}")

    def make_pod(self, name, ns="default", labels=None, wait=True, **spec_extra):
        spec = {"restartPolicy": "Never", "terminationGracePeriodSeconds": 5,
                "containers": [{"name": "runtime", "image": "python:3.12-slim",
                                "workingDir": "/app/workspace",
                                "command": ["/bin/sh", "-c", "sleep infinity"]}]}
        spec.update(spec_extra)
        st, pod, _ = self.call("POST", f"/api/v1/namespaces/{ns}/pods",
                               {"apiVersion": "v1", "kind": "Pod",
                                "metadata": {"name": name, "labels": labels or {}}, "spec": spec})
        assert st == 201, (st, pod)
        return self.wait_phase(ns, name, "Running") if wait else pod


class WebSocket:
    """Just enough RFC 6455 for exec tests: masked client frames, ping answers, close."""

    def __init__(self, fake, path, protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"), token=None):
        raw = socket.create_connection(("127.0.0.1", fake.port), timeout=20)
        self.sock = fake.ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{fake.port}",
                 f"Authorization: Bearer {token or fake.token}", "Connection: Upgrade",
                 "Upgrade: websocket", "Sec-WebSocket-Version: 13", f"Sec-WebSocket-Key: {key}"]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._until(b"\r\n\r\n").decode()
        status_line, *hdr_lines = head.split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in hdr_lines if ":" in l}
        self.protocol = self.headers.get("sec-websocket-protocol")
        self.body = None
        if self.status != 101:
            n = int(self.headers.get("content-length", "0"))
            self.body = json.loads(self._exact(n)) if n else None
            self.sock.close()
            return
        want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        assert self.headers.get("sec-websocket-accept") == want

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def _until(self, sep):
        while sep not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(sep, 1)
        return head

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data, opcode=2):
        if isinstance(data, str):
            data, opcode = data.encode(), 1
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(head + mask + masked)

    def recv(self):
        """(opcode, payload); pings are answered here."""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)
            op = b0 & 0x0F
            if op == 9:
                self.send(payload, 10)
                continue
            return op, payload

    def session(self, stdin=b"", close_stdin=True, resize=None, timeout=20):
        """Runs an exec to its end: returns {'frames', 'out', 'err', 'status', 'close'}."""
        self.sock.settimeout(timeout)
        frames, out, err, status, close_code = [], b"", b"", None, None
        if resize:
            self.send(b"\x04" + json.dumps({"Width": resize[0], "Height": resize[1]}).encode())
        if stdin:
            self.send(b"\x00" + stdin)
        if close_stdin:
            self.send(b"\xff\x00")
        try:
            while True:
                op, p = self.recv()
                if op == 8:
                    close_code = struct.unpack(">H", p[:2])[0] if len(p) >= 2 else None
                    self.send(p[:2], 8)
                    break
                if op == 1:  # base64 protocols
                    p = bytes([ord(p[:1]) - ord("0")]) + base64.b64decode(p[1:])
                frames.append(p)
                ch, data = p[0], p[1:]
                if ch == 1:
                    out += data
                elif ch == 2:
                    err += data
                elif ch == 3:
                    status = data
        except (EOFError, ConnectionError, ssl.SSLError, OSError):
            close_code = "eof"
        finally:
            self.sock.close()
        return {"frames": frames, "out": out, "err": err, "close": close_code,
                "status": json.loads(status) if status and status.startswith(b"{") else status}


def exec_path(name, argv, ns="default", stdin=True, stdout=True, stderr=True, tty=False):
    from urllib.parse import urlencode
    q = [("command", a) for a in argv] + [("container", "runtime")]
    for k, v in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr), ("tty", tty)):
        if v:
            q.append((k, "true"))
    return f"/api/v1/namespaces/{ns}/pods/{name}/exec?" + urlencode(q)
