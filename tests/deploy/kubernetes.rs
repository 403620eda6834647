//! The Kubernetes manifests (kubernetes-validate, offline, with its bundled schemas) and the
//! Prometheus Operator objects (checked for their structure; their rules are the plain rules files).

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::{self, temp_dir};
use crate::{ROOT, array_of, parse_yaml, promtool, read, rules_of, str_of, yaml};

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
