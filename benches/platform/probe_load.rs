//! `/probe?target=` under `wrk`, next to nginx serving the same body.

use std::path::Path;

use crate::figures::count_series;
use crate::support::*;
use crate::{Running, WRK_ARGS};

/// `/probe?target=<target>` under wrk, then nginx serving the same body the same way.
pub(crate) async fn probe_under_load(r: &Running, dir: &Path, target: &str) {
    let path = format!("/probe?target={target}");
    let response = r.client.get(r.url(&path)).send().await.expect("GET /probe");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(sobot_exporter::exposition::TEXT)
        .to_string();
    let body = response.bytes().await.expect("/probe body");
    println!(
        "  /probe?target=<one tenant>: {} series, {:.1} KiB",
        count_series(&String::from_utf8_lossy(&body)).all,
        body.len() as f64 / 1024.0
    );
    if which("wrk").is_none() {
        println!("  wrk: not found on PATH; skipping /probe under load (apt-get install -y wrk)");
        return;
    }
    let ours = wrk(&r.url(&path)).await;
    if let Some(o) = &ours {
        println!(
            "  /probe under wrk {}: p50 {:.3} ms, p99 {:.3} ms, {:.0} req/s{}",
            WRK_ARGS.join(" "),
            o.p50_ms,
            o.p99_ms,
            o.requests_per_s,
            o.problems()
        );
    }
    if which("nginx").is_none() {
        println!("  nginx: not found on PATH; skipping the comparison with nginx (apt-get install -y nginx)");
        return;
    }
    let www = dir.join("www");
    std::fs::create_dir_all(&www).expect("create the nginx document root");
    std::fs::write(www.join("probe"), &body).expect("save the probe body");
    let Some(nginx) = Nginx::start(dir, &www, &content_type, "location = /probe { }", "/probe").await else {
        return;
    };
    let nginx_url = nginx.url(&path);
    if reqwest::get(&nginx_url).await.ok().map(|r| r.status()) != Some(reqwest::StatusCode::OK) {
        println!("  nginx: {nginx_url} does not answer 200; skipping the comparison");
        return;
    }
    if let (Some(o), Some(t)) = (ours, wrk(&nginx_url).await) {
        println!(
            "  the same body from nginx:  p50 {:.3} ms, p99 {:.3} ms, {:.0} req/s{}; exporter/nginx p50 {:.2}x, \
             p99 {:.2}x, req/s {:.2}x",
            t.p50_ms,
            t.p99_ms,
            t.requests_per_s,
            t.problems(),
            ratio(o.p50_ms, t.p50_ms),
            ratio(o.p99_ms, t.p99_ms),
            ratio(o.requests_per_s, t.requests_per_s)
        );
    }
}

/// What one `wrk` run reported.
pub(crate) struct WrkRun {
    pub(crate) requests_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    pub(crate) errors: Vec<String>,
}

impl WrkRun {
    pub(crate) fn problems(&self) -> String {
        if self.errors.is_empty() { String::new() } else { format!(" ({})", self.errors.join(", ")) }
    }
}

/// Runs `wrk` ([`run_wrk`]) with [`WRK_ARGS`] and reads its rate and latencies; `None`, with a
/// printed reason, if it fails.
pub(crate) async fn wrk(url: &str) -> Option<WrkRun> {
    let stdout = run_wrk(&WRK_ARGS, url).await?;
    let after =
        |prefix: &str| stdout.lines().map(str::trim).find_map(|l| l.strip_prefix(prefix)).map(str::trim);
    let parsed = (|| {
        Some(WrkRun {
            requests_per_s: after("Requests/sec:")?.parse().ok()?,
            p50_ms: wrk_ms(after("50%")?)?,
            p99_ms: wrk_ms(after("99%")?)?,
            errors: wrk_errors(&stdout),
        })
    })();
    if parsed.is_none() {
        println!("    wrk {url}: cannot read its output:\n{stdout}");
    }
    parsed
}

/// A wrk duration (`812.00us`, `1.20ms`, `2.01s`) in milliseconds.
pub(crate) fn wrk_ms(text: &str) -> Option<f64> {
    let number = |suffix: &str| text.strip_suffix(suffix).and_then(|n| n.parse::<f64>().ok());
    number("us").map(|v| v / 1000.0).or_else(|| number("ms")).or_else(|| number("s").map(|v| v * 1000.0))
}
