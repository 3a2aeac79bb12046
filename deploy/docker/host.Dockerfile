# syntax=docker/dockerfile:1
# The podterm host: `docker build -f deploy/docker/host.Dockerfile -t podterm/host:0.1.0 .` from
# the repository root. Shipped unbuilt (no Docker engine where it was written); `ctest -R deploy`
# checks it statically: the runtime stage installs a package for every library the built
# binary and plugins link against, the paths match config/production.toml and the manifests.

############################ build ############################
FROM debian:12 AS build
# The same packages as a developer machine: install-deps.sh is the one list.
COPY deploy/install-deps.sh /src/deploy/install-deps.sh
RUN /src/deploy/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
# The release preset (RelWithDebInfo, warnings as errors) without tests and benchmarks.
RUN rm -rf build/release \
 && cmake --preset release -DPODTERM_BUILD_TESTS=OFF -DPODTERM_BUILD_BENCHMARKS=OFF \
 && cmake --build build/release -j "$(nproc)" \
 && mkdir -p /out/bin /out/plugins \
 && cp build/release/bin/podterm /out/bin/ \
 && cp build/release/plugins/*.so /out/plugins/ \
 && strip --strip-debug /out/bin/podterm /out/plugins/*.so

############################ runtime ############################
FROM debian:12-slim
# The shared libraries of the host and its plugins (Poco 1.11, toml++, libarchive, libpq,
# SQLite, libvterm (server-side screen state); libcurl, OpenSSL and libyaml (kubeconfig) for the
# Kubernetes plugin) and the CAs for TLS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libpocofoundation80 libpoconet80 libpocoutil80 libpocojson80 libpocoxml80 \
      libpocodata80 libpocodatasqlite80 libpocodatapostgresql80 libpococrypto80 libpocojwt80 libpoconetssl80 \
      libtomlplusplus3 libarchive13 libpq5 libsqlite3-0 libcurl4 libssl3 libyaml-0-2 libvterm0 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 podterm \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin podterm
COPY --from=build /out/bin/podterm /usr/local/bin/podterm
COPY --from=build /out/plugins/ /usr/local/lib/podterm/plugins/
# /etc/podterm/podterm.toml comes from the ConfigMap (deploy/kubernetes), the PostgreSQL
# password from the Secret at /var/run/secrets/podterm/db-password.
USER 10001:10001
EXPOSE 8002
ENTRYPOINT ["/usr/local/bin/podterm", "--config", "/etc/podterm/podterm.toml"]
