//! Statistics collectors: one endpoint of the table, every configured window, in one of three
//! scopes (company, per group, per agent).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::{Timestamp, tz::TimeZone};
use serde_json::Value;
use tracing::{debug, warn};

use super::client::SobotClient;
use super::endpoints::{Endpoint, Rows};
use crate::error::UpstreamError;
use crate::snapshot::{Family, Kind, Labels, Sample};
use crate::table::Field;
use crate::telemetry::{AGENTS_DROPPED, Telemetry};
use crate::value::{Parsed, parse_id, parse_json};
use crate::window::{Settled, Window, day_range};

/// Most ids the upstream accepts in one `groupids`/`serviceids` parameter (`210007` beyond).
pub const MAX_IDS_PER_REQUEST: usize = 100;

/// The HELP text of a table field: what it is, where it comes from, that it is cached.
pub fn help_text(endpoint: &Endpoint, field: &Field, per_group: bool, interval: Duration) -> String {
    format!(
        "{}{} ({}; Sobot {} field {}, §{}), {}. {}",
        field.en,
        if per_group { ", per skill group" } else { "" },
        field.zh,
        endpoint.name,
        field.key,
        endpoint.section,
        field.unit.describe(),
        crate::snapshot::cached(interval)
    )
}

/// Which requests a collector makes and how it labels the answers.
#[derive(Debug, Clone)]
pub enum Scope {
    /// One request per window, company-wide figures (`item`).
    Company,
    /// One request per configured group and window, filtered by `groupids`; labelled `group`,
    /// exported under the `sobot_group_*` names.
    PerGroup(Vec<String>),
    /// Rows per agent (`items`), for all agents or for the configured ids, sent in chunks of at
    /// most 100 and merged; at most `max_agents` distinct agents are kept.
    PerAgent {
        /// `("serviceids", agents)` or `("groupids", groups)`; `None` asks for every agent.
        filter: Option<(&'static str, Vec<String>)>,
        /// Cardinality guard.
        max_agents: usize,
    },
}

/// Collects one statistics endpoint for each configured window.
#[derive(Debug)]
pub struct StatsCollector {
    name: String,
    endpoint: &'static Endpoint,
    scope: Scope,
    client: Arc<SobotClient>,
    windows: Vec<Window>,
    tz: TimeZone,
    /// Metric names and HELP texts, one per field of `endpoint`, built once.
    metrics: Vec<(Arc<str>, Arc<str>)>,
    telemetry: Arc<Telemetry>,
    warned_cap: AtomicBool,
    /// Yesterday's rows, reused for an hour.
    settled: Settled<Vec<(Labels, Value)>>,
}

/// Everything a collector needs besides its endpoint and scope.
#[derive(Debug, Clone)]
pub struct Context {
    /// The tenant's client.
    pub client: Arc<SobotClient>,
    /// Windows to collect.
    pub windows: Vec<Window>,
    /// Time zone of the statistics day.
    pub tz: TimeZone,
    /// Interval, for HELP texts.
    pub interval: Duration,
    /// Self-metrics.
    pub telemetry: Arc<Telemetry>,
}

impl StatsCollector {
    /// A collector for `endpoint` in `scope`.
    pub fn new(endpoint: &'static Endpoint, scope: Scope, ctx: Context) -> Self {
        let per_group = matches!(scope, Scope::PerGroup(_));
        let metrics = endpoint
            .fields
            .iter()
            .map(|f| {
                let name = if per_group { Endpoint::group_metric(f.metric) } else { f.metric.to_string() };
                (name.into(), help_text(endpoint, f, per_group, ctx.interval).into())
            })
            .collect();
        let name = if per_group { format!("group_{}", endpoint.name) } else { endpoint.name.to_string() };
        Self {
            name,
            endpoint,
            scope,
            client: ctx.client,
            windows: ctx.windows,
            tz: ctx.tz,
            metrics,
            telemetry: ctx.telemetry,
            warned_cap: AtomicBool::new(false),
            settled: Settled::default(),
        }
    }

    /// The collector's name: the endpoint's, `group_` + it for the per-group scope.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One cycle: fetches every window; fails if any request fails.
    pub async fn collect(&self) -> Result<Vec<Family>, UpstreamError> {
        // (row labels without window, window, row object)
        let mut rows: Vec<(Labels, Window, Value)> = Vec::new();
        let now = Timestamp::now();
        for &window in &self.windows {
            let day = window.day(now, &self.tz);
            if window == Window::Yesterday
                && let Some(cached) = self.settled.get(day)
            {
                rows.extend(cached.into_iter().map(|(labels, item)| (labels, window, item)));
                continue;
            }
            let fetched = self.fetch_window(day).await?;
            if window == Window::Yesterday {
                self.settled.put(day, fetched.clone());
            }
            rows.extend(fetched.into_iter().map(|(labels, item)| (labels, window, item)));
        }
        if let Scope::PerAgent { max_agents, .. } = self.scope {
            self.guard_cardinality(&mut rows, max_agents);
        }
        Ok(self.families(&rows))
    }

    /// Every row of one day: its identifying labels and the upstream record.
    async fn fetch_window(&self, day: jiff::civil::Date) -> Result<Vec<(Labels, Value)>, UpstreamError> {
        let (start, end) = day_range(day, self.endpoint.date_format);
        let dates = [("start_date", start), ("end_date", end)];
        let mut rows = Vec::new();
        match &self.scope {
            Scope::Company => rows.push((Vec::new(), self.fetch_item(&dates, None).await?)),
            Scope::PerGroup(groups) => {
                for group in groups {
                    let item = self.fetch_item(&dates, Some(("groupids", group.clone()))).await?;
                    rows.push((vec![("group", group.clone())], item));
                }
            }
            Scope::PerAgent { filter, .. } => {
                let chunks: Vec<Option<(&str, String)>> = match filter {
                    None => vec![None],
                    Some((key, ids)) => {
                        ids.chunks(MAX_IDS_PER_REQUEST).map(|c| Some((*key, c.join(",")))).collect()
                    }
                };
                for chunk in chunks {
                    for item in self.fetch_items(&dates, chunk).await? {
                        if let Some(labels) = self.row_labels(&item) {
                            rows.push((labels, item));
                        }
                    }
                }
            }
        }
        Ok(rows)
    }

    async fn fetch(
        &self,
        dates: &[(&'static str, String); 2],
        filter: Option<(&str, String)>,
    ) -> Result<Value, UpstreamError> {
        let ep = self.endpoint;
        let mut params: Vec<(&str, String)> = dates.to_vec();
        params.extend(filter);
        self.client.call(ep.name, ep.method, ep.path, &params).await
    }

    async fn fetch_item(
        &self,
        dates: &[(&'static str, String); 2],
        filter: Option<(&str, String)>,
    ) -> Result<Value, UpstreamError> {
        let mut body = self.fetch(dates, filter).await?;
        match body.get_mut("item").map(Value::take) {
            Some(item @ Value::Object(_)) => Ok(item),
            _ => Err(UpstreamError::InvalidResponse(format!(
                "{}: no item object in the answer",
                self.endpoint.name
            ))),
        }
    }

    async fn fetch_items(
        &self,
        dates: &[(&'static str, String); 2],
        filter: Option<(&str, String)>,
    ) -> Result<Vec<Value>, UpstreamError> {
        let mut body = self.fetch(dates, filter).await?;
        // The documents say `item` in the table and `items` in the examples; accept both.
        let key = if body.get("items").is_some() { "items" } else { "item" };
        let list = body.get_mut(key).map(Value::take);
        match list {
            Some(Value::Array(items)) => Ok(items),
            // No rows: some APIs answer null or leave the key out.
            Some(Value::Null) | None => Ok(Vec::new()),
            Some(_) => {
                Err(UpstreamError::InvalidResponse(format!("{}: items is not a list", self.endpoint.name)))
            }
        }
    }

    /// The identifying labels of a row; `None` (counted) if it has no agent id.
    fn row_labels(&self, row: &Value) -> Option<Labels> {
        let Rows::Items(keys) = self.endpoint.rows else {
            return Some(Vec::new());
        };
        let mut labels = Vec::with_capacity(keys.len());
        for (i, (label, key)) in keys.iter().enumerate() {
            match parse_id(row.get(*key)) {
                Some(id) => labels.push((*label, id)),
                // Without an agent the row means nothing; a missing group is an empty label.
                None if i == 0 => {
                    self.parse_error(key, row.get(*key));
                    return None;
                }
                None => {}
            }
        }
        Some(labels)
    }

    /// Keeps the rows of the first `max_agents` agents (by id), drops the rest.
    fn guard_cardinality(&self, rows: &mut Vec<(Labels, Window, Value)>, max_agents: usize) {
        let agents: BTreeSet<&str> = rows.iter().filter_map(|(l, _, _)| agent_of(l)).collect();
        let dropped = agents.len().saturating_sub(max_agents);
        #[allow(clippy::cast_precision_loss)]
        self.telemetry.set_collector(AGENTS_DROPPED, &self.name, dropped as f64);
        if dropped == 0 {
            return;
        }
        let kept: BTreeSet<String> = agents.into_iter().take(max_agents).map(str::to_string).collect();
        rows.retain(|(l, _, _)| agent_of(l).is_some_and(|a| kept.contains(a)));
        if !self.warned_cap.swap(true, Ordering::Relaxed) {
            warn!(collector = %self.name, max_agents, dropped, "more agents than max_agents: dropping the rest (logged once; see sobot_exporter_agents_dropped)");
        }
    }

    fn families(&self, rows: &[(Labels, Window, Value)]) -> Vec<Family> {
        let ep = self.endpoint;
        let mut families: Vec<Family> = self
            .metrics
            .iter()
            .map(|(name, help)| Family {
                name: name.clone(),
                help: help.clone(),
                kind: Kind::Gauge,
                samples: Vec::new(),
            })
            .collect();
        // One sample per label set: a row repeated across chunks counts once.
        let mut seen: BTreeSet<(usize, Labels)> = BTreeSet::new();
        for (row_labels, window, row) in rows {
            for (i, (field, family)) in ep.fields.iter().zip(families.iter_mut()).enumerate() {
                let Some(value) = self.value(row, field) else {
                    continue;
                };
                let mut labels: Labels = row_labels.clone();
                labels.extend(field.labels.iter().map(|(k, v)| (*k, (*v).to_string())));
                labels.push(("window", window.label().to_string()));
                labels.sort();
                if seen.insert((i, labels.clone())) {
                    family.samples.push(Sample { labels, value });
                }
            }
        }
        families
    }

    fn value(&self, row: &Value, field: &Field) -> Option<f64> {
        let raw = row.get(field.key);
        match parse_json(raw, field.unit) {
            Parsed::Value(v) => Some(v),
            Parsed::Absent => None,
            Parsed::Invalid => {
                self.parse_error(field.key, raw);
                None
            }
        }
    }

    fn parse_error(&self, field: &str, raw: Option<&Value>) {
        debug!(endpoint = self.endpoint.name, field, value = ?raw, "value did not parse");
        self.telemetry.count_parse_error(self.endpoint.name, field);
    }
}

fn agent_of(labels: &Labels) -> Option<&str> {
    labels.iter().find(|(k, _)| *k == "agent").map(|(_, v)| v.as_str())
}
