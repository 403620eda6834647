//! What the runs read and print: memory and CPU over a span, the simulator's log (calls, cycles),
//! `/metrics` bodies (series, last successes), `/proc` and percentiles.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::Duration;

use tokio::time::Instant;

use sobot_exporter::simulator::Recorded;
use sobot_exporter::telemetry::{COLLECTOR_LAST_SUCCESS, COLLECTOR_SUCCESS};

use crate::support::*;
use crate::{PLATFORM_ENDPOINTS, PLATFORM_INTERVAL, PLATFORM_LIMIT, Running, SCRAPE_EVERY, Tenants};

/// How the bench scrapes, as a Prometheus would.
pub(crate) const SCRAPE_DESC: &str = "a Prometheus (gzip, every 15 s)";

/// Memory and CPU over a span.
pub(crate) struct Steady {
    pub(crate) from: Instant,
    pub(crate) to: Instant,
    /// Median of VmRSS, read every second.
    pub(crate) steady_rss_kib: u64,
    /// VmHWM at the end.
    pub(crate) peak_rss_kib: u64,
    /// The exporter's CPU.
    pub(crate) cores: f64,
    /// This process's: the simulator and the bench.
    pub(crate) sim_cores: f64,
}

/// Reads the exporter's memory every second and its CPU over `span`, while it is scraped every
/// [`SCRAPE_EVERY`] with gzip, as Prometheus asks: `/metrics` and each of `probes`' `/probe`.
pub(crate) async fn steady(r: &Running, span: Duration, probes: &[String]) -> Steady {
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
pub(crate) fn first_call(log: &[Recorded], endpoint: &str, started: Instant) -> Option<Duration> {
    log.iter().filter(|x| x.endpoint == endpoint).map(|x| x.at.duration_since(started)).min()
}

/// Platform endpoints over the whole log: calls, the most in any 60 s, calls turned away
/// (210017), and the rate a minute at the default interval (each platform cycle makes the same
/// calls, the run is shorter than two cycles).
pub(crate) fn platform_calls(log: &[Recorded], started: Instant) {
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
pub(crate) fn answered_apps(log: &[Recorded]) -> HashSet<String> {
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
pub(crate) fn collected_tenants(body: &str) -> HashSet<String> {
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
pub(crate) fn last_success_ages(body: &str, want: &HashSet<String>, now: f64) -> Vec<f64> {
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

pub(crate) fn print_ages(when: &str, ages: &[f64], against: Option<&[f64]>) {
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
pub(crate) fn value(line: &str) -> Option<f64> {
    line.rsplit(' ').next()?.parse().ok()
}

/// `name="value"` in a sample line.
pub(crate) fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!("{name}=\""))? + name.len() + 2;
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

/// Series counts of a `/metrics` body.
pub(crate) struct Series {
    pub(crate) all: usize,
    /// With a tenant label, not from the platform's collectors.
    pub(crate) tenant: usize,
    /// From the platform's collectors (`sobot_platform_*`).
    pub(crate) platform: usize,
}

pub(crate) fn count_series(body: &str) -> Series {
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
pub(crate) struct Cycles {
    /// Between the first calls of consecutive cycles, seconds.
    pub(crate) intervals: Vec<f64>,
    /// From a cycle's first call to its last, seconds.
    pub(crate) spans: Vec<f64>,
    /// Healthy tenants with no cycle at all.
    pub(crate) without: usize,
}

impl Cycles {
    pub(crate) fn of(
        log: &[Recorded],
        tenants: &Tenants,
        from: Instant,
        to: Instant,
        interval: Duration,
    ) -> Cycles {
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

    pub(crate) fn print(&self, interval: Duration, against: Option<&Cycles>) {
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

/// User and system CPU time of `/proc/<pid>` (or `self`) in clock ticks; 0 if unreadable.
pub(crate) fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (in parentheses): utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

/// `getconf CLK_TCK`, 100 if it cannot say.
pub(crate) fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(100)
}

pub(crate) fn ticks_to_s(ticks: u64, hz: u64) -> f64 {
    ticks as f64 / hz as f64
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> f64 {
    jiff::Timestamp::now().as_duration().as_secs_f64()
}

/// The `p` quantile (0 to 1, nearest rank) of sorted `values`; NaN for none.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
