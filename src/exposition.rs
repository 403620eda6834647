//! The `/metrics` body: encoded once per change in both exposition formats, plain and gzipped, so
//! a scrape only picks bytes.

use std::io::Write;
use std::sync::OnceLock;

use bytes::Bytes;
use flate2::{Compression, write::GzEncoder};
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::registry::Registry;

use crate::snapshot::{Merged, Store};
use crate::telemetry::Telemetry;

/// Content type of the OpenMetrics 1.0 text format.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of the Prometheus text format 0.0.4.
pub const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One format's body, plain and (on first demand, then kept) gzipped.
#[derive(Debug, Clone)]
pub struct Body {
    /// Uncompressed bytes.
    pub plain: Bytes,
    /// The same, gzip-compressed once by the first scrape that asks for it: most deployments
    /// only ever ask for one of the four variants.
    gzip: OnceLock<Bytes>,
}

impl Body {
    fn new(plain: Vec<u8>) -> Self {
        Self { plain: Bytes::from(plain), gzip: OnceLock::new() }
    }

    /// The body gzip-compressed (fast level: scrapes want low latency more than the last 10 %).
    pub fn gzip(&self) -> Bytes {
        self.gzip
            .get_or_init(|| {
                let mut gz = GzEncoder::new(Vec::with_capacity(self.plain.len() / 5), Compression::fast());
                // Writing to a Vec cannot fail.
                Bytes::from(gz.write_all(&self.plain).and_then(|()| gz.finish()).unwrap_or_default())
            })
            .clone()
    }
}

/// The current exposition in both formats.
#[derive(Debug, Clone)]
pub struct Exposition {
    /// OpenMetrics 1.0 text, for scrapers that ask for it (Prometheus does).
    pub openmetrics: Body,
    /// Prometheus text 0.0.4, for everything else (curl, promtool).
    pub text: Body,
}

/// Encodes every collector's snapshot and the self-metrics.
pub fn encode(store: &Store, telemetry: &Telemetry) -> Result<Exposition, std::fmt::Error> {
    let snapshots = store.all();
    let own = telemetry.families();
    let mut data = Registry::default();
    Merged::new(snapshots.iter().flat_map(|s| s.families.iter()).chain(&own)).register(&mut data);
    let mut om = String::with_capacity(64 * 1024);
    encode_registry(&mut om, &data)?;
    encode_eof(&mut om)?;
    let text = openmetrics_to_text(&om);
    Ok(Exposition { openmetrics: Body::new(om.into_bytes()), text: Body::new(text.into_bytes()) })
}

/// Rewrites the OpenMetrics text the client library produces as Prometheus text 0.0.4: counters
/// are named with their `_total` suffix in HELP/TYPE, and `# UNIT` and `# EOF` go. Everything
/// else (gauges, label escaping, number format) is the same in both formats.
pub fn openmetrics_to_text(om: &str) -> String {
    let mut out = String::with_capacity(om.len());
    let mut pending_help: Option<&str> = None;
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if line.starts_with("# HELP ") {
            if let Some(help) = pending_help.replace(line) {
                push_line(&mut out, help);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let help = pending_help.take();
            match rest.strip_suffix(" counter") {
                Some(name) => {
                    if let Some(help) = help {
                        let text = help.strip_prefix("# HELP ").and_then(|h| h.strip_prefix(name));
                        out.push_str(&format!("# HELP {name}_total{}\n", text.unwrap_or("")));
                    }
                    out.push_str(&format!("# TYPE {name}_total counter\n"));
                }
                None => {
                    if let Some(help) = help {
                        push_line(&mut out, help);
                    }
                    push_line(&mut out, line);
                }
            }
            continue;
        }
        if let Some(help) = pending_help.take() {
            push_line(&mut out, help);
        }
        push_line(&mut out, line);
    }
    if let Some(help) = pending_help {
        push_line(&mut out, help);
    }
    out
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line);
    out.push('\n');
}

/// Whether an `Accept` header prefers OpenMetrics over the 0.0.4 text format.
pub fn prefers_openmetrics(accept: &str) -> bool {
    let mut best_om = 0.0_f64;
    let mut best_text = 0.0_f64;
    for (media, q) in media_ranges(accept) {
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            best_om = best_om.max(q);
        } else if media.eq_ignore_ascii_case("text/plain") {
            best_text = best_text.max(q);
        }
    }
    best_om > 0.0 && best_om >= best_text
}

/// Whether an `Accept-Encoding` header allows gzip.
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    media_ranges(accept_encoding).any(|(coding, q)| q > 0.0 && coding.eq_ignore_ascii_case("gzip"))
}

/// `(value, q)` pairs of a comma-separated header with `;q=` weights.
fn media_ranges(header: &str) -> impl Iterator<Item = (&str, f64)> {
    header.split(',').map(|part| {
        let mut params = part.split(';');
        let value = params.next().unwrap_or("").trim();
        let q = params
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f64>().ok())
            .filter(|q| q.is_finite())
            .unwrap_or(1.0);
        (value, q)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_get_their_total_names_in_text_format() {
        let om = "# HELP a_requests Requests.\n# TYPE a_requests counter\na_requests_total{code=\"1\"} 2\n\
                  # HELP b_ratio A ratio.\n# TYPE b_ratio gauge\nb_ratio 0.5\n# EOF\n";
        assert_eq!(
            openmetrics_to_text(om),
            "# HELP a_requests_total Requests.\n# TYPE a_requests_total counter\na_requests_total{code=\"1\"} 2\n\
             # HELP b_ratio A ratio.\n# TYPE b_ratio gauge\nb_ratio 0.5\n"
        );
    }

    #[test]
    fn prometheus_accept_headers() {
        let prom3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
                     application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;\
                     escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        assert!(prefers_openmetrics(prom3));
        assert!(!prefers_openmetrics("text/plain;version=0.0.4"));
        assert!(!prefers_openmetrics("*/*"));
        assert!(!prefers_openmetrics(""));
        assert!(!prefers_openmetrics("application/openmetrics-text;q=0"));
        assert!(!prefers_openmetrics("application/openmetrics-text;q=0.1,text/plain;q=0.9"));
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=1.0, *;q=0.5"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip(""));
    }
}
