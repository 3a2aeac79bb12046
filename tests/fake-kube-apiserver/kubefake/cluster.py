"""Pods and PVCs: creation defaults, the simulated scheduler/kubelet lifecycle, deletion with
grace periods and the PVC protection finalizer, and patches with optimistic concurrency."""

import asyncio
import copy
import json
import re
import signal
import sys
import uuid

from . import api, sandbox
from .store import KINDS, Store

NODE = "fake-node-1"
DEFAULT_UNSCHEDULABLE = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
PVC_FINALIZER = "kubernetes.io/pvc-protection"

# Strategic-merge list keys for the fields the fake models.
_MERGE_KEYS = {"containers": "name", "initContainers": "name", "volumes": "name", "env": "name",
               "volumeMounts": "mountPath", "ports": "containerPort", "conditions": "type",
               "containerStatuses": "name", "initContainerStatuses": "name",
               "tolerations": None, "finalizers": None}


class Timings:
    def __init__(self, schedule=0.2, start=0.3, terminate=0.3, bookmark=5.0, watch_timeout=1800):
        self.schedule = schedule
        self.start = start
        self.terminate = terminate
        self.bookmark = bookmark
        self.watch_timeout = watch_timeout


class Cluster:
    def __init__(self, sandboxes, faults, timings, pvc_binding="WaitForFirstConsumer"):
        self.store = Store()
        self.sandboxes = sandboxes
        self.faults = faults
        self.t = timings
        self.pvc_binding = pvc_binding
        self.tasks = set()
        self._pod_ip = 10

    def _spawn(self, coro):
        task = asyncio.get_event_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def shutdown(self):
        for task in list(self.tasks):
            task.cancel()
        self.sandboxes.kill_all()

    # ---- common -----------------------------------------------------------------------------

    def _new_meta(self, resource, ns, body):
        meta = copy.deepcopy(body.get("metadata") or {})
        kind = KINDS[resource]
        if meta.get("namespace") and meta["namespace"] != ns:
            raise api.bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
        if body.get("kind") not in (None, kind) or body.get("apiVersion") not in (None, "v1"):
            raise api.bad_request(f'the body of the request was in an unknown format - accepted '
                                  f'media types include: application/json (expected {kind} v1)')
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        name = meta.get("name", "")
        if not name:
            raise api.invalid(kind, "", [("metadata.name", "FieldValueRequired",
                                          "Required value: name or generateName is required")])
        if len(name) > 253 or not api.NAME_RE.match(name):
            raise api.invalid(kind, name, [(
                "metadata.name", "FieldValueInvalid",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower '
                "case alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character (e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")])
        self._check_labels(kind, name, meta)
        if self.store.get(resource, ns, name):
            raise api.already_exists(resource, name)
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(k, None)
        meta.update(namespace=ns, uid=str(uuid.uuid4()), creationTimestamp=api.now_rfc3339())
        meta.setdefault("generation", 1)
        return meta

    @staticmethod
    def _check_labels(kind, name, meta):
        for k, v in (meta.get("labels") or {}).items():
            try:
                api.parse_label_selector(f"{k}={v}")
            except api.ApiError:
                raise api.invalid(kind, name, [(f"metadata.labels", "FieldValueInvalid",
                                                f'Invalid value: "{v}": a valid label must be '
                                                "an empty string or consist of alphanumeric "
                                                "characters, '-', '_' or '.'")])

    def get(self, resource, ns, name):
        obj = self.store.get(resource, ns, name)
        if obj is None:
            raise api.not_found(resource, name)
        return obj

    @staticmethod
    def _check_preconditions(resource, obj, pre):
        pre = pre or {}
        if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
            raise api.conflict(resource, obj["metadata"]["name"],
                               f'Precondition failed: UID in precondition: {pre["uid"]}, '
                               f'UID in object meta: {obj["metadata"]["uid"]}')
        if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
            raise api.conflict(resource, obj["metadata"]["name"],
                               f'Precondition failed: ResourceVersion in precondition: '
                               f'{pre["resourceVersion"]}, ResourceVersion in object meta: '
                               f'{obj["metadata"]["resourceVersion"]}')

    # ---- pods -------------------------------------------------------------------------------

    def create_pod(self, ns, body):
        meta = self._new_meta("pods", ns, body)
        spec = copy.deepcopy(body.get("spec") or {})
        name = meta["name"]
        containers = spec.get("containers") or []
        causes = []
        if not containers:
            causes.append(("spec.containers", "FieldValueRequired", "Required value"))
        for i, c in enumerate(containers):
            if not c.get("name"):
                causes.append((f"spec.containers[{i}].name", "FieldValueRequired", "Required value"))
            if not c.get("image"):
                causes.append((f"spec.containers[{i}].image", "FieldValueRequired", "Required value"))
        if causes:
            raise api.invalid("Pod", name, causes)
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("securityContext", {})
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        for c in containers:
            image = c["image"]
            tagged = ":" in image.rsplit("/", 1)[-1] or "@" in image
            c.setdefault("imagePullPolicy",
                         "Always" if not tagged or image.endswith(":latest") else "IfNotPresent")
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            c.setdefault("resources", {})
        pod = {"metadata": meta, "spec": spec,
               "status": {"phase": "Pending", "qosClass": _qos(containers)}}
        self.store.put("pods", pod, created=True)
        self.sandboxes.prepare_pod(meta["uid"])
        ctx = dict(name=name, namespace=ns, labels=meta.get("labels"))
        plan = {k: self.faults.take(k, f"{ns}/{name}", **ctx)
                for k in ("unschedulable", "image_pull_backoff", "crash_loop_backoff")}
        self._spawn(self._lifecycle(ns, name, meta["uid"], plan))
        return pod

    def _live_pod(self, ns, name, uid):
        pod = self.store.get("pods", ns, name)
        if pod is None or pod["metadata"]["uid"] != uid or pod["metadata"].get("deletionTimestamp"):
            return None
        return pod

    def _set_condition(self, pod, type_, status, reason=None, message=None):
        conds = pod["status"].setdefault("conditions", [])
        cond = next((c for c in conds if c["type"] == type_), None)
        if cond is None:
            cond = {"type": type_}
            conds.append(cond)
        if cond.get("status") != status:
            cond["lastTransitionTime"] = api.now_rfc3339()
        cond["status"] = status
        cond["lastProbeTime"] = None
        for k, v in (("reason", reason), ("message", message)):
            if v is None:
                cond.pop(k, None)
            else:
                cond[k] = v

    def _container_statuses(self, pod, state, ready=False, **extra):
        out = []
        for c in pod["spec"]["containers"]:
            s = {"name": c["name"], "image": c["image"], "imageID": "", "ready": ready,
                 "restartCount": 0, "started": ready, "state": copy.deepcopy(state)}
            if ready:
                s["imageID"] = "docker.io/library/" + c["image"].split(":")[0] + "@sha256:" + "0" * 64
                s["containerID"] = "containerd://" + uuid.uuid4().hex + uuid.uuid4().hex
            s.update(copy.deepcopy(extra))
            out.append(s)
        pod["status"]["containerStatuses"] = out

    async def _lifecycle(self, ns, name, uid, plan):
        await asyncio.sleep(self.t.schedule)
        pod = self._live_pod(ns, name, uid)
        if not pod:
            return
        uns = plan["unschedulable"]
        if uns:
            self._set_condition(pod, "PodScheduled", "False", "Unschedulable",
                                uns.get("message") or DEFAULT_UNSCHEDULABLE)
            self.store.put("pods", pod)
            if uns.get("seconds") is None:
                return
            await asyncio.sleep(float(uns["seconds"]))
        # The scheduler waits for every claim the pod uses.
        while True:
            pod = self._live_pod(ns, name, uid)
            if not pod:
                return
            missing = [c for c in _claims(pod) if not self.store.get("persistentvolumeclaims", ns, c)]
            if not missing:
                break
            msg = f'persistentvolumeclaim "{missing[0]}" not found'
            cond = next((c for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"), {})
            if cond.get("message") != msg:
                self._set_condition(pod, "PodScheduled", "False", "Unschedulable", msg)
                self.store.put("pods", pod)
            await asyncio.sleep(0.25)
        for claim in _claims(pod):
            self._bind_pvc(ns, claim)
        self._pod_ip += 1
        pod["spec"]["nodeName"] = NODE
        st = pod["status"]
        st.update(hostIP="10.0.0.1", hostIPs=[{"ip": "10.0.0.1"}], startTime=api.now_rfc3339())
        self._set_condition(pod, "PodScheduled", "True")
        self._set_condition(pod, "Initialized", "True")
        names = ", ".join(c["name"] for c in pod["spec"]["containers"])
        self._set_condition(pod, "Ready", "False", "ContainersNotReady",
                            f"containers with unready status: [{names}]")
        self._set_condition(pod, "ContainersReady", "False", "ContainersNotReady",
                            f"containers with unready status: [{names}]")
        self._container_statuses(pod, {"waiting": {"reason": "ContainerCreating"}})
        self.store.put("pods", pod)
        ipb, crash = plan["image_pull_backoff"], plan["crash_loop_backoff"]
        sandboxes_ready = None
        if not (ipb or crash):
            # The runtime creates the containers meanwhile: one long-lived sandbox each, which
            # every exec then joins (deleting the pod kills them, see _finish_pod).
            sandboxes_ready = self.sandboxes.start_pod(pod, lambda claim: self.pvc_uid(ns, claim))
        await asyncio.sleep(self.t.start)
        if sandboxes_ready is not None:
            try:
                await sandboxes_ready
            except sandbox.SandboxError as e:
                # The pod still runs (REST-only tests need no sandbox); its execs fail and say so.
                print(f"kubefake: pod {ns}/{name}: {e}", file=sys.stderr, flush=True)
        pod = self._live_pod(ns, name, uid)
        if not pod:
            self.sandboxes.kill_pod(uid)  # deleted while its containers were being created
            return
        st = pod["status"]
        if ipb:
            image = ipb.get("image") or pod["spec"]["containers"][0]["image"]
            ref = image if "/" in image else "docker.io/library/" + image
            self._container_statuses(pod, {"waiting": {
                "reason": "ErrImagePull",
                "message": f'rpc error: code = NotFound desc = failed to pull and unpack image '
                           f'"{ref}": failed to resolve reference "{ref}": {ref}: not found'}})
            self.store.put("pods", pod)
            await asyncio.sleep(self.t.start)
            pod = self._live_pod(ns, name, uid)
            if not pod:
                return
            self._container_statuses(pod, {"waiting": {
                "reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}})
            self.store.put("pods", pod)
            return
        if crash:
            code = int(crash.get("exit_code", 1))
            term = {"exitCode": code, "reason": "Error", "startedAt": api.now_rfc3339(),
                    "finishedAt": api.now_rfc3339(),
                    "containerID": "containerd://" + uuid.uuid4().hex}
            if pod["spec"].get("restartPolicy") == "Never":
                pod["status"]["phase"] = "Failed"
                self._container_statuses(pod, {"terminated": term})
            else:
                self._container_statuses(pod, {"waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off 10s restarting failed container={pod['spec']['containers'][0]['name']} pod={name}_{ns}({uid})"}},
                    lastState={"terminated": term}, restartCount=1)
            self.store.put("pods", pod)
            return
        st["phase"] = "Running"
        st.update(podIP=f"10.244.0.{self._pod_ip % 250}", podIPs=[{"ip": f"10.244.0.{self._pod_ip % 250}"}])
        self._set_condition(pod, "Ready", "True")
        self._set_condition(pod, "ContainersReady", "True")
        self._container_statuses(pod, {"running": {"startedAt": api.now_rfc3339()}}, ready=True)
        self.store.put("pods", pod)

    def terminate_pod(self, ns, name, exit_code=137, reason="OOMKilled", phase="Failed", message=None):
        """Control hook: the pod's container ends (as when the kubelet OOM-kills or evicts it)."""
        pod = self.get("pods", ns, name)
        self.sandboxes.kill_pod(pod["metadata"]["uid"])
        term = {"exitCode": exit_code, "reason": reason, "startedAt": api.now_rfc3339(),
                "finishedAt": api.now_rfc3339()}
        pod["status"]["phase"] = phase
        if message:
            pod["status"]["message"] = message
        if phase == "Failed" and reason == "Evicted":
            pod["status"]["reason"] = "Evicted"
        self._set_condition(pod, "Ready", "False", "PodFailed" if phase == "Failed" else "PodCompleted")
        self._set_condition(pod, "ContainersReady", "False", "PodFailed" if phase == "Failed" else "PodCompleted")
        self._container_statuses(pod, {"terminated": term})
        return self.store.put("pods", pod)

    def delete_pod(self, ns, name, opts):
        pod = self.get("pods", ns, name)
        self._check_preconditions("pods", pod, opts.get("preconditions"))
        grace = opts.get("gracePeriodSeconds")
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        grace = max(0, int(grace))
        meta = pod["metadata"]
        uid = meta["uid"]
        if grace == 0 or not pod["spec"].get("nodeName"):
            # Never scheduled, or forced: the apiserver removes the object at once.
            meta.setdefault("deletionTimestamp", api.now_rfc3339())
            meta["deletionGracePeriodSeconds"] = 0
            self._finish_pod(ns, name, uid)
            return pod
        if meta.get("deletionTimestamp") and meta.get("deletionGracePeriodSeconds", 0) <= grace:
            return pod
        meta["deletionTimestamp"] = api.now_rfc3339(grace)
        meta["deletionGracePeriodSeconds"] = grace
        self.store.put("pods", pod)
        # The kubelet's SIGTERM reaches every process of the pod's containers; the sandboxes are
        # killed when the (shortened) grace period ends.
        self.sandboxes.kill_pod(uid, signal.SIGTERM)
        self._spawn(self._finish_later(ns, name, uid, min(grace, self.t.terminate)))
        return pod

    async def _finish_later(self, ns, name, uid, delay):
        await asyncio.sleep(delay)
        self._finish_pod(ns, name, uid)

    def _finish_pod(self, ns, name, uid):
        pod = self.store.get("pods", ns, name)
        if pod is None or pod["metadata"]["uid"] != uid:
            return
        self.sandboxes.kill_pod(uid)
        if pod["metadata"].get("finalizers"):
            # The containers are gone, but the object stays Terminating until whoever owns its
            # finalizers removes the last one (an update then finishes it, see _update).
            return
        self.store.remove("pods", ns, name)
        self.sandboxes.remove_pod_dir(uid)
        for claim in _claims(pod):
            pvc = self.store.get("persistentvolumeclaims", ns, claim)
            if pvc and pvc["metadata"].get("deletionTimestamp"):
                self._spawn(self._release_pvc(ns, claim))

    # ---- persistent volume claims -----------------------------------------------------------

    def create_pvc(self, ns, body):
        meta = self._new_meta("persistentvolumeclaims", ns, body)
        spec = copy.deepcopy(body.get("spec") or {})
        causes = []
        if not spec.get("accessModes"):
            causes.append(("spec.accessModes", "FieldValueRequired", "Required value: at least 1 access mode is required"))
        if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
            causes.append(("spec.resources[storage]", "FieldValueRequired", "Required value"))
        if causes:
            raise api.invalid("PersistentVolumeClaim", meta["name"], causes)
        spec.setdefault("storageClassName", "standard")
        spec.setdefault("volumeMode", "Filesystem")
        meta["finalizers"] = list(dict.fromkeys((meta.get("finalizers") or []) + [PVC_FINALIZER]))
        pvc = {"metadata": meta, "spec": spec, "status": {"phase": "Pending"}}
        self.store.put("persistentvolumeclaims", pvc, created=True)
        if self.pvc_binding == "Immediate":
            self._spawn(self._bind_soon(ns, meta["name"]))
        return pvc

    async def _bind_soon(self, ns, name):
        await asyncio.sleep(0.05)
        self._bind_pvc(ns, name)

    def _bind_pvc(self, ns, name):
        pvc = self.store.get("persistentvolumeclaims", ns, name)
        if not pvc or pvc["status"].get("phase") == "Bound":
            return
        pvc["spec"]["volumeName"] = "pvc-" + pvc["metadata"]["uid"]
        ann = pvc["metadata"].setdefault("annotations", {})
        ann["pv.kubernetes.io/bind-completed"] = "yes"
        ann["pv.kubernetes.io/bound-by-controller"] = "yes"
        pvc["status"] = {"phase": "Bound", "accessModes": pvc["spec"]["accessModes"],
                         "capacity": {"storage": pvc["spec"]["resources"]["requests"]["storage"]}}
        self.store.put("persistentvolumeclaims", pvc)
        self.sandboxes.prepare_pvc(pvc["metadata"]["uid"])

    def pvc_uid(self, ns, name):
        pvc = self.store.get("persistentvolumeclaims", ns, name)
        return pvc["metadata"]["uid"] if pvc else None

    def delete_pvc(self, ns, name, opts):
        pvc = self.get("persistentvolumeclaims", ns, name)
        self._check_preconditions("persistentvolumeclaims", pvc, opts.get("preconditions"))
        if not pvc["metadata"].get("deletionTimestamp"):
            pvc["metadata"]["deletionTimestamp"] = api.now_rfc3339()
            pvc["metadata"]["deletionGracePeriodSeconds"] = 0
            self.store.put("persistentvolumeclaims", pvc)
        if not self._pvc_in_use(ns, name):
            self._spawn(self._release_pvc(ns, name))
        return pvc

    def _pvc_in_use(self, ns, name):
        return any(name in _claims(p) for p in self.store.items("pods", ns))

    async def _release_pvc(self, ns, name):
        await asyncio.sleep(0.05)
        pvc = self.store.get("persistentvolumeclaims", ns, name)
        if not pvc or self._pvc_in_use(ns, name):
            return
        pvc["metadata"]["finalizers"] = [f for f in pvc["metadata"].get("finalizers", [])
                                         if f != PVC_FINALIZER]
        self.store.remove("persistentvolumeclaims", ns, name)
        self.sandboxes.remove_pvc_dir(pvc["metadata"]["uid"])

    # ---- patch and update -------------------------------------------------------------------

    def patch(self, resource, ns, name, subresource, content_type, raw):
        obj = self.get(resource, ns, name)
        ct = (content_type or "").split(";")[0].strip()
        try:
            patch = json.loads(raw or b"null")
        except ValueError as e:
            raise api.bad_request(f"error decoding patch: {e}")
        if ct == "application/merge-patch+json":
            new = merge_patch(copy.deepcopy(obj), patch)
        elif ct == "application/strategic-merge-patch+json":
            new = strategic_patch(copy.deepcopy(obj), patch)
        elif ct == "application/json-patch+json":
            new = json_patch(copy.deepcopy(obj), patch)
        else:
            raise api.ApiError(415, "UnsupportedMediaType",
                               f"the body of the request was in an unknown format - accepted media "
                               f"types include: application/json-patch+json, "
                               f"application/merge-patch+json, application/strategic-merge-patch+json")
        if not isinstance(new, dict):
            raise api.bad_request("the patch does not produce an object")
        return self._update(resource, obj, new, subresource)

    def update(self, resource, ns, name, subresource, body):
        obj = self.get(resource, ns, name)
        if (body.get("metadata") or {}).get("name") not in (None, name):
            raise api.bad_request("the name of the object does not match the name on the URL")
        return self._update(resource, obj, copy.deepcopy(body), subresource)

    def _update(self, resource, obj, new, subresource):
        kind, name = KINDS[resource], obj["metadata"]["name"]
        new.pop("kind", None)
        new.pop("apiVersion", None)
        nm = new.setdefault("metadata", {})
        rv = nm.get("resourceVersion")
        if rv and rv != obj["metadata"]["resourceVersion"]:
            raise api.conflict(resource, name, "the object has been modified; please apply your "
                               "changes to the latest version and try again")
        for k in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                  "deletionGracePeriodSeconds", "generation"):
            if k in obj["metadata"]:
                nm[k] = obj["metadata"][k]
            else:
                nm.pop(k, None)
        nm["resourceVersion"] = obj["metadata"]["resourceVersion"]
        if subresource == "status":
            result = copy.deepcopy(obj)
            result["status"] = new.get("status") or {}
        else:
            self._check_labels(kind, name, nm)
            new["status"] = copy.deepcopy(obj["status"])
            self._check_spec_change(resource, kind, name, obj["spec"], new.get("spec") or {})
            result = new
        if result == obj:
            return obj
        stored = self.store.put(resource, result)
        if (resource == "pods" and result["metadata"].get("deletionTimestamp")
                and not result["metadata"].get("finalizers") and obj["metadata"].get("finalizers")):
            # The last finalizer of a deleted pod went: the pod goes once its grace period ran.
            grace = result["metadata"].get("deletionGracePeriodSeconds") or 0
            self._spawn(self._finish_later(result["metadata"]["namespace"], name,
                                           result["metadata"]["uid"], min(grace, self.t.terminate)))
        return stored

    @staticmethod
    def _check_spec_change(resource, kind, name, old, new):
        if resource == "pods":
            a, b = copy.deepcopy(old), copy.deepcopy(new)
            for spec in (a, b):
                for c in spec.get("containers") or []:
                    c.pop("image", None)
                spec.pop("activeDeadlineSeconds", None)
                spec.pop("tolerations", None)
            if a != b:
                raise api.invalid(kind, name, [("spec", "FieldValueForbidden",
                    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
                    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                    "(allow it to be set to 1 if it was previously negative)")])
        else:
            a, b = copy.deepcopy(old), copy.deepcopy(new)
            for spec in (a, b):
                (spec.get("resources") or {}).pop("requests", None)
            if a != b:
                raise api.invalid(kind, name, [("spec", "FieldValueForbidden",
                    "Forbidden: spec is immutable after creation except resources.requests and "
                    "volumeAttributesClassName for bound claims")])


def _claims(pod):
    return [v["persistentVolumeClaim"].get("claimName") for v in pod["spec"].get("volumes") or []
            if "persistentVolumeClaim" in v]


def _qos(containers):
    reqs = [c.get("resources") or {} for c in containers]
    if all(not r.get("requests") and not r.get("limits") for r in reqs):
        return "BestEffort"
    for r in reqs:
        lim, req = r.get("limits") or {}, r.get("requests") or {}
        if not {"cpu", "memory"} <= set(lim) or any(req.get(k, lim[k]) != lim[k] for k in lim):
            return "Burstable"
    return "Guaranteed"


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


def strategic_patch(target, patch, field=None):
    """Strategic merge patch for the fields the fake models: maps merge, lists of objects with a
    known merge key merge by that key, `$patch: delete|replace` directives, other lists replace."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if not k.startswith("$")}
    if patch.get("$patch") == "delete":
        return None
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            target.pop(k, None)
        elif isinstance(v, list) and _MERGE_KEYS.get(k) and isinstance(target.get(k), list):
            key = _MERGE_KEYS[k]
            merged = copy.deepcopy(target[k])
            for item in v:
                if not isinstance(item, dict) or key not in item:
                    merged.append(copy.deepcopy(item))
                    continue
                idx = next((i for i, e in enumerate(merged) if isinstance(e, dict) and e.get(key) == item[key]), None)
                if item.get("$patch") == "delete":
                    if idx is not None:
                        merged.pop(idx)
                elif idx is None:
                    merged.append({a: b for a, b in item.items() if not a.startswith("$")})
                else:
                    merged[idx] = strategic_patch(merged[idx], item)
            target[k] = merged
        elif isinstance(v, dict):
            r = strategic_patch(target.get(k), v, k)
            if r is None:
                target.pop(k, None)
            else:
                target[k] = r
        else:
            target[k] = copy.deepcopy(v)
    return target


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise api.bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc, ops):
    """RFC 6902 JSON patch: add, remove, replace, test, move, copy."""
    if not isinstance(ops, list):
        raise api.bad_request("a JSON patch must be a list of operations")

    def walk(parts):
        cur = doc
        for p in parts[:-1]:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur, parts[-1]

    def get(parts):
        cur = doc
        for p in parts:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur

    def add(parts, value):
        parent, last = walk(parts)
        if isinstance(parent, list):
            parent.insert(len(parent) if last == "-" else int(last), value)
        else:
            parent[last] = value

    def remove(parts):
        parent, last = walk(parts)
        return parent.pop(int(last)) if isinstance(parent, list) else parent.pop(last)

    try:
        for op in ops:
            kind, parts = op.get("op"), _pointer(op.get("path", ""))
            if kind == "add":
                add(parts, copy.deepcopy(op.get("value")))
            elif kind == "remove":
                remove(parts)
            elif kind == "replace":
                remove(parts)
                add(parts, copy.deepcopy(op.get("value")))
            elif kind == "test":
                if get(parts) != op.get("value"):
                    raise _PatchFailed()
            elif kind in ("move", "copy"):
                src = _pointer(op.get("from", ""))
                value = remove(src) if kind == "move" else copy.deepcopy(get(src))
                add(parts, value)
            else:
                raise _PatchFailed()  # json-patch fails Apply ("Unexpected kind"): a 422 too
    except (_PatchFailed, KeyError, IndexError, ValueError, TypeError):
        # The apiserver (handlers/patch.go, applyJSPatch) wraps any failure to apply a JSON patch,
        # a failed "test" included, in NewGenericServerResponse(422, ...): reason Invalid, this
        # fixed message (json-patch's own text is dropped), empty details. Nothing is stored.
        raise api.ApiError(422, "Invalid", "the server rejected our request due to an error in "
                           "our request", details={"_empty": True})
    return doc


class _PatchFailed(Exception):
    """A JSON patch "test" operation that did not match."""
