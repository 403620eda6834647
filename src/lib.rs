//! # sobot_exporter
//!
//! A Prometheus exporter for Sobot (智齿客服) customer-service statistics. On an interval it calls
//! the vendor's statistics endpoints, turns their string values into numbers, and serves them as
//! gauges on `/metrics` from memory.
//!
//! # Layout
//!
//! ```text
//! config ──► scheduler ──► collectors ──► client (token, sign, rate limit, timeouts)
//!               │            decode, parse values             │
//!               ▼                                             ▼
//!          snapshot per collector (replaced whole) ──► exposition, encoded once per change
//!                                                              │
//!                                server: /metrics serves those bytes
//! ```
//!
//! - [`cli`], [`config`]: flags validated into process settings, and the YAML file into the
//!   collection config by a pure function (tested on the files in `src/config/testdata`).
//! - [`demo`]: `--demo` in one place: the simulator's port and credentials, the demo's groups.
//! - [`sobot`]: the endpoint table ([`sobot::endpoints`]), the client, the collectors.
//! - [`laaffic`]: the call center's seat query client and seat collector.
//! - [`collect`]: the collector skeleton (windows and yesterday's cache, cardinality guard,
//!   families, parse errors, list extraction), written once for every collector.
//! - [`table`]: the vocabulary of the endpoint tables (methods, date formats, fields).
//! - [`value`]: the value grammar (`"53.49%"` → 0.5349, `"00:07:15"` → 435), and ids and whole
//!   numbers read leniently.
//! - [`window`]: which local day a value covers and how each endpoint wants dates written.
//! - [`snapshot`], [`exposition`]: samples per collector, and the bytes served.
//! - [`scheduler`]: background cycles, self-metrics, re-encoding.
//! - [`server`]: `/metrics`, `/`, `/healthz`; [`healthcheck`]: the `--healthcheck` client.
//! - [`telemetry`]: the exporter's own metrics.
//! - [`simulator`]: the fake upstream behind `--demo` and the tests.
//! - [`reference`]: the metrics reference generated from the tables.
//! - [`secret`], [`sign`], [`http`], [`error`]: credentials, signatures, shared HTTP, errors.

pub mod app;
pub mod cli;
pub mod collect;
pub mod config;
pub mod demo;
pub mod error;
pub mod exposition;
pub mod healthcheck;
pub mod http;
pub mod laaffic;
pub mod reference;
pub mod secret;
pub mod server;
pub mod sign;
pub mod simulator;
pub mod snapshot;
pub mod sobot;
pub mod table;
pub mod targets;
pub mod telemetry;
pub mod value;
pub mod window;
