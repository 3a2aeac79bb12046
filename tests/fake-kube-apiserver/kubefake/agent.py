"""The init process of one container's sandbox (pid 1 of its pid namespace, run by bubblewrap with
--as-pid-1 from the read-only /usr's python3). It does what a container runtime's `exec` does:
every exec of the container becomes a child of this process, so all of them share the sandbox's
pid namespace, /tmp and mounts, and what one of them daemonises keeps running for the next.

The fake feeds this file on a pipe (it is not visible inside the sandbox) and passes the control
socket's fd number as argv[1]. The control socket is a SOCK_SEQPACKET socketpair; the fake sends
  {"op": "exec", "argv", "env", "cwd", "tty", "stdio": [i, i, i]}  + SCM_RIGHTS [chan, fds...]
(stdio: indexes into the fds, null = /dev/null; with tty a pty is made here instead)
  {"op": "signal", "sig": N}                                         (kill(-1, N): pod stopping)
and this process answers {"ready": true} once. `chan` is the exec's own socket: this process sends
{"started": pid} (with the pty's master fd for a tty) or {"error": {...}} (the exec could not start), then {"exit": code} (negative:
killed by that signal); the fake may send {"kill": sig} (ends the exec's session). When the fake
closes `chan` before the exit, the exec's session is killed. The control socket closing (the fake
is gone) ends this process, and the kernel then kills every process of the namespace.

An exec runs as its own session leader (setsid; with a tty, the pty is its controlling terminal).
When it exits, what it left running keeps running, as in a container (the kernel's SIGHUP still
reaches a tty's foreground job), and this process reaps every orphan. When the fake lets go of an
exec that still runs (its client went away, or an exec_break fault), the exec's whole session is
killed; processes that started their own session (`setsid cmd &`, a dtach or tmux master) survive
that too, until the pod goes."""

import errno
import fcntl
import json
import os
import signal
import socket
import termios
import selectors

MAX_FDS = 8


def log(msg):
    try:
        os.write(2, f"kubefake-agent[{os.getpid()}]: {msg}\n".encode())
    except OSError:
        pass


def session_members(sid):
    """Pids (in this namespace) of the live processes whose session is sid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        # state ppid pgrp session ...
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] not in (b"Z", b"X"):
            pid = int(name)
            if pid != 1:
                out.append(pid)
    return out


def kill_session(sid, sig=signal.SIGKILL):
    for _ in range(3):  # again, for what forked while the first round was sent
        pids = session_members(sid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        if sig != signal.SIGKILL:
            return


def child(msg, stdio, errw):
    """In the forked child: become the exec's process and exec it; on failure report over errw."""
    stage = "setup"
    try:
        signal.set_wakeup_fd(-1)
        for s in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM,
                  signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.setsid()
        if msg.get("tty"):
            fcntl.ioctl(stdio[0], termios.TIOCSCTTY, 0)
        for i, fd in enumerate(stdio):
            os.dup2(fd, i)
        os.closerange(3, errw)
        os.closerange(errw + 1, 1 << 16)
        stage = "chdir"
        os.chdir(msg["cwd"])
        stage = "exec"
        argv = msg["argv"]
        os.execvpe(argv[0], argv, msg["env"])
    except OSError as e:
        report = {"stage": stage, "errno": e.errno or 0, "strerror": os.strerror(e.errno or 0)}
    except BaseException as e:  # noqa: BLE001 (anything else: report it, never return)
        report = {"stage": stage, "errno": 0, "strerror": repr(e)}
    try:
        os.write(errw, json.dumps(report).encode())
    finally:
        os._exit(127)


class Agent:
    def __init__(self, ctl_fd):
        self.ctl = socket.socket(fileno=ctl_fd)
        self.ctl.setblocking(True)
        self.sel = selectors.DefaultSelector()
        self.execs = {}  # leader pid -> exec channel (None once the fake let go of it)
        self.chans = {}  # channel fd -> leader pid
        self.devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # pid 1 with a handler would get it
        signal.set_wakeup_fd(wake_w)
        self.sel.register(self.ctl, selectors.EVENT_READ, self.on_control)
        self.sel.register(self.wake_r, selectors.EVENT_READ, self.on_sigchld)

    def run(self):
        self.ctl.send(json.dumps({"ready": True}).encode())
        while True:
            for key, _ in self.sel.select():
                key.data(key.fileobj)

    # ---- the control socket -----------------------------------------------------------------

    def on_control(self, _):
        try:
            data, fds, flags, _ = socket.recv_fds(self.ctl, 65536, MAX_FDS,
                                                  socket.MSG_CMSG_CLOEXEC)
        except InterruptedError:
            return
        except OSError as e:
            log(f"control socket: {e}; stopping")
            os._exit(1)
        if not data:
            os._exit(0)  # the fake is gone: so is the pod
        try:
            msg = json.loads(data)
        except ValueError:
            msg = {}
        try:
            if flags & socket.MSG_CTRUNC:
                log("control message lost file descriptors")
            elif msg.get("op") == "exec" and fds:
                self.start_exec(msg, fds)
            elif msg.get("op") == "signal":
                try:
                    os.kill(-1, int(msg["sig"]))
                except OSError:
                    pass
        except Exception as e:  # noqa: BLE001 (a bad request must not stop the container)
            log(f"bad request {msg!r}: {e!r}")
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def start_exec(self, msg, fds):
        chan = socket.socket(fileno=os.dup(fds[0]))
        master = None
        try:
            if msg.get("tty"):
                # As runc does for a terminal: the pty comes from the sandbox's own devpts (so
                # `tty` names it) and its master goes back to the fake.
                master, slave = os.openpty()
                fds.append(slave)
                msg["stdio"] = [len(fds) - 1] * 3
            pid, report = self.spawn(msg, fds)
        except Exception as e:  # noqa: BLE001
            self.send(chan, {"error": {"stage": "setup", "errno": 0, "strerror": repr(e)}})
            chan.close()
            if master is not None:
                os.close(master)
            raise
        if report:
            self.reap_now(pid)
            try:
                err = json.loads(report)
            except ValueError:
                err = {"stage": "exec", "errno": 0, "strerror": report.decode(errors="replace")}
            self.send(chan, {"error": err})
            chan.close()
            if master is not None:
                os.close(master)
            return
        self.execs[pid] = chan
        self.chans[chan.fileno()] = pid
        self.sel.register(chan, selectors.EVENT_READ, self.on_channel)
        self.send(chan, {"started": pid}, [master] if master is not None else [])
        if master is not None:
            os.close(master)
        chan.setblocking(False)

    def spawn(self, msg, fds):
        """Forks the exec's process; returns (pid, what its exec failure reported, or b"")."""
        try:
            stdio = [self.devnull if i is None else fds[int(i)] for i in msg["stdio"]]
            if len(stdio) != 3 or not isinstance(msg.get("argv"), list) or not msg["argv"]:
                raise ValueError("an exec needs argv and three stdio entries")
            errr, errw = os.pipe2(os.O_CLOEXEC)
            try:
                pid = os.fork()
            except OSError:
                os.close(errr)
                os.close(errw)
                raise
            if pid == 0:
                os.close(errr)
                child(msg, stdio, errw)
            os.close(errw)
            report = b""
            while True:
                try:
                    part = os.read(errr, 4096)
                except InterruptedError:
                    continue
                if not part:
                    break
                report += part
            os.close(errr)
            return pid, report
        finally:
            for fd in fds:
                os.close(fd)
            fds.clear()

    def reap_now(self, pid):
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass

    @staticmethod
    def send(chan, obj, fds=()):
        try:
            socket.send_fds(chan, [json.dumps(obj).encode()], list(fds))
        except OSError:
            pass

    # ---- one exec's channel -----------------------------------------------------------------

    def on_channel(self, chan):
        pid = self.chans.get(chan.fileno())
        try:
            data = chan.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            # The fake let go of the exec (client gone, or the fake is stopping): end it.
            self.drop(chan)
            if pid is not None:
                self.execs[pid] = None
                kill_session(pid)
            return
        try:
            msg = json.loads(data)
        except ValueError:
            return
        if "kill" in msg and pid is not None:
            kill_session(pid, int(msg["kill"]))

    def drop(self, chan):
        self.chans.pop(chan.fileno(), None)
        try:
            self.sel.unregister(chan)
        except (KeyError, ValueError):
            pass
        chan.close()

    # ---- children ---------------------------------------------------------------------------

    def on_sigchld(self, _):
        try:
            while os.read(self.wake_r, 4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.execs:
                # As in a container, what the exec left running keeps running (orphans are
                # reaped here); only an exec the fake lets go of has its session killed.
                chan = self.execs.pop(pid)
                if chan is not None:
                    self.send(chan, {"exit": os.waitstatus_to_exitcode(status)})
                    self.drop(chan)


def main(argv):
    ctl_fd = int(argv[1])
    # Keep stdin/stdout/stderr and the control socket; drop anything else bubblewrap passed on.
    os.closerange(3, ctl_fd)
    os.closerange(ctl_fd + 1, 1 << 16)
    os.chdir("/")
    try:
        Agent(ctl_fd).run()
    except Exception as e:  # noqa: BLE001
        log(f"failed: {e!r}")
        raise


if __name__ == "__main__":
    import sys
    main(sys.argv)
