//! Platform mode at 1,000 tenants: the release binary discovers a simulated platform's tenants
//! and collects each one (the six company overview collectors and `get_service_data`, three
//! agents a tenant) every 60 s, the platform itself at its default interval (5 min), against the
//! simulator in process (its per-company limit of 1,000 calls a minute and the platform
//! endpoints' 20 calls a minute left as they are).
//!
//! `cargo bench --locked --bench platform` (about 12 minutes) runs four configurations in turn
//! and prints:
//!
//! 1. tenants on `/metrics` (the default): the first full cycle (process start until every
//!    tenant's collectors have succeeded once, polling `/metrics`); upstream calls a minute per
//!    tenant and per platform endpoint over a measured minute, and the most calls any platform
//!    endpoint got in any 60 s; CPU, peak (VmHWM) and steady (median VmRSS) memory, series and
//!    bytes per series; `/sd` time and size; `/probe?target=<one tenant>` latency under `wrk`,
//!    next to nginx serving the same body (skipped, with a line saying so, without `wrk` or
//!    `nginx`); `/metrics` size, plain and gzip;
//! 2. `platform.tenants_on_metrics: false`: `/metrics` size, and CPU and memory while every
//!    tenant's `/probe` is scraped too (as Prometheus would through `/sd`), against the first;
//! 3. one tenant in 20 with a key that get_token rejects, and
//! 4. one tenant in 20 whose statistics calls hang past the exporter's timeout (a proxy in the
//!    bench holds them): whether the other tenants' cycles stay on time, as the intervals between
//!    their cycles' first upstream calls, the spans of their cycles and the age of their last
//!    success, against the first configuration.
//!
//! For a trial, `PLATFORM_BENCH_TENANTS` and `PLATFORM_BENCH_INTERVAL_S` change the tenant count
//! and the interval, `PLATFORM_BENCH_SPAN_S` the length of the failure runs (3 intervals), and
//! `PLATFORM_BENCH_RUNS` (say `4`, or `1,3`) picks the runs. Figures, not assertions: nothing here
//! fails on a slow machine.
//!
//! One module per part: `runs` (the four configurations), `figures` (what is read from the
//! simulator's log, `/metrics` and `/proc`), `probe_load` (`/probe` under wrk, against nginx),
//! `slow_proxy` (the proxy holding the slow tenants' calls).

#[path = "../support/mod.rs"]
mod support;

mod figures;
mod probe_load;
mod runs;
mod slow_proxy;

use support::*;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use sobot_exporter::secret::Secret;
use sobot_exporter::simulator::{DataMode, Recorded, SimConfig, SimPlatform, Simulator, sim_platform};

use figures::{Cycles, collected_tenants};
use runs::{failure_run, healthy_run, off_metrics_run};
use slow_proxy::SlowProxy;

/// Tenants of the simulated platform.
const TENANTS: usize = 1_000;
/// `--collect.interval`, the tenants' interval (the default).
const INTERVAL: Duration = Duration::from_secs(60);
/// The platform's endpoints, as the simulator logs them.
const PLATFORM_ENDPOINTS: [&str; 4] =
    ["getBatchAppKey", "getTenantList", "tenantStaffJobList", "getStaffLogInfos"];
/// The platform's default interval (discovery and platform statistics).
const PLATFORM_INTERVAL: Duration = Duration::from_secs(300);
/// Calls a platform endpoint takes in any 60 s.
const PLATFORM_LIMIT: usize = 20;
/// One tenant in this many fails in the failure runs (5 %).
const FAILING_EVERY: usize = 20;
/// Scrapes of `/sd` timed.
const SD_REQUESTS: usize = 50;
/// A Prometheus scraping `/metrics` while the memory and CPU are measured.
const SCRAPE_EVERY: Duration = Duration::from_secs(15);
/// Arguments of every `wrk` run.
const WRK_ARGS: [&str; 6] = ["-t2", "-c16", "-d10s", "--latency", "--timeout", "10s"];
/// How long the proxy holds a slow tenant's call: past the exporter's 15 s timeout.
const SLOW_HOLD: Duration = Duration::from_secs(30);
/// A key get_token does not accept for the tenant, as the platform lists it.
const WRONG_KEY: &str = "a-key-the-platform-does-not-list";
const APP_ID: &str = "bench";
const APP_KEY: &str = "bench-key";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(run());
}

/// Tenant count, interval, failure runs' length and the runs to do (constants unless
/// overridden for a trial).
#[derive(Debug, Clone)]
struct Settings {
    tenants: usize,
    interval: Duration,
    span: Option<Duration>,
    runs: Vec<u8>,
}

impl Settings {
    fn from_env() -> Settings {
        let var =
            |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok()).filter(|n| *n > 0);
        Settings {
            tenants: var("PLATFORM_BENCH_TENANTS").map_or(TENANTS, |n| usize::try_from(n).unwrap_or(TENANTS)),
            interval: var("PLATFORM_BENCH_INTERVAL_S").map_or(INTERVAL, Duration::from_secs),
            span: var("PLATFORM_BENCH_SPAN_S").map(Duration::from_secs),
            runs: std::env::var("PLATFORM_BENCH_RUNS")
                .ok()
                .map(|v| v.split(',').filter_map(|r| r.trim().parse().ok()).collect())
                .filter(|r: &Vec<u8>| !r.is_empty())
                .unwrap_or_else(|| vec![1, 2, 3, 4]),
        }
    }

    /// How long each failure run lasts, and how much of the healthy run's log is compared with it.
    fn span(&self) -> Duration {
        self.span.unwrap_or(self.interval * 3)
    }
}

async fn run() {
    let s = Settings::from_env();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average before the run: {} (on {} CPUs)",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "platform of {} tenants, 3 agents each; tenant collectors: {} (interval {} s); platform at its \
         default interval (5 min)",
        s.tenants,
        TENANT_COLLECTORS.join(", "),
        s.interval.as_secs()
    );
    let dir = TempDir::new("sobot_exporter_platform");
    let healthy = if s.runs.contains(&1) { Some(healthy_run(&s, dir.path()).await) } else { None };
    if s.runs.contains(&2) {
        off_metrics_run(&s, dir.path(), healthy.as_ref()).await;
    }
    if s.runs.contains(&3) {
        failure_run(&s, dir.path(), Failure::WrongKey, healthy.as_ref()).await;
    }
    if s.runs.contains(&4) {
        failure_run(&s, dir.path(), Failure::Slow, healthy.as_ref()).await;
    }
}

/// What the later runs compare with.
struct Healthy {
    cores: f64,
    metrics_plain: usize,
    metrics_gzip: usize,
    series: usize,
    steady_rss_kib: u64,
    peak_rss_kib: u64,
    cycles: Cycles,
    ages: Vec<f64>,
}

/// How a run's tenants fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    None,
    /// get_token rejects the listed key.
    WrongKey,
    /// Statistics calls hang (held by the proxy) past the exporter's timeout.
    Slow,
}

/// The simulated platform with the run's failing tenants.
struct Tenants {
    platform: SimPlatform,
    failing: Vec<bool>,
    by_app: HashMap<String, usize>,
}

impl Tenants {
    fn new(n: usize, failure: Failure) -> Tenants {
        let mut platform = sim_platform(n);
        let failing: Vec<bool> =
            (0..n).map(|i| failure != Failure::None && i % FAILING_EVERY == FAILING_EVERY / 2).collect();
        if failure == Failure::WrongKey {
            for (tenant, _) in platform.tenants.iter_mut().zip(&failing).filter(|(_, f)| **f) {
                tenant.accepted_key = Some(Secret::new(WRONG_KEY));
            }
        }
        let by_app = platform.tenants.iter().enumerate().map(|(i, t)| (t.app_id.clone(), i)).collect();
        Tenants { platform, failing, by_app }
    }

    fn len(&self) -> usize {
        self.platform.tenants.len()
    }

    /// The company ids of the tenants that do not fail.
    fn healthy_ids(&self) -> HashSet<String> {
        self.platform
            .tenants
            .iter()
            .zip(&self.failing)
            .filter(|(_, f)| !**f)
            .map(|(t, _)| t.company_id.clone())
            .collect()
    }

    /// The app ids of the failing tenants.
    fn failing_apps(&self) -> HashSet<String> {
        self.platform
            .tenants
            .iter()
            .zip(&self.failing)
            .filter(|(_, f)| **f)
            .map(|(t, _)| t.app_id.clone())
            .collect()
    }

    /// The tenant a request was made for, if any, and whether it is healthy.
    fn of(&self, record: &Recorded) -> Option<(usize, bool)> {
        let i = *self.by_app.get(record.company.as_deref()?)?;
        Some((i, !self.failing[i]))
    }
}

/// One running configuration: the exporter, the simulator and (for slow tenants) the proxy.
struct Running {
    exporter: Guarded,
    _proxy: Option<SlowProxy>,
    sim: Simulator,
    tenants: Tenants,
    port: u16,
    started: Instant,
    log: PathBuf,
    client: reqwest::Client,
    /// VmRSS once the exporter answered, before any tenant was discovered.
    baseline_rss_kib: u64,
    proxy_held: Option<Arc<AtomicU64>>,
}

impl Running {
    async fn start(s: &Settings, dir: &Path, name: &str, on_metrics: bool, failure: Failure) -> Running {
        let tenants = Tenants::new(s.tenants, failure);
        let sim = Simulator::start(SimConfig {
            data: DataMode::Live,
            platform: Some(tenants.platform.clone()),
            ..SimConfig::fixtures(APP_ID, APP_KEY)
        })
        .await
        .expect("the simulator starts");
        let proxy = match failure {
            Failure::Slow => Some(SlowProxy::start(sim.base_url(), tenants.failing_apps()).await),
            _ => None,
        };
        let base_url = proxy.as_ref().map_or_else(|| sim.base_url(), SlowProxy::base_url);
        let config = dir.join(format!("{name}.yml"));
        let yaml = format!(
            "platform:\n  union_code: \"{}\"\n  email: {}\n  collectors: [{}]\n  tenants_on_metrics: {on_metrics}\n",
            tenants.platform.union_code,
            tenants.platform.email,
            TENANT_COLLECTORS.join(", ")
        );
        std::fs::write(&config, yaml).expect("write the exporter's config");
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).expect("create the exporter's log file");
        let port = free_port();
        let started = Instant::now();
        let exporter = Guarded::spawn(
            "sobot_exporter",
            Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
                .args(["--web.listen-address", &format!("127.0.0.1:{port}"), "--sobot.base-url", &base_url])
                .args(["--config.file", config.to_str().expect("temp path is UTF-8")])
                .args(["--collect.interval", &format!("{}s", s.interval.as_secs()), "--log.level", "warn"])
                .env_remove("SOBOT_APP_ID")
                .env_remove("SOBOT_APP_KEY")
                .env_remove("LAAFFIC_API_KEY")
                .env_remove("LAAFFIC_API_SECRET")
                .env_remove("SOBOT_PLATFORM_SHARD")
                .env("SOBOT_PLATFORM_UNION_KEY", tenants.platform.union_key.expose())
                .stdout(Stdio::null())
                .stderr(stderr),
        );
        let client = reqwest::Client::new();
        let health = format!("http://127.0.0.1:{port}/healthz");
        loop {
            if client.get(&health).send().await.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "the exporter did not answer in 30 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let baseline_rss_kib = proc_status_kib(exporter.id(), "VmRSS:");
        let proxy_held = proxy.as_ref().map(|p| p.held.clone());
        Running {
            exporter,
            _proxy: proxy,
            sim,
            tenants,
            port,
            started,
            log,
            client,
            baseline_rss_kib,
            proxy_held,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn pid(&self) -> u32 {
        self.exporter.id()
    }

    async fn get(&self, path: &str, gzip: bool) -> (Bytes, Duration) {
        let started = std::time::Instant::now();
        let mut request = self.client.get(self.url(path));
        if gzip {
            request = request.header("Accept-Encoding", "gzip");
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let body = response.bytes().await.unwrap_or_else(|e| panic!("GET {path}: body: {e}"));
        (body, started.elapsed())
    }

    /// Polls `/metrics` every `every` until every tenant in `want` has had each collector
    /// succeed, or `limit` since the start has passed; the time since the start, if they did.
    async fn wait_collected(
        &self,
        want: &HashSet<String>,
        every: Duration,
        limit: Duration,
    ) -> Option<Duration> {
        loop {
            let (body, _) = self.get("/metrics", false).await;
            let done = collected_tenants(&String::from_utf8_lossy(&body));
            if want.iter().all(|t| done.contains(t)) {
                return Some(self.started.elapsed());
            }
            if self.started.elapsed() >= limit {
                return None;
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Says whether the exporter is still running, and what its log holds.
    fn report_log(&mut self) {
        let exited = self.exporter.try_wait();
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines = log.lines().count();
        let panics = log.lines().filter(|l| l.contains("panic")).count();
        let limited = log.lines().filter(|l| l.contains("210017")).count();
        println!(
            "  exporter: {}; its log (level warn): {lines} lines, {panics} mentioning a panic, {limited} \
             mentioning 210017 (rate limited)",
            exited.map_or_else(|| "still running".to_string(), |s| format!("EXITED ({s})"))
        );
        for line in log.lines().filter(|l| l.contains("panic")).take(5) {
            println!("    {line}");
        }
    }
}
