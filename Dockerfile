# syntax=docker/dockerfile:1
# newswatch: multi-stage build, small non-root runtime image.
#   docker build -t newswatch .
#   docker run -d --name newswatch \
#     -v $PWD/config.toml:/etc/newswatch/config.toml:ro \
#     -v newswatch-data:/var/lib/newswatch \
#     newswatch
# Relative paths in the config resolve against its directory (/etc/newswatch, read-only): set
# url = "sqlite:///var/lib/newswatch/newswatch.db" and dir = "/var/lib/newswatch/alerts".

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
COPY data ./data
COPY benches ./benches
COPY vendor ./vendor
RUN cargo build --release --locked && strip target/release/newswatch

FROM debian:bookworm-slim
# CA certificates: feeds and SMTP over TLS are verified against the system roots.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/newswatch --create-home --uid 10001 newswatch
COPY --from=build /src/target/release/newswatch /usr/local/bin/newswatch
USER newswatch
WORKDIR /var/lib/newswatch
VOLUME ["/var/lib/newswatch"]
ENV NEWSWATCH_CONFIG=/etc/newswatch/config.toml
ENTRYPOINT ["/usr/local/bin/newswatch"]
CMD ["run"]
