//! Every dashboard panel shows data as Grafana first opens it, in each shape an exporter runs in:
//! a company only, a platform only, and a company with a platform (the demo). Each shape is a real
//! exporter scraped by Debian's `prometheus` as `deploy/` configures it (the exporter's `/metrics`,
//! and every tenant through `/sd` and `/probe`), with `dashboards/rules.yml`. The dashboards'
//! variables take the selection Grafana gives them (`grafana`: the saved value where it is an
//! option, else "All" or the first option, from the variables' own queries against this
//! Prometheus), each panel query is interpolated as Grafana's Prometheus data source does, and every
//! query must return data, except where a shape has no such data at all (the Laaffic dashboard
//! without Laaffic credentials, say), which the test lists and checks.

mod common;
mod grafana;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use sobot_exporter_core::secret::Secret;
use sobot_simulator::{DataMode, demo_population, sim_platform};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// How long a shape may take to have data in every panel.
const DEADLINE: Duration = Duration::from_secs(90);

fn dashboards() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(Path::new(ROOT).join("dashboards")).expect("dashboards dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let json: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
            out.push((path.file_name().expect("name").to_string_lossy().into_owned(), json));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), 6, "six dashboards");
    out
}

/// A panel: its row's title, its title and its queries.
struct Panel {
    row: String,
    title: String,
    exprs: Vec<String>,
}

/// The panels of a dashboard, each with the title of the row above it.
fn panels(dashboard: &Value) -> Vec<Panel> {
    let mut row = String::new();
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().into_iter().flatten() {
        let title = p["title"].as_str().unwrap_or("").to_string();
        if p["type"] == "row" {
            row = title;
            continue;
        }
        let exprs = p["targets"].as_array().into_iter().flatten();
        let exprs = exprs.filter_map(|t| t["expr"].as_str().map(str::to_string)).collect();
        out.push(Panel { row: row.clone(), title, exprs });
    }
    out
}

/// Prometheus as `deploy/prometheus` configures it, faster: the exporter's `/metrics` (job
/// `sobot_exporter`) and each tenant of its `/sd` (job `sobot_tenants`), the recording rules.
async fn prometheus(dir: &Path, target: &str) -> Prometheus {
    let rules = Path::new(ROOT).join("dashboards/rules.yml");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  \
         - job_name: sobot_exporter\n    static_configs:\n      - targets: [\"{target}\"]\n  \
         - job_name: sobot_tenants\n    http_sd_configs:\n      - url: http://{target}/sd\n        refresh_interval: 1s\n",
        rules.display()
    );
    Prometheus::start(&dir.join("prometheus"), &config, &[]).await
}

async fn query(prometheus: &str, expr: &str) -> Result<Value, String> {
    let response = http()
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    match body["status"].as_str() {
        Some("success") => Ok(body["data"].clone()),
        _ => Err(format!("{}: {}", body["errorType"], body["error"])),
    }
}

fn has_data(data: &Value) -> bool {
    match data["resultType"].as_str() {
        Some("vector" | "matrix") => data["result"].as_array().is_some_and(|r| !r.is_empty()),
        Some("scalar" | "string") => true,
        _ => false,
    }
}

/// The exporter's metric and recording rule names an expression reads.
fn names(expr: &str) -> BTreeSet<String> {
    expression_names(expr)
        .into_iter()
        .filter(|t| t.starts_with("sobot") || t.starts_with("laaffic"))
        .collect()
}

/// A query whose recording rules are guarded ratios only (`…:ratio15m`, `…:ratio1h`): empty until
/// enough sessions arrive in their window, which a shape's short run at the real pace of the day
/// (these shapes run at 1x; `tests/dashboards.rs` runs the demo fast and requires them) may not
/// reach. Such a query may be empty where another query of its panel has data.
fn guarded(expr: &str) -> bool {
    let rules: Vec<String> = names(expr).into_iter().filter(|n| n.matches(':').count() == 2).collect();
    !rules.is_empty() && rules.iter().all(|n| n.ends_with(":ratio15m") || n.ends_with(":ratio1h"))
}

/// Dashboards, rows or panels (`Some` row or panel title; `None` for the whole dashboard) a shape
/// has no data for.
type Outside = &'static [(&'static str, Option<&'static str>)];

/// What is wrong with the dashboards against `prometheus` as Grafana opens them; empty when every
/// panel of the shape shows data. Also returns how many queries were run.
async fn problems(prometheus: &str, outside: Outside) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let mut run = 0;
    let mut absent_cache: BTreeMap<String, bool> = BTreeMap::new();
    for (file, dashboard) in dashboards() {
        let (values, resolved) = grafana::resolve(&dashboard, prometheus).await;
        // On one platform tenant (not the company, not "All").
        let on_tenant = resolved.get("tenant").is_some_and(|t| !t.include_all) && values["tenant"] != "^$";
        for panel in panels(&dashboard) {
            let out = outside
                .iter()
                .any(|(f, part)| *f == file && part.is_none_or(|p| p == panel.row || p == panel.title));
            let mut answers = tokio::task::JoinSet::new();
            for (i, expr) in panel.exprs.iter().enumerate() {
                let interpolated = grafana::interpolate(expr, &values);
                let url = prometheus.to_string();
                answers.spawn(async move { (i, query(&url, &interpolated).await, interpolated) });
            }
            let mut empty = Vec::new();
            let mut live = false;
            for (i, answer, interpolated) in answers.join_all().await {
                run += 1;
                match answer {
                    Ok(data) if has_data(&data) => live = true,
                    Ok(_) => empty.push((panel.exprs[i].clone(), interpolated)),
                    Err(e) => problems.push(format!("{file} / {}: {e} in {interpolated}", panel.title)),
                }
            }
            for (expr, interpolated) in empty {
                if out {
                    // Outside the shape: empty only because a name it reads has no series at all,
                    // or, on a tenant, no tenant has it.
                    let mut absent = false;
                    for name in names(&expr) {
                        for (key, selector) in [
                            (name.clone(), format!("{{__name__=\"{name}\"}}")),
                            (format!("{name} of a tenant"), format!("{{__name__=\"{name}\", tenant!=\"\"}}")),
                        ] {
                            if key != name && !on_tenant {
                                continue;
                            }
                            if !absent_cache.contains_key(&key) {
                                let none = query(prometheus, &format!("count({selector})"))
                                    .await
                                    .is_ok_and(|d| !has_data(&d));
                                absent_cache.insert(key.clone(), none);
                            }
                            absent |= absent_cache[&key];
                        }
                    }
                    if !absent {
                        problems.push(format!(
                            "{file} / {}: no data though this shape (on a tenant: some tenant) has every series it reads: {interpolated}",
                            panel.title
                        ));
                    }
                } else if !(guarded(&expr) && live) {
                    problems.push(format!(
                        "{file} / {} ({}): no data for {interpolated}",
                        panel.title, panel.row
                    ));
                }
            }
        }
    }
    (problems, run)
}

/// Waits until every panel of the shape shows data (or fails with what does not), then checks
/// the tenant variable's selection on each dashboard that has one: `expect` is the selected value
/// by dashboard file.
async fn check(shape: &str, prometheus: &Prometheus, outside: Outside, expect: &[(&str, &str)]) {
    let start = Instant::now();
    let deadline = start + DEADLINE;
    loop {
        let (problems, run) = problems(&prometheus.url, outside).await;
        let some = problems.iter().take(12).cloned().collect::<Vec<_>>().join("\n  ");
        eprintln!(
            "{shape}: {:.0} s, {} of {run} queries fail:\n  {some}",
            start.elapsed().as_secs_f64(),
            problems.len()
        );
        if problems.is_empty() {
            assert!(run > 200, "{shape}: every panel query ran ({run})");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{shape}: {} of {run} queries fail as Grafana opens the dashboards:\n{}",
            problems.len(),
            problems.join("\n")
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    for (file, dashboard) in dashboards() {
        let (values, resolved) = grafana::resolve(&dashboard, &prometheus.url).await;
        let Some(tenant) = resolved.get("tenant") else { continue };
        let wanted = expect.iter().find(|(f, _)| *f == file).map(|(_, v)| *v);
        let wanted = wanted
            .unwrap_or_else(|| panic!("{shape}: {file} has a tenant variable the test does not expect"));
        assert_eq!(
            values["tenant"], wanted,
            "{shape}: {file} opens on this tenant; options {:?}",
            tenant.options
        );
    }
}

/// The first platform tenant by name, as the tenant variable lists them.
fn first_tenant(tenants: &[sobot_simulator::SimTenant]) -> String {
    let first =
        tenants.iter().min_by(|a, b| a.company_name.encode_utf16().cmp(b.company_name.encode_utf16()));
    first.expect("tenants").company_id.clone()
}

/// Where a company is collected every dashboard opens on it (`^$`: no tenant label), the
/// platform's on every tenant.
const OPEN_ON_THE_COMPANY: [(&str, &str); 5] = [
    ("exporter-health.json", "^$"),
    ("sobot-agents.json", "^$"),
    ("sobot-overview.json", "^$"),
    ("sobot-platform.json", ".*"),
    ("sobot-quality.json", "^$"),
];

#[tokio::test(flavor = "multi_thread")]
async fn a_company_alone_shows_data_in_every_panel_but_the_platforms() {
    let config = SimConfig {
        data: DataMode::Live,
        agents: demo_population(),
        quality_records: 60,
        laaffic_seats: 12,
        laaffic_api_key: Secret::new(LAAFFIC_KEY),
        laaffic_api_secret: Secret::new(LAAFFIC_SECRET),
        ..SimConfig::fixtures(APP_ID, APP_KEY)
    };
    let sim = Simulator::start(config).await.expect("simulator");
    let dir = temp_dir("shape_company");
    let mut groups: Vec<String> = demo_population().into_iter().map(|a| a.group).collect();
    groups.dedup();
    let yaml =
        format!("windows: [today, yesterday]\ngroups: [{}]\nquality:\n  page_size: 50\n", groups.join(", "));
    let config = write_file(&dir, "config.yml", &yaml);
    let base = sim.base_url();
    let env = [
        ("SOBOT_APP_ID", APP_ID),
        ("SOBOT_APP_KEY", APP_KEY),
        ("LAAFFIC_API_KEY", LAAFFIC_KEY),
        ("LAAFFIC_API_SECRET", LAAFFIC_SECRET),
    ];
    let args = ["--config.file", config.to_str().expect("utf8"), "--laaffic.base-url", &base];
    let exporter = Exporter::start_with_env("shape_company", &base, &args, &env).await;
    let prometheus = prometheus(exporter.dir(), &exporter.addr).await;
    check("company only", &prometheus, &[("sobot-platform.json", None)], &OPEN_ON_THE_COMPANY).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_platform_alone_shows_its_first_tenant_and_every_panel_its_tenants_have() {
    let platform = sim_platform(6);
    let config = SimConfig { platform: Some(platform.clone()), ..SimConfig::fixtures(APP_ID, APP_KEY) };
    let sim = Simulator::start(config).await.expect("simulator");
    let dir = temp_dir("shape_platform");
    let yaml = format!(
        "platform:\n  union_code: \"{}\"\n  email: {}\n  interval: 1m\n  tenants_on_metrics: false\n",
        platform.union_code, platform.email
    );
    let config = write_file(&dir, "config.yml", &yaml);
    let key = platform.union_key.expose().to_string();
    let env = [("SOBOT_PLATFORM_UNION_KEY", key.as_str())];
    let args = ["--config.file", config.to_str().expect("utf8")];
    let exporter = Exporter::start_with_env("shape_platform", &sim.base_url(), &args, &env).await;
    let prometheus = prometheus(exporter.dir(), &exporter.addr).await;
    // Tenants run the six statistics collectors: no agents (nor the figures the rules derive from
    // theirs), quality, skill groups or Laaffic.
    let outside: Outside = &[
        ("laaffic-callcenter.json", None),
        ("sobot-agents.json", None),
        ("sobot-quality.json", None),
        ("sobot-overview.json", Some("Groups")),
        ("sobot-overview.json", Some("Service level (30 s)")),
        // Tenants' collectors neither page nor guard agents: the agents dropped and truncation
        // figures (stats, a table column, the row of per-collector series).
        ("exporter-health.json", Some("Agents dropped")),
        ("exporter-health.json", Some("Truncated collectors")),
        ("exporter-health.json", Some("Collectors")),
    ];
    let first = first_tenant(&platform.tenants);
    let expect = [
        ("exporter-health.json", first.as_str()),
        ("sobot-agents.json", first.as_str()),
        ("sobot-overview.json", first.as_str()),
        ("sobot-platform.json", ".*"),
        ("sobot-quality.json", first.as_str()),
    ];
    check("platform only", &prometheus, outside, &expect).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_a_company_and_a_platform_shows_data_in_every_panel() {
    let exporter = Exporter::start_with_env("shape_demo", "http://127.0.0.1:9", &["--demo"], &[]).await;
    let prometheus = prometheus(exporter.dir(), &exporter.addr).await;
    check("company and platform", &prometheus, &[], &OPEN_ON_THE_COMPANY).await;
}
