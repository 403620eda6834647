//! The metrics reference, generated from the tables (endpoints, quality sources, Laaffic seats,
//! the platform, self-metrics).
//! docs/metrics.md embeds it; a test fails when the two differ.

use std::fmt::Write;

use crate::snapshot::Kind;
use crate::sources::laaffic::seats::{SEAT_FIELDS, SEAT_LIVE_METRICS};
use crate::sources::platform::decode::PLATFORM_METRICS;
use crate::sources::sobot::endpoints::{ENDPOINTS, Endpoint, Rows};
use crate::sources::sobot::quality::{PARTS, QUALITY_METRICS, QUALITY_SOURCES};
use crate::telemetry::SELF_METRICS;

fn row_labels(ep: &Endpoint) -> Vec<String> {
    match ep.rows {
        Rows::Item => Vec::new(),
        Rows::Items(keys) => keys.iter().map(|(label, _)| (*label).to_string()).collect(),
    }
}

/// The reference as Markdown.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "All collected values are gauges labelled `window` (`today`, `yesterday`). Ratios are 0–1, \
         durations are seconds. Each heading is a collector name (the `collectors` config key).\n",
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
            let mut labels = row_labels(ep);
            labels.extend(f.labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")));
            labels.push("window".to_string());
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | `{}` | {} | {} |",
                f.metric,
                labels.join(", "),
                f.unit.describe(),
                f.key,
                f.zh,
                // A family of several fields carries its note on its first row.
                match crate::sources::sobot::endpoints::note(f.metric) {
                    Some(note) if ep.fields_of(f.metric)[0].key == f.key => format!("{}. {note}", f.en),
                    _ => f.en.to_string(),
                }
            );
        }
    }
    for ep in ENDPOINTS.iter().filter(|e| e.filters && e.rows == Rows::Item) {
        let _ = write!(
            out,
            "\n#### `group_{}` — {}, per skill group\n\nOne request per configured group (`groupids`); \
             labels `group`, `window`; the same fields as `{}` under their own names, so that `sum()` \
             over groups never meets the company total.\n\n| Metric | Company-wide twin |\n|---|---|\n",
            ep.name, ep.title_zh, ep.name
        );
        let mut seen: Vec<&str> = Vec::new();
        for f in ep.fields {
            if !seen.contains(&f.metric) {
                seen.push(f.metric);
                let _ = writeln!(out, "| `{}` | `{}` |", Endpoint::group_metric(f.metric), f.metric);
            }
        }
    }
    out.push_str("\n#### Quality inspection (`quality_result`, `chat_result`, `call_result`)\n\n");
    out.push_str("| Metric | Labels | Meaning |\n|---|---|---|\n");
    for (name, labels, meaning) in QUALITY_METRICS {
        let _ = writeln!(out, "| `{name}` | {labels} | {meaning} |");
    }
    out.push_str("\n| Collector | Document | `channel` | Dates | Agent, name | Score/full-marks fields (");
    out.push_str(&PARTS.join(", "));
    out.push_str(") |\n|---|---|---|---|---|---|\n");
    for s in QUALITY_SOURCES {
        let scores: Vec<String> = s.scores.iter().map(|(v, m)| format!("`{v}`/`{m}`")).collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | `{}`, `{}` (`{}`) | `{}`, `{}` | {} |",
            s.name,
            s.section,
            s.channel,
            s.dates.0,
            s.dates.1,
            s.dates.2.pattern(),
            s.agent_key,
            s.name_key,
            scores.join(", ")
        );
    }
    out.push_str(
        "\n#### `laaffic_seats` — Laaffic seat query (`POST /v3/cc/seat/query`, `strTime`/`endTime` \
         `yyyy-MM-dd HH:mm:ss`)\n\n| Metric | Labels | Unit | Upstream field | 中文 | Meaning |\n|---|---|---|---|---|---|\n",
    );
    for f in SEAT_FIELDS {
        let _ = writeln!(
            out,
            "| `{}` | seat, group, window | {} | `{}` | {} | {} |",
            f.metric,
            f.unit.describe(),
            f.key,
            f.zh,
            f.en
        );
    }
    for (name, labels, meaning) in SEAT_LIVE_METRICS {
        let _ = writeln!(out, "| `{name}` | {labels} | — | — | — | {meaning} |");
    }
    out.push_str(
        "\n#### Platform mode — Sobot e-commerce platform API (电商平台 API)\n\n`tenant` is a tenant's \
         `companyId`, `staff` a staff id; `window` as above. Each platform endpoint is called at most \
         20 times in any minute (the limit the document states). A dash under 中文: the document names \
         none (getTenantList's answer has no field table).\n\n| Metric | Labels | Unit | Upstream field | 中文 | \
         Meaning |\n|---|---|---|---|---|---|\n",
    );
    for m in PLATFORM_METRICS {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} `{}` | {} | {} |",
            m.name,
            m.labels,
            m.reading.describe(),
            m.endpoint,
            m.key,
            m.zh.unwrap_or("—"),
            m.meaning
        );
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
