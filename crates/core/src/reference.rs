//! The metrics reference, generated from the registry of sources (each writes its own part from
//! its tables) and the self-metrics. docs/metrics.md embeds it; a test fails when the two differ.

use std::fmt::Write;

use crate::snapshot::Kind;
use crate::sources::SOURCES;
use crate::telemetry::SELF_METRICS;

/// The reference as Markdown.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "All collected values are gauges labelled `window` (`today`, `yesterday`). Ratios are 0–1, \
         durations are seconds. Each heading is a collector name (the `collectors` config key).\n",
    );
    for source in SOURCES {
        (source.reference)(&mut out);
    }
    out.push_str("\n#### Exporter health\n\n| Metric | Type | Labels | Meaning |\n|---|---|---|---|\n");
    for m in SELF_METRICS {
        let kind = match m.kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(out, "| `{}` | {kind} | {} | {} |", m.name, m.labels.join(", "), m.help);
    }
    out
}
