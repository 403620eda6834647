//! Runs every collector on its own interval in the background, keeps the store of snapshots, and
//! re-encodes the exposition once per change.
//!
//! # Errors
//!
//! A failed cycle is logged (at `warn` when a collector starts failing or fails differently, at
//! `debug` while it keeps failing the same way) and shown in the self-metrics. The collector's
//! last good samples stay on `/metrics` for `keep_for` after its last success, then go. The next
//! cycle comes at the normal interval: with one call per window per interval the upstream's limit
//! of 1000 calls a minute is far away, so no extra backoff is needed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, error, info, warn};

use crate::error::UpstreamError;
use crate::exposition::{self, Exposition};
use crate::laaffic::seats::SeatCollector;
use crate::snapshot::{Family, Snapshot, Store};
use crate::sobot::collector::StatsCollector;
use crate::sobot::quality::QualityCollector;
use crate::telemetry::{
    COLLECTOR_DURATION, COLLECTOR_INTERVAL, COLLECTOR_LAST_SUCCESS, COLLECTOR_SERIES, COLLECTOR_SUCCESS,
    Telemetry,
};

/// How long to wait after a change before encoding, so that collectors finishing together cause
/// one encode.
const ENCODE_DEBOUNCE: Duration = Duration::from_millis(50);

/// A collector of any kind, run by the scheduler.
#[derive(Debug)]
pub enum Job {
    /// A Sobot statistics endpoint (company, per group or per agent).
    SobotStats(StatsCollector),
    /// A Sobot quality-inspection source.
    Quality(QualityCollector),
    /// Laaffic seats.
    LaafficSeats(SeatCollector),
}

impl Job {
    /// The collector's name, the `collector` label of the self-metrics.
    pub fn name(&self) -> String {
        match self {
            Job::SobotStats(c) => c.name().to_string(),
            Job::Quality(c) => c.name().to_string(),
            Job::LaafficSeats(c) => c.name().to_string(),
        }
    }

    async fn collect(&self) -> Result<Vec<Family>, UpstreamError> {
        match self {
            Job::SobotStats(c) => c.collect().await,
            Job::Quality(c) => c.collect().await,
            Job::LaafficSeats(c) => c.collect().await,
        }
    }
}

/// A job with its schedule.
#[derive(Debug)]
pub struct Scheduled {
    /// The collector.
    pub job: Job,
    /// Time between cycles.
    pub interval: Duration,
}

/// What the background tasks share.
#[derive(Debug, Clone)]
pub struct Shared {
    /// Current snapshots.
    pub store: Arc<Store>,
    /// Self-metrics.
    pub telemetry: Arc<Telemetry>,
    /// Signalled after every cycle.
    pub changed: Arc<Notify>,
}

impl Shared {
    /// Empty store, fresh self-metrics.
    pub fn new(telemetry: Arc<Telemetry>) -> Self {
        Self { store: Arc::default(), telemetry, changed: Arc::default() }
    }

    /// Encodes the current state.
    pub fn encode(&self) -> Result<Exposition, std::fmt::Error> {
        exposition::encode(&self.store, &self.telemetry)
    }
}

/// Spawns one task per job and the encoder; they stop when `shutdown` turns true.
pub fn spawn(
    jobs: Vec<Scheduled>,
    shared: &Shared,
    keep_intervals: u32,
    publish: watch::Sender<Arc<Exposition>>,
    shutdown: watch::Receiver<bool>,
) {
    for (index, scheduled) in jobs.into_iter().enumerate() {
        shared.telemetry.set_collector(
            COLLECTOR_INTERVAL,
            &scheduled.job.name(),
            scheduled.interval.as_secs_f64(),
        );
        // Spread the first cycles a little so the upstream does not see one burst.
        let delay = Duration::from_millis(100) * u32::try_from(index).unwrap_or(u32::MAX);
        let keep_for = scheduled.interval * keep_intervals;
        tokio::spawn(run_job(scheduled, delay, keep_for, shared.clone(), shutdown.clone()));
    }
    tokio::spawn(run_encoder(shared.clone(), publish, shutdown));
}

async fn run_job(
    scheduled: Scheduled,
    delay: Duration,
    keep_for: Duration,
    shared: Shared,
    mut shutdown: watch::Receiver<bool>,
) {
    let Scheduled { job, interval } = scheduled;
    let job = Arc::new(job);
    let name = job.name();
    let mut ticker = tokio::time::interval_at(Instant::now() + delay, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_error: Option<UpstreamError> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        let started = Instant::now();
        // Each cycle in a task of its own: a bug that panics fails the cycle, not the collector.
        let cycle = tokio::spawn({
            let job = job.clone();
            async move { job.collect().await }
        });
        let result = cycle.await.unwrap_or_else(|e| {
            error!(collector = %name, error = %e, "collector cycle panicked: this is a bug");
            Err(UpstreamError::Panicked)
        });
        let t = &shared.telemetry;
        t.set_collector(COLLECTOR_DURATION, &name, started.elapsed().as_secs_f64());
        match result {
            Ok(families) => {
                let snapshot = Snapshot { families, taken: started };
                #[allow(clippy::cast_precision_loss)]
                t.set_collector(COLLECTOR_SERIES, &name, snapshot.series() as f64);
                shared.store.put(&name, snapshot);
                t.set_collector(COLLECTOR_SUCCESS, &name, 1.0);
                t.set_collector(COLLECTOR_LAST_SUCCESS, &name, unix_now());
                if last_error.take().is_some() {
                    info!(collector = %name, "collector recovered");
                }
            }
            Err(e) => {
                t.set_collector(COLLECTOR_SUCCESS, &name, 0.0);
                if last_error.as_ref() == Some(&e) {
                    debug!(collector = %name, error = %e, "collection failed again");
                } else {
                    warn!(collector = %name, error = %e, "collection failed");
                }
                last_error = Some(e);
                if shared.store.get(&name).is_some_and(|s| s.taken.elapsed() >= keep_for)
                    && shared.store.remove(&name)
                {
                    t.set_collector(COLLECTOR_SERIES, &name, 0.0);
                    warn!(collector = %name, keep_for_s = keep_for.as_secs(), "dropping stale samples");
                }
            }
        }
        shared.changed.notify_one();
    }
}

async fn run_encoder(
    shared: Shared,
    publish: watch::Sender<Arc<Exposition>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = shared.changed.notified() => {}
            _ = shutdown.changed() => return,
        }
        tokio::time::sleep(ENCODE_DEBOUNCE).await;
        match shared.encode() {
            Ok(exposition) => {
                publish.send_replace(Arc::new(exposition));
            }
            Err(e) => error!(error = %e, "cannot encode the exposition"),
        }
    }
}

/// Seconds since the Unix epoch, as a float.
pub fn unix_now() -> f64 {
    jiff::Timestamp::now().as_duration().as_secs_f64()
}
