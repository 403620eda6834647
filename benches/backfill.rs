//! `sobot_exporter backfill` (issue 20) at size: the release binary replays past days against the
//! simulator in process (live data mode: past days' figures differ day by day and hour by hour).
//!
//! `cargo bench --locked --bench backfill` (about 4 minutes) runs two scenarios and prints one
//! table:
//!
//! - **company**: 200 agents in 10 skill groups of 20 (the groups in `groups:`), 2,000 quality
//!   records a source and day, the default collectors (every Sobot one but `chat_result`, the
//!   `group_*` ones included), 90 past days ending yesterday. At Sobot's default limit of 1,000
//!   calls a minute that run would take over an hour, so the simulator and `sobot.rate_limit_per_minute`
//!   are both raised (30,000 a minute); the table gives the floor at the run's limit and at the
//!   default one (what a user with default limits waits).
//! - **platform**: a platform of 20 tenants (no company credentials: the platform's staff figures
//!   and its tenants, each with the platform's default tenant collectors and its own token), 30
//!   past days, at the default limits: 1,000 calls a minute per tenant (they run at once, each
//!   under its own), 20 a minute per platform endpoint (getStaffLogInfos, tenantStaffJobList,
//!   getBatchAppKey).
//!
//! Figures per scenario: the summary line's days, targets and calls; the requests the simulator
//! received (and how many it refused with `210017`); wall time; the floor the rate limits set
//! (calls ÷ limit for each limit, the largest of them; each limit lets its first 20 calls go at
//! once, which a short run can beat); the child's CPU time, peak memory (VmHWM, polled from `/proc`
//! while it runs) and resident memory as its first, ¼, ½, ¾ and last day are written; the files'
//! total and per-day sizes and samples (lines of the `.om` files that are not comments), and the
//! families with the most samples.
//! Figures, not assertions. The output directories are removed afterwards.
//!
//! For a quick run: `BACKFILL_BENCH_DAYS` (90) and `BACKFILL_BENCH_RATE` (30000) set the company's
//! days and raised limit, `BACKFILL_BENCH_PLATFORM_DAYS` (30) the platform's days, and
//! `BACKFILL_BENCH_SCENARIOS` (`company,platform`) which scenarios run.

mod support;

use support::*;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use tokio::time::Instant;

use sobot_exporter_core::sources::platform::CALLS_PER_MINUTE;
use sobot_simulator::{DataMode, Recorded, SimConfig, Simulator, population, sim_platform};

/// Skill groups and agents per group of the company.
const GROUPS: (usize, usize) = (10, 20);
/// Quality records per source a day of the company.
const QUALITY_RECORDS: usize = 2_000;
const COMPANY_DAYS: u64 = 90;
/// The company run's limit, in the simulator and in the config.
const RAISED_RATE: u64 = 30_000;
/// `sobot.rate_limit_per_minute`'s default, Sobot's documented limit.
const DEFAULT_RATE: u64 = 1_000;
const TENANTS: usize = 20;
const PLATFORM_DAYS: u64 = 30;
/// The platform's endpoints, as the simulator logs them.
const PLATFORM_ENDPOINTS: [&str; 4] =
    ["getBatchAppKey", "getTenantList", "tenantStaffJobList", "getStaffLogInfos"];
/// The time zone of the statistics day (the exporter's default).
const TZ: &str = "Asia/Shanghai";
/// Longest a run may take before the bench gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(3 * 3600);
/// Linux's `USER_HZ`: the unit of `/proc/<pid>/stat`'s CPU times.
const USER_HZ: f64 = 100.0;
const APP_ID: &str = "bench";
const APP_KEY: &str = "bench-key";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(run());
}

/// A day's file: its bytes and its samples.
type DayFile = (u64, u64);

/// What one backfill run gave.
struct Figures {
    title: String,
    days: u64,
    exit: String,
    summary: String,
    /// Lines of the child's standard error other than the day lines and the summary.
    other_lines: Vec<String>,
    wall: Duration,
    cpu_s: f64,
    /// This process's CPU over the run: the simulator (and the polling).
    sim_cpu_s: f64,
    peak_kib: u64,
    /// VmRSS when the first, the middle and the last day's line appeared.
    rss_by_day: Vec<(usize, u64)>,
    /// Per day: file bytes and samples.
    files: Vec<DayFile>,
    requests: usize,
    refused: usize,
    /// The floor the run's limits set, and the binding limit.
    floor: (Duration, String),
    /// The floor at the default limits.
    default_floor: (Duration, String),
}

async fn run() {
    let scenarios = std::env::var("BACKFILL_BENCH_SCENARIOS").unwrap_or_else(|_| "company,platform".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "backfill bench: load average before the run {}; {} cores",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let mut runs = Vec::new();
    if scenarios.contains("company") {
        runs.push(
            company(
                setting("BACKFILL_BENCH_DAYS", COMPANY_DAYS),
                setting("BACKFILL_BENCH_RATE", RAISED_RATE),
            )
            .await,
        );
    }
    if scenarios.contains("platform") {
        runs.push(platform(setting("BACKFILL_BENCH_PLATFORM_DAYS", PLATFORM_DAYS)).await);
    }
    print_table(&runs);
}

/// The company: 200 agents in 10 groups, the default collectors, `days` days at `rate` calls a
/// minute.
async fn company(days: u64, rate: u64) -> Figures {
    let agents = population(GROUPS.0, GROUPS.1);
    let sim = Simulator::start(SimConfig {
        data: DataMode::Live,
        agents: agents.clone(),
        quality_records: QUALITY_RECORDS,
        rate_limit_per_minute: u32::try_from(rate).expect("a rate that fits u32"),
        ..SimConfig::fixtures(APP_ID, APP_KEY)
    })
    .await
    .expect("the simulator starts");
    let mut groups: Vec<&str> = agents.iter().map(|a| a.group.as_str()).collect();
    groups.dedup();
    let mut yaml = format!("sobot:\n  rate_limit_per_minute: {rate}\ngroups:\n");
    for group in groups {
        yaml.push_str(&format!("  - \"{group}\"\n"));
    }
    let env = [("SOBOT_APP_ID", APP_ID.to_string()), ("SOBOT_APP_KEY", APP_KEY.to_string())];
    let title = format!(
        "company: {} agents in {} groups, {days} days, limit {rate}/min",
        GROUPS.0 * GROUPS.1,
        GROUPS.0
    );
    let mut figures = backfill(&sim, "company", title, &yaml, &env, days).await;
    let log = sim.requests();
    let calls = log.len() as u64;
    let floor = |limit: u64| (minutes(calls, limit), format!("{calls} Sobot calls at {limit}/min"));
    let mut by_endpoint: BTreeMap<&str, usize> = BTreeMap::new();
    for record in &log {
        *by_endpoint.entry(record.endpoint.as_str()).or_default() += 1;
    }
    let per_day: Vec<String> = by_endpoint
        .iter()
        .map(|(e, n)| format!("{e} {:.1}", ratio(*n as f64, figures.days as f64)))
        .collect();
    println!("  company: calls a day by endpoint: {}", per_day.join(", "));
    figures.requests = log.len();
    figures.refused = refused(&log);
    figures.floor = floor(rate);
    figures.default_floor = floor(DEFAULT_RATE);
    figures
}

/// The platform: 20 tenants, no company credentials, `days` days at the default limits.
async fn platform(days: u64) -> Figures {
    let platform = sim_platform(TENANTS);
    let sim = Simulator::start(SimConfig {
        data: DataMode::Live,
        platform: Some(platform.clone()),
        rate_limit_per_minute: u32::try_from(DEFAULT_RATE).expect("fits"),
        ..SimConfig::fixtures(APP_ID, APP_KEY)
    })
    .await
    .expect("the simulator starts");
    let yaml = format!("platform:\n  union_code: \"{}\"\n  email: {}\n", platform.union_code, platform.email);
    let env = [("SOBOT_PLATFORM_UNION_KEY", platform.union_key.expose().to_string())];
    let title = format!("platform: {TENANTS} tenants, {days} days, default limits");
    let mut figures = backfill(&sim, "platform", title, &yaml, &env, days).await;
    let log = sim.requests();
    // Each limit's calls: a platform endpoint's under its own, a tenant's under its own.
    let mut buckets: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let limit = CALLS_PER_MINUTE as u64;
    for record in &log {
        let key = if PLATFORM_ENDPOINTS.contains(&record.endpoint.as_str()) {
            (record.endpoint.clone(), limit)
        } else {
            let tenant = record.company.clone().unwrap_or_else(|| "no company".to_string());
            (format!("tenant {}", tenant.chars().take(8).collect::<String>()), DEFAULT_RATE)
        };
        buckets.entry(key.0).or_insert((0, key.1)).0 += 1;
    }
    let binding = buckets
        .iter()
        .max_by_key(|(_, (calls, limit))| minutes(*calls, *limit))
        .map(|(name, (calls, limit))| {
            (minutes(*calls, *limit), format!("{name}: {calls} calls at {limit}/min"))
        })
        .unwrap_or_default();
    let tenant_calls: Vec<u64> =
        buckets.iter().filter(|(k, _)| k.starts_with("tenant ")).map(|(_, (c, _))| *c).collect();
    let platform_calls: Vec<String> = buckets
        .iter()
        .filter(|(k, _)| !k.starts_with("tenant "))
        .map(|(k, (c, _))| format!("{k} {c}"))
        .collect();
    println!(
        "  platform: calls per tenant {}–{} ({} tenants), platform endpoints: {}",
        tenant_calls.iter().min().unwrap_or(&0),
        tenant_calls.iter().max().unwrap_or(&0),
        tenant_calls.len(),
        platform_calls.join(", ")
    );
    figures.requests = log.len();
    figures.refused = refused(&log);
    figures.floor = binding.clone();
    figures.default_floor = binding;
    figures
}

/// `calls` at `per_minute`.
fn minutes(calls: u64, per_minute: u64) -> Duration {
    Duration::from_secs_f64(ratio(calls as f64, per_minute as f64) * 60.0)
}

/// Calls the simulator turned away for a rate limit; when there are some, a line on them: by
/// endpoint and company, with the most calls that company sent in any 60 s.
fn refused(log: &[Recorded]) -> usize {
    let refused: Vec<&Recorded> = log.iter().filter(|r| r.code == "210017").collect();
    if refused.is_empty() {
        return 0;
    }
    let first = log.iter().map(|r| r.at).min().unwrap_or_else(Instant::now);
    let mut by: BTreeMap<&str, (usize, Vec<&str>)> = BTreeMap::new();
    for r in &refused {
        let entry = by.entry(r.endpoint.as_str()).or_default();
        entry.0 += 1;
        entry.1.extend(r.company.as_deref());
    }
    let mut companies: Vec<&str> = by.values().flat_map(|(_, c)| c.iter().copied()).collect();
    companies.sort_unstable();
    companies.dedup();
    // The most calls a refused company sent in any 60 s (sliding), refused ones included.
    let most = companies
        .iter()
        .map(|company| {
            let at: Vec<Instant> =
                log.iter().filter(|r| r.company.as_deref() == Some(*company)).map(|r| r.at).collect();
            let (mut most, mut start) = (0, 0);
            for (i, t) in at.iter().enumerate() {
                while t.duration_since(at[start]) >= Duration::from_secs(60) {
                    start += 1;
                }
                most = most.max(i + 1 - start);
            }
            most
        })
        .max()
        .unwrap_or(0);
    let when: Vec<f64> = refused.iter().map(|r| r.at.duration_since(first).as_secs_f64()).collect();
    let parts: Vec<String> = by.iter().map(|(e, (n, _))| format!("{n} of {e}")).collect();
    println!(
        "  refused with 210017: {} for {} companies, {:.0}–{:.0} s after the first call; the most calls one of \
         them sent in any 60 s: {most}",
        parts.join(", "),
        companies.len(),
        when.iter().copied().fold(f64::MAX, f64::min),
        when.iter().copied().fold(0.0, f64::max),
    );
    refused.len()
}

/// Runs `sobot_exporter backfill` for the `days` days before today with `yaml` as its config
/// file and `env` as its credentials, against `sim`; polls its memory and CPU while it runs.
async fn backfill(
    sim: &Simulator,
    name: &str,
    title: String,
    yaml: &str,
    env: &[(&str, String)],
    days: u64,
) -> Figures {
    let dir = TempDir::new(&format!("sobot_exporter_backfill_bench_{name}"));
    let config = dir.path().join("config.yml");
    std::fs::write(&config, yaml).expect("write the config");
    let output = dir.path().join("om");
    let stderr_path = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path).expect("create the stderr file");
    let tz = TimeZone::get(TZ).expect("the time zone");
    let yesterday: Date = jiff::Timestamp::now().to_zoned(tz).date().yesterday().expect("a day");
    let span = i64::try_from(days - 1).expect("days fit i64");
    let from = yesterday.checked_sub(span.days()).expect("a day");
    println!("{title}: backfill --from {from} --to {yesterday} …");
    let mut command = Command::new(env!("CARGO_BIN_EXE_sobot_exporter"));
    command
        .args(["backfill", "--from", &from.to_string(), "--to", &yesterday.to_string()])
        .args(["--output", output.to_str().expect("temp path is UTF-8")])
        .args(["--config.file", config.to_str().expect("temp path is UTF-8")])
        .args(["--sobot.base-url", &sim.base_url(), "--log.level", "warn"])
        .env_remove("SOBOT_APP_ID")
        .env_remove("SOBOT_APP_KEY")
        .env_remove("LAAFFIC_API_KEY")
        .env_remove("LAAFFIC_API_SECRET")
        .env_remove("SOBOT_PLATFORM_UNION_KEY")
        .env_remove("SOBOT_PLATFORM_SHARD")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    let started = Instant::now();
    let self_cpu = cpu_s("self");
    let mut child = Guarded::spawn("sobot_exporter backfill", &mut command);
    let pid = child.id();
    let (mut peak, mut cpu, mut rss_by_day) = (0, 0.0, Vec::new());
    let exit = loop {
        if let Some(status) = child.try_wait() {
            break status;
        }
        peak = peak.max(proc_status_kib(pid, "VmHWM:"));
        cpu = cpu_s(&pid.to_string()).max(cpu);
        let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let done = text.lines().filter(|l| l.contains(" written to ")).count();
        if done > rss_by_day.last().map_or(0, |(d, _)| *d) {
            rss_by_day.push((done, proc_status_kib(pid, "VmRSS:")));
        }
        assert!(started.elapsed() < RUN_LIMIT, "{name}: the backfill did not end within {RUN_LIMIT:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let wall = started.elapsed();
    let sim_cpu_s = cpu_s("self") - self_cpu;
    let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let summary =
        text.lines().find(|l| l.contains("days written")).unwrap_or("(no summary line)").to_string();
    let other_lines: Vec<String> = text
        .lines()
        .filter(|l| !l.contains(" written to ") && !l.contains("days written"))
        .map(str::to_string)
        .collect();
    println!("  {summary}");
    println!("  exit: {exit}; {:.1} s", wall.as_secs_f64());
    for line in other_lines.iter().take(10) {
        println!("  stderr: {line}");
    }
    if other_lines.len() > 10 {
        println!("  stderr: … {} lines more", other_lines.len() - 10);
    }
    let (files, families) = files(&output);
    let top: Vec<String> = families.iter().take(6).map(|(n, f)| format!("{f} {n}")).collect();
    println!("  samples of the last day by family, the largest: {}", top.join(", "));
    Figures {
        title,
        days,
        exit: exit.to_string(),
        summary,
        other_lines,
        wall,
        cpu_s: cpu,
        sim_cpu_s,
        peak_kib: peak,
        rss_by_day,
        files,
        requests: 0,
        refused: 0,
        floor: Default::default(),
        default_floor: Default::default(),
    }
}

/// Every `.om` file of `dir`: its size and its samples, in the order of their names (days); and
/// the last file's samples by family, the most first.
fn files(dir: &Path) -> (Vec<DayFile>, Vec<(usize, String)>) {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "om"));
    paths.sort();
    let mut families: BTreeMap<String, usize> = BTreeMap::new();
    let mut figures = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let samples = text.lines().filter(|l| !l.is_empty() && !l.starts_with('#'));
        let mut count = 0;
        for line in samples {
            count += 1;
            if i + 1 == paths.len() {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                *families.entry(name.to_string()).or_default() += 1;
            }
        }
        figures.push((text.len() as u64, count));
    }
    let mut families: Vec<(usize, String)> = families.into_iter().map(|(n, c)| (c, n)).collect();
    families.sort_unstable_by(|a, b| b.cmp(a));
    (figures, families)
}

/// CPU seconds (user and system) of the process `pid` (or `self`), 0 if unreadable.
fn cpu_s(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (in parentheses): utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (field(11) + field(12)) as f64 / USER_HZ
}

fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 120.0 { format!("{:.1} min", s / 60.0) } else { format!("{s:.1} s") }
}

fn bytes(n: u64) -> String {
    if n >= 1 << 20 { format!("{:.1} MiB", mib(n as usize)) } else { format!("{:.0} KiB", n as f64 / 1024.0) }
}

/// The scenarios' figures, a column each.
fn print_table(runs: &[Figures]) {
    let row = |name: &str, cell: &dyn Fn(&Figures) -> String| {
        let cells: Vec<String> = runs.iter().map(cell).collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    println!();
    row("", &|f| f.title.clone());
    println!("|---|{}", "---|".repeat(runs.len()));
    row("exit", &|f| f.exit.clone());
    row("summary line", &|f| {
        let line = f.summary.trim_start_matches("sobot_exporter: backfill: ");
        line.split_once(", to ").map_or(line, |(before, _)| before).to_string()
    });
    row("requests at the simulator (refused 210017)", &|f| format!("{} ({})", f.requests, f.refused));
    row("requests per day", &|f| format!("{:.0}", ratio(f.requests as f64, f.days as f64)));
    row("wall time", &|f| duration(f.wall));
    row("floor at the run's limits", &|f| format!("{} ({})", duration(f.floor.0), f.floor.1));
    row("wall ÷ floor", &|f| format!("{:.2}", ratio(f.wall.as_secs_f64(), f.floor.0.as_secs_f64())));
    row("floor at the default limits", &|f| {
        format!("{} ({})", duration(f.default_floor.0), f.default_floor.1)
    });
    row("CPU: backfill / simulator", &|f| format!("{:.1} s / {:.1} s", f.cpu_s, f.sim_cpu_s));
    row("peak memory (VmHWM)", &|f| format!("{:.1} MiB", kib_mib(f.peak_kib)));
    row("VmRSS after day 1, ¼, ½, ¾, the last seen", &|f| {
        let n = f.rss_by_day.len();
        let points = [0, n / 4, n / 2, n * 3 / 4, n.saturating_sub(1)];
        let at = |i: usize| f.rss_by_day.get(i).map(|(d, k)| format!("{:.1} ({d})", kib_mib(*k)));
        format!("{} MiB (day)", points.iter().filter_map(|i| at(*i)).collect::<Vec<_>>().join(", "))
    });
    row("files (days)", &|f| f.files.len().to_string());
    row("bytes: total / per day (min–max)", &|f| {
        let sizes: Vec<u64> = f.files.iter().map(|(b, _)| *b).collect();
        let total: u64 = sizes.iter().sum();
        format!(
            "{} / {} ({}–{})",
            bytes(total),
            bytes(total / (sizes.len() as u64).max(1)),
            bytes(sizes.iter().copied().min().unwrap_or(0)),
            bytes(sizes.iter().copied().max().unwrap_or(0))
        )
    });
    row("samples: total / per day (min–max)", &|f| {
        let samples: Vec<u64> = f.files.iter().map(|(_, s)| *s).collect();
        let total: u64 = samples.iter().sum();
        format!(
            "{total} / {} ({}–{})",
            total / (samples.len() as u64).max(1),
            samples.iter().copied().min().unwrap_or(0),
            samples.iter().copied().max().unwrap_or(0)
        )
    });
    row("other stderr lines", &|f| f.other_lines.len().to_string());
}
