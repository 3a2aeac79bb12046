"""Scriptable faults. Each is a JSON object with a "type" and optional matchers; "count" is how
many times it fires before it is used up (null = forever). See README.md for the catalogue."""

import fnmatch
import re

from . import api

TYPES = {
    # pod lifecycle (matched when the pod is created)
    "unschedulable": {"count": None},
    "image_pull_backoff": {"count": None},
    "crash_loop_backoff": {"count": None},
    # HTTP answers
    "http_error": {"count": 1},
    # the TCP connection is closed with no answer at all (a dropped connection)
    "reset": {"count": 1},
    # races: the request's object is force-deleted just before the request is served
    "vanish": {"count": 1},
    # streams
    "watch_drop": {"count": 1},
    "watch_gone": {"count": 1},
    "exec_break": {"count": 1},
    # the exec upgrade is answered with an HTTP error instead of a 101, after "seconds"
    "exec_refuse": {"count": 1},
    # the exec stream is closed once no frame (pings included) came from the client for "seconds"
    "exec_idle_timeout": {"count": None},
}

_KEYS = {"type", "count", "name", "namespace", "labelSelector", "method", "path", "verb",
         "resource", "code", "retry_after", "message", "reason", "seconds", "image",
         "after_events", "after_bytes", "after_seconds", "mode", "abort", "exit_code"}


class Faults:
    def __init__(self):
        self.active = []
        self.fired = []  # [(type, detail)] for the control endpoint

    def add(self, spec):
        specs = spec if isinstance(spec, list) else [spec]
        checked = []
        for s in specs:
            if not isinstance(s, dict) or s.get("type") not in TYPES:
                raise api.bad_request(f"fault needs a type, one of {sorted(TYPES)}: {s!r}")
            unknown = set(s) - _KEYS
            if unknown:
                raise api.bad_request(f"unknown fault keys {sorted(unknown)} in {s!r}")
            f = dict(TYPES[s["type"]])
            f.update(s)
            if f["type"] == "http_error" and not isinstance(f.get("code"), int):
                raise api.bad_request("http_error needs an integer code")
            if f.get("path"):
                re.compile(f["path"])
            if f.get("labelSelector"):
                f["_labels"] = api.parse_label_selector(f["labelSelector"])
            checked.append(f)
        self.active.extend(checked)
        return checked

    def clear(self):
        self.active.clear()

    def listing(self):
        return [{k: v for k, v in f.items() if not k.startswith("_")} for f in self.active]

    def _use(self, f, detail):
        self.fired.append({"type": f["type"], "detail": detail})
        if f.get("count") is not None:
            f["count"] -= 1
            if f["count"] <= 0:
                self.active.remove(f)
        return f

    def take(self, type_, detail="", **ctx):
        """The first active fault of type_ whose matchers accept ctx, consumed once."""
        for f in list(self.active):
            if f["type"] == type_ and _matches(f, ctx):
                return self._use(f, detail)
        return None


def _matches(f, ctx):
    if f.get("method") and ctx.get("method") and f["method"].upper() != ctx["method"].upper():
        return False
    if f.get("path") and not re.search(f["path"], ctx.get("path", "")):
        return False
    for key in ("verb", "resource", "namespace"):
        if f.get(key) and ctx.get(key) != f[key]:
            return False
    if f.get("name") and not fnmatch.fnmatchcase(ctx.get("name") or "", f["name"]):
        return False
    if f.get("_labels") is not None and not api.labels_match(f["_labels"], ctx.get("labels")):
        return False
    return True
