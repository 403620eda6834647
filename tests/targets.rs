//! Targets in process: reconciling the set, one token attempt per cycle for a rejected key,
//! re-encoding only what changed, and /metrics assembled from several targets.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use common::*;
use sobot_exporter_core::app::settings::load;
use sobot_exporter_core::cli::Cli;
use sobot_exporter_core::config::CollectionConfig;
use sobot_exporter_core::exposition::{Board, Format, Key};
use sobot_exporter_core::secret::Secret;
use sobot_exporter_core::sources::sobot::client::Credentials;
use sobot_exporter_core::targets::{Reconciled, Shared, TargetKind, TargetSet, TargetSpec};

const SECS: Duration = Duration::from_secs(20);

/// A collection config for tenants: two company endpoints at `interval`.
fn config(sim: &Simulator, interval: &str) -> Arc<CollectionConfig> {
    let dir = temp_dir("targets_config");
    let file = write_file(&dir, "config.yml", "collectors: [robot_session, human_session]\n");
    let args = [
        "sobot_exporter",
        "--sobot.base-url",
        &sim.base_url(),
        "--collect.interval",
        interval,
        "--config.file",
        file.to_str().expect("utf8"),
    ];
    let cli = Cli::try_parse_from(args).expect("flags");
    let env = |k: &str| match k {
        "SOBOT_APP_ID" => Some(APP_ID.to_string()),
        "SOBOT_APP_KEY" => Some(APP_KEY.to_string()),
        _ => None,
    };
    let config = load(&cli, &env, None).expect("config");
    Arc::new(config.collection)
}

/// A tenant `id` with app id `id` and `key`.
fn tenant(id: &str, key: &str, config: &Arc<CollectionConfig>) -> TargetSpec {
    TargetSpec {
        id: id.to_string(),
        name: format!("Shop {id}"),
        kind: TargetKind::Tenant,
        labels: vec![("tenant", id.to_string())],
        on_metrics: true,
        sobot: Some(Credentials { app_id: id.to_string(), app_key: Secret::new(key) }),
        config: config.clone(),
    }
}

fn targets(config: &Arc<CollectionConfig>) -> (Arc<Board>, TargetSet) {
    let board = Board::new();
    let shared = Shared::new(board.clone(), config).expect("clients");
    (board, TargetSet::new(Arc::new(shared)))
}

fn text(board: &Board) -> String {
    String::from_utf8(board.body(Format::Text).to_bytes().to_vec()).expect("utf8")
}

/// Polls `/metrics` as the board assembles it until `check` holds.
async fn wait_for(board: &Board, what: &str, check: impl Fn(&Metrics) -> bool) -> Metrics {
    let deadline = std::time::Instant::now() + SECS;
    loop {
        let m = Metrics::parse(&text(board));
        if check(&m) {
            return m;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}:\n{}", m.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn robot(tenant: &str) -> String {
    format!("sobot_robot_consult_sessions{{tenant=\"{tenant}\",window=\"today\"}}")
}

fn success(tenant: &str, collector: &str) -> String {
    format!("sobot_exporter_collector_success{{tenant=\"{tenant}\",collector=\"{collector}\"}}")
}

#[tokio::test(flavor = "multi_thread")]
async fn reconcile_adds_removes_replaces_and_keeps() {
    let sim = fixture_simulator().await;
    for id in ["a", "b", "c"] {
        sim.add_company(id, &format!("key-{id}"));
    }
    let config = config(&sim, "200ms");
    let (board, set) = targets(&config);

    let done = set.reconcile(vec![tenant("a", "key-a", &config), tenant("b", "key-b", &config)]);
    assert_eq!(done, Reconciled { added: 2, ..Reconciled::default() });
    wait_for(&board, "a and b", |m| m.get(&robot("a")) == Some(63.0) && m.get(&robot("b")) == Some(63.0))
        .await;

    // b's key is rotated, c joins, a stays.
    sim.add_company("b", "key-b2");
    let specs =
        vec![tenant("a", "key-a", &config), tenant("b", "key-b2", &config), tenant("c", "key-c", &config)];
    let done = set.reconcile(specs);
    assert_eq!(done, Reconciled { added: 1, replaced: 1, kept: 1, removed: 0 });
    wait_for(&board, "c, and b with its new key", |m| {
        m.get(&robot("c")) == Some(63.0)
            && sim.tokens_issued_to("b") == 2
            && m.get(&success("b", "robot_session")) == Some(1.0)
    })
    .await;
    let a_calls = sim.requests_for("a", "robot_session").len();
    wait_for(&board, "more cycles of a", |_| sim.requests_for("a", "robot_session").len() >= a_calls + 3)
        .await;
    assert_eq!(sim.tokens_issued_to("a"), 1, "a kept target keeps its token");
    assert_eq!(sim.tokens_issued_to("c"), 1);

    // b and c go: their series and self-series are gone from the very next body.
    let done = set.reconcile(vec![tenant("a", "key-a", &config)]);
    assert_eq!(done, Reconciled { removed: 2, kept: 1, ..Reconciled::default() });
    let body = text(&board);
    assert!(body.contains(&robot("a")), "{body}");
    assert!(!body.contains("tenant=\"b\"") && !body.contains("tenant=\"c\""), "{body}");
    assert_eq!(set.ids(), ["a"]);
    // And they stay gone: no stopped target publishes again or calls upstream.
    let calls = sim.requests_for("c", "robot_session").len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!text(&board).contains("tenant=\"c\""));
    assert_eq!(sim.requests_for("c", "robot_session").len(), calls);
}

/// Log lines written as JSON, shared with the test.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Every line about target `id`, as JSON.
    fn of(&self, id: &str) -> Vec<serde_json::Value> {
        let text = String::from_utf8(self.0.lock().expect("logs").clone()).expect("utf8");
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["target_id"] == id)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_key_costs_one_token_attempt_per_cycle_and_logs_once() {
    // nextest runs each test in its own process: a global subscriber is this test's alone.
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .init();
    let sim = fixture_simulator().await;
    sim.add_company("good", "key-good");
    sim.add_company("bad", "the-real-key");
    let interval = Duration::from_millis(200);
    let config = config(&sim, "200ms");
    let (board, set) = targets(&config);
    set.reconcile(vec![tenant("good", "key-good", &config), tenant("bad", "a-wrong-key", &config)]);

    let m = wait_for(&board, "bad failing for a while", |_| sim.requests_for("bad", "get_token").len() >= 4)
        .await;
    // Every attempt is one cycle's, never one per collector: attempts are an interval apart or more.
    let attempts = sim.requests_for("bad", "get_token");
    assert!(attempts.iter().all(|r| r.code == "910003"));
    for pair in attempts.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= interval.mul_f64(0.85), "two token attempts {gap:?} apart");
    }
    // And it backs off: the later attempts are further apart than the first.
    assert!(attempts[3].at - attempts[2].at > attempts[1].at - attempts[0].at, "no backoff");
    // No collector called without a token.
    assert!(sim.requests().iter().all(|r| r.endpoint == "get_token" || r.company.is_some()));
    assert_eq!(m.get(&success("bad", "robot_session")), Some(0.0));
    assert_eq!(m.get(&success("good", "robot_session")), Some(1.0), "the other target is unaffected");
    assert_eq!(m.get(&robot("good")), Some(63.0));
    assert_eq!(sim.tokens_issued_to("good"), 1);

    // The key is fixed upstream: the target recovers at its next attempt.
    sim.add_company("bad", "a-wrong-key");
    wait_for(&board, "bad recovered", |m| m.get(&robot("bad")) == Some(63.0)).await;
    let lines = logs.of("bad");
    let level = |l: &str| lines.iter().filter(|v| v["level"] == l).collect::<Vec<_>>();
    let warns = level("WARN");
    assert_eq!(warns.len(), 1, "one WARN when it starts failing: {warns:#?}");
    assert!(warns[0]["error"].as_str().is_some_and(|e| e.contains("910003")), "{warns:#?}");
    assert!(warns[0]["hint"].as_str().is_some_and(|h| h.contains("app key from the platform")), "{warns:#?}");
    let infos: Vec<_> = level("INFO").into_iter().filter(|v| v["message"] == "target recovered").collect();
    assert_eq!(infos.len(), 1, "one INFO when it recovers: {lines:#?}");
    assert!(logs.of("good").iter().all(|v| v["level"] != "WARN"));
    let all = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf8");
    assert!(!all.contains("a-wrong-key") && !all.contains("key-good"), "a key in the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_target_is_the_only_one_encoded_again() {
    let sim = fixture_simulator().await;
    sim.add_company("fast", "key-fast");
    sim.add_company("slow", "key-slow");
    let fast = config(&sim, "200ms");
    let slow = config(&sim, "10s");
    let (board, set) = targets(&fast);
    set.reconcile(vec![tenant("fast", "key-fast", &fast), tenant("slow", "key-slow", &slow)]);
    wait_for(&board, "both collected", |m| {
        m.get(&robot("fast")).is_some() && m.get(&robot("slow")).is_some()
    })
    .await;
    let slow_key = Key::Target("slow".to_string());
    let fast_key = Key::Target("fast".to_string());
    let slow_chunk = board.published(&slow_key).expect("slow published");
    let mut seen = vec![board.published(&fast_key).expect("fast published")];
    let deadline = std::time::Instant::now() + SECS;
    while seen.len() < 4 {
        let current = board.published(&fast_key).expect("fast published");
        if !seen.iter().any(|c| Arc::ptr_eq(c, &current)) {
            seen.push(current);
        }
        assert!(std::time::Instant::now() < deadline, "fast did not cycle");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let still = board.published(&slow_key).expect("slow published");
    assert!(Arc::ptr_eq(&slow_chunk, &still), "the slow target was encoded again although it did not change");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_of_several_targets_pass_promtool_and_the_official_parsers() {
    let sim = fixture_simulator().await;
    let mut specs = Vec::new();
    let config = config(&sim, "200ms");
    for id in ["t1", "t2", "t3"] {
        sim.add_company(id, id);
        specs.push(tenant(id, id, &config));
    }
    let (board, set) = targets(&config);
    set.reconcile(specs);
    wait_for(&board, "every target", |m| ["t1", "t2", "t3"].iter().all(|t| m.get(&robot(t)).is_some())).await;
    let dir = temp_dir("several_targets");
    for format in [Format::Text, Format::OpenMetrics] {
        let body = String::from_utf8(board.body(format).to_bytes().to_vec()).expect("utf8");
        // One HELP and one TYPE per family, whatever the number of targets.
        let mut helps: Vec<&str> = body.lines().filter(|l| l.starts_with("# HELP ")).collect();
        let count = helps.len();
        helps.sort_unstable();
        helps.dedup_by(|a, b| a.split(' ').nth(2) == b.split(' ').nth(2));
        assert_eq!(helps.len(), count, "a family's HELP twice");
        assert_eq!(body.matches("# TYPE sobot_robot_consult_sessions ").count(), 1);
        assert_eq!(body.matches("sobot_robot_consult_sessions{").count(), 3);
        let path = write_file(&dir, "metrics.txt", &body);
        let parser = match format {
            Format::Text => "prometheus_client.parser",
            Format::OpenMetrics => "prometheus_client.openmetrics.parser",
        };
        let script = format!(
            "import sys\nfrom {parser} import text_string_to_metric_families as parse\n\
             families = list(parse(open(sys.argv[1]).read()))\nprint(len(families))"
        );
        let python = concat!(env!("CARGO_MANIFEST_DIR"), "/target/test-venv/bin/python");
        let out = std::process::Command::new(python)
            .args(["-c", &script, path.to_str().expect("utf8")])
            .output()
            .expect("the test venv exists (tests/setup.sh makes it)");
        assert!(out.status.success(), "{parser}: {}", String::from_utf8_lossy(&out.stderr));
        if format == Format::Text {
            let out = std::process::Command::new("promtool")
                .args(["check", "metrics"])
                .stdin(std::fs::File::open(&path).expect("open"))
                .output()
                .expect("promtool is installed (tests/setup.sh)");
            let report =
                format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success() && report.trim().is_empty(), "promtool check metrics: {report}");
        }
    }
}

/// Serves `set` and `board` on 127.0.0.1 in process; returns the base URL.
async fn serve(board: Arc<Board>, set: Arc<TargetSet>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let routes = sobot_exporter_core::web::Routes {
        telemetry_path: "/metrics".into(),
        board: board.clone(),
        targets: set,
        address,
        discovery: Default::default(),
        reloader: None,
        process: std::sync::Arc::new(sobot_exporter_core::telemetry::process_telemetry()),
        process_stats: std::sync::Arc::new(sobot_exporter_core::process::ProcessStats::new(&board)),
        figures: sobot_exporter_core::web::Figures::default(),
    };
    tokio::spawn(sobot_exporter_core::web::serve(
        vec![listener],
        routes,
        None,
        Default::default(),
        std::future::pending(),
    ));
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread")]
async fn sd_lists_every_tenant_once_and_probe_serves_one() {
    let sim = fixture_simulator().await;
    let ids: Vec<String> = (0..12).map(|i| format!("shop{i:02}")).collect();
    let config = config(&sim, "200ms");
    let mut specs = Vec::new();
    for id in &ids {
        sim.add_company(id, id);
        specs.push(tenant(id, id, &config));
    }
    let (board, set) = targets(&config);
    let set = Arc::new(set);
    set.reconcile(specs);
    let base = serve(board.clone(), set.clone()).await;
    wait_for(&board, "every tenant", |m| ids.iter().all(|t| m.get(&robot(t)).is_some())).await;
    let client = http();

    let sd = client.get(format!("{base}/sd")).send().await.expect("sd");
    assert_eq!(sd.headers()["content-type"], "application/json");
    let groups: Vec<serde_json::Value> = sd.json().await.expect("HTTP SD JSON is a list");
    let host = base.trim_start_matches("http://");
    let mut listed: Vec<String> = Vec::new();
    for g in &groups {
        assert_eq!(g["targets"], serde_json::json!([host]), "{g}");
        let labels = g["labels"].as_object().expect("labels");
        let id = labels["tenant"].as_str().expect("tenant").to_string();
        assert_eq!(labels["__param_target"], id.as_str());
        assert_eq!(labels["__metrics_path__"], "/probe");
        assert_eq!(labels["tenant_name"], format!("Shop {id}").as_str());
        assert!(
            labels.keys().all(
                |k| ["tenant", "tenant_name", "__param_target", "__metrics_path__"].contains(&k.as_str())
            )
        );
        listed.push(id);
    }
    listed.sort();
    assert_eq!(listed, ids, "every tenant exactly once");

    let probe = client.get(format!("{base}/probe?target=shop03")).send().await.expect("probe");
    assert_eq!(probe.status(), 200);
    assert_eq!(probe.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let m = Metrics::parse(&probe.text().await.expect("body"));
    assert_eq!(m.get("sobot_robot_consult_sessions{window=\"today\"}"), Some(63.0), "no tenant label inside");
    assert_eq!(m.success("robot_session"), Some(1.0), "its health is inside");
    assert!(m.series.keys().all(|k| !k.contains("tenant=")), "{}", m.text);
    assert!(
        ids.iter().filter(|i| *i != "shop03").all(|i| !m.text.contains(i.as_str())),
        "another tenant's id"
    );
    assert!(!m.text.contains("sobot_exporter_build_info"), "the process's own series are on /metrics");

    for (path, status) in [
        ("/probe?target=nope", 404),
        ("/probe", 400),
        ("/probe?target=", 400),
        ("/probe?target=company", 404),
    ] {
        let r = client.get(format!("{base}{path}")).send().await.expect("probe");
        assert_eq!(r.status(), status, "{path}");
    }
    // A removed tenant is gone from both.
    set.reconcile(ids.iter().filter(|i| *i != "shop03").map(|i| tenant(i, i, &config)).collect());
    let r = client.get(format!("{base}/probe?target=shop03")).send().await.expect("probe");
    assert_eq!(r.status(), 404);
    let groups: Vec<serde_json::Value> =
        client.get(format!("{base}/sd")).send().await.expect("sd").json().await.expect("json");
    assert_eq!(groups.len(), ids.len() - 1);
    // A renamed tenant keeps running and is listed under its new name (the answer is re-encoded).
    let renamed = |id: &String| TargetSpec { name: format!("New {id}"), ..tenant(id, id, &config) };
    set.reconcile(ids.iter().filter(|i| *i != "shop03").map(renamed).collect());
    let groups: Vec<serde_json::Value> =
        client.get(format!("{base}/sd")).send().await.expect("sd").json().await.expect("json");
    assert!(
        groups.iter().all(|g| g["labels"]["tenant_name"].as_str().is_some_and(|n| n.starts_with("New ")))
    );
}
