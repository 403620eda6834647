//! Targets: one set of upstream credentials each (the configured company, later each tenant of a
//! platform), the unit of collection, caching and encoding.
//!
//! A target owns its clients (over the vendor's shared HTTP client), its collectors, their latest
//! snapshots, its encoded chunk on the [`Board`] and its self-metrics. Each target runs in a task
//! of its own (`run.rs`); the [`TargetSet`] reconciles the running targets with the desired ones:
//! new ones start, removed ones stop (their series go from the next scrape), and unchanged ones
//! keep running with their token (a new token would invalidate the old one upstream).

mod discovery;
mod jobs;
mod run;
mod status;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tracing::info;

pub(crate) use crate::shard::{mix, stable_hash};
pub(crate) use crate::sources::platform::tenants::Tenant;
pub(crate) use discovery::{desired, follow};
pub(crate) use jobs::build as build_jobs;
pub(crate) use status::TargetStatus;
pub(crate) use status::{CollectorStatus, Status, TargetView};

use crate::config::CollectionConfig;
use crate::exposition::{Board, Key, Publisher};
use crate::snapshot::Labels;
use crate::sources::sobot::client::{Credentials, Tokens};
use crate::upstream::ClientSettings;
use crate::window::Clock;

/// A failed cycle's samples stay this many intervals after the last success.
pub(crate) const KEEP_INTERVALS: u32 = 3;

/// Collector cycles running at once in the whole process at most. A cycle holds its place while
/// it waits for the upstream (a hanging tenant up to a request timeout, four collectors of it at
/// once), so the bound is set by what the process can hold open, not by the CPU: measured with
/// 1,000 tenants, 16 let 50 hanging tenants starve the other 950; at 256 they take at most 200
/// places for one timeout, then back off.
pub(crate) const MAX_CONCURRENT_CYCLES: usize = 256;

/// The platform's discovery collector: its first cycle is the platform's first round.
pub(crate) const DISCOVERY: &str = "platform_discovery";

/// Which kind of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// The company of the config file.
    Company,
    /// A tenant of the platform: listed on `/sd`, served on `/probe`.
    Tenant,
    /// The platform itself: discovery and platform statistics.
    Platform,
}

/// What a target is: compared as a whole by [`TargetSet::reconcile`].
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// Stable id: `company` for the configured company, a tenant's company id.
    pub id: String,
    /// Display name (a tenant's company name).
    pub name: String,
    /// Its kind.
    pub kind: TargetKind,
    /// Labels added to its series on `/metrics` (none for the single company).
    pub labels: Labels,
    /// Whether its series go on `/metrics` (a large platform's tenants may be scraped through
    /// `/probe` only).
    pub on_metrics: bool,
    /// Sobot credentials, if it collects from Sobot.
    pub sobot: Option<Credentials>,
    /// What to collect and how.
    pub config: Arc<CollectionConfig>,
}

impl TargetSpec {
    /// The company of a single-company config: no extra labels, the config's credentials.
    pub fn company(config: Arc<CollectionConfig>) -> Self {
        Self {
            id: "company".to_string(),
            name: String::new(),
            kind: TargetKind::Company,
            labels: Vec::new(),
            on_metrics: true,
            sobot: config.credentials.clone(),
            config,
        }
    }

    /// Whether a running target of `self` can stay as it is for `other` (its name aside: a rename
    /// is taken in place).
    fn unchanged(&self, other: &TargetSpec) -> bool {
        self.id == other.id
            && self.kind == other.kind
            && self.labels == other.labels
            && self.on_metrics == other.on_metrics
            && self.sobot == other.sobot
            && (Arc::ptr_eq(&self.config, &other.config) || self.config == other.config)
    }
}

/// What every target shares: the board, one HTTP client (connection pool) per vendor, the bound
/// on concurrent cycles.
#[derive(Debug)]
pub struct Shared {
    /// Where targets publish their chunks.
    pub(crate) board: Arc<Board>,
    /// The vendors' clients and the settings they were built with; replaced when a reload
    /// changes the settings (targets started after it use the new ones).
    http: Mutex<HttpClients>,
    pub(crate) permits: Arc<Semaphore>,
    /// The tenants the platform's discovery found for this replica; `None` until it first
    /// succeeds.
    pub(crate) discovered: watch::Sender<Option<Arc<Vec<Tenant>>>>,
    /// The Sobot tokens, one per base URL, app id and key: shared by the targets that have the
    /// same credentials, and kept for a target restarted with them (a reload that changed only
    /// what it collects).
    pub(crate) tokens: Tokens,
    /// What the landing page and `/-/ready` show.
    pub(crate) status: Arc<Status>,
    /// What "now" is for the collectors: the system's time, or a set moment (the tests that run
    /// the live path at a past hour to compare it with the backfill).
    pub(crate) clock: Clock,
}

/// One HTTP client per vendor (Sobot's, and each configured source's), with the settings it was
/// built from.
#[derive(Debug)]
struct HttpClients {
    sobot: (ClientSettings, reqwest::Client),
    sources: BTreeMap<&'static str, (ClientSettings, reqwest::Client)>,
}

impl HttpClients {
    fn new(config: &CollectionConfig) -> reqwest::Result<Self> {
        let client =
            |settings: &ClientSettings| Ok((settings.clone(), crate::upstream::http_client(settings)?));
        let sources = config
            .sections
            .iter()
            .map(|(name, c)| Ok((name, client(c.client())?)))
            .collect::<reqwest::Result<_>>()?;
        Ok(Self { sobot: client(&config.sobot)?, sources })
    }

    fn same_settings(&self, config: &CollectionConfig) -> bool {
        self.sobot.0 == config.sobot
            && self.sources.len() == config.sections.iter().count()
            && config
                .sections
                .iter()
                .all(|(name, c)| self.sources.get(name).is_some_and(|(s, _)| s == c.client()))
    }
}

impl Shared {
    /// Builds the vendors' HTTP clients from `config`; fails only if TLS cannot be initialised.
    pub fn new(board: Arc<Board>, config: &CollectionConfig) -> reqwest::Result<Shared> {
        Ok(Shared {
            board,
            http: Mutex::new(HttpClients::new(config)?),
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_CYCLES)),
            discovered: watch::Sender::new(None),
            tokens: Tokens::default(),
            status: Arc::default(),
            clock: Clock::default(),
        })
    }

    /// The same, its collectors reading `clock` instead of the system's time.
    #[must_use]
    pub fn at(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }
}

impl Shared {
    /// The Sobot hosts' HTTP client (its connection pool).
    pub(crate) fn sobot_http(&self) -> reqwest::Client {
        self.http.lock().unwrap_or_else(PoisonError::into_inner).sobot.1.clone()
    }

    /// The HTTP client of the configured source `name`.
    pub(crate) fn source_http(&self, name: &str) -> Option<reqwest::Client> {
        self.http.lock().unwrap_or_else(PoisonError::into_inner).sources.get(name).map(|(_, c)| c.clone())
    }

    /// Builds new clients if `config`'s client settings (timeouts) differ from the current ones,
    /// before the targets of `config` start; running targets keep theirs until they are replaced.
    pub(crate) fn update_clients(&self, config: &CollectionConfig) -> reqwest::Result<()> {
        let mut http = self.http.lock().unwrap_or_else(PoisonError::into_inner);
        if !http.same_settings(config) {
            *http = HttpClients::new(config)?;
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Running {
    spec: TargetSpec,
    publisher: Arc<Publisher>,
    status: Arc<TargetStatus>,
    task: JoinHandle<()>,
}

impl Running {
    fn stop(self, status: &Status) {
        status.remove(&self.status);
        // Retired first, so that the series are gone from the next scrape even if the task is
        // in the middle of a cycle.
        self.publisher.retire();
        self.task.abort();
    }
}

/// What a reconcile did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Targets started.
    pub added: usize,
    /// Targets stopped.
    pub removed: usize,
    /// Targets restarted with a new spec (new credentials: new token).
    pub replaced: usize,
    /// Targets left running as they were.
    pub kept: usize,
}

/// The running targets.
#[derive(Debug)]
pub struct TargetSet {
    shared: Arc<Shared>,
    running: Mutex<BTreeMap<String, Running>>,
    /// Changes (under `running`'s lock) whenever the tenants or their names change.
    version: AtomicU64,
}

impl TargetSet {
    /// No targets yet.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared, running: Mutex::default(), version: AtomicU64::new(0) }
    }

    /// Makes the running targets those of `desired` (ids must be unique; a repeated id keeps the
    /// last). Must be called within the tokio runtime.
    pub fn reconcile(&self, desired: Vec<TargetSpec>) -> Reconciled {
        let mut desired: BTreeMap<String, TargetSpec> =
            desired.into_iter().map(|s| (s.id.clone(), s)).collect();
        let count = desired.len();
        // The tokens of credentials no target has any more go; the others stay, for the targets
        // that keep or restart with them.
        let keep =
            desired.values().filter_map(|s| Some((s.config.sobot.base_url.as_str(), s.sobot.as_ref()?)));
        self.shared.tokens.retain(keep);
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let mut done = Reconciled::default();
        let status = &self.shared.status;
        let ids: Vec<String> = running.keys().cloned().collect();
        let mut starting = Vec::new();
        for id in ids {
            match desired.remove(&id) {
                Some(spec) if running.get(&id).is_some_and(|r| r.spec.unchanged(&spec)) => {
                    if let Some(r) = running.get_mut(&id) {
                        if r.spec.name != spec.name {
                            self.version.fetch_add(1, Ordering::Relaxed);
                        }
                        r.status.rename(&spec.name);
                        r.spec.name = spec.name;
                    }
                    done.kept += 1;
                }
                Some(spec) => {
                    if let Some(old) = running.remove(&id) {
                        old.stop(status);
                    }
                    starting.push(spec);
                    done.replaced += 1;
                }
                None => {
                    if let Some(old) = running.remove(&id) {
                        old.stop(status);
                    }
                    done.removed += 1;
                }
            }
        }
        done.added = desired.len();
        starting.extend(desired.into_values());
        // Every new entry is known before any of them runs (see `Status::first_round_done`).
        let entries: Vec<Arc<TargetStatus>> =
            starting.iter().map(|s| TargetStatus::new(&s.id, &s.name, s.kind)).collect();
        status.register(entries.iter().cloned());
        for (spec, entry) in starting.into_iter().zip(entries) {
            running.insert(spec.id.clone(), self.start(spec, entry, count));
        }
        if done != (Reconciled { kept: done.kept, ..Reconciled::default() }) {
            self.version.fetch_add(1, Ordering::Relaxed);
            info!(
                added = done.added,
                removed = done.removed,
                replaced = done.replaced,
                kept = done.kept,
                "targets reconciled"
            );
        }
        done
    }

    /// The ids of the running targets, in order.
    pub fn ids(&self) -> Vec<String> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect()
    }

    /// The running tenants as [`TargetSet::tenants`], with the version of that set: the same
    /// version, the same tenants and names.
    pub(crate) fn tenants_versioned(&self) -> (u64, Vec<(String, String)>) {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let tenants = running
            .values()
            .filter(|r| r.spec.kind == TargetKind::Tenant)
            .map(|r| (r.spec.id.clone(), r.spec.name.clone()))
            .collect();
        (self.version.load(Ordering::Relaxed), tenants)
    }

    /// The version of the running tenants (see [`TargetSet::tenants_versioned`]).
    pub(crate) fn tenants_version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    /// Whether `id` is a running tenant.
    pub(crate) fn serves_tenant(&self, id: &str) -> bool {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.get(id).is_some_and(|r| r.spec.kind == TargetKind::Tenant)
    }

    /// The tenants discovery finds, as it finds them (for [`follow`]).
    pub(crate) fn discovered(&self) -> watch::Receiver<Option<Arc<Vec<Tenant>>>> {
        self.shared.discovered.subscribe()
    }

    /// What the targets' collectors did last, and whether the first collection is done.
    pub(crate) fn status(&self) -> &Arc<Status> {
        &self.shared.status
    }

    /// Stops every target.
    pub(crate) fn stop_all(&self) {
        let running = std::mem::take(&mut *self.running.lock().unwrap_or_else(PoisonError::into_inner));
        self.version.fetch_add(1, Ordering::Relaxed);
        for r in running.into_values() {
            r.stop(&self.shared.status);
        }
    }

    fn start(&self, spec: TargetSpec, status: Arc<TargetStatus>, targets: usize) -> Running {
        let key = Key::Target(spec.id.clone());
        let publisher = Arc::new(self.shared.board.publisher(key, &spec.labels, spec.on_metrics));
        // Only tenants come in numbers: the company and the platform start at once.
        let delay = match spec.kind {
            TargetKind::Tenant => first_delay(&spec.id, spec.config.interval, targets),
            TargetKind::Company | TargetKind::Platform => Duration::ZERO,
        };
        let task = tokio::spawn(run::run(
            spec.clone(),
            self.shared.clone(),
            publisher.clone(),
            status.clone(),
            delay,
        ));
        Running { spec, publisher, status, task }
    }
}

impl Drop for TargetSet {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// When a new target's first cycle starts: spread over the interval by a stable hash of its id,
/// so that thousands of targets do not start (and then repeat) in one burst, and a target keeps
/// its place across restarts. A lone target starts at once.
fn first_delay(id: &str, interval: Duration, targets: usize) -> Duration {
    if targets <= 1 {
        return Duration::ZERO;
    }
    #[allow(clippy::cast_precision_loss)]
    let fraction = stable_hash(id) as f64 / u64::MAX as f64;
    #[allow(clippy::cast_precision_loss)]
    let share = (targets - 1) as f64 / targets as f64;
    interval.mul_f64(fraction * share)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tenant spec with app id `id`, over `config` (whose base URL answers nothing).
    fn tenant(id: &str, config: &Arc<CollectionConfig>) -> TargetSpec {
        let sobot = Credentials { app_id: id.to_string(), app_key: crate::secret::Secret::new("key") };
        TargetSpec {
            id: id.to_string(),
            name: String::new(),
            kind: TargetKind::Tenant,
            labels: vec![("tenant", id.to_string())],
            on_metrics: false,
            sobot: Some(sobot),
            config: config.clone(),
        }
    }

    /// Issue 17: after 20 → 2,000 → 20 tenants, the token cells and status entries are those of
    /// the 20 (a map keyed by tenant that only grew would keep memory after churn).
    #[tokio::test(flavor = "multi_thread")]
    async fn a_removed_tenant_leaves_no_token_cell_status_or_chunk() {
        let flags = crate::config::Flags {
            interval: Duration::from_secs(3600),
            sobot_base_url: "http://127.0.0.1:9".to_string(),
            laaffic_base_url: "http://127.0.0.1:9".to_string(),
            shard: crate::shard::Shard::default(),
        };
        let env = |k: &str| matches!(k, "SOBOT_APP_ID" | "SOBOT_APP_KEY").then(|| "company".to_string());
        let no_file = |_: &std::path::Path| Err(std::io::Error::other("no file"));
        let config = Arc::new(crate::config::from_yaml("", None, &flags, &env, &no_file).expect("config"));
        let shared = Arc::new(Shared::new(Board::new(), &config).expect("clients"));
        let set = TargetSet::new(shared.clone());
        let specs = |n: usize| (0..n).map(|i| tenant(&format!("t{i:04}"), &config)).collect::<Vec<_>>();
        set.reconcile(specs(200));
        // Each target makes its token cell when its task starts.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while shared.tokens.len() < 200 {
            assert!(std::time::Instant::now() < deadline, "{} of 200 token cells", shared.tokens.len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(shared.status.targets().len(), 200);
        set.reconcile(specs(2));
        assert_eq!(shared.tokens.len(), 2, "the removed tenants' token cells go");
        assert_eq!(shared.status.targets().len(), 2);
        assert!(shared.board.keys().len() <= 2, "{:?}", shared.board.keys().len());
        set.reconcile(Vec::new());
        assert!(shared.tokens.is_empty());
        assert!(shared.status.targets().is_empty());
        assert!(shared.board.keys().is_empty());
    }

    #[test]
    fn first_cycles_are_spread_by_a_stable_hash() {
        let minute = Duration::from_secs(60);
        assert_eq!(first_delay("company", minute, 1), Duration::ZERO, "a lone target starts at once");
        let a = first_delay("tenant-1", minute, 100);
        assert_eq!(a, first_delay("tenant-1", minute, 100), "stable");
        assert!(a < minute);
        let delays: Vec<Duration> = (0..100).map(|i| first_delay(&format!("t{i}"), minute, 100)).collect();
        let early = delays.iter().filter(|d| **d < Duration::from_secs(30)).count();
        assert!((30..=70).contains(&early), "spread over the interval: {early} of 100 in the first half");
        // Frozen: a target keeps its place across versions.
        assert_eq!(stable_hash(""), mix(0xcbf2_9ce4_8422_2325));
        assert_eq!(stable_hash("a"), mix(0xaf63_dc4c_8601_ec8c));
        assert_eq!(stable_hash("company"), 0x072a_a306_d498_2985);
    }
}
