"""In-memory object store with one global resourceVersion counter (as etcd gives the real
apiserver), a bounded event history for watches, and watcher fan-out."""

import asyncio
import collections
import copy

from . import api

KINDS = {"pods": "Pod", "persistentvolumeclaims": "PersistentVolumeClaim"}


class Event:
    __slots__ = ("rv", "type", "resource", "namespace", "obj", "prev")

    def __init__(self, rv, type_, resource, obj, prev):
        self.rv = rv
        self.type = type_
        self.resource = resource
        self.namespace = obj["metadata"].get("namespace")
        self.obj = obj
        self.prev = prev


class Watcher:
    """One watch stream's filter and queue. A MODIFIED event that moves an object into or out of
    the selector becomes ADDED or DELETED, as the apiserver's watch cache does."""

    def __init__(self, resource, namespace, label_reqs, field_reqs):
        self.resource = resource
        self.namespace = namespace
        self.label_reqs = label_reqs
        self.field_reqs = field_reqs
        self.queue = asyncio.Queue()

    def _matches(self, obj):
        if obj is None:
            return False
        if self.namespace and obj["metadata"].get("namespace") != self.namespace:
            return False
        return (api.labels_match(self.label_reqs, obj["metadata"].get("labels"))
                and api.fields_match(self.field_reqs, obj))

    def translate(self, ev):
        if ev.resource != self.resource:
            return None
        now, before = self._matches(ev.obj), self._matches(ev.prev)
        if ev.type == "MODIFIED":
            if now and before:
                return "MODIFIED"
            if now:
                return "ADDED"
            if before:
                return "DELETED"
            return None
        return ev.type if now else None

    def offer(self, ev):
        t = self.translate(ev)
        if t:
            self.queue.put_nowait((t, ev))


class Store:
    def __init__(self, history_size=2000, first_rv=1000):
        self.rv = first_rv
        self.objects = {r: {} for r in KINDS}  # resource -> {(ns, name): obj}
        self.history = collections.deque()
        self.history_size = history_size
        self.oldest_rv = first_rv  # watches from an rv below this get 410 Gone
        self.watchers = set()

    def next_rv(self):
        self.rv += 1
        return self.rv

    def compact(self):
        """Forget all history, so every earlier resourceVersion is too old (as etcd compaction)."""
        self.history.clear()
        self.oldest_rv = self.rv

    def get(self, resource, ns, name):
        return self.objects[resource].get((ns, name))

    def items(self, resource, ns=None):
        objs = [o for (n, _), o in self.objects[resource].items() if ns is None or n == ns]
        return sorted(objs, key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))

    def _record(self, type_, resource, obj, prev):
        ev = Event(int(obj["metadata"]["resourceVersion"]), type_, resource, copy.deepcopy(obj),
                   prev)
        self.history.append(ev)
        while len(self.history) > self.history_size:
            self.oldest_rv = self.history.popleft().rv
        for w in list(self.watchers):
            w.offer(ev)

    def put(self, resource, obj, created=False):
        """Stores obj (a new rv is stamped) and emits ADDED or MODIFIED."""
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        prev = self.objects[resource].get(key)
        obj["metadata"]["resourceVersion"] = str(self.next_rv())
        self.objects[resource][key] = obj
        self._record("ADDED" if created else "MODIFIED", resource, obj,
                     None if created else copy.deepcopy(prev))
        return obj

    def remove(self, resource, ns, name):
        obj = self.objects[resource].pop((ns, name), None)
        if obj is None:
            return None
        prev = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.next_rv())
        self._record("DELETED", resource, obj, prev)
        return obj

    def events_since(self, rv):
        """History after rv, or None when rv is older than what is kept."""
        if rv < self.oldest_rv:
            return None
        return [ev for ev in self.history if ev.rv > rv]
