# Faultline web: the dashboard and the REST API /api/0/ on HTTP 9000.
#
# Built by compose.yaml (image faultline-web), from the repository root:
#   docker build -f deploy/docker/web.Dockerfile -t faultline-web .
# Needs BuildKit (the default since Docker 23; on Docker 20.10 set
# DOCKER_BUILDKIT=1, which install.sh does) for the cache mounts below.

# --- builder: the same text in all five deploy/docker/*.Dockerfile, so one
# build of the workspace serves every image (BuildKit reuses the layers).
# rust:*-bookworm already has gcc and make for rdkafka's bundled librdkafka;
# the .proto files are compiled by protox (pure Rust), so no protoc.
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# The cache mounts keep the crate registry and target/ between builds, so a
# rebuild after a code change recompiles only what changed. The binary is
# copied out of the cache mount into the layer.
RUN --mount=type=cache,id=faultline-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=faultline-cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=faultline-target,target=/src/target,sharing=locked \
    cargo build --release -p faultline --locked \
    && install -D -m 0755 target/release/faultline /out/faultline

# --- runtime: the same in all five files up to EXPOSE. No curl or wget:
# faultline-healthcheck (deploy/docker/healthcheck.sh) asks /health with
# bash alone.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 faultline \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/faultline \
       --shell /usr/sbin/nologin faultline \
    && install -d -m 0700 -o faultline -g faultline /var/lib/faultline /etc/faultline
COPY --from=builder /out/faultline /usr/local/bin/faultline
COPY deploy/docker/healthcheck.sh /usr/local/bin/faultline-healthcheck
RUN chmod 0755 /usr/local/bin/faultline-healthcheck
# compose.yaml mounts deploy/config.yml here; FAULTLINE_* variables override it.
ENV FAULTLINE_CONFIG=/etc/faultline/config.yml
# storage.dir (deploy/config.yml): whatever is still kept in embedded files;
# compose.yaml mounts the volume faultline-data here.
WORKDIR /var/lib/faultline
USER 10001:10001

EXPOSE 9000
ENTRYPOINT ["faultline"]
CMD ["run", "web", "--bind", "0.0.0.0:9000"]
