//! `sobot_exporter backfill`: the live collectors run "at" each hour of each past day (a set
//! [`Clock`]) against the same upstream, and their families are written as one OpenMetrics file a
//! day for `promtool tsdb create-blocks-from openmetrics`. The collectors that replay hourly
//! (`Replay::Hourly`) give a sample at the end of every hour (the day so far), the others one at
//! the end of the day (23:59:59).
//!
//! Each target (the company, each tenant) has one Sobot client for the whole run: one token
//! (refreshed only near its expiry) and the configured rate limit, counted for this process alone.
//! A day is written to a temporary name and renamed when complete, so that Ctrl-C leaves only whole
//! files and `--resume` skips them.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use crate::backfill::OpenMetricsDay;
use crate::cli::Backfill;
use crate::collect::{Collect, Replay};
use crate::config::CollectionConfig;
use crate::exposition::Board;
use crate::snapshot::{Family, Labels};
use crate::sources::sobot::client::SobotClient;
use crate::targets::{DISCOVERY, Shared, TargetKind, build_jobs, desired};
use crate::telemetry::Telemetry;
use crate::upstream::UpstreamError;
use crate::window::{Clock, Window};

/// Tries of a collector's hour before its day is given up.
const TRIES: u32 = 3;

/// Why the backfill stopped, and its exit code.
#[derive(Debug)]
pub enum BackfillError {
    /// Bad flags or config: exit 2.
    Usage(String),
    /// Days that kept failing (the others are written), or the output not writable: exit 1.
    Failed(String),
}

/// The days of `--from`..=`--to`, checked: a date each, in order, at most yesterday in `tz`.
pub(crate) fn days(args: &Backfill, tz: &TimeZone, now: Timestamp) -> Result<Vec<Date>, BackfillError> {
    let date = |value: &str, flag: &str| {
        value.parse::<Date>().map_err(|_| {
            BackfillError::Usage(format!("{flag} {value:?}: expected a date as YYYY-MM-DD, e.g. 2026-11-30"))
        })
    };
    let (from, to) = (date(&args.from, "--from")?, date(&args.to, "--to")?);
    let yesterday = Window::Yesterday.day(now, tz);
    if to > yesterday {
        return Err(BackfillError::Usage(format!(
            "--to {to}: at most yesterday ({yesterday} in {}): Prometheus takes no backfill into its head block",
            tz.iana_name().unwrap_or("the configured time zone")
        )));
    }
    if from > to {
        return Err(BackfillError::Usage(format!("--from {from} is after --to {to}")));
    }
    Ok(from.series(1.day()).take_while(|day| *day <= to).collect())
}

/// The end of `hour` on `day` in `tz` (its last second).
fn end_of_hour(day: Date, hour: i8, tz: &TimeZone) -> Result<Timestamp, String> {
    let local = day.at(hour, 59, 59, 0);
    tz.to_ambiguous_zoned(local)
        .later()
        .map(|z| z.timestamp())
        .map_err(|e| format!("{day} {hour}:59:59 in the configured time zone: {e}"))
}

/// One target of the backfill: its labels on every series, its collectors that replay, and its
/// Sobot client (one token for the whole run).
struct Target {
    id: String,
    labels: Labels,
    jobs: Vec<Arc<dyn Collect>>,
    sobot: Option<Arc<SobotClient>>,
}

/// Runs the backfill of `args` with `collection` (the flags' and the file's, as a live run).
pub async fn run(collection: CollectionConfig, args: &Backfill) -> Result<String, BackfillError> {
    let tz = collection.tz.clone();
    let days = days(args, &tz, Timestamp::now())?;
    if collection.credentials.is_none() && collection.platform.is_none() && collection.sections.is_empty() {
        return Err(BackfillError::Usage("backfill needs credentials, as a live run does".to_string()));
    }
    std::fs::create_dir_all(&args.output)
        .map_err(|e| BackfillError::Failed(format!("--output {}: {e}", args.output.display())))?;
    // Today's window only: the day so far at the clock's moment.
    let config = Arc::new(CollectionConfig {
        windows: vec![Window::Today],
        collector_windows: Default::default(),
        ..collection
    });
    let shared = Shared::new(Board::new(), &config).map_err(|e| BackfillError::Failed(e.to_string()))?;
    let telemetry = Arc::new(Telemetry::new());
    let clock = Clock::at(Timestamp::now());
    let targets = targets(&config, &shared, &telemetry, &clock).await?;
    let progress = Progress::new(days.len() as u64);
    let (mut written, mut skipped, mut failed, mut partial) = (0, 0, Vec::new(), Vec::new());
    for day in &days {
        let path = args.output.join(format!("{day}.om"));
        if args.resume && path.exists() {
            skipped += 1;
            progress.day(&format!("{day} skipped (--resume)"), calls(&telemetry));
            continue;
        }
        match replay(*day, &tz, &clock, &targets).await {
            Ok((om, gaps)) => {
                write(&om, &path).map_err(|e| BackfillError::Failed(format!("{}: {e}", path.display())))?;
                written += 1;
                let empty = if om.is_empty() { " (no samples)" } else { "" };
                progress.day(&format!("{day} written to {}{empty}", path.display()), calls(&telemetry));
                for gap in &gaps {
                    progress.day_note(&format!("{day}: left out after {TRIES} tries: {gap}"));
                }
                if !gaps.is_empty() {
                    partial.push(format!("{day} ({} targets left out)", gaps.len()));
                }
            }
            Err(e) => {
                progress.day(&format!("{day} failed after {TRIES} tries: {e}"), calls(&telemetry));
                failed.push(day.to_string());
            }
        }
    }
    progress.finish();
    let summary = format!(
        "{written} days written, {skipped} skipped (--resume), {} targets, {} calls, to {}",
        targets.len(),
        calls(&telemetry),
        args.output.display()
    );
    let mut problems = Vec::new();
    if !failed.is_empty() {
        problems.push(format!("failed: {} (run again with --resume)", failed.join(", ")));
    }
    if !partial.is_empty() {
        problems.push(format!(
            "written without some targets: {} (run those days again without --resume to fill them)",
            partial.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(BackfillError::Failed(format!("{summary}; {}", problems.join("; "))))
    }
}

/// The upstream calls made so far.
fn calls(telemetry: &Telemetry) -> u64 {
    let total: f64 = telemetry
        .families()
        .iter()
        .filter(|f| crate::telemetry::UPSTREAM_REQUESTS.starts_with(&*f.name))
        .flat_map(|f| f.samples.iter().map(|s| s.value))
        .sum();
    // A count of calls: a whole number far below 2^53.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let total = total as u64;
    total
}

/// The targets a live run would have: the company, the platform (its staff statistics) and the
/// tenants its discovery finds now (getBatchAppKey, once), each with the collectors that replay.
async fn targets(
    config: &Arc<CollectionConfig>,
    shared: &Shared,
    telemetry: &Arc<Telemetry>,
    clock: &Clock,
) -> Result<Vec<Target>, BackfillError> {
    let mut tenants = Vec::new();
    if let Some(platform) = desired(config, &[]).into_iter().find(|s| s.kind == TargetKind::Platform) {
        let (jobs, _) = build_jobs(&platform, shared, telemetry, clock);
        if let Some(discovery) = jobs.iter().find(|j| j.job.name() == DISCOVERY) {
            with_retries(&*discovery.job, None)
                .await
                .map_err(|e| BackfillError::Failed(format!("the platform's discovery failed: {e}")))?;
        }
        tenants = shared.discovered.borrow().as_deref().cloned().unwrap_or_default();
    }
    Ok(desired(config, &tenants)
        .into_iter()
        .map(|spec| {
            let (jobs, sobot) = build_jobs(&spec, shared, telemetry, clock);
            let jobs = jobs.into_iter().map(|j| j.job).filter(|j| j.replay() != Replay::No).collect();
            Target { id: spec.id.clone(), labels: spec.labels.clone(), jobs, sobot }
        })
        .filter(|t| !t.jobs.is_empty())
        .collect())
}

/// One day: at the end of every hour the hourly collectors, at 23:59:59 every collector; the
/// targets of an hour run at once (each under its own rate limit). A target whose collector still
/// fails after its tries is left out for the rest of the day (and named); the day fails when
/// every target did.
async fn replay(
    day: Date,
    tz: &TimeZone,
    clock: &Clock,
    targets: &[Target],
) -> Result<(OpenMetricsDay, Vec<String>), String> {
    let mut om = OpenMetricsDay::default();
    let mut failed: BTreeMap<usize, String> = BTreeMap::new();
    for hour in 0..24 {
        let at = end_of_hour(day, hour, tz)?;
        clock.set(at);
        let mut tasks = tokio::task::JoinSet::new();
        for (index, target) in targets.iter().enumerate().filter(|(i, _)| !failed.contains_key(i)) {
            let due: Vec<Arc<dyn Collect>> =
                target.jobs.iter().filter(|j| hour == 23 || j.replay() == Replay::Hourly).cloned().collect();
            let sobot = target.sobot.clone();
            tasks.spawn(async move {
                let mut families = Vec::new();
                for job in due {
                    match with_retries(&*job, sobot.as_deref()).await {
                        Ok(f) => families.extend(f),
                        Err(e) => return (index, Err(format!("{}: {e}", job.name()))),
                    }
                }
                (index, Ok(families))
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (index, families) = done.map_err(|e| format!("a collector panicked: {e}"))?;
            let target = &targets[index];
            match families {
                Ok(families) => om.add(at, &target.labels, &families),
                Err(e) => {
                    failed.insert(index, format!("target {}: {e}", target.id));
                }
            }
        }
    }
    if failed.len() == targets.len() {
        let first = failed.into_values().next().unwrap_or_else(|| "no target to collect".to_string());
        return Err(first);
    }
    Ok((om, failed.into_values().collect()))
}

/// One collector's cycle (the token first if it needs one), tried again with backoff (2 s, then
/// 4 s).
async fn with_retries(job: &dyn Collect, sobot: Option<&SobotClient>) -> Result<Vec<Family>, UpstreamError> {
    let mut wait = Duration::from_secs(2);
    let mut tries = 0;
    loop {
        tries += 1;
        let token = match sobot {
            Some(client) if job.needs_sobot_token() => client.ensure_token().await,
            _ => Ok(()),
        };
        let result = match token {
            Ok(()) => job.collect().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(families) => return Ok(families),
            Err(e) if tries >= TRIES => return Err(e),
            Err(_) => {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
}

/// Days done, calls made and the time left: a bar on a terminal, a line a day otherwise.
struct Progress(Option<ProgressBar>);

impl Progress {
    fn new(days: u64) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::new(days);
        if let Ok(style) =
            ProgressStyle::with_template("backfill {bar:30} {pos}/{len} days, {msg}, {eta} left")
        {
            bar.set_style(style);
        }
        Self(Some(bar))
    }

    fn day(&self, line: &str, calls: u64) {
        match &self.0 {
            Some(bar) => {
                bar.set_message(format!("{calls} calls"));
                bar.println(format!("backfill: {line}"));
                bar.inc(1);
            }
            None => eprintln!("backfill: {line} ({calls} calls so far)"),
        }
    }

    fn day_note(&self, line: &str) {
        match &self.0 {
            Some(bar) => bar.println(format!("backfill: {line}")),
            None => eprintln!("backfill: {line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Writes the day to a temporary name beside `path`, then renames it.
fn write(om: &OpenMetricsDay, path: &Path) -> std::io::Result<()> {
    let temporary: PathBuf = path.with_extension("om.partial");
    let file = std::fs::File::create(&temporary)?;
    om.write(std::io::BufWriter::new(&file))?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}
