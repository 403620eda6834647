//! The collector skeleton, written once for the statistics, quality and seat collectors: the
//! window loop with yesterday's cache, the cardinality guard, the families of one cycle, parse
//! error counting and list extraction.
//!
//! A collector is its I/O (requests through its client), a pure decode step (answer → rows →
//! families) and these pieces; only the decode step differs between collectors.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::Value;
use tracing::{debug, warn};

use crate::snapshot::{Family, Kind, Labels, Sample};
use crate::table::DateFormat;
use crate::telemetry::{AGENTS_DROPPED, Telemetry};
use crate::upstream::UpstreamError;
use crate::value::{Parsed, Unit, parse_id, parse_json};
use crate::window::{Clock, Settled, Window};

/// One cycle of a collector: its families, or why it failed.
pub(crate) type Cycle<'a> = Pin<Box<dyn Future<Output = Result<Vec<Family>, UpstreamError>> + Send + 'a>>;

/// A collector as a target runs it, whatever its source.
pub(crate) trait Collect: Debug + Send + Sync {
    /// Its name, the `collector` label of the self-metrics.
    fn name(&self) -> &str;
    /// One cycle.
    fn collect(&self) -> Cycle<'_>;
    /// Whether it calls Sobot, so that the target's token is fetched before it runs.
    fn needs_sobot_token(&self) -> bool {
        false
    }
    /// How the backfill can run it "at" a past moment (it reads a set [`Clock`] for every date it
    /// asks); what answers only for now cannot.
    fn replay(&self) -> Replay {
        Replay::No
    }
}

/// Whether and how often a collector gives a sample of a past day when run at a set clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// It answers only for now (discovery, the tenant list).
    No,
    /// The day's final figures, once at its end.
    Daily,
    /// The day so far at the end of every hour (an endpoint dated by the hour, a state).
    Hourly,
}

/// A collector with its interval and its vendor's request timeout: what a target schedules. A
/// cycle may take the interval, but at least one request timeout.
#[derive(Debug)]
pub(crate) struct Scheduled {
    pub(crate) job: Arc<dyn Collect>,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
}

/// A family's name and HELP text, built once per collector.
pub(crate) type Metric = (Arc<str>, Arc<str>);

/// The configured windows of a collector and yesterday's cached answer.
#[derive(Debug)]
pub(crate) struct Windows<T> {
    windows: Vec<Window>,
    tz: TimeZone,
    /// Whether the first window's answer also carries live values, so must never be cached.
    first_is_live: bool,
    settled: Settled<T>,
    /// What "now" is: the system's time, or the moment the backfill sets.
    clock: Clock,
}

impl<T: Clone> Windows<T> {
    /// `windows` in `tz`; yesterday is fetched once an hour (see [`Settled`]).
    pub(crate) fn new(windows: Vec<Window>, tz: TimeZone) -> Self {
        Self { windows, tz, first_is_live: false, settled: Settled::default(), clock: Clock::default() }
    }

    /// The same windows read by `clock`.
    #[must_use]
    pub(crate) fn clocked(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    /// Whether the answer of the window at `index` also carries live values: the first one of a
    /// collector that says so, unless the clock is set (a past moment has no live values).
    pub(crate) fn is_live(&self, index: usize) -> bool {
        self.first_is_live && index == 0 && !self.clock.is_set()
    }

    /// `start_date`/`end_date` of `day` in `format`, by this clock (see [`Clock::range`]).
    pub(crate) fn range(&self, day: Date, format: DateFormat) -> (String, String) {
        self.clock.range(day, format, &self.tz)
    }

    /// Like [`Windows::new`] for a collector whose first window also gives live values (the seat
    /// status): yesterday is cached only when it is not the first window.
    pub(crate) fn first_is_live(windows: Vec<Window>, tz: TimeZone) -> Self {
        Self { first_is_live: true, ..Self::new(windows, tz) }
    }

    /// Every window's answer, in configured order: `fetch(day)`, or yesterday's cached answer
    /// while it is fresh. Fails on the first failed fetch.
    pub(crate) async fn fetch<F, Fut>(&self, mut fetch: F) -> Result<Vec<(Window, T)>, UpstreamError>
    where
        F: FnMut(Date) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let now = self.clock.now();
        let mut answers = Vec::with_capacity(self.windows.len());
        for (i, &window) in self.windows.iter().enumerate() {
            let day = window.day(now, &self.tz);
            let settled = window == Window::Yesterday && !(self.first_is_live && i == 0);
            let answer = match settled.then(|| self.settled.get(day)).flatten() {
                Some(cached) => cached,
                None => {
                    let answer = fetch(day).await?;
                    if settled {
                        self.settled.put(day, answer.clone());
                    }
                    answer
                }
            };
            answers.push((window, answer));
        }
        Ok(answers)
    }
}

/// The cardinality guard: at most `max` distinct agents (or seats) per cycle.
#[derive(Debug)]
pub(crate) struct Guard {
    collector: String,
    max: usize,
    /// What is counted, for the warning: `agents` or `seats`.
    noun: &'static str,
    /// The setting that caps them, for the warning: `max_agents` or `laaffic.max_seats`.
    setting: &'static str,
    telemetry: Arc<Telemetry>,
    warned: AtomicBool,
}

impl Guard {
    /// A guard for `collector` keeping at most `max` ids, warning about too many `noun` (agents;
    /// seats, capped by `laaffic.max_seats`).
    pub(crate) fn new(collector: &str, max: usize, noun: &'static str, telemetry: Arc<Telemetry>) -> Self {
        let setting = if noun == "seats" { "laaffic.max_seats" } else { "max_agents" };
        Self {
            collector: collector.to_string(),
            max,
            noun,
            setting,
            telemetry,
            warned: AtomicBool::new(false),
        }
    }

    /// The ids to keep: the first `max` distinct `ids` in sorted order, so that the same agents
    /// stay from cycle to cycle whatever the upstream's order. Sets `agents_dropped` for the
    /// collector; warns the first time anything is dropped.
    pub(crate) fn keep<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let ids: BTreeSet<&str> = ids.into_iter().collect();
        let dropped = ids.len().saturating_sub(self.max);
        #[allow(clippy::cast_precision_loss)]
        self.telemetry.set_collector(AGENTS_DROPPED, &self.collector, dropped as f64);
        if dropped > 0 && !self.warned.swap(true, Ordering::Relaxed) {
            warn!(
                collector = %self.collector,
                max = self.max,
                dropped,
                "more {} than {}: dropping the rest (logged once; see sobot_exporter_agents_dropped)",
                self.noun,
                self.setting
            );
        }
        ids.into_iter().take(self.max).map(str::to_string).collect()
    }
}

/// The families of one cycle: one per [`Metric`], present even without samples so that HELP and
/// TYPE are always served, and one sample per (family, label set).
#[derive(Debug)]
pub(crate) struct Families {
    families: Vec<Family>,
}

impl Families {
    /// Empty gauge families, in the order of `metrics`; samples are added by that index.
    pub(crate) fn new<'m>(metrics: impl IntoIterator<Item = &'m Metric>) -> Self {
        let families = metrics
            .into_iter()
            .map(|(name, help)| Family {
                name: name.clone(),
                help: help.clone(),
                kind: Kind::Gauge,
                samples: Vec::new(),
            })
            .collect();
        Self { families }
    }

    /// Adds a sample to family `index` with `labels` sorted.
    pub(crate) fn push(&mut self, index: usize, mut labels: Labels, value: f64) {
        labels.sort();
        if let Some(family) = self.families.get_mut(index) {
            family.samples.push(Sample { labels, value });
        }
    }

    /// The families, in the order of their metrics, each sorted by labels. A label set pushed
    /// twice keeps its first value (a row repeated across chunks or pages counts once); found by
    /// sorting rather than with a set, which would hold a second copy of every label set.
    pub(crate) fn finish(mut self) -> Vec<Family> {
        for family in &mut self.families {
            // Stable: the first of equal label sets stays first, and dedup keeps it.
            family.samples.sort_by(|a, b| a.labels.cmp(&b.labels));
            family.samples.dedup_by(|later, first| later.labels == first.labels);
            family.samples.shrink_to_fit();
        }
        self.families
    }
}

/// Counts values that did not parse, per endpoint and field: no sample, a debug line and
/// `sobot_exporter_parse_errors_total`.
#[derive(Debug, Clone)]
pub(crate) struct ParseErrors {
    endpoint: &'static str,
    telemetry: Arc<Telemetry>,
}

impl ParseErrors {
    /// Counts for `endpoint` (the upstream endpoint's name, not the collector's).
    pub(crate) fn new(endpoint: &'static str, telemetry: Arc<Telemetry>) -> Self {
        Self { endpoint, telemetry }
    }

    /// Logs and counts one value of `field` that did not parse.
    pub(crate) fn count(&self, field: &str, raw: Option<&Value>) {
        debug!(endpoint = self.endpoint, field, value = ?raw, "value did not parse");
        self.telemetry.count_parse_error(self.endpoint, field);
    }

    /// Whether `id` is new to `seen`; a repeat (a list item with the id of an earlier one: the
    /// first is used whole, so that a series never mixes fields of two items) is logged at debug
    /// and counted in `sobot_exporter_upstream_duplicate_items_total`.
    pub(crate) fn first<K: Ord + std::fmt::Debug>(&self, seen: &mut BTreeSet<K>, id: K) -> bool {
        if seen.contains(&id) {
            debug!(endpoint = self.endpoint, ?id, "an item repeats an earlier one's id: skipped");
            self.telemetry.count_duplicate_item(self.endpoint);
            return false;
        }
        seen.insert(id);
        true
    }

    /// `row[key]` as `unit`: the value, or `None` if absent or invalid (counted).
    pub(crate) fn value(&self, row: &Value, key: &str, unit: Unit) -> Option<f64> {
        let raw = row.get(key);
        match parse_json(raw, unit) {
            Parsed::Value(v) => Some(v),
            Parsed::Absent => None,
            Parsed::Invalid => {
                self.count(key, raw);
                None
            }
        }
    }
}

/// The longest label value taken from the upstream, in bytes (ids are 32 hex digits in the
/// documents; names a few words).
pub(crate) const MAX_LABEL_BYTES: usize = 128;

/// An id for a label ([`parse_id`]); `None` too for one longer than [`MAX_LABEL_BYTES`], which is
/// no id of the documents' kind and would make a series of any length.
pub(crate) fn label_id(value: Option<&Value>) -> Option<String> {
    parse_id(value).filter(|id| id.len() <= MAX_LABEL_BYTES)
}

/// A name for a label: trimmed; one longer than [`MAX_LABEL_BYTES`] cut on a character boundary
/// and ended with `…`, within the bound.
pub(crate) fn label_name(name: &str) -> String {
    const ELLIPSIS: char = '…';
    let name = name.trim();
    if name.len() <= MAX_LABEL_BYTES {
        return name.to_string();
    }
    let mut end = MAX_LABEL_BYTES - ELLIPSIS.len_utf8();
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ELLIPSIS}", &name[..end])
}

/// The rows of an answer, taken out of `body`: the list under the first of `keys` the answer
/// has. Null or missing is no rows (some APIs answer so when there are none); anything else is
/// an invalid response of `endpoint`.
pub(crate) fn list(body: &mut Value, endpoint: &str, keys: &[&str]) -> Result<Vec<Value>, UpstreamError> {
    let Some(key) = keys.iter().find(|k| body.get(**k).is_some()) else {
        return Ok(Vec::new());
    };
    match body.get_mut(*key).map(Value::take).unwrap_or_default() {
        Value::Array(rows) => Ok(rows),
        Value::Null => Ok(Vec::new()),
        _ => Err(UpstreamError::InvalidResponse(format!("{endpoint}: {key} is not a list"))),
    }
}

/// How many values of `field` did not parse for `endpoint`, for the collectors' decode tests.
#[cfg(test)]
pub(crate) fn parse_errors(telemetry: &Telemetry, endpoint: &str, field: &str) -> f64 {
    let labels = vec![("endpoint", endpoint.to_string()), ("field", field.to_string())];
    telemetry.get(crate::telemetry::PARSE_ERRORS, &labels).unwrap_or(0.0)
}

/// How many list items of `endpoint` repeated an earlier one's id, for the decode tests.
#[cfg(test)]
pub(crate) fn duplicates(telemetry: &Telemetry, endpoint: &str) -> f64 {
    let labels = vec![("endpoint", endpoint.to_string())];
    telemetry.get(crate::telemetry::UPSTREAM_DUPLICATE_ITEMS, &labels).unwrap_or(0.0)
}

/// Test helper: `name{labels}` → value of every sample, labels written as in the exposition;
/// fails on a series given twice.
#[cfg(test)]
pub(crate) fn series(families: &[Family]) -> std::collections::BTreeMap<String, f64> {
    let mut series = std::collections::BTreeMap::new();
    for family in families {
        for sample in &family.samples {
            let labels: Vec<String> = sample.labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            let key = format!("{}{{{}}}", family.name, labels.join(","));
            assert!(series.insert(key.clone(), sample.value).is_none(), "{key} twice");
        }
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::AtomicUsize;

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").expect("bundled tzdb has Asia/Shanghai")
    }

    /// Runs one cycle of `windows`, counting fetches; every answer is its day.
    async fn cycle(windows: &Windows<Date>, fetches: &AtomicUsize) -> Vec<(Window, Date)> {
        windows
            .fetch(|day| async move {
                fetches.fetch_add(1, Ordering::Relaxed);
                Ok(day)
            })
            .await
            .expect("no fetch fails")
    }

    #[tokio::test(start_paused = true)]
    async fn yesterday_is_fetched_once_an_hour_and_today_every_cycle() {
        let windows = Windows::new(vec![Window::Today, Window::Yesterday], shanghai());
        let fetches = AtomicUsize::new(0);
        let first = cycle(&windows, &fetches).await;
        assert_eq!(first.iter().map(|(w, _)| *w).collect::<Vec<_>>(), [Window::Today, Window::Yesterday]);
        assert_eq!(first[0].1.yesterday().ok(), Some(first[1].1));
        assert_eq!(fetches.load(Ordering::Relaxed), 2);
        assert_eq!(cycle(&windows, &fetches).await, first);
        assert_eq!(fetches.load(Ordering::Relaxed), 3, "only today again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_live_first_window_is_never_cached() {
        let fetches = AtomicUsize::new(0);
        let live = Windows::first_is_live(vec![Window::Yesterday], shanghai());
        cycle(&live, &fetches).await;
        cycle(&live, &fetches).await;
        assert_eq!(fetches.load(Ordering::Relaxed), 2, "yesterday first carries the live status");

        let fetches = AtomicUsize::new(0);
        let later = Windows::first_is_live(vec![Window::Today, Window::Yesterday], shanghai());
        cycle(&later, &fetches).await;
        cycle(&later, &fetches).await;
        assert_eq!(fetches.load(Ordering::Relaxed), 3, "yesterday second is settled");
    }

    #[tokio::test]
    async fn a_failed_fetch_fails_the_cycle() {
        let windows: Windows<u32> = Windows::new(vec![Window::Today, Window::Yesterday], TimeZone::UTC);
        let result = windows.fetch(|_| async { Err(UpstreamError::Timeout) }).await;
        assert_eq!(result, Err(UpstreamError::Timeout));
    }

    #[test]
    fn the_guard_keeps_the_first_ids_in_sorted_order_and_counts_the_rest() {
        let telemetry = Arc::new(Telemetry::new());
        let guard = Guard::new("c", 2, "agents", telemetry.clone());
        let dropped = || telemetry.get(AGENTS_DROPPED, &vec![("collector", "c".to_string())]);
        let kept = guard.keep(["b", "d", "a", "b", "c"]);
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(dropped(), Some(2.0));
        assert!(guard.warned.load(Ordering::Relaxed));
        assert_eq!(guard.keep(["b"]).len(), 1);
        assert_eq!(dropped(), Some(0.0), "set every cycle, back to 0");
    }

    #[test]
    fn families_are_there_without_samples_and_hold_one_sample_per_label_set() {
        let metrics: Vec<Metric> = vec![("a".into(), "A.".into()), ("b".into(), "B.".into())];
        let mut families = Families::new(&metrics);
        families.push(1, vec![("window", "today".to_string()), ("agent", "x".to_string())], 1.0);
        families.push(1, vec![("agent", "x".to_string()), ("window", "today".to_string())], 2.0);
        families.push(7, Vec::new(), 3.0);
        let families = families.finish();
        assert_eq!(families.len(), 2);
        assert_eq!((&*families[0].name, &*families[0].help, families[0].samples.len()), ("a", "A.", 0));
        assert_eq!(
            families[1].samples,
            [Sample {
                labels: vec![("agent", "x".to_string()), ("window", "today".to_string())],
                value: 1.0
            }]
        );
    }

    #[test]
    fn parse_errors_are_counted_per_endpoint_and_field() {
        let telemetry = Arc::new(Telemetry::new());
        let errors = ParseErrors::new("ep", telemetry.clone());
        let row = json!({"ok": "53.49%", "blank": " ", "dash": "-", "bad": "53.49", "null": null});
        assert_eq!(errors.value(&row, "ok", Unit::Ratio), Some(0.5349));
        for absent in ["blank", "dash", "null", "missing"] {
            assert_eq!(errors.value(&row, absent, Unit::Ratio), None, "{absent}");
            assert_eq!(parse_errors(&telemetry, "ep", absent), 0.0, "{absent} is no error");
        }
        assert_eq!(errors.value(&row, "bad", Unit::Ratio), None);
        assert_eq!(parse_errors(&telemetry, "ep", "bad"), 1.0);
    }

    #[test]
    fn long_ids_are_refused_and_long_names_cut() {
        let id = "a".repeat(MAX_LABEL_BYTES);
        assert_eq!(label_id(Some(&json!(format!(" {id} ")))), Some(id.clone()));
        assert_eq!(label_id(Some(&json!(format!("{id}b")))), None);
        assert_eq!(label_id(Some(&json!(42))), Some("42".to_string()));
        assert_eq!(label_name(&format!(" {id} ")), id);
        let cut = label_name(&"名".repeat(100));
        assert_eq!((cut.len(), cut.chars().count()), (126, 42), "41 whole characters of 3 bytes and …");
        assert!(cut.ends_with("名…"));
        let cut = label_name(&format!("{id}b"));
        assert_eq!((cut.len(), &cut[120..]), (128, "aaaaa…"));
    }

    #[test]
    fn lists_are_taken_from_the_first_key_present() {
        let keys = ["items", "item"];
        let mut plural = json!({"items": [1, 2], "item": [3]});
        assert_eq!(list(&mut plural, "ep", &keys), Ok(vec![json!(1), json!(2)]));
        let mut singular = json!({"item": [3]});
        assert_eq!(list(&mut singular, "ep", &keys), Ok(vec![json!(3)]));
        for none in [json!({}), json!({"items": null}), json!({"items": null, "item": [3]})] {
            assert_eq!(list(&mut none.clone(), "ep", &keys), Ok(Vec::new()), "{none}");
        }
        let mut object = json!({"records": {"a": 1}});
        assert_eq!(
            list(&mut object, "seat_query", &["records"]),
            Err(UpstreamError::InvalidResponse("seat_query: records is not a list".to_string()))
        );
    }
}
