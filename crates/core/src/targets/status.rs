//! What the landing page and `/-/ready` show: each target's collectors with their last success,
//! last error and series count. A target's task updates its entry when a cycle ends (one lock,
//! a few fields; the error's text only when a cycle failed); the page reads the entries when it is
//! asked for.
//!
//! **Readiness** is sticky: the exporter is ready once every company and platform target that
//! was running at the time has finished its first round (the company: every collector's first
//! cycle, successful or not; the platform: its first discovery, successful or not), and stays
//! ready after that, through reloads and failures. Tenants never hold it back: with thousands of
//! them spread over an interval, waiting for all would mean a full interval of "not ready".

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::TargetKind;

/// Every running target's status, and the readiness flag.
#[derive(Debug)]
pub(crate) struct Status {
    started: Instant,
    targets: Mutex<BTreeMap<String, Arc<TargetStatus>>>,
    ready: AtomicBool,
}

impl Default for Status {
    fn default() -> Self {
        Status { started: Instant::now(), targets: Mutex::default(), ready: AtomicBool::new(false) }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain values behind these locks: a panic cannot leave them half-written.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Status {
    /// How long since the status (the exporter) started.
    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether the first collection or discovery has completed (sticky).
    pub(crate) fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Adds (or replaces) targets' entries, all under one lock, before any of them starts: so
    /// that readiness never counts a company done before the platform beside it is known.
    pub(crate) fn register(&self, entries: impl IntoIterator<Item = Arc<TargetStatus>>) {
        let mut targets = lock(&self.targets);
        for entry in entries {
            targets.insert(entry.id.clone(), entry);
        }
    }

    /// Removes `entry`, unless a newer entry of the same id replaced it.
    pub(crate) fn remove(&self, entry: &Arc<TargetStatus>) {
        let mut targets = lock(&self.targets);
        if targets.get(&entry.id).is_some_and(|e| Arc::ptr_eq(e, entry)) {
            targets.remove(&entry.id);
        }
    }

    /// Called when a target's first round is done: ready if every company and platform is.
    pub(crate) fn first_round_done(&self) {
        // Sticky: once ready, a tenant's first round need not walk every entry again.
        if self.ready() {
            return;
        }
        let targets = lock(&self.targets);
        let mut primaries = targets.values().filter(|t| t.kind != TargetKind::Tenant).peekable();
        if primaries.peek().is_some() && primaries.all(|t| lock(&t.inner).first_round.is_some()) {
            self.ready.store(true, Ordering::Release);
        }
    }

    /// A copy of every entry, in id order.
    pub(crate) fn targets(&self) -> Vec<TargetView> {
        let entries: Vec<Arc<TargetStatus>> = lock(&self.targets).values().cloned().collect();
        entries.iter().map(|t| t.view()).collect()
    }
}

/// One target's entry.
#[derive(Debug)]
pub(crate) struct TargetStatus {
    id: String,
    kind: TargetKind,
    inner: Mutex<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    name: String,
    collectors: Vec<CollectorStatus>,
    /// When its first round ended.
    first_round: Option<Instant>,
}

/// One collector's status.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CollectorStatus {
    /// The collector's name (the `collector` label).
    pub(crate) name: String,
    /// Its interval.
    pub(crate) interval: Duration,
    /// Cycles ended so far.
    pub(crate) cycles: u64,
    /// Consecutive failed cycles; 0 after a success.
    pub(crate) failures: u32,
    /// When its last good cycle ended.
    pub(crate) last_success: Option<Timestamp>,
    /// Its last failure, kept after a recovery.
    pub(crate) last_error: Option<LastError>,
    /// Series it exports now (kept ones of a failing collector included).
    pub(crate) series: usize,
}

impl CollectorStatus {
    /// `pending` (no cycle yet), `ok` or `failing`.
    pub(crate) fn state(&self) -> &'static str {
        match (self.cycles, self.failures) {
            (0, _) => "pending",
            (_, 0) => "ok",
            _ => "failing",
        }
    }
}

/// A failed cycle: when, what, and what to do (the hint of the log line).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LastError {
    /// When it ended.
    pub(crate) at: Timestamp,
    /// The error.
    pub(crate) error: String,
    /// What to do about it.
    pub(crate) hint: String,
}

/// A copy of a target's entry, for the page.
#[derive(Debug, Clone)]
pub(crate) struct TargetView {
    /// The target id.
    pub(crate) id: String,
    /// A tenant's company name; empty otherwise.
    pub(crate) name: String,
    /// Its kind.
    pub(crate) kind: TargetKind,
    /// Its collectors, in schedule order.
    pub(crate) collectors: Vec<CollectorStatus>,
}

impl TargetView {
    /// Whether a collector's last cycle failed.
    pub(crate) fn failing(&self) -> bool {
        self.collectors.iter().any(|c| c.failures > 0)
    }

    /// Whether every collector has had its first cycle.
    pub(crate) fn started(&self) -> bool {
        self.collectors.iter().all(|c| c.cycles > 0)
    }
}

impl TargetStatus {
    /// A new entry, its collectors not known yet.
    pub(crate) fn new(id: &str, name: &str, kind: TargetKind) -> Arc<TargetStatus> {
        let inner = Inner { name: name.to_string(), collectors: Vec::new(), first_round: None };
        Arc::new(TargetStatus { id: id.to_string(), kind, inner: Mutex::new(inner) })
    }

    /// Its collectors, as the target's task built them.
    pub(crate) fn set_collectors(&self, collectors: impl IntoIterator<Item = (String, Duration)>) {
        lock(&self.inner).collectors = collectors
            .into_iter()
            .map(|(name, interval)| CollectorStatus {
                name,
                interval,
                cycles: 0,
                failures: 0,
                last_success: None,
                last_error: None,
                series: 0,
            })
            .collect();
    }

    /// A rename, taken in place.
    pub(crate) fn rename(&self, name: &str) {
        let mut inner = lock(&self.inner);
        if inner.name != name {
            inner.name = name.to_string();
        }
    }

    /// Records the end of collector `index`'s cycle: `Ok(series)` or `Err((error, hint))`.
    /// Returns `Some((succeeded, failed))` if this ends the target's first round: every collector
    /// has had a cycle (for the platform, its discovery has).
    pub(crate) fn cycle_done(
        &self,
        index: usize,
        result: Result<usize, (String, String)>,
    ) -> Option<(usize, usize)> {
        let mut inner = lock(&self.inner);
        let now = Timestamp::now();
        let c = inner.collectors.get_mut(index)?;
        c.cycles += 1;
        match result {
            Ok(series) => {
                c.failures = 0;
                c.last_success = Some(now);
                c.series = series;
            }
            Err((error, hint)) => {
                c.failures = c.failures.saturating_add(1);
                c.last_error = Some(LastError { at: now, error, hint });
            }
        }
        if inner.first_round.is_some() {
            return None;
        }
        let round: Vec<&CollectorStatus> = match self.kind {
            TargetKind::Platform => inner.collectors.iter().filter(|c| c.name == super::DISCOVERY).collect(),
            TargetKind::Company | TargetKind::Tenant => inner.collectors.iter().collect(),
        };
        if !round.iter().all(|c| c.cycles > 0) {
            return None;
        }
        let failed = round.iter().filter(|c| c.failures > 0).count();
        let outcome = (round.len() - failed, failed);
        inner.first_round = Some(Instant::now());
        Some(outcome)
    }

    /// A target with no collector has nothing to wait for.
    pub(crate) fn nothing_to_collect(&self) -> bool {
        let mut inner = lock(&self.inner);
        let empty = inner.collectors.is_empty() && inner.first_round.is_none();
        if empty {
            inner.first_round = Some(Instant::now());
        }
        empty
    }

    /// Series dropped when a failing collector's kept samples expire.
    pub(crate) fn expired(&self, index: usize) {
        if let Some(c) = lock(&self.inner).collectors.get_mut(index) {
            c.series = 0;
        }
    }

    fn view(&self) -> TargetView {
        let inner = lock(&self.inner).clone();
        TargetView { id: self.id.clone(), name: inner.name, kind: self.kind, collectors: inner.collectors }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(id: &str, kind: TargetKind, collectors: &[&str]) -> Arc<TargetStatus> {
        let t = TargetStatus::new(id, "", kind);
        t.set_collectors(collectors.iter().map(|c| (c.to_string(), Duration::from_secs(60))));
        t
    }

    #[test]
    fn ready_once_company_and_platform_did_their_first_round_and_then_for_good() {
        let status = Status::default();
        status.first_round_done();
        assert!(!status.ready(), "no target yet: not ready");
        let company = target("company", TargetKind::Company, &["a", "b"]);
        let platform = target("platform", TargetKind::Platform, &["platform_discovery", "platform_tenants"]);
        let tenant = target("t1", TargetKind::Tenant, &["a"]);
        status.register([company.clone(), platform.clone(), tenant.clone()]);
        assert_eq!(company.cycle_done(0, Ok(3)), None, "b has not run");
        assert_eq!(company.cycle_done(1, Err(("boom".into(), "do x".into()))), Some((1, 1)));
        assert_eq!(company.cycle_done(1, Ok(2)), None, "the first round ends once");
        status.first_round_done();
        assert!(!status.ready(), "the platform has not discovered yet");
        assert_eq!(platform.cycle_done(1, Ok(5)), None, "statistics are not discovery");
        assert_eq!(platform.cycle_done(0, Err(("down".into(), String::new()))), Some((0, 1)));
        status.first_round_done();
        assert!(status.ready(), "the tenant's first cycle is not waited for");
        status.remove(&company);
        status.remove(&platform);
        assert!(status.ready(), "sticky");
        let views = status.targets();
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].collectors[0].state(), "pending");
    }

    #[test]
    fn the_last_error_stays_after_a_recovery() {
        let t = target("company", TargetKind::Company, &["a"]);
        t.cycle_done(0, Ok(4));
        t.cycle_done(0, Err(("HTTP 500".into(), "retried".into())));
        let c = &t.view().collectors[0];
        assert_eq!((c.state(), c.series, c.failures), ("failing", 4, 1), "kept samples still count");
        t.cycle_done(0, Ok(6));
        let c = &t.view().collectors[0];
        assert_eq!((c.state(), c.series), ("ok", 6));
        assert_eq!(c.last_error.as_ref().map(|e| e.error.as_str()), Some("HTTP 500"));
        t.expired(0);
        assert_eq!(t.view().collectors[0].series, 0);
    }
}
