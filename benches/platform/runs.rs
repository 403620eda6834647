//! The four configurations: run 1 (tenants on `/metrics`), run 2 (`tenants_on_metrics: false`),
//! runs 3 and 4 (one tenant in 20 failing).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use sobot_exporter::telemetry::COLLECTOR_SUCCESS;

use crate::figures::{
    Cycles, SCRAPE_DESC, Steady, answered_apps, collected_tenants, count_series, first_call,
    last_success_ages, platform_calls, print_ages, steady, unix_now, value,
};
use crate::probe_load::probe_under_load;
use crate::support::*;
use crate::{Failure, Healthy, Running, SD_REQUESTS, Settings};

/// Run 1: tenants on /metrics, none failing.
pub(crate) async fn healthy_run(s: &Settings, dir: &Path) -> Healthy {
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
pub(crate) async fn off_metrics_run(s: &Settings, dir: &Path, healthy: Option<&Healthy>) {
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
pub(crate) async fn failure_run(s: &Settings, dir: &Path, failure: Failure, healthy: Option<&Healthy>) {
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
