#!/usr/bin/python3
"""Checks the fake against Kubernetes' documented behaviour and against independent real
clients (kubectl 1.30+, Debian's python3-kubernetes). Run one suite:
  /usr/bin/python3 test_fake_apiserver.py RestTest
Exit code 77 (ctest: skipped) when every test of the run was skipped."""

import base64
import glob
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fakecase import FakeCase, run, wait_until  # noqa: E402
from fakeclient import Fake, WebSocket, exec_path  # noqa: E402
PODS = "/api/v1/namespaces/default/pods"
PVCS = "/api/v1/namespaces/default/persistentvolumeclaims"


def newest_kubectl():
    """The newest /usr/lib/google-cloud-sdk/bin/kubectl.1.N with N >= 30 (they speak WS v5)."""
    found = []
    for p in glob.glob("/usr/lib/google-cloud-sdk/bin/kubectl.1.*"):
        m = re.search(r"kubectl\.1\.(\d+)$", p)
        if m and int(m.group(1)) >= 30 and os.access(p, os.X_OK):
            found.append((int(m.group(1)), p))
    return max(found)[1] if found else None


class NamedPodCase(FakeCase):
    def pod_name(self):
        return re.sub(r"[^a-z0-9-]", "-", self.id().split(".")[-1].lower())[:50].strip("-")


class RestTest(NamedPodCase):
    def test_auth(self):
        f = self.fake
        st, body, _ = f.call("GET", PODS, token=False)
        self.assertEqual((st, body["reason"], body["kind"]), (401, "Unauthorized", "Status"))
        st, body, _ = f.call("GET", PODS, token="wrong")
        self.assertEqual(st, 401)
        st, body, _ = f.call("GET", PODS, token="U")
        self.assertEqual((st, body["reason"]), (403, "Forbidden"))
        self.assertIn('cannot list resource "pods" in API group "" in the namespace "default"', body["message"])
        st, _, _ = f.call("GET", PODS, headers={"Authorization": "bearer T"})
        self.assertEqual(st, 200, "the scheme is case-insensitive (python sends lowercase)")
        st, body, _ = f.call("GET", PODS, cert=True)
        self.assertEqual(st, 200, "client certificate from the kubeconfig is accepted")
        st, body, _ = f.call("GET", "/version", token=False)
        self.assertEqual(st, 200)
        self.assertGreaterEqual(int(body["minor"]), 30)

    def test_discovery(self):
        f = self.fake
        self.assertEqual(f.call("GET", "/api")[1]["versions"], ["v1"])
        self.assertEqual(f.call("GET", "/apis")[1]["groups"], [])
        names = {r["name"] for r in f.call("GET", "/api/v1")[1]["resources"]}
        self.assertTrue({"pods", "pods/exec", "pods/status", "persistentvolumeclaims"} <= names)
        st, body, _ = f.call("GET", "/api/v1/namespaces/default/widgets")
        self.assertEqual((st, body["message"]), (404, "the server could not find the requested resource"))

    def test_create_get_conflict_invalid(self):
        f, name = self.fake, self.pod_name()
        pod = f.make_pod(name, wait=False)
        self.assertEqual(pod["kind"], "Pod")
        self.assertEqual(pod["status"]["phase"], "Pending")
        self.assertTrue(pod["metadata"]["uid"] and pod["metadata"]["resourceVersion"])
        st, body, _ = f.call("POST", PODS, {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
        self.assertEqual((st, body["reason"], body["message"]), (409, "AlreadyExists", f'pods "{name}" already exists'))
        self.assertEqual(body["details"], {"name": name, "kind": "pods"})
        st, body, _ = f.call("GET", f"{PODS}/nope")
        self.assertEqual((st, body["reason"], body["message"]), (404, "NotFound", 'pods "nope" not found'))
        st, body, _ = f.call("POST", PODS, {"metadata": {"name": "Bad_Name"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
        self.assertEqual((st, body["reason"]), (422, "Invalid"))
        st, body, _ = f.call("POST", PODS, {"metadata": {"name": "noimage"}, "spec": {"containers": [{"name": "c"}]}})
        self.assertEqual(body["details"]["causes"][0]["field"], "spec.containers[0].image")

    def test_lifecycle_events(self):
        f, name = self.fake, self.pod_name()
        st, lst, _ = f.call("GET", PODS)
        rv = lst["metadata"]["resourceVersion"]
        f.make_pod(name, labels={"lc": "yes"})
        st, events = f.watch_lines(f"{PODS}?watch=true&resourceVersion={rv}&labelSelector=lc%3Dyes&timeoutSeconds=1")
        types = [e["type"] for e in events]
        self.assertEqual(types[0], "ADDED")
        pods = [e["object"] for e in events]
        waiting = [p for p in pods if any("waiting" in c["state"] for c in p["status"].get("containerStatuses", []))]
        self.assertEqual(waiting[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], "ContainerCreating")
        last = pods[-1]
        self.assertEqual(last["status"]["phase"], "Running")
        conds = {c["type"]: c["status"] for c in last["status"]["conditions"]}
        self.assertEqual(conds, {"PodScheduled": "True", "Initialized": "True", "Ready": "True", "ContainersReady": "True"})
        self.assertTrue(last["status"]["containerStatuses"][0]["ready"])

    def test_list_selectors_and_pages(self):
        f = self.fake
        for i, tier in enumerate(["a", "b", "c", "a"]):
            f.make_pod(f"sel-{i}", labels={"tier": tier, "sel": "1"}, wait=False)

        def names(q):
            st, body, _ = f.call("GET", f"{PODS}?{q}")
            self.assertEqual(st, 200, body)
            self.assertNotIn("kind", body["items"][0] if body["items"] else {})
            return [p["metadata"]["name"] for p in body["items"]]
        self.assertEqual(names("labelSelector=sel%3D1%2Ctier%3Da"), ["sel-0", "sel-3"])
        self.assertEqual(names("labelSelector=sel%3D1%2Ctier%21%3Da"), ["sel-1", "sel-2"])
        self.assertEqual(names("labelSelector=sel%3D1%2Ctier%20in%20(b%2Cc)"), ["sel-1", "sel-2"])
        self.assertEqual(names("labelSelector=sel%3D1%2Ctier%20notin%20(a)"), ["sel-1", "sel-2"])
        self.assertEqual(names("fieldSelector=metadata.name%3Dsel-2"), ["sel-2"])
        st, page, _ = f.call("GET", f"{PODS}?labelSelector=sel%3D1&limit=3")
        self.assertEqual(len(page["items"]), 3)
        self.assertEqual(page["metadata"]["remainingItemCount"], 1)
        tok = page["metadata"]["continue"]
        st, page2, _ = f.call("GET", f"{PODS}?labelSelector=sel%3D1&limit=3&continue={tok}")
        self.assertEqual([p["metadata"]["name"] for p in page2["items"]], ["sel-3"])
        self.assertNotIn("continue", page2["metadata"])
        st, body, _ = f.call("GET", f"{PODS}?labelSelector=a%3D%3D%3D")
        self.assertEqual(st, 400)
        f.make_pod("sel-later", wait=False)  # history moves on, then is compacted away
        f.control("POST", "compact")
        st, body, _ = f.call("GET", f"{PODS}?labelSelector=sel%3D1&limit=3&continue={tok}")
        self.assertEqual((st, body["reason"]), (410, "Expired"))
        st, body, _ = f.call("GET", f"{PODS}?watch=1&resourceVersion=5&timeoutSeconds=1")
        self.assertEqual(st, 200)

    def test_delete(self):
        f, name = self.fake, self.pod_name()
        pod = f.make_pod(name)
        st, body, _ = f.call("DELETE", f"{PODS}/{name}", {"preconditions": {"uid": "other"}})
        self.assertEqual((st, body["reason"]), (409, "Conflict"))
        self.assertIn("Precondition failed: UID in precondition: other", body["message"])
        rv = pod["metadata"]["resourceVersion"]
        st, body, _ = f.call("DELETE", f"{PODS}/{name}", {"apiVersion": "v1", "kind": "DeleteOptions",
                             "gracePeriodSeconds": 5, "propagationPolicy": "Background",
                             "preconditions": {"uid": pod["metadata"]["uid"]}})
        self.assertEqual(st, 200)
        self.assertTrue(body["metadata"]["deletionTimestamp"])
        self.assertEqual(body["metadata"]["deletionGracePeriodSeconds"], 5)
        st, events = f.watch_lines(f"{PODS}?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3D{name}&timeoutSeconds=2", max_events=2)
        self.assertEqual([e["type"] for e in events], ["MODIFIED", "DELETED"])
        self.assertEqual(f.call("GET", f"{PODS}/{name}")[0], 404)
        self.assertEqual(f.call("DELETE", f"{PODS}/{name}")[0], 404)
        # python-style: query parameters and no body
        f.make_pod(name + "-q")
        st, body, _ = f.call("DELETE", f"{PODS}/{name}-q?gracePeriodSeconds=0&propagationPolicy=Background")
        self.assertEqual(st, 200)
        self.assertEqual(f.call("GET", f"{PODS}/{name}-q")[0], 404, "grace 0 removes at once")

    def test_patch(self):
        f, name = self.fake, self.pod_name()
        pod = f.make_pod(name, labels={"a": "1"})
        st, body, _ = f.call("PATCH", f"{PODS}/{name}", {"metadata": {"labels": {"b": "2", "a": None}}},
                             headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual((st, body["metadata"]["labels"]), (200, {"b": "2"}))
        st, body, _ = f.call("PATCH", f"{PODS}/{name}", {"metadata": {"annotations": {"x": "y"}, "resourceVersion": body["metadata"]["resourceVersion"]}},
                             headers={"Content-Type": "application/strategic-merge-patch+json"})
        self.assertEqual((st, body["metadata"]["annotations"]), (200, {"x": "y"}))
        st, body, _ = f.call("PATCH", f"{PODS}/{name}", {"metadata": {"labels": {"c": "3"}, "resourceVersion": pod["metadata"]["resourceVersion"]}},
                             headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual((st, body["reason"]), (409, "Conflict"))
        self.assertIn("the object has been modified", body["message"])
        st, body, _ = f.call("PATCH", f"{PODS}/{name}", [{"op": "add", "path": "/metadata/labels/d", "value": "4"}],
                             headers={"Content-Type": "application/json-patch+json"})
        self.assertEqual(body["metadata"]["labels"], {"b": "2", "d": "4"})
        st, body, _ = f.call("PATCH", f"{PODS}/{name}", {"spec": {"restartPolicy": "Always"}},
                             headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual((st, body["reason"]), (422, "Invalid"))
        st, body, _ = f.call("PATCH", f"{PODS}/{name}/status", {"status": {"conditions": [{"type": "Custom", "status": "True"}]}},
                             headers={"Content-Type": "application/strategic-merge-patch+json"})
        self.assertEqual(st, 200)
        self.assertEqual({c["type"] for c in body["status"]["conditions"]} >= {"Custom", "Ready"}, True)
        st, body, _ = f.call("GET", f"{PODS}/{name}/status")
        self.assertEqual((st, body["kind"]), (200, "Pod"))

    def test_json_patch_test_op(self):
        """The warm-pool claim: a JSON patch whose "test" guards it. A failed test is the
        apiserver's 422 (NewGenericServerResponse: reason Invalid, a fixed message, empty details)
        and changes nothing; a resourceVersion the patch sets that is not current is a 409."""
        f, name = self.fake, self.pod_name()
        pod = f.make_pod(name, labels={"podterm.io/pool": "t1"})
        jp = {"Content-Type": "application/json-patch+json"}
        claim = [{"op": "test", "path": "/metadata/labels/podterm.io~1pool", "value": "t1"},
                 {"op": "remove", "path": "/metadata/labels/podterm.io~1pool"},
                 {"op": "add", "path": "/metadata/labels/owner", "value": "a"}]
        st, body, _ = f.call("PATCH", f"{PODS}/{name}", claim, headers=jp)
        self.assertEqual((st, body["metadata"]["labels"]), (200, {"owner": "a"}))
        claimed_rv = body["metadata"]["resourceVersion"]
        self.assertNotEqual(claimed_rv, pod["metadata"]["resourceVersion"])
        # The second claimer's test fails: 422, and the pod keeps the first claim.
        st, body, _ = f.call("PATCH", f"{PODS}/{name}", claim, headers=jp)
        self.assertEqual(st, 422)
        self.assertEqual(body, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                "status": "Failure",
                                "message": "the server rejected our request due to an error in our request",
                                "reason": "Invalid", "details": {}, "code": 422})
        st, body, _ = f.call("GET", f"{PODS}/{name}")
        self.assertEqual((body["metadata"]["labels"], body["metadata"]["resourceVersion"]),
                         ({"owner": "a"}, claimed_rv))
        # A test of a missing path, and an operation on one, are the same 422.
        for ops in ([{"op": "test", "path": "/metadata/labels/nope", "value": "x"}],
                    [{"op": "remove", "path": "/metadata/annotations/nope"}],
                    [{"op": "replace", "path": "/metadata/labels/nope", "value": "x"}]):
            st, body, _ = f.call("PATCH", f"{PODS}/{name}", ops, headers=jp)
            self.assertEqual((st, body["reason"]), (422, "Invalid"), ops)
        # "test" of the resourceVersion guards the same way (422); a patch that sets a stale one
        # is an update precondition: 409 Conflict.
        st, body, _ = f.call("PATCH", f"{PODS}/{name}",
                             [{"op": "test", "path": "/metadata/resourceVersion",
                               "value": pod["metadata"]["resourceVersion"]}], headers=jp)
        self.assertEqual(st, 422)
        st, body, _ = f.call("PATCH", f"{PODS}/{name}",
                             [{"op": "replace", "path": "/metadata/resourceVersion",
                               "value": pod["metadata"]["resourceVersion"]},
                              {"op": "add", "path": "/metadata/labels/late", "value": "1"}], headers=jp)
        self.assertEqual((st, body["reason"]), (409, "Conflict"))
        self.assertIn("the object has been modified", body["message"])
        st, body, _ = f.call("PATCH", f"{PODS}/{name}",
                             [{"op": "test", "path": "/metadata/resourceVersion", "value": claimed_rv},
                              {"op": "add", "path": "/metadata/labels/b", "value": "2"}], headers=jp)
        self.assertEqual((st, body["metadata"]["labels"]), (200, {"owner": "a", "b": "2"}))
        # Not a list: the patch does not decode (400).
        st, body, _ = f.call("PATCH", f"{PODS}/{name}", {"op": "test"}, headers=jp)
        self.assertEqual(st, 400)

    def test_pod_finalizer_keeps_it_terminating(self):
        f, name = self.fake, self.pod_name()
        f.make_pod(name)
        mp = {"Content-Type": "application/merge-patch+json"}
        st, _, _ = f.call("PATCH", f"{PODS}/{name}", {"metadata": {"finalizers": ["example.com/hold"]}}, headers=mp)
        self.assertEqual(st, 200)
        st, body, _ = f.call("DELETE", f"{PODS}/{name}", {"gracePeriodSeconds": 0})
        self.assertEqual(st, 200)
        time.sleep(0.5)  # well past the fake's terminate delay: it would be gone without the finalizer
        st, body, _ = f.call("GET", f"{PODS}/{name}")
        self.assertEqual(st, 200)
        self.assertIn("deletionTimestamp", body["metadata"])
        st, _, _ = f.call("PATCH", f"{PODS}/{name}", {"metadata": {"finalizers": None}}, headers=mp)
        self.assertEqual(st, 200)
        deadline = time.time() + 10
        while f.call("GET", f"{PODS}/{name}")[0] != 404 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(f.call("GET", f"{PODS}/{name}")[0], 404)

    def test_pvc(self):
        f, name = self.fake, self.pod_name()
        st, pvc, _ = f.call("POST", PVCS, {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "ws-" + name},
                            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
        self.assertEqual((st, pvc["status"]["phase"]), (201, "Pending"))
        self.assertEqual(f.call("POST", PVCS, {"metadata": {"name": "ws-" + name}, "spec": pvc["spec"]})[0], 409)
        vol = {"volumes": [{"name": "workspace", "persistentVolumeClaim": {"claimName": "ws-" + name}}]}
        f.make_pod(name, **vol)
        st, pvc, _ = f.call("GET", f"{PVCS}/ws-{name}")
        self.assertEqual((pvc["status"]["phase"], pvc["status"]["capacity"]["storage"]), ("Bound", "1Gi"))
        st, pvc, _ = f.call("DELETE", f"{PVCS}/ws-{name}")
        self.assertEqual(st, 200)
        self.assertTrue(pvc["metadata"]["deletionTimestamp"])
        time.sleep(0.3)
        self.assertEqual(f.call("GET", f"{PVCS}/ws-{name}")[0], 200, "kept while a pod uses it")
        f.call("DELETE", f"{PODS}/{name}?gracePeriodSeconds=0")
        deadline = time.time() + 5
        while f.call("GET", f"{PVCS}/ws-{name}")[0] == 200 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(f.call("GET", f"{PVCS}/ws-{name}")[0], 404)
        # a pod whose claim is missing stays Unschedulable with the scheduler's text
        f.make_pod(name + "-x", wait=False, volumes=[{"name": "w", "persistentVolumeClaim": {"claimName": "absent"}}])
        time.sleep(0.4)
        pod = f.call("GET", f"{PODS}/{name}-x")[1]
        cond = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"][0]
        self.assertEqual((cond["reason"], cond["message"]), ("Unschedulable", 'persistentvolumeclaim "absent" not found'))

    def test_watch(self):
        f, name = self.fake, self.pod_name()
        f.make_pod(name, labels={"w": name})
        st, events = f.watch_lines(f"{PODS}?watch=true&labelSelector=w%3D{name}&timeoutSeconds=1&allowWatchBookmarks=true")
        self.assertEqual(events[0]["type"], "ADDED", "no resourceVersion: synthetic ADDED first")
        self.assertEqual(events[0]["object"]["kind"], "Pod")
        self.assertIn("BOOKMARK", [e["type"] for e in events])
        bm = [e for e in events if e["type"] == "BOOKMARK"][0]["object"]
        self.assertEqual(set(bm["metadata"]), {"resourceVersion"})
        f.control("POST", "compact")
        st, events = f.watch_lines(f"{PODS}?watch=true&resourceVersion=1001&timeoutSeconds=2")
        self.assertEqual(events[0]["type"], "ERROR")
        self.assertEqual((events[0]["object"]["code"], events[0]["object"]["reason"]), (410, "Expired"))
        # a MODIFIED that moves a pod out of the selector arrives as DELETED
        rv = f.call("GET", f"{PODS}/{name}")[1]["metadata"]["resourceVersion"]
        f.call("PATCH", f"{PODS}/{name}", {"metadata": {"labels": {"w": "other"}}}, headers={"Content-Type": "application/merge-patch+json"})
        st, events = f.watch_lines(f"{PODS}?watch=true&resourceVersion={rv}&labelSelector=w%3D{name}&timeoutSeconds=1")
        self.assertEqual([e["type"] for e in events], ["DELETED"])


class FaultTest(NamedPodCase):
    extra_args = ("--faults", json.dumps([{"type": "unschedulable", "name": "cli-*"}]))

    def test_cli_faults_option(self):
        f = self.fake
        f.make_pod("cli-1", wait=False)
        time.sleep(0.4)
        pod = f.call("GET", f"{PODS}/cli-1")[1]
        cond = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"][0]
        self.assertEqual((pod["status"]["phase"], cond["status"], cond["reason"]), ("Pending", "False", "Unschedulable"))
        self.assertEqual(cond["message"].split(" preemption")[0], "0/3 nodes are available: 3 Insufficient cpu.")

    def test_unschedulable_for_a_while(self):
        f = self.fake
        f.control("POST", "faults", {"type": "unschedulable", "name": "later", "seconds": 0.5, "message": "0/1 nodes are available: 1 Insufficient memory."})
        f.make_pod("later", wait=False)
        time.sleep(0.35)
        pod = f.call("GET", f"{PODS}/later")[1]
        self.assertEqual(pod["status"]["conditions"][0]["message"], "0/1 nodes are available: 1 Insufficient memory.")
        f.wait_phase("default", "later", "Running")

    def test_image_pull_backoff(self):
        f = self.fake
        f.control("POST", "faults", {"type": "image_pull_backoff", "labelSelector": "img=bad"})
        f.make_pod("ipb", labels={"img": "bad"}, wait=False)
        deadline = time.time() + 5
        reason = None
        while time.time() < deadline and reason != "ImagePullBackOff":
            pod = f.call("GET", f"{PODS}/ipb")[1]
            w = (pod["status"].get("containerStatuses") or [{}])[0].get("state", {}).get("waiting", {})
            reason = w.get("reason")
            time.sleep(0.05)
        self.assertEqual(w, {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "python:3.12-slim"'})

    def test_crash_loop(self):
        f = self.fake
        f.control("POST", "faults", {"type": "crash_loop_backoff", "name": "crash"})
        f.make_pod("crash", wait=False, restartPolicy="Always")
        time.sleep(0.6)
        cs = f.call("GET", f"{PODS}/crash")[1]["status"]["containerStatuses"][0]
        self.assertEqual(cs["state"]["waiting"]["reason"], "CrashLoopBackOff")
        self.assertEqual(cs["lastState"]["terminated"]["exitCode"], 1)

    def test_http_errors(self):
        f = self.fake
        body = {"metadata": {"name": "h1"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
        f.control("POST", "faults", {"type": "http_error", "code": 409, "method": "POST", "resource": "pods"})
        st, b, _ = f.call("POST", PODS, body)
        self.assertEqual((st, b["reason"], b["message"]), (409, "AlreadyExists", 'pods "h1" already exists'))
        self.assertEqual(f.call("GET", f"{PODS}/h1")[0], 404, "the faulted create stored nothing")
        f.control("POST", "faults", {"type": "http_error", "code": 429, "retry_after": 2})
        st, text, h = f.call("GET", PODS)
        self.assertEqual((st, h["retry-after"], text), (429, "2", "Too many requests, please try again later.\n"))
        self.assertTrue(h["content-type"].startswith("text/plain"))
        f.control("POST", "faults", {"type": "http_error", "code": 500, "path": "/pods$", "count": 2})
        self.assertEqual([f.call("GET", PODS)[0] for _ in range(3)], [500, 500, 200])
        f.control("POST", "faults", {"type": "http_error", "code": 403, "verb": "delete", "resource": "pods", "count": None})
        st, b, _ = f.call("DELETE", f"{PODS}/x")
        self.assertEqual((st, b["reason"]), (403, "Forbidden"))
        self.assertEqual(f.call("DELETE", f"{PODS}/y")[0], 403, "count null: forever")
        self.assertEqual(f.call("GET", PODS)[0], 200)

    def test_reset(self):
        f = self.fake
        body = {"metadata": {"name": "rs1"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}

        def dropped(*args):
            try:
                st = f.call(*args)[0]
            except (ConnectionError, http.client.HTTPException, ssl.SSLError) as e:
                return type(e).__name__
            self.fail(f"{args[:2]} was answered ({st}) instead of dropped")
        f.control("DELETE", "requests")
        f.control("POST", "faults", {"type": "reset", "verb": "create", "resource": "pods", "count": 2})
        self.assertEqual(f.call("GET", PODS)[0], 200, "a request the matchers refuse is served")
        dropped("POST", PODS, body)
        dropped("POST", PODS, body)
        self.assertEqual(f.call("GET", f"{PODS}/rs1")[0], 404, "a dropped create stored nothing")
        self.assertEqual(f.call("POST", PODS, body)[0], 201, "count 2: used up")
        # mode "after": served (the pod exists), but the answer is lost
        f.control("POST", "faults", {"type": "reset", "mode": "after", "method": "POST", "name": "rs2"})
        dropped("POST", PODS, dict(body, metadata={"name": "rs2"}))
        self.assertEqual(f.call("GET", f"{PODS}/rs2")[0], 200, "the create took effect")
        # an API error the request met is lost the same way (a 409 here)
        f.control("POST", "faults", {"type": "reset", "mode": "after", "verb": "create", "name": "rs2"})
        dropped("POST", PODS, dict(body, metadata={"name": "rs2"}))
        log = [e for e in f.control("GET", "requests")["requests"] if e.get("reset")]
        self.assertEqual([(e["method"], e["status"], e.get("served_status")) for e in log],
                         [("POST", 0, None), ("POST", 0, None), ("POST", 0, 201), ("POST", 0, 409)])
        fired = [x["type"] for x in f.control("GET", "faults")["fired"]]
        self.assertEqual(fired.count("reset"), 4)
        self.assertEqual([a for a in f.control("GET", "faults")["active"] if a["type"] == "reset"], [])
        # the fake keeps serving new connections
        self.assertEqual(f.call("GET", f"{PODS}/rs1")[0], 200)

    def test_vanish(self):
        f, name = self.fake, self.pod_name()
        f.make_pod(name, labels={"podterm.io/pool": "t1"})
        f.control("POST", "faults", {"type": "vanish", "verb": "patch", "resource": "pods", "name": name})
        st, body, _ = f.call("PATCH", f"{PODS}/{name}",
                             [{"op": "test", "path": "/metadata/labels/podterm.io~1pool", "value": "t1"}],
                             headers={"Content-Type": "application/json-patch+json"})
        self.assertEqual((st, body["reason"]), (404, "NotFound"))
        self.assertEqual(f.call("GET", f"{PODS}/{name}")[0], 404)

    def test_watch_faults(self):
        f = self.fake
        for i in range(3):
            f.make_pod(f"wd-{i}", labels={"wd": "1"}, wait=False)
        f.control("POST", "faults", {"type": "watch_drop", "after_events": 2})
        st, events = f.watch_lines(f"{PODS}?watch=true&labelSelector=wd%3D1&timeoutSeconds=5", timeout=3)
        self.assertEqual(len(events), 2)
        f.control("POST", "faults", {"type": "watch_gone", "mode": "http"})
        st, body = f.watch_lines(f"{PODS}?watch=true&resourceVersion=1&timeoutSeconds=5")
        self.assertEqual((st, body["code"], body["reason"]), (410, 410, "Expired"))
        f.control("POST", "faults", {"type": "watch_gone"})
        st, events = f.watch_lines(f"{PODS}?watch=true&timeoutSeconds=5")
        self.assertEqual([(e["type"], e["object"]["code"]) for e in events], [("ERROR", 410)])

    def test_exec_break_and_request_log(self):
        f = self.fake
        f.make_pod("eb")
        f.control("DELETE", "requests")
        f.control("POST", "faults", {"type": "exec_break", "name": "eb", "after_bytes": 1000})
        ws = WebSocket(f, exec_path("eb", ["sh", "-c", "yes | head -c 100000; sleep 5"], stdin=False))
        r = ws.session(close_stdin=False)
        self.assertEqual(r["close"], "eof")
        self.assertIsNone(r["status"])
        self.assertEqual(len(r["out"]), 1000)
        log = f.control("GET", "requests")["requests"]
        ex = [e for e in log if e["path"].endswith("/exec")]
        self.assertEqual((ex[0]["verb"], ex[0]["resource"], ex[0]["protocol"], ex[0]["exec_broken"]),
                         ("get", "pods/exec", "v5.channel.k8s.io", True))
        self.assertEqual(ex[0]["params"]["command"], ["sh", "-c", "yes | head -c 100000; sleep 5"])
        fired = f.control("GET", "faults")["fired"]
        self.assertIn("exec_break", [x["type"] for x in fired])


class ExecTest(NamedPodCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fake.make_pod("ex", securityContext={"runAsUser": 1000, "runAsGroup": 1000})

    def test_v5_stdin_close_and_exit_code(self):
        ws = WebSocket(self.fake, exec_path("ex", ["sh", "-c", "cat; echo to-stderr >&2; exit 3"]))
        self.assertEqual((ws.status, ws.protocol), (101, "v5.channel.k8s.io"))
        r = ws.session(stdin=b"hello stdin\n")
        self.assertEqual(r["frames"][0], b"\x01", "first frame: empty, on stdout")
        self.assertEqual((r["out"], r["err"]), (b"hello stdin\n", b"to-stderr\n"))
        self.assertEqual(r["status"]["reason"], "NonZeroExitCode")
        self.assertEqual(r["status"]["details"]["causes"][0], {"reason": "ExitCode", "message": "3"})
        self.assertEqual(r["close"], 1000)

    def test_v4_and_success(self):
        ws = WebSocket(self.fake, exec_path("ex", ["sh", "-c", "head -c 3; id -u"]), protocols=["v4.channel.k8s.io"])
        self.assertEqual(ws.protocol, "v4.channel.k8s.io")
        ws.send("\x00abc")  # text frame, as python3-kubernetes 22.6 sends stdin
        r = ws.session(close_stdin=False)
        self.assertEqual(r["out"], b"abc1000\n", "runAsUser applies inside the sandbox")
        self.assertEqual(r["status"], {"metadata": {}, "status": "Success"})

    def test_base64_and_binary(self):
        ws = WebSocket(self.fake, exec_path("ex", ["sh", "-c", "printf '\\377\\000\\001'"], stdin=False), protocols=["v4.base64.channel.k8s.io"])
        self.assertEqual(ws.protocol, "v4.base64.channel.k8s.io")
        r = ws.session(close_stdin=False)
        self.assertEqual(r["out"], b"\xff\x00\x01")

    def test_tty_and_resize(self):
        ws = WebSocket(self.fake, exec_path("ex", ["sh", "-c", "sleep 0.3; stty size; tty"], stderr=False, tty=True))
        r = ws.session(resize=(101, 33), close_stdin=False)
        lines = r["out"].decode().split("\r\n")
        self.assertEqual(lines[0], "33 101")
        self.assertTrue(lines[1].startswith("/dev/"))

    def test_errors_before_upgrade(self):
        f = self.fake
        ws = WebSocket(f, exec_path("nope", ["true"]))
        self.assertEqual((ws.status, ws.body["reason"]), (404, "NotFound"))
        ws = WebSocket(f, exec_path("ex", ["true"]).replace("container=runtime", "container=other"))
        self.assertEqual((ws.status, ws.body["message"]), (400, "container other is not valid for pod ex"))
        ws = WebSocket(f, exec_path("ex", ["true"]), token="U")
        self.assertEqual(ws.status, 403)
        self.assertIn('cannot get resource "pods/exec"', ws.body["message"])
        st, body, _ = f.call("POST", exec_path("ex", ["true"]))
        self.assertEqual((st, body["message"]), (400, "Upgrade request required"))
        f.make_pod("pending-ex", wait=False)
        ws = WebSocket(f, exec_path("pending-ex", ["true"]))
        self.assertEqual((ws.status, ws.body["message"]), (400, "pod pending-ex does not have a host assigned"))

    def test_missing_command(self):
        r = WebSocket(self.fake, exec_path("ex", ["no-such-binary"])).session()
        self.assertEqual((r["status"]["reason"], r["status"]["code"]), ("InternalError", 500))
        self.assertIn('exec: "no-such-binary": executable file not found in $PATH', r["status"]["message"])

    def test_sandbox_isolation(self):
        script = ("echo x > /app/workspace/f && cat /app/workspace/f; "
                  "test -e /work && echo SEES-WORK; test -e /home && echo SEES-HOME; "
                  "touch /usr/x 2>/dev/null && echo WROTE-USR; "
                  "ls /sys 2>/dev/null | head -1; "
                  "hostname; ip -o link 2>/dev/null | wc -l")
        r = WebSocket(self.fake, exec_path("ex", ["sh", "-c", script], stdin=False)).session()
        out = r["out"].decode()
        self.assertTrue(out.startswith("x\n"), out)
        for bad in ("SEES-WORK", "WROTE-USR", "SEES-HOME"):
            self.assertNotIn(bad, out)
        self.assertIn("\nex\n1\n", out, "hostname is the pod name; only loopback networking")

    def test_sigterm_kills_sandboxes(self):
        tmp = tempfile.mkdtemp(prefix="kubefake-term-")
        os.chmod(tmp, 0o755)
        fake = Fake(data_dir=os.path.join(tmp, "d"))
        try:
            fake.make_pod("t")
            ws = WebSocket(fake, exec_path("t", ["sh", "-c", "echo started; exec sleep 300"], stdin=False))
            ws.sock.settimeout(10)
            while b"started" not in ws.recv()[1]:
                pass
            self.assertEqual(fake.control("GET", "state")["running_execs"], 1)
            pids = subprocess.run(["pgrep", "-P", str(fake.proc.pid)], capture_output=True, text=True).stdout.split()
            self.assertTrue(pids)
            fake.stop()
            time.sleep(0.3)
            for pid in pids:
                self.assertFalse(os.path.exists(f"/proc/{pid}"), f"sandbox {pid} survived SIGTERM")
            self.assertNotEqual(subprocess.run(["pgrep", "-f", "exec sleep 300"], capture_output=True).returncode, 0)
        finally:
            fake.stop()
            shutil.rmtree(tmp, ignore_errors=True)


def proc_status(pid):
    """{field: value} of /proc/PID/status, or None once the process is gone (reaped)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
    except OSError:
        return None


def alive(pid):
    st = proc_status(pid)
    return st is not None and not st["State"].strip().startswith(("Z", "X"))


def host_pid(agent_pid, inner_pid):
    """The host pid of the process that is inner_pid in the pod's pid namespace (a descendant
    of the sandbox's agent, whose host pid the fake's state gives)."""
    for name in os.listdir("/proc"):
        st = proc_status(name) if name.isdigit() else None
        nspid = (st or {}).get("NSpid", "").split()
        if len(nspid) < 2 or nspid[-1] != str(inner_pid):
            continue
        pid = int(name)
        for _ in range(50):
            if pid == agent_pid:
                return int(name)
            st = proc_status(pid)
            if not st or int(st["PPid"]) <= 1:
                break
            pid = int(st["PPid"])
    return None


def zombie_children(pid):
    out = []
    for name in os.listdir("/proc"):
        st = proc_status(name) if name.isdigit() else None
        if st and int(st["PPid"]) == pid and st["State"].strip().startswith("Z"):
            out.append(int(name))
    return out


class PodTest(NamedPodCase):
    """A pod is one long-lived sandbox per container that every exec joins."""

    def run_exec(self, pod, script, **kw):
        r = WebSocket(self.fake, exec_path(pod, ["sh", "-c", script], stdin=False, **kw)).session()
        self.assertEqual(r["status"], {"metadata": {}, "status": "Success"}, r)
        return r["out"].decode()

    def sandbox(self, pod):
        for p in self.fake.control("GET", "state")["pods"]:
            if p["name"] == pod:
                return p["sandboxes"][0]
        return None

    def test_execs_share_tmp_and_processes(self):
        f = self.fake
        f.make_pod("share")
        self.assertEqual(self.run_exec("share", "echo one > /tmp/f; echo two > /root/g; echo ok"), "ok\n")
        self.assertEqual(self.run_exec("share", "cat /tmp/f /root/g"), "one\ntwo\n")
        # A running exec's processes are visible to another exec of the pod.
        ws = WebSocket(f, exec_path("share", ["sh", "-c", "echo $$; exec sleep 301"], stdin=False))
        ws.sock.settimeout(10)
        out = b""
        while b"\n" not in out:
            op, p = ws.recv()
            if p[:1] == b"\x01":
                out += p[1:]
        inner = int(out)
        self.assertEqual(self.run_exec("share", f"tr '\\0' ' ' < /proc/{inner}/cmdline"), "sleep 301 ")
        ws.sock.close()
        # The first exec's client went away: its command is killed, as before.
        agent = self.sandbox("share")["pid"]
        pid = host_pid(agent, inner)
        if pid:
            wait_until(lambda: not alive(pid), what="the exec's command to be killed")
        self.assertEqual(self.run_exec("share", f"kill -0 {inner} 2>/dev/null && echo alive || echo gone"), "gone\n")

    def test_daemon_survives_exec_and_dies_with_pod(self):
        f = self.fake
        f.make_pod("daemon")
        agent = self.sandbox("daemon")["pid"]
        self.assertTrue(alive(agent))
        # What an exec leaves running keeps running after its stream closed, as in a container.
        out = self.run_exec("daemon", "setsid sleep 3131 </dev/null >/dev/null 2>&1 & echo $!; "
                                      "sleep 3132 </dev/null >/dev/null 2>&1 & echo $!")
        inner, plain = [int(x) for x in out.split()]
        pid = wait_until(lambda: host_pid(agent, inner), what="the daemon's host pid")
        self.assertTrue(alive(pid))
        out = self.run_exec("daemon", f"tr '\\0' ' ' < /proc/{inner}/cmdline; echo; "
                                      f"kill -0 {plain} && echo plain-alive; "
                                      f"ps -o pid= -o ppid= -p {inner}")
        lines = out.splitlines()
        self.assertEqual(lines[:2], ["sleep 3131 ", "plain-alive"])
        self.assertEqual(lines[-1].split(), [str(inner), "1"], "orphans go to the pod's pid 1")
        self.assertTrue(alive(pid))
        self.assertEqual(zombie_children(agent), [], "the pod's pid 1 reaps orphans")
        st, _, _ = f.call("DELETE", f"{PODS}/daemon?gracePeriodSeconds=0")
        self.assertEqual(st, 200)
        wait_until(lambda: not alive(pid), what="the daemon to die with its pod")
        wait_until(lambda: proc_status(pid) is None, what="the daemon to be reaped")
        wait_until(lambda: proc_status(agent) is None, what="the agent to be gone")
        wait_until(lambda: not zombie_children(f.proc.pid), what="the fake to reap its sandboxes")

    def test_graceful_delete_terminates_everything(self):
        f = self.fake
        f.make_pod("grace", terminationGracePeriodSeconds=30)
        agent = self.sandbox("grace")["pid"]
        inner = int(self.run_exec("grace", "setsid sleep 3133 </dev/null >/dev/null 2>&1 & echo $!"))
        pid = wait_until(lambda: host_pid(agent, inner), what="the daemon's host pid")
        st, _, _ = f.call("DELETE", f"{PODS}/grace")
        self.assertEqual(st, 200)
        wait_until(lambda: not alive(pid), timeout=5, what="SIGTERM to reach the daemon")
        wait_until(lambda: f.call("GET", f"{PODS}/grace")[0] == 404, what="the pod to go")
        wait_until(lambda: proc_status(agent) is None, what="the agent to be gone")

    @unittest.skipUnless(shutil.which("dtach"), "dtach is not installed (apt-get install dtach)")
    def test_dtach_session_outlives_its_exec(self):
        """What podterm does across a host restart: a shell under a dtach master started by one
        exec, whose client goes away; a later exec re-attaches to the same shell."""
        f = self.fake
        f.make_pod("dt")
        path = exec_path("dt", ["dtach", "-A", "/tmp/term.sock", "-z", "sh"], stderr=False, tty=True)
        ws = WebSocket(f, path)
        ws.send(b"\x04" + json.dumps({"Width": 80, "Height": 24}).encode())
        ws.send(b"\x00SECRET=42; echo marker-$((40+2))\n")
        self.assertIn(b"marker-42", self.read_until(ws, b"marker-42"))
        ws.sock.close()  # the client (podterm host A) goes away without a word
        wait_until(lambda: self.fake.control("GET", "state")["running_execs"] == 0,
                   what="the first exec to end")
        ws = WebSocket(f, path)
        ws.send(b"\x00echo got-$SECRET-$((1+1))\n")
        self.assertIn(b"got-42-2", self.read_until(ws, b"got-42-2"))
        ws.send(b"\x00exit\n")
        r = ws.session(close_stdin=False)
        self.assertEqual(r["status"], {"metadata": {}, "status": "Success"})
        self.assertEqual(self.run_exec("dt", "test -S /tmp/term.sock && echo still || echo gone"), "gone\n")

    @staticmethod
    def read_until(ws, marker, timeout=10):
        ws.sock.settimeout(timeout)
        out = b""
        while marker not in out:
            op, p = ws.recv()
            if op == 8:
                break
            if p[:1] == b"\x01":
                out += p[1:]
        return out

    def test_pods_do_not_share(self):
        f = self.fake
        f.make_pod("iso-a")
        f.make_pod("iso-b")
        inner = int(self.run_exec("iso-a", "echo a > /tmp/mine; setsid sleep 3134 </dev/null >/dev/null 2>&1 & echo $!"))
        procs = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done"
        self.assertIn("sleep 3134 \n", self.run_exec("iso-a", procs))
        out = self.run_exec("iso-b", f"cat /tmp/mine 2>/dev/null; {procs}")
        self.assertNotIn("sleep 3134", out)
        self.assertNotEqual(out.splitlines()[0], "a", "pod b has its own /tmp")
        self.assertEqual(self.run_exec("iso-b", "kill -0 1 && echo has-pid-1"), "has-pid-1\n")

    def test_exec_env_is_exact(self):
        f = self.fake
        f.make_pod("envp", containers=[{"name": "runtime", "image": "python:3.12-slim",
                                        "env": [{"name": "FOO", "value": "bar"},
                                                {"name": "HOME", "value": "/app/workspace"}]}])
        r = WebSocket(f, exec_path("envp", ["env"], stdin=False)).session()
        env = dict(l.split("=", 1) for l in r["out"].decode().splitlines())
        self.assertEqual(env, {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                               "HOME": "/app/workspace", "HOSTNAME": "envp", "FOO": "bar"})
        r = WebSocket(f, exec_path("envp", ["env"], stderr=False, tty=True)).session(close_stdin=False)
        env = dict(l.split("=", 1) for l in r["out"].decode().split("\r\n") if l)
        self.assertEqual(set(env), {"PATH", "HOME", "HOSTNAME", "FOO", "TERM"})
        self.assertEqual(self.run_exec("envp", "pwd; id -u"), "/app/workspace\n0\n")

    def test_runtime_errors(self):
        f = self.fake
        f.make_pod("rterr")
        r = WebSocket(f, exec_path("rterr", ["/no/such/file"])).session()
        self.assertEqual((r["status"]["reason"], r["status"]["code"]), ("InternalError", 500))
        self.assertIn('exec: "/no/such/file": stat /no/such/file: no such file or directory', r["status"]["message"])
        f.make_pod("rtcwd", containers=[{"name": "runtime", "image": "i", "workingDir": "/nowhere"}])
        r = WebSocket(f, exec_path("rtcwd", ["true"])).session()
        self.assertIn('chdir to cwd ("/nowhere") set in config.json failed: no such file or directory',
                      r["status"]["message"])

    def test_dead_agent_fails_execs(self):
        f = self.fake
        f.make_pod("dead")
        ws = WebSocket(f, exec_path("dead", ["sh", "-c", "echo up; exec sleep 304"], stdin=False))
        ws.sock.settimeout(10)
        self.assertIn(b"up", self.read_until(ws, b"up"))
        agent = self.sandbox("dead")["pid"]
        os.kill(agent, signal.SIGKILL)
        r = ws.session(close_stdin=False)
        self.assertEqual(r["status"]["details"]["causes"][0], {"reason": "ExitCode", "message": "137"},
                         "the exec was killed with its container")
        wait_until(lambda: not self.sandbox("dead")["running"], what="the fake to notice")
        r = WebSocket(f, exec_path("dead", ["true"])).session()
        self.assertEqual((r["status"]["reason"], r["status"]["code"]), ("InternalError", 500))
        self.assertIn("container is in CONTAINER_EXITED state", r["status"]["message"])
        wait_until(lambda: not zombie_children(f.proc.pid), what="the fake to reap the sandbox")

    def test_killed_fake_takes_its_pods_along(self):
        tmp = tempfile.mkdtemp(prefix="kubefake-kill-")
        os.chmod(tmp, 0o755)
        fake = Fake(data_dir=os.path.join(tmp, "d"))
        try:
            fake.make_pod("orphan")
            agent = next(p for p in fake.control("GET", "state")["pods"])["sandboxes"][0]["pid"]
            r = WebSocket(fake, exec_path("orphan", ["sh", "-c", "setsid sleep 3135 </dev/null >/dev/null 2>&1 & echo $!"],
                                          stdin=False)).session()
            pid = wait_until(lambda: host_pid(agent, int(r["out"])), what="the daemon's host pid")
            fake.proc.kill()  # no cleanup: bubblewrap's --die-with-parent takes the sandbox down
            wait_until(lambda: not alive(pid), what="the daemon to die with the fake")
            wait_until(lambda: not alive(agent), what="the agent to die with the fake")
        finally:
            fake.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_no_leaked_fds(self):
        f = self.fake
        f.make_pod("fds")

        def fds():
            return len(os.listdir(f"/proc/{f.proc.pid}/fd"))

        def round_():
            self.run_exec("fds", "echo x; echo y >&2")
            WebSocket(f, exec_path("fds", ["sh", "-c", "cat"])).session(stdin=b"in")
            WebSocket(f, exec_path("fds", ["sh", "-c", "tty"], stderr=False, tty=True)).session(close_stdin=False)
            WebSocket(f, exec_path("fds", ["/nope"])).session()
            ws = WebSocket(f, exec_path("fds", ["sh", "-c", "echo up; exec sleep 305"], stdin=False))
            self.read_until(ws, b"up")
            ws.sock.close()
            wait_until(lambda: self.fake.control("GET", "state")["running_execs"] == 0,
                       what="the abandoned exec to end")
        round_()
        before = fds()
        for _ in range(3):
            round_()
        wait_until(lambda: fds() <= before, timeout=5, what=f"fds back to {before} (now {fds()})")
        self.assertEqual(zombie_children(f.proc.pid), [])


KUBECTL = newest_kubectl()


@unittest.skipUnless(KUBECTL, "no kubectl 1.30+ under /usr/lib/google-cloud-sdk/bin/ (kubectl.1.3N); "
                              "install Google's kubectl package to run the real-client checks")
class KubectlTest(NamedPodCase):
    def k(self, *args, stdin=None, timeout=20, check=True):
        env = dict(os.environ, KUBECONFIG=self.fake.info["kubeconfig"], HOME=self.tmp,
                   KUBECTL_REMOTE_COMMAND_WEBSOCKETS="true")
        r = subprocess.run([KUBECTL, f"--cache-dir={self.tmp}/cache", *args], input=stdin,
                           capture_output=True, timeout=timeout, env=env)
        if check and r.returncode != 0:
            self.fail(f"kubectl {' '.join(args)} failed ({r.returncode}): {r.stderr.decode()}")
        return r

    def test_get_watch_delete(self):
        f = self.fake
        f.make_pod("kget", labels={"app": "k"})
        out = self.k("get", "pods", "-l", "app=k", "-o", "name").stdout.decode()
        self.assertEqual(out, "pod/kget\n")
        self.assertIn("kget", self.k("get", "pods").stdout.decode())
        phase = self.k("get", "pod", "kget", "-o", "jsonpath={.status.phase}").stdout.decode()
        self.assertEqual(phase, "Running")
        done = threading.Event()

        def later():
            time.sleep(1.0)
            f.call("PATCH", f"{PODS}/kget", {"metadata": {"labels": {"touched": "1"}}},
                   headers={"Content-Type": "application/merge-patch+json"})
            done.set()
        threading.Thread(target=later).start()
        r = self.k("get", "pods", "-w", "-l", "app=k", "--request-timeout=3s", "-o", "name", check=False, timeout=15)
        done.wait(5)
        self.assertGreaterEqual(r.stdout.decode().count("pod/kget"), 2, r.stderr.decode())
        watches = [e for e in f.control("GET", "requests")["requests"] if e.get("verb") == "watch"]
        self.assertTrue(watches)
        r = self.k("delete", "pod", "kget", "--grace-period=1")
        self.assertIn('pod "kget" deleted', r.stdout.decode())
        self.assertEqual(f.call("GET", f"{PODS}/kget")[0], 404, "kubectl delete waits until the pod is gone")
        r = self.k("get", "pod", "kget", check=False)
        self.assertIn('pods "kget" not found', r.stderr.decode())

    def test_patch_json_with_test(self):
        """kubectl patch --type=json: the warm-pool claim's request, from a real client."""
        self.fake.make_pod("kpatch", labels={"podterm.io/pool": "t1"})
        claim = json.dumps([{"op": "test", "path": "/metadata/labels/podterm.io~1pool", "value": "t1"},
                            {"op": "remove", "path": "/metadata/labels/podterm.io~1pool"},
                            {"op": "add", "path": "/metadata/labels/claimed", "value": "yes"}])
        r = self.k("patch", "pod", "kpatch", "--type=json", "-p", claim)
        self.assertIn("pod/kpatch patched", r.stdout.decode())
        log = [e for e in self.fake.control("GET", "requests")["requests"] if e.get("verb") == "patch"]
        self.assertEqual(log[-1]["headers"]["content-type"], "application/json-patch+json")
        labels = self.k("get", "pod", "kpatch", "-o", "jsonpath={.metadata.labels}").stdout.decode()
        self.assertEqual(json.loads(labels), {"claimed": "yes"})
        # A second claim: the test fails, kubectl reports the apiserver's 422 and exits 1.
        r = self.k("patch", "pod", "kpatch", "--type=json", "-p", claim, check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("the server rejected our request due to an error in our request", r.stderr.decode())
        labels = self.k("get", "pod", "kpatch", "-o", "jsonpath={.metadata.labels}").stdout.decode()
        self.assertEqual(json.loads(labels), {"claimed": "yes"})

    def test_create_and_client_cert(self):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kcreate"},
               "spec": {"containers": [{"name": "runtime", "image": "busybox:1"}]}}
        self.k("create", "-f", "-", "--validate=false", stdin=json.dumps(pod).encode())
        env_cfg = self.fake.info["kubeconfig_client_cert"]
        r = subprocess.run([KUBECTL, f"--kubeconfig={env_cfg}", f"--cache-dir={self.tmp}/cache2", "get", "pod", "kcreate", "-o", "name"],
                           capture_output=True, timeout=20)
        self.assertEqual(r.stdout, b"pod/kcreate\n", r.stderr)

    def test_exec_stdin_and_exit_code(self):
        self.fake.make_pod("kexec")
        r = self.k("exec", "-i", "kexec", "--", "sh", "-c", "cat; echo to-stderr >&2; exit 3", stdin=b"hello stdin\n", check=False)
        self.assertEqual((r.returncode, r.stdout, r.stderr.strip().splitlines()[0]), (3, b"hello stdin\n", b"to-stderr"))
        log = [e for e in self.fake.control("GET", "requests")["requests"] if e["path"].endswith("/exec")]
        self.assertEqual(log[-1]["protocol"], "v5.channel.k8s.io")
        r = self.k("exec", "kexec", "--", "no-such-binary", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("executable file not found", r.stderr.decode())

    def test_exec_tty(self):
        import pty
        self.fake.make_pod("ktty")
        env = dict(os.environ, KUBECONFIG=self.fake.info["kubeconfig"], HOME=self.tmp,
                   KUBECTL_REMOTE_COMMAND_WEBSOCKETS="true")
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(KUBECTL, [KUBECTL, f"--cache-dir={self.tmp}/cache", "exec", "-it", "ktty", "--", "sh"], env)
        import fcntl, struct, termios, select
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 27, 91, 0, 0))
        out, sent, t0 = b"", False, time.time()
        while time.time() - t0 < 15:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    d = os.read(fd, 4096)
                except OSError:
                    break
                if not d:
                    break
                out += d
            if not sent and (b"#" in out or time.time() - t0 > 3):
                os.write(fd, b"stty size; echo mark-$((6*7)); exit 4\n")
                sent = True
        _, st = os.waitpid(pid, 0)
        os.close(fd)
        text = out.decode(errors="replace")
        self.assertIn("27 91", text, "the terminal size reached the pty (resize on channel 4)")
        self.assertIn("mark-42", text)
        self.assertEqual(os.waitstatus_to_exitcode(st), 4, text)
        log = [e for e in self.fake.control("GET", "requests")["requests"] if e["path"].endswith("/exec")]
        self.assertEqual(log[-1]["params"].get("tty"), ["true"])
        self.assertIn([91, 27], log[-1].get("resizes", []))

    def test_cp_both_ways(self):
        self.fake.make_pod("kcp")
        src = os.path.join(self.tmp, "up")
        os.makedirs(os.path.join(src, "sub"))
        payload = os.urandom(200000)
        with open(os.path.join(src, "sub", "bin"), "wb") as f:
            f.write(payload)
        with open(os.path.join(src, "a.txt"), "w") as f:
            f.write("hello\n")
        self.k("cp", src, "kcp:/app/workspace/up")
        r = self.k("exec", "kcp", "--", "sh", "-c", "cat /app/workspace/up/a.txt; wc -c < /app/workspace/up/sub/bin")
        self.assertEqual(r.stdout.decode().split(), ["hello", "200000"])
        dst = os.path.join(self.tmp, "down")
        self.k("cp", "kcp:/app/workspace/up", dst)
        with open(os.path.join(dst, "sub", "bin"), "rb") as f:
            self.assertEqual(f.read(), payload)
        self.k("cp", "kcp:/app/workspace/up/a.txt", os.path.join(self.tmp, "one.txt"))
        with open(os.path.join(self.tmp, "one.txt")) as f:
            self.assertEqual(f.read(), "hello\n")


try:
    import kubernetes  # noqa: F401
    HAVE_PYK8S = True
except ImportError:
    HAVE_PYK8S = False


@unittest.skipUnless(HAVE_PYK8S, "the Python module kubernetes is missing: apt-get install python3-kubernetes "
                                 "(and run with /usr/bin/python3)")
class PythonClientTest(NamedPodCase):
    def api(self):
        from kubernetes import client, config
        cfg = client.Configuration()
        config.load_kube_config(config_file=self.fake.info["kubeconfig"], client_configuration=cfg)
        return client.CoreV1Api(client.ApiClient(cfg))

    def test_create_list_watch_delete(self):
        from kubernetes import client, watch
        v1 = self.api()
        body = {"metadata": {"name": "py1", "labels": {"app": "py"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}
        pod = v1.create_namespaced_pod("default", body)
        self.assertEqual(pod.status.phase, "Pending")
        with self.assertRaises(client.ApiException) as e:
            v1.create_namespaced_pod("default", body)
        self.assertEqual(e.exception.status, 409)
        names = [p.metadata.name for p in v1.list_namespaced_pod("default", label_selector="app in (py)").items]
        self.assertEqual(names, ["py1"])
        phases = []
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_pod, "default", field_selector="metadata.name=py1", timeout_seconds=5):
            phases.append((ev["type"], ev["object"].status.phase))
            if ev["object"].status.phase == "Running":
                w.stop()
        self.assertEqual(phases[0], ("ADDED", "Pending"))
        self.assertEqual(phases[-1], ("MODIFIED", "Running"))
        d = v1.delete_namespaced_pod("py1", "default", grace_period_seconds=0, propagation_policy="Background")
        self.assertIsNotNone(d.metadata.deletion_timestamp)
        with self.assertRaises(client.ApiException) as e:
            v1.read_namespaced_pod("py1", "default")
        self.assertEqual(e.exception.status, 404)
        log = [e for e in self.fake.control("GET", "requests")["requests"] if e["method"] == "DELETE"]
        self.assertEqual(log[-1]["params"]["gracePeriodSeconds"], ["0"])

    def test_pvc(self):
        v1 = self.api()
        pvc = v1.create_namespaced_persistent_volume_claim("default", {
            "metadata": {"name": "ws-py"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
        self.assertEqual(pvc.status.phase, "Pending")
        v1.delete_namespaced_persistent_volume_claim("ws-py", "default")

    def test_exec_v4(self):
        from kubernetes.stream import stream
        self.fake.make_pod("pyexec")
        v1 = self.api()
        out = stream(v1.connect_get_namespaced_pod_exec, "pyexec", "default",
                     command=["sh", "-c", "echo out; echo err >&2"], stderr=True, stdin=False, stdout=True, tty=False)
        self.assertEqual(out, "out\nerr\n")
        r = stream(v1.connect_get_namespaced_pod_exec, "pyexec", "default",
                   command=["sh", "-c", "read x; echo got $x; exit 5"], stderr=True, stdin=True,
                   stdout=True, tty=False, _preload_content=False)
        r.write_stdin("hello\n")
        r.run_forever(timeout=10)
        self.assertEqual(r.read_stdout(), "got hello\n")
        self.assertEqual(r.returncode, 5)
        log = [e for e in self.fake.control("GET", "requests")["requests"] if e["path"].endswith("/exec")]
        self.assertEqual(log[-1]["protocol"], "v4.channel.k8s.io")
        self.assertEqual(log[-1]["params"]["stdin"], ["True"])


if __name__ == "__main__":
    run(__name__)
