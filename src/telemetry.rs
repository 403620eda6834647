//! The exporter's own metrics (`sobot_exporter_*`), kept in their own registry.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of per-collector health series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CollectorLabels {
    /// Collector name, e.g. `robot_session`.
    pub collector: String,
}

/// Labels of upstream request counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Upstream endpoint name, e.g. `get_token`, `robot_session`.
    pub endpoint: String,
    /// The upstream's result code (`000000`, `910002`, …) or a transport outcome
    /// (`http_503`, `timeout`, `connect`, `invalid_response`).
    pub code: String,
}

/// Labels of value parse errors.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FieldLabels {
    /// Upstream endpoint name.
    pub endpoint: String,
    /// Upstream JSON field.
    pub field: String,
}

/// Labels of token refreshes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `success` or `failure`.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Every self-metric. Cheap to update from any task; encoded with the collected data.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
    /// `sobot_exporter_collector_success{collector}`: 1 if the last cycle succeeded.
    pub collector_success: Family<CollectorLabels, Gauge>,
    /// `sobot_exporter_collector_duration_seconds{collector}`: duration of the last cycle.
    pub collector_duration: Family<CollectorLabels, FloatGauge>,
    /// `sobot_exporter_collector_last_success_timestamp_seconds{collector}`.
    pub collector_last_success: Family<CollectorLabels, FloatGauge>,
    /// `sobot_exporter_collector_interval_seconds{collector}`: the configured interval.
    pub collector_interval: Family<CollectorLabels, FloatGauge>,
    /// `sobot_exporter_collector_series{collector}`: series the collector currently exports.
    pub collector_series: Family<CollectorLabels, Gauge>,
    /// `sobot_exporter_collector_truncated{collector}`: 1 if the last cycle stopped at the page cap.
    pub collector_truncated: Family<CollectorLabels, Gauge>,
    /// `sobot_exporter_agents_dropped{collector}`: agents over `max_agents` in the last cycle.
    pub agents_dropped: Family<CollectorLabels, Gauge>,
    /// `sobot_exporter_upstream_requests_total{endpoint,code}`.
    pub upstream_requests: Family<RequestLabels, Counter>,
    /// `sobot_exporter_parse_errors_total{endpoint,field}`.
    pub parse_errors: Family<FieldLabels, Counter>,
    /// `sobot_exporter_token_refreshes_total{result}`.
    pub token_refreshes: Family<ResultLabels, Counter>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// Creates and registers every self-metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sobot_exporter");
        let t = Telemetry {
            registry: Registry::default(),
            collector_success: Family::default(),
            collector_duration: Family::default(),
            collector_last_success: Family::default(),
            collector_interval: Family::default(),
            collector_series: Family::default(),
            collector_truncated: Family::default(),
            agents_dropped: Family::default(),
            upstream_requests: Family::default(),
            parse_errors: Family::default(),
            token_refreshes: Family::default(),
        };
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info.get_or_create(&BuildLabels { version: env!("CARGO_PKG_VERSION").to_string() }).set(1);
        registry.register("build_info", "Build information of the exporter; value 1.", build_info);
        registry.register(
            "collector_success",
            "Whether the collector's last cycle succeeded (1) or failed (0).",
            t.collector_success.clone(),
        );
        registry.register(
            "collector_duration_seconds",
            "Duration of the collector's last cycle, in seconds.",
            t.collector_duration.clone(),
        );
        registry.register(
            "collector_last_success_timestamp_seconds",
            "Unix time of the collector's last successful cycle.",
            t.collector_last_success.clone(),
        );
        registry.register(
            "collector_interval_seconds",
            "Configured interval between the collector's cycles, in seconds.",
            t.collector_interval.clone(),
        );
        registry.register(
            "collector_series",
            "Series the collector currently exports (kept from a failed cycle until they expire).",
            t.collector_series.clone(),
        );
        registry.register(
            "collector_truncated",
            "Whether the collector's last cycle stopped at the page cap before the last page (1) or not (0).",
            t.collector_truncated.clone(),
        );
        registry.register(
            "agents_dropped",
            "Agents dropped by the cardinality guard (max_agents) in the collector's last cycle.",
            t.agents_dropped.clone(),
        );
        registry.register(
            "upstream_requests",
            "Upstream API requests by endpoint and result code (000000 is success; http_NNN, timeout, \
             connect and invalid_response are transport failures).",
            t.upstream_requests.clone(),
        );
        registry.register(
            "parse_errors",
            "Upstream values that did not parse (no sample is exported for them).",
            t.parse_errors.clone(),
        );
        registry.register(
            "token_refreshes",
            "Fetches of a new upstream access token, by result.",
            t.token_refreshes.clone(),
        );
        Telemetry { registry, ..t }
    }

    /// The registry holding every self-metric, for encoding.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts one upstream request outcome.
    pub fn count_request(&self, endpoint: &str, code: &str) {
        self.upstream_requests
            .get_or_create(&RequestLabels { endpoint: endpoint.to_string(), code: code.to_string() })
            .inc();
    }

    /// Counts one value that did not parse.
    pub fn count_parse_error(&self, endpoint: &str, field: &str) {
        self.parse_errors
            .get_or_create(&FieldLabels { endpoint: endpoint.to_string(), field: field.to_string() })
            .inc();
    }

    /// Counts one token fetch.
    pub fn count_token_refresh(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.token_refreshes.get_or_create(&ResultLabels { result: result.to_string() }).inc();
    }
}
