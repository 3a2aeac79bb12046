"""pods/exec over WebSocket as the apiserver (v5, translated) and kubelet (v4, base64, v1) serve
it: channel-prefixed frames, an empty first frame, the exit status on channel 3, v5's close
signal for stdin, resize on channel 4, then close(1000) and a wait for the client's close.

Faults served here (declared in faults.py):
- exec_break: the connection is cut mid-command (TCP abort, no status, no close frame).
- exec_refuse: the upgrade request is held for "seconds", then answered with an HTTP error
  ("code", default 403, with a Status body; "message" overrides the text) instead of a 101;
  mode "protocol" answers a 101 that names a subprotocol the client did not offer
  (v3.channel.k8s.io), mode "no_protocol" a 101 without Sec-WebSocket-Protocol. The bytes the
  client sent after its request headers and before this answer are counted (CVE-2018-1002105: a
  client must not send any), as "bytes_before_answer" in the request log entry and the fired
  fault; after a 101 of the two modes the client's data frames are counted as
  "frames_after_101" (it must send none: the 101 is not valid for it).
- exec_idle_timeout: the stream is cut (TCP abort, no status, no close frame; the command's
  session is killed), as an idle timeout does, once no frame came from the client (pings
  included) for "seconds". Pings are counted either way ("pings" in the request log entry and the
  fired fault); mode "no_pong" also leaves the client's pings unanswered (a server that went
  silent), and then "seconds" is optional."""

import asyncio
import base64
import errno
import fcntl
import json
import os
import struct
import termios
import uuid

from aiohttp import WSMsgType, web

from . import api, sandbox

SUPPORTED = ["v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io",
             "base64.channel.k8s.io", "channel.k8s.io"]
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def exit_status(code, argv):
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(argv)}], exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def internal_error_status(why):
    """What the kubelet sends when the runtime cannot start an exec."""
    return {"metadata": {}, "status": "Failure", "message": "Internal error occurred: " + why,
            "reason": "InternalError", "details": {"causes": [{"message": why}]}, "code": 500}


def not_found_status(argv):
    return internal_error_status(
        f'error executing command in container: failed to exec in container: failed to start '
        f'exec "{uuid.uuid4().hex}": OCI runtime exec failed: exec failed: unable to start '
        f'container process: exec: "{argv[0]}": executable file not found in $PATH: unknown')


def resolve_container(pod, params):
    """The container the exec targets, with the apiserver's 400 texts."""
    name = pod["metadata"]["name"]
    containers = pod["spec"]["containers"]
    wanted = params.get("container")
    if not wanted:
        if len(containers) != 1:
            names = " ".join(c["name"] for c in containers)
            raise api.bad_request(f"a container name must be specified for pod {name}, "
                                  f"choose one of: [{names}]")
        return containers[0]
    for c in containers:
        if c["name"] == wanted:
            return c
    raise api.bad_request(f"container {wanted} is not valid for pod {name}")


class ExecSession:
    def __init__(self, request, ws, protocol, server, pod, container, argv, opts, fault, log,
                 idle=None, idle_fired=None):
        self.request = request
        self.ws = ws
        self.protocol = protocol
        self.v5 = protocol == "v5.channel.k8s.io"
        self.b64 = "base64" in (protocol or "")
        self.json_status = protocol in ("v5.channel.k8s.io", "v4.channel.k8s.io",
                                        "v4.base64.channel.k8s.io")
        self.server = server
        self.pod = pod
        self.container = container
        self.argv = argv
        self.stdin, self.stdout, self.stderr, self.tty = opts
        self.fault = fault
        self.log = log
        self.sent = 0
        self.proc = None
        self.master = None
        self.stdin_q = asyncio.Queue()
        self.broken = False
        # exec_idle_timeout: the fault, its entry in the fired list, the last client frame's time
        self.idle = idle
        self.idle_fired = idle_fired
        self.last_rx = asyncio.get_event_loop().time()
        self.pings = 0
        if idle is not None:
            self._note("pings", 0)

    def _note(self, key, value):
        """A fact of this exec, in its request log entry and (for a fault) its fired entry."""
        self.log[key] = value
        if self.idle_fired is not None:
            self.idle_fired[key] = value

    async def send(self, ch, data):
        if self.broken:
            return
        if self.fault and self.fault.get("after_bytes") is not None and ch in (STDOUT, STDERR):
            left = int(self.fault["after_bytes"]) - self.sent
            if left <= len(data):
                if left > 0:
                    await self._send_frame(ch, data[:left])
                self.sent += max(left, 0)
                self.break_stream()
                return
        self.sent += len(data) if ch in (STDOUT, STDERR) else 0
        await self._send_frame(ch, data)

    async def _send_frame(self, ch, data):
        try:
            if self.b64:
                await self.ws.send_str(chr(ord("0") + ch) + base64.b64encode(data).decode())
            else:
                await self.ws.send_bytes(bytes([ch]) + data)
        except (ConnectionError, RuntimeError):
            pass

    def break_stream(self):
        """The fault: the connection dies mid-command, with no status and no close frame."""
        self.broken = True
        self.log["exec_broken"] = True
        if self.proc:
            self.proc.kill()
        transport = self.request.transport
        if transport:
            transport.abort()

    def idle_out(self):
        """exec_idle_timeout fired: the connection is dropped as an idle timeout drops it."""
        if self.broken:
            return
        self._note("idle_timed_out", True)
        self.broken = True
        if self.proc:
            self.proc.kill()
        transport = self.request.transport
        if transport:
            transport.abort()

    async def watch_idle(self, seconds):
        loop = asyncio.get_event_loop()
        while not self.broken:
            left = self.last_rx + seconds - loop.time()
            if left <= 0:
                self.idle_out()
                return
            await asyncio.sleep(left)

    async def run(self):
        first = STDOUT if (self.stdout or self.tty) else STDERR if self.stderr else ERROR
        await self._send_frame(first, b"")
        sb = self.server.sandboxes
        if not sb.command_exists(self.argv, self.container):
            await self.finish(not_found_status(self.argv))
            return
        ns = self.pod["metadata"]["namespace"]
        try:
            # The exec joins the container's sandbox (its agent forks the command there).
            self.proc, self.master = await sb.exec(
                self.pod, self.container, self.argv, self.stdin, self.stdout, self.stderr,
                self.tty, lambda claim: self.server.cluster.pvc_uid(ns, claim))
        except sandbox.ExecError as e:
            await self.finish(internal_error_status(e.why))
            return
        timer = None
        if self.fault and self.fault.get("after_seconds") is not None:
            timer = asyncio.get_event_loop().call_later(float(self.fault["after_seconds"]),
                                                        self.break_stream)
        reader = asyncio.ensure_future(self.read_client())
        writer = asyncio.ensure_future(self.write_stdin())
        pumps = []
        idle_task = None
        if self.idle is not None and self.idle.get("seconds") is not None:
            idle_task = asyncio.ensure_future(self.watch_idle(float(self.idle["seconds"])))
        try:
            if self.tty:
                pumps.append(asyncio.ensure_future(self.pump_pty()))
            else:
                if self.stdout:
                    pumps.append(asyncio.ensure_future(self.pump(self.proc.stdout, STDOUT)))
                if self.stderr:
                    pumps.append(asyncio.ensure_future(self.pump(self.proc.stderr, STDERR)))
            done_proc = asyncio.ensure_future(self.proc.wait())
            # The command ends, or the client goes away first (then the command is killed).
            await asyncio.wait([done_proc, reader], return_when=asyncio.FIRST_COMPLETED)
            if not done_proc.done():
                self.proc.kill()
            code = await done_proc
            if pumps:
                await asyncio.wait(pumps, timeout=5)
            self.log["exit_code"] = code
            if not reader.done() and not self.broken:
                await self.finish(exit_status(code if code >= 0 else 128 - code, self.argv))
        finally:
            if timer:
                timer.cancel()
            for t in pumps + [writer, reader] + ([idle_task] if idle_task else []):
                t.cancel()
            if self.master is not None:
                try:
                    asyncio.get_event_loop().remove_reader(self.master)
                except (ValueError, OSError):
                    pass
                os.close(self.master)
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
            sb.forget(self.pod["metadata"]["uid"], self.proc)

    async def finish(self, status):
        if self.json_status:
            await self.send(ERROR, json.dumps(status).encode())
        elif status["status"] != "Success":
            await self.send(ERROR, status["message"].encode())
        self.log["exec_status"] = status
        if not self.broken:
            # Close, then wait (bounded) for the client's close so no output is cut off.
            try:
                await self.ws.close(code=1000)
            except (ConnectionError, RuntimeError, asyncio.TimeoutError):
                pass

    async def pump(self, stream, ch):
        while True:
            data = await stream.read(65536)
            if not data:
                return
            await self.send(ch, data)

    async def pump_pty(self):
        loop = asyncio.get_event_loop()
        q = asyncio.Queue()
        os.set_blocking(self.master, False)

        def readable():
            try:
                data = os.read(self.master, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(self.master)
            q.put_nowait(data)

        loop.add_reader(self.master, readable)
        while True:
            data = await q.get()
            if not data:
                return
            await self.send(STDOUT, data)

    async def write_stdin(self):
        while True:
            data = await self.stdin_q.get()
            if self.tty:
                if data is None:
                    continue  # a terminal has no EOF to deliver; the user types ^D
                view = memoryview(data)
                while view:
                    try:
                        n = os.write(self.master, view)
                        view = view[n:]
                    except BlockingIOError:
                        await asyncio.sleep(0.01)
                    except OSError as e:
                        if e.errno in (errno.EIO, errno.EBADF):
                            return
                        raise
                continue
            if self.proc.stdin is None:
                continue
            try:
                if data is None:
                    self.proc.stdin.close()
                    return
                self.proc.stdin.write(data)
                await self.proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                return

    async def read_client(self):
        loop = asyncio.get_event_loop()
        async for msg in self.ws:
            self.last_rx = loop.time()
            if msg.type == WSMsgType.PING:
                self.pings += 1
                self._note("pings", self.pings)
                if not (self.idle and self.idle.get("mode") == "no_pong"):
                    try:
                        await self.ws.pong(msg.data)
                    except (ConnectionError, RuntimeError):
                        pass
                continue
            if msg.type == WSMsgType.PONG:
                continue
            if msg.type == WSMsgType.BINARY:
                raw = msg.data
            elif msg.type == WSMsgType.TEXT:
                if self.b64:
                    if not msg.data:
                        continue
                    raw = bytes([ord(msg.data[0]) - ord("0")]) + base64.b64decode(msg.data[1:])
                else:
                    raw = msg.data.encode("utf-8", "surrogateescape")
            else:
                break
            if not raw:
                continue
            ch, data = raw[0], raw[1:]
            if ch == STDIN and self.stdin:
                if data:
                    self.stdin_q.put_nowait(data)
            elif ch == RESIZE:
                self.resize(data)
            elif ch == CLOSE and self.v5:
                if len(data) != 1:
                    return  # a protocol error ends the stream, as in the apiserver
                if data[0] == STDIN:
                    self.stdin_q.put_nowait(None)

    def resize(self, data):
        if not self.tty or self.master is None:
            return
        try:
            size = json.loads(data)
            cols, rows = int(size.get("Width", 0)), int(size.get("Height", 0))
        except (ValueError, AttributeError, TypeError):
            return
        if cols > 0 and rows > 0:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            self.log.setdefault("resizes", []).append([cols, rows])


def bytes_after_head(request):
    """How many bytes the client has sent on this connection after its request's headers.

    aiohttp's request handler keeps them unparsed while an upgrade request is being handled (they
    are the upgraded protocol's, fed to the WebSocket reader at prepare()): the bytes of the
    headers' last TCP segment that follow the blank line, and everything received since."""
    tail = getattr(request.protocol, "_message_tail", None)
    if not isinstance(tail, bytes):
        raise RuntimeError("this aiohttp keeps no _message_tail: the fake cannot count the bytes "
                           "a client sends before the 101")
    return len(tail)


def refusal(code, message, ns, name):
    """The Status of an exec the apiserver refuses before the upgrade."""
    if not message:
        if code == 403:
            return api.forbidden("fake-admin", "get", "pods/exec", name, ns).status()
        if code == 404:
            return api.not_found("pods", name).status()
        message = {400: "unable to upgrade connection: fake exec_refuse fault",
                   500: "Internal error occurred: fake exec_refuse fault"}.get(
                       code, f"fake exec_refuse fault {code}")
    reason = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 500: "InternalError",
              503: "ServiceUnavailable"}.get(code, "Unknown")
    return api.status_object(code, reason, message)


async def refuse_upgrade(request, fault, fired, ns, name, log):
    """The exec_refuse fault: hold the upgrade for "seconds", count what the client sent in the
    meantime, then answer an HTTP error (or, by mode, a 101 the client must not accept)."""
    await asyncio.sleep(float(fault.get("seconds") or 0))
    early = bytes_after_head(request)
    log["bytes_before_answer"] = fired["bytes_before_answer"] = early
    mode = fault.get("mode") or "http"
    if mode == "http":
        # The early bytes are not HTTP: dropped (aiohttp would parse them as a next request), and
        # the connection closes after the answer, as it would after a refused upgrade.
        request.protocol._message_tail = b""
        code = int(fault.get("code") or 403)
        body = refusal(code, fault.get("message"), ns, name)
        resp = web.Response(status=code, body=json.dumps(body).encode(),
                            content_type="application/json")
        resp.force_close()
        log["status"] = code
        log["reason"] = body["reason"]
        return resp
    if mode not in ("protocol", "no_protocol"):
        raise api.bad_request(f"exec_refuse: unknown mode {mode!r}")
    # A 101 with a subprotocol the client did not offer, or none: the server matched no offer
    # (aiohttp then names none) and the header is set by hand.
    ws = web.WebSocketResponse(protocols=(), max_msg_size=0, autoping=False, timeout=1.0)
    if mode == "protocol":
        ws.headers["Sec-WebSocket-Protocol"] = "v3.channel.k8s.io"
    await ws.prepare(request)
    log["status"] = 101
    log["protocol"] = ws.headers.get("Sec-WebSocket-Protocol", "")
    # What the client sends now (it should send nothing and hang up), for up to 5 s.
    frames = 0
    loop = asyncio.get_event_loop()
    deadline = loop.time() + 5
    while True:
        left = deadline - loop.time()
        if left <= 0:
            break
        try:
            msg = await ws.receive(timeout=left)
        except asyncio.TimeoutError:
            break
        if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT):
            frames += 1
            log["frames_after_101"] = fired["frames_after_101"] = frames
            continue
        if msg.type in (WSMsgType.PING, WSMsgType.PONG):
            continue
        break
    log["frames_after_101"] = fired["frames_after_101"] = frames
    if not ws.closed:
        try:
            await ws.close(code=1002)
        except (ConnectionError, RuntimeError, asyncio.TimeoutError):
            pass
    return ws


async def handle_exec(request, server, ns, name, log):
    q = request.query
    cluster = server.cluster
    pod = cluster.get("pods", ns, name)
    argv = q.getall("command", [])
    if not argv:
        raise api.bad_request("you must specify at least one command for the container")
    flags = [api.parse_bool(q.get(k, "false"), k) for k in ("stdin", "stdout", "stderr", "tty")]
    stdin, stdout, stderr, tty = flags
    if tty:
        stderr = False  # with a terminal, stderr is merged into stdout
    if not (stdin or stdout or stderr):
        raise api.bad_request("you must specify at least 1 of stdin, stdout, stderr")
    container = resolve_container(pod, q)
    phase = pod["status"].get("phase")
    if phase in ("Succeeded", "Failed"):
        raise api.bad_request(f"cannot exec into a container in a completed pod; current phase is {phase}")
    if not pod["spec"].get("nodeName"):
        raise api.bad_request(f"pod {name} does not have a host assigned")
    statuses = {s["name"]: s for s in pod["status"].get("containerStatuses") or []}
    if "running" not in (statuses.get(container["name"]) or {}).get("state", {}):
        raise api.bad_request(f'unable to upgrade connection: container not found ("{container["name"]}")')
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise api.bad_request("Upgrade request required")
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    chosen = next((p for p in offered if p in SUPPORTED), None)
    if offered and not chosen:
        raise api.bad_request(f"unable to upgrade connection: requested protocol(s) are not "
                              f"supported: {offered}; supports {SUPPORTED}")
    log["protocol"] = chosen or ""
    labels = pod["metadata"].get("labels")
    refuse = server.faults.take("exec_refuse", f"{ns}/{name}", name=name, namespace=ns,
                                labels=labels)
    if refuse:
        return await refuse_upgrade(request, refuse, server.faults.fired[-1], ns, name, log)
    fault = server.faults.take("exec_break", f"{ns}/{name}", name=name, namespace=ns,
                               labels=labels)
    idle = server.faults.take("exec_idle_timeout", f"{ns}/{name}", name=name, namespace=ns,
                              labels=labels)
    idle_fired = server.faults.fired[-1] if idle else None
    # Pings are answered (and counted) by the session itself, so that a fault can withhold pongs.
    ws = web.WebSocketResponse(protocols=(chosen,) if chosen else (), max_msg_size=0,
                               autoping=False, timeout=5.0)
    await ws.prepare(request)
    log["status"] = 101
    session = ExecSession(request, ws, chosen or "channel.k8s.io", server, pod, container, argv,
                          (stdin, stdout, stderr, tty), fault, log, idle, idle_fired)
    try:
        await session.run()
    finally:
        if not ws.closed and not session.broken:
            await ws.close(code=1000)
    return ws
