//! Everything under `deploy/`: the Prometheus configurations (promtool, then real Prometheus servers
//! and agents scraping fake exporter replicas on loopback), the shard alerts and their unit tests,
//! the Kubernetes manifests (kubernetes-validate, offline, with its bundled schemas) and the
//! Prometheus Operator objects (checked for their structure; their rules are the plain rules files).
//!
//! Needs `promtool` and `prometheus` from Debian's `prometheus` package and the test venv with
//! `kubernetes-validate` (tests/setup.sh installs both).
//!
//! One module per part: `prometheus_configs` (the shard alerts and the Prometheus configurations),
//! `kubernetes` (the manifests and the Prometheus Operator objects), `live_prometheus` (real
//! Prometheus servers and agents against fake replicas).

#[path = "../common/mod.rs"]
mod common;

mod kubernetes;
mod live_prometheus;
mod prometheus_configs;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

// ------------------------------------------------------------------------------------------ helpers

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    parse_yaml(path, &read(path))
}

fn parse_yaml(what: &str, text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn str_of<'a>(value: &'a Value, what: &str) -> &'a str {
    value.as_str().unwrap_or_else(|| panic!("{what}: expected a string, found {value}"))
}

fn array_of<'a>(value: &'a Value, what: &str) -> &'a Vec<Value> {
    value.as_array().unwrap_or_else(|| panic!("{what}: expected a list, found {value}"))
}

fn promtool(args: &[&str], dir: &Path) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool is installed (Debian package prometheus; tests/setup.sh installs it)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {args:?}: {text}");
    text
}

/// Every rule of a rules file (`groups[].rules[]`).
fn rules_of(file: &Value) -> Vec<Value> {
    array_of(&file["groups"], "groups")
        .iter()
        .flat_map(|g| array_of(&g["rules"], "rules").iter().cloned())
        .collect()
}

/// The alerting rules' files copied into `dir/rules/`, as the configs' `rules/*.yml` expects;
/// returns how many rules they hold.
fn copy_rules(dir: &Path) -> usize {
    std::fs::create_dir_all(dir.join("rules")).expect("rules dir");
    let mut count = 0;
    for (from, to) in [
        ("deploy/prometheus/shard-alerts.yml", "shard-alerts.yml"),
        ("dashboards/alerts.yml", "alerts.yml"),
        ("dashboards/rules.yml", "rules.yml"),
    ] {
        std::fs::copy(Path::new(ROOT).join(from), dir.join("rules").join(to)).expect("copy rules");
        count += rules_of(&yaml(from)).len();
    }
    count
}

#[test]
fn the_deploy_readme_names_only_files_that_exist() {
    let readme = read("deploy/README.md");
    let mut seen = 0;
    for (i, _) in readme.match_indices("deploy/") {
        if readme[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '/') {
            continue;
        }
        let path: String =
            readme[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || "._/-".contains(*c)).collect();
        let path = path.trim_end_matches(['.', '/']);
        if path.contains("..") || path.ends_with('-') {
            continue;
        }
        assert!(Path::new(ROOT).join(path).exists(), "deploy/README.md names {path}, which does not exist");
        seen += 1;
    }
    assert!(seen > 10, "{seen} paths");
}
