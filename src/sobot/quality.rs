//! Quality-inspection results (质检): the online results of the statistics API and the call and
//! chat results of the quality API, paged, summed per agent and channel.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use jiff::Timestamp;
use serde_json::Value;
use tracing::{debug, warn};

use super::collector::Context;
use crate::error::UpstreamError;
use crate::snapshot::{Family, Kind, Labels, Sample};
use crate::table::{DateFormat, Method};
use crate::telemetry::{AGENTS_DROPPED, COLLECTOR_TRUNCATED};
use crate::value::{Parsed, Unit, parse_id, parse_json, parse_u64};
use crate::window::{Settled, Window, day_range};

/// How a source pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `page`/`size` as strings; no page count: the last page is the one with fewer than `size`.
    PageSize,
    /// `page_no`/`page_size`; the answer carries `page_count`.
    PageCount,
}

/// The score parts of an inspection, in the order of [`QualitySource::scores`].
pub const PARTS: [&str; 4] = ["total", "standard", "add", "minus"];

/// One source of quality results.
#[derive(Debug)]
pub struct QualitySource {
    /// Collector and endpoint name.
    pub name: &'static str,
    /// Path below the base URL.
    pub path: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Document and section.
    pub section: &'static str,
    /// The `channel` label.
    pub channel: &'static str,
    /// Date parameters and their format.
    pub dates: (&'static str, &'static str, DateFormat),
    /// Paging style.
    pub paging: Paging,
    /// JSON key of the agent id.
    pub agent_key: &'static str,
    /// JSON key of the agent's name.
    pub name_key: &'static str,
    /// `(score, maximum)` JSON keys per part of [`PARTS`].
    pub scores: [(&'static str, &'static str); 4],
}

/// Every quality source. `quality_result` and `chat_result` both give the chat channel: run one.
pub static QUALITY_SOURCES: &[QualitySource] = &[
    QualitySource {
        name: "quality_result",
        path: "/api/wb/5/data/quality_result",
        method: Method::Post,
        section: "sobot-online-statistics.md §2.8",
        channel: "chat",
        dates: ("start_date", "end_date", DateFormat::Day),
        paging: Paging::PageSize,
        agent_key: "staffid",
        name_key: "staff_name",
        scores: [
            ("quality_score", "total_score"),
            ("standard_quality_score", "standard_total_score"),
            ("add_quality_score", "add_total_score"),
            ("minus_quality_score", "minus_total_score"),
        ],
    },
    QualitySource {
        name: "chat_result",
        path: "/api/interceptor/5/quality/chat_result",
        method: Method::Get,
        section: "sobot-quality-inspection.md §2.3",
        channel: "chat",
        dates: ("start_datetime", "end_datetime", DateFormat::Day),
        paging: Paging::PageCount,
        agent_key: "agentid",
        name_key: "agent_name",
        scores: [
            ("quality_score", "total_score"),
            ("standard_quality_score", "standard_total_score"),
            ("add_quality_score", "add_total_score"),
            ("minus_quality_score", "minus_total_score"),
        ],
    },
    QualitySource {
        name: "call_result",
        path: "/api/interceptor/5/quality/call_result",
        method: Method::Get,
        section: "sobot-quality-inspection.md §2.2",
        channel: "call",
        dates: ("start_datetime", "end_datetime", DateFormat::Second),
        paging: Paging::PageCount,
        agent_key: "agentid",
        name_key: "agent_name",
        scores: [
            ("total_score", "total_score_max"),
            ("standard_score", "standard_score_max"),
            ("pulse", "pulse_max"),
            ("minus", "minus_max"),
        ],
    },
];

impl QualitySource {
    /// Looks a source up by name.
    pub fn by_name(name: &str) -> Option<&'static QualitySource> {
        QUALITY_SOURCES.iter().find(|s| s.name == name)
    }
}

/// The metrics of the quality collectors: name, labels, meaning.
pub const QUALITY_METRICS: &[(&str, &str, &str)] = &[
    (
        "sobot_quality_inspections",
        "agent, channel, window",
        "Inspections of the agent's chats (channel chat) or calls (channel call) in the window",
    ),
    (
        "sobot_quality_score_points",
        "agent, channel, window",
        "Sum of the inspections' scores (质检得分: quality_score of quality_result and chat_result, total_score of call_result)",
    ),
    (
        "sobot_quality_max_score_points",
        "agent, channel, window",
        "Sum of the inspections' full marks (质检满分: total_score of quality_result and chat_result, total_score_max of call_result)",
    ),
    (
        "sobot_quality_part_score_points",
        "agent, channel, part, window",
        "Sum of the scores of one part: standard (标准分), add (加分项; pulse in call_result), minus (减分项)",
    ),
    (
        "sobot_quality_part_max_score_points",
        "agent, channel, part, window",
        "Sum of the full marks of one part (the *_total_score fields; *_max in call_result)",
    ),
    (
        "sobot_agent_info",
        "agent, name",
        "1 for every agent whose name a quality result carried (staff_name or agent_name)",
    ),
];

/// Page settings of the quality collectors.
#[derive(Debug, Clone, Copy)]
pub struct PageSettings {
    /// Records per page (the upstream allows up to 10,000).
    pub page_size: u32,
    /// Pages per window and cycle at most; beyond, the cycle is cut and says so.
    pub max_pages: u32,
    /// Distinct agents kept at most.
    pub max_agents: usize,
}

/// One day's inspections: sums per agent, names, whether the page cap cut it.
#[derive(Debug, Default, Clone)]
struct Day {
    sums: BTreeMap<String, Sums>,
    names: BTreeMap<String, String>,
    truncated: bool,
}

#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    inspections: u64,
    score: [f64; 4],
    max: [f64; 4],
    has: [bool; 4],
}

/// Collects one quality source for every configured window.
#[derive(Debug)]
pub struct QualityCollector {
    source: &'static QualitySource,
    ctx: Context,
    pages: PageSettings,
    helps: Vec<Arc<str>>,
    warned_cap: AtomicBool,
    /// Yesterday's sums, reused for an hour.
    settled: Settled<Day>,
}

impl QualityCollector {
    /// A collector of `source`.
    pub fn new(source: &'static QualitySource, ctx: Context, pages: PageSettings) -> Self {
        let helps = QUALITY_METRICS
            .iter()
            .map(|(_, _, meaning)| format!("{meaning}. {}", crate::snapshot::cached(ctx.interval)).into())
            .collect();
        Self { source, ctx, pages, helps, warned_cap: AtomicBool::new(false), settled: Settled::default() }
    }

    /// The collector's name, its source's.
    pub fn name(&self) -> &'static str {
        self.source.name
    }

    /// One cycle: every page of every window.
    pub async fn collect(&self) -> Result<Vec<Family>, UpstreamError> {
        let now = Timestamp::now();
        let mut sums: BTreeMap<(String, Window), Sums> = BTreeMap::new();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut truncated = false;
        for &window in &self.ctx.windows {
            let date = window.day(now, &self.ctx.tz);
            let day = match (window, self.settled.get(date)) {
                (Window::Yesterday, Some(cached)) => cached,
                _ => {
                    let day = self.fetch_day(date).await?;
                    if window == Window::Yesterday {
                        self.settled.put(date, day.clone());
                    }
                    day
                }
            };
            truncated |= day.truncated;
            sums.extend(day.sums.into_iter().map(|(agent, s)| ((agent, window), s)));
            names.extend(day.names);
        }
        let t = &self.ctx.telemetry;
        t.set_collector(COLLECTOR_TRUNCATED, self.source.name, f64::from(u8::from(truncated)));
        if truncated {
            warn!(
                collector = self.source.name,
                max_pages = self.pages.max_pages,
                "stopped at the page cap; counts are incomplete"
            );
        }
        let dropped = self.guard_cardinality(&mut sums, &mut names);
        #[allow(clippy::cast_precision_loss)]
        t.set_collector(AGENTS_DROPPED, self.source.name, dropped as f64);
        Ok(self.families(&sums, &names))
    }

    /// Every page of one day, summed.
    async fn fetch_day(&self, date: jiff::civil::Date) -> Result<Day, UpstreamError> {
        let (start, end) = day_range(date, self.source.dates.2);
        let mut day = Day::default();
        let mut page = 1u32;
        loop {
            let (records, last) = self.fetch_page(&start, &end, page).await?;
            for record in &records {
                self.add(record, &mut day);
            }
            if last {
                return Ok(day);
            }
            if page >= self.pages.max_pages {
                day.truncated = true;
                return Ok(day);
            }
            page += 1;
        }
    }

    /// One page: its records and whether it is the last.
    async fn fetch_page(
        &self,
        start: &str,
        end: &str,
        page: u32,
    ) -> Result<(Vec<Value>, bool), UpstreamError> {
        let s = self.source;
        let size = self.pages.page_size;
        let (page_key, size_key) = match s.paging {
            Paging::PageSize => ("page", "size"),
            Paging::PageCount => ("page_no", "page_size"),
        };
        let params = [
            (s.dates.0, start.to_string()),
            (s.dates.1, end.to_string()),
            (page_key, page.to_string()),
            (size_key, size.to_string()),
        ];
        let mut body = self.ctx.client.call(s.name, s.method, s.path, &params).await?;
        let records = match body.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => Vec::new(),
            Some(_) => {
                return Err(UpstreamError::InvalidResponse(format!("{}: items is not a list", s.name)));
            }
        };
        let last = match s.paging {
            Paging::PageSize => records.len() < usize::try_from(size).unwrap_or(usize::MAX),
            Paging::PageCount => {
                match parse_u64(body.get("page_count")) {
                    Some(count) => u64::from(page) >= count,
                    // Without a page count, fall back to the short-page rule.
                    None => records.len() < usize::try_from(size).unwrap_or(usize::MAX),
                }
            }
        };
        Ok((records, last))
    }

    fn add(&self, record: &Value, day: &mut Day) {
        let Day { sums, names, .. } = day;
        let s = self.source;
        let Some(agent) = parse_id(record.get(s.agent_key)) else {
            self.parse_error(s.agent_key, record.get(s.agent_key));
            return;
        };
        // An inspection counts only with its overall score and full marks.
        let number = |key: &str| match parse_json(record.get(key), Unit::Number) {
            Parsed::Value(v) => Some(v),
            Parsed::Absent => None,
            Parsed::Invalid => {
                self.parse_error(key, record.get(key));
                None
            }
        };
        let (Some(score), Some(max)) = (number(s.scores[0].0), number(s.scores[0].1)) else {
            return;
        };
        let entry = sums.entry(agent.clone()).or_default();
        entry.inspections += 1;
        entry.score[0] += score;
        entry.max[0] += max;
        entry.has[0] = true;
        for (i, (score_key, max_key)) in s.scores.iter().enumerate().skip(1) {
            if let (Some(v), Some(m)) = (number(score_key), number(max_key)) {
                entry.score[i] += v;
                entry.max[i] += m;
                entry.has[i] = true;
            }
        }
        if let Some(Value::String(name)) = record.get(s.name_key) {
            let name: String = name.trim().chars().take(128).collect();
            if !name.is_empty() {
                names.insert(agent, name);
            }
        }
    }

    /// Keeps the first `max_agents` agents by id; returns how many were dropped.
    fn guard_cardinality(
        &self,
        sums: &mut BTreeMap<(String, Window), Sums>,
        names: &mut BTreeMap<String, String>,
    ) -> usize {
        let agents: BTreeSet<String> = sums.keys().map(|(a, _)| a.clone()).collect();
        let dropped = agents.len().saturating_sub(self.pages.max_agents);
        if dropped > 0 {
            let kept: BTreeSet<&String> = agents.iter().take(self.pages.max_agents).collect();
            sums.retain(|(a, _), _| kept.contains(a));
            names.retain(|a, _| kept.contains(a));
            if !self.warned_cap.swap(true, Ordering::Relaxed) {
                warn!(
                    collector = self.source.name,
                    max_agents = self.pages.max_agents,
                    dropped,
                    "more agents than max_agents: dropping the rest (logged once; see sobot_exporter_agents_dropped)"
                );
            }
        }
        dropped
    }

    fn families(
        &self,
        sums: &BTreeMap<(String, Window), Sums>,
        names: &BTreeMap<String, String>,
    ) -> Vec<Family> {
        let channel = self.source.channel;
        let mut families: Vec<Family> = QUALITY_METRICS
            .iter()
            .zip(&self.helps)
            .map(|((name, _, _), help)| Family {
                name: (*name).into(),
                help: help.clone(),
                kind: Kind::Gauge,
                samples: Vec::new(),
            })
            .collect();
        #[allow(clippy::cast_precision_loss)]
        for ((agent, window), s) in sums {
            let base: Labels = vec![
                ("agent", agent.clone()),
                ("channel", channel.to_string()),
                ("window", window.label().to_string()),
            ];
            families[0].samples.push(Sample { labels: base.clone(), value: s.inspections as f64 });
            families[1].samples.push(Sample { labels: base.clone(), value: s.score[0] });
            families[2].samples.push(Sample { labels: base.clone(), value: s.max[0] });
            for (i, part) in PARTS.iter().enumerate().skip(1) {
                if s.has[i] {
                    let mut labels = base.clone();
                    labels.push(("part", (*part).to_string()));
                    labels.sort();
                    families[3].samples.push(Sample { labels: labels.clone(), value: s.score[i] });
                    families[4].samples.push(Sample { labels, value: s.max[i] });
                }
            }
        }
        for (agent, name) in names {
            families[5]
                .samples
                .push(Sample { labels: vec![("agent", agent.clone()), ("name", name.clone())], value: 1.0 });
        }
        families
    }

    fn parse_error(&self, field: &str, raw: Option<&Value>) {
        debug!(endpoint = self.source.name, field, value = ?raw, "value did not parse");
        self.ctx.telemetry.count_parse_error(self.source.name, field);
    }
}
