//! The exporter's own metrics (`sobot_exporter_*`): values behind one lock, turned into families
//! at encode time, so they go through the same sorted encoding as the collected data and the
//! metrics reference is generated from the same table.
//!
//! Each target has its own [`Telemetry`]: its self-series are encoded with its data and go when it
//! goes. The process-wide ones (`build_info`, the reload status) are in one more [`Telemetry`]
//! made by [`process_telemetry`]; the server publishes them with its connection figures
//! (`process_families`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::snapshot::{Family, Kind, Labels, Sample};

/// One self-metric: name as exposed (counters with `_total`), kind, labels, HELP text.
#[derive(Debug)]
pub struct SelfMetric {
    /// Name as exposed.
    pub name: &'static str,
    /// Gauge or counter.
    pub kind: Kind,
    /// Label names.
    pub labels: &'static [&'static str],
    /// HELP text.
    pub help: &'static str,
}

const fn metric(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> SelfMetric {
    SelfMetric { name, kind, labels, help }
}

/// `sobot_exporter_build_info{version}`.
pub(crate) const BUILD_INFO: &str = "sobot_exporter_build_info";
/// `sobot_exporter_config_last_reload_successful`.
pub(crate) const CONFIG_LAST_RELOAD_SUCCESSFUL: &str = "sobot_exporter_config_last_reload_successful";
/// `sobot_exporter_config_last_reload_success_timestamp_seconds`.
pub(crate) const CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP: &str =
    "sobot_exporter_config_last_reload_success_timestamp_seconds";
/// `sobot_exporter_collector_success{collector}`.
pub const COLLECTOR_SUCCESS: &str = "sobot_exporter_collector_success";
/// `sobot_exporter_collector_duration_seconds{collector}`.
pub(crate) const COLLECTOR_DURATION: &str = "sobot_exporter_collector_duration_seconds";
/// `sobot_exporter_collector_last_success_timestamp_seconds{collector}`.
pub const COLLECTOR_LAST_SUCCESS: &str = "sobot_exporter_collector_last_success_timestamp_seconds";
/// `sobot_exporter_collector_interval_seconds{collector}`.
pub(crate) const COLLECTOR_INTERVAL: &str = "sobot_exporter_collector_interval_seconds";
/// `sobot_exporter_collector_series{collector}`.
pub(crate) const COLLECTOR_SERIES: &str = "sobot_exporter_collector_series";
/// `sobot_exporter_collector_truncated{collector}`.
pub(crate) const COLLECTOR_TRUNCATED: &str = "sobot_exporter_collector_truncated";
/// `sobot_exporter_collector_failed_parts{collector}`.
pub(crate) const COLLECTOR_FAILED_PARTS: &str = "sobot_exporter_collector_failed_parts";
/// `sobot_exporter_agents_dropped{collector}`.
pub(crate) const AGENTS_DROPPED: &str = "sobot_exporter_agents_dropped";
/// `sobot_exporter_upstream_requests_total{endpoint,code}`.
pub const UPSTREAM_REQUESTS: &str = "sobot_exporter_upstream_requests_total";
/// `sobot_exporter_parse_errors_total{endpoint,field}`.
pub const PARSE_ERRORS: &str = "sobot_exporter_parse_errors_total";
/// `sobot_exporter_upstream_items_dropped_total{endpoint}`.
pub(crate) const UPSTREAM_ITEMS_DROPPED: &str = "sobot_exporter_upstream_items_dropped_total";
/// `sobot_exporter_upstream_duplicate_items_total{endpoint}`.
pub(crate) const UPSTREAM_DUPLICATE_ITEMS: &str = "sobot_exporter_upstream_duplicate_items_total";
/// `sobot_exporter_token_refreshes_total{result}`.
pub(crate) const TOKEN_REFRESHES: &str = "sobot_exporter_token_refreshes_total";

/// `sobot_exporter_http_connections`.
pub(crate) const HTTP_CONNECTIONS: &str = "sobot_exporter_http_connections";
/// `sobot_exporter_http_max_connections`.
pub(crate) const HTTP_MAX_CONNECTIONS: &str = "sobot_exporter_http_max_connections";
/// `sobot_exporter_http_connections_closed_total{reason}`.
pub(crate) const HTTP_CONNECTIONS_CLOSED: &str = "sobot_exporter_http_connections_closed_total";
/// `sobot_exporter_http_tls_handshake_failures_total{reason}`.
pub(crate) const HTTP_TLS_HANDSHAKE_FAILURES: &str = "sobot_exporter_http_tls_handshake_failures_total";

/// `sobot_exporter_platform_shard_info{shard,shards}`.
pub(crate) const PLATFORM_SHARD_INFO: &str = "sobot_exporter_platform_shard_info";
/// `sobot_exporter_platform_shards`.
pub(crate) const PLATFORM_SHARDS: &str = "sobot_exporter_platform_shards";
/// `sobot_exporter_platform_tenants_discovered`.
pub(crate) const PLATFORM_TENANTS_DISCOVERED: &str = "sobot_exporter_platform_tenants_discovered";
/// `sobot_exporter_platform_discovery_success`.
pub(crate) const PLATFORM_DISCOVERY_SUCCESS: &str = "sobot_exporter_platform_discovery_success";
/// `sobot_exporter_platform_tenants_served`.
pub(crate) const PLATFORM_TENANTS_SERVED: &str = "sobot_exporter_platform_tenants_served";

/// `process_cpu_seconds_total`.
pub(crate) const PROCESS_CPU_SECONDS: &str = "process_cpu_seconds_total";
/// `process_resident_memory_bytes`.
pub(crate) const PROCESS_RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
/// `process_virtual_memory_bytes`.
pub(crate) const PROCESS_VIRTUAL_MEMORY: &str = "process_virtual_memory_bytes";
/// `process_virtual_memory_max_bytes`.
pub(crate) const PROCESS_VIRTUAL_MEMORY_MAX: &str = "process_virtual_memory_max_bytes";
/// `process_open_fds`.
pub(crate) const PROCESS_OPEN_FDS: &str = "process_open_fds";
/// `process_max_fds`.
pub(crate) const PROCESS_MAX_FDS: &str = "process_max_fds";
/// `process_start_time_seconds`.
pub(crate) const PROCESS_START_TIME: &str = "process_start_time_seconds";
/// `process_threads`.
pub(crate) const PROCESS_THREADS: &str = "process_threads";

/// Every self-metric.
pub static SELF_METRICS: &[SelfMetric] = &[
    metric(
        BUILD_INFO,
        Kind::Gauge,
        &["branch", "build_date", "revision", "rustc_version", "version"],
        "Build information of the exporter (as --version prints it); value 1.",
    ),
    metric(
        CONFIG_LAST_RELOAD_SUCCESSFUL,
        Kind::Gauge,
        &[],
        "Whether the last configuration reload (SIGHUP or POST /-/reload) succeeded (1) or failed and left the running configuration in force (0); 1 from the start.",
    ),
    metric(
        CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP,
        Kind::Gauge,
        &[],
        "Unix time of the last successful configuration load (the start or a reload).",
    ),
    metric(
        COLLECTOR_SUCCESS,
        Kind::Gauge,
        &["collector"],
        "Whether the collector's last cycle succeeded (1) or failed (0).",
    ),
    metric(
        COLLECTOR_DURATION,
        Kind::Gauge,
        &["collector"],
        "Duration of the collector's last cycle, in seconds.",
    ),
    metric(
        COLLECTOR_LAST_SUCCESS,
        Kind::Gauge,
        &["collector"],
        "Unix time of the collector's last successful cycle.",
    ),
    metric(
        COLLECTOR_INTERVAL,
        Kind::Gauge,
        &["collector"],
        "Configured interval between the collector's cycles, in seconds.",
    ),
    metric(
        COLLECTOR_SERIES,
        Kind::Gauge,
        &["collector"],
        "Series the collector currently exports (kept from a failed cycle until they expire).",
    ),
    metric(
        COLLECTOR_TRUNCATED,
        Kind::Gauge,
        &["collector"],
        "Whether the collector's last cycle stopped at the page cap before the last page (1) or not (0).",
    ),
    metric(
        COLLECTOR_FAILED_PARTS,
        Kind::Gauge,
        &["collector"],
        "Parts of the collector's last cycle that failed (skill groups of a per-group collector, per window) while the others were exported.",
    ),
    metric(
        AGENTS_DROPPED,
        Kind::Gauge,
        &["collector"],
        "Agents (or seats) dropped by the cardinality guard (max_agents) in the collector's last cycle.",
    ),
    metric(
        UPSTREAM_REQUESTS,
        Kind::Counter,
        &["endpoint", "code"],
        "Upstream API requests by endpoint and result code (000000, 200000 or 0 is success; the vendors' documented codes, other for an undocumented one, invalid_code for one that is not a code; http_NNN, timeout, connect and reset are transport failures, invalid_response an answer that is not JSON or not of the documented shape, fd_limit the exporter out of file descriptors; deadline a request its cycle's deadline cut off; budget a request not sent because the endpoint's rate limit had no slot before its cycle's deadline).",
    ),
    metric(
        PARSE_ERRORS,
        Kind::Counter,
        &["endpoint", "field"],
        "Upstream values that did not parse; no sample was exported for them.",
    ),
    metric(
        UPSTREAM_ITEMS_DROPPED,
        Kind::Counter,
        &["endpoint"],
        "List items of upstream answers skipped unread because a list held more than the cap for that endpoint (20,000 items; 200,000 for the platform's lists).",
    ),
    metric(
        UPSTREAM_DUPLICATE_ITEMS,
        Kind::Counter,
        &["endpoint"],
        "List items of upstream answers skipped because an earlier item of the same cycle and window had the same id (agent, seat, tenant, staff, or quality record): the first is used whole.",
    ),
    metric(
        PLATFORM_SHARD_INFO,
        Kind::Gauge,
        &["shard", "shards"],
        "This replica's share of the platform's tenants (--platform.shard N/M); value 1.",
    ),
    metric(
        PLATFORM_SHARDS,
        Kind::Gauge,
        &[],
        "Number of shards the platform's tenants are split into (M of --platform.shard).",
    ),
    metric(
        PLATFORM_TENANTS_DISCOVERED,
        Kind::Gauge,
        &[],
        "Tenants the platform lists that some shard serves (the config's include and exclude lists allow them; a reserved id, company or platform, and the configured company's own app id left out), as of the last successful discovery.",
    ),
    metric(
        PLATFORM_DISCOVERY_SUCCESS,
        Kind::Gauge,
        &[],
        "Whether the last discovery of the platform's tenants (getBatchAppKey) succeeded (1) or failed (0); a failed one keeps the last good list.",
    ),
    metric(
        PLATFORM_TENANTS_SERVED,
        Kind::Gauge,
        &[],
        "Tenants of this replica's shard, collected as targets of their own: those /sd lists.",
    ),
    metric(HTTP_CONNECTIONS, Kind::Gauge, &[], "HTTP connections open to the exporter's server."),
    metric(
        HTTP_MAX_CONNECTIONS,
        Kind::Gauge,
        &[],
        "Most HTTP connections the server keeps open (--web.max-connections).",
    ),
    metric(
        HTTP_CONNECTIONS_CLOSED,
        Kind::Counter,
        &["reason"],
        "HTTP connections the server closed, by reason: limit (closed to make room, or refused, at --web.max-connections), write_timeout (a response made no progress for --web.write-timeout), idle_timeout (no complete request header within --web.idle-timeout), max_age (open longer than --web.max-connection-age).",
    ),
    metric(
        HTTP_TLS_HANDSHAKE_FAILURES,
        Kind::Counter,
        &["reason"],
        "Connections to the TLS listener that failed before TLS was set up, by reason: plain_http (an HTTP request, answered 400), not_tls (other bytes than a TLS handshake), closed (the client closed or reset the connection, as TCP probes do), timeout (no handshake within --web.idle-timeout), incompatible (no TLS version, cipher suite, group or signature scheme in common), no_certificate (client_auth_type requires a client certificate and none was sent), unknown_ca (a client certificate not signed by client_ca_file), expired (a client certificate expired or not yet valid), bad_certificate (a client certificate refused otherwise: malformed, X.509 v1, not for client auth), client_alert (the client ended the handshake, often because it does not trust the server's certificate), protocol (a message that breaks the protocol), other. Only with TLS; the first of each reason is logged.",
    ),
    // The process metrics (read by the process module): names and HELP texts of the Go client's collector.
    metric(PROCESS_CPU_SECONDS, Kind::Counter, &[], "Total user and system CPU time spent in seconds."),
    metric(PROCESS_OPEN_FDS, Kind::Gauge, &[], "Number of open file descriptors."),
    metric(PROCESS_MAX_FDS, Kind::Gauge, &[], "Maximum number of open file descriptors."),
    metric(PROCESS_VIRTUAL_MEMORY, Kind::Gauge, &[], "Virtual memory size in bytes."),
    metric(
        PROCESS_VIRTUAL_MEMORY_MAX,
        Kind::Gauge,
        &[],
        "Maximum amount of virtual memory available in bytes.",
    ),
    metric(PROCESS_RESIDENT_MEMORY, Kind::Gauge, &[], "Resident memory size in bytes."),
    metric(PROCESS_START_TIME, Kind::Gauge, &[], "Start time of the process since unix epoch in seconds."),
    metric(PROCESS_THREADS, Kind::Gauge, &[], "Number of OS threads in the process."),
    metric(
        TOKEN_REFRESHES,
        Kind::Counter,
        &["result"],
        "Fetches of a new upstream access token, by result (success, failure).",
    ),
];

/// The self-metrics' current values. Cheap to update from any task; never held across `.await`.
#[derive(Debug)]
pub struct Telemetry {
    values: Mutex<BTreeMap<(&'static str, Labels), f64>>,
    /// Changes so far, for a publisher that republishes only on a change.
    changes: std::sync::atomic::AtomicU64,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// No values yet.
    pub fn new() -> Self {
        Telemetry { values: Mutex::default(), changes: std::sync::atomic::AtomicU64::new(0) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(&'static str, Labels), f64>> {
        self.values.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The values, to change them: counted in [`Telemetry::changes`].
    fn lock_mut(&self) -> std::sync::MutexGuard<'_, BTreeMap<(&'static str, Labels), f64>> {
        self.changes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.lock()
    }

    /// How many times the values were changed so far.
    pub(crate) fn changes(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets a gauge.
    pub fn set(&self, metric: &'static str, labels: Labels, value: f64) {
        self.lock_mut().insert((metric, labels), value);
    }

    /// Adds one to a counter.
    pub(crate) fn inc(&self, metric: &'static str, labels: Labels) {
        *self.lock_mut().entry((metric, labels)).or_insert(0.0) += 1.0;
    }

    /// Sets a per-collector gauge.
    pub(crate) fn set_collector(&self, metric: &'static str, collector: &str, value: f64) {
        self.set(metric, vec![("collector", collector.to_string())], value);
    }

    /// The current value of a series, if it has one.
    pub fn get(&self, metric: &'static str, labels: &Labels) -> Option<f64> {
        self.lock().get(&(metric, labels.clone())).copied()
    }

    /// Counts one upstream request outcome.
    pub(crate) fn count_request(&self, endpoint: &str, code: &str) {
        self.inc(UPSTREAM_REQUESTS, vec![("endpoint", endpoint.to_string()), ("code", code.to_string())]);
    }

    /// Counts list items of an answer of `endpoint` skipped past the cap.
    pub(crate) fn count_items_dropped(&self, endpoint: &str, items: u64) {
        #[allow(clippy::cast_precision_loss)]
        let items = items as f64;
        *self
            .lock_mut()
            .entry((UPSTREAM_ITEMS_DROPPED, vec![("endpoint", endpoint.to_string())]))
            .or_insert(0.0) += items;
    }

    /// Counts one list item of `endpoint` that repeated an earlier one's id.
    pub(crate) fn count_duplicate_item(&self, endpoint: &str) {
        self.inc(UPSTREAM_DUPLICATE_ITEMS, vec![("endpoint", endpoint.to_string())]);
    }

    /// Counts one value that did not parse.
    pub(crate) fn count_parse_error(&self, endpoint: &str, field: &str) {
        self.inc(PARSE_ERRORS, vec![("endpoint", endpoint.to_string()), ("field", field.to_string())]);
    }

    /// Counts `n` values of `endpoint` that did not parse.
    pub(crate) fn count_parse_errors(&self, endpoint: &str, field: &str, n: u64) {
        #[allow(clippy::cast_precision_loss)]
        let n = n as f64;
        let labels = vec![("endpoint", endpoint.to_string()), ("field", field.to_string())];
        *self.lock_mut().entry((PARSE_ERRORS, labels)).or_insert(0.0) += n;
    }

    /// Counts one token fetch.
    pub(crate) fn count_token_refresh(&self, ok: bool) {
        self.inc(TOKEN_REFRESHES, vec![("result", (if ok { "success" } else { "failure" }).to_string())]);
    }

    /// The self-metrics as families (one per metric that has a series).
    pub fn families(&self) -> Vec<Family> {
        families(&self.lock())
    }
}

/// The process-wide self-metrics, `sobot_exporter_build_info` set; the reload status is set by
/// the app.
pub fn process_telemetry() -> Telemetry {
    let telemetry = Telemetry::new();
    telemetry.set(BUILD_INFO, crate::build_info::labels(), 1.0);
    telemetry
}

/// The process-wide self-metrics as families: those of `process` (from [`process_telemetry`])
/// and `values` (the HTTP server's).
pub(crate) fn process_families(
    process: &Telemetry,
    values: impl IntoIterator<Item = (&'static str, Labels, f64)>,
) -> Vec<Family> {
    let mut all = process.lock().clone();
    all.extend(values.into_iter().map(|(metric, labels, value)| ((metric, labels), value)));
    families(&all)
}

fn families(values: &BTreeMap<(&'static str, Labels), f64>) -> Vec<Family> {
    SELF_METRICS
        .iter()
        .filter_map(|m| {
            let samples: Vec<Sample> = values
                .iter()
                .filter(|((name, _), _)| *name == m.name)
                .map(|((_, labels), value)| Sample { labels: labels.clone(), value: *value })
                .collect();
            (!samples.is_empty()).then(|| Family {
                name: Arc::from(m.name),
                help: Arc::from(m.help),
                kind: m.kind,
                samples,
            })
        })
        .collect()
}
