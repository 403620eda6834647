//! Everything under `deploy/`: the Prometheus configurations (promtool, then real Prometheus servers
//! and agents scraping fake exporter replicas on loopback), the shard alerts and their unit tests,
//! the Kubernetes manifests (kubernetes-validate, offline, with its bundled schemas) and the
//! Prometheus Operator objects (checked for their structure; their rules are the plain rules files).
//!
//! Needs `promtool` and `prometheus` from Debian's `prometheus` package and the test venv with
//! `kubernetes-validate` (tests/setup.sh installs both).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{http, temp_dir};
use serde_json::{Value, json};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/test-venv/bin/python");
/// The Kubernetes versions whose schemas the manifests are validated against: the oldest and the
/// newest that kubernetes-validate 1.37.0 bundles.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.25", "1.37"];
/// The Kubernetes manifests kubernetes-validate knows (core and apps kinds).
const CORE_MANIFESTS: [&str; 5] = [
    "deploy/kubernetes/configmap.yaml",
    "deploy/kubernetes/poddisruptionbudget.yaml",
    "deploy/kubernetes/secret.yaml",
    "deploy/kubernetes/service.yaml",
    "deploy/kubernetes/statefulset.yaml",
];
/// The PrometheusRule objects and the rules file each is rendered from.
const PROMETHEUS_RULES: [(&str, &str, &str); 3] = [
    (
        "sobot-exporter-shards",
        "deploy/prometheus/shard-alerts.yml",
        "deploy/kubernetes/prometheus-operator/prometheusrule-shards.yaml",
    ),
    (
        "sobot-exporter-alerts",
        "dashboards/alerts.yml",
        "deploy/kubernetes/prometheus-operator/prometheusrule-alerts.yaml",
    ),
    (
        "sobot-exporter-rules",
        "dashboards/rules.yml",
        "deploy/kubernetes/prometheus-operator/prometheusrule-rules.yaml",
    ),
];

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

/// Metric names an expression mentions (outside quoted strings).
fn metric_names(expr: &str) -> BTreeSet<String> {
    common::expression_names(expr).into_iter().filter(|t| t.starts_with("sobot_")).collect()
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

/// A Prometheus duration as the Prometheus Operator's CRDs accept it: `0`, or number-unit pairs in
/// the order y, w, d, h, m, s, ms.
fn is_duration(s: &str) -> bool {
    if s == "0" {
        return true;
    }
    const UNITS: [&str; 7] = ["y", "w", "d", "h", "m", "s", "ms"];
    let mut rest = s;
    let mut last: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = if rest.starts_with("ms") { "ms" } else { &rest[..rest.len().min(1)] };
        let Some(index) = UNITS.iter().position(|u| *u == unit) else { return false };
        if last.is_some_and(|l| l >= index) {
            return false;
        }
        last = Some(index);
        rest = &rest[unit.len()..];
    }
    last.is_some()
}

/// A DNS-1123 subdomain (Kubernetes object names).
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// Asserts that `map` is a mapping with only `allowed` keys and every `required` one.
fn check_keys(what: &str, map: &Value, allowed: &[&str], required: &[&str]) {
    let object = map.as_object().unwrap_or_else(|| panic!("{what}: expected a mapping, found {map}"));
    for key in object.keys() {
        assert!(allowed.contains(&key.as_str()), "{what}: unknown field {key} (known: {allowed:?})");
    }
    for key in required {
        assert!(object.contains_key(*key), "{what}: missing required field {key}");
    }
}

fn check_string_map(what: &str, map: &Value) {
    if map.is_null() {
        return;
    }
    let object = map.as_object().unwrap_or_else(|| panic!("{what}: expected a mapping"));
    for (k, v) in object {
        assert!(v.is_string(), "{what}.{k}: values must be strings, found {v}");
    }
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

// ---------------------------------------------------------------------------------- Kubernetes

#[test]
fn kubernetes_manifests_validate_offline_against_the_bundled_schemas() {
    let mut cmd = Command::new(PYTHON);
    cmd.args(["-m", "kubernetes_validate", "--strict"]);
    for version in KUBERNETES_VERSIONS {
        cmd.args(["-k", &format!("{version}.0")]);
    }
    let out =
        cmd.args(CORE_MANIFESTS).current_dir(ROOT).output().expect("the test venv's python (tests/setup.sh)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "kubernetes-validate: {text}\n(an older venv lacks it: target/test-venv/bin/python -m pip install -r tests/requirements.txt)"
    );
    // A kind without a bundled schema only warns: every manifest must have been validated.
    assert!(!text.contains("WARN") && !text.contains("ERROR"), "{text}");
    for file in CORE_MANIFESTS {
        for version in KUBERNETES_VERSIONS {
            assert!(
                text.lines().any(|l| l.starts_with(&format!("INFO {file} passed for resource"))
                    && l.ends_with(&format!("against version {version}"))),
                "{file} was not validated against Kubernetes {version}: {text}"
            );
        }
    }
}

/// The core objects, by kind.
fn core_objects() -> BTreeMap<String, Value> {
    CORE_MANIFESTS
        .iter()
        .map(|file| {
            let object = yaml(file);
            (str_of(&object["kind"], file).to_string(), object)
        })
        .collect()
}

#[test]
fn kubernetes_objects_refer_to_each_other_consistently() {
    let objects = core_objects();
    let [config_map, pdb, secret, service, sts] =
        ["ConfigMap", "PodDisruptionBudget", "Secret", "Service", "StatefulSet"].map(|k| &objects[k]);
    for (kind, object) in &objects {
        assert_eq!(object["metadata"]["namespace"], "monitoring", "{kind}");
        assert_eq!(object["metadata"]["labels"]["app.kubernetes.io/name"], "sobot-exporter", "{kind}");
    }

    // Replicas and the shard flag agree; the Service is the StatefulSet's headless service.
    let replicas = sts["spec"]["replicas"].as_u64().expect("replicas");
    let container = &sts["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = array_of(&container["args"], "args").iter().map(|a| str_of(a, "arg")).collect();
    assert!(args.contains(&format!("--platform.shard=auto/{replicas}").as_str()), "{args:?}");
    assert!(args.contains(&"--web.listen-address=:9877"), "{args:?}");
    assert_eq!(sts["spec"]["serviceName"], service["metadata"]["name"]);
    assert_eq!(service["spec"]["clusterIP"], "None");
    assert_eq!(service["spec"]["publishNotReadyAddresses"], true);
    let pod_labels = &sts["spec"]["template"]["metadata"]["labels"];
    for selector in [
        &service["spec"]["selector"],
        &sts["spec"]["selector"]["matchLabels"],
        &pdb["spec"]["selector"]["matchLabels"],
    ] {
        for (k, v) in selector.as_object().expect("selector") {
            assert_eq!(&pod_labels[k], v, "selector {k}");
        }
    }
    let port = &container["ports"][0];
    assert_eq!((port["name"].as_str(), port["containerPort"].as_u64()), (Some("http"), Some(9877)));
    assert_eq!(service["spec"]["ports"][0]["port"], 9877);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");

    // Probes, non-root, resources.
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"], "/healthz", "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "http", "{probe}");
    }
    let pod_security = &sts["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(pod_security["runAsNonRoot"], true);
    assert_eq!(pod_security["runAsUser"], 65532, "the image's nonroot user");
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(container["securityContext"]["allowPrivilegeEscalation"], false);
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(container["resources"][kind][resource].is_string(), "resources.{kind}.{resource}");
        }
    }

    // The config file comes from the ConfigMap, the union key from the Secret, at the paths the
    // flags and the config name.
    let volumes = array_of(&sts["spec"]["template"]["spec"]["volumes"], "volumes");
    let mounts = array_of(&container["volumeMounts"], "volumeMounts");
    let mount_of = |source: &str, key: &str, name: &Value| -> String {
        let volume =
            volumes.iter().find(|v| &v[source][key] == name).unwrap_or_else(|| panic!("no {source} volume"));
        let mount = mounts.iter().find(|m| m["name"] == volume["name"]).expect("volume mounted");
        assert_eq!(mount["readOnly"], true);
        str_of(&mount["mountPath"], "mountPath").to_string()
    };
    let config_dir = mount_of("configMap", "name", &config_map["metadata"]["name"]);
    assert!(args.contains(&format!("--config.file={config_dir}/config.yml").as_str()), "{args:?}");
    let secret_dir = mount_of("secret", "secretName", &secret["metadata"]["name"]);
    let config = parse_yaml("ConfigMap config.yml", str_of(&config_map["data"]["config.yml"], "config.yml"));
    let key_file = str_of(&config["platform"]["union_key_file"], "platform.union_key_file");
    let key = key_file
        .strip_prefix(&format!("{secret_dir}/"))
        .unwrap_or_else(|| panic!("{key_file} not in {secret_dir}"));
    assert!(secret["stringData"][key].is_string(), "the Secret has no key {key}");
    assert_eq!(config["platform"]["tenants_on_metrics"], false, "tenants are scraped through /sd only");
    for field in ["union_code", "email", "interval"] {
        assert!(config["platform"][field].is_string(), "platform.{field}");
    }
    // Placeholders only: nothing that looks like a real credential.
    assert!(str_of(&secret["stringData"][key], "union_key").starts_with("REPLACE-WITH-"));
    assert!(str_of(&config["platform"]["union_code"], "union_code").starts_with("REPLACE-WITH-"));
    assert!(str_of(&config["platform"]["email"], "email").ends_with("@example.com"));
}

/// `apiVersion`, `kind` and `metadata` of a Prometheus Operator object.
fn check_custom_object(file: &str, object: &Value, api_version: &str, kind: &str) {
    check_keys(
        file,
        object,
        &["apiVersion", "kind", "metadata", "spec"],
        &["apiVersion", "kind", "metadata", "spec"],
    );
    assert_eq!(object["apiVersion"], api_version, "{file}");
    assert_eq!(object["kind"], kind, "{file}");
    check_keys(
        &format!("{file}: metadata"),
        &object["metadata"],
        &["name", "namespace", "labels"],
        &["name", "namespace"],
    );
    assert!(is_dns_name(str_of(&object["metadata"]["name"], file)), "{file}: name");
    assert_eq!(object["metadata"]["namespace"], "monitoring", "{file}");
    check_string_map(&format!("{file}: labels"), &object["metadata"]["labels"]);
}

fn check_relabelings(what: &str, list: &Value) {
    for (i, r) in array_of(list, what).iter().enumerate() {
        let what = format!("{what}[{i}]");
        check_keys(
            &what,
            r,
            &["sourceLabels", "separator", "targetLabel", "regex", "modulus", "replacement", "action"],
            &[],
        );
        let action = r["action"].as_str().unwrap_or("replace").to_lowercase();
        let actions = [
            "replace",
            "keep",
            "drop",
            "hashmod",
            "labelmap",
            "labeldrop",
            "labelkeep",
            "lowercase",
            "uppercase",
            "keepequal",
            "dropequal",
        ];
        assert!(actions.contains(&action.as_str()), "{what}: action {action}");
        if ["replace", "hashmod", "lowercase", "uppercase"].contains(&action.as_str()) {
            assert!(r["targetLabel"].is_string(), "{what}: {action} needs targetLabel");
        }
        for label in r["sourceLabels"].as_array().into_iter().flatten() {
            assert!(label.is_string(), "{what}: sourceLabels");
        }
    }
}

#[test]
fn prometheus_operator_objects_are_well_formed_and_name_every_replica() {
    let objects = core_objects();
    let sts = &objects["StatefulSet"];
    let replicas = sts["spec"]["replicas"].as_u64().expect("replicas");
    let hosts: Vec<String> = (0..replicas)
        .map(|i| {
            format!(
                "{}-{i}.{}.monitoring.svc:9877",
                str_of(&sts["metadata"]["name"], "name"),
                str_of(&sts["spec"]["serviceName"], "serviceName")
            )
        })
        .collect();
    // Each pod's /sd lists its tenants at the host Prometheus reads that /sd from.
    let sts_args = sts["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    let external = sts_args.split('"').find_map(|a| a.strip_prefix("--web.external-address="));
    let env = sts["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    for (var, field) in [("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")] {
        let entry = format!(r#"{{"name":"{var}","valueFrom":{{"fieldRef":{{"fieldPath":"{field}"}}}}}}"#);
        assert!(env.contains(&entry), "{env}");
    }
    for (i, host) in hosts.iter().enumerate() {
        let pod = format!("$(POD_NAME)=sobot-exporter-{i}, $(POD_NAMESPACE)=monitoring");
        let expand = |a: &str| {
            a.replace("$(POD_NAME)", &format!("sobot-exporter-{i}")).replace("$(POD_NAMESPACE)", "monitoring")
        };
        assert_eq!(external.map(expand).as_ref(), Some(host), "{pod}");
    }

    let spec_fields = [
        "jobName",
        "scrapeInterval",
        "scrapeTimeout",
        "sampleLimit",
        "targetLimit",
        "metricsPath",
        "scheme",
        "params",
        "honorLabels",
        "httpSDConfigs",
        "staticConfigs",
        "relabelings",
        "metricRelabelings",
    ];
    let mut jobs = BTreeMap::new();
    for (file, job) in [
        ("deploy/kubernetes/prometheus-operator/scrapeconfig-tenants.yaml", "sobot_tenants"),
        ("deploy/kubernetes/prometheus-operator/scrapeconfig-exporter.yaml", "sobot_exporter"),
    ] {
        let object = yaml(file);
        check_custom_object(file, &object, "monitoring.coreos.com/v1alpha1", "ScrapeConfig");
        let spec = &object["spec"];
        check_keys(file, spec, &spec_fields, &["jobName"]);
        assert_eq!(spec["jobName"], job, "{file}: the alerts select this job name");
        for key in ["scrapeInterval", "scrapeTimeout"] {
            assert!(spec[key].as_str().is_some_and(is_duration), "{file}: {key}");
        }
        assert!(
            spec["sampleLimit"].is_null() || spec["sampleLimit"].as_u64().is_some(),
            "{file}: sampleLimit"
        );
        check_relabelings(&format!("{file}: relabelings"), &spec["relabelings"]);
        for (i, sd) in spec["httpSDConfigs"].as_array().into_iter().flatten().enumerate() {
            check_keys(&format!("{file}: httpSDConfigs[{i}]"), sd, &["url", "refreshInterval"], &["url"]);
            let url = str_of(&sd["url"], "url");
            assert!(url.starts_with("http://") || url.starts_with("https://"), "{file}: {url}");
            assert!(sd["refreshInterval"].as_str().is_none_or(is_duration), "{file}: refreshInterval");
        }
        for (i, sc) in spec["staticConfigs"].as_array().into_iter().flatten().enumerate() {
            check_keys(&format!("{file}: staticConfigs[{i}]"), sc, &["targets", "labels"], &["targets"]);
            check_string_map(&format!("{file}: staticConfigs[{i}].labels"), &sc["labels"]);
        }
        jobs.insert(job, object);
    }
    // One /sd URL and one /metrics target per pod of the StatefulSet.
    let sd: Vec<&str> = array_of(&jobs["sobot_tenants"]["spec"]["httpSDConfigs"], "httpSDConfigs")
        .iter()
        .map(|s| str_of(&s["url"], "url"))
        .collect();
    assert_eq!(sd, hosts.iter().map(|h| format!("http://{h}/sd")).collect::<Vec<_>>());
    let targets: Vec<&str> =
        array_of(&jobs["sobot_exporter"]["spec"]["staticConfigs"][0]["targets"], "targets")
            .iter()
            .map(|t| str_of(t, "target"))
            .collect();
    assert_eq!(targets, hosts);
    // With Prometheus shards, tenants are spread by tenant and the replicas' /metrics go to every shard.
    let relabel = |job: &str| jobs[job]["spec"]["relabelings"].to_string();
    assert!(relabel("sobot_tenants").contains(r#""targetLabel":"__tmp_hash""#));
    assert!(relabel("sobot_exporter").contains(r#""targetLabel":"__tmp_disable_sharding""#));

    for (name, _, file) in PROMETHEUS_RULES {
        let object = yaml(file);
        check_custom_object(file, &object, "monitoring.coreos.com/v1", "PrometheusRule");
        assert_eq!(object["metadata"]["name"], name, "{file}");
        check_keys(file, &object["spec"], &["groups"], &["groups"]);
        for group in array_of(&object["spec"]["groups"], "groups") {
            let what = format!("{file}: group {}", group["name"]);
            check_keys(
                &what,
                group,
                &[
                    "name",
                    "interval",
                    "rules",
                    "limit",
                    "partial_response_strategy",
                    "labels",
                    "query_offset",
                ],
                &["name"],
            );
            assert!(group["name"].as_str().is_some_and(|n| !n.is_empty()), "{what}");
            for rule in array_of(&group["rules"], &what) {
                let what = format!("{what}: rule {}", rule["alert"]);
                check_keys(
                    &what,
                    rule,
                    &["alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"],
                    &["expr"],
                );
                assert!(
                    rule["alert"].is_string() != rule["record"].is_string(),
                    "{what}: one of alert and record"
                );
                assert!(rule["expr"].is_string(), "{what}: expr");
                assert!(rule["for"].as_str().is_none_or(is_duration), "{what}: for");
                check_string_map(&format!("{what}: labels"), &rule["labels"]);
                check_string_map(&format!("{what}: annotations"), &rule["annotations"]);
            }
        }
    }
}

#[test]
fn the_prometheus_rules_objects_are_the_rules_files() {
    let tmp = temp_dir("deploy_prometheusrule");
    for (name, rules, file) in PROMETHEUS_RULES {
        // The checked-in object is the script's output ...
        let out = Command::new("bash")
            .args(["deploy/render-prometheusrule.sh", name, rules])
            .current_dir(ROOT)
            .output()
            .expect("bash");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            String::from_utf8_lossy(&out.stdout) == read(file),
            "{file} differs from the output of deploy/render-prometheusrule.sh: run it after editing {rules}"
        );
        // ... its spec.groups are the rules file's groups ...
        let object = yaml(file);
        assert_eq!(object["spec"]["groups"], yaml(rules)["groups"], "{file} and {rules}");
        // ... and promtool accepts them extracted into a rules file of their own.
        let extracted =
            serde_json::to_string_pretty(&json!({ "groups": object["spec"]["groups"] })).expect("json");
        let path = format!("{name}.yml");
        common::write_file(tmp.path(), &path, &extracted);
        let check = promtool(&["check", "rules", &path], tmp.path());
        let count = rules_of(&yaml(rules)).len();
        assert!(check.contains(&format!("SUCCESS: {count} rules found")), "{check}");
    }
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

// ----------------------------------------------------- real Prometheus against fake replicas

/// The platform's tenants in the fake: company ids and names.
const TENANTS: usize = 12;

fn tenant_id(i: usize) -> String {
    format!("{}", 20001 + i)
}

/// A stand-in for one exporter replica in platform mode, on 127.0.0.1: `/sd` lists the tenants of
/// its shard (every `shards`-th tenant), `/probe?target=` serves one of them (404 for the others),
/// `/metrics` the platform self-metrics. Stopped when dropped.
struct FakeReplica {
    addr: String,
    shard: usize,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeReplica {
    fn start(shard: usize, shards: usize) -> FakeReplica {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = serve(stream, shard, shards);
                }
            }
        });
        FakeReplica { addr, shard, stop, thread: Some(thread) }
    }

    fn serves(&self, tenant: usize, shards: usize) -> bool {
        tenant % shards == self.shard - 1
    }
}

impl Drop for FakeReplica {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one request and closes the connection.
fn serve(mut stream: TcpStream, shard: usize, shards: usize) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let host = head
        .lines()
        .find_map(|l| l.strip_prefix("Host: ").or_else(|| l.strip_prefix("host: ")))
        .unwrap_or("")
        .trim()
        .to_string();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let served: Vec<usize> = (0..TENANTS).filter(|t| t % shards == shard - 1).collect();
    let text = "text/plain; version=0.0.4; charset=utf-8";
    let (status, content_type, body) = match path {
        "/sd" => {
            let groups: Vec<Value> = served
                .iter()
                .map(|&t| {
                    json!({"targets": [host], "labels": {
                        "tenant": tenant_id(t), "tenant_name": format!("Shop {}", tenant_id(t)),
                        "__metrics_path__": "/probe", "__param_target": tenant_id(t)}})
                })
                .collect();
            ("200 OK", "application/json", Value::Array(groups).to_string())
        }
        "/probe" => {
            let wanted = query.split('&').find_map(|p| p.strip_prefix("target=")).unwrap_or("");
            match served.iter().find(|&&t| tenant_id(t) == wanted) {
                Some(&t) => (
                    "200 OK",
                    text,
                    format!(
                        "# HELP sobot_human_consult_sessions Human consultation sessions.\n\
                         # TYPE sobot_human_consult_sessions gauge\n\
                         sobot_human_consult_sessions{{window=\"today\"}} {}\n",
                        tenant_id(t)
                    ),
                ),
                None => ("404 Not Found", "text/plain", format!("tenant {wanted:?} is not served here\n")),
            }
        }
        "/metrics" => (
            "200 OK",
            text,
            format!(
                "sobot_exporter_platform_shard_info{{shard=\"{shard}\",shards=\"{shards}\"}} 1\n\
                 sobot_exporter_platform_shards {shards}\n\
                 sobot_exporter_platform_tenants_discovered {TENANTS}\n\
                 sobot_exporter_platform_tenants_served {}\n\
                 sobot_exporter_platform_discovery_success 1\n",
                served.len()
            ),
        ),
        _ => ("404 Not Found", "text/plain", String::new()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

struct Prometheus {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

/// How a Prometheus process runs.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Server,
    Agent,
    Store,
}

/// A config of deploy/prometheus/ made to run here: host names mapped to loopback addresses,
/// intervals of a second, no Alertmanager.
fn runnable_config(path: &str, hosts: &[(String, String)], mode: Mode) -> Value {
    let mut text = serde_json::to_string(&yaml(path)).expect("json");
    for (from, to) in hosts {
        text = text.replace(from.as_str(), to);
    }
    let mut config: Value = serde_json::from_str(&text).expect("json");
    let object = config.as_object_mut().expect("config");
    object.remove("alerting");
    object.insert(
        "global".to_string(),
        if mode == Mode::Agent {
            json!({"scrape_interval": "1s", "scrape_timeout": "1s"})
        } else {
            json!({"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"})
        },
    );
    for job in config["scrape_configs"].as_array_mut().into_iter().flatten() {
        job["scrape_interval"] = json!("1s");
        job["scrape_timeout"] = json!("1s");
        for sd in job["http_sd_configs"].as_array_mut().into_iter().flatten() {
            sd["refresh_interval"] = json!("2s");
        }
    }
    for rw in config["remote_write"].as_array_mut().into_iter().flatten() {
        rw["queue_config"] = json!({"batch_send_deadline": "1s"});
    }
    config
}

/// The host names of deploy/prometheus/ mapped to the fake replicas (and the store).
fn loopback_hosts(replicas: &[FakeReplica], store: Option<&str>) -> Vec<(String, String)> {
    let mut hosts: Vec<(String, String)> =
        replicas.iter().map(|r| (format!("sobot-exporter-{}:9877", r.shard), r.addr.clone())).collect();
    if let Some(store) = store {
        hosts.push(("metrics-store:9090".to_string(), store.to_string()));
    }
    hosts
}

async fn start_prometheus(dir: &Path, name: &str, config: &Value, mode: Mode) -> Prometheus {
    let config_path = dir.join(format!("{name}.yml"));
    std::fs::write(&config_path, serde_json::to_string_pretty(config).expect("json")).expect("write config");
    let port = free_port();
    let log = dir.join(format!("{name}.log"));
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", config_path.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"));
    let data = dir.join(format!("{name}-data"));
    match mode {
        Mode::Agent => {
            cmd.arg("--enable-feature=agent").arg(format!("--storage.agent.path={}", data.display()))
        }
        Mode::Server => cmd.arg(format!("--storage.tsdb.path={}", data.display())),
        Mode::Store => cmd
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg("--web.enable-remote-write-receiver"),
    };
    let child =
        cmd.spawn().expect("prometheus is installed (Debian package prometheus; tests/setup.sh installs it)");
    let prometheus = Prometheus { child, url: format!("http://127.0.0.1:{port}"), log };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http().get(format!("{}/-/ready", prometheus.url)).send().await
            && r.status() == 200
        {
            return prometheus;
        }
        assert!(Instant::now() < deadline, "{name} did not start: {}", logs(&prometheus));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn logs(prometheus: &Prometheus) -> String {
    std::fs::read_to_string(&prometheus.log).unwrap_or_default()
}

/// The result vector of an instant query.
async fn query(prometheus: &Prometheus, expr: &str) -> Vec<Value> {
    let response = http()
        .get(format!("{}/api/v1/query", prometheus.url))
        .query(&[("query", expr)])
        .send()
        .await
        .expect("query");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "success", "{expr}: {body}");
    array_of(&body["data"]["result"], expr).clone()
}

/// Queries until `done` holds on the result, or panics after 60 s.
async fn wait_for(prometheus: &Prometheus, expr: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let result = query(prometheus, expr).await;
        if done(&result) {
            return result;
        }
        assert!(Instant::now() < deadline, "{expr}: still {result:?}\n{}", logs(prometheus));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `tenant` → labels of the series, for a result with one series per tenant.
fn by_tenant(result: &[Value]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for series in result {
        let tenant = str_of(&series["metric"]["tenant"], "tenant").to_string();
        assert!(out.insert(tenant.clone(), series.clone()).is_none(), "tenant {tenant} twice: {result:?}");
    }
    out
}

/// Each tenant's series came through its own target: labelled by /sd, scraped at its replica's
/// /probe with its own id.
fn assert_tenant_series(result: &[Value], replicas: &[FakeReplica]) {
    let series = by_tenant(result);
    assert_eq!(series.len(), TENANTS, "{result:?}");
    for t in 0..TENANTS {
        let s = &series[&tenant_id(t)];
        let replica = replicas.iter().find(|r| r.serves(t, replicas.len())).expect("a replica");
        let labels: BTreeSet<&str> =
            s["metric"].as_object().expect("labels").keys().map(String::as_str).collect();
        assert_eq!(
            labels,
            BTreeSet::from(["__name__", "instance", "job", "tenant", "tenant_name", "window"]),
            "{s}"
        );
        assert_eq!(s["metric"]["instance"], replica.addr.as_str(), "{s}");
        assert_eq!(s["metric"]["job"], "sobot_tenants", "{s}");
        assert_eq!(s["metric"]["tenant_name"], format!("Shop {}", tenant_id(t)), "{s}");
        assert_eq!(s["value"][1], tenant_id(t), "/probe?target= got the tenant's id: {s}");
    }
}

/// The shard alerts' expressions evaluate, and find nothing wrong with a healthy deployment.
async fn assert_shard_alerts_quiet(prometheus: &Prometheus) {
    for rule in rules_of(&yaml("deploy/prometheus/shard-alerts.yml")) {
        let result = query(prometheus, str_of(&rule["expr"], "expr")).await;
        assert!(result.is_empty(), "{}: {result:?}", rule["alert"]);
    }
}

/// How many rules the server loaded.
async fn loaded_rules(prometheus: &Prometheus) -> usize {
    let body: Value = http()
        .get(format!("{}/api/v1/rules", prometheus.url))
        .send()
        .await
        .expect("rules")
        .json()
        .await
        .expect("json");
    array_of(&body["data"]["groups"], "groups").iter().map(|g| array_of(&g["rules"], "rules").len()).sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_prometheus_scrapes_every_tenant_of_every_replica_as_a_target_of_its_own() {
    let tmp = temp_dir("deploy_single");
    let rules = copy_rules(tmp.path());
    let replicas: Vec<FakeReplica> = (1..=3).map(|n| FakeReplica::start(n, 3)).collect();
    let config =
        runnable_config("deploy/prometheus/single.yml", &loopback_hosts(&replicas, None), Mode::Server);
    let prometheus = start_prometheus(tmp.path(), "single", &config, Mode::Server).await;

    let result = wait_for(&prometheus, "sobot_human_consult_sessions", |r| r.len() == TENANTS).await;
    assert_tenant_series(&result, &replicas);
    let up = wait_for(&prometheus, "up{job=\"sobot_tenants\"} == 1", |r| r.len() == TENANTS).await;
    assert_eq!(by_tenant(&up).len(), TENANTS, "one target per tenant");
    wait_for(&prometheus, "up{job=\"sobot_exporter\"} == 1", |r| r.len() == 3).await;
    wait_for(&prometheus, "sobot_exporter_platform_shard_info", |r| r.len() == 3).await;
    assert_shard_alerts_quiet(&prometheus).await;
    assert_eq!(loaded_rules(&prometheus).await, rules, "the rules/*.yml files were loaded");
    assert_the_verify_queries_hold(&prometheus).await;
}

/// The two queries of docs/platform.md's "Verify a deployment": every tenant once, with the value 1;
/// and nothing wrong.
async fn assert_the_verify_queries_hold(prometheus: &Prometheus) {
    let doc = read("docs/platform.md");
    let section = &doc[doc.find("## Verify a deployment").expect("a verify section in docs/platform.md")..];
    let block = &section[section.find("```promql\n").expect("its promql block") + "```promql\n".len()..];
    let queries: Vec<&str> = block[..block.find("```").expect("end of block")].lines().collect();
    assert_eq!(queries.len(), 2, "{queries:?}");
    let every = query(prometheus, queries[0]).await;
    let tenants = by_tenant(&every);
    assert_eq!(tenants.len(), TENANTS, "{every:?}");
    assert!(tenants.values().all(|s| s["value"][1] == "1"), "{every:?}");
    let wrong = query(prometheus, queries[1]).await;
    assert!(wrong.is_empty(), "{wrong:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hashmod_servers_split_the_tenants_between_them() {
    let tmp = temp_dir("deploy_hashmod");
    copy_rules(tmp.path());
    let replicas: Vec<FakeReplica> = (1..=3).map(|n| FakeReplica::start(n, 3)).collect();
    let hosts = loopback_hosts(&replicas, None);
    let mut servers = Vec::new();
    for i in 0..2 {
        let config =
            runnable_config(&format!("deploy/prometheus/hashmod/prometheus-{i}.yml"), &hosts, Mode::Server);
        servers.push(start_prometheus(tmp.path(), &format!("prometheus-{i}"), &config, Mode::Server).await);
    }
    // Every tenant is scraped by exactly one of the servers, and each server has some.
    let expr = "sobot_human_consult_sessions";
    let deadline = Instant::now() + Duration::from_secs(60);
    let (first, second) = loop {
        let (a, b) = (query(&servers[0], expr).await, query(&servers[1], expr).await);
        if a.len() + b.len() >= TENANTS {
            break (by_tenant(&a), by_tenant(&b));
        }
        assert!(Instant::now() < deadline, "{} + {} tenants scraped", a.len(), b.len());
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(!first.is_empty() && !second.is_empty(), "{first:?} {second:?}");
    assert!(first.keys().all(|t| !second.contains_key(t)), "a tenant on both servers: {first:?} {second:?}");
    let all: Vec<Value> = first.values().chain(second.values()).cloned().collect();
    assert_tenant_series(&all, &replicas);
    // Both scrape the replicas' own /metrics and evaluate the shard alerts.
    for server in &servers {
        wait_for(server, "sobot_exporter_platform_shard_info", |r| r.len() == 3).await;
        assert_shard_alerts_quiet(server).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_agent_per_replica_remote_writes_every_shard_to_the_store() {
    let tmp = temp_dir("deploy_agent");
    let rules = copy_rules(tmp.path());
    let replicas: Vec<FakeReplica> = (1..=3).map(|n| FakeReplica::start(n, 3)).collect();
    let store_config = runnable_config("deploy/prometheus/agent/store.yml", &[], Mode::Store);
    let store = start_prometheus(tmp.path(), "store", &store_config, Mode::Store).await;
    let hosts = loopback_hosts(&replicas, Some(store.url.trim_start_matches("http://")));
    let mut agents = Vec::new();
    for n in 1..=3 {
        let config = runnable_config(&format!("deploy/prometheus/agent/agent-{n}.yml"), &hosts, Mode::Agent);
        agents.push(start_prometheus(tmp.path(), &format!("agent-{n}"), &config, Mode::Agent).await);
    }

    let result = wait_for(&store, "sobot_human_consult_sessions", |r| r.len() == TENANTS).await;
    assert_tenant_series(&result, &replicas);
    wait_for(&store, "up{job=\"sobot_tenants\"} == 1", |r| r.len() == TENANTS).await;
    wait_for(&store, "sobot_exporter_platform_shard_info", |r| r.len() == 3).await;
    assert_shard_alerts_quiet(&store).await;
    assert_eq!(loaded_rules(&store).await, rules, "the store evaluates the rules");
    drop(agents);
}
