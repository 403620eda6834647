//! Memory after tenant churn: the release binary in platform mode against the simulator in
//! process, whose platform lists 20 tenants, then 2,000, then 20 again, ten times over.
//!
//! `cargo bench --locked --bench churn` (about 22 minutes) prints, for a fresh start at 20 tenants
//! and after each cycle, the exporter's resident memory (VmRSS, the median of five readings a
//! second apart) at 2,000 tenants (once every tenant's collectors have each made a call) and back
//! at 20 (once the exporter serves 20 and 100 s have passed: two intervals, and past the HTTP
//! client's idle timeout, which closes the connections the 2,000 opened), its peak (VmHWM), and the
//! series of its `/metrics`; then the level at 20 after the first cycle against the last, and the
//! last against the fresh start. Figures, not assertions. Then, if `gdb` is on `PATH`, what of the
//! last level is memory glibc's malloc holds free: glibc's `malloc_stats()` (its arenas' system and
//! in-use bytes, on the exporter's standard error) and VmRSS after `malloc_trim(0)`, both called in
//! the exporter through gdb.
//!
//! `CHURN_BENCH_CYCLES`, `CHURN_BENCH_TENANTS` and `CHURN_BENCH_INTERVAL_S` change the cycles
//! (10), the high tenant count (2,000) and the tenants' interval (30 s); the exporter inherits
//! the environment, so `GLIBC_TUNABLES=…` measures a malloc setting.

mod support;

use support::*;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::time::Instant;

use sobot_simulator::{DataMode, SimConfig, SimTenant, Simulator, sim_platform};

/// The low and the high tenant counts.
const LOW: usize = 20;
const HIGH: usize = 2_000;
const CYCLES: usize = 10;
/// `--collect.interval`.
const INTERVAL: Duration = Duration::from_secs(30);
/// `platform.interval`: how soon the exporter sees a new tenant list.
const DISCOVERY: Duration = Duration::from_secs(10);
/// How long the level at 20 is left to settle: past the HTTP client's idle timeout (reqwest's
/// default, 90 s), when the connections the 2,000 tenants opened are closed.
const SETTLE: Duration = Duration::from_secs(100);
const APP_ID: &str = "bench";
const APP_KEY: &str = "bench-key";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(run());
}

/// The exporter, the simulator, and what the bench reads of them.
struct Churn {
    exporter: Guarded,
    sim: Simulator,
    port: u16,
    client: reqwest::Client,
    interval: Duration,
}

impl Churn {
    async fn get(&self, path: &str) -> String {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let response = self.client.get(&url).send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        response.text().await.unwrap_or_else(|e| panic!("GET {path}: body: {e}"))
    }

    /// Polls until every tenant of `tenants` has called each collector's endpoint since `since`.
    async fn wait_collected(&self, tenants: &[SimTenant], since: Instant) {
        let want: HashSet<&str> = tenants.iter().map(|t| t.app_id.as_str()).collect();
        let limit = since + self.interval * 4 + DISCOVERY * 2;
        loop {
            let log = self.sim.requests();
            let mut seen: std::collections::HashMap<&str, HashSet<&str>> = std::collections::HashMap::new();
            // Their collectors' endpoints only (a tenant's get_token is logged under its app id too).
            let collected =
                log.iter().filter(|r| r.at >= since && TENANT_COLLECTORS.contains(&r.endpoint.as_str()));
            for record in collected {
                if let Some(app) = record.company.as_deref().filter(|a| want.contains(a)) {
                    seen.entry(app).or_default().insert(record.endpoint.as_str());
                }
            }
            let done = seen.values().filter(|e| e.len() == TENANT_COLLECTORS.len()).count();
            if done == want.len() {
                return;
            }
            assert!(Instant::now() < limit, "{done} of {} tenants collected in time", want.len());
            // Prometheus, meanwhile: the exporter's own /metrics and /sd.
            self.get("/metrics").await;
            self.get("/sd").await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Polls `/metrics` until the exporter serves `n` tenants.
    async fn wait_served(&self, n: usize) {
        let limit = Instant::now() + DISCOVERY * 6;
        let serves = |body: &str| {
            body.lines().filter_map(|l| l.strip_prefix("sobot_exporter_platform_tenants_served ")).any(|v| {
                #[allow(clippy::cast_precision_loss)]
                let n = n as f64;
                v.trim().parse::<f64>().is_ok_and(|v| v == n)
            })
        };
        while !serves(&self.get("/metrics").await) {
            assert!(Instant::now() < limit, "the exporter does not serve {n} tenants");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// VmRSS, the median of five readings a second apart (scraping in between), in KiB.
    async fn rss(&self) -> u64 {
        let mut readings = Vec::new();
        for _ in 0..5 {
            self.get("/metrics").await;
            readings.push(proc_status_kib(self.exporter.id(), "VmRSS:"));
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        median(&mut readings)
    }

    async fn series(&self) -> usize {
        self.get("/metrics").await.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).count()
    }
}

async fn run() {
    let cycles = setting("CHURN_BENCH_CYCLES", CYCLES as u64) as usize;
    let high = setting("CHURN_BENCH_TENANTS", HIGH as u64) as usize;
    let interval = Duration::from_secs(setting("CHURN_BENCH_INTERVAL_S", INTERVAL.as_secs()));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average before the run: {}; {LOW} → {high} → {LOW} tenants, {cycles} cycles, tenant interval {} s, \
         discovery every {} s, tenants_on_metrics: false",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        interval.as_secs(),
        DISCOVERY.as_secs()
    );
    let all = sim_platform(high);
    let few: Vec<SimTenant> = all.tenants[..LOW].to_vec();
    let sim = Simulator::start(SimConfig {
        data: DataMode::Live,
        platform: Some(sim_platform(LOW)),
        ..SimConfig::fixtures(APP_ID, APP_KEY)
    })
    .await
    .expect("the simulator starts");
    let dir = TempDir::new("sobot_exporter_churn");
    let config = dir.path().join("churn.yml");
    let yaml = format!(
        "platform:\n  union_code: \"{}\"\n  email: {}\n  interval: {}s\n  collectors: [{}]\n  tenants_on_metrics: false\n",
        all.union_code,
        all.email,
        DISCOVERY.as_secs(),
        TENANT_COLLECTORS.join(", ")
    );
    std::fs::write(&config, yaml).expect("write the exporter's config");
    let port = free_port();
    let exporter = Guarded::spawn(
        "sobot_exporter",
        Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
            .args(["--web.listen-address", &format!("127.0.0.1:{port}"), "--sobot.base-url", &sim.base_url()])
            .args(["--config.file", config.to_str().expect("temp path is UTF-8")])
            .args(["--collect.interval", &format!("{}s", interval.as_secs()), "--log.level", "error"])
            .env_remove("SOBOT_APP_ID")
            .env_remove("SOBOT_APP_KEY")
            .env_remove("LAAFFIC_API_KEY")
            .env_remove("LAAFFIC_API_SECRET")
            .env_remove("SOBOT_PLATFORM_SHARD")
            .env("SOBOT_PLATFORM_UNION_KEY", all.union_key.expose())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    );
    let churn = Churn { exporter, sim, port, client: reqwest::Client::new(), interval };
    let started = Instant::now();
    while churn.client.get(format!("http://127.0.0.1:{port}/healthz")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the exporter did not answer in 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    churn.wait_served(LOW).await;
    churn.wait_collected(&few, started).await;
    tokio::time::sleep(interval).await;
    let fresh = churn.rss().await;
    println!("| cycle | at {high} tenants | back at {LOW} | peak (VmHWM) | /metrics series at {LOW} |");
    println!("|---|---|---|---|---|");
    println!(
        "| fresh start | | {:.1} MiB | {:.1} MiB | {} |",
        kib_mib(fresh),
        kib_mib(proc_status_kib(churn.exporter.id(), "VmHWM:")),
        churn.series().await
    );
    let mut levels = Vec::new();
    for cycle in 1..=cycles {
        let since = Instant::now();
        churn.sim.set_tenants(all.tenants.clone());
        churn.wait_served(high).await;
        churn.wait_collected(&all.tenants, since).await;
        let at_high = churn.rss().await;
        churn.sim.set_tenants(few.clone());
        churn.wait_served(LOW).await;
        tokio::time::sleep(SETTLE.max(interval * 2)).await;
        let at_low = churn.rss().await;
        levels.push(at_low);
        println!(
            "| {cycle} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {} |",
            kib_mib(at_high),
            kib_mib(at_low),
            kib_mib(proc_status_kib(churn.exporter.id(), "VmHWM:")),
            churn.series().await
        );
    }
    if let (Some(first), Some(last)) = (levels.first(), levels.last()) {
        println!(
            "back at {LOW}: after cycle 1 {:.1} MiB, after cycle {cycles} {:.1} MiB ({:+.1} MiB); {:.2}x the fresh \
             start ({:.1} MiB)",
            kib_mib(*first),
            kib_mib(*last),
            kib_mib(*last) - kib_mib(*first),
            ratio(*last as f64, fresh as f64),
            kib_mib(fresh)
        );
        if let Some(trimmed) = trim(churn.exporter.id()).await {
            println!(
                "after malloc_trim(0) in the exporter (gdb): {:.1} MiB, {:.1} MiB less: free memory glibc held",
                kib_mib(trimmed),
                kib_mib(*last) - kib_mib(trimmed)
            );
        }
    }
}

/// Calls `malloc_stats()` and `malloc_trim(0)` in the process `pid` through gdb, then reads its
/// VmRSS (the median of five readings a second apart); `None`, with a printed reason, without gdb
/// or if gdb fails.
async fn trim(pid: u32) -> Option<u64> {
    if which("gdb").is_none() {
        println!("gdb is not on PATH: no malloc_trim figure");
        return None;
    }
    let mut command = Command::new("gdb");
    command
        // The executable by its /proc link: found even if a rebuild replaced the file since.
        .arg(format!("/proc/{pid}/exe"))
        .args(["-p", &pid.to_string(), "-batch", "-nx"])
        .args(["-ex", "call (void) malloc_stats()", "-ex", "call (int) malloc_trim(0)"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let status = tokio::task::spawn_blocking(move || command.status()).await.ok()?;
    if !status.as_ref().is_ok_and(std::process::ExitStatus::success) {
        println!("gdb failed ({status:?}): no malloc_trim figure");
        return None;
    }
    let mut readings = Vec::new();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        readings.push(proc_status_kib(pid, "VmRSS:"));
    }
    Some(median(&mut readings))
}
