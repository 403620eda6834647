//! One full collection of 1,000 agents and 20,000 quality records against the local simulator.
//!
//! `cargo bench --locked --bench collection` prints: wall time until every collector has
//! succeeded once, upstream requests, the exporter's peak memory, and the size and encode time of
//! the resulting /metrics. Figures, not assertions: nothing here fails on a slow machine.

mod support;

use support::*;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sobot_exporter_core::exposition::{Board, Chunk, Format, Key, Published};
use sobot_exporter_core::secret::Secret;
use sobot_exporter_core::snapshot::{Family, Kind, Sample};
use sobot_exporter_core::sources::sobot::client::{Credentials, SobotClient};
use sobot_exporter_core::sources::sobot::endpoints::Endpoint;
use sobot_exporter_core::sources::sobot::quality::{PageSettings, QualityCollector, QualitySource};
use sobot_exporter_core::sources::sobot::stats::{Context, Scope, StatsCollector, Switches};
use sobot_exporter_core::telemetry::Telemetry;
use sobot_exporter_core::upstream::ClientSettings;
use sobot_exporter_core::window::Window;
use sobot_simulator::{SimConfig, Simulator, population};

const AGENTS: (usize, usize) = (20, 50); // 20 groups of 50
const QUALITY_RECORDS: usize = 20_000;
/// The collectors that run by default with skill groups (the Laaffic seats need their own run).
static COLLECTORS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| sobot_exporter_core::sources::default_collectors(true, false));

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let agents = population(AGENTS.0, AGENTS.1);
    let sim_config = SimConfig {
        agents: agents.clone(),
        quality_records: QUALITY_RECORDS,
        rate_limit_per_minute: 1_000_000,
        ..SimConfig::fixtures("bench", "bench-key")
    };
    let sim = Simulator::start(sim_config).await.expect("simulator");
    let mut groups: Vec<String> = agents.iter().map(|a| a.group.clone()).collect();
    groups.dedup();

    // The real binary, configured with every agent id (ten chunks of 100) and every group.
    let dir = std::env::temp_dir().join(format!("sobot_exporter_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("config.yml");
    let mut yaml = String::from("collectors: [");
    yaml.push_str(&COLLECTORS.join(", "));
    yaml.push_str("]\nsobot:\n  rate_limit_per_minute: 100000\nquality:\n  page_size: 1000\n  max_pages: 100\ngroups:\n");
    for g in &groups {
        yaml.push_str(&format!("  - {g}\n"));
    }
    yaml.push_str("agents:\n");
    for a in &agents {
        yaml.push_str(&format!("  - {}\n", a.id));
    }
    std::fs::File::create(&config).and_then(|mut f| f.write_all(yaml.as_bytes())).expect("config");
    let port = free_port();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
        .args(["--web.listen-address", &format!("127.0.0.1:{port}"), "--sobot.base-url", &sim.base_url()])
        .args(["--config.file", config.to_str().expect("utf8"), "--log.level", "warn"])
        .env("SOBOT_APP_ID", "bench")
        .env("SOBOT_APP_KEY", "bench-key")
        .stdout(Stdio::null())
        .spawn()
        .expect("exporter starts");
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let body = loop {
        if let Ok(resp) = client.get(&url).send().await
            && let Ok(text) = resp.text().await
            && COLLECTORS
                .iter()
                .all(|c| text.contains(&format!("sobot_exporter_collector_success{{collector=\"{c}\"}} 1")))
        {
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "collection did not finish");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let wall = started.elapsed();
    let peak_kib = proc_status_kib(child.id(), "VmHWM:");
    let gzip = client
        .get(&url)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .expect("scrape")
        .bytes()
        .await
        .expect("body");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let requests = sim.requests().len();
    let series = body.lines().filter(|l| !l.starts_with('#')).count();

    // Encode time, in process: the same collection as one target's snapshots, encoded repeatedly
    // (what a target's cycle costs), then assembled into /metrics (what the first scrape after a
    // change costs) and gzipped.
    let sources = collect_in_process(&sim.base_url(), &groups, &agents).await;
    let board = Board::new();
    let publisher = board.publisher(Key::Target("company".to_string()), &Vec::new(), true);
    let (mut encodes, mut assemblies, mut gzips) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..30 {
        let t = Instant::now();
        let chunk = Chunk::encode(sources.clone()).expect("encode");
        encodes.push(t.elapsed());
        publisher.publish(Published::new(vec![Arc::new(chunk)]));
        let t = Instant::now();
        let (om, text) = (board.body(Format::OpenMetrics), board.body(Format::Text));
        assemblies.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box((om.gzip(), text));
        gzips.push(t.elapsed());
    }
    encodes.sort();
    assemblies.sort();
    gzips.sort();
    let (encode, assemble, gzip_time) = (encodes[15], assemblies[15], gzips[15]);
    // What a change of the process's own figures (a `process_*` reading, a connection) costs the
    // next scrape: they follow the targets' part, which stays assembled and compressed.
    let process = board.publisher(Key::ProcessStats, &Vec::new(), true);
    let mut process_changes = Vec::new();
    for i in 0..30 {
        let family = Family {
            name: "process_open_fds".into(),
            help: "Number of open file descriptors.".into(),
            kind: Kind::Gauge,
            samples: vec![Sample { labels: Vec::new(), value: f64::from(i) }],
        };
        process.publish(Published::new(vec![Arc::new(
            Chunk::encode(vec![Arc::new(vec![family])]).expect("encode"),
        )]));
        let t = Instant::now();
        let (om, text) = (board.body(Format::OpenMetrics), board.body(Format::Text));
        std::hint::black_box((om.gzip(), text));
        process_changes.push(t.elapsed());
    }
    process_changes.sort();
    let process_change = process_changes[15];

    println!(
        "collection of {} agents in {} groups, {} quality records per source",
        agents.len(),
        groups.len(),
        QUALITY_RECORDS
    );
    println!("  wall time, process start to every collector done: {:>8.0} ms", wall.as_secs_f64() * 1e3);
    println!("  upstream requests:                                 {requests:>8}");
    println!("  exporter peak memory (VmHWM):                      {:>8.1} MiB", peak_kib as f64 / 1024.0);
    println!("  /metrics series:                                   {series:>8}");
    println!("  /metrics size, text format:                        {:>8.0} KiB", body.len() as f64 / 1024.0);
    println!(
        "  /metrics size, gzip:                               {:>8.0} KiB ({:.1}x smaller)",
        gzip.len() as f64 / 1024.0,
        body.len() as f64 / gzip.len() as f64
    );
    println!("  encode of the target, median of 30:                {:>8.1} ms", encode.as_secs_f64() * 1e3);
    println!("  assembly of /metrics, both formats, median of 30:  {:>8.1} ms", assemble.as_secs_f64() * 1e3);
    println!(
        "  gzip of one format (first scrape after a change):  {:>8.1} ms",
        gzip_time.as_secs_f64() * 1e3
    );
    println!(
        "  after a process figure changed: assembly and gzip: {:>8.2} ms ({:.0}x less than after a target's change)",
        process_change.as_secs_f64() * 1e3,
        (assemble + gzip_time).as_secs_f64() / process_change.as_secs_f64()
    );
    println!(
        "  (a scrape copies cached bytes: a target is encoded once per cycle, /metrics assembled once per change)"
    );
}

async fn collect_in_process(
    base_url: &str,
    groups: &[String],
    agents: &[sobot_simulator::SimAgent],
) -> Vec<Arc<Vec<Family>>> {
    let telemetry = Arc::new(Telemetry::new());
    let settings = ClientSettings {
        base_url: base_url.to_string(),
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(30),
        rate_limit_per_minute: 100_000,
    };
    let credentials = Credentials { app_id: "bench".to_string(), app_key: Secret::new("bench-key") };
    let http = sobot_exporter_core::upstream::http_client(&settings).expect("client");
    let retry = Duration::from_secs(1);
    let client = Arc::new(SobotClient::new(&settings, http, credentials, telemetry.clone(), retry));
    let ctx = Context {
        client,
        windows: vec![Window::Today],
        tz: jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz"),
        interval: Duration::from_secs(60),
        telemetry: telemetry.clone(),
        switches: Switches::default(),
        clock: Default::default(),
    };
    let mut sources = Vec::new();
    let ids: Vec<String> = agents.iter().map(|a| a.id.clone()).collect();
    for name in COLLECTORS.iter().map(String::as_str) {
        let families = if let Some(source) = QualitySource::by_name(name) {
            let pages = PageSettings { page_size: 1000, max_pages: 100, max_agents: 2000 };
            QualityCollector::new(source, ctx.clone(), pages).collect().await
        } else {
            let (endpoint, scope) = match name.strip_prefix("group_") {
                Some(e) => (Endpoint::by_name(e).expect("endpoint"), Scope::PerGroup(groups.to_vec())),
                None => {
                    let ep = Endpoint::by_name(name).expect("endpoint");
                    let scope = if ep.filters
                        && ep.rows != sobot_exporter_core::sources::sobot::endpoints::Rows::Item
                    {
                        Scope::PerAgent { filter: Some(("serviceids", ids.clone())), max_agents: 2000 }
                    } else {
                        Scope::Company
                    };
                    (ep, scope)
                }
            };
            StatsCollector::new(endpoint, scope, ctx.clone()).collect().await
        };
        let families = families.expect("collects");
        sources.push(Arc::new(families));
    }
    sources.push(Arc::new(telemetry.families()));
    sources
}
