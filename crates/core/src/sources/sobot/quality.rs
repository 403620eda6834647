//! Quality-inspection results (质检): the online results of the statistics API and the call and
//! chat results of the quality API, paged, summed per agent and channel.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Date;
use serde_json::Value;
use tracing::warn;

use super::stats::Context;
use crate::collect::{Families, Guard, Metric, ParseErrors, Windows, list};
use crate::snapshot::{Family, Labels};
use crate::sources::sobot::client::SobotClient;
use crate::table::{DateFormat, Method};
use crate::telemetry::{COLLECTOR_TRUNCATED, Telemetry};
use crate::upstream::UpstreamError;
use crate::value::{Unit, parse_id, parse_u64};
use crate::window::Window;

/// How a source pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `page`/`size` as strings; no page count: the last page is the one with fewer than `size`.
    PageSize,
    /// `page_no`/`page_size`; the answer carries `page_count`.
    PageCount,
}

/// The score parts of an inspection, in the order of [`QualitySource::scores`].
pub(crate) const PARTS: [&str; 4] = ["total", "standard", "add", "minus"];

/// One source of quality results.
#[derive(Debug)]
pub struct QualitySource {
    /// Collector and endpoint name.
    pub name: &'static str,
    /// Path below the base URL.
    pub path: &'static str,
    /// HTTP method.
    pub(crate) method: Method,
    /// Document and section.
    pub(crate) section: &'static str,
    /// The `channel` label.
    pub(crate) channel: &'static str,
    /// Date parameters and their format.
    pub dates: (&'static str, &'static str, DateFormat),
    /// Paging style.
    pub paging: Paging,
    /// JSON key of the agent id.
    pub agent_key: &'static str,
    /// JSON key of the agent's name.
    pub name_key: &'static str,
    /// `(score, maximum)` JSON keys per part of `PARTS`.
    pub scores: [(&'static str, &'static str); 4],
    /// JSON keys that identify a record (an inspection of one conversation or call), so that a
    /// record paging shows twice (the list changed during the cycle) counts once.
    pub record_key: &'static [&'static str],
}

/// The score fields of the chat channel's inspections, the same in both APIs.
const CHAT_SCORES: [(&str, &str); 4] = [
    ("quality_score", "total_score"),
    ("standard_quality_score", "standard_total_score"),
    ("add_quality_score", "add_total_score"),
    ("minus_quality_score", "minus_total_score"),
];

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
        scores: CHAT_SCORES,
        record_key: &["cid", "schemeid"],
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
        scores: CHAT_SCORES,
        record_key: &["cid", "schemeid"],
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
        record_key: &["call_log_jestid"],
    },
];

impl QualitySource {
    /// Looks a source up by name.
    pub fn by_name(name: &str) -> Option<&'static QualitySource> {
        QUALITY_SOURCES.iter().find(|s| s.name == name)
    }
}

/// The metrics of the quality collectors: name, labels, meaning.
pub(crate) const QUALITY_METRICS: &[(&str, &str, &str)] = &[
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
        "Sum of the scores of one part: part standard (质检标准分得分 standard_quality_score; standard_score in call_result), add (质检加分项得分 add_quality_score; pulse in call_result), minus (质检减分项得分 minus_quality_score, negative; minus in call_result)",
    ),
    (
        "sobot_quality_part_max_score_points",
        "agent, channel, part, window",
        "Sum of the full marks of one part: part standard (质检标准分满分 standard_total_score; standard_score_max in call_result), add (质检加分项满分 add_total_score; pulse_max in call_result), minus (质检减分项满分 minus_total_score, negative; minus_max in call_result)",
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
pub(crate) struct Day {
    pub(crate) sums: BTreeMap<String, Sums>,
    pub(crate) names: BTreeMap<String, String>,
    truncated: bool,
    /// The records counted so far (their keys), while the day is being paged.
    seen: std::collections::BTreeSet<String>,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Sums {
    inspections: u64,
    score: [f64; 4],
    max: [f64; 4],
    has: [bool; 4],
}

/// Collects one quality source for every configured window.
#[derive(Debug)]
pub struct QualityCollector {
    source: &'static QualitySource,
    client: Arc<SobotClient>,
    telemetry: Arc<Telemetry>,
    pages: PageSettings,
    decoder: Decoder,
    /// Each window's sums; yesterday's reused for an hour.
    windows: Windows<Day>,
    guard: Guard,
}

impl QualityCollector {
    /// A collector of `source`.
    pub fn new(source: &'static QualitySource, ctx: Context, pages: PageSettings) -> Self {
        let errors = ParseErrors::new(source.name, ctx.telemetry.clone());
        Self {
            source,
            client: ctx.client,
            pages,
            decoder: Decoder::new(source, pages.page_size, ctx.interval, errors)
                .part_scores(ctx.switches.quality_part_scores),
            windows: Windows::new(ctx.windows, ctx.tz).clocked(ctx.clock),
            guard: Guard::new(source.name, pages.max_agents, "agents", ctx.telemetry.clone()),
            telemetry: ctx.telemetry,
        }
    }

    /// The collector's name, its source's.
    pub fn name(&self) -> &'static str {
        self.source.name
    }

    /// One cycle: every page of every window.
    pub async fn collect(&self) -> Result<Vec<Family>, UpstreamError> {
        let days = self.windows.fetch(|date| self.fetch_day(date)).await?;
        let mut sums: BTreeMap<(String, Window), Sums> = BTreeMap::new();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut truncated = false;
        for (window, day) in days {
            truncated |= day.truncated;
            sums.extend(day.sums.into_iter().map(|(agent, s)| ((agent, window), s)));
            names.extend(day.names);
        }
        self.telemetry.set_collector(COLLECTOR_TRUNCATED, self.source.name, f64::from(u8::from(truncated)));
        if truncated {
            warn!(
                collector = self.source.name,
                max_pages = self.pages.max_pages,
                "stopped at the page cap; counts are incomplete"
            );
        }
        let kept = self.guard.keep(sums.keys().map(|(agent, _)| agent.as_str()));
        sums.retain(|(agent, _), _| kept.contains(agent));
        names.retain(|agent, _| kept.contains(agent));
        Ok(self.decoder.families(&sums, &names))
    }

    /// Every page of one day, summed.
    async fn fetch_day(&self, date: Date) -> Result<Day, UpstreamError> {
        let (start, end) = self.windows.range(date, self.source.dates.2);
        let mut day = Day::default();
        let mut page = 1u32;
        loop {
            let (records, last) = self.fetch_page(&start, &end, page).await?;
            for record in &records {
                self.decoder.add(record, &mut day);
            }
            if last {
                break;
            }
            if page >= self.pages.max_pages {
                day.truncated = true;
                break;
            }
            page += 1;
        }
        // The keys matter only while the day is paged: a cached day does not keep them.
        day.seen = Default::default();
        Ok(day)
    }

    /// The records of one page, and whether it is the last.
    async fn fetch_page(
        &self,
        start: &str,
        end: &str,
        page: u32,
    ) -> Result<(Vec<Value>, bool), UpstreamError> {
        let s = self.source;
        let (page_key, size_key) = match s.paging {
            Paging::PageSize => ("page", "size"),
            Paging::PageCount => ("page_no", "page_size"),
        };
        let params = [
            (s.dates.0, start.to_string()),
            (s.dates.1, end.to_string()),
            (page_key, page.to_string()),
            (size_key, self.pages.page_size.to_string()),
        ];
        self.client.call(s.name, s.method, s.path, &params, |body| self.decoder.records(body, page)).await
    }
}

/// The pure half of a quality collector: pages to sums per agent, sums to families.
#[derive(Debug)]
pub(crate) struct Decoder {
    source: &'static QualitySource,
    page_size: u32,
    /// Names and HELP texts of [`QUALITY_METRICS`].
    metrics: Vec<Metric>,
    errors: ParseErrors,
    /// Whether the per-part families are exported.
    part_scores: bool,
}

impl Decoder {
    pub(crate) fn new(
        source: &'static QualitySource,
        page_size: u32,
        interval: Duration,
        errors: ParseErrors,
    ) -> Self {
        let metrics = QUALITY_METRICS
            .iter()
            .map(|(name, _, meaning)| {
                ((*name).into(), format!("{meaning}. {}", crate::snapshot::cached(interval)).into())
            })
            .collect();
        Self { source, page_size, metrics, errors, part_scores: true }
    }

    /// Whether the per-part families (`sobot_quality_part_*`) are exported: they come in the
    /// same records as the totals, so switched off they are not summed and not served.
    fn part_scores(self, part_scores: bool) -> Self {
        Self { part_scores, ..self }
    }

    /// The records of page `page`, and whether it is the last page.
    fn records(&self, mut body: Value, page: u32) -> Result<(Vec<Value>, bool), UpstreamError> {
        let records = list(&mut body, self.source.name, &["items"])?;
        let short = records.len() < usize::try_from(self.page_size).unwrap_or(usize::MAX);
        let last = match self.source.paging {
            Paging::PageSize => short,
            // Without a page count, fall back to the short-page rule.
            Paging::PageCount => {
                parse_u64(body.get("page_count")).map_or(short, |count| u64::from(page) >= count)
            }
        };
        Ok((records, last))
    }

    /// Adds the records of page `page` to `day`; returns whether it is the last page.
    #[cfg(test)]
    pub(crate) fn page(&self, body: Value, page: u32, day: &mut Day) -> Result<bool, UpstreamError> {
        let (records, last) = self.records(body, page)?;
        for record in &records {
            self.add(record, day);
        }
        Ok(last)
    }

    /// Adds one inspection to its agent's sums.
    fn add(&self, record: &Value, day: &mut Day) {
        let Day { sums, names, seen, .. } = day;
        let s = self.source;
        let Some(agent) = crate::collect::label_id(record.get(s.agent_key)) else {
            self.errors.count(s.agent_key, record.get(s.agent_key));
            return;
        };
        // A record seen on an earlier page of this day counts once; one without its key counts.
        let key: Vec<String> = s.record_key.iter().filter_map(|k| parse_id(record.get(*k))).collect();
        if key.len() == s.record_key.len() && !self.errors.first(seen, key.join("\u{1f}")) {
            return;
        }
        // An inspection counts only with its overall score and full marks.
        let number = |key: &str| self.errors.value(record, key, Unit::Number);
        let (Some(score), Some(max)) = (number(s.scores[0].0), number(s.scores[0].1)) else {
            return;
        };
        // A sum beyond f64 (scores near 1e308) is no number: the record that would make it is
        // counted and left out, not summed to infinity.
        let overflow = |sums: &Sums, i: usize, (v, m): (f64, f64)| {
            let (score_key, max_key) = s.scores[i];
            if !(sums.score[i] + v).is_finite() {
                Some(score_key)
            } else if !(sums.max[i] + m).is_finite() {
                Some(max_key)
            } else {
                None
            }
        };
        if let Some(key) = overflow(&sums.get(&agent).copied().unwrap_or_default(), 0, (score, max)) {
            self.errors.count(key, record.get(key));
            return;
        }
        let entry = sums.entry(agent.clone()).or_default();
        entry.inspections += 1;
        entry.score[0] += score;
        entry.max[0] += max;
        entry.has[0] = true;
        let parts = if self.part_scores { s.scores.len() } else { 1 };
        for (i, (score_key, max_key)) in s.scores.iter().enumerate().take(parts).skip(1) {
            if let (Some(v), Some(m)) = (number(score_key), number(max_key)) {
                if let Some(key) = overflow(entry, i, (v, m)) {
                    self.errors.count(key, record.get(key));
                    continue;
                }
                entry.score[i] += v;
                entry.max[i] += m;
                entry.has[i] = true;
            }
        }
        if let Some(Value::String(name)) = record.get(s.name_key) {
            let name = crate::collect::label_name(name);
            if !name.is_empty() {
                names.insert(agent, name);
            }
        }
    }

    /// The families of [`QUALITY_METRICS`], in order, from the sums and names of every window.
    pub(crate) fn families(
        &self,
        sums: &BTreeMap<(String, Window), Sums>,
        names: &BTreeMap<String, String>,
    ) -> Vec<Family> {
        let channel = self.source.channel;
        let mut families = Families::new(&self.metrics);
        #[allow(clippy::cast_precision_loss)]
        for ((agent, window), s) in sums {
            let base: Labels = vec![
                ("agent", agent.clone()),
                ("channel", channel.to_string()),
                ("window", window.label().to_string()),
            ];
            families.push(0, base.clone(), s.inspections as f64);
            families.push(1, base.clone(), s.score[0]);
            families.push(2, base.clone(), s.max[0]);
            for (i, part) in PARTS.iter().enumerate().skip(1) {
                if s.has[i] {
                    let mut labels = base.clone();
                    labels.push(("part", (*part).to_string()));
                    families.push(3, labels.clone(), s.score[i]);
                    families.push(4, labels, s.max[i]);
                }
            }
        }
        for (agent, name) in names {
            families.push(5, vec![("agent", agent.clone()), ("name", name.clone())], 1.0);
        }
        let mut families = families.finish();
        if !self.part_scores {
            families.retain(|f| !f.name.starts_with("sobot_quality_part_"));
        }
        families
    }
}

impl crate::collect::Collect for QualityCollector {
    fn name(&self) -> &str {
        QualityCollector::name(self)
    }

    fn collect(&self) -> crate::collect::Cycle<'_> {
        Box::pin(QualityCollector::collect(self))
    }

    fn needs_sobot_token(&self) -> bool {
        true
    }

    fn replay(&self) -> crate::collect::Replay {
        crate::collect::Replay::Daily
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::parse_errors;
    use serde_json::json;

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture is JSON")
    }

    fn decoder(name: &str, page_size: u32) -> (Decoder, Arc<Telemetry>) {
        let telemetry = Arc::new(Telemetry::new());
        let source = QualitySource::by_name(name).expect("a quality source");
        let errors = ParseErrors::new(source.name, telemetry.clone());
        (Decoder::new(source, page_size, Duration::from_secs(300), errors), telemetry)
    }

    /// Decodes `pages` of one day as `window`; returns the families and whether the last page
    /// said it was the last.
    fn decode(decoder: &Decoder, pages: Vec<Value>, window: Window) -> (Vec<Family>, bool) {
        let mut day = Day::default();
        let mut last = false;
        for (i, body) in pages.into_iter().enumerate() {
            let page = u32::try_from(i + 1).expect("few pages");
            last = decoder.page(body, page, &mut day).expect("a valid page");
        }
        let sums = day.sums.into_iter().map(|(agent, s)| ((agent, window), s)).collect();
        (decoder.families(&sums, &day.names), last)
    }

    /// The value of `name` with exactly `labels` (in sorted order).
    fn value(families: &[Family], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let family = families.iter().find(|f| &*f.name == name)?;
        let same = |sample: &Labels| {
            sample.len() == labels.len()
                && sample.iter().zip(labels).all(|((k, v), (lk, lv))| k == lk && v == lv)
        };
        family.samples.iter().find(|s| same(&s.labels)).map(|s| s.value)
    }

    #[test]
    fn quality_result_of_the_document() {
        let (decoder, _) = decoder("quality_result", 100);
        let body = fixture(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/sobot/quality_result.json"
        )));
        let (families, last) = decode(&decoder, vec![body], Window::Today);
        assert!(last, "one record on a page of 100 is the last page");
        assert_eq!(families.len(), QUALITY_METRICS.len());
        let a = [("agent", "61673ee8d98d4282a95cdad38ffd5f5b"), ("channel", "chat"), ("window", "today")];
        assert_eq!(value(&families, "sobot_quality_inspections", &a), Some(1.0));
        assert_eq!(value(&families, "sobot_quality_score_points", &a), Some(210.0));
        assert_eq!(value(&families, "sobot_quality_max_score_points", &a), Some(200.0));
        let part = |p| [a[0], a[1], ("part", p), a[2]];
        assert_eq!(value(&families, "sobot_quality_part_score_points", &part("minus")), Some(-10.0));
        assert_eq!(value(&families, "sobot_quality_part_max_score_points", &part("minus")), Some(-20.0));
        assert_eq!(value(&families, "sobot_quality_part_max_score_points", &part("add")), Some(20.0));
        assert_eq!(value(&families, "sobot_quality_part_score_points", &part("standard")), Some(200.0));
        let info = [("agent", "61673ee8d98d4282a95cdad38ffd5f5b"), ("name", "在线客服")];
        assert_eq!(value(&families, "sobot_agent_info", &info), Some(1.0));
        assert!(families[0].help.ends_with("Cached, refreshed every 300s."), "{}", families[0].help);
    }

    #[test]
    fn part_scores_switched_off_leave_the_totals() {
        let (decoder, _) = decoder("quality_result", 100);
        let decoder = decoder.part_scores(false);
        let body = fixture(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/sobot/quality_result.json"
        )));
        let (families, _) = decode(&decoder, vec![body], Window::Today);
        assert!(families.iter().all(|f| !f.name.starts_with("sobot_quality_part_")), "no HELP, no TYPE");
        let a = [("agent", "61673ee8d98d4282a95cdad38ffd5f5b"), ("channel", "chat"), ("window", "today")];
        assert_eq!(value(&families, "sobot_quality_score_points", &a), Some(210.0));
        assert_eq!(families.len(), QUALITY_METRICS.len() - 2);
    }

    #[test]
    fn chat_and_call_results_map_their_own_keys() {
        let (chat, _) = decoder("chat_result", 15);
        let body = fixture(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/sobot/chat_result.json"
        )));
        let (families, last) = decode(&chat, vec![body], Window::Yesterday);
        assert!(last, "no page_count: the short page is the last");
        let a = [("agent", "61673ee8d98d4282a95cdad38ffd5f5b"), ("channel", "chat"), ("window", "yesterday")];
        assert_eq!(value(&families, "sobot_quality_score_points", &a), Some(210.0));

        let (call, _) = decoder("call_result", 1);
        let body = fixture(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/sobot/call_result.json"
        )));
        let (families, last) = decode(&call, vec![body], Window::Today);
        assert!(last, "page_count 1: a full page 1 is the last");
        let a = [("agent", "2856580f156a4f9ea73dd4e9ac86896e"), ("channel", "call"), ("window", "today")];
        assert_eq!(value(&families, "sobot_quality_score_points", &a), Some(132.0));
        assert_eq!(value(&families, "sobot_quality_max_score_points", &a), Some(11.0));
        let part = |p| [a[0], a[1], ("part", p), a[2]];
        assert_eq!(value(&families, "sobot_quality_part_score_points", &part("add")), Some(122.0));
        assert_eq!(value(&families, "sobot_quality_part_max_score_points", &part("standard")), Some(123.5));
        assert_eq!(value(&families, "sobot_quality_part_score_points", &part("minus")), Some(0.0));
        let info = [("agent", "2856580f156a4f9ea73dd4e9ac86896e"), ("name", "testxx")];
        assert_eq!(value(&families, "sobot_agent_info", &info), Some(1.0));
    }

    #[test]
    fn records_without_an_agent_or_a_score_are_not_inspections() {
        let (decoder, telemetry) = decoder("call_result", 100);
        let ok = json!({"agentid": "a", "total_score": "1", "total_score_max": "2"});
        let mut records = vec![ok.clone(), ok.clone()];
        for broken in [
            json!({"total_score": "1", "total_score_max": "2"}),
            json!({"agentid": "  ", "total_score": "1", "total_score_max": "2"}),
            json!({"agentid": "b", "total_score": "-", "total_score_max": "2"}),
            json!({"agentid": "b", "total_score": "", "total_score_max": "2"}),
            json!({"agentid": "b", "total_score": "1", "total_score_max": "abc"}),
        ] {
            records.push(broken);
        }
        let (families, _) = decode(&decoder, vec![json!({"items": records, "page_count": 1})], Window::Today);
        let a = [("agent", "a"), ("channel", "call"), ("window", "today")];
        assert_eq!(value(&families, "sobot_quality_inspections", &a), Some(2.0));
        assert_eq!(families[0].samples.len(), 1, "agent b has no complete inspection");
        assert!(families[3].samples.is_empty(), "no part had both score and maximum");
        assert!(families[5].samples.is_empty(), "no name, no info series");
        assert_eq!(parse_errors(&telemetry, "call_result", "agentid"), 2.0);
        assert_eq!(parse_errors(&telemetry, "call_result", "total_score_max"), 1.0);
        assert_eq!(parse_errors(&telemetry, "call_result", "total_score"), 0.0, "blank and - are absent");
    }

    #[test]
    fn scores_that_would_sum_beyond_f64_are_counted_not_infinite() {
        // Found by the fuzz target: two scores near f64::MAX summed to +Inf, exported as such.
        let (decoder, telemetry) = decoder("quality_result", 100);
        let record = |cid: &str, score: Value, add: Value| {
            json!({"staffid": "a", "cid": cid, "schemeid": "s", "quality_score": score, "total_score": "10",
                   "add_quality_score": add, "add_total_score": "1"})
        };
        let huge = || serde_json::from_str::<Value>("1.7976931348623157e308").expect("a JSON number");
        let body = json!({"items": [
            record("1", huge(), huge()),
            record("2", huge(), json!("1")),
            record("3", json!("1"), huge()),
        ]});
        let (families, _) = decode(&decoder, vec![body], Window::Today);
        let a = [("agent", "a"), ("channel", "chat"), ("window", "today")];
        assert_eq!(
            value(&families, "sobot_quality_inspections", &a),
            Some(2.0),
            "the second record left out"
        );
        assert_eq!(value(&families, "sobot_quality_score_points", &a), Some(f64::MAX));
        assert_eq!(value(&families, "sobot_quality_max_score_points", &a), Some(20.0));
        let add = [a[0], a[1], ("part", "add"), a[2]];
        assert_eq!(
            value(&families, "sobot_quality_part_score_points", &add),
            Some(f64::MAX),
            "third's add left out"
        );
        assert!(families.iter().flat_map(|f| &f.samples).all(|s| s.value.is_finite()));
        assert_eq!(parse_errors(&telemetry, "quality_result", "quality_score"), 1.0);
        assert_eq!(parse_errors(&telemetry, "quality_result", "add_quality_score"), 1.0);
    }

    #[test]
    fn names_are_trimmed_and_cut_and_blank_names_give_no_info() {
        let (decoder, _) = decoder("quality_result", 100);
        let long = "名".repeat(200);
        let record = |agent: &str, name: &str| json!({"staffid": agent, "staff_name": name, "quality_score": "1", "total_score": "1"});
        let body =
            json!({"items": [record("a", &format!("  {long} ")), record("b", "   "), record("c", " Ann ")]});
        let (families, _) = decode(&decoder, vec![body], Window::Today);
        let info: Vec<(&str, &str)> =
            families[5].samples.iter().map(|s| (s.labels[0].1.as_str(), s.labels[1].1.as_str())).collect();
        // At most 128 bytes: 41 whole characters of three bytes and the ellipsis.
        assert_eq!(info, [("a", format!("{}…", "名".repeat(41)).as_str()), ("c", "Ann")]);
    }

    #[test]
    fn a_record_on_two_pages_is_one_inspection() {
        // The list may change while it is paged: a record seen again counts once.
        let (decoder, telemetry) = decoder("call_result", 1);
        let page = |n: u64| {
            let mut body = fixture(include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/sobot/call_result.json"
            )));
            body["page_count"] = json!(n.to_string());
            body
        };
        let mut day = Day::default();
        assert_eq!(decoder.page(page(3), 1, &mut day), Ok(false), "page_count as a string");
        assert_eq!(decoder.page(page(3), 2, &mut day), Ok(false));
        assert_eq!(decoder.page(page(3), 3, &mut day), Ok(true));
        assert_eq!(day.sums.get("2856580f156a4f9ea73dd4e9ac86896e").map(|s| s.inspections), Some(1));
        assert_eq!(crate::collect::duplicates(&telemetry, "call_result"), 2.0, "seen again twice");
        // Records without their key still count, each.
        let mut keyless = fixture(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/sobot/call_result.json"
        )));
        keyless["items"][0]["call_log_jestid"] = json!(null);
        let mut day = Day::default();
        assert_eq!(decoder.page(keyless.clone(), 1, &mut day), Ok(true));
        assert_eq!(decoder.page(keyless, 1, &mut day), Ok(true));
        assert_eq!(day.sums.get("2856580f156a4f9ea73dd4e9ac86896e").map(|s| s.inspections), Some(2));
    }

    #[test]
    fn page_size_paging_stops_at_the_short_page_and_lists_are_checked() {
        let (decoder, _) = decoder("quality_result", 2);
        let record = json!({"staffid": "a", "quality_score": "1", "total_score": "1"});
        let mut day = Day::default();
        assert_eq!(decoder.page(json!({"items": [record.clone(), record.clone()]}), 1, &mut day), Ok(false));
        assert_eq!(decoder.page(json!({"items": [record]}), 2, &mut day), Ok(true));
        assert_eq!(decoder.page(json!({"items": null}), 3, &mut day), Ok(true));
        assert_eq!(decoder.page(json!({"ret_code": "000000"}), 3, &mut day), Ok(true));
        assert_eq!(
            decoder.page(json!({"items": "none"}), 1, &mut day),
            Err(UpstreamError::InvalidResponse("quality_result: items is not a list".into()))
        );
        assert_eq!(day.sums.get("a").map(|s| s.inspections), Some(3));
    }
}
