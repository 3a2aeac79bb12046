#!/usr/bin/python3
"""Static checks of deploy/kubernetes (the Kustomize base) and deploy/docker (the Dockerfiles).

Usage: check_manifests.py REPO_ROOT
       check_manifests.py --restricted POD.json   (a Pod, or its spec: the restricted Pod Security
                                                    Standard's fields only, e.g. for the pod the
                                                    runtime plugin generates)

Renders the base with the newest kubectl found (`kubectl kustomize`, offline) and checks: the
objects and their apiVersions; the Role grants exactly what the runtime plugin calls; the host's
Deployment (restricted Pod Security Standard fields, probes, shutdown, config and secret mounts);
Service, Ingress and PodDisruptionBudget; the NetworkPolicies, by evaluating them for sample
connections (exec pods reach DNS and the internet, never private, link-local/metadata or cluster
addresses, and nothing reaches them; the host is reached only by the ingress controller); the
ConfigMap carries config/production.toml byte for byte; and the paths, ports and uids the TOML,
the manifests and the Dockerfiles share agree.

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

# What the Kubernetes runtime plugin calls (issue 4; docs: kubernetes-protocol.md 3.4 and 4).
EXPECTED_GRANTS = {
    "pods": {"create", "get", "list", "watch", "delete", "patch"},
    "pods/exec": {"get", "create"},
    "pods/status": {"get"},
    "persistentvolumeclaims": {"create", "get", "list", "delete"},
}

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


def check_rbac(objs):
    role = objs.get(("Role", "podterm-exec", "podterm-runtime"))
    if role:
        grants = {}
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
                    grants.setdefault(res, set()).add(verb)
        check(grants == EXPECTED_GRANTS,
              f"Role podterm-runtime grants {sorted((r, sorted(v)) for r, v in grants.items())}, "
              f"expected exactly {sorted((r, sorted(v)) for r, v in EXPECTED_GRANTS.items())}")
    binding = objs.get(("RoleBinding", "podterm-exec", "podterm-runtime"))
    if binding:
        check(binding.get("roleRef") == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                         "name": "podterm-runtime"},
              f"RoleBinding roleRef {binding.get('roleRef')}")
        check(binding.get("subjects") == [{"kind": "ServiceAccount", "name": "podterm-host",
                                           "namespace": "podterm"}],
              f"RoleBinding subjects {binding.get('subjects')}: expected the host's ServiceAccount")


# ---------------------------------------------------------------- pod security
ALLOWED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                        "persistentVolumeClaim", "projected", "secret"}


def restricted_violations(pod_spec):
    """The restricted Pod Security Standard's checks (pod-security-admission check_*.go) that
    apply to a pod spec; returns human-readable violations."""
    out = []
    psc = pod_spec.get("securityContext", {}) or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(field):
            out.append(f"{field} is true")
    for vol in pod_spec.get("volumes", []) or []:
        types = set(vol) - {"name"}
        if not types <= ALLOWED_VOLUME_TYPES:
            out.append(f"volume {vol.get('name')}: type {sorted(types)} not allowed")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if psc.get("runAsUser") == 0:
        out.append("pod runAsUser is 0")
    containers = (pod_spec.get("containers", []) or []) + (pod_spec.get("initContainers", []) or [])
    for c in containers:
        name = c.get("name")
        sc = c.get("securityContext", {}) or {}
        if sc.get("privileged"):
            out.append(f"container {name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"container {name}: allowPrivilegeEscalation must be false")
        if not (sc.get("runAsNonRoot") is True or
                (psc.get("runAsNonRoot") is True and sc.get("runAsNonRoot") is not False)):
            out.append(f"container {name}: runAsNonRoot must be true")
        if sc.get("runAsUser") == 0:
            out.append(f"container {name}: runAsUser is 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"container {name}: seccompProfile must be RuntimeDefault or Localhost")
        caps = sc.get("capabilities", {}) or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"container {name}: capabilities must drop ALL")
        extra = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if extra:
            out.append(f"container {name}: capabilities added {sorted(extra)}")
        for port in c.get("ports", []) or []:
            if port.get("hostPort"):
                out.append(f"container {name}: hostPort")
    return out


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
    for v in restricted_violations(pod):
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


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--restricted":
        with open(sys.argv[2], encoding="utf-8") as f:
            pod = json.load(f)
        violations = restricted_violations(pod.get("spec", pod))
        for v in violations:
            print("FAIL:", v)
        return 1 if violations else 0
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    repo = os.path.abspath(sys.argv[1])
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
    render = subprocess.run([kubectl, "kustomize", base], capture_output=True, text=True,
                            timeout=90)
    if render.returncode != 0:
        print(f"{kubectl} kustomize {base} failed:\n{render.stderr}", file=sys.stderr)
        return 1
    objects = [o for o in yaml.safe_load_all(render.stdout) if o]
    print(f"rendered {len(objects)} objects with {kubectl}")
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
