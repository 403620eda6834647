//! Soak: the release exporter against the simulator for 10,000 collector cycles at a 100 ms
//! interval, with faults switched on and off in phases, its memory sampled as it goes.
//!
//! `cargo bench --locked --bench soak` prints a table (cycles, elapsed, phase, RSS) and a verdict
//! line: RSS at the end against RSS after the warm-up. Figures, not assertions.
//!
//! Cycles are counted from the self-metrics: every collector's cycle here makes one upstream
//! request (one window, one page, one chunk of agent ids), so the cycles are the requests of
//! `sobot_exporter_upstream_requests_total` but get_token, and an expired token's retry
//! (`910002` twice in one cycle) is counted once. A cycle that fails on its token makes no
//! request and is not counted.

mod support;

use support::*;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sobot_simulator::{DataMode, Fault, SimConfig, Simulator, population, sim_platform};

/// Cycles in all.
const CYCLES: u64 = 10_000;
/// The longest a phase may run, whatever its cycles.
const PHASE_MAX: Duration = Duration::from_secs(40);
const APP_ID: &str = "soak";
const APP_KEY: &str = "soak-key";

/// A phase: its name, its cycles, and the faults it switches on (endpoint, fault).
struct Phase {
    name: &'static str,
    cycles: u64,
    faults: Vec<(&'static str, Fault)>,
    expired_tokens: bool,
}

fn phases() -> Vec<Phase> {
    let clean = |cycles| Phase { name: "clean", cycles, faults: Vec::new(), expired_tokens: false };
    let faulty = |name, cycles, faults| Phase { name, cycles, faults, expired_tokens: false };
    vec![
        Phase { name: "warm-up", ..clean(1500) },
        faulty(
            "errors",
            1000,
            vec![
                ("robot_session", Fault::Http(503)),
                ("human_session", Fault::RetCode("210017")),
                ("quality_result", Fault::Reset),
                ("query", Fault::Http(502)),
                ("getBatchAppKey", Fault::Http(500)),
            ],
        ),
        clean(800),
        faulty(
            "slow answers",
            800,
            vec![
                ("robot_satisfaction", Fault::Delay(Duration::from_secs(2))),
                ("customer_session", Fault::Delay(Duration::from_secs(2))),
                ("message_stats", Fault::Hang),
                ("query", Fault::Delay(Duration::from_secs(2))),
            ],
        ),
        clean(800),
        faulty(
            "garbage",
            1000,
            vec![
                ("robot_session", Fault::Garbage),
                ("human_satisfaction", Fault::Html),
                ("customer_session", Fault::Truncated),
                ("human_session", Fault::RandomCode),
                ("get_service_data", Fault::ObjectForList),
                ("human_duration", Fault::ResetAfter(30)),
                ("query", Fault::ListForObject),
            ],
        ),
        clean(800),
        faulty("large answers", 500, vec![("get_service_data", Fault::Large(10 << 20))]),
        clean(800),
        Phase { name: "expired tokens", expired_tokens: true, ..clean(800) },
        clean(1200),
    ]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let platform = sim_platform(2);
    let sim_config = SimConfig {
        data: DataMode::Live,
        agents: population(2, 10),
        quality_records: 40,
        laaffic_seats: 20,
        rate_limit_per_minute: 100_000_000,
        platform: Some(platform.clone()),
        ..SimConfig::fixtures(APP_ID, APP_KEY)
    };
    let sim = Simulator::start(sim_config).await.expect("simulator");
    let dir = std::env::temp_dir().join(format!("sobot_exporter_soak_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("config.yml");
    let yaml = format!(
        "quality: {{interval: 100ms}}\n\
         sobot: {{timeout: 1s, connect_timeout: 1s, rate_limit_per_minute: 1000000}}\n\
         laaffic: {{timeout: 1s, connect_timeout: 1s}}\n\
         platform:\n  union_code: \"{}\"\n  email: {}\n  interval: 3s\n  collectors: [robot_session, human_session]\n",
        platform.union_code, platform.email
    );
    std::fs::File::create(&config).and_then(|mut f| f.write_all(yaml.as_bytes())).expect("config");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
        .args(["--web.listen-address", &format!("127.0.0.1:{port}"), "--collect.interval", "100ms"])
        .args(["--sobot.base-url", &sim.base_url(), "--laaffic.base-url", &sim.base_url()])
        .args(["--config.file", config.to_str().expect("utf8"), "--log.level", "error"])
        .env("SOBOT_APP_ID", APP_ID)
        .env("SOBOT_APP_KEY", APP_KEY)
        .env("LAAFFIC_API_KEY", "bDqJFiq9")
        .env("LAAFFIC_API_SECRET", "7bz1lzh9")
        .env("SOBOT_PLATFORM_UNION_KEY", platform.union_key.expose())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("exporter starts");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let url = format!("http://127.0.0.1:{port}/metrics");

    println!("soak: {CYCLES} collector cycles at a 100 ms interval (13 company collectors, 2 tenants of 2)");
    println!();
    println!("| cycles | elapsed | phase | RSS (VmRSS) |");
    println!("|---:|---:|---|---:|");
    let started = Instant::now();
    let (mut warm_rss, mut done) = (0, 0);
    let mut last_print = Instant::now();
    let mut scrape_max = Duration::ZERO;
    for phase in phases() {
        for (endpoint, fault) in &phase.faults {
            sim.set_fault(endpoint, Some(fault.clone()));
        }
        sim.set_tokens_expired(APP_ID, phase.expired_tokens);
        let (phase_start, target) = (Instant::now(), done + phase.cycles);
        while done < target && phase_start.elapsed() < PHASE_MAX {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let t = Instant::now();
            done = cycles(&client, &url).await.unwrap_or(done);
            scrape_max = scrape_max.max(t.elapsed());
            alive(&mut child);
            if last_print.elapsed() >= Duration::from_secs(10) {
                last_print = Instant::now();
                row(done, started.elapsed(), phase.name, child.id());
            }
        }
        row(done, started.elapsed(), &format!("{} (end)", phase.name), child.id());
        for (endpoint, _) in &phase.faults {
            sim.set_fault(endpoint, None);
        }
        if phase.name == "warm-up" {
            warm_rss = proc_status_kib(child.id(), "VmRSS:");
        }
    }
    let end_rss = proc_status_kib(child.id(), "VmRSS:");
    let peak = proc_status_kib(child.id(), "VmHWM:");
    println!();
    println!(
        "verdict: {done} cycles in {:.0} s; RSS after warm-up {:.1} MiB, at the end {:.1} MiB: {:.2}x \
         (peak {:.1} MiB); slowest scrape {:.0} ms",
        started.elapsed().as_secs_f64(),
        kib_mib(warm_rss),
        kib_mib(end_rss),
        ratio(end_rss as f64, warm_rss as f64),
        kib_mib(peak),
        ms(scrape_max)
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

fn row(cycles: u64, elapsed: Duration, phase: &str, pid: u32) {
    let rss = proc_status_kib(pid, "VmRSS:");
    println!("| {cycles} | {:.0} s | {phase} | {:.1} MiB |", elapsed.as_secs_f64(), kib_mib(rss));
}

/// Panics if the exporter is gone: a soak that lost its process measured nothing.
fn alive(child: &mut Child) {
    if let Ok(Some(status)) = child.try_wait() {
        panic!("the exporter exited: {status}");
    }
}

/// The collector cycles so far, from the self-metrics (see the module's documentation).
async fn cycles(client: &reqwest::Client, url: &str) -> Option<u64> {
    let text = client.get(url).send().await.ok()?.text().await.ok()?;
    let (mut requests, mut expired) = (0.0, 0.0);
    for line in text.lines().filter(|l| l.starts_with("sobot_exporter_upstream_requests_total{")) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        if series.contains("endpoint=\"get_token\"") {
            continue;
        }
        requests += value;
        if series.contains("code=\"910002\"") || series.contains("code=\"900002\"") {
            expired += value;
        }
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some((requests - expired / 2.0) as u64)
}
