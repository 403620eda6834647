//! Real Prometheus servers and agents, run from the configs of `deploy/prometheus/`, scraping fake
//! exporter replicas on loopback: one server, two hashmod servers, one agent per replica.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{http, temp_dir};
use crate::{array_of, copy_rules, read, rules_of, str_of, yaml};

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
