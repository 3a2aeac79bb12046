# syntax=docker/dockerfile:1
# The execution image: what every session's pod runs (config/production.toml,
# [runtime.kubernetes] image). `docker build -f deploy/docker/exec.Dockerfile -t podterm/exec:0.1.0
# deploy/docker`. Shipped unbuilt.
#
# The image contract (deploy/kubernetes/README.md): bash 4.4+ as /bin/bash (the terminal and the
# shell integration), /bin/sh, GNU tar, find and date (file sync streams tar archives, lists files
# with find -printf and reads the clock with date +%s%N), a non-root uid 1000 (the plugin's
# run_as_user) with a writable HOME (the plugin sets HOME=/home/podterm and mounts a fresh
# emptyDir there, so nothing the image puts in it survives), and /app/workspace writable by it
# (the session's volume is mounted there; fsGroup 1000 makes a fresh volume writable). Everything
# else is for the users: python3, pip, node, npm, git, curl, wget.
FROM debian:12-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      bash coreutils findutils tar gzip \
      python3 python3-pip python3-venv \
      nodejs npm \
      git curl wget ca-certificates \
      procps less locales dtach \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 1000 podterm \
 && useradd --uid 1000 --gid 1000 --create-home --home-dir /home/podterm --shell /bin/bash podterm \
 && mkdir -p /app/workspace \
 && chown 1000:1000 /app/workspace

# pip and npm install into the user's HOME (Debian's system Python is externally managed).
ENV HOME=/home/podterm \
    LANG=C.UTF-8 \
    TERM=xterm-256color \
    PIP_USER=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    NPM_CONFIG_PREFIX=/home/podterm/.local \
    PATH=/home/podterm/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

USER 1000:1000
WORKDIR /app/workspace
# The plugin starts its own keep-alive command; this default keeps `docker run` useful.
CMD ["/bin/bash"]
