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

mod support;

use support::*;

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

use sobot_exporter::secret::Secret;
use sobot_exporter::simulator::{DataMode, Recorded, SimConfig, SimPlatform, Simulator, sim_platform};
use sobot_exporter::telemetry::{COLLECTOR_LAST_SUCCESS, COLLECTOR_SUCCESS};

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

/// Run 1: tenants on /metrics, none failing.
async fn healthy_run(s: &Settings, dir: &Path) -> Healthy {
    eprintln!("run 1: {} tenants, tenants on /metrics ...", s.tenants);
    let mut r = Running::start(s, dir, "healthy", true, Failure::None).await;
    let pid = r.pid();
    let all: HashSet<String> = r.tenants.healthy_ids();
    let limit = s.interval * 5;
    let first = r.wait_collected(&all, Duration::from_secs(2), limit).await;
    let discovery = first_call(&r.sim.requests(), "getBatchAppKey", r.started);

    println!();
    println!("1. {} tenants, tenants on /metrics (the default)", s.tenants);
    match first {
        Some(t) => println!(
            "  first full cycle, process start to every tenant's {} collectors succeeded:  {:>7.1} s \
             (first getBatchAppKey at {:.1} s; first cycles are spread over the {} s interval by design)",
            TENANT_COLLECTORS.len(),
            t.as_secs_f64(),
            discovery.map_or(f64::NAN, |d| d.as_secs_f64()),
            s.interval.as_secs()
        ),
        None => {
            let (body, _) = r.get("/metrics", false).await;
            let done = collected_tenants(&String::from_utf8_lossy(&body));
            println!(
                "  FIRST FULL CYCLE NOT REACHED in {} s: {} of {} tenants have every collector succeeded",
                limit.as_secs(),
                all.iter().filter(|t| done.contains(*t)).count(),
                all.len()
            );
        }
    }

    // The measured minute: memory every second, CPU, a Prometheus scraping /metrics every 15 s.
    eprintln!("measured span of {} s ...", s.interval.as_secs());
    let Steady { from, to, steady_rss_kib, peak_rss_kib, cores, sim_cores } =
        steady(&r, s.interval, &[]).await;
    let measured = to.duration_since(from).as_secs_f64();

    // Upstream calls in the measured span.
    let log = r.sim.requests();
    let n = r.tenants.len();
    let per_minute = 60.0 / measured;
    let mut per_tenant = vec![0usize; n];
    let mut per_endpoint: HashMap<String, usize> = HashMap::new();
    let mut not_ok = 0;
    for record in log.iter().filter(|x| x.at >= from && x.at < to) {
        if let Some((i, _)) = r.tenants.of(record) {
            per_tenant[i] += 1;
            *per_endpoint.entry(record.endpoint.clone()).or_default() += 1;
            if record.code != "000000" {
                not_ok += 1;
            }
        }
    }
    let total: usize = per_tenant.iter().sum();
    println!(
        "  upstream calls a minute per tenant (over {measured:.0} s): mean {:.2}, min {:.0}, max {:.0}; \
         all tenants {:.0}/min; answers other than 000000: {not_ok}",
        total as f64 / n as f64 * per_minute,
        per_tenant.iter().min().copied().unwrap_or(0) as f64 * per_minute,
        per_tenant.iter().max().copied().unwrap_or(0) as f64 * per_minute,
        total as f64 * per_minute
    );
    let mut endpoints: Vec<(String, usize)> = per_endpoint.into_iter().collect();
    endpoints.sort();
    let listed: Vec<String> =
        endpoints.iter().map(|(e, c)| format!("{e} {:.2}", *c as f64 / n as f64 * per_minute)).collect();
    println!("    per tenant and endpoint, a minute: {}", listed.join(", "));
    platform_calls(&log, r.started);

    println!(
        "  exporter CPU over the measured span, scraped like {SCRAPE_DESC}: {cores:.3} cores (the in-process \
         simulator and this bench: {sim_cores:.3})"
    );
    println!(
        "  RSS: before discovery {:.1} MiB; peak (VmHWM) {:.1} MiB; steady (median VmRSS, 1/s) {:.1} MiB",
        kib_mib(r.baseline_rss_kib),
        kib_mib(peak_rss_kib),
        kib_mib(steady_rss_kib)
    );

    // /metrics: series, sizes, one full scrape.
    let (text, _) = r.get("/metrics", false).await;
    let (gzip, _) = r.get("/metrics", true).await;
    let text_str = String::from_utf8_lossy(&text).into_owned();
    let series = count_series(&text_str);
    let mut scrapes: Vec<Duration> = Vec::new();
    for _ in 0..5 {
        scrapes.push(r.get("/metrics", false).await.1);
    }
    println!(
        "  /metrics series: {} in all; {} with a tenant label from the tenants' targets ({:.1} a tenant), \
         {} from the platform's collectors ({:.1} a tenant), {} others",
        series.all,
        series.tenant,
        series.tenant as f64 / n as f64,
        series.platform,
        series.platform as f64 / n as f64,
        series.all - series.tenant - series.platform
    );
    println!(
        "  bytes per series: peak RSS / series {:.0} B, steady RSS / series {:.0} B",
        peak_rss_kib as f64 * 1024.0 / series.all as f64,
        steady_rss_kib as f64 * 1024.0 / series.all as f64
    );
    println!(
        "  /metrics size: text format {:.1} MiB, gzip {:.2} MiB ({:.1}x smaller); one full scrape, median of 5: \
         {:.0} ms",
        mib(text.len()),
        mib(gzip.len()),
        ratio(text.len() as f64, gzip.len() as f64),
        ms(median(&mut scrapes))
    );

    // Capacity at the default intervals, from the figures above.
    let per_tenant_kib = steady_rss_kib.saturating_sub(r.baseline_rss_kib) as f64 / n as f64;
    let cpu_ms = cores * 60.0 * 1000.0 / n as f64;
    println!(
        "  per tenant: {cpu_ms:.1} ms of CPU a minute ({:.0} tenants a core); {per_tenant_kib:.0} KiB of steady \
         RSS over the baseline ({:.0} tenants a GiB)",
        ratio(n as f64, cores),
        ratio(1024.0 * 1024.0, per_tenant_kib)
    );

    // /sd.
    let mut sd_times = Vec::new();
    let mut sd = Bytes::new();
    for _ in 0..SD_REQUESTS {
        let (body, took) = r.get("/sd", false).await;
        sd_times.push(took);
        sd = body;
    }
    let entries = serde_json::from_slice::<serde_json::Value>(&sd)
        .ok()
        .and_then(|v| v.as_array().map(Vec::len))
        .unwrap_or(0);
    println!(
        "  /sd: median of {SD_REQUESTS} {:.2} ms; {:.0} KiB, {entries} entries",
        ms(median(&mut sd_times)),
        sd.len() as f64 / 1024.0
    );

    // /probe under wrk, next to nginx serving the same body.
    let target = r.tenants.platform.tenants.get(1).map(|t| t.company_id.clone()).unwrap_or_default();
    probe_under_load(&r, dir, &target).await;
    println!(
        "  peak RSS (VmHWM) after /sd and the wrk runs too: {:.1} MiB",
        kib_mib(proc_status_kib(pid, "VmHWM:"))
    );

    // The cycles over the same span as the failure runs, for them to compare with.
    tokio::time::sleep(s.span().saturating_sub(r.started.elapsed())).await;
    let (body, _) = r.get("/metrics", false).await;
    let ages = last_success_ages(&String::from_utf8_lossy(&body), &all, unix_now());
    let log = r.sim.requests();
    let cycles = Cycles::of(&log, &r.tenants, r.started, r.started + s.span(), s.interval);
    println!("  tenants' cycles over the first {} s:", s.span().as_secs());
    cycles.print(s.interval, None);
    print_ages(&format!("at {} s", s.span().as_secs()), &ages, None);
    r.report_log();
    Healthy {
        cores,
        metrics_plain: text.len(),
        metrics_gzip: gzip.len(),
        series: series.all,
        steady_rss_kib,
        peak_rss_kib,
        cycles,
        ages,
    }
}

/// Run 2: `tenants_on_metrics: false`.
async fn off_metrics_run(s: &Settings, dir: &Path, healthy: Option<&Healthy>) {
    eprintln!("run 2: tenants_on_metrics: false ...");
    let mut r = Running::start(s, dir, "off_metrics", false, Failure::None).await;
    // Every tenant whose calls all answered is checked on its /probe until each collector succeeded.
    let limit = s.interval * 5;
    let mut confirmed: HashSet<String> = HashSet::new();
    let ids: Vec<(String, String)> =
        r.tenants.platform.tenants.iter().map(|t| (t.app_id.clone(), t.company_id.clone())).collect();
    while confirmed.len() < ids.len() && r.started.elapsed() < limit {
        let answered = answered_apps(&r.sim.requests());
        for (app, company) in &ids {
            if confirmed.contains(company) || !answered.contains(app) {
                continue;
            }
            let (body, _) = r.get(&format!("/probe?target={company}"), false).await;
            let text = String::from_utf8_lossy(&body);
            let ok =
                text.lines().filter(|l| l.starts_with(COLLECTOR_SUCCESS) && value(l) == Some(1.0)).count();
            if ok == TENANT_COLLECTORS.len() {
                confirmed.insert(company.clone());
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let first = r.started.elapsed();
    // As Prometheus would scrape them, through /sd: every tenant's /probe, and /metrics.
    let companies: Vec<String> = ids.iter().map(|(_, c)| c.clone()).collect();
    let m = steady(&r, s.interval, &companies).await;
    let (text, _) = r.get("/metrics", false).await;
    let (gzip, _) = r.get("/metrics", true).await;
    let series = count_series(&String::from_utf8_lossy(&text));
    println!();
    println!("2. the same with platform.tenants_on_metrics: false (tenants on /probe only)");
    println!(
        "  every tenant's collectors succeeded (checked on /probe): {} of {} after {:.1} s",
        confirmed.len(),
        ids.len(),
        first.as_secs_f64()
    );
    println!(
        "  /metrics: {} series, {:.1} KiB text, {:.1} KiB gzip{}",
        series.all,
        text.len() as f64 / 1024.0,
        gzip.len() as f64 / 1024.0,
        healthy
            .map(|h| format!(
                " (with tenants: {} series, {:.1} MiB, {:.2} MiB)",
                h.series,
                mib(h.metrics_plain),
                mib(h.metrics_gzip)
            ))
            .unwrap_or_default()
    );
    println!(
        "  over {} s, scraped like {SCRAPE_DESC} and every tenant's /probe too: CPU {:.3} cores; RSS peak \
         {:.1} MiB, steady {:.1} MiB",
        s.interval.as_secs(),
        m.cores,
        kib_mib(m.peak_rss_kib),
        kib_mib(m.steady_rss_kib)
    );
    if let Some(h) = healthy {
        println!(
            "    against 1. (/metrics only): CPU {:.3} cores, RSS peak {:.1} MiB, steady {:.1} MiB; difference \
             {:+.3} cores, {:+.1} MiB peak, {:+.1} MiB steady",
            h.cores,
            kib_mib(h.peak_rss_kib),
            kib_mib(h.steady_rss_kib),
            m.cores - h.cores,
            kib_mib(m.peak_rss_kib) - kib_mib(h.peak_rss_kib),
            kib_mib(m.steady_rss_kib) - kib_mib(h.steady_rss_kib)
        );
    }
    r.report_log();
}

/// Runs 3 and 4: one tenant in 20 fails; are the others on time?
async fn failure_run(s: &Settings, dir: &Path, failure: Failure, healthy: Option<&Healthy>) {
    let (name, what) = match failure {
        Failure::WrongKey => ("wrong_key", "3. one tenant in 20 with a key get_token rejects (910003)"),
        _ => (
            "slow",
            "4. one tenant in 20 whose statistics calls hang 30 s (past the exporter's 15 s timeout)",
        ),
    };
    eprintln!("run {name}: {} s ...", s.span().as_secs());
    let mut r = Running::start(s, dir, name, true, failure).await;
    let want = r.tenants.healthy_ids();
    let failing = r.tenants.failing.iter().filter(|f| **f).count();
    let first = r.wait_collected(&want, Duration::from_secs(2), s.span()).await;
    let remaining = s.span().saturating_sub(r.started.elapsed());
    tokio::time::sleep(remaining).await;
    let (body, _) = r.get("/metrics", false).await;
    let text = String::from_utf8_lossy(&body).into_owned();
    let ages = last_success_ages(&text, &want, unix_now());
    let log = r.sim.requests();
    let cycles = Cycles::of(&log, &r.tenants, r.started, r.started + s.span(), s.interval);
    println!();
    println!("{what}");
    match first {
        Some(t) => println!(
            "  first full cycle of the {} healthy tenants: {:.1} s (every tenant healthy: see 1.)",
            want.len(),
            t.as_secs_f64()
        ),
        None => {
            let done = collected_tenants(&text);
            println!(
                "  THE HEALTHY TENANTS' FIRST FULL CYCLE WAS NOT REACHED in {} s: {} of {} done",
                s.span().as_secs(),
                want.iter().filter(|t| done.contains(*t)).count(),
                want.len()
            );
        }
    }
    println!("  healthy tenants' cycles over the first {} s, against 1.:", s.span().as_secs());
    cycles.print(s.interval, healthy.map(|h| &h.cycles));
    print_ages(&format!("at {} s", s.span().as_secs()), &ages, healthy.map(|h| h.ages.as_slice()));
    // Healthy tenants' statistics calls in each interval of the run.
    let buckets = usize::try_from(s.span().as_secs().div_ceil(s.interval.as_secs().max(1))).unwrap_or(1);
    let mut per_interval = vec![0usize; buckets];
    for record in log.iter().filter(|x| TENANT_COLLECTORS.contains(&x.endpoint.as_str())) {
        if r.tenants.of(record).is_some_and(|(_, ok)| ok) {
            let k = record.at.duration_since(r.started).as_secs() / s.interval.as_secs().max(1);
            if let Some(n) = usize::try_from(k).ok().and_then(|k| per_interval.get_mut(k)) {
                *n += 1;
            }
        }
    }
    println!(
        "  healthy tenants' statistics calls in each {} s of the run: {} (every healthy tenant once: {})",
        s.interval.as_secs(),
        per_interval.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        want.len() * TENANT_COLLECTORS.len()
    );
    let tokens = log
        .iter()
        .filter(|x| x.endpoint == "get_token" && r.tenants.of(x).is_some_and(|(_, ok)| !ok))
        .count();
    let failing_calls = log
        .iter()
        .filter(|x| x.endpoint != "get_token" && r.tenants.of(x).is_some_and(|(_, ok)| !ok))
        .count();
    println!(
        "  the {failing} failing tenants: {tokens} get_token calls and {failing_calls} statistics calls reached the \
         simulator in {} s{}",
        s.span().as_secs(),
        r.proxy_held
            .as_ref()
            .map(|h| format!("; {} statistics calls held by the proxy", h.load(Ordering::Relaxed)))
            .unwrap_or_default()
    );
    platform_calls(&log, r.started);
    r.report_log();
}

/// How the bench scrapes, as a Prometheus would.
const SCRAPE_DESC: &str = "a Prometheus (gzip, every 15 s)";

/// Memory and CPU over a span.
struct Steady {
    from: Instant,
    to: Instant,
    /// Median of VmRSS, read every second.
    steady_rss_kib: u64,
    /// VmHWM at the end.
    peak_rss_kib: u64,
    /// The exporter's CPU.
    cores: f64,
    /// This process's: the simulator and the bench.
    sim_cores: f64,
}

/// Reads the exporter's memory every second and its CPU over `span`, while it is scraped every
/// [`SCRAPE_EVERY`] with gzip, as Prometheus asks: `/metrics` and each of `probes`' `/probe`.
async fn steady(r: &Running, span: Duration, probes: &[String]) -> Steady {
    let pid = r.pid();
    let from = Instant::now();
    let (cpu0, self0) = (cpu_ticks(&pid.to_string()), cpu_ticks("self"));
    let mut rss = Vec::new();
    let mut last_scrape: Option<Instant> = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    while from.elapsed() < span {
        ticker.tick().await;
        rss.push(proc_status_kib(pid, "VmRSS:"));
        if last_scrape.is_none_or(|t| t.elapsed() >= SCRAPE_EVERY) {
            last_scrape = Some(Instant::now());
            r.get("/metrics", true).await;
            for target in probes {
                r.get(&format!("/probe?target={target}"), true).await;
            }
        }
    }
    let to = Instant::now();
    let seconds = to.duration_since(from).as_secs_f64();
    let (cpu1, self1) = (cpu_ticks(&pid.to_string()), cpu_ticks("self"));
    let hz = clock_ticks_per_second();
    Steady {
        from,
        to,
        steady_rss_kib: median(&mut rss),
        peak_rss_kib: proc_status_kib(pid, "VmHWM:"),
        cores: ticks_to_s(cpu1.saturating_sub(cpu0), hz) / seconds,
        sim_cores: ticks_to_s(self1.saturating_sub(self0), hz) / seconds,
    }
}

/// When `endpoint` was first called, since `started`.
fn first_call(log: &[Recorded], endpoint: &str, started: Instant) -> Option<Duration> {
    log.iter().filter(|x| x.endpoint == endpoint).map(|x| x.at.duration_since(started)).min()
}

/// Platform endpoints over the whole log: calls, the most in any 60 s, calls turned away
/// (210017), and the rate a minute at the default interval (each platform cycle makes the same
/// calls, the run is shorter than two cycles).
fn platform_calls(log: &[Recorded], started: Instant) {
    let whole = log.iter().map(|x| x.at).max().map_or(0.0, |t| t.duration_since(started).as_secs_f64());
    let cycles = (whole / PLATFORM_INTERVAL.as_secs_f64()).floor() + 1.0;
    println!(
        "  platform endpoints (limit {PLATFORM_LIMIT} calls in any 60 s), over the {whole:.0} s of the run:"
    );
    for endpoint in PLATFORM_ENDPOINTS {
        let mut at: Vec<Instant> = log.iter().filter(|x| x.endpoint == endpoint).map(|x| x.at).collect();
        at.sort();
        let window = Duration::from_secs(60);
        let most = (0..at.len())
            .map(|i| at[i..].iter().take_while(|t| t.duration_since(at[i]) < window).count())
            .max()
            .unwrap_or(0);
        let limited = log.iter().filter(|x| x.endpoint == endpoint && x.code == "210017").count();
        println!(
            "    {endpoint:<18} {:>3} calls ({:.2} a minute at the {} min interval), most in any 60 s {most}, \
             turned away {limited}",
            at.len(),
            at.len() as f64 / cycles / (PLATFORM_INTERVAL.as_secs_f64() / 60.0),
            PLATFORM_INTERVAL.as_secs() / 60
        );
    }
}

/// Apps whose every collector's endpoint answered 000000 at least once.
fn answered_apps(log: &[Recorded]) -> HashSet<String> {
    let mut seen: HashMap<&str, HashSet<&str>> = HashMap::new();
    for record in log.iter().filter(|x| x.code == "000000") {
        if let Some(app) = record.company.as_deref()
            && TENANT_COLLECTORS.contains(&record.endpoint.as_str())
        {
            seen.entry(app).or_default().insert(record.endpoint.as_str());
        }
    }
    seen.into_iter().filter(|(_, e)| e.len() == TENANT_COLLECTORS.len()).map(|(a, _)| a.to_string()).collect()
}

/// The tenants on a `/metrics` body whose every collector's last cycle succeeded.
fn collected_tenants(body: &str) -> HashSet<String> {
    let mut ok: HashMap<&str, usize> = HashMap::new();
    for line in body.lines().filter(|l| l.starts_with(COLLECTOR_SUCCESS) && value(l) == Some(1.0)) {
        if let Some(tenant) = label(line, "tenant") {
            *ok.entry(tenant).or_default() += 1;
        }
    }
    ok.into_iter().filter(|(_, n)| *n == TENANT_COLLECTORS.len()).map(|(t, _)| t.to_string()).collect()
}

/// Seconds since the last success of every collector of the tenants in `want`; a collector
/// without one counts as never (infinite).
fn last_success_ages(body: &str, want: &HashSet<String>, now: f64) -> Vec<f64> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut ages = Vec::new();
    for line in body.lines().filter(|l| l.starts_with(COLLECTOR_LAST_SUCCESS)) {
        let Some(tenant) = label(line, "tenant").filter(|t| want.contains(*t)) else { continue };
        if let Some(value) = value(line) {
            *seen.entry(tenant).or_default() += 1;
            ages.push(now - value);
        }
    }
    let missing = want.len() * TENANT_COLLECTORS.len() - seen.values().sum::<usize>();
    ages.extend(std::iter::repeat_n(f64::INFINITY, missing));
    ages.sort_by(f64::total_cmp);
    ages
}

fn print_ages(when: &str, ages: &[f64], against: Option<&[f64]>) {
    let missing = ages.iter().filter(|a| a.is_infinite()).count();
    let line = |a: &[f64]| {
        format!(
            "median {:.1} s, p99 {:.1} s, max {:.1} s",
            percentile(a, 0.5),
            percentile(a, 0.99),
            percentile(a, 1.0)
        )
    };
    println!(
        "  age of the last success of every (healthy) tenant's collectors {when}: {}{}{}",
        line(ages),
        if missing > 0 { format!(" ({missing} never succeeded)") } else { String::new() },
        against.map(|h| format!("; in 1.: {}", line(h))).unwrap_or_default()
    );
}

/// The value of a sample line (no timestamps on these).
fn value(line: &str) -> Option<f64> {
    line.rsplit(' ').next()?.parse().ok()
}

/// `name="value"` in a sample line.
fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!("{name}=\""))? + name.len() + 2;
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

/// Series counts of a `/metrics` body.
struct Series {
    all: usize,
    /// With a tenant label, not from the platform's collectors.
    tenant: usize,
    /// From the platform's collectors (`sobot_platform_*`).
    platform: usize,
}

fn count_series(body: &str) -> Series {
    let mut series = Series { all: 0, tenant: 0, platform: 0 };
    for line in body.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        series.all += 1;
        if line.starts_with("sobot_platform_") {
            series.platform += 1;
        } else if line.contains("tenant=\"") {
            series.tenant += 1;
        }
    }
    series
}

/// The tenants' cycles as the simulator saw them: a cycle is a tenant's statistics calls with
/// no gap of half an interval.
struct Cycles {
    /// Between the first calls of consecutive cycles, seconds.
    intervals: Vec<f64>,
    /// From a cycle's first call to its last, seconds.
    spans: Vec<f64>,
    /// Healthy tenants with no cycle at all.
    without: usize,
}

impl Cycles {
    fn of(log: &[Recorded], tenants: &Tenants, from: Instant, to: Instant, interval: Duration) -> Cycles {
        let mut calls: Vec<Vec<Instant>> = vec![Vec::new(); tenants.len()];
        for record in log
            .iter()
            .filter(|x| x.at >= from && x.at < to && TENANT_COLLECTORS.contains(&x.endpoint.as_str()))
        {
            if let Some((i, true)) = tenants.of(record) {
                calls[i].push(record.at);
            }
        }
        let (mut intervals, mut spans, mut without) = (Vec::new(), Vec::new(), 0);
        for (i, mut at) in calls.into_iter().enumerate() {
            if tenants.failing[i] {
                continue;
            }
            if at.is_empty() {
                without += 1;
                continue;
            }
            at.sort();
            let mut cycles: Vec<(Instant, Instant)> = Vec::new();
            for t in at {
                match cycles.last_mut() {
                    Some((_, end)) if t.duration_since(*end) < interval / 2 => *end = t,
                    _ => cycles.push((t, t)),
                }
            }
            spans.extend(cycles.iter().map(|(a, b)| b.duration_since(*a).as_secs_f64()));
            intervals.extend(cycles.windows(2).map(|w| w[1].0.duration_since(w[0].0).as_secs_f64()));
        }
        intervals.sort_by(f64::total_cmp);
        spans.sort_by(f64::total_cmp);
        Cycles { intervals, spans, without }
    }

    fn print(&self, interval: Duration, against: Option<&Cycles>) {
        let i = interval.as_secs_f64();
        let intervals = |c: &Cycles| {
            let late = c.intervals.iter().filter(|x| **x > i + 5.0).count();
            format!(
                "{} intervals, median {:.2} s, p99 {:.2} s, max {:.2} s, {} more than 5 s late",
                c.intervals.len(),
                percentile(&c.intervals, 0.5),
                percentile(&c.intervals, 0.99),
                percentile(&c.intervals, 1.0),
                late
            )
        };
        let spans = |c: &Cycles| {
            format!(
                "{} cycles, median {:.3} s, p99 {:.3} s, max {:.3} s",
                c.spans.len(),
                percentile(&c.spans, 0.5),
                percentile(&c.spans, 0.99),
                percentile(&c.spans, 1.0)
            )
        };
        println!("    first call of a cycle to the next cycle's: {}", intervals(self));
        if let Some(h) = against {
            println!("      in 1.:                                  {}", intervals(h));
        }
        println!("    first to last call of a cycle:             {}", spans(self));
        if let Some(h) = against {
            println!("      in 1.:                                  {}", spans(h));
        }
        if self.without > 0 {
            println!("    HEALTHY TENANTS WITHOUT ANY CYCLE: {}", self.without);
        }
    }
}

/// `/probe?target=<target>` under wrk, then nginx serving the same body the same way.
async fn probe_under_load(r: &Running, dir: &Path, target: &str) {
    let path = format!("/probe?target={target}");
    let response = r.client.get(r.url(&path)).send().await.expect("GET /probe");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(sobot_exporter::exposition::TEXT)
        .to_string();
    let body = response.bytes().await.expect("/probe body");
    println!(
        "  /probe?target=<one tenant>: {} series, {:.1} KiB",
        count_series(&String::from_utf8_lossy(&body)).all,
        body.len() as f64 / 1024.0
    );
    if which("wrk").is_none() {
        println!("  wrk: not found on PATH; skipping /probe under load (apt-get install -y wrk)");
        return;
    }
    let ours = wrk(&r.url(&path)).await;
    if let Some(o) = &ours {
        println!(
            "  /probe under wrk {}: p50 {:.3} ms, p99 {:.3} ms, {:.0} req/s{}",
            WRK_ARGS.join(" "),
            o.p50_ms,
            o.p99_ms,
            o.requests_per_s,
            o.problems()
        );
    }
    if which("nginx").is_none() {
        println!("  nginx: not found on PATH; skipping the comparison with nginx (apt-get install -y nginx)");
        return;
    }
    let www = dir.join("www");
    std::fs::create_dir_all(&www).expect("create the nginx document root");
    std::fs::write(www.join("probe"), &body).expect("save the probe body");
    let Some(nginx) = Nginx::start(dir, &www, &content_type, "location = /probe { }", "/probe").await else {
        return;
    };
    let nginx_url = nginx.url(&path);
    if reqwest::get(&nginx_url).await.ok().map(|r| r.status()) != Some(reqwest::StatusCode::OK) {
        println!("  nginx: {nginx_url} does not answer 200; skipping the comparison");
        return;
    }
    if let (Some(o), Some(t)) = (ours, wrk(&nginx_url).await) {
        println!(
            "  the same body from nginx:  p50 {:.3} ms, p99 {:.3} ms, {:.0} req/s{}; exporter/nginx p50 {:.2}x, \
             p99 {:.2}x, req/s {:.2}x",
            t.p50_ms,
            t.p99_ms,
            t.requests_per_s,
            t.problems(),
            ratio(o.p50_ms, t.p50_ms),
            ratio(o.p99_ms, t.p99_ms),
            ratio(o.requests_per_s, t.requests_per_s)
        );
    }
}

/// What one `wrk` run reported.
struct WrkRun {
    requests_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: Vec<String>,
}

impl WrkRun {
    fn problems(&self) -> String {
        if self.errors.is_empty() { String::new() } else { format!(" ({})", self.errors.join(", ")) }
    }
}

/// Runs `wrk` ([`run_wrk`]) with [`WRK_ARGS`] and reads its rate and latencies; `None`, with a
/// printed reason, if it fails.
async fn wrk(url: &str) -> Option<WrkRun> {
    let stdout = run_wrk(&WRK_ARGS, url).await?;
    let after =
        |prefix: &str| stdout.lines().map(str::trim).find_map(|l| l.strip_prefix(prefix)).map(str::trim);
    let parsed = (|| {
        Some(WrkRun {
            requests_per_s: after("Requests/sec:")?.parse().ok()?,
            p50_ms: wrk_ms(after("50%")?)?,
            p99_ms: wrk_ms(after("99%")?)?,
            errors: wrk_errors(&stdout),
        })
    })();
    if parsed.is_none() {
        println!("    wrk {url}: cannot read its output:\n{stdout}");
    }
    parsed
}

/// A wrk duration (`812.00us`, `1.20ms`, `2.01s`) in milliseconds.
fn wrk_ms(text: &str) -> Option<f64> {
    let number = |suffix: &str| text.strip_suffix(suffix).and_then(|n| n.parse::<f64>().ok());
    number("us").map(|v| v / 1000.0).or_else(|| number("ms")).or_else(|| number("s").map(|v| v * 1000.0))
}

/// A proxy in front of the simulator that holds every statistics call of the slow tenants for
/// [`SLOW_HOLD`] and then answers 504 without forwarding it: it learns their tokens from the
/// get_token answers it forwards. Stops accepting when dropped.
struct SlowProxy {
    addr: std::net::SocketAddr,
    held: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

/// What the proxy's connections share.
struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    slow_apps: HashSet<String>,
    slow_tokens: Mutex<HashSet<String>>,
    held: Arc<AtomicU64>,
}

impl SlowProxy {
    async fn start(upstream: String, slow_apps: HashSet<String>) -> SlowProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let held = Arc::new(AtomicU64::new(0));
        let state = Arc::new(ProxyState {
            upstream,
            client: reqwest::Client::new(),
            slow_apps,
            slow_tokens: Mutex::default(),
            held: held.clone(),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(proxy(&state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        SlowProxy { addr, held, task }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn proxy(state: &ProxyState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (token, content_type) = (header("token"), header("content-type"));
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let slow = token.as_ref().is_some_and(|t| {
        let tokens = state.slow_tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.contains(t)
    });
    if slow {
        state.held.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(SLOW_HOLD).await;
        return reply(StatusCode::GATEWAY_TIMEOUT, None, Bytes::from_static(b"held"));
    }
    let app = path.starts_with("/api/get_token").then(|| {
        let query = path.split_once('?').map_or("", |(_, q)| q);
        form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "appid").map(|(_, v)| v.into_owned())
    });
    let mut request = state.client.request(method, format!("{}{path}", state.upstream)).body(body);
    for (name, value) in [("token", token), ("content-type", content_type)] {
        if let Some(value) = value {
            request = request.header(name, value);
        }
    }
    let Ok(response) = request.send().await else {
        return reply(StatusCode::BAD_GATEWAY, None, Bytes::from_static(b"upstream"));
    };
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = response.bytes().await.unwrap_or_default();
    if app.flatten().is_some_and(|a| state.slow_apps.contains(&a))
        && let Some(token) = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.pointer("/item/token").and_then(|t| t.as_str()).map(str::to_string))
    {
        state.slow_tokens.lock().unwrap_or_else(PoisonError::into_inner).insert(token);
    }
    reply(status, content_type, bytes)
}

fn reply(status: StatusCode, content_type: Option<String>, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    if let Some(value) = content_type.and_then(|v| hyper::header::HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// User and system CPU time of `/proc/<pid>` (or `self`) in clock ticks; 0 if unreadable.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (in parentheses): utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

/// `getconf CLK_TCK`, 100 if it cannot say.
fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(100)
}

fn ticks_to_s(ticks: u64, hz: u64) -> f64 {
    ticks as f64 / hz as f64
}

/// Seconds since the Unix epoch.
fn unix_now() -> f64 {
    jiff::Timestamp::now().as_duration().as_secs_f64()
}

/// The `p` quantile (0 to 1, nearest rank) of sorted `values`; NaN for none.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
