# syntax=docker/dockerfile:1
# newswatch: multi-stage build, small non-root runtime image.
#   docker build -t newswatch .
#   docker run -d --name newswatch \
#     -v $PWD/config.toml:/etc/newswatch/config.toml:ro \
#     -v newswatch-data:/var/lib/newswatch \
#     newswatch
# Relative paths in the config resolve against its directory (/etc/newswatch, read-only): set
# url = "sqlite:///var/lib/newswatch/newswatch.db" and dir = "/var/lib/newswatch/alerts".
# The HEALTHCHECK asks the daemon's /healthz: set [http] listen (the shipped config.toml does).
#
# The base images can be replaced (tools/container-smoke.sh builds with images of its own):
#   --build-arg RUST_IMAGE=... --build-arg RUNTIME_IMAGE=...
ARG RUST_IMAGE=rust:1-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# The dependencies first, in a layer of their own, built for placeholder sources: it is rebuilt
# only when the manifest, the lock file or the vendored crate change, not at every source edit.
# The manifest names a [[bench]], whose file must exist for cargo to read it.
COPY Cargo.toml Cargo.lock build.rs ./
COPY vendor ./vendor
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/matching.rs \
 && cargo build --release --locked \
 && rm -rf src benches
COPY src ./src
COPY migrations ./migrations
COPY data ./data
COPY benches ./benches
# COPY keeps the files' times, which can be older than the placeholders' build: touch the
# crate's roots so that cargo does build the real sources.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked \
 && strip target/release/newswatch

FROM ${RUNTIME_IMAGE}
# CA certificates: feeds and SMTP over TLS are verified against the system roots.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 newswatch \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/newswatch --no-create-home \
      --shell /usr/sbin/nologin newswatch \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/newswatch \
 && install -d -m 0755 /etc/newswatch
COPY --from=build /src/target/release/newswatch /usr/local/bin/newswatch
# Numeric, so that a runtime that checks for a non-root user (Kubernetes' runAsNonRoot) can
# tell without the image's /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/newswatch
VOLUME ["/var/lib/newswatch"]
ENV NEWSWATCH_CONFIG=/etc/newswatch/config.toml
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/newswatch", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/newswatch"]
CMD ["run"]
