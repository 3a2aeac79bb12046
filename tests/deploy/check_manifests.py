#!/usr/bin/python3
"""Static checks of deploy/kubernetes (the Kustomize base) and deploy/docker (the Dockerfiles), and
the base's Role and the restricted profile against what the runtime plugin really does.

Usage: check_manifests.py REPO_ROOT
       check_manifests.py --plugin-requests LOG.json REPO_ROOT
       check_manifests.py --restricted FILE.json
       check_manifests.py --session-pod FILE.json
       check_manifests.py --self-test

REPO_ROOT alone renders the base with the newest kubectl found (`kubectl kustomize`, offline) and
checks: the objects and their apiVersions; the Role's shape (core group, no wildcards, no
secrets) and its binding; the host's Deployment (restricted Pod Security Standard fields, probes,
shutdown, config and secret mounts); Service, Ingress and PodDisruptionBudget; the
NetworkPolicies, by evaluating them for sample connections (exec pods reach DNS and the internet,
never private, link-local/metadata or cluster addresses, and nothing reaches them; the host is
reached only by the ingress controller); the ConfigMap carries config/production.toml byte for
byte; and the paths, ports and uids the TOML, the manifests and the Dockerfiles share agree.

--plugin-requests takes the fake API server's request log (GET /_fake/requests) of a run of the
plugin through everything it does (kube.KubeDeployConformance.*), derives what a real API server's
RBAC checks for each of the plugin's requests, and fails when the rendered Role lacks any of it or
grants anything else that JUSTIFIED_UNUSED_GRANTS does not give a reason for; the pods the plugin
created must be the ones NetworkPolicy exec-pods-egress selects.

--restricted checks pods against the restricted Pod Security Standard (every control of it and of
the baseline); --session-pod against what the plugin promises of a session pod (no API token,
500m/512Mi requests == limits, a writable volume at /app/workspace). FILE is a Pod, a pod spec,
or a request log (then every pod the plugin POSTed). --self-test proves the checks can fail.

Exit status: 0 all passed, 1 a check failed, 77 skipped (no kubectl).
"""

import glob
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

SKIP = 77

failures = []
passed = 0


def check(condition, message):
    global passed
    if condition:
        passed += 1
    else:
        failures.append(message)
    return condition


def find_kubectl():
    """The newest kubectl: /usr/lib/google-cloud-sdk/bin/kubectl.X.Y, else kubectl on PATH."""
    candidates = []
    for path in glob.glob("/usr/lib/google-cloud-sdk/bin/kubectl.*"):
        m = re.fullmatch(r"kubectl\.(\d+)\.(\d+)", os.path.basename(path))
        if m and os.access(path, os.X_OK):
            candidates.append(((int(m.group(1)), int(m.group(2))), path))
    if candidates:
        return max(candidates)[1]
    return shutil.which("kubectl")


# ---------------------------------------------------------------- the objects
EXPECTED_OBJECTS = {
    # (kind, namespace, name): apiVersion
    ("Namespace", None, "podterm"): "v1",
    ("Namespace", None, "podterm-exec"): "v1",
    ("ServiceAccount", "podterm", "podterm-host"): "v1",
    ("Role", "podterm-exec", "podterm-runtime"): "rbac.authorization.k8s.io/v1",
    ("RoleBinding", "podterm-exec", "podterm-runtime"): "rbac.authorization.k8s.io/v1",
    ("Deployment", "podterm", "podterm-host"): "apps/v1",
    ("Service", "podterm", "podterm-host"): "v1",
    ("Ingress", "podterm", "podterm"): "networking.k8s.io/v1",
    ("PodDisruptionBudget", "podterm", "podterm-host"): "policy/v1",
    ("NetworkPolicy", "podterm", "podterm-host"): "networking.k8s.io/v1",
    ("NetworkPolicy", "podterm-exec", "exec-default-deny"): "networking.k8s.io/v1",
    ("NetworkPolicy", "podterm-exec", "exec-pods-egress"): "networking.k8s.io/v1",
    ("ConfigMap", "podterm", "podterm-config"): "v1",  # plus kustomize's hash suffix
}

# The Role is checked against what the plugin really calls, not against a list written here:
# kube.KubeDeployConformance.* (tests/plugins/runtime-kubernetes/KubeDeployConformanceTest.cpp)
# drives runtime-kubernetes through everything it does against the fake API server and runs
# `--plugin-requests` on the fake's request log. A Role grant no call needs must be listed here,
# with its reason; nothing else may be granted.
JUSTIFIED_UNUSED_GRANTS = {
    # (apiGroup, resource, verb): why the Role grants it although the plugin never makes the call
    ("", "pods/status", "get"):
        "issue 4 names pods/status in the Role: a status-only reader (an operator's tooling "
        "bound to the same Role) needs it; it is read-only and shows nothing `get pods` "
        "does not",
}

# Subresources a client streams over an upgraded connection (kubelet proxying). A WebSocket
# upgrade is an HTTP GET, so RBAC checks `get`; API servers from 1.35
# (AuthorizePodWebsocketUpgradeCreatePermission, on by default) also check `create`, which
# is what the SPDY POST always needed (kubernetes-protocol.md 3.4).
STREAMING_SUBRESOURCES = {"exec", "attach", "portforward"}

# The plugin's requests carry this User-Agent (api_client.cpp, exec_stream.cpp); the request
# log's other entries (the test's own API calls) are not the plugin's.
PLUGIN_USER_AGENT = "podterm-runtime-kubernetes/"

PLUGIN_LABEL = ("app.kubernetes.io/managed-by", "podterm")


def object_key(obj):
    meta = obj.get("metadata", {})
    name = meta.get("name", "")
    if obj.get("kind") == "ConfigMap":
        name = re.sub(r"-[a-z0-9]{10}$", "", name)
    return (obj.get("kind"), meta.get("namespace"), name)


def check_objects(objects):
    keys = {}
    for obj in objects:
        key = object_key(obj)
        check(key not in keys, f"{key} appears twice")
        keys[key] = obj
        check(key in EXPECTED_OBJECTS, f"unexpected object {key} (a new object needs a check here)")
        if key in EXPECTED_OBJECTS:
            check(obj.get("apiVersion") == EXPECTED_OBJECTS[key],
                  f"{key}: apiVersion {obj.get('apiVersion')!r}, expected "
                  f"{EXPECTED_OBJECTS[key]!r}")
    for key in EXPECTED_OBJECTS:
        check(key in keys, f"missing object {key}")
    for kind in ("ClusterRole", "ClusterRoleBinding", "Secret"):
        check(not any(o.get("kind") == kind for o in objects),
              f"the base must not ship a {kind}")
    return keys


def check_namespaces(objs):
    for name in ("podterm", "podterm-exec"):
        ns = objs.get(("Namespace", None, name))
        if not ns:
            continue
        labels = ns["metadata"].get("labels", {})
        check(labels.get("pod-security.kubernetes.io/enforce") == "restricted",
              f"namespace {name}: pod-security.kubernetes.io/enforce must be 'restricted'")


def role_grants(role):
    """The Role's rules as a set of (apiGroup, resource, verb)."""
    grants = set()
    for rule in role.get("rules", []) or []:
        for group in rule.get("apiGroups", []) or []:
            for res in rule.get("resources", []) or []:
                for verb in rule.get("verbs", []) or []:
                    grants.add((group, res, verb))
    return grants


def check_rbac(objs):
    """The Role's shape: core group only, no wildcards, no secrets, in one namespace; its grants
    against the plugin's calls are --plugin-requests' job (check_role_against_requests)."""
    role = objs.get(("Role", "podterm-exec", "podterm-runtime"))
    if role:
        for i, rule in enumerate(role.get("rules", [])):
            where = f"Role podterm-runtime rule {i}"
            check(rule.get("apiGroups") == [""], f"{where}: apiGroups must be [\"\"] (core)")
            check("resourceNames" not in rule and "nonResourceURLs" not in rule,
                  f"{where}: no resourceNames/nonResourceURLs expected")
            for res in rule.get("resources", []):
                check("*" not in res, f"{where}: wildcard resource {res!r}")
                check(res != "secrets" and not res.startswith("secrets/"),
                      f"{where}: grants access to secrets")
                for verb in rule.get("verbs", []):
                    check(verb != "*", f"{where}: wildcard verb")
    binding = objs.get(("RoleBinding", "podterm-exec", "podterm-runtime"))
    if binding:
        check(binding.get("roleRef") == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                         "name": "podterm-runtime"},
              f"RoleBinding roleRef {binding.get('roleRef')}")
        check(binding.get("subjects") == [{"kind": "ServiceAccount", "name": "podterm-host",
                                           "namespace": "podterm"}],
              f"RoleBinding subjects {binding.get('subjects')}: expected the host's ServiceAccount")


def go_parse_bool(text):
    """Go's strconv.ParseBool, as the API server parses `watch=`; None when not a bool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def authorized_grants(entry):
    """What a real API server's RBAC authorizer checks for one logged request, per its request
    info rules (k8s.io/apiserver endpoints/request): a set of (apiGroup, resource, verb), or a
    string saying why no Role can grant it (non-resource URL, cluster-scoped)."""
    method = entry.get("method", "").upper()
    parts = [p for p in entry.get("path", "").split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return f"non-resource URL {entry.get('path')} (only a ClusterRole can grant it)"
    legacy_watch = rest[:1] == ["watch"]
    if legacy_watch:
        rest = rest[1:]
    if len(rest) < 3 or rest[0] != "namespaces":
        return f"{entry.get('path')} is not namespaced (a Role cannot grant it)"
    resource = rest[2]
    name = rest[3] if len(rest) > 3 else None
    sub = rest[4] if len(rest) > 4 else None
    if sub:
        resource += "/" + sub
    params = entry.get("params") or {}
    watch = go_parse_bool((params.get("watch") or ["false"])[0]) is True
    if method in ("GET", "HEAD"):
        verb = "get" if name else ("watch" if watch or legacy_watch else "list")
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}.get(method, method.lower())
    verbs = {verb}
    upgrade = (entry.get("headers") or {}).get("upgrade", "").lower()
    if sub in STREAMING_SUBRESOURCES and method == "GET" and upgrade == "websocket":
        verbs.add("create")  # 1.35+: the WebSocket upgrade is also authorized as create
    return {(group, resource, v) for v in verbs}


def plugin_requests(log):
    """The plugin's entries of a fake API server request log ({"requests": [...]} or a list)."""
    entries = log.get("requests", []) if isinstance(log, dict) else log
    return [e for e in entries
            if (e.get("headers") or {}).get("user-agent", "").startswith(PLUGIN_USER_AGENT)]


def check_role_against_requests(objs, log, report=True):
    """Every grant the plugin's calls need is in the Role, and every Role grant is used by them or
    justified in JUSTIFIED_UNUSED_GRANTS."""
    role = objs.get(("Role", "podterm-exec", "podterm-runtime"))
    if not check(role is not None, "no Role podterm-runtime to compare with the plugin's calls"):
        return
    requests = plugin_requests(log)
    if not check(requests, f"the request log holds no request of the plugin (User-Agent "
                           f"{PLUGIN_USER_AGENT}...): nothing to compare the Role with"):
        return
    used = {}  # grant -> an example request
    namespaces = set()
    for e in requests:
        grants = authorized_grants(e)
        if isinstance(grants, str):
            check(False, f"the plugin calls {e.get('method')} {e.get('path')}: {grants}")
            continue
        namespaces.add(e.get("namespace"))
        # The fake derives the verb too; a disagreement means one of the two has the rule wrong.
        ours = {v for (_, _, v) in grants}
        check(e.get("verb") in ours,
              f"{e.get('method')} {e.get('path')}: the fake logged verb {e.get('verb')!r}, an API "
              f"server authorizes {sorted(ours)}")
        query = f"?{e['query']}" if e.get("query") else ""
        example = f"{e.get('method')} {e.get('path')}{query}"[:140]
        for g in grants:
            note = (" (a WebSocket upgrade: 1.35+ also authorizes it as create)"
                    if g[2] == "create" and e.get("method") == "GET" else "")
            used.setdefault(g, example + note)
    check(len(namespaces) == 1,
          f"the plugin's calls span namespaces {sorted(map(str, namespaces))}; the Role covers one")
    granted = role_grants(role)

    def show(g):
        return f"{g[1]}: {g[2]}" + (f" (apiGroup {g[0]})" if g[0] else "")

    if report:
        print(f"the plugin's {len(requests)} requests need:")
        for g in sorted(used):
            print(f"  {show(g):32} e.g. {used[g]}")
    for g in sorted(set(used) - granted):
        check(False, f"the Role does not grant {show(g)}, which the plugin needs: {used[g]}")
    for g in sorted(granted - set(used)):
        check(g in JUSTIFIED_UNUSED_GRANTS,
              f"the Role grants {show(g)}, which no call of the plugin needs: remove it, or give "
              f"the reason in JUSTIFIED_UNUSED_GRANTS (least privilege)")
    for g, why in sorted(JUSTIFIED_UNUSED_GRANTS.items()):
        check(g in granted, f"JUSTIFIED_UNUSED_GRANTS lists {show(g)}, which the Role does not "
                            f"grant: drop the entry")
        check(g not in used, f"JUSTIFIED_UNUSED_GRANTS lists {show(g)}, but the plugin uses it: "
                             f"drop the entry")
        if report and g in granted and g not in used:
            print(f"  {show(g):32} granted unused: {why}")

    # The pods the plugin creates are the ones the exec NetworkPolicy is written for.
    policy = objs.get(("NetworkPolicy", "podterm-exec", "exec-pods-egress"))
    pods = [e["body"] for e in requests if e.get("method") == "POST" and
            isinstance(e.get("body"), dict) and e["body"].get("kind") == "Pod"]
    check(pods, "the plugin created no pod in the request log")
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        check(policy is not None and
              selector_matches(policy["spec"].get("podSelector", {}), labels),
              f"pod {pod.get('metadata', {}).get('name')} (labels {labels}) is not selected by "
              f"NetworkPolicy exec-pods-egress: its egress would be the default deny's, and the "
              f"policy protects nothing the plugin makes")


# ---------------------------------------------------------------- pod security
# The restricted Pod Security Standard (kubernetes/website .../security/pod-security-standards.md,
# policy version "latest"), every control of it and of the baseline it includes, as
# pod-security-admission evaluates them for a Linux pod.
ALLOWED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                        "persistentVolumeClaim", "projected", "secret"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
PROFILE_TYPES = ("RuntimeDefault", "Localhost")  # seccomp and AppArmor


def restricted_violations(pod_spec, annotations=None):
    """The restricted profile's controls for a pod spec (and the pod's annotations, for the
    AppArmor ones); returns human-readable violations, [] when the pod is admitted."""
    out = []
    psc = pod_spec.get("securityContext", {}) or {}
    # Baseline: host namespaces, HostProcess, hostPath (restricted: the volume type list),
    # sysctls, SELinux, AppArmor, seccomp not Unconfined.
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(field):
            out.append(f"{field} is true")
    for vol in pod_spec.get("volumes", []) or []:
        types = set(vol) - {"name"}
        if not types <= ALLOWED_VOLUME_TYPES:
            out.append(f"volume {vol.get('name')}: type {sorted(types)} not allowed")
    for sysctl in psc.get("sysctls", []) or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            out.append(f"sysctl {sysctl.get('name')} is not one of the safe sysctls")

    def common(where, sc):
        """The controls a pod-level and a container-level securityContext share."""
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            out.append(f"{where}: windowsOptions.hostProcess")
        if sc.get("runAsUser") == 0:
            out.append(f"{where}: runAsUser is 0")
        se = sc.get("seLinuxOptions") or {}
        if se.get("type", "") not in SELINUX_TYPES:
            out.append(f"{where}: seLinuxOptions.type {se.get('type')!r} not allowed")
        if se.get("user") or se.get("role"):
            out.append(f"{where}: seLinuxOptions.user/role must not be set")
        apparmor = (sc.get("appArmorProfile") or {}).get("type")
        if apparmor is not None and apparmor not in PROFILE_TYPES:
            out.append(f"{where}: appArmorProfile {apparmor} not allowed")
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp is not None and seccomp not in PROFILE_TYPES:
            out.append(f"{where}: seccompProfile {seccomp} not allowed")

    common("pod", psc)
    for key, value in (annotations or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
                value == "runtime/default" or value.startswith("localhost/")):
            out.append(f"annotation {key}: {value} not allowed")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    containers = [c for key in ("containers", "initContainers", "ephemeralContainers")
                  for c in pod_spec.get(key, []) or []]
    if not containers:
        out.append("no containers")
    for c in containers:
        name = c.get("name")
        where = f"container {name}"
        sc = c.get("securityContext", {}) or {}
        common(where, sc)
        if sc.get("privileged"):
            out.append(f"{where}: privileged")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"{where}: procMount {sc.get('procMount')}")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{where}: allowPrivilegeEscalation must be false")
        if not (sc.get("runAsNonRoot") is True or
                (psc.get("runAsNonRoot") is True and sc.get("runAsNonRoot") is not False)):
            out.append(f"{where}: runAsNonRoot must be true")
        seccomp = (sc.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in PROFILE_TYPES:
            out.append(f"{where}: seccompProfile must be RuntimeDefault or Localhost")
        caps = sc.get("capabilities", {}) or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"{where}: capabilities must drop ALL")
        extra = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if extra:
            out.append(f"{where}: capabilities added {sorted(extra)}")
        for port in c.get("ports", []) or []:
            if port.get("hostPort"):
                out.append(f"{where}: hostPort")
    return out


# What the plugin promises of every session pod besides the restricted fields (issue 4, with the
# plugin's defaults: these tests run it with them).
SESSION_POD_RESOURCES = {"cpu": "500m", "memory": "512Mi"}
WORKSPACE_PATH = "/app/workspace"


def session_pod_violations(pod):
    out = []
    spec = pod.get("spec", {}) or {}
    if spec.get("automountServiceAccountToken") is not False:
        out.append("automountServiceAccountToken must be false (sandboxed code gets no API token)")
    if spec.get("enableServiceLinks") is not False:
        out.append("enableServiceLinks must be false")
    if spec.get("restartPolicy") != "Never":
        out.append("restartPolicy must be Never")
    if spec.get("serviceAccountName") not in (None, "default"):
        out.append(f"serviceAccountName {spec.get('serviceAccountName')}: expected none")
    containers = spec.get("containers", []) or []
    if len(containers) != 1:
        out.append(f"{len(containers)} containers: expected one")
        return out
    c = containers[0]
    res = c.get("resources", {}) or {}
    for part in ("requests", "limits"):
        got = res.get(part, {}) or {}
        for key, want in SESSION_POD_RESOURCES.items():
            if got.get(key) != want:
                out.append(f"resources.{part}.{key} is {got.get(key)!r}, expected {want!r}")
    if (res.get("requests") or {}) != (res.get("limits") or {}):
        out.append("requests must equal limits (Guaranteed QoS)")
    volumes = {v.get("name"): v for v in spec.get("volumes", []) or []}
    mounts = [m for m in c.get("volumeMounts", []) or [] if m.get("mountPath") == WORKSPACE_PATH]
    if len(mounts) != 1:
        out.append(f"one volume must be mounted at {WORKSPACE_PATH}")
    else:
        vol = volumes.get(mounts[0].get("name"), {})
        if not ((vol.get("persistentVolumeClaim") or {}).get("claimName") or "emptyDir" in vol):
            out.append(f"the volume at {WORKSPACE_PATH} must be a claim or an emptyDir, got {vol}")
        if mounts[0].get("readOnly"):
            out.append(f"the volume at {WORKSPACE_PATH} must be writable")
    if c.get("workingDir") != WORKSPACE_PATH:
        out.append(f"workingDir must be {WORKSPACE_PATH}")
    return out


def pods_in(document):
    """The pods of a file: a Pod, a bare pod spec, or a fake API server request log (the bodies
    of the plugin's POSTs of pods)."""
    if isinstance(document, dict) and document.get("kind") == "Pod":
        return [document]
    if isinstance(document, dict) and "containers" in document:
        return [{"kind": "Pod", "metadata": {"name": "(a pod spec)"}, "spec": document}]
    return [e["body"] for e in plugin_requests(document)
            if e.get("method") == "POST" and isinstance(e.get("body"), dict) and
            e["body"].get("kind") == "Pod"]


def check_pod_file(path, checks):
    """--restricted / --session-pod: prints each violation; exit 1 when any (or no pod)."""
    with open(path, encoding="utf-8") as f:
        pods = pods_in(json.load(f))
    if not pods:
        print(f"FAIL: {path} holds no pod")
        return 1
    bad = 0
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name")
        violations = []
        if "restricted" in checks:
            violations += restricted_violations(pod.get("spec", {}) or {},
                                                (pod.get("metadata") or {}).get("annotations"))
        if "session" in checks:
            violations += session_pod_violations(pod)
        for v in violations:
            print(f"FAIL: pod {name}: {v}")
        if not violations:
            print(f"ok: pod {name}")
        bad += bool(violations)
    return 1 if bad else 0


def dockerfile_instructions(path):
    """(INSTRUCTION, argument text) pairs with continuations joined, comments dropped."""
    out, current = [], ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            stripped = line.strip()
            if stripped.startswith("#") or (not stripped and not current):
                continue
            if stripped.endswith("\\"):
                current += stripped[:-1] + " "
                continue
            current += stripped
            word, _, rest = current.partition(" ")
            out.append((word.upper(), rest.strip()))
            current = ""
    return out


def check_host_deployment(objs, config, repo):
    dep = objs.get(("Deployment", "podterm", "podterm-host"))
    if not dep:
        return
    spec = dep["spec"]
    pod_labels = spec["template"]["metadata"].get("labels", {})
    pod = spec["template"]["spec"]
    check(spec.get("replicas") == 2, "Deployment: replicas must be 2")
    check(spec.get("selector", {}).get("matchLabels", {}).items() <= pod_labels.items(),
          "Deployment: selector does not match the pod template's labels")
    check(pod.get("serviceAccountName") == "podterm-host",
          "Deployment: serviceAccountName must be podterm-host")
    check(pod.get("automountServiceAccountToken") is True,
          "Deployment: the host needs its token (credentials = \"in-cluster\")")
    for v in restricted_violations(pod, spec["template"]["metadata"].get("annotations")):
        check(False, f"Deployment violates the restricted profile: {v}")
    psc = pod.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 10001,
          "Deployment: pod securityContext runAsNonRoot true, runAsUser 10001")
    check(psc.get("seccompProfile") == {"type": "RuntimeDefault"},
          "Deployment: pod seccompProfile RuntimeDefault")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    containers = pod.get("containers", [])
    check(len(containers) == 1, "Deployment: one container expected")
    if not containers:
        return
    c = containers[0]
    sc = c.get("securityContext", {})
    check(sc.get("runAsNonRoot") is True and sc.get("runAsUser") == 10001,
          "host container: runAsNonRoot true, runAsUser 10001")
    check(sc.get("readOnlyRootFilesystem") is True, "host container: readOnlyRootFilesystem true")
    check(sc.get("allowPrivilegeEscalation") is False,
          "host container: allowPrivilegeEscalation false")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"] and
          not sc.get("capabilities", {}).get("add"), "host container: drop ALL, add nothing")
    check(sc.get("seccompProfile") == {"type": "RuntimeDefault"},
          "host container: seccompProfile RuntimeDefault")

    ports = {p.get("name"): p for p in c.get("ports", [])}
    listen_port = int(config["server"]["listen"].rsplit(":", 1)[1])
    check(ports.get("http", {}).get("containerPort") == listen_port,
          f"host container: port 'http' must be server.listen's port {listen_port}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c.get(probe, {}).get("httpGet", {})
        check(get.get("path") == path and get.get("port") in ("http", listen_port),
              f"host container: {probe} must GET {path} on the http port, got {get}")

    res = c.get("resources", {})
    for part in ("requests", "limits"):
        check({"cpu", "memory"} <= set(res.get(part, {})),
              f"host container: resources.{part} must set cpu and memory")

    # Shutdown: preStop first (the pod leaves the endpoints while it sleeps), then SIGTERM: the
    # host ends every session with its final sync (HostRuntime::stop allows 30 s).
    pre = c.get("lifecycle", {}).get("preStop", {})
    pre_seconds = 0
    if "exec" in pre:
        cmd = pre["exec"].get("command", [])
        if len(cmd) == 2 and cmd[0] in ("/bin/sleep", "/usr/bin/sleep", "sleep"):
            pre_seconds = int(cmd[1])
    elif "sleep" in pre:
        pre_seconds = int(pre["sleep"].get("seconds", 0))
    check(pre_seconds >= 5, f"host container: preStop must wait a few seconds, got {pre}")
    check(grace >= 60 and grace >= pre_seconds + 30 + 10,
          f"terminationGracePeriodSeconds {grace}: must cover preStop ({pre_seconds} s) + the "
          f"final syncs (30 s) + margin")

    # Volumes: the config at the path the image's ENTRYPOINT reads, the password at the path the
    # TOML names, a writable /tmp on the read-only root.
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    entry = [args for word, args in dockerfile_instructions(
        os.path.join(repo, "deploy/docker/host.Dockerfile")) if word == "ENTRYPOINT"]
    config_path = None
    if check(len(entry) == 1, "host.Dockerfile: one ENTRYPOINT expected"):
        argv = json.loads(entry[-1])
        check(argv == ["/usr/local/bin/podterm", "--config", "/etc/podterm/podterm.toml"],
              f"host.Dockerfile: ENTRYPOINT {argv}")
        config_path = argv[-1]
    check(not c.get("command") and not c.get("args"),
          "host container: leave command/args to the image's ENTRYPOINT")
    if config_path:
        mount = mounts.get(os.path.dirname(config_path))
        vol = volumes.get(mount["name"]) if mount else None
        cm = (vol or {}).get("configMap", {})
        items = {i["path"]: i["key"] for i in cm.get("items", [])}
        check(cm.get("name", "").startswith("podterm-config-") and
              items.get(os.path.basename(config_path)) == "podterm.toml",
              f"the ConfigMap's podterm.toml must be mounted at {config_path}")
        check(bool(mount and mount.get("readOnly")), "the config mount must be read-only")
        cms = [o for k, o in objs.items() if k[0] == "ConfigMap"]
        if cms:
            check(cm.get("name") == cms[0]["metadata"]["name"],
                  "the Deployment must reference the generated ConfigMap (with its hash)")
    password_file = config.get("storage", {}).get("postgres", {}).get("password_file", "")
    mount = mounts.get(os.path.dirname(password_file))
    vol = volumes.get(mount["name"]) if mount else None
    secret = (vol or {}).get("secret", {})
    items = {i["path"]: i["key"] for i in secret.get("items", [])}
    check(secret.get("secretName") == "podterm-db" and
          os.path.basename(password_file) in items,
          f"the Secret podterm-db must be mounted so that {password_file} exists")
    check(secret.get("defaultMode", 0o644) & 0o007 == 0, "the password file must not be world-readable")
    key_file = config.get("auth", {}).get("jwt", {}).get("public_key_file", "")
    check(config.get("auth", {}).get("plugin") == "jwt" and bool(key_file),
          "production auth must be the jwt plugin with a public key file")
    mount = mounts.get(os.path.dirname(key_file))
    vol = volumes.get(mount["name"]) if mount else None
    secret = (vol or {}).get("secret", {})
    items = {i["path"]: i["key"] for i in secret.get("items", [])}
    check(secret.get("secretName") == "podterm-jwt" and os.path.basename(key_file) in items,
          f"the Secret podterm-jwt must be mounted so that {key_file} exists")
    tmp = mounts.get("/tmp")
    check(bool(tmp) and "emptyDir" in volumes.get(tmp["name"], {}),
          "a writable emptyDir at /tmp (the root filesystem is read-only)")

    # The image: runs as the uid the manifests expect, plugins where the TOML looks.
    instructions = dockerfile_instructions(os.path.join(repo, "deploy/docker/host.Dockerfile"))
    users = [a for w, a in instructions if w == "USER"]
    check(users and users[-1].split(":")[0] == "10001", "host.Dockerfile: USER 10001 expected")
    plugin_dirs = config.get("plugins", {}).get("path", [])
    copies = [a for w, a in instructions if w == "COPY" and "plugins" in a]
    check(any(p.rstrip("/") + "/" in a.split()[-1] + "/" or a.split()[-1].rstrip("/") ==
              p.rstrip("/") for p in plugin_dirs for a in copies),
          f"host.Dockerfile must copy the plugins to plugins.path {plugin_dirs}")
    froms = [a.split()[0] for w, a in instructions if w == "FROM"]
    check(froms[:1] == ["debian:12"] and froms[-1:] == ["debian:12-slim"],
          f"host.Dockerfile: multi-stage debian:12 -> debian:12-slim, got {froms}")
    check(any("install-deps.sh" in a for w, a in instructions if w == "RUN"),
          "host.Dockerfile: the build stage installs deps through deploy/install-deps.sh")
    check(any("--preset release" in a for w, a in instructions if w == "RUN"),
          "host.Dockerfile: builds the release preset")


def check_exec_dockerfile(repo, config):
    instructions = dockerfile_instructions(os.path.join(repo, "deploy/docker/exec.Dockerfile"))
    froms = [a for w, a in instructions if w == "FROM"]
    check(froms == ["debian:12-slim"], f"exec.Dockerfile: FROM debian:12-slim, got {froms}")
    runs = " ".join(a for w, a in instructions if w == "RUN")
    for pkg in ("bash", "coreutils", "findutils", "tar", "python3", "python3-pip", "nodejs", "npm",
                "git", "curl", "wget", "ca-certificates"):
        check(re.search(r"(^|\s)" + re.escape(pkg) + r"(\s|$)", runs),
              f"exec.Dockerfile: installs {pkg}")
    check("--uid 1000" in runs and "--create-home" in runs,
          "exec.Dockerfile: a user with uid 1000 and a home directory")
    check("/app/workspace" in runs and "chown 1000:1000 /app/workspace" in runs,
          "exec.Dockerfile: /app/workspace owned by uid 1000")
    users = [a for w, a in instructions if w == "USER"]
    check(users and users[-1].split(":")[0] == "1000", "exec.Dockerfile: USER 1000")
    workdirs = [a for w, a in instructions if w == "WORKDIR"]
    check(workdirs[-1:] == ["/app/workspace"], "exec.Dockerfile: WORKDIR /app/workspace")
    envs = " ".join(a for w, a in instructions if w == "ENV")
    check(re.search(r"\bHOME=/home/podterm\b", envs), "exec.Dockerfile: HOME=/home/user")


def check_service_ingress_pdb(objs):
    dep = objs.get(("Deployment", "podterm", "podterm-host"))
    pod_labels = dep["spec"]["template"]["metadata"]["labels"] if dep else {}
    svc = objs.get(("Service", "podterm", "podterm-host"))
    if svc:
        check(svc["spec"].get("selector", {}).items() <= pod_labels.items() and
              svc["spec"].get("selector"), "Service: selector must select the host's pods")
        check(any(p.get("targetPort") == "http" and p.get("name") == "http"
                  for p in svc["spec"].get("ports", [])),
              "Service: port 'http' targeting the container port 'http'")
    ing = objs.get(("Ingress", "podterm", "podterm"))
    if ing:
        ann = ing["metadata"].get("annotations", {})
        for key in ("proxy-read-timeout", "proxy-send-timeout"):
            check(ann.get("nginx.ingress.kubernetes.io/" + key) == "3600",
                  f"Ingress: nginx.ingress.kubernetes.io/{key} must be \"3600\" (WebSockets)")
        check(ann.get("nginx.ingress.kubernetes.io/proxy-buffering") == "off",
              "Ingress: proxy-buffering off (Server-Sent Events)")
        tls = ing["spec"].get("tls", [])
        hosts = [r.get("host") for r in ing["spec"].get("rules", [])]
        check(tls and tls[0].get("secretName") and set(hosts) <= set(tls[0].get("hosts", [])),
              "Ingress: TLS with a secret for every rule's host")
        backends = [p["backend"]["service"] for r in ing["spec"].get("rules", [])
                    for p in r.get("http", {}).get("paths", [])]
        check(backends == [{"name": "podterm-host", "port": {"name": "http"}}],
              f"Ingress: one path to Service podterm-host port http, got {backends}")
    pdb = objs.get(("PodDisruptionBudget", "podterm", "podterm-host"))
    if pdb:
        check(pdb["spec"].get("minAvailable") == 1, "PodDisruptionBudget: minAvailable 1")
        sel = pdb["spec"].get("selector", {}).get("matchLabels", {})
        check(sel and sel.items() <= pod_labels.items(),
              "PodDisruptionBudget: selector must select the host's pods")


# ---------------------------------------------------------------- network policies
def selector_matches(selector, labels):
    """A LabelSelector (matchLabels and matchExpressions) against a label map."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class Endpoint:
    """A pod (namespace, labels, ip) or an address outside the cluster (ip only)."""

    def __init__(self, ip, namespace=None, labels=None):
        self.ip = ipaddress.ip_address(ip)
        self.namespace = namespace
        self.labels = labels or {}

    def __repr__(self):
        return f"{self.namespace}/{self.labels or ''} {self.ip}" if self.namespace else str(self.ip)


def peer_matches(peer, other, policy_ns):
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        net = ipaddress.ip_network(block["cidr"])
        if other.ip.version != net.version or other.ip not in net:
            return False
        return not any(other.ip.version == ipaddress.ip_network(e).version and
                       other.ip in ipaddress.ip_network(e) for e in block.get("except", []))
    if other.namespace is None:
        return False  # selectors match pods only
    ns_sel = peer.get("namespaceSelector")
    if ns_sel is not None:
        if not selector_matches(ns_sel, {"kubernetes.io/metadata.name": other.namespace}):
            return False
    elif other.namespace != policy_ns:
        return False
    pod_sel = peer.get("podSelector")
    return pod_sel is None or selector_matches(pod_sel, other.labels)


def port_matches(ports, port, protocol):
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        if "port" not in p:
            return True
        lo = p["port"]
        hi = p.get("endPort", lo)
        if isinstance(lo, int) and lo <= port <= hi:
            return True
    return False


def allowed(policies, pod, other, port, protocol, direction):
    """Whether NetworkPolicies allow `direction` ("Egress": pod -> other, "Ingress": other ->
    pod) traffic on port/protocol, per the API's semantics (isolated when any policy of that
    type selects the pod; then allowed when any such policy's rule allows it)."""
    selecting = [p for p in policies
                 if p["metadata"]["namespace"] == pod.namespace and
                 selector_matches(p["spec"].get("podSelector", {}), pod.labels) and
                 direction in p["spec"].get("policyTypes",
                                            ["Ingress"] + (["Egress"] if "egress" in p["spec"]
                                                           else []))]
    if not selecting:
        return True
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    for p in selecting:
        for rule in p["spec"].get(key, []) or []:
            peers = rule.get(peers_key)
            if not port_matches(rule.get("ports"), port, protocol):
                continue
            if not peers or any(peer_matches(peer, other, p["metadata"]["namespace"])
                                for peer in peers):
                return True
    return False


def check_network_policies(objs, config):
    policies = [o for k, o in objs.items() if k[0] == "NetworkPolicy"]
    exec_ns = config["runtime"]["kubernetes"]["namespace"]
    exec_pod = Endpoint("10.244.1.10", exec_ns, dict([PLUGIN_LABEL]))
    stray_pod = Endpoint("10.244.1.11", exec_ns, {"run": "debug"})
    other_exec = Endpoint("10.244.2.12", exec_ns, dict([PLUGIN_LABEL]))
    host_pod = Endpoint("10.244.3.20", "podterm",
                        {"app.kubernetes.io/name": "podterm",
                         "app.kubernetes.io/component": "host"})
    kube_dns = Endpoint("10.244.0.5", "kube-system", {"k8s-app": "kube-dns"})
    ingress_ctl = Endpoint("10.244.0.7", "ingress-nginx",
                           {"app.kubernetes.io/name": "ingress-nginx"})
    db_pod = Endpoint("10.244.4.30", "podterm", {"app": "postgres"})

    def expect(pod, other, port, protocol, direction, want, why):
        got = allowed(policies, pod, other, port, protocol, direction)
        arrow = "->" if direction == "Egress" else "<-"
        check(got == want, f"NetworkPolicy: {pod} {arrow} {other}:{port}/{protocol} is "
                           f"{'allowed' if got else 'denied'}; must be "
                           f"{'allowed' if want else 'denied'} ({why})")

    # Exec pods: DNS and the internet only.
    expect(exec_pod, kube_dns, 53, "UDP", "Egress", True, "DNS")
    expect(exec_pod, kube_dns, 53, "TCP", "Egress", True, "DNS over TCP")
    expect(exec_pod, kube_dns, 9153, "TCP", "Egress", False, "kube-dns metrics")
    for ip, port in (("151.101.0.223", 443), ("140.82.112.3", 22), ("1.1.1.1", 80),
                     ("104.16.0.35", 443), ("2606:4700:4700::1111", 443)):
        expect(exec_pod, Endpoint(ip), port, "TCP", "Egress", True, "the internet: pip, npm, git")
    for ip, port, why in (("10.0.0.1", 443, "10.0.0.0/8"), ("10.96.0.1", 443, "API Service"),
                          ("10.255.255.254", 5432, "10.0.0.0/8"),
                          ("172.16.0.1", 443, "172.16.0.0/12"),
                          ("172.31.255.254", 80, "172.16.0.0/12"),
                          ("192.168.0.1", 80, "192.168.0.0/16"),
                          ("192.168.255.254", 22, "192.168.0.0/16"),
                          ("169.254.169.254", 80, "cloud metadata"),
                          ("169.254.170.2", 80, "ECS task metadata"),
                          ("100.100.100.200", 80, "Alibaba metadata (CGNAT range)"),
                          ("127.0.0.1", 8002, "loopback"),
                          ("fd00:ec2::254", 80, "AWS IPv6 metadata"),
                          ("fe80::1", 80, "IPv6 link-local")):
        expect(exec_pod, Endpoint(ip), port, "TCP", "Egress", False, why)
        expect(exec_pod, Endpoint(ip), port, "UDP", "Egress", False, why)
    for target in (host_pod, db_pod, other_exec, ingress_ctl):
        expect(exec_pod, target, 8002, "TCP", "Egress", False, "no cluster pods")
        expect(exec_pod, target, 5432, "TCP", "Egress", False, "no cluster pods")
    for source in (host_pod, other_exec, ingress_ctl, Endpoint("8.8.8.8")):
        expect(exec_pod, source, 8080, "TCP", "Ingress", False, "nothing connects to exec pods")
    # Anything else in the sessions' namespace: nothing at all.
    expect(stray_pod, kube_dns, 53, "UDP", "Egress", False, "default deny in the namespace")
    expect(stray_pod, Endpoint("1.1.1.1"), 443, "TCP", "Egress", False, "default deny")
    expect(stray_pod, host_pod, 80, "TCP", "Ingress", False, "default deny")

    # The host: in from the ingress controller only; out to DNS, the API server, PostgreSQL.
    expect(host_pod, ingress_ctl, 8002, "TCP", "Ingress", True, "the ingress controller")
    expect(host_pod, ingress_ctl, 22, "TCP", "Ingress", False, "only the http port")
    for source in (exec_pod, db_pod, Endpoint("8.8.8.8"), Endpoint("10.0.0.9")):
        expect(host_pod, source, 8002, "TCP", "Ingress", False, "only the ingress controller")
    expect(host_pod, kube_dns, 53, "UDP", "Egress", True, "DNS")
    expect(host_pod, Endpoint("10.96.0.1"), 443, "TCP", "Egress", True, "the API Service")
    expect(host_pod, Endpoint("172.20.0.2"), 6443, "TCP", "Egress", True, "the API server")
    expect(host_pod, db_pod, 5432, "TCP", "Egress", True, "PostgreSQL in the cluster")
    expect(host_pod, Endpoint("10.20.0.4"), 5432, "TCP", "Egress", True, "a managed PostgreSQL")
    expect(host_pod, Endpoint("169.254.169.254"), 80, "TCP", "Egress", False, "cloud metadata")
    expect(host_pod, Endpoint("169.254.169.254"), 443, "TCP", "Egress", False, "cloud metadata")
    expect(host_pod, Endpoint("1.1.1.1"), 80, "TCP", "Egress", False, "no general internet")
    expect(host_pod, exec_pod, 22, "TCP", "Egress", False, "exec goes through the API server")


# ---------------------------------------------------------------- config
def check_configmap(objs, repo):
    cms = [o for k, o in objs.items() if k[0] == "ConfigMap"]
    if not cms:
        return
    with open(os.path.join(repo, "config/production.toml"), encoding="utf-8") as f:
        production = f.read()
    with open(os.path.join(repo, "deploy/kubernetes/podterm.toml"), encoding="utf-8") as f:
        copy = f.read()
    check(copy == production, "deploy/kubernetes/podterm.toml differs from config/production.toml "
                              "(kustomize reads only files below the base; copy it again)")
    data = cms[0].get("data", {})
    check(list(data) == ["podterm.toml"], f"ConfigMap keys {list(data)}: expected podterm.toml")
    check(data.get("podterm.toml") == production,
          "the ConfigMap's podterm.toml differs from config/production.toml")


def check_config_matches(objs, config):
    kube = config.get("runtime", {}).get("kubernetes", {})
    exec_ns = kube.get("namespace")
    check(config.get("runtime", {}).get("plugin") == "kubernetes", "runtime.plugin = kubernetes")
    check(kube.get("credentials") == "in-cluster", "runtime.kubernetes.credentials = in-cluster")
    check(("Role", exec_ns, "podterm-runtime") in objs,
          f"the Role must be in runtime.kubernetes.namespace ({exec_ns})")
    check(("NetworkPolicy", exec_ns, "exec-pods-egress") in objs,
          f"the exec NetworkPolicy must be in runtime.kubernetes.namespace ({exec_ns})")
    check(("Namespace", None, exec_ns) in objs, f"the base must create namespace {exec_ns}")
    check(kube.get("restricted", True) is True and kube.get("run_as_user") == 1000,
          "runtime.kubernetes: restricted = true, run_as_user = 1000 (the exec image's uid; the "
          "exec namespace enforces the restricted profile)")
    check(objs.get(("Namespace", None, exec_ns), {}).get("metadata", {}).get("labels", {})
          .get("pod-security.kubernetes.io/enforce") == "restricted",
          f"namespace {exec_ns} must enforce the restricted profile")
    conn = config.get("storage", {}).get("postgres", {}).get("connection", "")
    check("password" not in conn, "storage.postgres.connection must not carry the password")


def self_test():
    """The checks above fail where they must: each mutation of a compliant pod is a violation,
    and the RBAC rules of authorized_grants are the API server's (no kubectl needed)."""
    import copy
    good = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "c", "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
        "volumes": [{"name": "w", "persistentVolumeClaim": {"claimName": "x"}},
                    {"name": "e", "emptyDir": {}}],
    }
    check(restricted_violations(good) == [], f"a compliant pod: {restricted_violations(good)}")

    def c0(p):
        return p["containers"][0]["securityContext"]

    mutations = {
        "hostNetwork": lambda p: p.update(hostNetwork=True),
        "hostPID": lambda p: p.update(hostPID=True),
        "hostIPC": lambda p: p.update(hostIPC=True),
        "hostPath volume": lambda p: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
        "nfs volume": lambda p: p["volumes"].append({"name": "n", "nfs": {"server": "s"}}),
        "unsafe sysctl": lambda p: p["securityContext"].update(
            sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
        "pod runAsNonRoot unset": lambda p: p["securityContext"].pop("runAsNonRoot"),
        "container runAsNonRoot false": lambda p: c0(p).update(runAsNonRoot=False),
        "pod runAsUser 0": lambda p: p["securityContext"].update(runAsUser=0),
        "container runAsUser 0": lambda p: c0(p).update(runAsUser=0),
        "seccomp unset": lambda p: p["securityContext"].pop("seccompProfile"),
        "pod seccomp Unconfined": lambda p: p["securityContext"].update(
            seccompProfile={"type": "Unconfined"}),
        "container seccomp Unconfined": lambda p: c0(p).update(
            seccompProfile={"type": "Unconfined"}),
        "allowPrivilegeEscalation unset": lambda p: c0(p).pop("allowPrivilegeEscalation"),
        "allowPrivilegeEscalation true": lambda p: c0(p).update(allowPrivilegeEscalation=True),
        "privileged": lambda p: c0(p).update(privileged=True),
        "capabilities not dropped": lambda p: c0(p).pop("capabilities"),
        "capability added": lambda p: c0(p)["capabilities"].update(add=["SYS_ADMIN"]),
        "procMount Unmasked": lambda p: c0(p).update(procMount="Unmasked"),
        "hostProcess": lambda p: c0(p).update(windowsOptions={"hostProcess": True}),
        "SELinux type": lambda p: c0(p).update(seLinuxOptions={"type": "spc_t"}),
        "SELinux user": lambda p: p["securityContext"].update(seLinuxOptions={"user": "root"}),
        "AppArmor Unconfined": lambda p: c0(p).update(appArmorProfile={"type": "Unconfined"}),
        "hostPort": lambda p: p["containers"][0].update(ports=[{"containerPort": 80,
                                                                "hostPort": 80}]),
        "init container": lambda p: p.update(initContainers=[{"name": "i"}]),
        "ephemeral container": lambda p: p.update(ephemeralContainers=[{"name": "d"}]),
    }
    for what, mutate in mutations.items():
        bad = copy.deepcopy(good)
        mutate(bad)
        check(restricted_violations(bad), f"restricted_violations misses: {what}")
    check(restricted_violations(good, {"container.apparmor.security.beta.kubernetes.io/c":
                                       "unconfined"}),
          "restricted_violations misses: an AppArmor annotation 'unconfined'")
    check(not restricted_violations(good, {"container.apparmor.security.beta.kubernetes.io/c":
                                           "runtime/default"}),
          "restricted_violations refuses AppArmor runtime/default")
    # NET_BIND_SERVICE may be added back; the pod-level runAsNonRoot covers containers.
    ok = copy.deepcopy(good)
    c0(ok)["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    check(not restricted_violations(ok), "restricted_violations refuses NET_BIND_SERVICE")

    session = {"kind": "Pod", "spec": {
        "automountServiceAccountToken": False, "enableServiceLinks": False,
        "restartPolicy": "Never",
        "containers": [{"name": "runtime", "workingDir": WORKSPACE_PATH,
                        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"},
                                      "limits": {"cpu": "500m", "memory": "512Mi"}},
                        "volumeMounts": [{"name": "w", "mountPath": WORKSPACE_PATH}]}],
        "volumes": [{"name": "w", "persistentVolumeClaim": {"claimName": "ws"}}]}}
    check(session_pod_violations(session) == [],
          f"a good session pod: {session_pod_violations(session)}")
    session_mutations = {
        "token mounted": lambda s: s.pop("automountServiceAccountToken"),
        "service links": lambda s: s.update(enableServiceLinks=True),
        "restartPolicy Always": lambda s: s.update(restartPolicy="Always"),
        "cpu limit": lambda s: s["containers"][0]["resources"]["limits"].update(cpu="1"),
        "memory request": lambda s: s["containers"][0]["resources"]["requests"].pop("memory"),
        "no workspace mount": lambda s: s["containers"][0]["volumeMounts"][0].update(
            mountPath="/data"),
        "hostPath workspace": lambda s: s["volumes"][0].update(
            persistentVolumeClaim=None, hostPath={"path": "/"}),
        "read-only workspace": lambda s: s["containers"][0]["volumeMounts"][0].update(
            readOnly=True),
    }
    for what, mutate in session_mutations.items():
        bad = copy.deepcopy(session)
        mutate(bad["spec"])
        check(session_pod_violations(bad), f"session_pod_violations misses: {what}")

    def grants(method, path, query=None, upgrade=None):
        return authorized_grants({"method": method, "path": path, "params": query or {},
                                  "headers": {"upgrade": upgrade} if upgrade else {}})
    ns = "/api/v1/namespaces/x"
    cases = [
        (grants("GET", ns + "/pods/p"), {("", "pods", "get")}),
        (grants("GET", ns + "/pods", {"labelSelector": ["a=b"]}), {("", "pods", "list")}),
        (grants("GET", ns + "/pods", {"watch": ["true"]}), {("", "pods", "watch")}),
        (grants("GET", ns + "/pods", {"watch": ["1"]}), {("", "pods", "watch")}),
        (grants("GET", ns + "/pods", {"watch": ["false"]}), {("", "pods", "list")}),
        (grants("GET", "/api/v1/watch/namespaces/x/pods"), {("", "pods", "watch")}),
        (grants("POST", ns + "/pods"), {("", "pods", "create")}),
        (grants("PATCH", ns + "/pods/p"), {("", "pods", "patch")}),
        (grants("PUT", ns + "/pods/p/status"), {("", "pods/status", "update")}),
        (grants("DELETE", ns + "/pods/p"), {("", "pods", "delete")}),
        (grants("DELETE", ns + "/pods"), {("", "pods", "deletecollection")}),
        (grants("POST", ns + "/pods/p/exec"), {("", "pods/exec", "create")}),
        (grants("GET", ns + "/pods/p/exec", upgrade="websocket"),
         {("", "pods/exec", "get"), ("", "pods/exec", "create")}),
        (grants("GET", ns + "/pods/p/log"), {("", "pods/log", "get")}),
        (grants("GET", "/apis/apps/v1/namespaces/x/deployments"), {("apps", "deployments",
                                                                    "list")}),
    ]
    for got, want in cases:
        check(got == want, f"authorized_grants: {got}, expected {want}")
    check(isinstance(grants("GET", "/api/v1/pods"), str), "a cluster-wide list is no Role's")
    check(isinstance(grants("GET", "/version"), str), "/version is a non-resource URL")

    # check_role_against_requests on a Role of our own: each way of being wrong is reported.
    agent = {"user-agent": PLUGIN_USER_AGENT + "test"}
    pod_body = {"kind": "Pod", "metadata": {"name": "p", "labels": dict([PLUGIN_LABEL])}}
    log = {"requests": [
        {"method": "POST", "path": ns + "/pods", "headers": agent, "verb": "create",
         "namespace": "x", "body": pod_body},
        {"method": "GET", "path": ns + "/pods/p/exec", "headers": dict(agent, upgrade="websocket"),
         "verb": "get", "namespace": "x"},
        {"method": "DELETE", "path": ns + "/pods/p", "headers": {"user-agent": "curl"},
         "verb": "delete", "namespace": "x"},  # not the plugin's: needs no grant
    ]}
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]},
             {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get", "create"]},
             {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["get"]}]
    policy = {"spec": {"podSelector": {"matchLabels": dict([PLUGIN_LABEL])}}}

    def role_failures(rules, log, policy=policy):
        objs = {("Role", "podterm-exec", "podterm-runtime"): {"rules": rules},
                ("NetworkPolicy", "podterm-exec", "exec-pods-egress"): policy}
        before = len(failures)
        check_role_against_requests(objs, log, report=False)
        found = failures[before:]
        del failures[before:]
        return found

    check(role_failures(rules, log) == [], f"a matching Role: {role_failures(rules, log)}")
    for what, bad_rules in (
            ("a missing verb", [rules[0], dict(rules[1], verbs=["get"]), rules[2]]),
            ("an unused verb", [dict(rules[0], verbs=["create", "list"])] + rules[1:]),
            ("an unused resource", rules + [{"apiGroups": [""], "resources": ["secrets"],
                                             "verbs": ["get"]}]),
            ("a stale justification", rules[:2])):
        check(role_failures(bad_rules, log), f"check_role_against_requests misses {what}")
    check(role_failures(rules, {"requests": log["requests"][2:]}),
          "check_role_against_requests passes a log without the plugin's requests")
    check(role_failures(rules, log, {"spec": {"podSelector": {"matchLabels": {"a": "b"}}}}),
          "check_role_against_requests misses pods the exec NetworkPolicy does not select")

    for f in failures:
        print("FAIL:", f)
    print(f"self-test: {passed} checks passed, {len(failures)} failed")
    return 1 if failures else 0


def render(repo):
    """The Kustomize base's objects, or an exit status (SKIP when no kubectl)."""
    try:
        import yaml
    except ImportError:
        print("check_manifests: python3-yaml is missing: run deploy/install-deps.sh as root "
              "(it lists python3-yaml)", file=sys.stderr)
        return 1
    kubectl = find_kubectl()
    if not kubectl:
        print("SKIPPED: no kubectl (looked for /usr/lib/google-cloud-sdk/bin/kubectl.* and "
              "kubectl on PATH); cannot render deploy/kubernetes")
        return SKIP
    base = os.path.join(repo, "deploy/kubernetes")
    result = subprocess.run([kubectl, "kustomize", base], capture_output=True, text=True,
                            timeout=90)
    if result.returncode != 0:
        print(f"{kubectl} kustomize {base} failed:\n{result.stderr}", file=sys.stderr)
        return 1
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    print(f"rendered {len(objects)} objects with {kubectl}")
    return objects


def main():
    args = sys.argv[1:]
    if args == ["--self-test"]:
        return self_test()
    if len(args) == 2 and args[0] in ("--restricted", "--session-pod"):
        return check_pod_file(args[1], {"restricted"} if args[0] == "--restricted"
                              else {"session"})
    if len(args) == 3 and args[0] == "--plugin-requests":
        with open(args[1], encoding="utf-8") as f:
            log = json.load(f)
        objects = render(os.path.abspath(args[2]))
        if isinstance(objects, int):
            return objects
        objs = {object_key(o): o for o in objects}
        check_rbac(objs)
        check_role_against_requests(objs, log)
        for f in failures:
            print("FAIL:", f)
        print(f"{passed} checks passed, {len(failures)} failed")
        return 1 if failures else 0
    if len(args) != 1 or args[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    repo = os.path.abspath(args[0])
    objects = render(repo)
    if isinstance(objects, int):
        return objects
    with open(os.path.join(repo, "config/production.toml"), "rb") as f:
        config = tomllib.load(f)

    objs = check_objects(objects)
    check_namespaces(objs)
    check_rbac(objs)
    check_host_deployment(objs, config, repo)
    check_service_ingress_pdb(objs)
    check_network_policies(objs, config)
    check_configmap(objs, repo)
    check_config_matches(objs, config)
    check_exec_dockerfile(repo, config)

    for f in failures:
        print("FAIL:", f)
    print(f"{passed} checks passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
