# sobot_exporter container image.
#
# Build: docker build -t sobot_exporter .
# The build step is the one docs/deployment.md gives: `cargo build --release --locked` (a test keeps them identical).

# --- build stage -------------------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src

# Dependencies first, in a layer of their own that survives source changes.
COPY Cargo.toml Cargo.lock rustfmt.toml clippy.toml ./
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/collection.rs \
 && cargo build --release --locked \
 && rm -rf src benches

# The sources (the simulator embeds the documents' example answers from tests/fixtures). Without
# .git in the context, build.rs takes the revision and branch from these (--version, build_info):
#   docker build --build-arg SOBOT_EXPORTER_REVISION=$(git rev-parse --short=12 HEAD) \
#                --build-arg SOBOT_EXPORTER_BRANCH=$(git rev-parse --abbrev-ref HEAD) -t sobot_exporter .
ARG SOBOT_EXPORTER_REVISION=unknown
ARG SOBOT_EXPORTER_BRANCH=unknown
COPY build.rs ./
COPY src src
COPY benches benches
COPY tests/fixtures tests/fixtures
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked \
 && cp target/release/sobot_exporter /sobot_exporter

# --- runtime stage: glibc, CA certificates, no shell, non-root -------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="sobot_exporter" \
      org.opencontainers.image.description="Prometheus exporter for Sobot (智齿客服) and the Laaffic call center" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /sobot_exporter /usr/local/bin/sobot_exporter
USER nonroot:nonroot
EXPOSE 9877
# The binary checks its own /healthz: no curl or shell needed in the image. It asks the address of
# --web.listen-address, or of SOBOT_EXPORTER_LISTEN_ADDRESS: to listen elsewhere, set that variable
# (docker run -e SOBOT_EXPORTER_LISTEN_ADDRESS=:9100) so that the server and the check agree; for TLS,
# likewise SOBOT_EXPORTER_WEB_CONFIG_FILE rather than --web.config.file (the check then speaks HTTPS).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/sobot_exporter", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/sobot_exporter"]
# Config and secrets are mounted as files, e.g. -v ./config.yml:/etc/sobot_exporter/config.yml:ro and
# a secret file named by sobot.app_key_file. `docker run IMAGE --demo` runs the demo.
CMD ["--config.file=/etc/sobot_exporter/config.yml"]
