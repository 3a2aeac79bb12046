"""Runs pods the way a container runtime does: when a pod's container starts, one long-lived
bubblewrap sandbox is started for it (its own pid/ipc/uts/net namespaces, a private /tmp, /usr and
/etc read-only, the pod's volumes bound in, as an unprivileged host uid when the fake runs as
root) with a small agent (agent.py) as its pid 1, and every exec of that container joins it: the
agent forks the exec's process inside the sandbox (runc exec joins the namespaces of the
container's init), so execs share /tmp and see each other's processes, and what one exec
daemonises keeps running until the pod goes. Killing the agent kills the whole sandbox."""

import asyncio
import errno
import json
import os
import shutil
import signal
import socket
import stat
import sys
import uuid

SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_FORBIDDEN_MOUNTS = ("/usr", "/etc", "/proc", "/dev", "/bin", "/sbin", "/lib", "/lib64")
AGENT_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent.py")
# The agent's source arrives on a pipe (the fake's files are not visible in the sandbox).
_BOOTSTRAP = ("import sys;exec(compile(open(int(sys.argv[2]),'rb').read(),'kubefake-agent',"
              "'exec'))")
START_TIMEOUT = 20.0


def _python():
    """python3 from /usr, which the sandbox sees read-only."""
    for p in ("/usr/bin/python3", sys.executable):
        if p and p.startswith("/usr/") and os.access(p, os.X_OK):
            return p
    return "/usr/bin/python3"


class SandboxError(Exception):
    pass


class Sandboxes:
    def __init__(self, data_dir, host_uid=65534, bwrap="bwrap"):
        self.data_dir = os.path.abspath(data_dir)
        self.bwrap = shutil.which(bwrap) or bwrap
        self.host_uid = host_uid if os.geteuid() == 0 else None
        self.procs = {}  # pod uid -> set of AgentExec (running or finishing execs)
        self.containers = {}  # pod uid -> {container name: Container}
        os.makedirs(self.data_dir, exist_ok=True)
        if self.host_uid is not None:
            self._check_searchable(self.data_dir)

    def _check_searchable(self, path):
        """Every directory above the data must be searchable by the sandbox's host uid."""
        cur = path
        while True:
            st = os.stat(cur)
            ok = (st.st_mode & stat.S_IXOTH) or (st.st_uid == self.host_uid and
                                                  st.st_mode & stat.S_IXUSR)
            if not ok:
                raise SandboxError(
                    f"{cur} is not searchable by uid {self.host_uid}, which the sandboxes run as "
                    f"(chmod o+x {cur}, or choose another --data-dir)")
            parent = os.path.dirname(cur)
            if parent == cur:
                return
            cur = parent

    def _own(self, path):
        os.makedirs(path, exist_ok=True)
        if self.host_uid is not None:
            os.chown(path, self.host_uid, self.host_uid)

    def pod_dir(self, pod_uid):
        return os.path.join(self.data_dir, "pods", pod_uid)

    def pvc_dir(self, pvc_uid):
        return os.path.join(self.data_dir, "pvcs", pvc_uid)

    def prepare_pod(self, pod_uid):
        os.makedirs(os.path.join(self.data_dir, "pods"), mode=0o711, exist_ok=True)
        self._own(os.path.join(self.pod_dir(pod_uid), "workspace"))
        os.chmod(self.pod_dir(pod_uid), 0o711)

    def prepare_pvc(self, pvc_uid):
        os.makedirs(os.path.join(self.data_dir, "pvcs"), mode=0o711, exist_ok=True)
        self._own(self.pvc_dir(pvc_uid))

    def remove_pod_dir(self, pod_uid):
        """The pod is gone: so are its sandboxes (killed if they still ran) and its directory."""
        self.kill_pod(pod_uid)
        self.containers.pop(pod_uid, None)
        shutil.rmtree(self.pod_dir(pod_uid), ignore_errors=True)

    def remove_pvc_dir(self, pvc_uid):
        shutil.rmtree(self.pvc_dir(pvc_uid), ignore_errors=True)

    def mounts(self, pod, container, pvc_uid_of):
        """[(host dir, path in sandbox)] for the container's volumeMounts; the pod's own
        directory is at /app/workspace unless a volume is mounted there."""
        volumes = {v.get("name"): v for v in pod["spec"].get("volumes") or []}
        uid = pod["metadata"]["uid"]
        out = []
        for vm in container.get("volumeMounts") or []:
            path = vm.get("mountPath", "")
            vol = volumes.get(vm.get("name"))
            if not vol or not path.startswith("/") or ".." in path.split("/"):
                continue
            if any(path == p or path.startswith(p + "/") for p in _FORBIDDEN_MOUNTS):
                continue
            if "persistentVolumeClaim" in vol:
                pvc_uid = pvc_uid_of(vol["persistentVolumeClaim"].get("claimName"))
                if not pvc_uid:
                    continue
                self.prepare_pvc(pvc_uid)
                src = self.pvc_dir(pvc_uid)
            elif "emptyDir" in vol:
                src = os.path.join(self.pod_dir(uid), "volumes", vm["name"])
                self._own(src)
            else:
                continue
            if vm.get("subPath"):
                src = os.path.join(src, vm["subPath"].lstrip("/"))
                self._own(src)
            out.append((src, path))
        if not any(p == "/app/workspace" for _, p in out):
            out.insert(0, (os.path.join(self.pod_dir(uid), "workspace"), "/app/workspace"))
        return out

    def command_exists(self, argv, container):
        """kubelet/runc fail an exec whose executable is missing before it starts; mirror that
        for plain names (looked up on the sandbox PATH, which is the host's read-only /usr)."""
        cmd = argv[0] if argv else ""
        if not cmd:
            return False
        if "/" in cmd:
            return True  # may live in a volume; bubblewrap reports it otherwise
        for d in SANDBOX_PATH.split(":"):
            p = os.path.join(d, cmd)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return True
        return False


    def _args(self, pod, container, mounts):
        """bubblewrap's options for the container's sandbox; the agent runs as its pid 1."""
        sc_pod = pod["spec"].get("securityContext") or {}
        sc = container.get("securityContext") or {}
        uid = sc.get("runAsUser", sc_pod.get("runAsUser", 0))
        gid = sc.get("runAsGroup", sc_pod.get("runAsGroup", 0))
        name = pod["metadata"]["name"]
        a = [self.bwrap, "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
             "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
             "--symlink", "usr/sbin", "/sbin", "--ro-bind", "/etc", "/etc",
             "--tmpfs", "/tmp", "--tmpfs", "/root", "--proc", "/proc", "--dev", "/dev",
             "--unshare-user", "--uid", str(int(uid)), "--gid", str(int(gid)),
             "--unshare-pid", "--as-pid-1", "--unshare-ipc", "--unshare-uts", "--unshare-net",
             "--hostname", name[:63], "--die-with-parent", "--cap-drop", "ALL", "--clearenv"]
        for src, dst in mounts:
            a += ["--bind", src, dst]
        a += ["--chdir", "/"]
        return a

    @staticmethod
    def exec_env(pod, container, tty):
        """Exactly the environment an exec gets: the defaults, then the container's env."""
        name = pod["metadata"]["name"][:63]
        env = {"PATH": SANDBOX_PATH, "HOME": "/root", "HOSTNAME": name}
        if tty:
            env["TERM"] = "xterm"
        for e in container.get("env") or []:
            if "name" in e and isinstance(e.get("value"), str):
                env[e["name"]] = e["value"]
        return env

    # ---- containers -------------------------------------------------------------------------

    def start_pod(self, pod, pvc_uid_of):
        """Starts a sandbox for each of the pod's containers (at once: a pod deleted meanwhile
        finds them to kill) and returns an awaitable that raises SandboxError if one failed."""
        started = [self._container(pod, c, pvc_uid_of) for c in pod["spec"]["containers"]]

        async def ready():
            for c in started:
                await asyncio.shield(c.ready)
        return ready()

    def _container(self, pod, container, pvc_uid_of):
        uid = pod["metadata"]["uid"]
        pods = self.containers.setdefault(uid, {})
        c = pods.get(container["name"])
        if c is None:
            label = f'{pod["metadata"].get("namespace")}/{pod["metadata"]["name"]}/{container["name"]}'
            c = pods[container["name"]] = Container(self, label)
            args = self._args(pod, container, self.mounts(pod, container, pvc_uid_of))
            c.task = asyncio.ensure_future(c.start(args))
        return c

    async def exec(self, pod, container, argv, stdin, stdout, stderr, tty, pvc_uid_of):
        """Runs argv in the container's sandbox (started now if it never was). Returns
        (AgentExec, pty master fd or None); raises ExecError when it cannot start."""
        c = self._container(pod, container, pvc_uid_of)
        proc, master = await c.exec(list(argv), self.exec_env(pod, container, tty),
                                    container.get("workingDir") or "/app/workspace",
                                    stdin, stdout, stderr, tty)
        self.procs.setdefault(pod["metadata"]["uid"], set()).add(proc)
        return proc, master

    def forget(self, pod_uid, proc):
        s = self.procs.get(pod_uid)
        if s:
            s.discard(proc)
            if not s:
                del self.procs[pod_uid]
        proc.close()

    @staticmethod
    def _kill(proc, sig):
        """Ends one exec: its process and whatever is left in its session."""
        if proc is not None:
            proc.send_signal(sig)

    def kill_pod(self, pod_uid, sig=signal.SIGKILL):
        """SIGKILL: the pod's sandboxes go, and every process in them. Another signal goes to
        every process in them (the kubelet's SIGTERM when a pod is deleted with a grace period)."""
        for c in list(self.containers.get(pod_uid, {}).values()):
            if sig == signal.SIGKILL:
                c.kill()
            else:
                c.signal_all(sig)

    def kill_all(self):
        for pods in self.containers.values():
            for c in list(pods.values()):
                c.kill()

    def state(self, pod_uid):
        return [{"container": name, "pid": c.pid, "running": c.state == "running",
                 "exitStatus": c.exit_status}
                for name, c in self.containers.get(pod_uid, {}).items()]


def _log(msg):
    sys.stderr.write(f"kubefake: {msg}\n")
    sys.stderr.flush()


class Container:
    """One container's sandbox: bubblewrap with the agent as pid 1 of its pid namespace."""

    def __init__(self, owner, label):
        self.owner = owner
        self.label = label
        self.state = "starting"  # then "running", then "dead"
        self.proc = None  # the bwrap process (our child)
        self.pid = None  # the agent's host pid (pid 1 inside)
        self.pidfd = None
        self.ctl = None
        self.killed = False
        self.exit_status = None
        self.task = None  # start()
        self.watch_task = None  # reaps bwrap, notices the sandbox's end
        self.ready = asyncio.get_event_loop().create_future()
        self.ready.add_done_callback(lambda f: f.cancelled() or f.exception())

    async def start(self, args):
        loop = asyncio.get_running_loop()
        ctl, ctl_agent = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        code_r, code_w = os.pipe()
        info_r, info_w = os.pipe()
        try:
            with open(AGENT_SOURCE, "rb") as f:
                code = f.read()
            assert len(code) < 60000, "the agent must fit in a pipe's buffer"
            os.write(code_w, code)
            os.close(code_w)
            code_w = None
            kw = {"start_new_session": True}
            if self.owner.host_uid is not None:
                kw.update(user=self.owner.host_uid, group=self.owner.host_uid, extra_groups=[])
            argv = args + ["--info-fd", str(info_w), "--", _python(), "-I", "-S", "-c",
                           _BOOTSTRAP, str(ctl_agent.fileno()), str(code_r)]
            self.proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                pass_fds=(ctl_agent.fileno(), code_r, info_w), **kw)
        except BaseException as e:
            ctl.close()
            os.close(info_r)
            self._fail(f"cannot start its sandbox: {e!r}")
            return
        finally:
            ctl_agent.close()
            for fd in (code_r, code_w, info_w):
                if fd is not None:
                    os.close(fd)
        self.watch_task = asyncio.ensure_future(self._watch())
        try:
            if self.killed:
                raise SandboxError("killed while starting")
            info = await asyncio.wait_for(_read_all(info_r), START_TIMEOUT)
            pid = int(json.loads(info)["child-pid"])
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:
                raise SandboxError("its agent exited before it was ready")
            try:
                with open(f"/proc/{pid}/status") as f:  # the agent, not a pid reused since
                    ppid = next((l.split()[1] for l in f if l.startswith("PPid:")), "0")
            except OSError:
                ppid = "0"
            if int(ppid) != self.proc.pid:
                os.close(pidfd)
                raise SandboxError("its agent exited before it was ready")
            self.pid, self.pidfd = pid, pidfd
            ctl.setblocking(False)
            hello = await asyncio.wait_for(loop.sock_recv(ctl, 4096), START_TIMEOUT)
            if not hello or not json.loads(hello).get("ready"):
                raise SandboxError("its agent exited before it was ready")
            if self.killed:
                raise SandboxError("killed while starting")
        except (asyncio.TimeoutError, ValueError, KeyError, OSError, SandboxError) as e:
            ctl.close()
            self._kill_now()
            self._fail(f"its sandbox did not start: {e}")
            return
        finally:
            os.close(info_r)
        self.ctl = ctl
        self.state = "running"
        self.ready.set_result(True)

    def _fail(self, why):
        self.state = "dead"
        if not self.killed:
            _log(f"container {self.label}: {why}")
        if not self.ready.done():
            self.ready.set_exception(SandboxError(why))

    async def _watch(self):
        rc = await self.proc.wait()
        self.exit_status = rc
        was = self.state
        self.state = "dead"
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        if not self.killed and was == "running":
            _log(f"container {self.label}: its sandbox exited (status {rc}); execs now fail")
        if not self.ready.done():
            self.ready.set_exception(SandboxError(f"its sandbox exited (status {rc})"))

    def _kill_now(self):
        if self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except OSError:
                pass
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass

    def kill(self):
        """The container stops: the agent (pid 1) dies, and the kernel kills every process of
        its pid namespace with it."""
        self.killed = True
        if self.state == "running":
            self.state = "dead"
        self._kill_now()
        if self.ctl is not None:
            self.ctl.close()
            self.ctl = None

    def signal_all(self, sig):
        if self.state == "running" and self.ctl is not None:
            try:
                self.ctl.send(json.dumps({"op": "signal", "sig": int(sig)}).encode())
            except OSError:
                pass

    async def exec(self, argv, env, cwd, stdin, stdout, stderr, tty):
        if self.state == "starting":
            try:
                await asyncio.shield(self.ready)
            except SandboxError:
                pass
        if self.state != "running" or self.ctl is None:
            raise ExecError(NOT_RUNNING)
        chan, chan_agent = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        send, child_ends, host_ends = [chan_agent.fileno()], [], {}
        stdio = [None, None, None]
        try:
            # With a tty the agent makes the pty in the sandbox's devpts and sends its master.
            for i, wanted in enumerate((stdin, stdout, stderr)):
                if wanted and not tty:
                    r, w = os.pipe()
                    host_ends[i], child = (w, r) if i == 0 else (r, w)
                    child_ends.append(child)
                    send.append(child)
                    stdio[i] = len(send) - 1
            msg = json.dumps({"op": "exec", "argv": argv, "env": env, "cwd": cwd, "tty": tty,
                              "stdio": stdio}).encode()
            for _ in range(500):
                try:
                    socket.send_fds(self.ctl, [msg], send)
                    break
                except BlockingIOError:
                    await asyncio.sleep(0.01)
                if self.ctl is None:
                    raise ExecError(NOT_RUNNING)
            else:
                raise ExecError(NOT_RUNNING + " (its agent does not answer)")
        except (OSError, ExecError) as e:
            chan.close()
            for fd in host_ends.values():
                os.close(fd)
            raise e if isinstance(e, ExecError) else ExecError(NOT_RUNNING)
        finally:
            chan_agent.close()
            for fd in child_ends:
                os.close(fd)
        proc = AgentExec(chan)
        proc.argv, proc.cwd = argv, cwd
        try:
            await proc.connect(host_ends)
            await proc.started
        except BaseException:
            proc.close()
            raise
        master, proc.master = proc.master, None
        if tty and master is None:
            proc.kill()
            proc.close()
            raise ExecError(NOT_RUNNING + " (no terminal)")
        return proc, master


async def _recv_fds(sock, maxfds=4):
    """One message and the file descriptors passed with it, from a non-blocking socket."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 65536, maxfds, socket.MSG_CMSG_CLOEXEC)
            return data, fds
        except (BlockingIOError, InterruptedError):
            pass
        ready = loop.create_future()
        loop.add_reader(sock.fileno(), lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            loop.remove_reader(sock.fileno())


async def _read_all(fd):
    """Everything a pipe yields until its writers close it."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    done = loop.create_future()
    buf = bytearray()

    def readable():
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            buf.extend(data)
        elif not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
    return bytes(buf)


NOT_RUNNING = ("error executing command in container: failed to exec in container: container is "
               "in CONTAINER_EXITED state")


class ExecError(Exception):
    """The runtime could not start an exec; `why` is the text the kubelet reports after
    "Internal error occurred: " (a 500 InternalError status on the error channel)."""

    def __init__(self, why):
        super().__init__(why)
        self.why = why


def _exec_failure(err, argv, cwd):
    """runc's words for an exec that failed to start."""
    stage, num = err.get("stage"), int(err.get("errno") or 0)
    text = (os.strerror(num) if num else str(err.get("strerror") or "unknown error")).lower()
    cmd = argv[0] if argv else ""
    if stage == "chdir":
        why = f'chdir to cwd ("{cwd}") set in config.json failed: {text}'
    elif stage == "exec" and num == errno.ENOENT and "/" not in cmd:
        why = f'exec: "{cmd}": executable file not found in $PATH'
    elif stage == "exec" and num == errno.ENOENT:
        why = f'exec: "{cmd}": stat {cmd}: {text}'
    elif stage == "exec":
        why = f'exec: "{cmd}": {text}'
    else:
        why = f"{stage}: {text}"
    return ExecError(f'error executing command in container: failed to exec in container: failed '
                     f'to start exec "{uuid.uuid4().hex}": OCI runtime exec failed: exec failed: '
                     f'unable to start container process: {why}: unknown')


class AgentExec:
    """One exec running in a container's sandbox, shaped like asyncio's Process: stdin (a
    StreamWriter), stdout/stderr (StreamReaders), returncode (negative: killed by that signal),
    wait(), send_signal(). Its channel to the agent carries the start, the exit and kills."""

    def __init__(self, chan):
        loop = asyncio.get_event_loop()
        self.chan = chan
        chan.setblocking(False)
        self.pid = None  # inside the sandbox
        self.master = None  # a tty's pty master, until exec() hands it to the caller
        self.returncode = None
        self.stdin = self.stdout = self.stderr = None
        self.argv = None
        self.cwd = None
        self._transports = []
        self.started = loop.create_future()
        self.started.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._done = loop.create_future()
        self._reader = None

    async def connect(self, host_ends):
        loop = asyncio.get_running_loop()
        for i, fd in list(host_ends.items()):
            f = os.fdopen(fd, "wb" if i == 0 else "rb", 0)
            del host_ends[i]
            try:
                if i == 0:
                    transport, proto = await loop.connect_write_pipe(
                        lambda: asyncio.streams.FlowControlMixin(loop=loop), f)
                    self.stdin = asyncio.StreamWriter(transport, proto, None, loop)
                else:
                    reader = asyncio.StreamReader(limit=1 << 20, loop=loop)
                    transport, _ = await loop.connect_read_pipe(
                        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), f)
                    if i == 1:
                        self.stdout = reader
                    else:
                        self.stderr = reader
            except BaseException:
                f.close()
                raise
            self._transports.append(transport)
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self):
        code = None
        try:
            while True:
                try:
                    data, fds = await _recv_fds(self.chan)
                except OSError:
                    data, fds = b"", []
                if not data:
                    for fd in fds:
                        os.close(fd)
                    break
                msg = json.loads(data)
                if "started" in msg and not self.started.done():
                    self.pid = msg["started"]
                    self.master = fds.pop(0) if fds else None
                    self.started.set_result(self.pid)
                for fd in fds:
                    os.close(fd)
                if "started" in msg:
                    continue
                elif "error" in msg and not self.started.done():
                    self.started.set_exception(_exec_failure(msg["error"], self.argv or [],
                                                             self.cwd))
                    code = 127
                    break
                elif "exit" in msg:
                    code = int(msg["exit"])
                    break
        finally:
            if not self.started.done():
                self.started.set_exception(ExecError(NOT_RUNNING))
            # No exit report: the sandbox went away under the exec, which was killed with it.
            self.returncode = code if code is not None else -signal.SIGKILL
            if not self._done.done():
                self._done.set_result(self.returncode)
            self.chan.close()

    async def wait(self):
        return await asyncio.shield(self._done)

    def send_signal(self, sig):
        if self.returncode is None and self.chan.fileno() >= 0:
            try:
                self.chan.send(json.dumps({"kill": int(sig)}).encode())
            except OSError:
                pass

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def close(self):
        """Lets go of the exec (the agent kills its session if it still runs) and its pipes."""
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
        self.chan.close()
        for t in self._transports:
            t.close()
        self._transports = []
        if self.master is not None:
            os.close(self.master)
            self.master = None
