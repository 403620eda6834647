//! # sobot_exporter_core
//!
//! The library of the `sobot_exporter` binary: a Prometheus exporter for Sobot (智齿客服)
//! customer-service statistics and the Laaffic call center. On an interval it calls the vendors'
//! statistics endpoints, turns their string values into numbers, and serves them as gauges on
//! `/metrics` from memory. Private by default (`unreachable_pub`): what is `pub` is what the binary,
//! the simulator crate, the integration tests and the benches use.
//!
//! # Data flow
//!
//! ```text
//! config ──► targets ──► sources/<vendor>: collectors ──► client (token, sign)
//!  (one per set of     │   decode answers into samples          │
//!   credentials)       │   (on the collect skeleton)            ▼
//!                      │                                 upstream (shared HTTP client,
//!                      ▼                                   rate limit, result codes)
//!     exposition: each collector's cycle encoded once into a chunk; a target publishes
//!                 its chunks on the board, which assembles /metrics on the next scrape
//!                      │
//!     web: /metrics, /probe?target=, /sd serve those bytes; /, /-/ready read the targets' status
//! ```
//!
//! # Layout
//!
//! Every module is on a layer and imports only from layers below its own; a layer is one above
//! the highest one its module imports. `tests/layers.rs` reads the imports and keeps this table
//! true.
//!
//! | layer | modules | what they do |
//! |---|---|---|
//! | 9 | [`app`] | the wiring, the reload (SIGHUP, `POST /-/reload`); [`app::settings`]: the flags validated into process settings, and the loading of the collection config |
//! | 8 | [`web`] | `/metrics`, `/probe`, `/sd`, `/`, `/healthz`, `/-/reload`, the connections and their limits, TLS and basic auth (`--web.config.file`), the `--healthcheck` client; it reads the board and the targets' status |
//! | 7 | [`targets`], `property` | a target per set of credentials (the company, the platform, each tenant): its task, its collectors' schedule and deadlines, one token attempt for the collectors due together, backoff, discovery's reconcile, each target's status; `property` (tests only): the fuzz-style property tests with a fixed seed |
//! | 6 | [`config`], [`cli`], [`reference`](mod@reference) | the collection config from the YAML file by a pure function (the general keys here, each source's section in its folder); the flags; the metrics reference generated from the sources' tables |
//! | 5 | [`sources`] | one folder a vendor: [`sources::sobot`] (token client and signing, the statistics endpoint table and its collectors, quality inspection), [`sources::laaffic`] (seat query), [`sources::platform`] (the e-commerce platform: tenants, their keys, staff statistics); each with its config section, pure decoders and collectors; the registry of sources (`SOURCES`: config keys, secret variables, collector kinds, reference, and for the non-structural sources their settings and jobs), `example` (tests only: a source of one folder and one registry line) and the hints of failures |
//! | 4 | `collect` | the collector skeleton: the `Collect` trait every collector implements, what a target schedules, windows and yesterday's cache, cardinality guard, families, parse errors, list extraction |
//! | 3 | [`upstream`], [`window`], [`process`], `backfill` | the one request path every client uses (shared HTTP client, rate limiter, timeouts, typed errors, answers parsed in bounded memory); which local day a value covers; the `process_*` metrics; `backfill`: past collections as OpenMetrics files for `promtool tsdb create-blocks-from openmetrics` |
//! | 2 | [`exposition`], [`telemetry`], [`table`], [`input`] | chunks, the board, both text formats, gzip; the exporter's own metrics; the vocabulary of the field tables; what users give (bounded file reads, durations, "did you mean") |
//! | 1 | [`snapshot`], [`value`], [`secret`], [`sign`], [`shard`], [`logging`], [`build_info`] | samples; the value grammar (`"53.49%"` → 0.5349, `"00:07:15"` → 435); credentials that never print; request signatures; the jump consistent hash of tenants to replicas; `--log.level`, `--log.format`; version and revision |

pub mod app;
mod backfill;
pub mod build_info;
pub mod cli;
pub(crate) mod collect;
pub mod config;
pub mod exposition;
pub mod input;
pub mod logging;
pub mod process;
#[cfg(test)]
mod property;
pub mod reference;
pub mod secret;
pub mod shard;
pub mod sign;
pub mod snapshot;
pub mod sources;
pub mod table;
pub mod targets;
pub mod telemetry;
pub mod upstream;
pub mod value;
pub mod web;
pub mod window;
