//! The pure half of the platform: answers (as the client returns them) to metric families.
//!
//! Absent is not zero: a blank, `"-"`, null or missing value gives no sample; a value outside the
//! grammar gives no sample and counts in `sobot_exporter_parse_errors_total`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde_json::Value;

use super::{STAFF_JOB_LIST, STAFF_LOG_INFOS, TENANT_LIST};
use crate::collect::{Families, Metric, ParseErrors, label_id, label_name};
use crate::snapshot::{Family, Labels};
use crate::telemetry::Telemetry;
use crate::value::{Unit, parse_u64};
use crate::window::Window;

/// How a platform metric reads its upstream value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// A whole number, a JSON number or a numeric string: `3`, `"3"`.
    Count,
    /// A percent string as a ratio 0–1: `"100%"` → 1, `"00%"` → 0.
    Ratio,
    /// `true`/`false` (also `1`/`0`, as numbers or strings) as 1/0.
    Flag,
    /// A date `yyyy-MM-dd`: the Unix time of its last second (23:59:59) in the configured time
    /// zone; a `yyyy-MM-dd HH:mm:ss` is read as that local time.
    EndOfDay,
    /// Milliseconds since the Unix epoch, exported in seconds.
    Millis,
    /// A word of a known list: 1 for the current state, 0 for the others.
    State,
    /// 1, with the value in a label.
    Info,
}

impl Reading {
    /// A short English description for HELP texts and the metrics reference.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Reading::Count => "count",
            Reading::Ratio => "ratio 0–1",
            Reading::Flag => "1 or 0",
            Reading::EndOfDay | Reading::Millis => "Unix time in seconds",
            Reading::State => "state set",
            Reading::Info => "info, value 1",
        }
    }
}

/// One platform metric: where it comes from and what it means.
#[derive(Debug)]
pub(crate) struct PlatformMetric {
    /// Metric name.
    pub(crate) name: &'static str,
    /// Its labels, as the reference lists them.
    pub(crate) labels: &'static str,
    /// The upstream endpoint's name (the last path segment).
    pub(crate) endpoint: &'static str,
    /// The upstream field.
    pub(crate) key: &'static str,
    /// The field's Chinese name in the document; `None` where the document names none (the answer
    /// of getTenantList has no field table).
    pub(crate) zh: Option<&'static str>,
    /// How the value is read.
    pub(crate) reading: Reading,
    /// What it means.
    pub(crate) meaning: &'static str,
}

impl PlatformMetric {
    /// The HELP text: meaning, Chinese name, upstream field, unit, cache interval.
    pub(crate) fn help(&self, interval: Duration) -> String {
        let zh = self.zh.map_or_else(|| "unnamed in the document; ".to_string(), |zh| format!("{zh}; "));
        format!(
            "{} ({zh}Sobot platform {} field {}), {}. {}",
            self.meaning,
            self.endpoint,
            self.key,
            self.reading.describe(),
            crate::snapshot::cached(interval)
        )
    }
}

const fn metric(
    name: &'static str,
    labels: &'static str,
    endpoint: &'static str,
    key: &'static str,
    zh: Option<&'static str>,
    reading: Reading,
    meaning: &'static str,
) -> PlatformMetric {
    PlatformMetric { name, labels, endpoint, key, zh, reading, meaning }
}

/// Every platform metric: getTenantList's, tenantStaffJobList's, getStaffLogInfos'. Each decoder
/// exports the metrics of its endpoint, in this order.
pub(crate) static PLATFORM_METRICS: &[PlatformMetric] = &[
    metric(
        "sobot_platform_tenant_info",
        "tenant, name",
        "getTenantList",
        "companyName",
        Some("公司名称"),
        Reading::Info,
        "1 for every tenant of the platform with a name; tenant is its companyId",
    ),
    metric(
        "sobot_platform_tenant_agents",
        "tenant",
        "getTenantList",
        "serviceNum",
        None,
        Reading::Count,
        "Agents (客服) the tenant has",
    ),
    metric(
        "sobot_platform_tenant_max_agents",
        "tenant",
        "getTenantList",
        "maxServiceCount",
        Some("最大客服数量, maxCount of addTenant"),
        Reading::Count,
        "Most agents the tenant may have",
    ),
    metric(
        "sobot_platform_tenant_enabled",
        "tenant",
        "getTenantList",
        "tenantStatus",
        Some("商户状态: 开启 1, 停用 0"),
        Reading::Flag,
        "Whether the tenant is enabled (1) or disabled (0)",
    ),
    metric(
        "sobot_platform_tenant_contract_end_timestamp_seconds",
        "tenant",
        "getTenantList",
        "endTime",
        None,
        Reading::EndOfDay,
        "End of the tenant's term: the last second of the endTime day (e.g. 2099-12-31) in the configured time zone",
    ),
    metric(
        "sobot_platform_staff_first_response_sessions",
        "tenant, staff, window",
        "tenantStaffJobList",
        "first_response_time_set",
        Some("首次接待首响会话"),
        Reading::Count,
        "Sessions the staff received first and answered",
    ),
    metric(
        "sobot_platform_staff_transfer_first_responses",
        "tenant, staff, window",
        "tenantStaffJobList",
        "transfer_first_response_count",
        Some("转接首响次数"),
        Reading::Count,
        "First responses of the staff to transferred sessions",
    ),
    metric(
        "sobot_platform_staff_valid_consult_sessions",
        "tenant, staff, window",
        "tenantStaffJobList",
        "session_human_visitor_consult",
        Some("有效咨询会话"),
        Reading::Count,
        "Valid consultation sessions of the staff",
    ),
    metric(
        "sobot_platform_staff_first_response_in60s_ratio",
        "tenant, staff, window",
        "tenantStaffJobList",
        "first_response_in60s_rate",
        Some("首响 60s 应答率"),
        Reading::Ratio,
        "Ratio of the staff's first responses within 60 seconds",
    ),
    metric(
        "sobot_platform_staff_status",
        "tenant, staff, status",
        "getStaffLogInfos",
        "operationAction",
        Some("客服状态"),
        Reading::State,
        "1 for the staff's current state (the latest operationAction of the last week; online 在线, busy 忙碌, offline 离线, break 小休, training 培训, meeting 会议, meal 用餐, activity 活动, other), 0 for the others",
    ),
    metric(
        "sobot_platform_staff_status_change_timestamp_seconds",
        "tenant, staff",
        "getStaffLogInfos",
        "datetime",
        Some("操作时间"),
        Reading::Millis,
        "When the staff's current state began: the latest datetime of the last week",
    ),
];

/// The staff states of `PLATFORM_METRICS`' `sobot_platform_staff_status`: the word upstream →
/// the `status` label. Only 在线 appears in the document's example; the others are the states of
/// the per-agent durations of the statistics API (human_duration: 在线, 忙碌, 小休, 培训, 会议, 用餐,
/// 活动), and 离线, the state of a staff logged out.
pub const STAFF_STATES: [(&str, &str); 8] = [
    ("在线", "online"),
    ("忙碌", "busy"),
    ("离线", "offline"),
    ("小休", "break"),
    ("培训", "training"),
    ("会议", "meeting"),
    ("用餐", "meal"),
    ("活动", "activity"),
];

/// The `status` label of a word not in [`STAFF_STATES`].
pub(crate) const OTHER_STATE: &str = "other";

/// Names and HELP texts of the metrics of one endpoint, in table order.
fn metrics_of(endpoint: &str, interval: Duration) -> Vec<Metric> {
    PLATFORM_METRICS
        .iter()
        .filter(|m| m.endpoint == endpoint)
        .map(|m| (m.name.into(), m.help(interval).into()))
        .collect()
}

/// The table entries of one endpoint, in table order.
pub(crate) fn table_of(endpoint: &str) -> impl Iterator<Item = &'static PlatformMetric> {
    PLATFORM_METRICS.iter().filter(move |m| m.endpoint == endpoint)
}

/// A name cut to a label value of sane length.
fn name_label(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(label_name(s)),
        _ => None,
    }
}

/// getTenantList's records → the `sobot_platform_tenant_*` families (label `tenant`).
#[derive(Debug)]
pub struct TenantDecoder {
    metrics: Vec<Metric>,
    errors: ParseErrors,
    tz: TimeZone,
}

impl TenantDecoder {
    /// A decoder for an `interval`, reading `endTime` in `tz`.
    pub fn new(interval: Duration, tz: TimeZone, telemetry: Arc<Telemetry>) -> Self {
        let errors = ParseErrors::new(TENANT_LIST.label, telemetry);
        Self { metrics: metrics_of(TENANT_LIST.upstream_name(), interval), errors, tz }
    }

    /// One sample per tenant and metric that has a value; a record without a `companyId` is
    /// counted and skipped, a tenant listed twice keeps its first record.
    pub fn families(&self, rows: &[Value]) -> Vec<Family> {
        let mut families = Families::new(&self.metrics);
        let mut seen = std::collections::BTreeSet::new();
        for row in rows {
            let Some(tenant) = label_id(row.get("companyId")) else {
                self.errors.count("companyId", row.get("companyId"));
                continue;
            };
            if !self.errors.first(&mut seen, tenant.clone()) {
                continue;
            }
            let labels = || vec![("tenant", tenant.clone())];
            for (i, m) in table_of(TENANT_LIST.upstream_name()).enumerate() {
                let value = match m.reading {
                    Reading::Info => {
                        if let Some(name) = name_label(row.get(m.key)) {
                            families.push(i, vec![("tenant", tenant.clone()), ("name", name)], 1.0);
                        }
                        continue;
                    }
                    Reading::Count => self.errors.value(row, m.key, Unit::Count),
                    Reading::Flag => self.flag(row, m.key),
                    Reading::EndOfDay => self.end_of_day(row, m.key),
                    Reading::Ratio | Reading::Millis | Reading::State => None,
                };
                if let Some(value) = value {
                    families.push(i, labels(), value);
                }
            }
        }
        families.finish()
    }

    /// `true`/`false`, `1`/`0` (numbers or strings) as 1/0.
    fn flag(&self, row: &Value, key: &str) -> Option<f64> {
        let raw = row.get(key);
        let flag = match raw? {
            Value::Null => return None,
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_u64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "" | "-" => return None,
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if flag.is_none() {
            self.errors.count(key, raw);
        }
        flag.map(|b| f64::from(u8::from(b)))
    }

    /// A date as the Unix time of its last second in the time zone.
    fn end_of_day(&self, row: &Value, key: &str) -> Option<f64> {
        let raw = row.get(key);
        let text = match raw? {
            Value::Null => return None,
            Value::String(s) => s.trim(),
            _ => "?",
        };
        if text.is_empty() || text == "-" {
            return None;
        }
        let local = match text.len() {
            10 => Date::strptime("%Y-%m-%d", text).ok().map(|d| d.at(23, 59, 59, 0)),
            19 => DateTime::strptime("%Y-%m-%d %H:%M:%S", text).ok(),
            _ => None,
        };
        let seconds = local.and_then(|t| t.to_zoned(self.tz.clone()).ok()).map(|z| z.timestamp().as_second());
        if seconds.is_none() {
            self.errors.count(key, raw);
        }
        // Whole seconds between years -9999 and 9999: exact in an f64.
        #[allow(clippy::cast_precision_loss)]
        seconds.map(|s| s as f64)
    }
}

/// tenantStaffJobList's rows → the `sobot_platform_staff_*` statistics (labels `tenant`, `staff`,
/// `window`).
#[derive(Debug)]
pub struct StaffJobDecoder {
    metrics: Vec<Metric>,
    errors: ParseErrors,
}

impl StaffJobDecoder {
    /// A decoder for an `interval`.
    pub fn new(interval: Duration, telemetry: Arc<Telemetry>) -> Self {
        let errors = ParseErrors::new(STAFF_JOB_LIST.label, telemetry);
        Self { metrics: metrics_of(STAFF_JOB_LIST.upstream_name(), interval), errors }
    }

    /// One sample per row, field with a value and window; a row without a `companyid` or a
    /// `staffid` is counted and skipped, a staff listed twice in a window keeps its first row.
    pub fn families(&self, windows: &[(Window, Vec<Value>)]) -> Vec<Family> {
        let mut families = Families::new(&self.metrics);
        for (window, rows) in windows {
            let mut seen = std::collections::BTreeSet::new();
            for row in rows {
                let id = |key: &str| {
                    let id = label_id(row.get(key));
                    if id.is_none() {
                        self.errors.count(key, row.get(key));
                    }
                    id
                };
                let Some(tenant) = id("companyid") else { continue };
                let Some(staff) = id("staffid") else { continue };
                if !self.errors.first(&mut seen, (tenant.clone(), staff.clone())) {
                    continue;
                }
                for (i, m) in table_of(STAFF_JOB_LIST.upstream_name()).enumerate() {
                    let unit = if m.reading == Reading::Ratio { Unit::Ratio } else { Unit::Count };
                    if let Some(value) = self.errors.value(row, m.key, unit) {
                        let labels: Labels = vec![
                            ("tenant", tenant.clone()),
                            ("staff", staff.clone()),
                            ("window", window.label().to_string()),
                        ];
                        families.push(i, labels, value);
                    }
                }
            }
        }
        families.finish()
    }
}

/// getStaffLogInfos' items → each staff's current state and when it began (labels `tenant`,
/// `staff`).
#[derive(Debug)]
pub struct StaffStatusDecoder {
    metrics: Vec<Metric>,
    errors: ParseErrors,
}

/// A staff's latest log entry: its time in milliseconds and its word.
type Latest = (u64, String);

impl StaffStatusDecoder {
    /// A decoder for an `interval`.
    pub fn new(interval: Duration, telemetry: Arc<Telemetry>) -> Self {
        let errors = ParseErrors::new(STAFF_LOG_INFOS.label, telemetry);
        Self { metrics: metrics_of(STAFF_LOG_INFOS.upstream_name(), interval), errors }
    }

    /// The state set and the change time of every staff with a dated entry.
    pub fn families(&self, items: &[Value]) -> Vec<Family> {
        self.families_until(items, u64::MAX)
    }

    /// [`StaffStatusDecoder::families`] as they were at `until` (milliseconds since the epoch):
    /// the entries after it are left out (the backfill reads one answer for every hour of a day).
    pub(crate) fn families_until(&self, items: &[Value], until: u64) -> Vec<Family> {
        let mut families = Families::new(&self.metrics);
        for ((tenant, staff), (millis, word)) in self.latest(items, until) {
            let current = match STAFF_STATES.iter().find(|(w, _)| *w == word) {
                Some((_, label)) => *label,
                None => {
                    self.errors.count("operationAction", Some(&Value::String(word)));
                    OTHER_STATE
                }
            };
            let labels = || vec![("staff", staff.clone()), ("tenant", tenant.clone())];
            for state in STAFF_STATES.iter().map(|(_, label)| *label).chain([OTHER_STATE]) {
                let mut labels = labels();
                labels.push(("status", state.to_string()));
                families.push(0, labels, if state == current { 1.0 } else { 0.0 });
            }
            // Milliseconds of this millennium: far below 2^53, exact in an f64.
            #[allow(clippy::cast_precision_loss)]
            families.push(1, labels(), millis as f64 / 1000.0);
        }
        families.finish()
    }

    /// The latest entry of every (tenant, staff): the greatest `datetime`, the later in the answer
    /// on a tie. Entries without a time or a word are skipped (counted if they were garbage).
    fn latest(&self, items: &[Value], until: u64) -> BTreeMap<(String, String), Latest> {
        let mut latest: BTreeMap<(String, String), Latest> = BTreeMap::new();
        for company in items {
            let Some(tenant) = label_id(company.get("companyId")) else {
                self.errors.count("companyId", company.get("companyId"));
                continue;
            };
            for staff in self.nested(company, "companyStaffInfos") {
                let Some(staff_id) = label_id(staff.get("staffId")) else {
                    self.errors.count("staffId", staff.get("staffId"));
                    continue;
                };
                for entry in self.nested(staff, "staffLogInfos") {
                    let Some(found) = self.entry(entry).filter(|(millis, _)| *millis <= until) else {
                        continue;
                    };
                    let key = (tenant.clone(), staff_id.clone());
                    if latest.get(&key).is_none_or(|(millis, _)| found.0 >= *millis) {
                        latest.insert(key, found);
                    }
                }
            }
        }
        latest
    }

    /// The list under `key`; none if null or missing, none and counted if not a list.
    fn nested<'a>(&self, parent: &'a Value, key: &str) -> &'a [Value] {
        match parent.get(key) {
            Some(Value::Array(rows)) => rows,
            None | Some(Value::Null) => &[],
            Some(other) => {
                self.errors.count(key, Some(other));
                &[]
            }
        }
    }

    /// One log entry's time and word.
    fn entry(&self, entry: &Value) -> Option<Latest> {
        let absent = |v: Option<&Value>| match v {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty() || s.trim() == "-",
            Some(_) => false,
        };
        let (time, word) = (entry.get("datetime"), entry.get("operationAction"));
        if absent(time) || absent(word) {
            return None;
        }
        let Some(millis) = parse_u64(time) else {
            self.errors.count("datetime", time);
            return None;
        };
        match word {
            Some(Value::String(w)) => Some((millis, w.trim().to_string())),
            other => {
                self.errors.count("operationAction", other);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
