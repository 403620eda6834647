//! # sobot_exporter
//!
//! A Prometheus exporter for Sobot (智齿客服) customer-service statistics. On an interval it calls
//! the vendor's statistics endpoints, turns their string values into numbers, and serves them as
//! gauges on `/metrics` from memory.
//!
//! # Layout
//!
//! ```text
//! config ──► targets ──► collect (one collector per endpoint) ──► sobot / laaffic clients
//!  (one per set of     │   decode answers into samples            │  token, sign
//!   credentials)       │                                          ▼
//!                      │                                 upstream (shared HTTP client,
//!                      ▼                                   rate limit, result codes)
//!     exposition: each collector's cycle encoded once into a chunk; a target publishes
//!                 its chunks on the board, which assembles /metrics on the next scrape
//!                      │
//!     web: /metrics, /probe?target=, /sd serve those bytes; /, /-/ready read the targets' status
//! ```
//!
//! - [`app`]: the wiring, and the reload (SIGHUP, `POST /-/reload`) that swaps the collection
//!   config under the running targets.
//! - [`cli`], [`config`]: flags validated into process settings, and the YAML file into the
//!   collection config by a pure function (tested on the files in `src/config/testdata`).
//! - [`demo`]: `--demo` in one place: the simulator's port and credentials, the demo's groups and
//!   platform.
//! - [`targets`]: a target per set of credentials (the configured company, the platform, each
//!   tenant it lists): its task, its collectors' schedule and deadlines, one token attempt for the
//!   collectors due together, backoff; the set is reconciled at run time (discovery), tenants are
//!   split between replicas by a jump consistent hash ([`targets::Shard`]); each target's status
//!   (for the landing page and `/-/ready`) is kept as its cycles end.
//! - [`collect`]: the collector skeleton (windows and yesterday's cache, cardinality guard,
//!   families, parse errors, list extraction) and the collectors built on it: statistics
//!   ([`collect::stats`]), quality inspection ([`collect::quality`]), Laaffic seats
//!   ([`collect::seats`]), the platform's discovery and statistics ([`collect::platform`]).
//! - [`sobot`]: the statistics endpoint table ([`sobot::endpoints`]) and the client (token,
//!   result codes); [`laaffic`]: the seat query client.
//! - [`platform`]: the Sobot e-commerce platform API (tenants, their app keys, staff statistics
//!   and status logs): signing, a client with a limit of 20 calls a minute per endpoint, pure
//!   decoders into `sobot_platform_*` families.
//! - [`upstream`]: the one request path both clients use: shared HTTP client, rate limiter,
//!   timeouts, typed errors with hints, answers parsed in bounded memory (every list capped, the
//!   rest skipped unbuilt).
//! - [`table`]: the vocabulary of the endpoint tables (methods, date formats, fields).
//! - [`value`]: the value grammar (`"53.49%"` → 0.5349, `"00:07:15"` → 435), and ids and whole
//!   numbers read leniently.
//! - [`window`]: which local day a value covers and how each endpoint wants dates written.
//! - [`snapshot`]: the samples a collector's cycle produces.
//! - [`exposition`]: chunks, the board, both text formats, content negotiation, gzip.
//! - [`web`]: `/metrics`, `/probe`, `/sd`, `/`, `/healthz`, `/-/reload` (each route listed once,
//!   in `Route`), and the `--healthcheck` client (HTTP, or HTTPS with the web config's TLS);
//!   [`web::conn`]: the connections and their limits (write and idle timeouts, maximum
//!   age, connection limit, shutdown), the file-descriptor limit raised at start, on every
//!   listener ([`web::listen`]: the listen addresses or systemd's sockets);
//!   [`web::webconfig`]: `--web.config.file` (TLS with rustls, client certificates, headers;
//!   one task re-reads it when its files change), [`web::handshake`]: the TLS listener's failed
//!   handshakes and its answer to plain HTTP, [`web::auth`]: basic auth against bcrypt hashes,
//!   its checks limited per client address.
//! - [`telemetry`]: the exporter's own metrics, per target and process-wide; [`process`]: the
//!   `process_*` metrics from `/proc/self`, read when `/metrics` is asked for.
//! - [`simulator`]: the fake upstream behind `--demo` and the tests.
//! - [`reference`](mod@reference): the metrics reference generated from the tables.
//! - [`mixin`]: the Prometheus recording rules and alerts and the Grafana dashboards, rendered
//!   from one source (`cargo run --example mixin -- --write`).
//! - [`secret`], [`sign`]: credentials that never print, request signatures.
//! - [`logging`]: `--log.level`, `--log.format` (logfmt by default, text, JSON).
//! - [`build_info`]: version, revision, branch, build date and compiler (from `build.rs`).
//! - `fuzz` (tests only): the mutators and checks of the fuzz targets, which sit in a `fuzz`
//!   module beside the code each reaches (value grammar, config, every endpoint's decoder).

pub mod app;
pub mod build_info;
pub mod cli;
pub mod collect;
pub mod config;
pub mod demo;
pub mod exposition;
#[cfg(test)]
pub(crate) mod fuzz;
pub mod input;
pub mod logging;
pub mod mixin;
pub mod process;
pub mod reference;
pub mod secret;
pub mod settings;
pub mod shard;
pub mod sign;
pub mod simulator;
pub mod snapshot;
pub mod sources;
pub mod table;
pub mod targets;
pub mod telemetry;
pub mod upstream;
pub mod value;
pub mod web;
pub mod window;
