//! `sobot_exporter backfill`: the live collectors run "at" each hour of each past day (a set
//! [`Clock`]) against the same upstream, and their families are written as one OpenMetrics file a
//! day for `promtool tsdb create-blocks-from openmetrics`. The hourly endpoints give a sample at
//! the end of every hour (the day so far), the others one at the end of the day (23:59:59).
//!
//! One Sobot client serves the whole run: one token (refreshed only near its expiry) and the
//! configured rate limit, counted for this process alone. A day is written to a temporary name
//! and renamed when complete, so that Ctrl-C leaves only whole files and `--resume` skips them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use crate::backfill::OpenMetricsDay;
use crate::cli::Backfill;
use crate::collect::Scheduled;
use crate::config::CollectionConfig;
use crate::exposition::Board;
use crate::snapshot::Family;
use crate::sources::sobot::client::SobotClient;
use crate::sources::sobot::endpoints::ENDPOINTS;
use crate::table::DateFormat;
use crate::targets::{Shared, TargetSpec, build_jobs};
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
    let mut days = Vec::new();
    let mut day = from;
    while day <= to {
        days.push(day);
        day = day.checked_add(1.day()).map_err(|e| BackfillError::Usage(e.to_string()))?;
    }
    Ok(days)
}

/// Whether the collector `name` reads an hourly endpoint (`yyyy-MM-dd HH`).
fn hourly(name: &str) -> bool {
    ENDPOINTS
        .iter()
        .filter(|e| e.date_format == DateFormat::Hour)
        .any(|e| name == e.name || name.strip_prefix("group_") == Some(e.name))
}

/// The end of `hour` on `day` in `tz` (its last second).
fn end_of_hour(day: Date, hour: i8, tz: &TimeZone) -> Result<Timestamp, BackfillError> {
    let local = day.at(hour, 59, 59, 0);
    tz.to_ambiguous_zoned(local)
        .later()
        .map(|z| z.timestamp())
        .map_err(|e| BackfillError::Usage(format!("{day} {hour}:59:59 in the configured time zone: {e}")))
}

/// Runs the backfill of `args` with `collection` (the flags' and the file's, as a live run).
pub async fn run(collection: CollectionConfig, args: &Backfill) -> Result<String, BackfillError> {
    let tz = collection.tz.clone();
    let days = days(args, &tz, Timestamp::now())?;
    if collection.credentials.is_none() {
        return Err(BackfillError::Usage(
            "backfill needs Sobot credentials (SOBOT_APP_ID and SOBOT_APP_KEY, or the sobot section); \
             the platform's tenants and Laaffic are not backfilled"
                .to_string(),
        ));
    }
    std::fs::create_dir_all(&args.output)
        .map_err(|e| BackfillError::Failed(format!("--output {}: {e}", args.output.display())))?;
    // Today's window only: the day so far at the clock's hour.
    let config = CollectionConfig {
        windows: vec![Window::Today],
        collector_windows: Default::default(),
        ..collection
    };
    let shared = Shared::new(Board::new(), &config).map_err(|e| BackfillError::Failed(e.to_string()))?;
    let telemetry = Arc::new(Telemetry::new());
    let clock = Clock::at(Timestamp::UNIX_EPOCH);
    let spec = TargetSpec::company(Arc::new(config));
    let (jobs, sobot) = build_jobs(&spec, &shared, &telemetry, &clock);
    // The collectors that read the clock: Sobot's (Laaffic's seat state has no history).
    let jobs: Vec<Scheduled> = jobs.into_iter().filter(|j| j.job.needs_sobot_token()).collect();
    let Some(sobot) = sobot else {
        return Err(BackfillError::Usage("backfill needs Sobot credentials".to_string()));
    };
    let (mut written, mut skipped, mut failed) = (0, 0, Vec::new());
    for (n, day) in days.iter().enumerate() {
        let path = args.output.join(format!("{day}.om"));
        if args.resume && path.exists() {
            skipped += 1;
            continue;
        }
        match replay(*day, &tz, &clock, &jobs, &sobot).await {
            Ok(om) => {
                if om.is_empty() {
                    eprintln!(
                        "backfill: day {}/{}: {day} has no samples (the file says so)",
                        n + 1,
                        days.len()
                    );
                }
                write(&om, &path).map_err(|e| BackfillError::Failed(format!("{}: {e}", path.display())))?;
                written += 1;
                eprintln!("backfill: day {}/{}: {day} written to {}", n + 1, days.len(), path.display());
            }
            Err(e) => {
                eprintln!("backfill: day {}/{}: {day} failed after {TRIES} tries: {e}", n + 1, days.len());
                failed.push(day.to_string());
            }
        }
    }
    let calls: f64 = telemetry
        .families()
        .iter()
        .filter(|f| crate::telemetry::UPSTREAM_REQUESTS.starts_with(&*f.name))
        .flat_map(|f| f.samples.iter().map(|s| s.value))
        .sum();
    let summary = format!(
        "{written} days written, {skipped} skipped (--resume), {calls} calls, to {}",
        args.output.display()
    );
    if failed.is_empty() {
        Ok(summary)
    } else {
        Err(BackfillError::Failed(format!(
            "{summary}; failed: {} (run again with --resume)",
            failed.join(", ")
        )))
    }
}

/// One day: every hour's hourly collectors, and at 23 every collector.
async fn replay(
    day: Date,
    tz: &TimeZone,
    clock: &Clock,
    jobs: &[Scheduled],
    sobot: &SobotClient,
) -> Result<OpenMetricsDay, UpstreamError> {
    let mut om = OpenMetricsDay::default();
    for hour in 0..24 {
        let at = end_of_hour(day, hour, tz).map_err(|e| match e {
            BackfillError::Usage(m) | BackfillError::Failed(m) => UpstreamError::InvalidResponse(m),
        })?;
        clock.set(at);
        for job in jobs.iter().filter(|j| hour == 23 || hourly(j.job.name())) {
            let families = with_retries(job, sobot).await?;
            om.add(at, &Vec::new(), &families);
        }
    }
    Ok(om)
}

/// One collector's cycle, tried again with backoff (2 s, then 4 s).
async fn with_retries(job: &Scheduled, sobot: &SobotClient) -> Result<Vec<Family>, UpstreamError> {
    let mut wait = Duration::from_secs(2);
    let mut tries = 0;
    loop {
        tries += 1;
        let result = match sobot.ensure_token().await {
            Ok(()) => job.job.collect().await,
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

/// Writes the day to a temporary name beside `path`, then renames it.
fn write(om: &OpenMetricsDay, path: &Path) -> std::io::Result<()> {
    let temporary: PathBuf = path.with_extension("om.partial");
    let file = std::fs::File::create(&temporary)?;
    om.write(std::io::BufWriter::new(&file))?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}
