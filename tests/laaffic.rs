//! The Laaffic seat collector against the simulator.

mod common;

use std::time::Duration;

use common::*;

const SECS: Duration = Duration::from_secs(30);

async fn simulator(seats: usize) -> Simulator {
    let config = SimConfig { laaffic_seats: seats, ..SimConfig::fixtures(APP_ID, APP_KEY) };
    Simulator::start(config).await.expect("simulator")
}

/// The exporter with both Sobot and Laaffic credentials, Laaffic pointed at the simulator too.
async fn exporter(name: &str, sim: &Simulator, secret: &str, extra: &[&str]) -> Exporter {
    let base = sim.base_url();
    let mut args = vec!["--collect.interval", "1s", "--laaffic.base-url", &base];
    args.extend_from_slice(extra);
    let env = [
        ("SOBOT_APP_ID", APP_ID),
        ("SOBOT_APP_KEY", APP_KEY),
        ("LAAFFIC_API_KEY", LAAFFIC_KEY),
        ("LAAFFIC_API_SECRET", secret),
    ];
    Exporter::start_with_env(name, &base, &args, &env).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documents_example_gives_exact_values() {
    let sim = simulator(0).await;
    let exporter = exporter("laaffic_values", &sim, LAAFFIC_SECRET, &[]).await;
    let m = exporter.wait_for("seats", SECS, |m| m.all_succeeded(&["laaffic_seats"])).await;
    let seat = "group=\"1000006\",seat=\"681\"";
    assert_eq!(m.get(&format!("laaffic_seat_calls{{{seat},window=\"today\"}}")), Some(0.0));
    assert_eq!(m.get(&format!("laaffic_seat_connected_calls{{{seat},window=\"today\"}}")), Some(0.0));
    assert_eq!(m.get(&format!("laaffic_seat_connect_ratio{{{seat},window=\"today\"}}")), Some(0.0));
    assert_eq!(m.get(&format!("laaffic_seat_valid_connected_calls{{{seat},window=\"today\"}}")), Some(0.0));
    assert_eq!(m.get(&format!("laaffic_seat_valid_connect_ratio{{{seat},window=\"today\"}}")), Some(0.0));
    // status "1" (a string, documented as Integer) is offline.
    for (status, want) in [("offline", 1.0), ("idle", 0.0), ("busy", 0.0), ("wrap_up", 0.0), ("break", 0.0)] {
        assert_eq!(
            m.get(&format!("laaffic_seat_status{{{seat},status=\"{status}\"}}")),
            Some(want),
            "{status}"
        );
    }
    assert_eq!(m.get(&format!("laaffic_seat_enabled{{{seat}}}")), Some(1.0), "enable 0 means enabled");
    assert_eq!(
        m.get("laaffic_seat_info{emp_no=\"003\",group=\"1000006\",group_name=\"測試基礎設置(話機)\",name=\"0705C999_001\",seat=\"681\"}"),
        Some(1.0)
    );
    // Never the account or the password.
    assert!(!m.text.contains("0705C559_003") && !m.text.contains("452061e7b50b70001c1e2168632ea56d"));
    assert!(!exporter.logs().contains("452061e7b50b70001c1e2168632ea56d"));
    // The request was signed with the key, a current timestamp and the document's formula.
    let r = &sim.requests_to("query")[0];
    assert_eq!(r.code, "0");
    assert!(r.params.iter().any(|(k, v)| k == "size" && v == "100"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_reported_and_sobot_is_unaffected() {
    let sim = simulator(0).await;
    let exporter = exporter("laaffic_wrong", &sim, "not-the-secret", &["--log.level", "debug"]).await;
    let m = exporter
        .wait_for("laaffic failing, sobot fine", SECS, |m| {
            m.success("laaffic_seats") == Some(0.0) && m.all_succeeded(&STATS)
        })
        .await;
    assert!(m.requests("seat_query", "-1") >= 1.0);
    assert_eq!(m.get("sobot_robot_self_reception_ratio{window=\"today\"}"), Some(0.5349));
    assert!(m.family("laaffic_seat_calls").is_empty());
    let logs = exporter.logs();
    assert!(logs.contains("check LAAFFIC_API_KEY and LAAFFIC_API_SECRET"), "{logs}");
    assert!(!logs.contains("not-the-secret") && !m.text.contains("not-the-secret"));
    assert!(!logs.contains("panicked"));
}

#[tokio::test(flavor = "multi_thread")]
async fn three_pages_of_seats_each_appear_once() {
    let sim = simulator(250).await;
    let exporter = exporter("laaffic_pages", &sim, LAAFFIC_SECRET, &[]).await;
    let m = exporter.wait_for("seats", SECS, |m| m.all_succeeded(&["laaffic_seats"])).await;
    let pages: Vec<String> = sim
        .requests_to("query")
        .iter()
        .take(3)
        .map(|r| r.params.iter().find(|(k, _)| k == "current").map(|(_, v)| v.clone()).unwrap_or_default())
        .collect();
    assert_eq!(pages, ["1", "2", "3"]);
    let info = m.family("laaffic_seat_info");
    assert_eq!(info.len(), 250);
    let seats: std::collections::BTreeSet<&str> =
        info.keys().filter_map(|k| k.split("seat=\"").nth(1)?.split('"').next()).collect();
    assert_eq!(seats.len(), 250);
    // One state per seat is 1.
    let on: f64 = m.family("laaffic_seat_status").values().sum();
    assert_eq!(on, 250.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_status_is_counted_and_none_of_the_states() {
    let sim = simulator(0).await;
    let body =
        include_str!("fixtures/laaffic/seat_query.json").replace("\"status\": \"1\"", "\"status\": \"9\"");
    assert!(body.contains("\"status\": \"9\""));
    sim.set_fault("query", Some(Fault::Body(body)));
    let exporter = exporter("laaffic_status", &sim, LAAFFIC_SECRET, &[]).await;
    let m = exporter.wait_for("seats", SECS, |m| m.all_succeeded(&["laaffic_seats"])).await;
    assert!(
        m.get("sobot_exporter_parse_errors_total{endpoint=\"seat_query\",field=\"status\"}").unwrap_or(0.0)
            >= 1.0
    );
    let states = m.family("laaffic_seat_status");
    assert_eq!(states.len(), 5);
    assert!(states.values().all(|v| *v == 0.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_secret_never_appears_in_logs_or_metrics() {
    let sim = simulator(20).await;
    let exporter = exporter("laaffic_secret", &sim, LAAFFIC_SECRET, &["--log.level", "debug"]).await;
    exporter.wait_for("seats", SECS, |m| m.all_succeeded(&["laaffic_seats"])).await;
    sim.inject("query", Fault::Http(502), 1);
    exporter
        .wait_for("a failure and a recovery", SECS, |m| {
            m.requests("seat_query", "http_502") >= 1.0 && m.all_succeeded(&["laaffic_seats"])
        })
        .await;
    let metrics = exporter.scrape().await;
    let logs = exporter.logs();
    assert!(logs.contains("\"level\":\"DEBUG\""));
    for text in [&metrics, &logs] {
        assert!(!text.contains(LAAFFIC_SECRET), "secret leaked");
        assert!(!text.contains(LAAFFIC_KEY), "API key leaked");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seat_cap_keeps_the_lowest_ids_and_counts_the_rest() {
    let sim = simulator(250).await;
    let dir = temp_dir("laaffic_cap");
    let config = write_file(&dir, "config.yml", "collectors: [laaffic_seats]\nmax_agents: 100\n");
    let exporter =
        exporter("laaffic_cap", &sim, LAAFFIC_SECRET, &["--config.file", config.to_str().expect("utf8")])
            .await;
    let m = exporter.wait_for("seats", SECS, |m| m.all_succeeded(&["laaffic_seats"])).await;
    assert_eq!(m.family("laaffic_seat_info").len(), 100);
    assert_eq!(m.get("sobot_exporter_agents_dropped{collector=\"laaffic_seats\"}"), Some(150.0));
    // Seat ids 600..849 as strings: the hundred smallest, whatever page they came on.
    let mut ids: Vec<String> = (600..850).map(|i: u32| i.to_string()).collect();
    ids.sort();
    for id in &ids[..100] {
        assert!(m.text.contains(&format!("seat=\"{id}\"")), "{id} kept");
    }
    assert!(!m.text.contains(&format!("seat=\"{}\"", ids[100])));
    exporter.wait_for("a second cycle", SECS, |_| sim.requests_to("query").len() >= 6).await;
    assert_eq!(exporter.logs().matches("more seats than laaffic.max_seats").count(), 1, "logged once");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seat_cap_is_its_own_when_set() {
    let sim = simulator(250).await;
    let dir = temp_dir("laaffic_max_seats");
    let yaml = "collectors: [laaffic_seats]\nmax_agents: 100\nlaaffic:\n  max_seats: 240\n";
    let config = write_file(&dir, "config.yml", yaml);
    let exporter = exporter(
        "laaffic_max_seats",
        &sim,
        LAAFFIC_SECRET,
        &["--config.file", config.to_str().expect("utf8")],
    )
    .await;
    let m = exporter.wait_for("seats", SECS, |m| m.all_succeeded(&["laaffic_seats"])).await;
    assert_eq!(m.family("laaffic_seat_info").len(), 240, "max_agents caps agents, not seats");
    assert_eq!(m.get("sobot_exporter_agents_dropped{collector=\"laaffic_seats\"}"), Some(10.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_or_secret_echoed_by_laaffic_is_taken_out_of_the_error() {
    use sobot_exporter_core::secret::Secret;
    use sobot_exporter_core::sources::laaffic::client::{LaafficClient, LaafficCredentials};
    use sobot_exporter_core::upstream::{ClientSettings, http_client};
    let sim = simulator(1).await;
    let body = format!(r#"{{"status": "-22", "reason": "key {LAAFFIC_KEY} secret {LAAFFIC_SECRET}"}}"#);
    sim.set_fault("query", Some(Fault::Body(body)));
    let settings = ClientSettings {
        base_url: sim.base_url(),
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
        rate_limit_per_minute: 1000,
    };
    let credentials =
        LaafficCredentials { api_key: Secret::new(LAAFFIC_KEY), api_secret: Secret::new(LAAFFIC_SECRET) };
    let http = http_client(&settings).expect("client");
    let client = LaafficClient::new(&settings, http, credentials, std::sync::Arc::default());
    let e = client.seat_query(&serde_json::json!({}), Ok).await.expect_err("the echo is an error");
    assert_eq!(
        e.to_string(),
        "upstream error -22: parameter error (參數異常): key <redacted> secret <redacted>"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_seat_listed_twice_is_its_first_record_whole_and_counted() {
    let sim = simulator(0).await;
    let mut body: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/laaffic/seat_query.json")).expect("fixture");
    let records = body["data"]["records"].as_array_mut().expect("records");
    let mut first = records[0].clone();
    let mut second = records[0].clone();
    first.as_object_mut().expect("a record").remove("num");
    second["num"] = serde_json::json!(7);
    second["connectNum"] = serde_json::json!(5);
    *records = vec![first, second];
    sim.set_fault("query", Some(Fault::Body(body.to_string())));
    let exporter = exporter("laaffic_twice", &sim, LAAFFIC_SECRET, &[]).await;
    let m = exporter.wait_for("seats", SECS, |m| m.all_succeeded(&["laaffic_seats"])).await;
    let seat = "group=\"1000006\",seat=\"681\",window=\"today\"";
    assert_eq!(m.get(&format!("laaffic_seat_calls{{{seat}}}")), None, "not the second record's");
    assert_eq!(m.get(&format!("laaffic_seat_connected_calls{{{seat}}}")), Some(0.0), "the first record's");
    let duplicates = "sobot_exporter_upstream_duplicate_items_total{endpoint=\"seat_query\"}";
    assert!(m.get(duplicates).is_some_and(|n| n >= 1.0), "counted");
}
