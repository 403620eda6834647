//! The alerts end to end with the real tools: the exporter (a company and a simulated platform),
//! Debian's `prometheus` with the rules and alerts rendered by `xtask/src` with shortened `for:`
//! (one second a minute; promtool's unit tests cover the committed durations), Debian's
//! `prometheus-alertmanager` with `deploy/alertmanager/alertmanager.yml` (its placeholders pointed at
//! loopback, its waits shortened), and a webhook receiver here collecting what Alertmanager sends.
//!
//! Needs `prometheus` and `prometheus-alertmanager` (tests/setup.sh installs both).

mod common;

use std::convert::Infallible;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    APP_ID, APP_KEY, Exporter, Prometheus, SimConfig, Simulator, TempDir, free_port, http, temp_dir,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sobot_simulator::{SimPlatform, sim_platform};
use xtask::{Settings, render};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The platform's tenants; the one at [`REFUSED`] is listed with a key Sobot refuses when asked.
const TENANTS: usize = 4;
const REFUSED: usize = 1;
/// The longest `for:` of the alerts (15m), rendered at one second a minute.
const LONGEST_FOR: Duration = Duration::from_secs(15);

/// The notifications Alertmanager POSTs to the test's webhook, as JSON.
type Received = Arc<Mutex<Vec<Value>>>;

/// A webhook receiver on 127.0.0.1:0; returns its URL and what it received.
async fn webhook() -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let received: Received = Arc::default();
    let store = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let store = store.clone();
                        async move {
                            let body =
                                request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let json = serde_json::from_slice(&body)
                                .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
                            store.lock().expect("lock").push(json);
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::new())))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, received)
}

/// Debian's Alertmanager, killed when dropped.
struct Alertmanager {
    child: Child,
    url: String,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` with `from` replaced by `to`, which must occur in it.
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "deploy/alertmanager/alertmanager.yml no longer has {from}");
    text.replace(from, to)
}

/// Starts Alertmanager with the shipped config: its webhook placeholder pointed at `hook`, its
/// SMTP server at a closed loopback port, its group waits shortened.
async fn start_alertmanager(dir: &Path, hook: &str) -> Alertmanager {
    let shipped = std::fs::read_to_string(Path::new(ROOT).join("deploy/alertmanager/alertmanager.yml"))
        .expect("deploy/alertmanager/alertmanager.yml");
    let mut config = replaced(&shipped, "http://webhook.example.org/sobot_exporter", hook);
    config = replaced(&config, "smtp.example.org:587", &format!("127.0.0.1:{}", free_port()));
    config = replaced(&config, "group_wait: 30s", "group_wait: 1s");
    config = replaced(&config, "group_interval: 5m", "group_interval: 2s");
    let path = common::write_file(dir, "alertmanager.yml", &config);
    let port = free_port();
    let log = std::fs::File::create(dir.join("alertmanager.log")).expect("log");
    let child = Command::new("prometheus-alertmanager")
        .arg(format!("--config.file={}", path.display()))
        .arg(format!("--storage.path={}", dir.join("alertmanager").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("prometheus-alertmanager is installed (Debian package; tests/setup.sh installs it)");
    let alertmanager = Alertmanager { child, url: format!("http://127.0.0.1:{port}") };
    common::wait_ready(&alertmanager.url, &dir.join("alertmanager.log"), "alertmanager").await;
    alertmanager
}

/// Everything of one run: the simulator, the exporter, Prometheus, Alertmanager and the webhook.
struct Stack {
    platform: SimPlatform,
    prometheus: Prometheus,
    received: Received,
    _alertmanager: Alertmanager,
    _exporter: Exporter,
    _sim: Simulator,
    dir: TempDir,
}

/// Whether the simulator's figures for tenant `app_id` today are within every service alert's
/// threshold (the one they can cross on figures that do not grow: the day's average response
/// time, at most 60 s).
fn serves_well(app_id: &str) -> bool {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
    let today = jiff::Timestamp::now().to_zoned(tz).date();
    let item = sobot_simulator::Simulator::tenant_item("human_session", app_id, today);
    let average = item.as_ref().and_then(|i| i["response_time_avg_duration"].as_str()).unwrap_or_default();
    let seconds: Vec<u64> = average.split(':').filter_map(|p| p.parse().ok()).collect();
    let receptions = item.as_ref().and_then(|i| i["valid_reception_session"].as_str()?.parse::<u64>().ok());
    match (&seconds[..], receptions) {
        ([h, m, s], Some(n)) => h * 3600 + m * 60 + s <= 60 || n < 20,
        _ => false,
    }
}

/// A company and a platform of [`TENANTS`] tenants, all serving well, the tenant at `refused` (if
/// any) listed with a key Sobot refuses; Prometheus scrapes the exporter and every tenant through
/// `/sd`, as `deploy/prometheus/single.yml` does, every second.
async fn stack(name: &str, refused: Option<usize>) -> Stack {
    let mut platform = sim_platform(100);
    platform.tenants.retain(|t| serves_well(&t.app_id));
    platform.tenants.truncate(TENANTS + 1);
    assert_eq!(platform.tenants.len(), TENANTS + 1, "tenants of the simulator that serve well");
    if let Some(i) = refused {
        platform.tenants[i].accepted_key =
            Some(sobot_exporter_core::secret::Secret::new("not-the-listed-key"));
    }
    let sim = Simulator::start(SimConfig {
        platform: Some(platform.clone()),
        ..SimConfig::fixtures(APP_ID, APP_KEY)
    })
    .await
    .expect("simulator");
    // The last one leaves the platform before the exporter starts and stays a company with
    // figures of its own (the documents' examples, which the company would answer otherwise, are
    // a service slower than SobotResponseTimeSlow allows): the exporter's company.
    let company = platform.tenants.pop().expect("company");
    sim.set_tenants(platform.tenants.clone());
    let dir = temp_dir(name);
    let yaml = format!(
        "platform:\n  union_code: \"{}\"\n  email: {}\n  interval: 5s\n  tenants_on_metrics: false\n",
        platform.union_code, platform.email
    );
    let config = common::write_file(&dir, "config.yml", &yaml);
    let key = platform.union_key.expose().to_string();
    let exporter = Exporter::start_with_env(
        name,
        &sim.base_url(),
        &["--collect.interval", "1s", "--config.file", config.to_str().expect("utf8")],
        &[
            ("SOBOT_APP_ID", &company.app_id),
            ("SOBOT_APP_KEY", company.app_key.expose()),
            ("SOBOT_PLATFORM_UNION_KEY", &key),
        ],
    )
    .await;

    // The rules and alerts as the generator renders them, each minute of `for:` a second.
    let settings = Settings { alert_minute_seconds: 1, ..Settings::default() };
    let mut rule_files = Vec::new();
    for file in render(&settings).into_iter().filter(|f| f.path.ends_with(".yml")) {
        let name = file.path.replace('/', "_");
        rule_files.push(common::write_file(&dir, &name, &file.text));
    }
    let (hook, received) = webhook().await;
    let alertmanager = start_alertmanager(&dir, &hook).await;
    let target = &exporter.addr;
    let rules: String = rule_files.iter().map(|p| format!("  - {}\n", p.display())).collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n{rules}\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"{am}\"]\n\
         scrape_configs:\n  - job_name: sobot_exporter\n    static_configs:\n      - targets: [\"{target}\"]\n  \
         - job_name: sobot_tenants\n    http_sd_configs:\n      - url: http://{target}/sd\n        refresh_interval: 1s\n",
        am = alertmanager.url.trim_start_matches("http://"),
    );
    let prometheus = Prometheus::start(&dir.join("prometheus"), &config, &[]).await;
    Stack { platform, prometheus, received, _alertmanager: alertmanager, _exporter: exporter, _sim: sim, dir }
}

impl Stack {
    async fn api(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let url = format!("{}/api/v1/{path}", self.prometheus.url);
        let body: Value = http().get(url).query(query).send().await.expect(path).json().await.expect("json");
        assert_eq!(body["status"], "success", "{path}: {body}");
        body["data"].clone()
    }

    /// The alerts Prometheus holds, pending or firing, as `(name, state, labels)`.
    async fn alerts(&self) -> Vec<(String, String, Value)> {
        let data = self.api("alerts", &[]).await;
        let list = data["alerts"].as_array().cloned().unwrap_or_default();
        list.into_iter()
            .map(|a| {
                let name = a["labels"]["alertname"].as_str().unwrap_or_default().to_string();
                (name, a["state"].as_str().unwrap_or_default().to_string(), a["labels"].clone())
            })
            .collect()
    }

    /// The number `expr` evaluates to (its first sample), if any.
    async fn number(&self, expr: &str) -> Option<f64> {
        let data = self.api("query", &[("query", expr)]).await;
        data["result"][0]["value"][1].as_str().and_then(|v| v.parse().ok())
    }

    /// Waits until every target is scraped, the company's collectors and every good tenant's have
    /// succeeded, and Prometheus has Alertmanager and has evaluated every alert without error;
    /// meanwhile only "never succeeded" may be pending, for a collector whose first cycle is due
    /// (and, if `failing`, SobotTenantFailing for that tenant).
    async fn wait_for_first_cycles(&self, good_tenants: usize, failing: Option<&str>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            for (name, state, labels) in self.alerts().await {
                let expected = match name.as_str() {
                    "SobotCollectorNeverSucceeded" => state == "pending",
                    "SobotTenantFailing" => failing.is_some_and(|t| labels["tenant"] == t),
                    _ => false,
                };
                assert!(expected, "before the first cycles: {name} {state} {labels}\n{}", self.logs());
            }
            let tenants = self.number("count(up{job=\"sobot_tenants\"} == 1)").await;
            let good = self
                .number(
                    "count(min by (tenant) (sobot_exporter_collector_success{job=\"sobot_tenants\"}) == 1)",
                )
                .await;
            let waiting = self
                .number("count(sobot_exporter_collector_interval_seconds{job=\"sobot_exporter\"} unless sobot_exporter_collector_last_success_timestamp_seconds)")
                .await;
            let company =
                self.number("count(sobot_exporter_collector_success{job=\"sobot_exporter\"} == 1)").await;
            let managers = self.api("alertmanagers", &[]).await;
            let managed = managers["activeAlertmanagers"].as_array().is_some_and(|a| !a.is_empty());
            let rules = self.api("rules", &[("type", "alert")]).await;
            let evaluated: Vec<&Value> = rules["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().into_iter().flatten())
                .collect();
            let healthy = evaluated.len() > 20 && evaluated.iter().all(|r| r["health"] == "ok");
            if tenants == Some(TENANTS as f64)
                && good == Some(good_tenants as f64)
                && waiting.is_none()
                && company.is_some_and(|n| n >= 6.0)
                && managed
                && healthy
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "first cycles: tenants up {tenants:?}, good {good:?}, waiting {waiting:?}, company {company:?}, \
                 alertmanager {managed}, rules {}\n{}",
                evaluated.iter().filter(|r| r["health"] != "ok").map(|r| r.to_string()).collect::<String>(),
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn received(&self) -> Vec<Value> {
        self.received.lock().expect("lock").clone()
    }

    fn logs(&self) -> String {
        let read = |p: &str| std::fs::read_to_string(self.dir.join(p)).unwrap_or_default();
        format!(
            "prometheus:\n{}\nalertmanager:\n{}",
            read("prometheus/prometheus.log"),
            read("alertmanager.log")
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_configuration_raises_no_alert_and_sends_nothing() {
    let stack = stack("alerting_healthy", None).await;
    stack.wait_for_first_cycles(TENANTS, None).await;
    // Longer than the longest `for:` and Alertmanager's group wait: whatever would fire has fired,
    // and whatever would be pending is, at one of these evaluations.
    let until = Instant::now() + LONGEST_FOR + Duration::from_secs(5);
    while Instant::now() < until {
        let alerts = stack.alerts().await;
        assert!(alerts.is_empty(), "after the first cycles: {alerts:?}\n{}", stack.logs());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(stack.received(), Vec::<Value>::new(), "notifications of a healthy configuration");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_failing_tenant_sends_one_warning_naming_it() {
    let stack = stack("alerting_tenant", Some(REFUSED)).await;
    let tenant = &stack.platform.tenants[REFUSED];
    stack.wait_for_first_cycles(TENANTS - 1, Some(&tenant.company_id)).await;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(60);
    while stack.received().is_empty() {
        assert!(Instant::now() < deadline, "no notification: {:?}\n{}", stack.alerts().await, stack.logs());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Whatever else the failing tenant would raise has a `for:` no longer than this alert's: keep
    // watching for as long again, several of Alertmanager's group intervals.
    let until = start.max(Instant::now()) + LONGEST_FOR;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let received = stack.received();
    assert_eq!(received.len(), 1, "one notification: {received:#?}");
    let notification = &received[0];
    assert_eq!(notification["status"], "firing");
    let alerts = notification["alerts"].as_array().cloned().unwrap_or_default();
    assert_eq!(alerts.len(), 1, "one alert: {notification:#}");
    let alert = &alerts[0];
    let labels = &alert["labels"];
    assert_eq!(labels["alertname"], "SobotTenantFailing", "{alert:#}");
    assert_eq!(labels["severity"], "warning", "{alert:#}");
    assert_eq!(labels["tenant"], tenant.company_id.as_str(), "{alert:#}");
    assert_eq!(labels["tenant_name"], tenant.company_name.as_str(), "{alert:#}");
    let annotations = &alert["annotations"];
    let summary = annotations["summary"].as_str().unwrap_or_default();
    assert!(summary.contains(&tenant.company_id) && summary.contains(&tenant.company_name), "{summary}");
    assert_eq!(
        annotations["runbook_url"],
        format!("{}/dashboards/README.md#sobottenantfailing", xtask::DEFAULT_REPOSITORY_URL)
    );
    assert_eq!(annotations["dashboard"], format!("{}/d/sobot-exporter-health", xtask::DEFAULT_GRAFANA_URL));

    // Prometheus holds that one alert and no other, pending or firing.
    let held = stack.alerts().await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!((held[0].0.as_str(), held[0].1.as_str()), ("SobotTenantFailing", "firing"));
}

#[test]
fn the_alertmanager_config_checks_and_inhibits_only_alerts_that_exist() {
    let path = Path::new(ROOT).join("deploy/alertmanager/alertmanager.yml");
    let out = Command::new("amtool")
        .arg("check-config")
        .arg(&path)
        .output()
        .expect("amtool (prometheus-alertmanager)");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.contains("4 inhibit rules"), "{report}");

    let text = std::fs::read_to_string(&path).expect("config");
    let config: Value = serde_saphyr::from_str(&text).expect("yaml");
    let group_by: Vec<&str> =
        config["route"]["group_by"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    assert_eq!(group_by, ["alertname", "tenant"]);
    let alerts: String = render(&Settings::default()).into_iter().map(|f| f.text).collect();
    let mut named = 0;
    for rule in config["inhibit_rules"].as_array().into_iter().flatten() {
        for matcher in
            ["source_matchers", "target_matchers"].iter().flat_map(|k| rule[k].as_array()).flatten()
        {
            let matcher = matcher.as_str().unwrap_or_default();
            let Some(names) =
                matcher.strip_prefix("alertname=~").or_else(|| matcher.strip_prefix("alertname="))
            else {
                continue;
            };
            for name in names.trim_matches('"').split('|') {
                assert!(alerts.contains(&format!("- alert: {name}\n")), "{matcher}: no alert {name}");
                named += 1;
            }
        }
    }
    assert!(named >= 8, "{named}");
}

#[test]
fn every_runbook_states_its_alerts_severity() {
    let runbooks = std::fs::read_to_string(Path::new(ROOT).join("dashboards/README.md")).expect("runbooks");
    let alerts = render(&Settings::default()).into_iter().find(|f| f.path == "dashboards/alerts.yml");
    let alerts: Value = serde_saphyr::from_str(&alerts.expect("alerts.yml").text).expect("yaml");
    let rules = alerts["groups"][0]["rules"].as_array().cloned().unwrap_or_default();
    assert!(rules.len() > 15);
    for rule in rules {
        let name = rule["alert"].as_str().unwrap_or_default();
        let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
        let section = format!("### {name}\n\n**Severity:** {severity}.");
        assert!(runbooks.contains(&section), "dashboards/README.md: {name} is {severity}");
    }
}
