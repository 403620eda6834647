//! The metrics reference, generated from the endpoint table and the self-metrics list. The README
//! embeds it; a test fails when the two differ.

use std::fmt::Write;

use crate::sobot::endpoints::ENDPOINTS;

/// Self-metrics: name as exposed, type, labels, description.
pub const SELF_METRICS: &[(&str, &str, &str, &str)] = &[
    (
        "sobot_exporter_build_info",
        "gauge",
        "version",
        "Build information; value 1.",
    ),
    (
        "sobot_exporter_collector_success",
        "gauge",
        "collector",
        "1 if the collector's last cycle succeeded, else 0.",
    ),
    (
        "sobot_exporter_collector_duration_seconds",
        "gauge",
        "collector",
        "Duration of the collector's last cycle.",
    ),
    (
        "sobot_exporter_collector_last_success_timestamp_seconds",
        "gauge",
        "collector",
        "Unix time of the collector's last successful cycle.",
    ),
    (
        "sobot_exporter_collector_interval_seconds",
        "gauge",
        "collector",
        "Configured interval between the collector's cycles.",
    ),
    (
        "sobot_exporter_collector_series",
        "gauge",
        "collector",
        "Series the collector currently exports.",
    ),
    (
        "sobot_exporter_upstream_requests_total",
        "counter",
        "endpoint, code",
        "Upstream requests by endpoint and result code (`000000` success; vendor codes; `http_NNN`, `timeout`, `connect`, `invalid_response`).",
    ),
    (
        "sobot_exporter_parse_errors_total",
        "counter",
        "endpoint, field",
        "Upstream values that did not parse; no sample was exported for them.",
    ),
    (
        "sobot_exporter_token_refreshes_total",
        "counter",
        "result",
        "Token fetches by result (`success`, `failure`).",
    ),
];

/// The reference as Markdown.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "All collected values are gauges labelled `window` (`today`, `yesterday`). Ratios are 0–1, \
         durations are seconds.\n",
    );
    for ep in ENDPOINTS {
        let _ = write!(
            out,
            "\n#### `{}` — {} (§{}, `{}` dates)\n\n| Metric | Labels | Unit | Upstream field | 中文 | Meaning |\n|---|---|---|---|---|---|\n",
            ep.name,
            ep.title_zh,
            ep.section,
            ep.date_format.pattern()
        );
        for f in ep.fields {
            let mut labels: Vec<String> = f
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            labels.push("window".to_string());
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | `{}` | {} | {} |",
                f.metric,
                labels.join(", "),
                f.unit.describe(),
                f.key,
                f.zh,
                f.en
            );
        }
    }
    out.push_str(
        "\n#### Exporter health\n\n| Metric | Type | Labels | Meaning |\n|---|---|---|---|\n",
    );
    for (name, kind, labels, help) in SELF_METRICS {
        let _ = writeln!(out, "| `{name}` | {kind} | {labels} | {help} |");
    }
    out
}
