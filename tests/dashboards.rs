//! Dashboards, alerting rules, the Docker image and an end-to-end run with a real Prometheus.
//!
//! Needs `promtool` and `prometheus` from Debian's `prometheus` package (`.ci/run` installs it).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn dashboards() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(Path::new(ROOT).join("dashboards")).expect("dashboards dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("read");
            let json: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((path.file_name().expect("name").to_string_lossy().into_owned(), json));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), 5, "five dashboards");
    out
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// `(dashboard, panel title, expr with variables substituted)` for every panel query.
fn panel_queries() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (file, d) in dashboards() {
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str() {
                    let title = p["title"].as_str().unwrap_or("").to_string();
                    out.push((file.clone(), title, substitute(expr)));
                }
            }
        }
    }
    out
}

/// Grafana variables as a user first sees them.
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
        .replace("${window}", "today")
        .replace("$window", "today")
        .replace("${group}", ".*")
        .replace("$group", ".*")
        .replace("${agent}", ".*")
        .replace("$agent", ".*")
}

/// Metric names an expression mentions (outside quoted strings).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut unquoted = String::new();
    let mut quoted = false;
    for c in expr.chars() {
        if c == '"' {
            quoted = !quoted;
        } else if !quoted {
            unquoted.push(c);
        }
    }
    unquoted
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.starts_with("sobot_") || t.starts_with("laaffic_"))
        .map(str::to_string)
        .collect()
}

#[derive(serde::Deserialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}
#[derive(serde::Deserialize)]
struct RuleGroup {
    rules: Vec<Rule>,
}
#[derive(serde::Deserialize)]
struct Rule {
    alert: Option<String>,
    expr: String,
}

fn alerts() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("dashboards/alerts.yml")).expect("alerts.yml");
    let file: RuleFile = serde_saphyr::from_str(&text).expect("alerts.yml parses");
    file.groups.into_iter().flat_map(|g| g.rules).map(|r| (r.alert.unwrap_or_default(), r.expr)).collect()
}

fn promtool(args: &[&str], dir: &Path) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool is installed (Debian package prometheus; .ci/run installs it)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {args:?}: {text}");
    text
}

#[test]
fn alerting_rules_check_and_their_unit_tests_pass() {
    let dir = Path::new(ROOT).join("dashboards");
    let check = promtool(&["check", "rules", "alerts.yml"], &dir);
    assert!(check.contains("SUCCESS: 10 rules found"), "{check}");
    promtool(&["test", "rules", "alerts_test.yml"], &dir);
    // Every alert has a summary, a description, a runbook section and a dashboard panel.
    let text = std::fs::read_to_string(dir.join("alerts.yml")).expect("alerts.yml");
    let runbooks = std::fs::read_to_string(dir.join("README.md")).expect("README");
    let tests = std::fs::read_to_string(dir.join("alerts_test.yml")).expect("tests");
    for (alert, _) in alerts() {
        assert!(runbooks.contains(&format!("### {alert}")), "{alert} has no runbook");
        assert!(
            tests.matches(&format!("alertname: {alert}")).count() >= 2,
            "{alert}: a firing and a quiet test"
        );
    }
    assert_eq!(text.matches("summary:").count(), 10);
    assert_eq!(text.matches("description:").count(), 10);
    assert_eq!(text.matches("runbook_url:").count(), 10);
}

#[test]
fn the_example_prometheus_config_is_valid() {
    let dir = temp_dir("promconfig");
    std::fs::create_dir_all(dir.join("rules")).expect("rules dir");
    std::fs::copy(Path::new(ROOT).join("examples/prometheus.yml"), dir.join("prometheus.yml")).expect("copy");
    std::fs::copy(Path::new(ROOT).join("dashboards/alerts.yml"), dir.join("rules/alerts.yml")).expect("copy");
    let out = promtool(&["check", "config", "prometheus.yml"], &dir);
    assert!(out.contains("SUCCESS: 10 rules found"), "{out}");
}

#[test]
fn dashboards_are_well_formed() {
    let mut uids = BTreeSet::new();
    for (file, d) in dashboards() {
        let uid = d["uid"].as_str().unwrap_or_else(|| panic!("{file}: no uid"));
        assert!(uids.insert(uid.to_string()), "{file}: uid {uid} repeats");
        let vars: Vec<&Value> = d["templating"]["list"].as_array().into_iter().flatten().collect();
        assert!(
            vars.iter().any(|v| v["name"] == "datasource"
                && v["type"] == "datasource"
                && v["query"] == "prometheus"),
            "{file}: no datasource variable"
        );
        let mut ids = BTreeSet::new();
        for p in panels(&d) {
            let title = p["title"].as_str().unwrap_or("");
            let id = p["id"].as_u64().unwrap_or_else(|| panic!("{file}: {title} has no id"));
            assert!(ids.insert(id), "{file}: panel id {id} repeats");
            if p["type"] == "row" {
                continue;
            }
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{file}: {title}");
            let targets = p["targets"].as_array().unwrap_or_else(|| panic!("{file}: {title} has no targets"));
            assert!(!targets.is_empty(), "{file}: {title} has no query");
            for t in targets {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{file}: {title}");
            }
            // Units: ratios in percent, durations in seconds.
            let exprs: String = targets.iter().filter_map(|t| t["expr"].as_str()).collect();
            let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or("");
            let names = metric_names(&exprs);
            if !names.is_empty() && names.iter().all(|n| n.ends_with("_ratio")) {
                assert_eq!(unit, "percentunit", "{file}: {title}");
            }
            if !names.is_empty() && names.iter().all(|n| n.ends_with("_seconds") && !n.contains("timestamp"))
            {
                assert_eq!(unit, "s", "{file}: {title}");
            }
        }
    }
}

#[test]
fn the_dockerfile_builds_as_the_readme_says() {
    let docker = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).expect("Dockerfile");
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).expect("README");
    let build = "cargo build --release --locked";
    assert!(docker.contains(build) && readme.contains(build));
    for line in ["EXPOSE 9877", "USER nonroot", "\"--healthcheck\"", "AS build"] {
        assert!(docker.contains(line), "Dockerfile lacks {line}");
    }
    let ignore = std::fs::read_to_string(Path::new(ROOT).join(".dockerignore")).expect(".dockerignore");
    assert!(ignore.lines().any(|l| l == "target"));
    // What the image copies exists.
    for path in
        ["Cargo.toml", "Cargo.lock", "rustfmt.toml", "clippy.toml", "src", "benches", "tests/fixtures"]
    {
        assert!(Path::new(ROOT).join(path).exists(), "{path}");
    }
}

async fn start_prometheus(dir: &Path, target: &str) -> Prometheus {
    let rules = Path::new(ROOT).join("dashboards/alerts.yml");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  \
         - job_name: sobot_exporter\n    static_configs:\n      - targets: [\"{target}\"]\n",
        rules.display()
    );
    Prometheus::start(dir, &config, &[]).await
}

async fn query(prometheus: &Prometheus, expr: &str) -> Result<Value, String> {
    let response = http()
        .get(format!("{}/api/v1/query", prometheus.url))
        .query(&[("query", expr)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if body["status"] == "success" {
        Ok(body["data"].clone())
    } else {
        Err(format!("{}: {}", body["errorType"], body["error"]))
    }
}

fn has_data(data: &Value) -> bool {
    match data["resultType"].as_str() {
        Some("vector" | "matrix") => data["result"].as_array().is_some_and(|r| !r.is_empty()),
        Some("scalar" | "string") => true,
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_panel_and_alert_evaluates_in_a_real_prometheus_against_the_demo() {
    let exporter = Exporter::start_with_env("e2e", "http://127.0.0.1:9", &["--demo"], &[]).await;
    let demo_collectors: Vec<&str> = ALL
        .iter()
        .copied()
        .chain(["group_human_session", "group_human_satisfaction", "laaffic_seats"])
        .collect();
    exporter
        .wait_for("every demo collector", Duration::from_secs(60), |m| m.all_succeeded(&demo_collectors))
        .await;

    // promtool lints the demo's exposition.
    let body = exporter.scrape().await;
    let path = write_file(exporter.dir(), "demo.prom", &body);
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&path).expect("open"))
        .output()
        .expect("promtool");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.trim().is_empty(), "promtool check metrics on the demo: {report}");

    // Dashboards and alerts name only metrics the exporter exposes.
    // The self-metrics count from zero: a counter with nothing counted yet (parse errors) has no
    // series yet, so the documented list counts as exposed too.
    let exposed: BTreeSet<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .chain(sobot_exporter::telemetry::SELF_METRICS.iter().map(|m| m.name.to_string()))
        .collect();
    let queries = panel_queries();
    let mut unknown = BTreeMap::new();
    for (file, title, expr) in &queries {
        for name in metric_names(expr) {
            if !exposed.contains(&name) {
                unknown.insert(name, format!("{file}: {title}"));
            }
        }
    }
    for (alert, expr) in alerts() {
        for name in metric_names(&expr) {
            if !exposed.contains(&name) {
                unknown.insert(name, alert.clone());
            }
        }
    }
    assert!(unknown.is_empty(), "names the exporter does not expose: {unknown:?}");

    // A real Prometheus scrapes the demo twice.
    let prometheus = start_prometheus(exporter.dir(), &exporter.addr).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let scrapes = query(&prometheus, "count_over_time(up{job=\"sobot_exporter\"}[5m])").await;
        let n = scrapes
            .ok()
            .and_then(|d| d["result"][0]["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()));
        if n.is_some_and(|n| n >= 2.0) {
            break;
        }
        assert!(Instant::now() < deadline, "prometheus did not scrape twice");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let up = query(&prometheus, "up{job=\"sobot_exporter\"}").await.expect("up");
    assert_eq!(up["result"][0]["value"][1], "1", "the scrape succeeded");

    let mut failures = Vec::new();
    for (file, title, expr) in &queries {
        match query(&prometheus, expr).await {
            Ok(data) if has_data(&data) => {}
            Ok(_) => failures.push(format!("{file} / {title}: no data for {expr}")),
            Err(e) => failures.push(format!("{file} / {title}: {e} in {expr}")),
        }
    }
    for (alert, expr) in alerts() {
        if let Err(e) = query(&prometheus, &expr).await {
            failures.push(format!("alert {alert}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} panel queries failed:\n{}",
        failures.len(),
        queries.len(),
        failures.join("\n")
    );
    assert!(queries.len() > 100, "all panels were evaluated ({})", queries.len());
}
