#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

Seeds are small and real: RFC 6455 frames (the RFC's own examples, what the browser and the
Kubernetes exec stream send), the session ids of the tests, the control message app.js sends,
the repository's config files, exec statuses as the API server writes them, a `find` listing and
GNU tar streams made on this machine with the exact commands the sync runs in a pod. Re-run after
changing a target's input format: `python3 tests/fuzz/make_seeds.py` (needs GNU tar and find).
The output is committed; runs add what they find under build/fuzz/corpus/, never here.
"""

import json
import os
import shutil
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- WebSocket frames ---------------------------------------------------------------------------

def frame(opcode, payload, fin=True, key=None, rsv=0, force_len=None):
    if isinstance(payload, str):
        payload = payload.encode()
    out = bytearray([(0x80 if fin else 0) | rsv | opcode])
    mask = 0x80 if key else 0
    n = len(payload)
    form = force_len or (7 if n < 126 else 16 if n <= 0xFFFF else 64)
    if form == 7:
        out.append(mask | n)
    elif form == 16:
        out.append(mask | 126)
        out += struct.pack(">H", n)
    else:
        out.append(mask | 127)
        out += struct.pack(">Q", n)
    if key:
        out += key
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes(out + payload)


def frames(server_side):
    """(name, control byte, stream) for frame_server (masked) or frame_client (unmasked)."""
    key = bytes([0x37, 0xFA, 0x21, 0x3D]) if server_side else None
    k2 = bytes([0x00, 0x00, 0x00, 0x00]) if server_side else None
    resize = json.dumps({"type": "resize", "cols": 120, "rows": 40}, separators=(",", ":"))
    smile = "héllo ✓ 🙂".encode()
    seeds = [
        ("rfc-hello", 0x40, frame(0x1, "Hello", key=key)),
        ("rfc-fragmented", 0x40, frame(0x1, "Hel", fin=False, key=key) +
         frame(0x0, "lo", key=key)),
        ("rfc-ping-pong", 0x40, frame(0x9, "Hello", key=key) + frame(0xA, "Hello", key=key)),
        ("binary-256", 0x40, frame(0x2, bytes(range(256)), key=key)),
        ("keystrokes", 0x40, frame(0x1, "l", key=key) + frame(0x1, "s", key=key) +
         frame(0x1, "\r", key=k2)),
        ("resize", 0x40, frame(0x2, resize, key=key)),
        ("close-1000", 0x40, frame(0x8, struct.pack(">H", 1000) + b"bye", key=key)),
        ("close-empty", 0x40, frame(0x8, b"", key=key)),
        ("close-bad-code", 0x40, frame(0x8, struct.pack(">H", 1005), key=key)),
        ("utf8", 0x40, frame(0x1, smile, key=key)),
        # A character cut across two fragments, with a ping between them.
        ("utf8-split", 0x40, frame(0x1, smile[:7], fin=False, key=key) +
         frame(0x9, "", key=key) + frame(0x0, smile[7:], key=key)),
        ("utf8-invalid", 0x40, frame(0x1, b"\xed\xa0\x80", key=key)),
        ("utf8-unchecked", 0xC0, frame(0x1, b"\xc0\xaf", key=key)),
        ("len16-nonminimal", 0x50, frame(0x2, "x" * 20, key=key, force_len=16)),
        ("len64", 0x50, frame(0x2, "y" * 130, key=key, force_len=64)),
        ("too-big", 0x20, frame(0x2, "z" * 200, key=key)),
        ("len-top-bit", 0x50, bytes([0x82, (0x80 if key else 0) | 127]) + b"\x80" + b"\0" * 7 +
         (key or b"")),
        ("rsv-set", 0x40, frame(0x1, "a", key=key, rsv=0x40)),
        ("wrong-mask", 0x40, frame(0x1, "a", key=None if key else bytes(4))),
        ("control-fragmented", 0x40, frame(0x9, "a", fin=False, key=key)),
        ("continuation-first", 0x40, frame(0x0, "a", key=key)),
        ("partial-header", 0x45, frame(0x2, "w" * 300, key=key)[:3]),
    ]
    if not server_side:
        # What runtime-kubernetes reads: the exec stream's channel frames.
        seeds += [
            ("exec-stream", 0x50, frame(0x2, b"\x01") + frame(0x2, b"\x02") +
             frame(0x2, b"\x01hello\r\n") + frame(0x2, b"\x03" + json.dumps(
                 {"metadata": {}, "status": "Success"}).encode()) +
             frame(0x8, struct.pack(">H", 1000))),
        ]
    return seeds


def websocket():
    for target, server_side in (("frame_server", True), ("frame_client", False)):
        for name, control, stream in frames(server_side):
            write(target, name, bytes([control]) + stream)
    # frame_roundtrip reads its input through FuzzedDataProvider: any bytes describe a
    # conversation; the parser seeds give it varied starting points.
    for name, control, stream in frames(True)[:8]:
        write("frame_roundtrip", name, bytes([control]) + stream)


# --- session ids, control messages --------------------------------------------------------------

def session_ids():
    seeds = {
        "test-id": "user_1_ws_abc123_1234567890_uuid",
        "browser-id": "user_al-ice_ws_Proj-1_1700000000_0b7e9c1e-5d2f-4c8a-9d41-3f2a1b0c9e8d",
        "long-fields": "user_" + "u" * 64 + "_ws_" + "w" * 64 + "_" + "s" * 128,
        "too-long": "user_" + "u" * 65 + "_ws_w_s",
        "dot-dot": "user_1/../x_ws_a_b",
        "percent": "user_1_ws_a_%2e%2e",
        "upper-ws": "user_1_WS_a_b",
        "unicode": "user_\u00e9_ws_a_b",
        "newline": "user_1_ws_a_b\n",
        "empty-suffix": "user_1_ws_a_",
    }
    for name, text in seeds.items():
        write("session_id", name, text)


def control_messages():
    seeds = {
        "resize": '{"type":"resize","cols":120,"rows":40}',
        "resize-spaced": '{ "rows": 24, "cols": 80, "type": "resize" }',
        "resize-zero": '{"type":"resize","cols":0,"rows":40}',
        "resize-huge": '{"type":"resize","cols":1e12,"rows":40}',
        "resize-strings": '{"type":"resize","cols":"80","rows":"24"}',
        "other-type": '{"type":"hello","cols":80}',
        "no-type": '{"cols":80,"rows":24}',
        "array": '[{"type":"resize","cols":80,"rows":24}]',
        "nested": '{"type":"resize","cols":{"a":[1,2,{"b":null}]},"rows":true}',
        "escapes": '{"type":"re\\u0073ize","cols":80,"rows":24}',
        "truncated": '{"type":"resize","cols":80,',
    }
    for name, text in seeds.items():
        write("control_message", name, text)


# --- config -------------------------------------------------------------------------------------

def configs():
    for name in ("local.toml", "production.toml", "test.toml"):
        shutil.copyfile(os.path.join(ROOT, "config", name),
                        os.path.join(CORPUS, "host_config", name))
    write("host_config", "minimal.toml", '[runtime]\nplugin = "fakepod"\n[auth]\nplugin = "none"\n')
    write("host_config", "limits.toml",
          '[server]\nlisten = "[::1]:0"\nallowed_origins = ["https://app.example.com"]\n'
          '[limits]\nping_interval_s = 30\nsocket_idle_timeout_s = 90\n'
          'input_bytes_per_s = 1048576\n[workspace]\nexcludes = ["node_modules", ".git"]\n'
          '[runtime]\nplugin = "fakepod"\n[runtime.fakepod]\nwarm_pool = 2\n'
          'limits = { cpu = "500m", memory = 1.5 }\n[auth]\nplugin = "jwt"\n'
          '[auth.jwt]\nalgorithms = ["RS256"]\nleeway_s = 30\n[log]\nlevel = "debug"\n')
    # A quoted key with a dot: unknownKeyErrors dereferenced a null node before ff45c64.
    write("host_config", "quoted-dotted-key", '[server]\n"https://app.example.com" = "x"\n')


# --- exec channel -------------------------------------------------------------------------------

def exec_channel():
    def status(code, argv):
        if code == 0:
            return {"metadata": {}, "status": "Success"}
        return {"metadata": {}, "status": "Failure",
                "message": "command terminated with non-zero exit code: error executing command "
                           f"[{' '.join(argv)}], exit code {code}",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
    not_found = {"metadata": {}, "status": "Failure",
                 "message": "Internal error occurred: error executing command in container: "
                            "exec: \"nosuch\": executable file not found in $PATH: unknown",
                 "reason": "InternalError",
                 "details": {"causes": [{"message": "executable file not found"}]}, "code": 500}
    seeds = {
        "stdout-first-empty": b"\x01",
        "stdout": b"\x01total 0\r\ndrwxr-xr-x 2 user user 40 Nov 25 12:00 .\r\n",
        "stderr": b"\x02ls: cannot access 'x': No such file or directory\n",
        "status-success": b"\x03" + json.dumps(status(0, [])).encode(),
        "status-exit-3": b"\x03" + json.dumps(status(3, ["sh", "-c", "exit 3"])).encode(),
        "status-signal-9": b"\x03" + json.dumps(status(137, ["sleep", "100"])).encode(),
        "status-not-found": b"\x03" + json.dumps(not_found).encode(),
        "resize-echo": b'\x04{"Width":120,"Height":40}',
        "close-signal": b"\xff\x00",
    }
    for name, data in seeds.items():
        write("exec_channel", name, data)


# --- listing, paths and tar made by the real tools ----------------------------------------------

def make_tree(root):
    os.makedirs(os.path.join(root, "src", "lib"))
    with open(os.path.join(root, "src", "main.c"), "w") as f:
        f.write('int main(void) { return 0; }\n')
    with open(os.path.join(root, "README.md"), "w") as f:
        f.write("# demo\n")
    os.chmod(os.path.join(root, "README.md"), 0o600)
    with open(os.path.join(root, "run.sh"), "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    os.chmod(os.path.join(root, "run.sh"), 0o755)
    os.symlink("src/main.c", os.path.join(root, "link"))
    os.symlink("../../etc/passwd", os.path.join(root, "escape"))
    open(os.path.join(root, "empty"), "w").close()
    with open(os.fsencode(os.path.join(root, "new\nline")), "w") as f:
        f.write("x")
    with open(os.path.join(os.fsencode(root), b"latin1-\xe9"), "w") as f:
        f.write("y")
    long_dir = os.path.join(root, "d" * 90)
    os.makedirs(long_dir)
    with open(os.path.join(long_dir, "f" * 60), "w") as f:
        f.write("long name\n")
    os.makedirs(os.path.join(root, "node_modules", "pkg"))
    with open(os.path.join(root, "node_modules", "pkg", "index.js"), "w") as f:
        f.write("module.exports = 1\n")
    os.utime(os.path.join(root, "src", "main.c"), (1700000000.123456789, 1700000000.123456789))


def listing():
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "workspace")
        os.makedirs(root)
        make_tree(root)
        # listingCommand() of host/sync/PodListing.cpp, with the default excludes.
        argv = ["sh", "-c", 'date +%s%N && exec "$@"', "sh", "find", root, "-mindepth", "1",
                "(", "-name", "node_modules", "-o", "-name", ".git", ")", "-prune", "-o",
                "-printf", "%y\\0%s\\0%T@\\0%m\\0%P\\0%l\\0"]
        out = subprocess.run(argv, check=True, capture_output=True).stdout
        write("pod_listing", "workspace", out)
        empty = os.path.join(tmp, "empty")
        os.makedirs(empty)
        argv[5] = empty
        write("pod_listing", "empty-workspace", subprocess.run(argv, check=True,
                                                               capture_output=True).stdout)
    write("pod_listing", "truncated", out[: len(out) * 2 // 3])
    write("pod_listing", "negative-mtime", b"1700000000000000000\nf\x005\x00-1.5000000000\x00644\x00"
          b"old\x00\x00")


def paths():
    seeds = {
        "plain": "src/main.c",
        "deep": "a/b/c/d/e.txt",
        "dot-dot": "../etc/passwd",
        "inner-dot-dot": "src/../../x",
        "absolute": "/etc/passwd",
        "double-slash": "a//b",
        "dot": "./a",
        "trailing-slash": "dir/",
        "excluded": "node_modules/pkg/index.js",
        "unicode": "caf\u00e9/\u2603.txt",
        "newline": "new\nline",
        "nul": "a\0b",
        "glob-chars": "[ab]*?\\x",
        "too-long": "a/" * 2048 + "b",
    }
    for name, text in seeds.items():
        write("workspace_paths", name, text)


def tars():
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "workspace")
        os.makedirs(root)
        make_tree(root)
        os.link(os.path.join(root, "run.sh"), os.path.join(root, "hardlink"))
        names = [b"src", b"src/main.c", b"README.md", b"run.sh", b"link", b"escape", b"empty",
                 b"new\nline", b"latin1-\xe9", b"d" * 90 + b"/" + b"f" * 60, b"hardlink"]

        def tar(extra, selected):
            # The pod's side of the sync (host/sync/WorkspaceSync.cpp), names on stdin.
            argv = ["tar", "-c", "-f", "-", "--format=posix",
                    "--pax-option=delete=atime,delete=ctime", "--no-recursion",
                    "--ignore-failed-read", "--no-acls", "--no-xattrs", "--no-selinux", *extra,
                    "-C", root, "--null", "--verbatim-files-from", "-T", "-"]
            return subprocess.run(argv, input=b"\0".join(selected) + b"\0", check=True,
                                  capture_output=True).stdout

        whole = tar(["--hard-dereference"], names)  # exactly what the sync runs: 10240-byte blocks
        small = tar(["--hard-dereference", "-b", "1"], names[:4])
        links = tar(["-b", "1"], [b"run.sh", b"hardlink", b"link", b"escape"])
    # readHostile's header: [mode even][content limit / 64][split seed].
    write("sync_tar", "sync-stream", bytes([0, 255, 7]) + whole)
    write("sync_tar", "small-files", bytes([0, 1, 3]) + small)
    write("sync_tar", "hard-and-symlinks", bytes([2, 255, 0]) + links)
    write("sync_tar", "truncated", bytes([0, 255, 1]) + small[:700])
    # Round-trip mode: any bytes after an odd first byte describe entries.
    write("sync_tar", "roundtrip", bytes([1]) + b"\x03\x00src/a.c\x00\xa4\x01\x00\x00" * 4)


def crafted_tars():
    """Streams no real tar writes, for regressions of the reader."""
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("a")
        info.size = 1
        # Past int64 milliseconds: overflowed TarReader before 05485a8.
        info.pax_headers = {"mtime": "99999999999999999999"}
        t.addfile(info, io.BytesIO(b"x"))
    write("sync_tar", "pax-mtime-huge", bytes([0, 255, 0]) + buf.getvalue())


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    os.makedirs(os.path.join(CORPUS, "host_config"))
    websocket()
    session_ids()
    control_messages()
    configs()
    exec_channel()
    listing()
    paths()
    tars()
    crafted_tars()
    total = sum(len(fs) for _, _, fs in os.walk(CORPUS))
    print(f"wrote {total} seeds under {os.path.relpath(CORPUS, ROOT)}")


if __name__ == "__main__":
    main()
