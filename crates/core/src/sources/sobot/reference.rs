//! Sobot's part of the metrics reference: the statistics endpoints, their per-group twins and
//! quality inspection, from their tables.

use std::fmt::Write;

use super::endpoints::{ENDPOINTS, Endpoint, Rows, note};
use super::quality::{PARTS, QUALITY_METRICS, QUALITY_SOURCES};

fn row_labels(ep: &Endpoint) -> Vec<String> {
    match ep.rows {
        Rows::Item => Vec::new(),
        Rows::Items(keys) => keys.iter().map(|(label, _)| (*label).to_string()).collect(),
    }
}

/// Sobot's part of the reference, in Markdown.
pub(super) fn reference(out: &mut String) {
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
                match note(f.metric) {
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
}
