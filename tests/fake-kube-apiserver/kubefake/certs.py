"""A throwaway CA, a server certificate for 127.0.0.1/localhost, a client certificate (CN=admin,
O=system:masters), and kubeconfig files that point at the fake. Made with the openssl CLI."""

import base64
import os
import subprocess


def _run(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def make_pki(d):
    p = {k: os.path.join(d, k) for k in ("ca.key", "ca.crt", "server.key", "server.csr",
                                          "server.crt", "client.key", "client.csr", "client.crt",
                                          "san.ext", "client.ext")}
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", p["ca.key"], "-out", p["ca.crt"], "-days", "2", "-subj", "/CN=fake-kube-ca",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(p["san.ext"], "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n")
    with open(p["client.ext"], "w") as f:
        f.write("extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n")
    for who, subj, ext in (("server", "/CN=kube-apiserver", "san.ext"),
                           ("client", "/O=system:masters/CN=admin", "client.ext")):
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", p[f"{who}.key"], "-out", p[f"{who}.csr"], "-subj", subj)
        _run("x509", "-req", "-in", p[f"{who}.csr"], "-CA", p["ca.crt"], "-CAkey", p["ca.key"],
             "-CAcreateserial", "-out", p[f"{who}.crt"], "-days", "2", "-extfile", p[ext])
    for k in ("ca.key", "server.key", "client.key"):
        os.chmod(p[k], 0o600)
    return p


def _b64(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfig(path, server, ca, namespace, token=None, cert=None, key=None):
    """JSON is valid YAML, so the kubeconfig is written as JSON (both kubectl and python read it)."""
    import json
    user = {"token": token} if token else {"client-certificate-data": _b64(cert),
                                            "client-key-data": _b64(key)}
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "fake",
           "clusters": [{"name": "fake", "cluster": {"server": server,
                                                      "certificate-authority-data": _b64(ca)}}],
           "users": [{"name": "fake-user", "user": user}],
           "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake-user",
                                                      "namespace": namespace}}],
           "preferences": {}}
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    os.chmod(path, 0o600)
    return path
