#!/usr/bin/python3
"""A protocol-faithful fake Kubernetes API server for tests (see README.md).

Start:  fake_apiserver.py --port 0 --data-dir DIR --token T
Prints one JSON line on stdout once it accepts connections, e.g.
  {"port": 43121, "url": "https://127.0.0.1:43121", "kubeconfig": ".../kubeconfig", ...}
SIGTERM or SIGINT stops it and kills every sandbox it started."""

import argparse
import asyncio
import ipaddress
import json
import os
import secrets
import shutil
import signal
import ssl
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    from aiohttp import web
except ImportError:
    sys.exit("fake_apiserver: the Python module aiohttp is missing: apt-get install python3-aiohttp "
             "(and run this with /usr/bin/python3)")

from kubefake import api, certs, cluster, faults, sandbox, server  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description="Fake Kubernetes API server (test fixture)")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    p.add_argument("--data-dir", help="where pod and PVC directories live (default: a temp dir)")
    p.add_argument("--token", help="bearer token with full access (default: random)")
    p.add_argument("--unprivileged-token", action="append", default=[],
                   help="a bearer token that authenticates but is forbidden everything (403)")
    p.add_argument("--namespace", default="default", help="namespace written into the kubeconfig")
    p.add_argument("--faults", help="JSON fault list, or @FILE holding one (see README.md)")
    p.add_argument("--schedule-delay", type=float, default=0.2, help="seconds Pending before scheduling")
    p.add_argument("--start-delay", type=float, default=0.3, help="seconds in ContainerCreating")
    p.add_argument("--terminate-delay", type=float, default=0.3,
                   help="seconds a deleted pod stays Terminating (capped by its grace period)")
    p.add_argument("--bookmark-interval", type=float, default=5.0, help="seconds between BOOKMARKs")
    p.add_argument("--watch-timeout", type=float, default=1800.0,
                   help="seconds a watch lasts when the client sets no timeoutSeconds")
    p.add_argument("--history", type=int, default=2000, help="watch events kept for resumption")
    p.add_argument("--pvc-binding", choices=["WaitForFirstConsumer", "Immediate"],
                   default="WaitForFirstConsumer")
    p.add_argument("--sandbox-uid", type=int, default=65534,
                   help="unprivileged host uid the sandboxes run as when started by root")
    p.add_argument("--kube-version", default="1.31.0", help="version /version reports")
    return p.parse_args(argv)


async def amain(args):
    if not ipaddress.ip_address(args.host).is_loopback:
        sys.exit("fake_apiserver: only loopback addresses are allowed")
    if not shutil.which("openssl"):
        sys.exit("fake_apiserver: openssl is needed to make the test certificates")
    workdir = tempfile.mkdtemp(prefix="kubefake-")
    os.chmod(workdir, 0o711)
    data_dir = os.path.abspath(args.data_dir or os.path.join(workdir, "data"))
    try:
        sandboxes = sandbox.Sandboxes(data_dir, args.sandbox_uid)
    except sandbox.SandboxError as e:
        sys.exit(f"fake_apiserver: {e}")
    pki = certs.make_pki(workdir)
    fs = faults.Faults()
    if args.faults:
        text = args.faults
        if text.startswith("@"):
            with open(text[1:]) as f:
                text = f.read()
        try:
            fs.add(json.loads(text))
        except (ValueError, api.ApiError) as e:
            sys.exit(f"fake_apiserver: bad --faults: {getattr(e, 'message', e)}")
    major, minor = args.kube_version.split(".")[:2]
    server.VERSION.update(major=major, minor=minor, gitVersion="v" + args.kube_version)
    timings = cluster.Timings(args.schedule_delay, args.start_delay, args.terminate_delay,
                              args.bookmark_interval, args.watch_timeout)
    cl = cluster.Cluster(sandboxes, fs, timings, args.pvc_binding)
    cl.store.history_size = args.history
    token = args.token or secrets.token_hex(16)
    srv = server.Server(cl, fs, sandboxes, token, args.unprivileged_token)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki["server.crt"], pki["server.key"])
    ctx.load_verify_locations(pki["ca.crt"])
    ctx.verify_mode = ssl.CERT_OPTIONAL  # client certificates are accepted, not required
    runner = web.AppRunner(srv.app(), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, ssl_context=ctx, shutdown_timeout=0.5)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    srv.port = port
    url = f"https://{args.host}:{port}"
    kubeconfig = certs.write_kubeconfig(os.path.join(workdir, "kubeconfig"), url, pki["ca.crt"],
                                        args.namespace, token=token)
    kubeconfig_cert = certs.write_kubeconfig(os.path.join(workdir, "kubeconfig-client-cert"), url,
                                             pki["ca.crt"], args.namespace, cert=pki["client.crt"],
                                             key=pki["client.key"])
    ready = {"port": port, "url": url, "kubeconfig": kubeconfig, "ca": pki["ca.crt"],
             "token": token, "unprivileged_tokens": args.unprivileged_token,
             "kubeconfig_client_cert": kubeconfig_cert, "client_cert": pki["client.crt"],
             "client_key": pki["client.key"], "namespace": args.namespace, "data_dir": data_dir,
             "pid": os.getpid()}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    cl.shutdown()
    try:
        await asyncio.wait_for(runner.cleanup(), 3)
    except asyncio.TimeoutError:
        pass
    sandboxes.kill_all()
    shutil.rmtree(workdir, ignore_errors=True)


def main():
    args = parse_args(sys.argv[1:])
    try:
        asyncio.run(amain(args))
    finally:
        pass


if __name__ == "__main__":
    main()
