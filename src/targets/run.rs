//! One target's task: runs each collector on its interval, shares one token attempt among the
//! collectors of a cycle, and publishes the target's chunks when a cycle ends.
//!
//! A collector's cycle is encoded right away, in its own task, into a chunk that stands for it
//! until its next good cycle: no samples are kept, and a collector that did not run is not encoded
//! again. Only `*_info` families are kept as samples, because two collectors may name the same
//! agent (both quality sources do): they are merged by id with the target's self-metrics into one
//! more chunk when the target publishes.
//!
//! # Errors
//!
//! A collector's failed cycle is logged at `warn` when it starts failing or fails differently and
//! at `debug` while it keeps failing the same way, and shown in the self-metrics; its last good
//! samples stay for [`KEEP_INTERVALS`](super::KEEP_INTERVALS) intervals after its last success,
//! then go. When the target's token cannot be fetched, its Sobot collectors fail with that error
//! without calling (one `get_token` a cycle for the whole target) and the target logs it once.
//! A cycle in which every collector failed makes the target back off: its next cycles come after
//! 2, 4, then 8 intervals (at most 5 minutes, never less than one interval), jittered by ±10 %, so
//! a rejected key or a down upstream never sees a retry storm; any success ends the backoff.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use super::jobs::{self, Job, Scheduled};
use super::{KEEP_INTERVALS, Shared, TargetSpec, mix, stable_hash};
use crate::exposition::{Chunk, Published, Publisher};
use crate::snapshot::Family;
use crate::sobot::client::{SobotClient, token_hint};
use crate::telemetry::{
    COLLECTOR_DURATION, COLLECTOR_INTERVAL, COLLECTOR_LAST_SUCCESS, COLLECTOR_SERIES, COLLECTOR_SUCCESS,
    Telemetry,
};
use crate::upstream::UpstreamError;

/// Collectors of one target that run at once: a large company's big collectors one after the
/// other rather than all together, so that their answers and samples are not all in memory at
/// once.
const MAX_CYCLES_PER_TARGET: usize = 4;

/// The longest backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// A collector's state between cycles.
#[derive(Debug)]
struct Slot {
    name: String,
    interval: Duration,
    next_due: Instant,
    running: bool,
    /// The last good cycle and when it ended.
    snapshot: Option<(Collected, Instant)>,
    /// The failure last logged at `warn`, so that a repeat is not.
    logged: Option<UpstreamError>,
}

/// A collector's good cycle, encoded.
#[derive(Debug)]
struct Collected {
    chunk: Arc<Chunk>,
    /// Its `*_info` families, merged across the target's collectors when it publishes.
    info: Arc<Vec<Family>>,
    series: usize,
}

impl Collected {
    fn encode(families: Vec<Family>) -> Result<Collected, UpstreamError> {
        let series = families.iter().map(|f| f.samples.len()).sum();
        let (info, rest): (Vec<Family>, Vec<Family>) =
            families.into_iter().partition(|f| f.name.ends_with("_info"));
        // Writing to a String does not fail; should the library ever, the cycle fails visibly.
        let chunk = Chunk::encode(vec![Arc::new(rest)])
            .map_err(|_| UpstreamError::InvalidResponse("cannot encode the samples".to_string()))?;
        Ok(Collected { chunk: Arc::new(chunk), info: Arc::new(info), series })
    }
}

/// What one cycle (the collectors due at one moment) brought back.
#[derive(Debug)]
struct Outcome {
    started: Instant,
    /// The token fetch that failed for the whole cycle.
    token_error: Option<UpstreamError>,
    results: Vec<(usize, Result<Collected, UpstreamError>, Duration)>,
}

/// Runs a target until its task is aborted.
pub(super) async fn run(spec: TargetSpec, shared: Arc<Shared>, publisher: Arc<Publisher>, delay: Duration) {
    let telemetry = Arc::new(Telemetry::new());
    let (scheduled, sobot) = jobs::build(&spec, &shared, &telemetry);
    let first = Instant::now() + delay;
    let mut slots: Vec<Slot> = scheduled
        .iter()
        .map(|s| {
            let name = s.job.name();
            telemetry.set_collector(COLLECTOR_INTERVAL, &name, s.interval.as_secs_f64());
            Slot { name, interval: s.interval, next_due: first, running: false, snapshot: None, logged: None }
        })
        .collect();
    let mut target = TargetState { spec, telemetry, publisher, failures: 0, failing: None, cycles: 0 };
    target.publish(&slots);
    let jobs: Arc<Vec<Scheduled>> = Arc::new(scheduled);
    let mut cycles: JoinSet<Outcome> = JoinSet::new();
    loop {
        let next = slots.iter().filter(|s| !s.running).map(|s| s.next_due).min();
        tokio::select! {
            () = sleep_until(next) => {
                let now = Instant::now();
                let due: Vec<usize> = (0..slots.len()).filter(|&i| !slots[i].running && slots[i].next_due <= now).collect();
                for &i in &due {
                    slots[i].running = true;
                }
                // The collectors that need the token share one cycle (and one token attempt);
                // each other one has a cycle of its own, published as soon as it ends.
                let (token, own): (Vec<usize>, Vec<usize>) = due.into_iter().partition(|&i| jobs[i].job.needs_sobot_token());
                if !token.is_empty() {
                    let deadline = token
                        .iter()
                        .map(|&i| deadline(&jobs[i].job, slots[i].interval, &target.spec))
                        .max()
                        .unwrap_or_default();
                    cycles.spawn(cycle(jobs.clone(), token, sobot.clone(), shared.clone(), deadline));
                }
                for i in own {
                    let deadline = deadline(&jobs[i].job, slots[i].interval, &target.spec);
                    cycles.spawn(cycle(jobs.clone(), vec![i], None, shared.clone(), deadline));
                }
            }
            Some(joined) = cycles.join_next() => match joined {
                Ok(outcome) => target.apply(&mut slots, outcome),
                // Only a panic outside the collectors (each runs in a task of its own) gets here.
                Err(e) => {
                    error!(target_id = %target.spec.id, error = %e, "target cycle failed: this is a bug");
                    for slot in slots.iter_mut().filter(|s| s.running) {
                        slot.running = false;
                        slot.next_due = Instant::now() + slot.interval;
                    }
                }
            },
        }
    }
}

/// How long a collector's cycle may take: its interval, but at least one request timeout of its
/// vendor.
fn deadline(job: &Job, interval: Duration, spec: &TargetSpec) -> Duration {
    let config = &spec.config;
    let timeout =
        if matches!(job, Job::LaafficSeats(_)) { config.laaffic.timeout } else { config.sobot.timeout };
    interval.max(timeout)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The collectors `due` of one cycle: one token attempt for all of them, then each in a task of
/// its own (a bug that panics fails that collector's cycle only), within the process-wide bound.
async fn cycle(
    jobs: Arc<Vec<Scheduled>>,
    due: Vec<usize>,
    sobot: Option<Arc<SobotClient>>,
    shared: Arc<Shared>,
    deadline: Duration,
) -> Outcome {
    let started = Instant::now();
    let deadline_ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX);
    let overran = move || UpstreamError::Deadline(deadline_ms);
    let token_error = match &sobot {
        Some(client) if due.iter().any(|&i| jobs[i].job.needs_sobot_token()) => {
            match tokio::time::timeout(deadline, client.ensure_token()).await {
                Ok(result) => result.err(),
                Err(_) => Some(overran()),
            }
        }
        _ => None,
    };
    // Every collector of the cycle is done by then, waiting for its turn included.
    let cycle_end = started + deadline;
    let mut results = Vec::with_capacity(due.len());
    let mut running = JoinSet::new();
    let own = Arc::new(tokio::sync::Semaphore::new(MAX_CYCLES_PER_TARGET));
    let mut index = std::collections::HashMap::new();
    for i in due {
        let job = jobs[i].job.clone();
        if let Some(e) = token_error.as_ref().filter(|_| job.needs_sobot_token()) {
            results.push((i, Err(e.clone()), Duration::ZERO));
            continue;
        }
        let (permits, own) = (shared.permits.clone(), own.clone());
        let handle = running.spawn(async move {
            // Neither semaphore is ever closed.
            let _own = own.acquire_owned().await;
            let _permit = permits.acquire_owned().await;
            let started = Instant::now();
            let result = match tokio::time::timeout_at(cycle_end, job.collect()).await {
                Ok(result) => result.and_then(Collected::encode),
                Err(_) => Err(overran()),
            };
            (result, started.elapsed())
        });
        index.insert(handle.id(), i);
    }
    while let Some(joined) = running.join_next_with_id().await {
        match joined {
            Ok((id, (result, took))) => results.extend(index.get(&id).map(|&i| (i, result, took))),
            Err(e) => {
                if let Some(&i) = index.get(&e.id()) {
                    error!(collector = %jobs[i].job.name(), error = %e, "collector cycle panicked: this is a bug");
                    results.push((i, Err(UpstreamError::Panicked), Duration::ZERO));
                }
            }
        }
    }
    Outcome { started, token_error, results }
}

/// Why a target as a whole fails.
#[derive(Debug, PartialEq)]
enum Failing {
    /// No token.
    Token(UpstreamError),
    /// Every collector failed (each logs its own error).
    Collectors,
}

/// What the target's task keeps besides its slots.
struct TargetState {
    spec: TargetSpec,
    telemetry: Arc<Telemetry>,
    publisher: Arc<Publisher>,
    /// Consecutive cycles in which every collector failed.
    failures: u32,
    /// Why the target as a whole is failing, as last logged.
    failing: Option<Failing>,
    cycles: u64,
}

impl TargetState {
    fn apply(&mut self, slots: &mut [Slot], outcome: Outcome) {
        let Outcome { started, token_error, results } = outcome;
        let id = &self.spec.id;
        let t = &self.telemetry;
        let now = Instant::now();
        self.cycles += 1;
        let all_failed = results.iter().all(|(_, r, _)| r.is_err());
        for (i, result, took) in results {
            let slot = &mut slots[i];
            slot.running = false;
            t.set_collector(COLLECTOR_DURATION, &slot.name, took.as_secs_f64());
            match result {
                Ok(collected) => {
                    #[allow(clippy::cast_precision_loss)]
                    t.set_collector(COLLECTOR_SERIES, &slot.name, collected.series as f64);
                    t.set_collector(COLLECTOR_SUCCESS, &slot.name, 1.0);
                    t.set_collector(COLLECTOR_LAST_SUCCESS, &slot.name, unix_now());
                    slot.snapshot = Some((collected, now));
                    if slot.logged.take().is_some() {
                        info!(target_id = %id, collector = %slot.name, "collector recovered");
                    }
                }
                Err(e) => {
                    t.set_collector(COLLECTOR_SUCCESS, &slot.name, 0.0);
                    if token_error.as_ref() == Some(&e) {
                        // Logged once for the whole target below.
                    } else if slot.logged.as_ref() == Some(&e) {
                        debug!(target_id = %id, collector = %slot.name, error = %e, "collection failed again");
                    } else {
                        warn!(target_id = %id, collector = %slot.name, error = %e, "collection failed");
                        slot.logged = Some(e);
                    }
                    let keep_for = slot.interval * KEEP_INTERVALS;
                    if slot.snapshot.as_ref().is_some_and(|(_, taken)| taken.elapsed() >= keep_for) {
                        slot.snapshot = None;
                        t.set_collector(COLLECTOR_SERIES, &slot.name, 0.0);
                        warn!(target_id = %id, collector = %slot.name, keep_for_s = keep_for.as_secs(), "dropping stale samples");
                    }
                }
            }
        }

        self.failures = if all_failed { self.failures.saturating_add(1) } else { 0 };
        let mut retry_in = Duration::ZERO;
        for slot in slots.iter_mut().filter(|s| !s.running && s.next_due <= started) {
            let wait = backoff(slot.interval, self.failures, stable_hash(id) ^ self.cycles);
            retry_in = retry_in.max(wait);
            // A cycle longer than the interval delays the next one instead of bunching them.
            slot.next_due = (started + wait).max(now);
        }

        match (token_error, all_failed) {
            (Some(e), _) => {
                if self.failing.as_ref() != Some(&Failing::Token(e.clone())) {
                    warn!(target_id = %id, error = %e, hint = token_hint(&e), retry_in_s = retry_in.as_secs_f64(), "cannot fetch a Sobot token; the target's Sobot collectors wait for the next attempt");
                    self.failing = Some(Failing::Token(e));
                } else {
                    debug!(target_id = %id, error = %e, "still no Sobot token");
                }
            }
            (None, true) => {
                if self.failing.is_none() {
                    warn!(target_id = %id, retry_in_s = retry_in.as_secs_f64(), "every collector of the target failed; backing off");
                    self.failing = Some(Failing::Collectors);
                }
            }
            (None, false) => {
                if self.failing.take().is_some() {
                    info!(target_id = %id, "target recovered");
                }
            }
        }
        self.publish(slots);
    }

    /// Publishes the collectors' chunks and one of the target's own (self-metrics, info series).
    fn publish(&self, slots: &[Slot]) {
        let collected: Vec<&Collected> =
            slots.iter().filter_map(|s| s.snapshot.as_ref().map(|(c, _)| c)).collect();
        let mut own: Vec<Arc<Vec<Family>>> = collected.iter().map(|c| c.info.clone()).collect();
        own.push(Arc::new(self.telemetry.families()));
        let own = match Chunk::encode(own) {
            Ok(chunk) => chunk,
            Err(e) => {
                error!(target_id = %self.spec.id, error = %e, "cannot encode the target's own series");
                Chunk::empty()
            }
        };
        let mut parts: Vec<Arc<Chunk>> = collected.iter().map(|c| c.chunk.clone()).collect();
        parts.push(Arc::new(own));
        self.publisher.publish(Published::new(parts));
    }
}

/// The wait before a collector's next cycle: its interval, or after `failures` consecutive
/// all-failed cycles 2, 4, 8 intervals (at most [`MAX_BACKOFF`], never less than the interval),
/// jittered by ±10 %.
fn backoff(interval: Duration, failures: u32, seed: u64) -> Duration {
    if failures == 0 {
        return interval;
    }
    let cap = interval.max(MAX_BACKOFF.min(interval * 8));
    let wait = (interval * 2u32.pow(failures.min(3))).min(cap);
    #[allow(clippy::cast_precision_loss)]
    let jitter = 0.9 + 0.2 * (mix(seed) as f64 / u64::MAX as f64);
    wait.mul_f64(jitter)
}

/// Seconds since the Unix epoch, as a float.
pub fn unix_now() -> f64 {
    jiff::Timestamp::now().as_duration().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_with_jitter() {
        let s = Duration::from_secs(1);
        assert_eq!(backoff(s, 0, 7), s, "no failure, no backoff");
        let within = |d: Duration, want: Duration| d >= want.mul_f64(0.9) && d <= want.mul_f64(1.1);
        for (failures, want) in [(1, 2), (2, 4), (3, 8), (9, 8)] {
            assert!(within(backoff(s, failures, 7), s * want), "{failures}: {:?}", backoff(s, failures, 7));
        }
        let minute = Duration::from_secs(60);
        assert!(within(backoff(minute, 5, 1), MAX_BACKOFF), "capped at five minutes");
        let hour = Duration::from_secs(3600);
        assert!(within(backoff(hour, 5, 1), hour), "never less than the interval");
        assert_ne!(backoff(minute, 2, 1), backoff(minute, 2, 2), "jittered");
    }
}
