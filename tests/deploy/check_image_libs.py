#!/usr/bin/python3
"""The host image's runtime stage installs every shared library the host and its plugins need.

Usage: check_image_libs.py HOST_DOCKERFILE PODTERM_BINARY PLUGIN_DIR

Reads the direct dependencies (DT_NEEDED) of the built podterm and of every plugin in
PLUGIN_DIR, finds the Debian package that ships each library on this (Debian 12) machine, and
checks that the Dockerfile's last stage apt-get installs it, unless debian:12-slim already has it.
Also checks that every package that stage names exists in this machine's apt cache (a typo would
only show when the image is built). Exit status: 0 passed, 1 failed, 77 skipped (no dpkg/objdump).
"""

import glob
import os
import re
import shutil
import subprocess
import sys

SKIP = 77
# In debian:12-slim (Priority: required, or apt's own dependencies).
SLIM_BASE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}
# Sanitizer runtimes: `make test` checks its ASan/UBSan build, the image builds without them.
SANITIZER_RUNTIMES = {"libasan8", "libubsan1", "liblsan0", "libtsan2"}


def depends_closure(packages):
    """The packages apt installs with `packages`: their Depends and Pre-Depends, recursively, as
    this machine's dpkg records them (alternatives: the first one)."""
    seen, todo = set(), list(packages)
    while todo:
        batch = [p for p in dict.fromkeys(todo) if p not in seen]
        todo = []
        if not batch:
            break
        seen.update(batch)
        out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Pre-Depends}, ${Depends}\n"]
                             + batch, capture_output=True, text=True)
        for line in out.stdout.splitlines():
            _, _, deps = line.partition("\t")
            for dep in deps.split(","):
                name = dep.split("|")[0].strip().split(" ")[0].split(":")[0]
                if name and name not in seen:
                    todo.append(name)
    return seen


def runtime_stage_packages(dockerfile):
    text = open(dockerfile, encoding="utf-8").read()
    text = re.sub(r"^\s*#.*$", "", text, flags=re.M).replace("\\\n", " ")
    stages = re.split(r"^FROM\s", text, flags=re.M)
    packages = set()
    for m in re.finditer(r"apt-get install ([^&;\n]*)", stages[-1]):
        packages.update(w for w in m.group(1).split() if not w.startswith("-"))
    return packages


def needed(path):
    out = subprocess.run(["objdump", "-p", path], capture_output=True, text=True, check=True)
    return re.findall(r"^\s*NEEDED\s+(\S+)", out.stdout, flags=re.M)


def resolved(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True)
    return dict(re.findall(r"^\s*(\S+) => (/\S+)", out.stdout, flags=re.M))


def candidates(path):
    """The names dpkg may have recorded for path (merged /usr: /lib/x or /usr/lib/x)."""
    out = [path, os.path.realpath(path)]
    for c in list(out):
        out.append(c[4:] if c.startswith("/usr/") else "/usr" + c)
    return out


def packages_of(paths):
    """{path: package} for every path dpkg knows under one of its names (one dpkg call)."""
    names = sorted({c for p in paths for c in candidates(p)})
    out = subprocess.run(["dpkg", "-S"] + names, capture_output=True, text=True)
    owner = {}
    for line in out.stdout.splitlines():
        pkgs, _, file = line.partition(": ")
        owner[file.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    return {p: next((owner[c] for c in candidates(p) if c in owner), None) for p in paths}


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    dockerfile, binary, plugin_dir = sys.argv[1:]
    for tool in ("dpkg", "objdump", "ldd"):
        if not shutil.which(tool):
            print(f"SKIPPED: {tool} not found; cannot map libraries to Debian packages")
            return SKIP
    files = [binary] + sorted(glob.glob(os.path.join(plugin_dir, "*.so")))
    missing_files = [f for f in files if not os.path.exists(f)]
    if missing_files:
        print(f"not built: {missing_files}", file=sys.stderr)
        return 1
    listed = runtime_stage_packages(dockerfile)
    # A library pulled in by a listed package (e.g. libexpat1 by libpocoxml80) is installed too;
    # Poco's Debug targets link such libraries directly, its release ones do not.
    installed = depends_closure(listed | SLIM_BASE)
    failures = []
    needs = {}
    wanted = []  # (file, path)
    for f in files:
        paths = resolved(f)
        for soname in needed(f):
            if soname.startswith("ld-linux"):
                continue
            path = paths.get(soname)
            if not path:
                failures.append(f"{os.path.basename(f)}: {soname} not found by ldd")
                continue
            wanted.append((f, path))
    owners = packages_of({path for _, path in wanted})
    for f, path in wanted:
        pkg = owners.get(path)
        if not pkg:
            failures.append(f"{os.path.basename(f)}: {path} belongs to no Debian package")
            continue
        needs.setdefault(pkg, set()).add(os.path.basename(f))
    for pkg, users in sorted(needs.items()):
        if pkg not in installed and pkg not in SANITIZER_RUNTIMES:
            failures.append(f"{pkg} (needed by {', '.join(sorted(users))}) is not installed by "
                            f"the runtime stage of {dockerfile}")
    # Every listed package exists (this machine's apt cache; skipped when it has no lists).
    if glob.glob("/var/lib/apt/lists/*_Packages*"):
        out = subprocess.run(["apt-cache", "show", "--no-all-versions"] + sorted(listed),
                             capture_output=True, text=True)
        known = set(re.findall(r"^Package: (\S+)", out.stdout, flags=re.M))
        for pkg in sorted(listed - known):
            failures.append(f"{dockerfile}: package {pkg} does not exist in Debian 12")
    else:
        print("note: no apt lists here; package names in the Dockerfile not checked")
    print(f"{len(files)} files need {sorted(needs)}")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
