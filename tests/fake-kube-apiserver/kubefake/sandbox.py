"""Runs exec'd commands for real, each inside bubblewrap with the pod's volumes bound in, as an
unprivileged host uid when the fake runs as root. Never touches the machine's own paths: the
sandbox sees /usr and /etc read-only, a private /tmp, and only the pod's directories writable."""

import asyncio
import os
import shutil
import signal
import stat

SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_FORBIDDEN_MOUNTS = ("/usr", "/etc", "/proc", "/dev", "/bin", "/sbin", "/lib", "/lib64")


class SandboxError(Exception):
    pass


class Sandboxes:
    def __init__(self, data_dir, host_uid=65534, bwrap="bwrap"):
        self.data_dir = os.path.abspath(data_dir)
        self.bwrap = shutil.which(bwrap) or bwrap
        self.host_uid = host_uid if os.geteuid() == 0 else None
        self.procs = {}  # pod uid -> set of asyncio Process
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

    def _args(self, pod, container, mounts, tty):
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
             "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
             "--hostname", name[:63], "--die-with-parent", "--cap-drop", "ALL",
             "--clearenv", "--setenv", "PATH", SANDBOX_PATH, "--setenv", "HOME", "/root",
             "--setenv", "HOSTNAME", name[:63]]
        if tty:
            a += ["--setenv", "TERM", "xterm"]
        for env in container.get("env") or []:
            if "name" in env and isinstance(env.get("value"), str):
                a += ["--setenv", env["name"], env["value"]]
        for src, dst in mounts:
            a += ["--bind", src, dst]
        a += ["--chdir", container.get("workingDir") or "/app/workspace"]
        return a

    async def spawn(self, pod, container, mounts, argv, stdin, stdout, stderr, tty):
        """Starts argv in a fresh sandbox. Returns (process, pty master fd or None)."""
        args = self._args(pod, container, mounts, tty) + ["--"]
        if tty:
            # The command leads its own session inside the pid namespace with the pty as its
            # controlling terminal, as a container's process does; a shell can then hand the
            # terminal back to its own process group at exit.
            args += ["setsid", "--wait", "--ctty", "--"]
        args += list(argv)
        kw = {"start_new_session": True}
        if self.host_uid is not None:
            kw.update(user=self.host_uid, group=self.host_uid, extra_groups=[])
        master = None
        if tty:
            master, slave = os.openpty()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *args, stdin=slave, stdout=slave, stderr=slave, **kw)
            finally:
                os.close(slave)
        else:
            pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
            proc = await asyncio.create_subprocess_exec(
                *args, stdin=pipe if stdin else null, stdout=pipe if stdout else null,
                stderr=pipe if stderr else null, **kw)
        self.procs.setdefault(pod["metadata"]["uid"], set()).add(proc)
        return proc, master

    def forget(self, pod_uid, proc):
        s = self.procs.get(pod_uid)
        if s:
            s.discard(proc)

    @staticmethod
    def _kill(proc, sig):
        if proc.returncode is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass

    def kill_pod(self, pod_uid, sig=signal.SIGKILL):
        for proc in list(self.procs.get(pod_uid, ())):
            self._kill(proc, sig)

    def kill_all(self):
        for procs in self.procs.values():
            for proc in list(procs):
                self._kill(proc, signal.SIGKILL)
