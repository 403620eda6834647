//! Statistics collectors: one endpoint of the table, every configured window, in one of three
//! scopes (company, per group, per agent).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::Value;
use tracing::{debug, warn};

use crate::collect::{Families, Guard, MAX_LABEL_BYTES, Metric, ParseErrors, Windows, list};
use crate::snapshot::{Family, Labels};
use crate::sources::sobot::client::SobotClient;
use crate::sources::sobot::endpoints::{Endpoint, Rows};
use crate::table::Field;
use crate::telemetry::{COLLECTOR_FAILED_PARTS, COLLECTOR_TRUNCATED, Telemetry};
use crate::upstream::UpstreamError;
use crate::value::parse_id;
use crate::window::{Clock, Window};

/// Most ids the upstream accepts in one `groupids`/`serviceids` parameter (`210007` beyond).
pub const MAX_IDS_PER_REQUEST: usize = 100;

/// Per-agent rows one cycle reads at most, over all its requests (each answer is also cut at
/// [`crate::upstream::MAX_ITEMS`] by the upstream layer): an upstream that answers every chunk of
/// 100 ids with 20,000 rows cannot grow a cycle without bound. The rest are dropped and the
/// cycle reports `sobot_exporter_collector_truncated` 1.
pub(crate) const MAX_ROWS_PER_CYCLE: usize = 100_000;

/// The HELP text of a table field: what it is, where it comes from (every field of a family
/// that several fields share, with its Chinese name and label), what the documents say of it
/// (see [`crate::sources::sobot::endpoints::NOTES`]), that it is cached.
pub(crate) fn help_text(endpoint: &Endpoint, field: &Field, per_group: bool, interval: Duration) -> String {
    let siblings = endpoint.fields_of(field.metric);
    let source = if siblings.len() > 1 {
        let each: Vec<String> = siblings
            .iter()
            .map(|f| {
                let labels: Vec<String> = f.labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
                format!("{} {} as {}", f.key, f.zh, labels.join(","))
            })
            .collect();
        format!("Sobot {} fields {}, §{}", endpoint.name, each.join(", "), endpoint.section)
    } else {
        format!("{}; Sobot {} field {}, §{}", field.zh, endpoint.name, field.key, endpoint.section)
    };
    let note =
        crate::sources::sobot::endpoints::note(field.metric).map(|n| format!(" {n}.")).unwrap_or_default();
    format!(
        "{}{} ({source}), {}.{note} {}",
        field.en,
        if per_group { ", per skill group" } else { "" },
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
    scope: Scope,
    client: Arc<SobotClient>,
    decoder: Decoder,
    /// Each window's rows, decoded (yesterday's kept for an hour).
    windows: Windows<Vec<Decoded>>,
    /// The per-agent scope's cardinality guard.
    guard: Option<Guard>,
    /// Groups that failed in the current cycle.
    failed_parts: AtomicUsize,
    /// Per-agent rows read in the current cycle, against [`MAX_ROWS_PER_CYCLE`].
    rows_read: AtomicUsize,
    /// Whether the row budget has been warned about (once per collector).
    warned_budget: AtomicBool,
    telemetry: Arc<Telemetry>,
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
    /// Which optional families are exported.
    pub switches: Switches,
    /// What "now" is (the system's time but in the backfill).
    pub clock: Clock,
}

/// The families a config can switch off (cardinality knobs); all on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Switches {
    /// `sobot_agent_score_evaluations{score}` (config `agent_score_evaluations`).
    pub(crate) agent_score_evaluations: bool,
    /// `sobot_quality_part_*` (config `quality.part_scores`).
    pub(crate) quality_part_scores: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Self { agent_score_evaluations: true, quality_part_scores: true }
    }
}

impl Switches {
    /// Whether the table field exported as `metric` is collected.
    pub(crate) fn keeps(&self, metric: &str) -> bool {
        self.agent_score_evaluations || metric != "sobot_agent_score_evaluations"
    }
}

impl StatsCollector {
    /// A collector for `endpoint` in `scope`.
    pub fn new(endpoint: &'static Endpoint, scope: Scope, ctx: Context) -> Self {
        let per_group = matches!(scope, Scope::PerGroup(_));
        let name = if per_group { format!("group_{}", endpoint.name) } else { endpoint.name.to_string() };
        let guard = match scope {
            Scope::PerAgent { max_agents, .. } => {
                Some(Guard::new(&name, max_agents, "agents", ctx.telemetry.clone()))
            }
            Scope::Company | Scope::PerGroup(_) => None,
        };
        let errors = ParseErrors::new(endpoint.name, ctx.telemetry.clone());
        Self {
            name,
            scope,
            client: ctx.client,
            decoder: Decoder::new(endpoint, per_group, ctx.interval, ctx.switches, errors),
            windows: Windows::new(ctx.windows, ctx.tz).clocked(ctx.clock),
            guard,
            failed_parts: AtomicUsize::new(0),
            rows_read: AtomicUsize::new(0),
            warned_budget: AtomicBool::new(false),
            telemetry: ctx.telemetry,
        }
    }

    /// The collector's name: the endpoint's, `group_` + it for the per-group scope.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One cycle: fetches every window; fails if any request fails.
    pub async fn collect(&self) -> Result<Vec<Family>, UpstreamError> {
        self.failed_parts.store(0, Ordering::Relaxed);
        self.rows_read.store(0, Ordering::Relaxed);
        let days = self.windows.fetch(|day| self.fetch_window(day)).await?;
        let mut rows: Vec<(Window, &Decoded)> =
            days.iter().flat_map(|(window, rows)| rows.iter().map(move |row| (*window, row))).collect();
        if let Some(guard) = &self.guard {
            let kept = guard.keep(rows.iter().filter_map(|(_, (labels, _))| agent_of(labels)));
            rows.retain(|(_, (labels, _))| agent_of(labels).is_some_and(|a| kept.contains(a)));
        }
        if matches!(self.scope, Scope::PerGroup(_)) {
            #[allow(clippy::cast_precision_loss)]
            let failed = self.failed_parts.load(Ordering::Relaxed) as f64;
            self.telemetry.set_collector(COLLECTOR_FAILED_PARTS, &self.name, failed);
        }
        if matches!(self.scope, Scope::PerAgent { .. }) {
            let truncated = self.rows_read.load(Ordering::Relaxed) > MAX_ROWS_PER_CYCLE;
            self.telemetry.set_collector(COLLECTOR_TRUNCATED, &self.name, f64::from(u8::from(truncated)));
            if truncated && !self.warned_budget.swap(true, Ordering::Relaxed) {
                warn!(
                    collector = %self.name,
                    max_rows = MAX_ROWS_PER_CYCLE,
                    "the answers of one cycle held more agent rows than the exporter reads: the rest were dropped (logged once; see sobot_exporter_collector_truncated)"
                );
            }
        }
        Ok(self.decoder.samples(&rows))
    }

    /// Every row of one day, decoded as each answer arrives (no answer's JSON outlives its
    /// request).
    async fn fetch_window(&self, day: Date) -> Result<Vec<Decoded>, UpstreamError> {
        let (start, end) = self.windows.range(day, self.decoder.endpoint.date_format);
        let dates = [("start_date", start), ("end_date", end)];
        let mut rows = Vec::new();
        match &self.scope {
            Scope::Company => {
                let item = self.fetch(&dates, None, |body| self.decoder.item(body)).await?;
                rows.push(self.decoder.decode(Vec::new(), &item));
            }
            Scope::PerGroup(groups) => {
                // A group the upstream rejects fails only itself (counted); all failing fail the cycle.
                let mut failure = None;
                for group in groups {
                    let filter = Some(("groupids", group.clone()));
                    match self.fetch(&dates, filter, |body| self.decoder.item(body)).await {
                        Ok(item) => rows.push(self.decoder.decode(vec![("group", group.clone())], &item)),
                        Err(e) => {
                            debug!(collector = %self.name, group, error = %e, "one group failed");
                            self.failed_parts.fetch_add(1, Ordering::Relaxed);
                            failure.get_or_insert(e);
                        }
                    }
                }
                if let Some(e) = failure.filter(|_| rows.is_empty()) {
                    return Err(e);
                }
            }
            Scope::PerAgent { filter, .. } => {
                let chunks: Vec<Option<(&str, String)>> = match filter {
                    None => vec![None],
                    Some((key, ids)) => {
                        ids.chunks(MAX_IDS_PER_REQUEST).map(|c| Some((*key, c.join(",")))).collect()
                    }
                };
                // A row whose labels an earlier row of the day had is skipped whole (counted).
                let mut seen = std::collections::BTreeSet::new();
                for chunk in chunks {
                    for (labels, row) in self.fetch(&dates, chunk, |body| self.decoder.items(body)).await? {
                        // Counted past the budget too, so that the cycle knows it was cut.
                        if self.rows_read.fetch_add(1, Ordering::Relaxed) < MAX_ROWS_PER_CYCLE
                            && self.decoder.errors.first(&mut seen, labels.clone())
                        {
                            rows.push(self.decoder.decode(labels, &row));
                        }
                    }
                }
            }
        }
        Ok(rows)
    }

    /// One request, its answer read by `decode` (see [`SobotClient::call`]).
    async fn fetch<T>(
        &self,
        dates: &[(&'static str, String); 2],
        filter: Option<(&str, String)>,
        decode: impl Fn(Value) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        let ep = self.decoder.endpoint;
        let mut params: Vec<(&str, String)> = dates.to_vec();
        params.extend(filter);
        self.client.call(ep.name, ep.method, ep.path, &params, decode).await
    }
}

/// The fields of an endpoint a collector keeps, with their metric names and HELP texts, made
/// once per endpoint, scope, interval and switches and shared by every collector of them (a
/// thousand tenants hold one copy).
fn metrics_of(
    endpoint: &'static Endpoint,
    per_group: bool,
    interval: Duration,
    switches: Switches,
) -> Arc<[(&'static Field, Metric)]> {
    type Key = (&'static str, bool, Duration, Switches);
    type Tables = std::collections::HashMap<Key, Arc<[(&'static Field, Metric)]>>;
    static TABLES: std::sync::OnceLock<std::sync::Mutex<Tables>> = std::sync::OnceLock::new();
    let mut tables =
        TABLES.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    tables
        .entry((endpoint.name, per_group, interval, switches))
        .or_insert_with(|| {
            endpoint
                .fields
                .iter()
                .filter(|f| switches.keeps(f.metric))
                .map(|f| {
                    let name =
                        if per_group { Endpoint::group_metric(f.metric) } else { f.metric.to_string() };
                    (f, (name.into(), help_text(endpoint, f, per_group, interval).into()))
                })
                .collect()
        })
        .clone()
}

/// A row's identifying labels and its fields' values (in the table's order), parsed once.
pub(crate) type Decoded = (Labels, Box<[Option<f64>]>);

/// The pure half of a statistics collector: answers to rows, rows to families.
#[derive(Debug)]
pub(crate) struct Decoder {
    endpoint: &'static Endpoint,
    /// The fields of `endpoint` the switches keep, each with its metric name and HELP text.
    fields: Arc<[(&'static Field, Metric)]>,
    errors: ParseErrors,
}

impl Decoder {
    pub(crate) fn new(
        endpoint: &'static Endpoint,
        per_group: bool,
        interval: Duration,
        switches: Switches,
        errors: ParseErrors,
    ) -> Self {
        let fields = metrics_of(endpoint, per_group, interval, switches);
        Self { endpoint, fields, errors }
    }

    /// The `item` object of a company (or group) answer.
    pub(crate) fn item(&self, mut body: Value) -> Result<Value, UpstreamError> {
        match body.get_mut("item").map(Value::take) {
            Some(item @ Value::Object(_)) => Ok(item),
            _ => Err(UpstreamError::InvalidResponse(format!(
                "{}: no item object in the answer",
                self.endpoint.name
            ))),
        }
    }

    /// The rows of a per-agent answer with their identifying labels; rows without an agent are
    /// counted and skipped.
    pub(crate) fn items(&self, mut body: Value) -> Result<Vec<(Labels, Value)>, UpstreamError> {
        // The documents say `item` in the table and `items` in the examples; accept both.
        let rows = list(&mut body, self.endpoint.name, &["items", "item"])?;
        Ok(rows.into_iter().filter_map(|row| Some((self.row_labels(&row)?, row))).collect())
    }

    /// The identifying labels of a row; `None` (counted) if it has no agent id, or an id longer
    /// than [`MAX_LABEL_BYTES`].
    fn row_labels(&self, row: &Value) -> Option<Labels> {
        let Rows::Items(keys) = self.endpoint.rows else {
            return Some(Vec::new());
        };
        let mut labels = Vec::with_capacity(keys.len());
        for (i, (label, key)) in keys.iter().enumerate() {
            match parse_id(row.get(*key)) {
                Some(id) if id.len() > MAX_LABEL_BYTES => {
                    self.errors.count(key, row.get(*key));
                    return None;
                }
                Some(id) => labels.push((*label, id)),
                // Without an agent the row means nothing; a missing group is an empty label.
                None if i == 0 => {
                    self.errors.count(key, row.get(*key));
                    return None;
                }
                None => {}
            }
        }
        Some(labels)
    }

    /// A row's fields parsed (values that do not parse are counted).
    pub(crate) fn decode(&self, labels: Labels, row: &Value) -> Decoded {
        let values = self.fields.iter().map(|(f, _)| self.errors.value(row, f.key, f.unit)).collect();
        (labels, values)
    }

    /// [`Decoder::decode`] then [`Decoder::samples`].
    #[cfg(test)]
    fn families(&self, rows: &[(Labels, Window, Value)]) -> Vec<Family> {
        let decoded: Vec<(Window, Decoded)> =
            rows.iter().map(|(labels, window, row)| (*window, self.decode(labels.clone(), row))).collect();
        self.samples(&decoded.iter().map(|(w, d)| (*w, d)).collect::<Vec<_>>())
    }

    /// One family per field, one sample per row and field that has a value.
    pub(crate) fn samples(&self, rows: &[(Window, &Decoded)]) -> Vec<Family> {
        let mut families = Families::new(self.fields.iter().map(|(_, metric)| metric));
        for (window, (row_labels, values)) in rows {
            for (i, (field, _)) in self.fields.iter().enumerate() {
                let Some(value) = values.get(i).copied().flatten() else {
                    continue;
                };
                let mut labels: Labels = row_labels.clone();
                labels.extend(field.labels.iter().map(|(k, v)| (*k, (*v).to_string())));
                labels.push(("window", window.label().to_string()));
                families.push(i, labels, value);
            }
        }
        families.finish()
    }
}

fn agent_of(labels: &Labels) -> Option<&str> {
    labels.iter().find(|(k, _)| *k == "agent").map(|(_, v)| v.as_str())
}

impl crate::collect::Collect for StatsCollector {
    fn name(&self) -> &str {
        StatsCollector::name(self)
    }

    fn collect(&self) -> crate::collect::Cycle<'_> {
        Box::pin(StatsCollector::collect(self))
    }

    fn needs_sobot_token(&self) -> bool {
        true
    }

    /// Hourly for an endpoint dated by the hour (`yyyy-MM-dd HH`), else daily.
    fn replay(&self) -> crate::collect::Replay {
        match self.decoder.endpoint.date_format {
            crate::table::DateFormat::Hour => crate::collect::Replay::Hourly,
            _ => crate::collect::Replay::Daily,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::parse_errors;
    use crate::collect::series;
    use serde_json::json;

    const INTERVAL: Duration = Duration::from_secs(60);

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture is JSON")
    }

    fn decoder(name: &str, per_group: bool) -> (Decoder, Arc<Telemetry>) {
        let telemetry = Arc::new(Telemetry::new());
        let endpoint = Endpoint::by_name(name).expect("endpoint in the table");
        let errors = ParseErrors::new(endpoint.name, telemetry.clone());
        (Decoder::new(endpoint, per_group, INTERVAL, Switches::default(), errors), telemetry)
    }

    fn today(rows: Vec<(Labels, Value)>) -> Vec<(Labels, Window, Value)> {
        rows.into_iter().map(|(labels, row)| (labels, Window::Today, row)).collect()
    }

    #[test]
    fn a_company_answer_gives_one_sample_per_field() {
        let (decoder, telemetry) = decoder("robot_session", false);
        let item = decoder.item(fixture(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/sobot/robot_session.json"
        ))));
        let families = decoder.families(&today(vec![(Vec::new(), item.expect("item object"))]));
        assert_eq!(families.len(), decoder.endpoint.fields.len());
        let s = series(&families);
        assert_eq!(s.len(), 9);
        assert_eq!(s.get("sobot_robot_self_reception_ratio{window=\"today\"}"), Some(&0.5349));
        assert_eq!(s.get("sobot_robot_avg_session_duration_seconds{window=\"today\"}"), Some(&7.0));
        assert_eq!(s.get("sobot_robot_consult_sessions{window=\"today\"}"), Some(&63.0));
        assert!(families[0].help.ends_with("Cached, refreshed every 60s."), "{}", families[0].help);
        assert_eq!(parse_errors(&telemetry, "robot_session", "consult_session"), 0.0);
    }

    #[test]
    fn absent_values_leave_an_empty_family_and_labelled_fields_share_a_name() {
        let (decoder, telemetry) = decoder("human_satisfaction", false);
        let item = decoder.item(fixture(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/sobot/human_satisfaction.json"
        ))));
        let families = decoder.families(&today(vec![(Vec::new(), item.expect("item object"))]));
        let invitations: Vec<&Family> =
            families.iter().filter(|f| &*f.name == "sobot_human_satisfaction_invitations").collect();
        assert_eq!(invitations.len(), 1, "HELP and TYPE even without a value");
        assert!(invitations[0].samples.is_empty(), "the example has no invite_counts: no sample, not 0");
        assert_eq!(parse_errors(&telemetry, "human_satisfaction", "invite_counts"), 0.0);
        let s = series(&families);
        assert_eq!(s.get("sobot_human_satisfaction_invited_ratio{window=\"today\"}"), Some(&-0.6));
        assert_eq!(s.get("sobot_human_satisfaction_avg_score{window=\"today\"}"), Some(&3.8));
        assert_eq!(
            s.get("sobot_human_satisfaction_score_evaluations{score=\"2\",window=\"today\"}"),
            Some(&1.0)
        );
    }

    #[test]
    fn blank_dash_and_garbage_values() {
        let (decoder, telemetry) = decoder("customer_session", false);
        let body = json!({"item": {
            "total_consult_session": "-",
            "total_valid_session": " ",
            "total_valid_session_rate": "68.82",
            "avg_session_duration": "00:04:03",
            "total_invalid_session": null,
        }});
        let item = decoder.item(body).expect("item object");
        let s = series(&decoder.families(&today(vec![(Vec::new(), item)])));
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s.get("sobot_customer_avg_reception_duration_seconds{window=\"today\"}"), Some(&243.0));
        assert_eq!(parse_errors(&telemetry, "customer_session", "total_valid_session_rate"), 1.0);
        for absent in ["total_consult_session", "total_valid_session", "total_invalid_session"] {
            assert_eq!(parse_errors(&telemetry, "customer_session", absent), 0.0, "{absent}");
        }
    }

    #[test]
    fn an_answer_without_an_item_object_is_invalid() {
        let (decoder, _) = decoder("robot_session", false);
        for body in [json!({}), json!({"item": null}), json!({"item": []}), json!({"items": {}})] {
            assert_eq!(
                decoder.item(body.clone()),
                Err(UpstreamError::InvalidResponse("robot_session: no item object in the answer".into())),
                "{body}"
            );
        }
    }

    #[test]
    fn per_group_rows_have_their_own_names_and_a_group_label() {
        let (decoder, _) = decoder("human_session", true);
        let item = decoder.item(fixture(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/sobot/human_session.json"
        ))));
        let item = item.expect("item object");
        let rows = vec![
            (vec![("group", "g1".to_string())], Window::Today, item.clone()),
            (vec![("group", "g2".to_string())], Window::Yesterday, item),
        ];
        let families = decoder.families(&rows);
        assert!(families[0].help.contains(", per skill group ("), "{}", families[0].help);
        let s = series(&families);
        assert_eq!(s.get("sobot_group_human_consult_sessions{group=\"g1\",window=\"today\"}"), Some(&132.0));
        assert_eq!(
            s.get("sobot_group_human_consult_sessions{group=\"g2\",window=\"yesterday\"}"),
            Some(&132.0)
        );
        assert!(s.keys().all(|k| k.starts_with("sobot_group_")));
    }

    #[test]
    fn per_agent_rows_are_labelled_by_agent_and_group() {
        let (decoder, _) = decoder("get_service_data", false);
        let rows = decoder.items(fixture(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/sobot/get_service_data.json"
        ))));
        let rows = rows.expect("a list");
        assert_eq!(rows.len(), 2);
        let s = series(&decoder.families(&today(rows)));
        let a = "agent=\"093685e7ae854979b3f07a97ea3685bc\",group=\"a1d05d23f7744927a97bd6651d2b6ef7\"";
        assert_eq!(
            s.get(&format!("sobot_agent_avg_first_response_time_seconds{{{a},window=\"today\"}}")),
            Some(&5.0)
        );
        assert_eq!(s.get(&format!("sobot_agent_valid_sessions{{{a},window=\"today\"}}")), Some(&1.0));
        assert_eq!(
            s.get(&format!("sobot_agent_score_evaluations{{{a},score=\"5\",window=\"today\"}}")),
            Some(&0.0)
        );
        let b = "agent=\"738faf75873c4c47a79f4dfea83f164d\",group=\"edfcdcc480604bbc96f0585ee778a51a\"";
        assert_eq!(
            s.get(&format!("sobot_agent_avg_first_response_time_seconds{{{b},window=\"today\"}}")),
            Some(&62.0)
        );
        assert_eq!(s.len(), 2 * decoder.endpoint.fields.len());
    }

    #[test]
    fn the_help_of_a_family_of_several_fields_names_each() {
        let endpoint = Endpoint::by_name("get_service_data").expect("endpoint in the table");
        let field = &endpoint.fields_of("sobot_agent_score_evaluations")[0];
        let help = help_text(endpoint, field, false, INTERVAL);
        for score in 1..=5 {
            assert!(help.contains(&format!("score{score} {score}分数 as score=\"{score}\"")), "{help}");
        }
        assert!(help.contains("Agent scores run 1-5"), "{help}");
        let ratio =
            Endpoint::by_name("human_session").expect("endpoint").fields_of("sobot_human_not_received_ratio");
        let help = help_text(Endpoint::by_name("human_session").expect("endpoint"), ratio[0], true, INTERVAL);
        assert!(
            help.contains("(人工未接待会话率; Sobot human_session field not_reception_session_rate, §2.4)"),
            "{help}"
        );
        assert!(help.contains("not_reception_session / valid_session"), "{help}");
    }

    #[test]
    fn a_switched_off_family_is_neither_parsed_nor_served() {
        let telemetry = Arc::new(Telemetry::new());
        let endpoint = Endpoint::by_name("get_service_data").expect("endpoint in the table");
        let errors = ParseErrors::new(endpoint.name, telemetry.clone());
        let switches = Switches { agent_score_evaluations: false, ..Switches::default() };
        let decoder = Decoder::new(endpoint, false, INTERVAL, switches, errors);
        let body = json!({"items": [{"serviceid": "a", "score5": "bad", "valid_session": "3"}]});
        let families = decoder.families(&today(decoder.items(body).expect("a list")));
        assert!(families.iter().all(|f| &*f.name != "sobot_agent_score_evaluations"), "no HELP, no TYPE");
        assert_eq!(families.len(), endpoint.fields.len() - 5);
        assert_eq!(
            series(&families).get("sobot_agent_valid_sessions{agent=\"a\",window=\"today\"}"),
            Some(&3.0)
        );
        assert_eq!(parse_errors(&telemetry, "get_service_data", "score5"), 0.0, "not even read");
    }

    #[test]
    fn rows_without_an_agent_are_counted_and_skipped() {
        let (decoder, telemetry) = decoder("get_service_data", false);
        let body = json!({"items": [
            {"serviceid": " a1 ", "groupid": "g", "valid_session": "1"},
            {"groupid": "g", "valid_session": "2"},
            {"serviceid": "", "valid_session": "3"},
            {"serviceid": null, "valid_session": "4"},
            {"serviceid": 42, "valid_session": "5"},
            {"serviceid": "a2", "groupid": "  ", "valid_session": "6"},
        ]});
        let rows = decoder.items(body).expect("a list");
        let labels: Vec<&Labels> = rows.iter().map(|(l, _)| l).collect();
        assert_eq!(
            labels,
            [
                &vec![("agent", "a1".to_string()), ("group", "g".to_string())],
                &vec![("agent", "42".to_string())],
                &vec![("agent", "a2".to_string())],
            ]
        );
        assert_eq!(parse_errors(&telemetry, "get_service_data", "serviceid"), 3.0);
        assert_eq!(
            parse_errors(&telemetry, "get_service_data", "groupid"),
            0.0,
            "a missing group is no error"
        );
    }

    #[test]
    fn a_row_repeated_across_chunks_counts_once() {
        let (decoder, _) = decoder("human_duration", false);
        let first = decoder.items(fixture(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/sobot/human_duration.json"
        ))));
        let mut rows = first.expect("a list");
        let repeated = json!({"items": [{"serviceid": "ffb4fccb6c3a48a6b185ob5de171b6bb", "login_duration": "01:00:00"}]});
        rows.extend(decoder.items(repeated).expect("a list"));
        let s = series(&decoder.families(&today(rows)));
        let d = "agent=\"ffb4fccb6c3a48a6b185ob5de171b6bb\",window=\"today\"";
        assert_eq!(s.get(&format!("sobot_agent_login_seconds{{{d}}}")), Some(&971.0), "the first row wins");
        assert_eq!(s.get(&format!("sobot_agent_break_seconds{{{d}}}")), Some(&978.0));
        assert_eq!(s.len(), 2 * decoder.endpoint.fields.len());
    }

    #[test]
    fn per_agent_lists_under_items_or_item_null_or_missing() {
        let (decoder, _) = decoder("human_duration", false);
        let row = json!({"serviceid": "a", "login_duration": "00:00:01"});
        assert_eq!(decoder.items(json!({"item": [row]})).map(|r| r.len()), Ok(1));
        assert_eq!(decoder.items(json!({"items": null})).map(|r| r.len()), Ok(0));
        assert_eq!(decoder.items(json!({"ret_code": "000000"})).map(|r| r.len()), Ok(0));
        assert_eq!(
            decoder.items(json!({"items": {"serviceid": "a"}})),
            Err(UpstreamError::InvalidResponse("human_duration: items is not a list".into()))
        );
    }
}
