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
    assert_eq!(out.len(), 6, "six dashboards");
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
                    out.push((file.clone(), title, substitute(&file, expr)));
                }
            }
        }
    }
    out
}

/// Grafana variables as a user first sees them: every job, instance and group, the top 10; the
/// company's own series (no tenant label) on the service dashboards, every tenant on the platform's.
fn substitute(file: &str, expr: &str) -> String {
    let tenant = if file == "sobot-platform.json" { ".*" } else { "" };
    expr.replace("$__rate_interval", "1m")
        .replace("$job", ".*")
        .replace("$instance", ".*")
        .replace("$tenant", tenant)
        .replace("$top", "10")
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
    expression_names(expr)
        .into_iter()
        .filter(|t| (t.starts_with("sobot_") || t.starts_with("laaffic_")) && !t.contains(':'))
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
    record: Option<String>,
    expr: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

fn rules_in(file: &str) -> Vec<Rule> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("dashboards").join(file)).expect(file);
    let file: RuleFile = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    file.groups.into_iter().flat_map(|g| g.rules).collect()
}

/// `(name, expr)` of every recording rule (rules.yml) and alert (alerts.yml).
fn rules() -> Vec<(String, String)> {
    rules_in("rules.yml")
        .into_iter()
        .chain(rules_in("alerts.yml"))
        .map(|r| (r.alert.or(r.record).unwrap_or_default(), r.expr))
        .collect()
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
fn the_committed_rules_alerts_and_dashboards_are_the_generators_output() {
    for file in xtask::render(&xtask::Settings::default()) {
        let committed = std::fs::read_to_string(Path::new(ROOT).join(file.path)).expect(file.path);
        assert!(
            committed == file.text,
            "{} differs from xtask/src: regenerate with `cargo xtask mixin --write`, then \
             `deploy/render-prometheusrule.sh`",
            file.path
        );
    }
}

#[test]
fn other_settings_change_the_urls_and_guards_and_still_pass_promtool() {
    let settings = xtask::Settings {
        repository_url: "https://git.example.org/ops/sobot_exporter/-/blob/main".into(),
        grafana_url: "https://grafana.example.org/".into(),
        min_sessions: 50,
        min_evaluations: 25,
        min_calls: 40,
        alert_minute_seconds: 2,
    };
    let dir = temp_dir("rules_settings");
    for file in xtask::render(&settings) {
        assert!(!file.text.contains("YOUR-ORG"), "{}", file.path);
        assert!(!file.text.contains(xtask::DEFAULT_REPOSITORY_URL), "{}", file.path);
        assert!(!file.text.contains(xtask::DEFAULT_GRAFANA_URL), "{}", file.path);
        let name = file.path.replace('/', "_");
        write_file(dir.path(), &name, &file.text);
        if name.ends_with(".yml") {
            promtool(&["check", "rules", &name], dir.path());
        }
    }
    let rendered: String = xtask::render(&settings).into_iter().map(|f| f.text).collect::<Vec<_>>().join("");
    assert!(rendered.contains("\"https://git.example.org/ops/sobot_exporter/-/blob/main/deploy/README.md#sobotexportershardmissing\""));
    assert!(rendered.contains("dashboard: \"https://grafana.example.org/d/sobot-overview\""));
    assert!(rendered.contains("(sobot:human_valid_sessions:increase15m >= 50)"));
    assert!(rendered.contains("(sobot:human_satisfaction_evaluations:increase1h >= 25)"));
    assert!(rendered.contains("(laaffic:seat_calls:increase15m >= 40)"));
    assert!(rendered.contains("for: 30s") && !rendered.contains("for: 15m"), "for: at 2 s a minute");
}

#[test]
fn rules_and_alerts_check_and_their_unit_tests_pass() {
    let dir = Path::new(ROOT).join("dashboards");
    let records = rules_in("rules.yml");
    let alerts = rules_in("alerts.yml");
    let check = promtool(&["check", "rules", "rules.yml", "alerts.yml"], &dir);
    assert!(check.contains(&format!("SUCCESS: {} rules found", records.len())), "{check}");
    assert!(check.contains(&format!("SUCCESS: {} rules found", alerts.len())), "{check}");
    assert!(records.iter().all(|r| r.record.is_some()) && alerts.iter().all(|r| r.alert.is_some()));
    promtool(&["test", "rules", "rules_test.yml", "alerts_test.yml"], &dir);

    // Every alert fires in one case and stays quiet in another; has a runbook section, a
    // runbook_url pointing at it and a dashboard link to a dashboard of this directory.
    let tests: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(dir.join("alerts_test.yml")).expect("tests"))
            .expect("yaml");
    let cases: Vec<&Value> = tests["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().into_iter().flatten())
        .collect();
    let runbooks = std::fs::read_to_string(dir.join("README.md")).expect("README");
    let uids: BTreeSet<String> =
        dashboards().iter().map(|(_, d)| d["uid"].as_str().expect("uid").to_string()).collect();
    for rule in &alerts {
        let alert = rule.alert.as_deref().expect("alert");
        let expected = |firing: bool| {
            cases.iter().any(|c| {
                c["alertname"] == alert && c["exp_alerts"].as_array().is_some_and(|a| a.is_empty() != firing)
            })
        };
        assert!(expected(true) && expected(false), "{alert}: a firing and a quiet test");
        assert!(runbooks.contains(&format!("### {alert}\n")), "{alert} has no runbook");
        for key in ["summary", "description"] {
            assert!(rule.annotations.contains_key(key), "{alert}: no {key}");
        }
        let runbook = &rule.annotations["runbook_url"];
        assert!(runbook.ends_with(&format!("/dashboards/README.md#{}", alert.to_lowercase())), "{runbook}");
        assert!(runbook.starts_with("https://") && !runbook.contains("YOUR-ORG"), "{runbook}");
        let dashboard = &rule.annotations["dashboard"];
        let uid = dashboard.rsplit_once("/d/").map(|(_, uid)| uid).unwrap_or_else(|| panic!("{dashboard}"));
        assert!(uids.contains(uid), "{alert}: no dashboard {uid}");
    }
    // Every recording rule an alert reads exists, and every one is tested.
    let names: BTreeSet<String> = records.iter().filter_map(|r| r.record.clone()).collect();
    assert_eq!(names.iter().cloned().collect::<Vec<_>>().len(), records.len(), "a record name repeats");
    let rule_tests = std::fs::read_to_string(dir.join("rules_test.yml")).expect("rules_test.yml");
    for rule in &alerts {
        for name in recorded_names(&rule.expr) {
            assert!(
                names.contains(&name),
                "{}: {name} is no recording rule",
                rule.alert.as_deref().unwrap_or("")
            );
        }
    }
    let tested = names.iter().filter(|n| rule_tests.contains(n.as_str())).count();
    assert!(tested >= 12, "only {tested} recording rules tested");
}

/// Names of recording rules (`level:metric:operation`) an expression mentions.
fn recorded_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.matches(':').count() == 2)
        .map(str::to_string)
        .collect()
}

#[test]
fn the_example_prometheus_config_is_valid() {
    let dir = temp_dir("promconfig");
    std::fs::create_dir_all(dir.join("rules")).expect("rules dir");
    std::fs::copy(Path::new(ROOT).join("examples/prometheus.yml"), dir.join("prometheus.yml")).expect("copy");
    for file in ["dashboards/rules.yml", "dashboards/alerts.yml", "deploy/prometheus/shard-alerts.yml"] {
        let name = Path::new(file).file_name().expect("name");
        std::fs::copy(Path::new(ROOT).join(file), dir.join("rules").join(name)).expect("copy");
    }
    let out = promtool(&["check", "config", "prometheus.yml"], &dir);
    assert!(out.contains(&format!("SUCCESS: {} rules found", rules_in("rules.yml").len())), "{out}");
    assert!(out.contains(&format!("SUCCESS: {} rules found", rules_in("alerts.yml").len())), "{out}");
}

/// The queries of the KPI cookbook (docs/alerts.md): the lines of its `promql` blocks.
fn kpi_queries() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("docs/alerts.md")).expect("docs/alerts.md");
    let start = readme.find("## KPI cookbook").expect("a KPI cookbook in docs/alerts.md");
    let section = &readme[start..];
    let section = &section[..section[4..].find("\n## ").map_or(section.len(), |i| i + 4)];
    let mut out = Vec::new();
    let mut inside = false;
    for line in section.lines() {
        if line.starts_with("```") {
            inside = line == "```promql";
        } else if inside && !line.trim().is_empty() && !line.starts_with('#') {
            out.push(line.trim().to_string());
        }
    }
    out
}

#[test]
fn dashboards_name_only_recording_rules_that_exist() {
    // rules.yml is the generator's output (checked above), so these are the names xtask/src defines.
    let defined: BTreeSet<String> = rules_in("rules.yml").into_iter().filter_map(|r| r.record).collect();
    let mut used = 0;
    for (file, title, expr) in panel_queries() {
        for name in recorded_names(&expr) {
            assert!(defined.contains(&name), "{file}: {title} names {name}, which xtask/src does not define");
            used += 1;
        }
    }
    assert!(used >= 20, "the dashboards read the recording rules ({used} uses)");
    // A misspelt name is caught.
    assert!(
        recorded_names("sobot:human_not_received:ratio5m{job=~\".*\"}").iter().any(|n| !defined.contains(n))
    );
}

#[test]
fn dashboards_name_only_metrics_of_the_reference() {
    let reference = sobot_exporter_core::reference::markdown();
    let mut named = 0;
    for (file, title, expr) in panel_queries() {
        for name in metric_names(&expr) {
            assert!(
                reference.contains(&format!("`{name}`")),
                "{file}: {title} names {name}, not in the reference"
            );
            named += 1;
        }
    }
    assert!(named > 100, "{named}");
}

/// The overview's history row reads every `today` series over its panel's step (`1d` over the last
/// 30 days, or `1h`), so that samples an hour apart (`sobot_exporter backfill`) show between
/// Prometheus's 5-minute lookbacks: each selector is `last_over_time(…[step])`, or the groups'
/// `absent_over_time(…[step])`, never an instant.
#[test]
fn the_history_row_reads_each_series_over_its_panels_step() {
    let (_, overview) = dashboards().into_iter().find(|(f, _)| f == "sobot-overview.json").expect("overview");
    let mut row = "";
    let mut steps = BTreeMap::new();
    for p in panels(&overview) {
        let title = p["title"].as_str().unwrap_or("");
        if p["type"] == "row" {
            row = title;
            continue;
        }
        if !row.starts_with("History") {
            assert!(p.get("interval").is_none() && p.get("timeFrom").is_none(), "{title}");
            continue;
        }
        let step = p["interval"].as_str().unwrap_or_else(|| panic!("{title}: no interval"));
        assert!(step == "1d" || step == "1h", "{title}: {step}");
        assert_eq!(p["timeFrom"].as_str(), (step == "1d").then_some("30d"), "{title}");
        for expr in p["targets"].as_array().into_iter().flatten().filter_map(|t| t["expr"].as_str()) {
            let tokens = expression_names(expr);
            for name in metric_names(expr) {
                let selectors: Vec<usize> =
                    expr.match_indices(&format!("{name}{{")).map(|(i, _)| i).collect();
                assert_eq!(selectors.len(), tokens.iter().filter(|t| **t == name).count(), "{title}: {expr}");
                for i in selectors {
                    let function =
                        ["last_over_time(", "absent_over_time("].iter().find(|f| expr[..i].ends_with(**f));
                    let selector = &expr[i..i + expr[i..].find('}').expect("}") + 1];
                    assert!(selector.contains("window=\"today\""), "{title}: {selector}");
                    let read = format!("{selector}[{step}])");
                    assert!(
                        function.is_some() && expr[i..].starts_with(&read),
                        "{title}: {name} not read over {step}: {expr}"
                    );
                    if function == Some(&"absent_over_time(") {
                        assert_eq!(name, "sobot_group_human_consult_sessions", "{title}");
                    }
                }
                *steps.entry(step).or_insert(0) += 1;
            }
        }
    }
    // The row has daily and hourly figures (names read, counted per query).
    assert!(
        steps.get("1d").is_some_and(|n| *n >= 12) && steps.get("1h").is_some_and(|n| *n >= 9),
        "{steps:?}"
    );
}

#[test]
fn dashboards_hold_at_scale() {
    for (file, d) in dashboards() {
        let vars: BTreeSet<&str> = d["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str())
            .collect();
        let queries: Vec<String> = panels(&d)
            .iter()
            .flat_map(|p| p["targets"].as_array().into_iter().flatten())
            .filter_map(|t| t["expr"].as_str().map(str::to_string))
            .collect();
        for var in ["job", "instance"] {
            assert!(vars.contains(var), "{file}: no {var} variable");
        }
        for expr in &queries {
            // Every selector of the exporter's series is scoped to the chosen job and instance.
            if !metric_names(expr).is_empty() || !recorded_names(expr).is_empty() {
                assert!(
                    expr.contains("job=~\"$job\"") && expr.contains("instance=~\"$instance\""),
                    "{file}: {expr}"
                );
            }
            if expr.contains("tenant") && file != "sobot-platform.json" {
                assert!(vars.contains("tenant"), "{file}: tenant label without a variable");
            }
        }
        assert!(panels(&d).iter().any(|p| p["type"] == "row"), "{file}: no rows");
        // Per-agent and per-seat time series are limited to $top.
        for p in panels(&d) {
            let exprs: Vec<&str> =
                p["targets"].as_array().into_iter().flatten().filter_map(|t| t["expr"].as_str()).collect();
            let per_item =
                exprs.iter().any(|e| e.contains("sobot_agent_info") || e.contains("laaffic_seat_info"));
            if per_item
                && matches!(p["type"].as_str(), Some("timeseries" | "bargauge"))
                && !exprs.iter().any(|e| e.contains("by (group"))
            {
                assert!(
                    exprs.iter().all(|e| e.contains("topk($top") || e.contains("bottomk($top")),
                    "{file}: {} shows every agent",
                    p["title"]
                );
            }
        }
        if file != "exporter-health.json"
            && file != "sobot-platform.json"
            && file != "laaffic-callcenter.json"
        {
            assert!(vars.contains("tenant"), "{file}: no tenant variable");
        }
    }
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
    let readme =
        std::fs::read_to_string(Path::new(ROOT).join("docs/deployment.md")).expect("docs/deployment.md");
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

/// Prometheus scraping the exporter's `/metrics` (job `sobot_exporter`) and, through `/sd` and
/// `/probe`, every platform tenant as a target of its own (job `sobot_tenants`).
async fn start_prometheus(dir: &Path, target: &str) -> Prometheus {
    let rules = Path::new(ROOT).join("dashboards/rules.yml");
    let alerts = Path::new(ROOT).join("dashboards/alerts.yml");
    let config = format!(
        "global:\n  scrape_interval: 2s\n  evaluation_interval: 1s\nrule_files:\n  - {}\n  - {}\nscrape_configs:\n  \
         - job_name: sobot_exporter\n    static_configs:\n      - targets: [\"{target}\"]\n  \
         - job_name: sobot_tenants\n    http_sd_configs:\n      - url: http://{target}/sd\n        refresh_interval: 2s\n",
        rules.display(),
        alerts.display()
    );
    Prometheus::start(dir, &config, &[]).await
}

async fn query(prometheus: &Prometheus, expr: &str) -> Result<Value, String> {
    query_at(&prometheus.url, expr).await
}

/// Asks Prometheus every expression, eight at a time; the answers in their order.
async fn query_many(prometheus: &Prometheus, exprs: &[&str]) -> Vec<Result<Value, String>> {
    let mut out = Vec::with_capacity(exprs.len());
    for chunk in exprs.chunks(8) {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, expr) in chunk.iter().enumerate() {
            let (url, expr) = (prometheus.url.clone(), expr.to_string());
            tasks.spawn(async move { (i, query_at(&url, &expr).await) });
        }
        let mut answers = tasks.join_all().await;
        answers.sort_by_key(|(i, _)| *i);
        out.extend(answers.into_iter().map(|(_, answer)| answer));
    }
    out
}

async fn query_at(url: &str, expr: &str) -> Result<Value, String> {
    let response = http()
        .get(format!("{url}/api/v1/query"))
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

/// `(what, expr)` asked again, every half second, until each has had data once or `patience`
/// has passed: what never had data, or failed.
async fn until_data(
    prometheus: &Prometheus,
    mut waiting: Vec<(String, String)>,
    patience: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + patience;
    let mut failures = Vec::new();
    while !waiting.is_empty() {
        let exprs: Vec<&str> = waiting.iter().map(|(_, e)| e.as_str()).collect();
        let answers = query_many(prometheus, &exprs).await;
        let mut still = Vec::new();
        for ((what, expr), answer) in waiting.into_iter().zip(answers) {
            match answer {
                Ok(data) if has_data(&data) => {}
                Ok(_) if Instant::now() < deadline => still.push((what, expr)),
                Ok(_) => failures.push(format!("{what}: no data for {expr}")),
                Err(e) => failures.push(format!("{what}: {e} in {expr}")),
            }
        }
        waiting = still;
        if !waiting.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    failures
}

fn has_data(data: &Value) -> bool {
    match data["resultType"].as_str() {
        Some("vector" | "matrix") => data["result"].as_array().is_some_and(|r| !r.is_empty()),
        Some("scalar" | "string") => true,
        _ => false,
    }
}

/// The demo's day at 120× (a simulated hour in 30 s), collected every 5 s: the day-so-far figures
/// grow by ten simulated minutes a cycle, enough for the 15-minute and 1-hour rules' volume guards
/// within a few cycles.
const FAST_DEMO: [&str; 5] = ["--demo", "--demo.speed", "120", "--collect.interval", "5s"];

#[tokio::test(flavor = "multi_thread")]
async fn every_panel_and_alert_evaluates_in_a_real_prometheus_against_the_demo() {
    let exporter = Exporter::start_with_env("e2e", "http://127.0.0.1:9", &FAST_DEMO, &[]).await;
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
        .chain(sobot_exporter_core::telemetry::SELF_METRICS.iter().map(|m| m.name.to_string()))
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
    for (rule, expr) in
        rules().into_iter().chain(kpi_queries().into_iter().map(|q| ("KPI cookbook".into(), q)))
    {
        for name in metric_names(&expr) {
            if !exposed.contains(&name) {
                unknown.insert(name, rule.clone());
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

    // The platform's tenants, scraped through /sd and /probe, have their statistics.
    let deadline = Instant::now() + Duration::from_secs(90);
    let tenants =
        "count(count by (tenant) (sobot_human_valid_sessions{job=\"sobot_tenants\", window=\"today\"}))";
    loop {
        let n = query(&prometheus, tenants)
            .await
            .ok()
            .and_then(|d| d["result"][0]["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()));
        if n.is_some_and(|n| n >= 20.0) {
            break;
        }
        assert!(Instant::now() < deadline, "the tenants were not scraped through /sd: {n:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Every panel query returns data, the 15-minute and 1-hour ratios behind their volume guards
    // included: the demo's figures grow. Each query is asked again until it has had data once (a
    // ratio is empty for a few seconds after the simulated midnight, like any volume guard after
    // a real one).
    let windowed = queries.iter().filter(|(_, _, e)| e.contains("15m") || e.contains("1h")).count();
    assert!(windowed >= 10, "the windowed panels are among the queries ({windowed})");
    let panels: Vec<(String, String)> =
        queries.iter().map(|(file, title, expr)| (format!("{file} / {title}"), expr.clone())).collect();
    let mut failures = until_data(&prometheus, panels, Duration::from_secs(45)).await;
    let rules = rules();
    let exprs: Vec<&str> = rules.iter().map(|(_, e)| e.as_str()).collect();
    for ((rule, _), answer) in rules.iter().zip(query_many(&prometheus, &exprs).await) {
        if let Err(e) = answer {
            failures.push(format!("rule {rule}: {e}"));
        }
    }
    // The KPI cookbook's queries return data on the demo, and so do the recorded increases
    // (Prometheus evaluates the rules every second).
    let kpis = kpi_queries();
    assert!(kpis.len() >= 8, "{kpis:?}");
    let kpis = kpis.into_iter().map(|q| ("KPI cookbook".to_string(), q)).collect();
    failures.extend(until_data(&prometheus, kpis, Duration::from_secs(15)).await);
    for record in ["sobot:human_valid_sessions:increase15m", "sobot_group:human_valid_sessions:increase1h"] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !query(&prometheus, record).await.is_ok_and(|d| has_data(&d)) {
            if Instant::now() > deadline {
                failures.push(format!("recording rule {record}: no data"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
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
