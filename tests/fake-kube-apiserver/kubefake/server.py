"""The HTTPS front: authentication, authorization, request log, injected HTTP faults, and the
REST, watch and exec routes of the core/v1 subset; plus the /_fake control endpoints."""

import asyncio
import base64
import copy
import json
import time

from aiohttp import web

from . import api, execws
from .store import KINDS, Watcher

VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0", "gitCommit": "fake",
           "gitTreeState": "clean", "buildDate": "2024-08-13T00:00:00Z", "goVersion": "go1.22.5",
           "compiler": "gc", "platform": "linux/amd64"}
PUBLIC = {"/version", "/healthz", "/readyz", "/livez"}


def _resource(name, kind, verbs, short=None, namespaced=True):
    r = {"name": name, "singularName": "" if "/" in name else kind.lower(), "namespaced": namespaced,
         "kind": kind, "verbs": verbs}
    if short:
        r["shortNames"] = short
    if "/" not in name:
        r["storageVersionHash"] = base64.b64encode(name.encode()).decode()[:11]
    return r


CRUD = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
API_V1 = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
    _resource("events", "Event", ["create", "delete", "get", "list", "watch"], ["ev"]),
    _resource("namespaces", "Namespace", ["get", "list"], ["ns"], namespaced=False),
    _resource("persistentvolumeclaims", "PersistentVolumeClaim", CRUD, ["pvc"]),
    _resource("persistentvolumeclaims/status", "PersistentVolumeClaim", ["get", "patch", "update"]),
    _resource("pods", "Pod", CRUD, ["po"]),
    _resource("pods/exec", "PodExecOptions", ["create", "get"]),
    _resource("pods/log", "Pod", ["get"]),
    _resource("pods/status", "Pod", ["get", "patch", "update"]),
]}
for _r in API_V1["resources"]:
    if _r["name"] == "pods":
        _r["categories"] = ["all"]


def with_kind(resource, obj):
    out = {"kind": KINDS[resource], "apiVersion": "v1"}
    out.update(copy.deepcopy(obj))
    return out


def jresp(obj, status=200):
    return web.Response(status=status, body=json.dumps(obj).encode(),
                        content_type="application/json")


class RequestInfo:
    def __init__(self, path, method, query):
        self.path, self.method = path, method
        self.resource = self.namespace = self.name = self.sub = None
        self.verb = None
        parts = [p for p in path.split("/") if p]
        if len(parts) < 3 or parts[:2] != ["api", "v1"]:
            return
        rest = parts[2:]
        if rest[0] == "namespaces" and len(rest) >= 3:
            self.namespace, self.resource = rest[1], rest[2]
            self.name = rest[3] if len(rest) > 3 else None
            self.sub = rest[4] if len(rest) > 4 else None
            self.extra = rest[5:]
        elif rest[0] == "namespaces":
            self.resource, self.name, self.extra = "namespaces", (rest[1] if len(rest) > 1 else None), []
        else:
            self.resource = rest[0]
            self.name = rest[1] if len(rest) > 1 else None
            self.sub = rest[2] if len(rest) > 2 else None
            self.extra = rest[3:]
        watch = api.parse_bool(query.get("watch", "false"), "watch") if "watch" in query else False
        if method == "GET":
            self.verb = "get" if self.name else ("watch" if watch else "list")
        else:
            self.verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                         "DELETE": "delete" if self.name else "deletecollection"}.get(method, method.lower())

    @property
    def full_resource(self):
        return f"{self.resource}/{self.sub}" if self.sub else self.resource


class Server:
    def __init__(self, cluster, faults, sandboxes, token, unprivileged_tokens, port_cb=None):
        self.cluster = cluster
        self.faults = faults
        self.sandboxes = sandboxes
        self.token = token
        self.unprivileged = set(unprivileged_tokens)
        self.requests = []
        self.seq = 0
        self.port = 0

    def app(self):
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    # ---- plumbing ---------------------------------------------------------------------------

    def authenticate(self, request):
        """Returns (user, privileged); raises 401 for missing or unknown credentials."""
        header = request.headers.get("Authorization")
        if header:
            scheme, _, cred = header.partition(" ")
            cred = cred.strip()
            if scheme.lower() == "bearer":
                if cred == self.token:
                    return "fake-admin", True
                if cred in self.unprivileged:
                    return "system:serviceaccount:default:unprivileged", False
        else:
            cert = request.transport.get_extra_info("peercert") if request.transport else None
            if cert:
                subject = dict(x[0] for x in cert.get("subject", ()))
                groups = [x[0][1] for x in cert.get("subject", ()) if x[0][0] == "organizationName"]
                return subject.get("commonName", "unknown"), "system:masters" in groups
        raise api.ApiError(401, "Unauthorized", "Unauthorized")

    async def dispatch(self, request):
        path = request.path
        if path.startswith("/_fake/"):
            try:
                return await self.control(request)
            except api.ApiError as e:
                return jresp(e.status(), e.code)
        self.seq += 1
        raw = await request.read() if request.can_read_body else b""
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        entry = {"seq": self.seq, "time": time.time(), "method": request.method, "path": path,
                 "query": request.query_string,
                 "params": {k: request.query.getall(k) for k in request.query.keys()},
                 "headers": {k.lower(): v for k, v in request.headers.items()
                             if k.lower() in ("accept", "content-type", "user-agent", "upgrade",
                                              "sec-websocket-protocol", "host")},
                 "body": body if body is not None else (raw[:2000].decode("utf-8", "replace") if raw else None)}
        self.requests.append(entry)
        try:
            resp = await self.handle(request, entry, raw, body)
        except api.ApiError as e:
            entry["status"] = e.code
            entry["reason"] = e.reason
            if e.text_body is not None:
                return web.Response(status=e.code, text=e.text_body, headers=e.headers,
                                    content_type="text/plain", charset="utf-8")
            resp = jresp(e.status(), e.code)
            resp.headers.update(e.headers)
            return resp
        entry.setdefault("status", resp.status if resp is not None else 0)
        return resp

    async def handle(self, request, entry, raw, body):
        path, q = request.path.rstrip("/") or "/", request.query
        if path in PUBLIC:
            if path == "/version":
                return jresp(VERSION)
            return web.Response(text="ok")
        user, privileged = self.authenticate(request)
        entry["user"] = user
        info = RequestInfo(path, request.method, q)
        entry.update(verb=info.verb, resource=info.full_resource, namespace=info.namespace, name=info.name)
        if info.resource and not privileged:
            raise api.forbidden(user, info.verb, info.full_resource, info.name, info.namespace)
        body_name = ((body or {}).get("metadata") or {}).get("name") if isinstance(body, dict) else None
        fault = self.faults.take("http_error", f"{request.method} {request.path}",
                                 method=request.method, path=request.path, verb=info.verb,
                                 resource=info.full_resource, namespace=info.namespace,
                                 name=info.name or body_name)
        if fault:
            raise self.fault_error(fault, info, user, body_name)
        # A dropped connection: before the request is served (it has no effect), or with mode
        # "after" once it was (it took effect, but its answer is lost: the client cannot tell).
        reset = self.faults.take("reset", f"{request.method} {request.path}",
                                 method=request.method, path=request.path, verb=info.verb,
                                 resource=info.full_resource, namespace=info.namespace,
                                 name=info.name or body_name)
        if reset and reset.get("mode") != "after":
            return self.drop(request, entry, None)
        try:
            resp = await self.route(request, path, info, raw, body, entry)
        except api.ApiError as e:
            if reset:
                return self.drop(request, entry, e.code)
            raise
        if reset:
            return self.drop(request, entry, resp.status)
        return resp

    def drop(self, request, entry, served):
        """Closes the TCP connection with no answer at all (no TLS close_notify, no status line)."""
        entry["status"] = 0
        entry["reset"] = True
        if served is not None:
            entry["served_status"] = served
        if request.transport is not None:
            request.transport.abort()
        # Never sent: writing to the aborted transport fails, which aiohttp takes as a client gone.
        return web.Response(status=500)

    async def route(self, request, path, info, raw, body, entry):
        if info.name and info.namespace and info.resource in ("pods", "persistentvolumeclaims"):
            # Another client deleted the object (grace 0) between the caller's read and this
            # request: the request then meets a missing object, as it would on a real cluster.
            if self.faults.take("vanish", f"{request.method} {request.path}", method=request.method,
                                path=request.path, verb=info.verb, resource=info.full_resource,
                                namespace=info.namespace, name=info.name):
                try:
                    if info.resource == "pods":
                        self.cluster.delete_pod(info.namespace, info.name, {"gracePeriodSeconds": 0})
                    else:
                        self.cluster.delete_pvc(info.namespace, info.name, {})
                except api.ApiError:
                    pass
        if path == "/api":
            return jresp({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}]})
        if path == "/apis":
            return jresp({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        if path == "/api/v1":
            return jresp(API_V1)
        if not info.resource or getattr(info, "extra", []):
            raise api.ApiError(404, "NotFound", "the server could not find the requested resource", {})
        return await self.resource(request, info, raw, body, entry)

    def fault_error(self, f, info, user, body_name):
        code, msg = f["code"], f.get("message")
        res, name = info.resource or "", info.name or body_name or ""
        if code == 429:
            ra = int(f.get("retry_after", 1))
            if f.get("mode") == "json":
                return api.ApiError(429, "TooManyRequests", msg or "Too many requests, please try again later.",
                                    {"retryAfterSeconds": ra}, headers={"Retry-After": str(ra)})
            return api.ApiError(429, "TooManyRequests", "", headers={"Retry-After": str(ra)},
                                text_body=msg or "Too many requests, please try again later.\n")
        if code == 409:
            if info.verb == "create":
                return api.already_exists(res, name)
            return api.conflict(res, name, msg or "the object has been modified; please apply your "
                                "changes to the latest version and try again")
        if code == 403:
            return api.forbidden(user, info.verb, info.full_resource or "", info.name, info.namespace)
        if code == 404:
            return api.not_found(res, name)
        if code == 410:
            return api.ApiError(410, "Expired", msg or "too old resource version")
        if code == 500:
            m = msg or "fake fault injected"
            return api.ApiError(500, "InternalError", f"Internal error occurred: {m}",
                                {"causes": [{"message": m}]})
        if code == 503:
            return api.ApiError(503, "ServiceUnavailable", msg or "the server is currently unable to handle the request")
        if code == 504:
            return api.ApiError(504, "Timeout", msg or "the server was unable to return a response in the time allotted, but may still be processing the request")
        return api.ApiError(code, f.get("reason") or "Unknown", msg or f"fake fault {code}")

    # ---- resources --------------------------------------------------------------------------

    async def resource(self, request, info, raw, body, entry):
        c, q, ns, name, sub = self.cluster, request.query, info.namespace, info.name, info.sub
        m = request.method
        if info.resource == "namespaces":
            if m == "GET" and name:
                return jresp({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name},
                              "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
            raise api.ApiError(405, "MethodNotAllowed", "the fake serves only GET of a namespace")
        if info.resource == "events":
            if m == "GET" and not name:
                return jresp({"kind": "EventList", "apiVersion": "v1",
                              "metadata": {"resourceVersion": str(c.store.rv)}, "items": []})
            raise api.not_found("events", name or "")
        if info.resource not in KINDS:
            raise api.ApiError(404, "NotFound", "the server could not find the requested resource", {})
        res = info.resource
        if ns is None and (name or m != "GET"):
            raise api.ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if sub:
            allowed = {"pods": {"exec", "status", "log"}, "persistentvolumeclaims": {"status"}}[res]
            if sub not in allowed:
                raise api.ApiError(404, "NotFound", "the server could not find the requested resource", {})
            if sub == "exec":
                if m == "POST":
                    # kubectl falls back to SPDY with a POST; the fake speaks WebSocket only.
                    c.get(res, ns, name)
                    raise api.bad_request("Upgrade request required")
                if m != "GET":
                    raise api.ApiError(405, "MethodNotAllowed", f"{m} is not allowed on pods/exec")
                return await execws.handle_exec(request, self, ns, name, entry)
            if sub == "log":
                c.get(res, ns, name)
                return web.Response(text="", content_type="text/plain")
        if m == "GET" and name:
            return jresp(with_kind(res, c.get(res, ns, name)))
        if m == "GET":
            if info.verb == "watch":
                return await self.watch(request, res, ns, entry)
            return self.list(res, ns, q)
        if m == "POST" and not name:
            if not isinstance(body, dict):
                raise api.bad_request("the body of the request was in an unknown format - accepted "
                                      "media types include: application/json")
            obj = c.create_pod(ns, body) if res == "pods" else c.create_pvc(ns, body)
            return jresp(with_kind(res, obj), 201)
        if m == "DELETE" and name and not sub:
            opts = {}
            if "gracePeriodSeconds" in q:
                try:
                    opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
                except ValueError:
                    raise api.bad_request("invalid gracePeriodSeconds")
            if isinstance(body, dict):
                opts.update({k: v for k, v in body.items() if k in ("gracePeriodSeconds", "preconditions")})
            obj = c.delete_pod(ns, name, opts) if res == "pods" else c.delete_pvc(ns, name, opts)
            return jresp(with_kind(res, obj))
        if m == "PATCH" and name:
            obj = c.patch(res, ns, name, sub, request.headers.get("Content-Type"), raw)
            return jresp(with_kind(res, obj))
        if m == "PUT" and name:
            if not isinstance(body, dict):
                raise api.bad_request("the body of the request was in an unknown format")
            return jresp(with_kind(res, c.update(res, ns, name, sub, body)))
        raise api.ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource")

    def list(self, res, ns, q):
        store = self.cluster.store
        labels = api.parse_label_selector(q.get("labelSelector", ""))
        fields = api.parse_field_selector(q.get("fieldSelector", ""), res)
        items = [o for o in store.items(res, ns)
                 if api.labels_match(labels, o["metadata"].get("labels")) and api.fields_match(fields, o)]
        start = None
        if q.get("continue"):
            try:
                tok = json.loads(base64.b64decode(q["continue"]))
                tok_rv, start = int(tok["rv"]), tuple(tok["start"])
            except (ValueError, KeyError, TypeError):
                raise api.bad_request("continue key is not valid: illegal base64 data")
            if tok_rv < store.oldest_rv:
                raise api.ApiError(410, "Expired", "The provided continue parameter is too old to "
                                   "display a consistent list result. You can start a new list "
                                   "without the continue parameter.")
            items = [o for o in items if (o["metadata"]["namespace"], o["metadata"]["name"]) > start]
        meta = {"resourceVersion": str(store.rv)}
        limit = int(q.get("limit", "0") or 0)
        if limit > 0 and len(items) > limit:
            last = items[limit - 1]["metadata"]
            meta["continue"] = base64.b64encode(json.dumps(
                {"rv": store.rv, "start": [last["namespace"], last["name"]]}).encode()).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return jresp({"kind": KINDS[res] + "List", "apiVersion": "v1", "metadata": meta,
                      "items": [copy.deepcopy(o) for o in items]})

    async def watch(self, request, res, ns, entry):
        q, c = request.query, self.cluster
        store = c.store
        labels = api.parse_label_selector(q.get("labelSelector", ""))
        fields = api.parse_field_selector(q.get("fieldSelector", ""), res)
        rv_text = q.get("resourceVersion", "")
        bookmarks = api.parse_bool(q.get("allowWatchBookmarks", "false"), "allowWatchBookmarks")
        try:
            timeout = float(q.get("timeoutSeconds") or c.t.watch_timeout)
            rv = int(rv_text) if rv_text not in ("", "0") else None
        except ValueError:
            raise api.bad_request(f'invalid resource version: "{rv_text}"')
        gone = self.faults.take("watch_gone", f"watch {res}", resource=res, namespace=ns)
        if gone and gone.get("mode") == "http":
            raise api.ApiError(410, "Expired", f"too old resource version: {rv_text or 0} ({store.rv})")
        drop = self.faults.take("watch_drop", f"watch {res}", resource=res, namespace=ns)
        w = Watcher(res, ns, labels, fields)
        initial = []
        expired = bool(gone)
        if rv is None:
            initial = [("ADDED", o) for o in store.items(res, ns) if w._matches(o)]
        else:
            history = store.events_since(rv)
            if history is None:
                expired = True
            else:
                for ev in history:
                    t = w.translate(ev)
                    if t:
                        initial.append((t, ev.obj))
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        entry["status"] = 200
        sent = 0

        async def send(type_, obj):
            await resp.write((json.dumps({"type": type_, "object": obj}) + "\n").encode())

        if expired:
            await send("ERROR", api.status_object(410, "Expired",
                                                  f"too old resource version: {rv_text or 0} ({store.oldest_rv})"))
            entry["watch_error"] = 410
            await resp.write_eof()
            return resp
        store.watchers.add(w)
        loop = asyncio.get_event_loop()
        deadline = loop.time() + timeout
        last_bookmark = loop.time()
        try:
            pending = list(initial)
            while True:
                if drop and sent >= int(drop.get("after_events", 0)):
                    entry["watch_dropped_after"] = sent
                    if drop.get("abort") and request.transport:
                        request.transport.abort()
                        return resp
                    break
                if pending:
                    t, obj = pending.pop(0)
                    await send(t, with_kind(res, obj))
                    sent += 1
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                wait = min(left, c.t.bookmark) if bookmarks else left
                try:
                    t, ev = await asyncio.wait_for(w.queue.get(), wait)
                    pending.append((t, ev.obj))
                except asyncio.TimeoutError:
                    if bookmarks and loop.time() - last_bookmark >= c.t.bookmark - 0.01:
                        await send("BOOKMARK", {"kind": KINDS[res], "apiVersion": "v1",
                                                "metadata": {"resourceVersion": str(store.rv)}})
                        last_bookmark = loop.time()
            await resp.write_eof()
        finally:
            store.watchers.discard(w)
            entry["watch_events"] = sent
        return resp

    # ---- control endpoints ------------------------------------------------------------------

    async def control(self, request):
        path, m = request.path, request.method
        body = None
        if request.can_read_body:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise api.bad_request("control endpoints take JSON")
        if path == "/_fake/healthz":
            return jresp({"ok": True})
        if path == "/_fake/faults":
            if m == "POST":
                return jresp({"added": [{k: v for k, v in f.items() if not k.startswith("_")}
                                        for f in self.faults.add(body)]}, 201)
            if m == "DELETE":
                self.faults.clear()
            return jresp({"active": self.faults.listing(), "fired": self.faults.fired})
        if path == "/_fake/requests":
            if m == "DELETE":
                self.requests.clear()
                return jresp({"requests": []})
            since = int(request.query.get("since", "0"))
            return jresp({"requests": [r for r in self.requests if r["seq"] > since], "last": self.seq})
        if path == "/_fake/compact" and m == "POST":
            self.cluster.store.compact()
            return jresp({"oldestResourceVersion": str(self.cluster.store.oldest_rv)})
        if path == "/_fake/state":
            st = self.cluster.store
            procs = {uid: len([p for p in s if p.returncode is None])
                     for uid, s in self.sandboxes.procs.items()}
            return jresp({"resourceVersion": str(st.rv), "watchers": len(st.watchers),
                          "pods": [{"namespace": o["metadata"]["namespace"], "name": o["metadata"]["name"],
                                    "uid": o["metadata"]["uid"], "phase": o["status"].get("phase"),
                                    "execs": procs.get(o["metadata"]["uid"], 0),
                                    "sandboxes": self.sandboxes.state(o["metadata"]["uid"])}
                                   for o in st.items("pods")],
                          "persistentvolumeclaims": [{"namespace": o["metadata"]["namespace"],
                                                      "name": o["metadata"]["name"],
                                                      "phase": o["status"].get("phase")}
                                                     for o in st.items("persistentvolumeclaims")],
                          "running_execs": sum(procs.values())})
        parts = path.split("/")
        if len(parts) == 6 and parts[2] == "pods" and parts[5] == "terminate" and m == "POST":
            b = body or {}
            obj = self.cluster.terminate_pod(parts[3], parts[4], int(b.get("exitCode", 137)),
                                             b.get("reason", "OOMKilled"), b.get("phase", "Failed"),
                                             b.get("message"))
            return jresp(with_kind("pods", obj))
        raise api.ApiError(404, "NotFound", f"no control endpoint {m} {path}")
