//! The shard alerts (promtool's check and unit tests, runbooks) and the Prometheus configurations of
//! `deploy/prometheus/` (promtool, and how the configs agree with each other).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{self, temp_dir};
use crate::{ROOT, array_of, copy_rules, promtool, read, rules_of, str_of, yaml};

/// Metric names an expression mentions (outside quoted strings).
fn metric_names(expr: &str) -> BTreeSet<String> {
    common::expression_names(expr).into_iter().filter(|t| t.starts_with("sobot_")).collect()
}

// -------------------------------------------------------------------------------- alerting rules

#[test]
fn shard_alerts_check_and_their_unit_tests_pass() {
    let dir = Path::new(ROOT).join("deploy/prometheus");
    let rules = rules_of(&yaml("deploy/prometheus/shard-alerts.yml"));
    let check = promtool(&["check", "rules", "shard-alerts.yml"], &dir);
    assert!(check.contains(&format!("SUCCESS: {} rules found", rules.len())), "{check}");
    promtool(&["test", "rules", "shard-alerts_test.yml"], &dir);

    // Every alert fires in one test and stays quiet in another; has a summary, a description, a
    // runbook URL pointing at its section of deploy/README.md, and a severity.
    let tests = yaml("deploy/prometheus/shard-alerts_test.yml");
    let cases: Vec<&Value> = array_of(&tests["tests"], "tests")
        .iter()
        .flat_map(|t| array_of(&t["alert_rule_test"], "alert_rule_test"))
        .collect();
    let readme = read("deploy/README.md");
    for rule in &rules {
        let alert = str_of(&rule["alert"], "alert");
        let expected = |firing: bool| {
            cases.iter().any(|c| {
                c["alertname"] == alert && c["exp_alerts"].as_array().is_some_and(|a| a.is_empty() != firing)
            })
        };
        assert!(expected(true) && expected(false), "{alert}: a firing and a quiet test");
        for key in ["summary", "description", "runbook_url"] {
            assert!(rule["annotations"][key].is_string(), "{alert}: no {key}");
        }
        let runbook = str_of(&rule["annotations"]["runbook_url"], "runbook_url");
        assert!(
            runbook.ends_with(&format!("deploy/README.md#{}", alert.to_lowercase())),
            "{alert}: {runbook}"
        );
        assert!(readme.contains(&format!("### {alert}\n")), "{alert} has no runbook in deploy/README.md");
        assert!(
            ["critical", "warning"].contains(&rule["labels"]["severity"].as_str().unwrap_or("")),
            "{alert}"
        );
    }
}

/// The shard alerts use metrics of platform mode that the exporter of this branch may not have yet:
/// once the exporter documents any `sobot_exporter_platform_*` self-metric, every one the alerts
/// name must be documented too.
#[test]
fn shard_alerts_name_only_documented_platform_metrics_once_the_exporter_has_them() {
    let used: BTreeSet<String> = rules_of(&yaml("deploy/prometheus/shard-alerts.yml"))
        .iter()
        .flat_map(|r| metric_names(str_of(&r["expr"], "expr")))
        .collect();
    assert!(used.iter().all(|n| n.starts_with("sobot_exporter_platform_")), "{used:?}");
    let documented: BTreeSet<&str> = sobot_exporter::telemetry::SELF_METRICS.iter().map(|m| m.name).collect();
    if !documented.iter().any(|n| n.starts_with("sobot_exporter_platform_")) {
        eprintln!("no platform self-metric in SELF_METRICS yet: the names {used:?} are not checked");
        return;
    }
    let missing: Vec<&String> = used.iter().filter(|n| !documented.contains(n.as_str())).collect();
    assert!(missing.is_empty(), "shard-alerts.yml names metrics the exporter does not document: {missing:?}");
}

// ------------------------------------------------------------------------- Prometheus configs

#[test]
fn every_prometheus_config_passes_promtool() {
    let tmp = temp_dir("deploy_promtool");
    let rules = copy_rules(tmp.path());
    for config in ["single.yml", "hashmod/prometheus-0.yml", "hashmod/prometheus-1.yml", "agent/store.yml"] {
        let name = config.replace('/', "_");
        std::fs::copy(Path::new(ROOT).join("deploy/prometheus").join(config), tmp.path().join(&name))
            .expect("copy config");
        let out = promtool(&["check", "config", &name], tmp.path());
        let found: usize = out
            .lines()
            .filter_map(|l| {
                l.trim().strip_prefix("SUCCESS: ")?.strip_suffix(" rules found")?.parse::<usize>().ok()
            })
            .sum();
        assert!(out.contains("SUCCESS: 3 rule files found") && found == rules, "{config}: {out}");
    }
    let agents = Path::new(ROOT).join("deploy/prometheus/agent");
    for n in 1..=3 {
        let name = format!("agent-{n}.yml");
        promtool(&["check", "config", "--agent", &name], &agents);
        // --agent really checks agent mode: the store's config, with rules, is refused.
        if n == 1 {
            let out = Command::new("promtool")
                .args(["check", "config", "--agent", "store.yml"])
                .current_dir(&agents)
                .output()
                .expect("promtool");
            assert!(!out.status.success(), "promtool --agent accepted rule_files");
        }
    }
}

/// The `sobot_exporter` job's targets and the `/sd` URLs of the `sobot_tenants` job of a config.
fn replica_addresses(config: &Value, what: &str) -> (Vec<String>, Vec<String>) {
    let jobs = array_of(&config["scrape_configs"], what);
    let job = |name: &str| {
        jobs.iter().find(|j| j["job_name"] == name).unwrap_or_else(|| panic!("{what}: no job {name}"))
    };
    let targets: Vec<String> = array_of(&job("sobot_exporter")["static_configs"], what)
        .iter()
        .flat_map(|s| array_of(&s["targets"], what).iter().map(|t| str_of(t, what).to_string()))
        .collect();
    let sd: Vec<String> = array_of(&job("sobot_tenants")["http_sd_configs"], what)
        .iter()
        .map(|s| str_of(&s["url"], what).to_string())
        .collect();
    (targets, sd)
}

#[test]
fn the_configs_agree_and_differ_only_where_they_say() {
    let replicas: Vec<String> = (1..=3).map(|n| format!("sobot-exporter-{n}:9877")).collect();
    let sd_urls: Vec<String> = replicas.iter().map(|r| format!("http://{r}/sd")).collect();
    for config in ["single.yml", "hashmod/prometheus-0.yml", "hashmod/prometheus-1.yml"] {
        let (targets, sd) = replica_addresses(&yaml(&format!("deploy/prometheus/{config}")), config);
        assert_eq!(targets, replicas, "{config}");
        assert_eq!(sd, sd_urls, "{config}");
    }
    for n in 1..=3 {
        let config = format!("deploy/prometheus/agent/agent-{n}.yml");
        let (targets, sd) = replica_addresses(&yaml(&config), &config);
        assert_eq!(targets, [replicas[n - 1].clone()], "{config}");
        assert_eq!(sd, [sd_urls[n - 1].clone()], "{config}");
    }

    // Without comment lines, the hashmod servers differ only in the lines marked "server index",
    // and those only in the index; the modulus is the number of servers.
    let body = |path: &str| -> Vec<String> {
        read(path).lines().filter(|l| !l.trim_start().starts_with('#')).map(str::to_string).collect()
    };
    let servers: Vec<Vec<String>> =
        (0..2).map(|i| body(&format!("deploy/prometheus/hashmod/prometheus-{i}.yml"))).collect();
    let files =
        std::fs::read_dir(Path::new(ROOT).join("deploy/prometheus/hashmod")).expect("hashmod dir").count();
    assert_eq!(files, servers.len(), "one file per server");
    for (i, server) in servers.iter().enumerate() {
        assert_eq!(server.len(), servers[0].len());
        let mut marked = 0;
        for (line, first) in server.iter().zip(&servers[0]) {
            if line.contains("# server index") {
                marked += 1;
                assert_eq!(*line, first.replace("\"0\"", &format!("\"{i}\"")), "prometheus-{i}.yml");
            } else {
                assert_eq!(line, first, "prometheus-{i}.yml");
            }
        }
        assert_eq!(marked, 2, "prometheus-{i}.yml: two lines marked server index");
        let text = read(&format!("deploy/prometheus/hashmod/prometheus-{i}.yml"));
        assert!(text.contains(&format!("modulus: {}", servers.len())), "prometheus-{i}.yml: modulus");
    }

    // The agents differ only in the replica they scrape.
    let first = body("deploy/prometheus/agent/agent-1.yml").join("\n");
    for n in 2..=3 {
        assert_eq!(
            body(&format!("deploy/prometheus/agent/agent-{n}.yml")).join("\n"),
            first.replace("sobot-exporter-1", &format!("sobot-exporter-{n}")),
            "agent-{n}.yml"
        );
    }
}
