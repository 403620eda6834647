# sobot_exporter container image.
#
# Build: docker build -t sobot_exporter .
# The build step is the one docs/deployment.md gives: `cargo build --release --locked` (a test keeps them identical).

# --- build stage -------------------------------------------------------------------------------
# Base images are pinned, never floating: the Rust toolchain by its exact version (at least
# Cargo.toml's rust-version and every locked dependency's; tests/image.rs checks both), the runtime
# by digest (distroless publishes no version tags). To update them:
#   docker buildx imagetools inspect rust:1.95.0-bookworm            # does the tag exist?
#   crane digest gcr.io/distroless/cc-debian12:nonroot                # (or imagetools inspect)
# then replace the tag or the digest below, build, and run the image's --version and --demo.
FROM rust:1.95.0-bookworm AS build
WORKDIR /src

# Dependencies first, in a layer of their own that survives changes to the sources: the manifests
# of the workspace and its members, the lockfile, every target a manifest declares by name (the
# [[bench]]s, under benches/) as they are, and stand-ins for the targets cargo finds by convention
# (each member's src/lib.rs or src/main.rs). A target a manifest names but this layer lacks fails
# the build here; tests/image.rs replays this stage from this file without Docker and catches that.
# Editing a bench rebuilds the dependencies.
COPY Cargo.toml Cargo.lock rustfmt.toml clippy.toml ./
COPY crates/core/Cargo.toml crates/core/
COPY crates/simulator/Cargo.toml crates/simulator/
COPY xtask/Cargo.toml xtask/
COPY benches benches
RUN mkdir -p src crates/core/src crates/simulator/src xtask/src \
 && echo 'fn main() {}' > src/main.rs \
 && echo 'fn main() {}' > xtask/src/main.rs \
 && touch crates/core/src/lib.rs crates/simulator/src/lib.rs xtask/src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src crates/core/src crates/simulator/src xtask/src

# The sources (the simulator embeds the documents' example answers from tests/fixtures). Without
# .git in the context, crates/core/build.rs takes the revision and branch from these (--version,
# build_info):
#   docker build --build-arg SOBOT_EXPORTER_REVISION=$(git rev-parse --short=12 HEAD) \
#                --build-arg SOBOT_EXPORTER_BRANCH=$(git rev-parse --abbrev-ref HEAD) -t sobot_exporter .
ARG SOBOT_EXPORTER_REVISION=unknown
ARG SOBOT_EXPORTER_BRANCH=unknown
COPY src src
COPY crates crates
COPY xtask xtask
COPY tests/fixtures tests/fixtures
# The stand-ins are newer than the copied sources: touch them so that cargo rebuilds the crates.
RUN touch src/main.rs crates/core/src/lib.rs crates/simulator/src/lib.rs \
 && cargo build --release --locked

# --- runtime stage: glibc, CA certificates, no shell, non-root -------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
LABEL org.opencontainers.image.title="sobot_exporter" \
      org.opencontainers.image.description="Prometheus exporter for Sobot (智齿客服) and the Laaffic call center" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /src/target/release/sobot_exporter /usr/local/bin/sobot_exporter
USER nonroot:nonroot
EXPOSE 9877
# The binary checks its own /healthz: no curl or shell needed in the image. It asks the address of
# --web.listen-address, or of SOBOT_EXPORTER_LISTEN_ADDRESS: to listen elsewhere, set that variable
# (docker run -e SOBOT_EXPORTER_LISTEN_ADDRESS=:9100) so that the server and the check agree; for TLS,
# likewise SOBOT_EXPORTER_WEB_CONFIG_FILE rather than --web.config.file (the check then speaks HTTPS).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/sobot_exporter", "--healthcheck"]
# Every interface, the demo's too (it listens on 127.0.0.1 only by default, outside a container).
ENV SOBOT_EXPORTER_LISTEN_ADDRESS=:9877
ENTRYPOINT ["/usr/local/bin/sobot_exporter"]
# Config and secrets are mounted as files, e.g. -v ./config.yml:/etc/sobot_exporter/config.yml:ro and
# a secret file named by sobot.app_key_file. `docker run IMAGE --demo` runs the demo.
CMD ["--config.file=/etc/sobot_exporter/config.yml"]
