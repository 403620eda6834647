//! /metrics as scrapers see it: formats, compression, lint, routes.

mod common;

use std::io::Read;
use std::time::Duration;

use common::*;

const SECS: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread")]
async fn content_negotiation_and_gzip() {
    let sim = fixture_simulator().await;
    // One cycle a minute: the two scrapes below see the same snapshot.
    let exporter = Exporter::start("negotiation", &sim.base_url(), &["--collect.interval", "60s"]).await;
    exporter.wait_for("all collectors", SECS, |m| m.all_succeeded(&ALL)).await;
    let client =
        reqwest::Client::builder().no_gzip().timeout(Duration::from_secs(5)).build().expect("client");

    let text = client.get(exporter.url("/metrics")).send().await.expect("scrape");
    assert_eq!(text.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let text = text.text().await.expect("body");
    assert!(text.contains("# TYPE sobot_exporter_upstream_requests_total counter"));
    assert!(!text.contains("# EOF"));

    let prometheus_accept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
        application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
    let om = client
        .get(exporter.url("/metrics"))
        .header("Accept", prometheus_accept)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .expect("scrape");
    assert_eq!(om.headers()["content-type"], "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert_eq!(om.headers()["content-encoding"], "gzip");
    let compressed = om.bytes().await.expect("body");
    let (mut om_text, mut rest) = (String::new(), &compressed[..]);
    flate2::bufread::GzDecoder::new(&mut rest).read_to_string(&mut om_text).expect("valid gzip");
    // One gzip member (the targets' cached part continued with the process's figures), no more.
    assert!(rest.is_empty(), "{} bytes after the first gzip member", rest.len());
    assert!(om_text.ends_with("# EOF\n"));
    assert!(om_text.contains("# TYPE sobot_exporter_upstream_requests counter"));
    assert!(compressed.len() * 3 < om_text.len(), "gzip pays off");
    // Same samples in both formats.
    let samples = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(samples(&text), samples(&om_text));
}

#[tokio::test(flavor = "multi_thread")]
async fn promtool_finds_no_problem() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("promtool", &sim.base_url(), &["--collect.interval", "1s"]).await;
    exporter.wait_for("all collectors", SECS, |m| m.all_succeeded(&STATS)).await;
    let body = exporter.scrape().await;
    let path = write_file(exporter.dir(), "metrics.prom", &body);
    let out = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&path).expect("open"))
        .output()
        .expect("promtool is installed (Debian package prometheus; .ci/run installs it)");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.trim().is_empty(), "promtool check metrics: {report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn routes() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("routes", &sim.base_url(), &["--web.telemetry-path", "/stats"]).await;
    let client = http();
    let landing = client.get(exporter.url("/")).send().await.expect("landing");
    assert_eq!(landing.status(), 200);
    assert!(landing.text().await.expect("body").contains("href=\"/stats\""));
    let health = client.get(exporter.url("/healthz")).send().await.expect("healthz");
    assert_eq!((health.status().as_u16(), health.text().await.expect("body")), (200, "ok\n".to_string()));
    assert_eq!(client.get(exporter.url("/metrics")).send().await.expect("get").status(), 404);
    let stats = client.get(exporter.url("/stats")).send().await.expect("stats");
    assert_eq!(stats.status(), 200);
    let build = sobot_exporter_core::build_info::labels();
    let labels: Vec<String> = build.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let line = format!("sobot_exporter_build_info{{{}}} 1", labels.join(","));
    let text = stats.text().await.expect("body");
    assert!(text.contains(&line), "{line} not in {text}");
    assert!(sobot_exporter_core::build_info::VERSION_LINE.contains(&format!("revision {}", build[2].1)));
    assert_eq!(client.post(exporter.url("/stats")).send().await.expect("post").status(), 405);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_paths_are_404_whatever_the_method_and_known_ones_say_what_they_allow() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("methods", &sim.base_url(), &[]).await;
    let client = http();
    assert_eq!(client.post(exporter.url("/nope")).send().await.expect("post").status(), 404);
    assert_eq!(client.delete(exporter.url("/nope")).send().await.expect("delete").status(), 404);
    for path in ["/metrics", "/sd", "/probe", "/healthz", "/"] {
        let r = client.post(exporter.url(path)).send().await.expect("post");
        assert_eq!(r.status(), 405, "{path}");
        assert_eq!(r.headers()["allow"], "GET, HEAD", "{path}");
    }
    let head = client.head(exporter.url("/metrics")).send().await.expect("head");
    assert_eq!(head.status(), 200);
}
