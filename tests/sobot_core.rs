//! The core against the simulator: every documented value on /metrics, the token protocol,
//! failures that stay contained, date formats, and secrets that stay secret.

mod common;

use std::time::Duration;

use common::*;

const SECS: Duration = Duration::from_secs(20);

/// Whether a series is the exporter's own (`sobot_exporter_*`, `process_*`), not collected data.
fn own(series: &str) -> bool {
    series.starts_with("sobot_exporter_") || series.starts_with("process_")
}

/// Series of the collected data (not the exporter's own), as sorted text lines.
fn data_lines(m: &Metrics) -> String {
    m.series.iter().filter(|(k, _)| !own(k)).map(|(k, v)| format!("{k} {v}\n")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_value_reaches_metrics_exactly() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("values", &sim.base_url(), &["--collect.interval", "1s"]).await;
    let m = exporter.wait_for("all collectors", SECS, |m| m.all_succeeded(&ALL)).await;

    // The issue's own examples.
    assert_eq!(m.get("sobot_robot_self_reception_ratio{window=\"today\"}"), Some(0.5349));
    assert_eq!(m.get("sobot_human_avg_session_duration_seconds{window=\"today\"}"), Some(435.0));
    assert_eq!(m.get("sobot_human_satisfaction_invited_ratio{window=\"today\"}"), Some(-0.6));
    assert_eq!(m.get("sobot_human_satisfaction_avg_score{window=\"today\"}"), Some(3.8));
    assert_eq!(m.get("sobot_human_satisfaction_score_evaluations{score=\"4\",window=\"today\"}"), Some(1.0));
    // Absent upstream (the §2.5 example has no invite_counts): no sample, not zero.
    assert!(m.family("sobot_human_satisfaction_invitations").is_empty());

    // Every field, against the reviewed golden file.
    let golden_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/fixtures.prom");
    let actual = data_lines(&m);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden_path, &actual).expect("update golden");
    }
    let golden = std::fs::read_to_string(golden_path).expect("golden file");
    assert_eq!(actual, golden, "run with UPDATE_GOLDEN=1 to update after review");

    // Every field of the table is there (all but the one the example omits), once per row of
    // the example: one company row, two agents in §2.11 and §2.12.
    for ep in sobot_exporter_core::sources::sobot::endpoints::ENDPOINTS {
        let rows = if ep.name.starts_with("get_service") || ep.name == "human_duration" { 2 } else { 1 };
        for f in ep.fields {
            let series = m.family(f.metric);
            let want = if f.key == "invite_counts" {
                0
            } else {
                rows * if f.labels.is_empty() { 1 } else { series.len() / rows.max(1) }
            };
            assert_eq!(series.len(), want, "{}", f.metric);
        }
    }
    // Metrics carry HELP texts naming the field, its Chinese name, what the document's example
    // bears out of its numerator and denominator, and the cache interval.
    assert!(m.text.contains(
        "# HELP sobot_robot_self_reception_ratio Ratio of sessions the robot handled alone (独立接待率; \
         Sobot robot_session field self_reception_rate, §2.2), ratio 0–1. self_reception_session / \
         valid_session: the document gives no formula; its example fits (23 / 43 = 53.49 %). Cached, \
         refreshed every 1s."
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn one_token_across_cycles_and_one_refetch_when_it_expires() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("token", &sim.base_url(), &["--collect.interval", "300ms"]).await;
    // Several cycles of every collector.
    exporter.wait_for("three cycles", SECS, |_| STATS.iter().all(|c| sim.requests_to(c).len() >= 3)).await;
    assert_eq!(sim.tokens_issued(), 1, "one token for every collector and cycle");

    sim.expire_token();
    let before = sim.requests().len();
    let m = exporter
        .wait_for("a full cycle after expiry", SECS, |m| {
            m.family("sobot_exporter_upstream_requests_total")
                .iter()
                .any(|(k, v)| k.contains("code=\"910002\"") && *v > 0.0)
                && STATS.iter().all(|c| sim.requests_to(c).iter().skip(3).any(|r| r.code == "000000"))
                && sim.requests().len() > before + 12
        })
        .await;
    assert_eq!(sim.tokens_issued(), 2, "exactly one re-fetch after 910002");
    assert_eq!(m.get("sobot_exporter_token_refreshes_total{result=\"success\"}"), Some(2.0));
    assert!(m.all_succeeded(&STATS));
    assert_eq!(m.get("sobot_robot_self_reception_ratio{window=\"today\"}"), Some(0.5349));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_app_key_is_a_clear_error_not_a_crash() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start_with_env(
        "wrongkey",
        &sim.base_url(),
        &["--collect.interval", "500ms"],
        &[("SOBOT_APP_ID", APP_ID), ("SOBOT_APP_KEY", "not-the-key")],
    )
    .await;
    let m = exporter
        .wait_for("failing collectors", SECS, |m| STATS.iter().all(|c| m.success(c) == Some(0.0)))
        .await;
    assert!(m.get("sobot_exporter_token_refreshes_total{result=\"failure\"}").unwrap_or(0.0) >= 1.0);
    assert!(m.requests("get_token", "910003") >= 1.0);
    assert_eq!(sim.tokens_issued(), 0);
    let logs = exporter.logs();
    assert!(logs.contains("check the app key"), "{logs}");
    assert!(logs.contains("910003"), "{logs}");
    assert!(!logs.contains("not-the-key"));
    assert!(!logs.contains("panicked"));
    // No collected data, and still serving.
    assert!(m.series.keys().all(|k| own(k)));
    let status = exporter.terminate();
    assert_eq!(status.code(), Some(0));
}

/// Injects `fault` into robot_session; checks containment, self-metrics, staleness and recovery.
async fn contained(name: &str, fault: Fault, code: &str) {
    let sim = fixture_simulator().await;
    let dir = temp_dir(name);
    let config = write_file(&dir, "config.yml", "sobot:\n  timeout: 400ms\n  connect_timeout: 400ms\n");
    let exporter = Exporter::start(
        name,
        &sim.base_url(),
        &["--collect.interval", "1s", "--config.file", config.to_str().expect("utf8")],
    )
    .await;
    exporter.wait_for("all collectors", SECS, |m| m.all_succeeded(&STATS)).await;

    sim.set_fault("robot_session", Some(fault));
    let m =
        exporter.wait_for("robot_session failing", SECS, |m| m.success("robot_session") == Some(0.0)).await;
    assert!(m.requests("robot_session", code) >= 1.0, "code {code} counted:\n{}", m.text);
    // The others are intact.
    assert!(m.all_succeeded(&STATS[1..]));
    assert_eq!(m.get("sobot_human_avg_session_duration_seconds{window=\"today\"}"), Some(435.0));

    // A scrape answers at once even while the upstream is failing or slow.
    let started = std::time::Instant::now();
    let body = exporter.scrape().await;
    assert!(started.elapsed() < Duration::from_secs(2), "scrape waited on the upstream");
    assert!(body.contains("sobot_human_consult_sessions"));

    // After three intervals without success its last samples go; the others stay.
    let m = exporter
        .wait_for("stale robot samples dropped", SECS, |m| {
            m.family("sobot_robot_consult_sessions").is_empty()
        })
        .await;
    assert_eq!(m.get("sobot_exporter_collector_series{collector=\"robot_session\"}"), Some(0.0));
    assert_eq!(m.get("sobot_customer_consult_sessions{window=\"today\"}"), Some(170.0));

    sim.set_fault("robot_session", None);
    let m = exporter.wait_for("recovery", SECS, |m| m.success("robot_session") == Some(1.0)).await;
    assert_eq!(m.get("sobot_robot_self_reception_ratio{window=\"today\"}"), Some(0.5349));
    assert!(!exporter.logs().contains("panicked"));
}

#[tokio::test(flavor = "multi_thread")]
async fn http_500_is_contained() {
    contained("http500", Fault::Http(500), "http_500").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_contained() {
    contained("garbage", Fault::Garbage, "invalid_response").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_upstream_is_contained() {
    contained("slow", Fault::Delay(Duration::from_secs(3)), "timeout").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limiting_is_reported() {
    contained("ratelimit", Fault::RetCode("210017"), "210017").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_connection_is_contained_and_named() {
    contained("reset", Fault::Reset, "reset").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_collector_sends_its_endpoints_date_format() {
    let sim = fixture_simulator().await;
    let dir = temp_dir("dates");
    let config = write_file(&dir, "config.yml", "windows: [today, yesterday]\ntimezone: Asia/Shanghai\n");
    let exporter = Exporter::start(
        "dates",
        &sim.base_url(),
        &["--collect.interval", "1s", "--config.file", config.to_str().expect("utf8")],
    )
    .await;
    let m = exporter.wait_for("all collectors", SECS, |m| m.all_succeeded(&ALL)).await;
    assert_eq!(m.get("sobot_robot_consult_sessions{window=\"yesterday\"}"), Some(63.0));
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
    let today = jiff::Timestamp::now().to_zoned(tz).date();
    let days = [today.to_string(), today.yesterday().expect("date").to_string()];
    use sobot_exporter_core::sources::sobot::quality::QUALITY_SOURCES;
    let table = sobot_exporter_core::sources::sobot::endpoints::ENDPOINTS
        .iter()
        .map(|e| (e.name, ("start_date", "end_date"), e.date_format));
    let quality = QUALITY_SOURCES
        .iter()
        .filter(|q| q.name != "chat_result")
        .map(|q| (q.name, (q.dates.0, q.dates.1), q.dates.2));
    for (name, keys, format) in table.chain(quality) {
        let requests = sim.requests_to(name);
        assert!(requests.len() >= 2, "{name}");
        for r in requests {
            assert_eq!(r.code, "000000", "{name} was rejected: {:?}", r.params);
            let param = |k: &str| r.params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).expect(k);
            let (start, end) = (param(keys.0), param(keys.1));
            let (want_start, want_end) = match format {
                sobot_exporter_core::table::DateFormat::Hour => (" 00", " 23"),
                sobot_exporter_core::table::DateFormat::Day => ("", ""),
                sobot_exporter_core::table::DateFormat::Second => (" 00:00:00", " 23:59:59"),
            };
            assert!(days.iter().any(|d| start == format!("{d}{want_start}")), "{name}: {start}");
            assert!(days.iter().any(|d| end == format!("{d}{want_end}")), "{name}: {end}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_key_and_token_never_appear_in_logs_or_metrics() {
    let sim = fixture_simulator().await;
    let exporter =
        Exporter::start("secrets", &sim.base_url(), &["--collect.interval", "300ms", "--log.level", "debug"])
            .await;
    exporter.wait_for("all collectors", SECS, |m| m.all_succeeded(&STATS)).await;
    // Exercise the error paths too: an expired token, a failing endpoint, bad values.
    sim.expire_token();
    sim.inject("message_stats", Fault::Garbage, 2);
    sim.inject("human_session", Fault::RetCode("910002"), 1);
    exporter
        .wait_for("recovery", SECS, |m| {
            m.requests("message_stats", "invalid_response") >= 1.0 && m.all_succeeded(&STATS)
        })
        .await;
    let token = sim.current_token().expect("a token is current");
    let client = http();
    let mut pages = vec![exporter.scrape().await, exporter.logs()];
    for path in ["/", "/healthz", "/nope"] {
        pages.push(client.get(exporter.url(path)).send().await.expect("get").text().await.expect("body"));
    }
    let logs = exporter.logs();
    assert!(logs.contains("\"level\":\"DEBUG\""), "debug logging is on");
    for text in &pages {
        assert!(!text.contains(APP_KEY), "app key leaked");
        assert!(!text.contains(&token), "token leaked");
        assert!(!text.contains("4ac37cb2e9c740dba4b75a34d5358802"), "first token leaked");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn yesterday_is_settled_and_fetched_once_an_hour() {
    let sim = fixture_simulator().await;
    let dir = temp_dir("settled");
    let config = write_file(&dir, "config.yml", "windows: [today, yesterday]\nquality:\n  interval: 300ms\n");
    let exporter = Exporter::start(
        "settled",
        &sim.base_url(),
        &["--collect.interval", "300ms", "--config.file", config.to_str().expect("utf8")],
    )
    .await;
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
    let yesterday = jiff::Timestamp::now().to_zoned(tz).date().yesterday().expect("date").to_string();
    let on_day = |endpoint: &str, key: &str, day: &str| {
        sim.requests_to(endpoint)
            .iter()
            .filter(|r| r.params.iter().any(|(k, v)| k == key && v.starts_with(day)))
            .count()
    };
    let m = exporter
        .wait_for("four cycles", SECS, |_| {
            sim.requests_to("robot_session").len() >= 5 && sim.requests_to("quality_result").len() >= 5
        })
        .await;
    assert_eq!(on_day("robot_session", "start_date", &yesterday), 1, "yesterday fetched once");
    assert_eq!(on_day("quality_result", "start_date", &yesterday), 1, "yesterday's quality once");
    assert!(sim.requests_to("robot_session").len() >= 5, "today every cycle");
    assert_eq!(m.get("sobot_robot_consult_sessions{window=\"yesterday\"}"), Some(63.0), "still exported");
    assert_eq!(
        m.get("sobot_quality_inspections{agent=\"61673ee8d98d4282a95cdad38ffd5f5b\",channel=\"chat\",window=\"yesterday\"}"),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_out_of_range_number_loses_that_value_only() {
    let sim = fixture_simulator().await;
    let body = r#"{"item": {"consult_session": 1e400, "valid_session": "12", "self_reception_rate": "99999999999999999999999999999%"}, "ret_code": "000000"}"#;
    sim.set_fault("robot_session", Some(Fault::Body(body.to_string())));
    let exporter = Exporter::start("out_of_range", &sim.base_url(), &["--collect.interval", "1s"]).await;
    let m = exporter.wait_for("robot_session", SECS, |m| m.success("robot_session") == Some(1.0)).await;
    assert_eq!(m.get("sobot_robot_valid_sessions{window=\"today\"}"), Some(12.0), "the other fields stay");
    assert!(m.family("sobot_robot_consult_sessions").is_empty(), "no sample for 1e400");
    assert!(m.family("sobot_robot_self_reception_ratio").is_empty(), "no 1e28 ratio");
    for field in ["consult_session", "self_reception_rate"] {
        let errors =
            format!("sobot_exporter_parse_errors_total{{endpoint=\"robot_session\",field=\"{field}\"}}");
        assert!(m.get(&errors).is_some_and(|n| n >= 1.0), "{field} counted");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_echoed_by_the_upstream_is_not_logged() {
    let sim = fixture_simulator().await;
    let body = format!(r#"{{"ret_code": "910003", "ret_msg": "signature of {APP_KEY} is wrong"}}"#);
    sim.set_fault("robot_session", Some(Fault::Body(body)));
    let exporter =
        Exporter::start("echo", &sim.base_url(), &["--collect.interval", "500ms", "--log.level", "debug"])
            .await;
    exporter.wait_for("robot_session failing", SECS, |m| m.success("robot_session") == Some(0.0)).await;
    let logs = exporter.logs();
    assert!(logs.contains("signature of <redacted> is wrong"), "{logs}");
    assert!(!logs.contains(APP_KEY), "the key echoed upstream reached the log");
}
