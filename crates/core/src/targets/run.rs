//! One target's task: runs each collector on its interval, shares one token attempt among the
//! collectors due together, and publishes the target's chunks whenever a collector's cycle ends.
//!
//! A collector's cycle is encoded right away, in its own task, into a chunk that stands for it
//! until its next good cycle: no samples are kept, and a collector that did not run is not encoded
//! again. Only `*_info` families are kept as samples, because two collectors may name the same
//! agent (both quality sources do): they are merged by id with the target's self-metrics into one
//! more chunk when the target publishes.
//!
//! # Errors
//!
//! A collector's failed cycle is logged at `warn` when it starts failing or fails differently (with
//! when it will be tried again) and at `debug` while it keeps failing the same way, and shown in the
//! self-metrics; its last good samples stay for [`KEEP_INTERVALS`](super::KEEP_INTERVALS)
//! intervals after its last success, then go (checked on time, not only when a cycle ends). When
//! the target's token cannot be fetched, its Sobot collectors fail with that error without calling:
//! the client remembers the failure, so the collectors due together cost one `get_token`, and the
//! target logs it once. A collector whose cycles keep failing backs off: its next cycles come after
//! 2, 4, then 8 intervals (at most 5 minutes, never less than one interval), jittered by ±10 %, so
//! a rejected key or a down upstream never sees a retry storm; a success ends its backoff.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use super::jobs;
use super::status::TargetStatus;
use super::{DISCOVERY, KEEP_INTERVALS, Shared, TargetKind, TargetSpec, mix, stable_hash};
use crate::collect::Scheduled;
use crate::exposition::{Chunk, Published, Publisher};
use crate::snapshot::Family;
use crate::sources::hint;
use crate::sources::sobot::client::SobotClient;
use crate::telemetry::{
    COLLECTOR_DURATION, COLLECTOR_INTERVAL, COLLECTOR_LAST_SUCCESS, COLLECTOR_SERIES, COLLECTOR_SUCCESS,
    PLATFORM_DISCOVERY_SUCCESS, Telemetry,
};
use crate::upstream::UpstreamError;

/// Collectors of one target that run at once: a large company's big collectors a few at a time
/// rather than all together, so that their answers and samples are not all in memory at once, and
/// a hanging tenant holds at most this many of the process's places.
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
    /// Consecutive failed cycles (for the backoff); 0 after a success.
    failures: u32,
    /// Whether it calls Sobot with the target's token.
    needs_token: bool,
    /// The failure last logged at `warn`, so that a repeat is not.
    logged: Option<UpstreamError>,
}

impl Slot {
    /// When its kept samples expire, if it is failing and has some.
    fn expiry(&self) -> Option<Instant> {
        let (_, taken) = self.snapshot.as_ref().filter(|_| self.failures > 0)?;
        Some(*taken + self.interval * KEEP_INTERVALS)
    }
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

/// What one collector's cycle brought back.
#[derive(Debug)]
struct Outcome {
    index: usize,
    started: Instant,
    /// The token fetch that failed, so that the collector did not call.
    token_error: Option<UpstreamError>,
    result: Result<Collected, UpstreamError>,
    took: Duration,
}

/// Runs a target until its task is aborted.
pub(super) async fn run(
    spec: TargetSpec,
    shared: Arc<Shared>,
    publisher: Arc<Publisher>,
    status: Arc<TargetStatus>,
    delay: Duration,
) {
    let telemetry = Arc::new(Telemetry::new());
    let (scheduled, sobot) = jobs::build(&spec, &shared, &telemetry, &shared.clock);
    let first = Instant::now() + delay;
    let mut slots: Vec<Slot> = scheduled
        .iter()
        .map(|s| {
            let name = s.job.name().to_string();
            telemetry.set_collector(COLLECTOR_INTERVAL, &name, s.interval.as_secs_f64());
            let (next_due, snapshot, logged, needs_token) = (first, None, None, s.job.needs_sobot_token());
            Slot {
                name,
                interval: s.interval,
                next_due,
                running: false,
                snapshot,
                failures: 0,
                needs_token,
                logged,
            }
        })
        .collect();
    status.set_collectors(slots.iter().map(|s| (s.name.clone(), s.interval)));
    if status.nothing_to_collect() {
        shared.status.first_round_done();
    }
    let mut target = TargetState {
        spec,
        telemetry,
        publisher,
        status,
        shared: shared.clone(),
        failing: None,
        cycles: 0,
        started: Instant::now(),
    };
    target.publish(&slots);
    let jobs: Arc<Vec<Scheduled>> = Arc::new(scheduled);
    let own = Arc::new(Semaphore::new(MAX_CYCLES_PER_TARGET));
    let mut cycles: JoinSet<Outcome> = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, usize> = HashMap::new();
    loop {
        let due = slots.iter().filter(|s| !s.running).map(|s| s.next_due);
        let next = due.chain(slots.iter().filter_map(Slot::expiry)).min();
        tokio::select! {
            () = sleep_until(next) => {
                let now = Instant::now();
                for i in 0..slots.len() {
                    if slots[i].running || slots[i].next_due > now {
                        continue;
                    }
                    slots[i].running = true;
                    let deadline = deadline(&jobs[i]);
                    let context = (jobs.clone(), sobot.clone(), shared.clone(), own.clone());
                    let handle = cycles.spawn(cycle(i, context, deadline));
                    running.insert(handle.id(), i);
                }
                if target.expire(&mut slots) {
                    target.publish(&slots);
                }
            }
            Some(joined) = cycles.join_next_with_id() => match joined {
                Ok((id, outcome)) => {
                    running.remove(&id);
                    target.apply(&mut slots, outcome);
                }
                // Only a panic outside the collector (which runs in a task of its own) gets here.
                Err(e) => {
                    error!(target_id = %target.spec.id, error = %e, "collector cycle failed: this is a bug");
                    if let Some(i) = running.remove(&e.id()) {
                        slots[i].running = false;
                        slots[i].next_due = Instant::now() + slots[i].interval;
                    }
                }
            },
        }
    }
}

/// How long a collector's cycle may take: its interval, but at least one request timeout of its
/// vendor.
fn deadline(scheduled: &Scheduled) -> Duration {
    scheduled.interval.max(scheduled.timeout)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What a cycle needs besides its collector: the jobs, the target's Sobot client, the process's
/// places and the target's own.
type CycleContext = (Arc<Vec<Scheduled>>, Option<Arc<SobotClient>>, Arc<Shared>, Arc<Semaphore>);

/// One collector's cycle: the token first if it needs one (collectors due together share the
/// attempt: the client fetches once and remembers a failure), then the collector in a task of its
/// own (a bug that panics fails that cycle only), within the target's and the process's places and
/// the deadline (waiting for a place included).
async fn cycle(index: usize, (jobs, sobot, shared, own): CycleContext, deadline: Duration) -> Outcome {
    let started = Instant::now();
    let end = started + deadline;
    let overran = UpstreamError::Deadline(u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX));
    let job = jobs[index].job.clone();
    let token_error = match &sobot {
        Some(client) if job.needs_sobot_token() => {
            match tokio::time::timeout_at(end, crate::upstream::within(end, client.ensure_token())).await {
                Ok(result) => result.err(),
                Err(_) => Some(overran.clone()),
            }
        }
        _ => None,
    };
    if let Some(e) = &token_error {
        return Outcome {
            index,
            started,
            token_error: Some(e.clone()),
            result: Err(e.clone()),
            took: Duration::ZERO,
        };
    }
    let task = tokio::spawn(async move {
        // Neither semaphore is ever closed.
        let places = async {
            let own = own.acquire_owned().await;
            let process = shared.permits.clone().acquire_owned().await;
            (own, process)
        };
        let Ok(_places) = tokio::time::timeout_at(end, places).await else {
            // Not polled at all past its deadline: it takes no rate-limit slot.
            return (Err(overran), Duration::ZERO);
        };
        let started = Instant::now();
        let result = match tokio::time::timeout_at(end, crate::upstream::within(end, job.collect())).await {
            Ok(result) => result.and_then(Collected::encode),
            Err(_) => Err(overran),
        };
        (result, started.elapsed())
    });
    let (result, took) = task.await.unwrap_or_else(|e| {
        error!(collector = %jobs[index].job.name(), error = %e, "collector cycle panicked: this is a bug");
        (Err(UpstreamError::Panicked), Duration::ZERO)
    });
    Outcome { index, started, token_error: None, result, took }
}

/// What the target's task keeps besides its slots.
struct TargetState {
    spec: TargetSpec,
    telemetry: Arc<Telemetry>,
    publisher: Arc<Publisher>,
    /// Its entry on the landing page.
    status: Arc<TargetStatus>,
    shared: Arc<Shared>,
    /// The token failure the target last logged.
    failing: Option<UpstreamError>,
    cycles: u64,
    /// When this target's task started (at start or when a reload restarted it).
    started: Instant,
}

impl TargetState {
    /// The tenant's name for log lines (the company and the platform have none).
    fn name(&self) -> Option<&str> {
        Some(self.spec.name.as_str()).filter(|n| !n.is_empty())
    }

    fn apply(&mut self, slots: &mut [Slot], outcome: Outcome) {
        let Outcome { index, started, token_error, result, took } = outcome;
        let id = &self.spec.id;
        let t = &self.telemetry;
        let now = Instant::now();
        self.cycles += 1;
        let slot = &mut slots[index];
        slot.running = false;
        t.set_collector(COLLECTOR_DURATION, &slot.name, took.as_secs_f64());
        if slot.name == DISCOVERY {
            // The discovery's real outcome, a cycle cut off by its deadline included.
            t.set(PLATFORM_DISCOVERY_SUCCESS, Vec::new(), f64::from(u8::from(result.is_ok())));
        }
        slot.failures = if result.is_ok() { 0 } else { slot.failures.saturating_add(1) };
        let wait =
            backoff(slot.interval, slot.failures, stable_hash(id) ^ stable_hash(&slot.name) ^ self.cycles);
        // A cycle longer than the interval delays the next one instead of bunching them.
        slot.next_due = (started + wait).max(now);
        let retry_in_s = wait.as_secs_f64();
        let tenant = crate::sources::Origins::tenant();
        // A tenant's app id and key are the platform's, whatever its config says.
        let origins = if self.spec.kind == TargetKind::Tenant { &tenant } else { &self.spec.config.origins };
        let report = match &result {
            Ok(collected) => Ok(collected.series),
            Err(e) => Err((e.to_string(), hint(e, origins))),
        };
        match result {
            Ok(collected) => {
                #[allow(clippy::cast_precision_loss)]
                t.set_collector(COLLECTOR_SERIES, &slot.name, collected.series as f64);
                t.set_collector(COLLECTOR_SUCCESS, &slot.name, 1.0);
                t.set_collector(COLLECTOR_LAST_SUCCESS, &slot.name, unix_now());
                slot.snapshot = Some((collected, now));
                if slot.logged.take().is_some() {
                    info!(target_id = %id, target_name = self.name(), collector = %slot.name, "collector recovered");
                }
                // A collector that needs the token got one: the target's token works again.
                if slot.needs_token && self.failing.take().is_some() {
                    info!(target_id = %id, target_name = self.name(), "target recovered");
                }
            }
            Err(e) => {
                t.set_collector(COLLECTOR_SUCCESS, &slot.name, 0.0);
                // The failing cycle's error is the token's when the token failed: one hint for both.
                let hint = report.as_ref().err().map_or("", |(_, hint)| hint.as_str());
                // Every failure line names the call (endpoint, URL without secrets), the code and
                // what to do; the endpoint is the collector's when the failure was not a call's.
                if let Some(token) = token_error {
                    if self.failing.as_ref() != Some(&token) {
                        let (endpoint, url) = token.request().unwrap_or(("get_token", ""));
                        let code = token.code_label();
                        warn!(target_id = %id, target_name = self.name(), endpoint, url, code, error = %token, hint, retry_in_s, "cannot fetch a Sobot token; the target's Sobot collectors wait for the next attempt");
                        self.failing = Some(token);
                    } else {
                        debug!(target_id = %id, error = %token, "still no Sobot token");
                    }
                } else if slot.logged.as_ref() == Some(&e) {
                    debug!(target_id = %id, collector = %slot.name, error = %e, retry_in_s, "collection failed again");
                } else {
                    let (endpoint, url) = e.request().unwrap_or((slot.name.as_str(), ""));
                    let code = e.code_label();
                    warn!(target_id = %id, target_name = self.name(), collector = %slot.name, endpoint, url, code, error = %e, hint, retry_in_s, "collection failed");
                    slot.logged = Some(e);
                }
            }
        }
        self.first_round(index, report);
        self.expire(slots);
        self.publish(slots);
    }

    /// Records a cycle's end on the status; when it ends the target's first round, says so (at
    /// INFO for the company and the platform, at debug for a tenant) and tells readiness.
    fn first_round(&self, index: usize, report: Result<usize, (String, String)>) {
        let Some((succeeded, failed)) = self.status.cycle_done(index, report) else {
            return;
        };
        // Since this target started: a reload that restarts it starts the count again.
        let took_s = self.started.elapsed().as_secs_f64();
        let id = &self.spec.id;
        match self.spec.kind {
            TargetKind::Company => {
                info!(target_id = %id, target_name = self.name(), succeeded, failed, took_s, "first collection completed");
            }
            TargetKind::Platform => {
                let tenants = self.shared.discovered.borrow().as_ref().map_or(0, |t| t.len());
                info!(target_id = %id, target_name = self.name(), succeeded, failed, tenants, took_s, "first discovery completed");
            }
            TargetKind::Tenant => {
                debug!(target_id = %id, target_name = self.name(), succeeded, failed, took_s, "first collection completed");
            }
        }
        self.shared.status.first_round_done();
    }

    /// Drops the samples of failing collectors whose last success is older than their keep-for
    /// time; whether any went.
    fn expire(&self, slots: &mut [Slot]) -> bool {
        let now = Instant::now();
        let mut dropped = false;
        for (index, slot) in slots.iter_mut().enumerate() {
            if slot.expiry().is_some_and(|at| at <= now) {
                slot.snapshot = None;
                self.status.expired(index);
                self.telemetry.set_collector(COLLECTOR_SERIES, &slot.name, 0.0);
                let keep_for_s = (slot.interval * KEEP_INTERVALS).as_secs();
                warn!(target_id = %self.spec.id, target_name = self.name(), collector = %slot.name, keep_for_s, "dropping stale samples");
                dropped = true;
            }
        }
        dropped
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
pub(crate) fn unix_now() -> f64 {
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
