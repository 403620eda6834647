//! The seat collector: every page of the seat query, per seat call statistics for each window,
//! live status as a state set, and an info series.

use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use tracing::warn;

use crate::collect::{
    Families, Guard, MAX_LABEL_BYTES, Metric, ParseErrors, Windows, label_id, label_name, list,
};
use crate::snapshot::{Family, Labels};
use crate::sources::laaffic::client::LaafficClient;
use crate::table::{DateFormat, Field, field};
use crate::telemetry::{COLLECTOR_TRUNCATED, Telemetry};
use crate::upstream::UpstreamError;
use crate::value::Unit::{Count, Ratio};
use crate::value::{parse_id, parse_u64};
use crate::window::{Clock, Window};

/// The endpoint name of the seat query in self-metrics and logs.
pub(crate) const ENDPOINT: &str = "seat_query";

/// Seats per page: the upstream's maximum.
pub(crate) const PAGE_SIZE: u32 = 100;
/// Pages per window and cycle at most (10,000 seats).
pub(crate) const MAX_PAGES: u32 = 100;

/// Per-seat call statistics of the window (labels `seat`, `group`, `window`).
pub(crate) static SEAT_FIELDS: &[Field] = &[
    field("num", "laaffic_seat_calls", Count, "Calls of the seat", "呼叫總數"),
    field("connectNum", "laaffic_seat_connected_calls", Count, "Connected calls of the seat", "接通數"),
    field(
        "connectRate",
        "laaffic_seat_connect_ratio",
        Ratio,
        "Connect ratio of the seat; by their names connectNum / num, but the document gives no formula and its example (0 calls, 0%) cannot show one",
        "接通率",
    ),
    field(
        "validConnectNum",
        "laaffic_seat_valid_connected_calls",
        Count,
        "Valid connected calls of the seat",
        "有效通話數",
    ),
    field(
        "validConnectRate",
        "laaffic_seat_valid_connect_ratio",
        Ratio,
        "Valid connect ratio of the seat; the document gives no formula, and its example (0 calls, 0%) cannot show whether it is over num or connectNum",
        "有效通話率",
    ),
];

/// Documented seat states: `status` value → `status` label.
pub(crate) const STATUSES: [(&str, &str); 5] =
    [("1", "offline"), ("2", "idle"), ("3", "busy"), ("4", "wrap_up"), ("5", "break")];

/// The live metrics of a seat: name, labels, meaning.
pub(crate) const SEAT_LIVE_METRICS: &[(&str, &str, &str)] = &[
    (
        "laaffic_seat_status",
        "seat, group, status",
        "1 for the seat's current state (坐席狀態 `status`: offline 1, idle 2, busy 3, wrap_up 4, break 5), 0 for the others",
    ),
    (
        "laaffic_seat_enabled",
        "seat, group",
        "1 if the seat is enabled (啟用禁用 `enable` = 0), 0 if disabled",
    ),
    (
        "laaffic_seat_info",
        "seat, name, emp_no, group, group_name",
        "1 for every seat, with its name (名稱 name), job number (工號 empNo) and group name (坐席組名稱 groupName)",
    ),
];

/// Collects the seat query for every configured window.
#[derive(Debug)]
pub struct SeatCollector {
    client: Arc<LaafficClient>,
    decoder: Decoder,
    /// Each window's seats; yesterday's reused for an hour when it is not the live window.
    windows: Windows<SeatDay>,
    guard: Guard,
    telemetry: Arc<Telemetry>,
}

/// One seat of the seat query.
#[derive(Debug, Clone)]
pub(crate) struct Seat {
    /// `keyId`.
    pub(crate) id: String,
    /// `voiceGroupId` (or `sipGroupId`); empty if neither.
    group: String,
    record: Value,
}

/// One day's seats and whether the page cap cut them.
type SeatDay = (Vec<Seat>, bool);

impl SeatCollector {
    /// A seat collector.
    pub fn new(
        client: Arc<LaafficClient>,
        windows: Vec<Window>,
        tz: TimeZone,
        interval: Duration,
        max_seats: usize,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        let errors = ParseErrors::new(ENDPOINT, telemetry.clone());
        Self {
            client,
            decoder: Decoder::new(interval, errors),
            // Yesterday's calls are settled, but the first window also carries the live status.
            windows: Windows::first_is_live(windows, tz),
            guard: Guard::new("laaffic_seats", max_seats, "seats", telemetry.clone()),
            telemetry,
        }
    }

    /// The same collector reading `clock`: at a set clock (the backfill) it gives the call counts
    /// of the day so far and none of the live state (status, enabled, info), which has no history.
    #[must_use]
    pub(crate) fn clocked(self, clock: Clock) -> Self {
        Self { windows: self.windows.clocked(clock), ..self }
    }

    /// The collector's name.
    pub fn name(&self) -> &'static str {
        "laaffic_seats"
    }

    /// One cycle: every page for every window.
    pub async fn collect(&self) -> Result<Vec<Family>, UpstreamError> {
        let days = self.windows.fetch(|date| self.fetch_day(date)).await?;
        let mut truncated = false;
        // (window, is the first window, seat) of every page of every window.
        let mut rows: Vec<(Window, bool, Seat)> = Vec::new();
        for (i, (window, (seats, cut))) in days.into_iter().enumerate() {
            truncated |= cut;
            rows.extend(seats.into_iter().map(|seat| (window, self.windows.is_live(i), seat)));
        }
        // Cardinality guard: the seats with the lowest ids are kept, the rest counted.
        let kept = self.guard.keep(rows.iter().map(|(_, _, seat)| seat.id.as_str()));
        rows.retain(|(_, _, seat)| kept.contains(&seat.id));
        let families = self.decoder.families(&rows);
        self.telemetry.set_collector(COLLECTOR_TRUNCATED, self.name(), f64::from(u8::from(truncated)));
        if truncated {
            warn!(
                collector = self.name(),
                max_pages = MAX_PAGES,
                "stopped at the page cap; seats are missing"
            );
        }
        Ok(families)
    }

    /// Every seat of one day, and whether the page cap cut it.
    async fn fetch_day(&self, date: Date) -> Result<SeatDay, UpstreamError> {
        let (start, end) = self.windows.range(date, DateFormat::Second);
        let mut seats = Vec::new();
        // A seat listed again (on the same page or a later one) is skipped whole (counted).
        let mut seen = std::collections::BTreeSet::new();
        let mut current = 1u32;
        loop {
            let body = json!({
                "current": current,
                "size": PAGE_SIZE,
                "params": {"strTime": start, "endTime": end}
            });
            let decode = |answer| self.decoder.page(answer, current);
            let (page, last) = self.client.seat_query(&body, decode).await?;
            seats.extend(
                page.into_iter().filter(|seat| self.decoder.errors.first(&mut seen, seat.id.clone())),
            );
            if last {
                return Ok((seats, false));
            }
            if current >= MAX_PAGES {
                return Ok((seats, true));
            }
            current += 1;
        }
    }
}

/// The fields [`SEAT_LIVE_METRICS`] read, besides the keys of [`SEAT_FIELDS`].
const LIVE_FIELDS: [&str; 5] = ["status", "enable", "name", "empNo", "groupName"];

/// Whether the families read `key`: a seat is kept (for a cycle, or an hour for yesterday) with
/// these fields only, not with the whole record.
fn is_kept(key: &str) -> bool {
    SEAT_FIELDS.iter().any(|f| f.key == key) || LIVE_FIELDS.contains(&key)
}

fn kept_fields(record: Value) -> Value {
    match record {
        Value::Object(mut fields) => {
            fields.retain(|k, _| is_kept(k));
            Value::Object(fields)
        }
        other => other,
    }
}

/// The pure half of the seat collector: pages to seats, seats to families.
#[derive(Debug)]
pub(crate) struct Decoder {
    /// Names and HELP texts of [`SEAT_FIELDS`], then of [`SEAT_LIVE_METRICS`].
    metrics: Vec<Metric>,
    errors: ParseErrors,
}

impl Decoder {
    pub(crate) fn new(interval: Duration, errors: ParseErrors) -> Self {
        let cached = crate::snapshot::cached(interval);
        let fields = SEAT_FIELDS.iter().map(|f| {
            let help = format!(
                "{} ({}; Laaffic seat query field {}), {}. {cached}",
                f.en,
                f.zh,
                f.key,
                f.unit.describe()
            );
            (f.metric.into(), help.into())
        });
        let live = SEAT_LIVE_METRICS
            .iter()
            .map(|(name, _, meaning)| ((*name).into(), format!("{meaning}. {cached}").into()));
        Self { metrics: fields.chain(live).collect(), errors }
    }

    /// The seats of one page's `data` (page `current`) and whether it is the last page.
    pub(crate) fn page(&self, mut data: Value, current: u32) -> Result<(Vec<Seat>, bool), UpstreamError> {
        let records = list(&mut data, ENDPOINT, &["records"])?;
        let last = records.is_empty() || u64::from(current) >= parse_u64(data.get("pages")).unwrap_or(1);
        let mut seats = Vec::with_capacity(records.len());
        for record in records {
            // Logically deleted seats (deleteFlag 1) are not seats any more.
            if parse_u64(record.get("deleteFlag")) == Some(1) {
                continue;
            }
            let Some(id) = label_id(record.get("keyId")) else {
                self.errors.count("keyId", record.get("keyId"));
                continue;
            };
            // The table calls it voiceGroupId, the example sipGroupId.
            let found =
                ["voiceGroupId", "sipGroupId"].iter().find_map(|k| Some((*k, parse_id(record.get(*k))?)));
            let group = match found {
                Some((key, group)) if group.len() > MAX_LABEL_BYTES => {
                    self.errors.count(key, record.get(key));
                    continue;
                }
                Some((_, group)) => group,
                None => String::new(),
            };
            seats.push(Seat { id, group, record: kept_fields(record) });
        }
        Ok((seats, last))
    }

    /// The families of [`SEAT_FIELDS`] and [`SEAT_LIVE_METRICS`]: call statistics of every row,
    /// live status, enablement and info of the rows of the first window.
    pub(crate) fn families(&self, rows: &[(Window, bool, Seat)]) -> Vec<Family> {
        let mut families = Families::new(&self.metrics);
        for (window, live, seat) in rows {
            self.seat_samples(seat, *window, *live, &mut families);
        }
        families.finish()
    }

    fn seat_samples(&self, seat: &Seat, window: Window, live: bool, families: &mut Families) {
        let record = &seat.record;
        let base = || vec![("group", seat.group.clone()), ("seat", seat.id.clone())];
        for (i, f) in SEAT_FIELDS.iter().enumerate() {
            if let Some(v) = self.errors.value(record, f.key, f.unit) {
                let mut labels = base();
                labels.push(("window", window.label().to_string()));
                families.push(i, labels, v);
            }
        }
        if !live {
            return;
        }
        let n = SEAT_FIELDS.len();
        // `status` is a string in the example although the table says Integer.
        if let Some(status) = parse_id(record.get("status")) {
            let known = STATUSES.iter().any(|(code, _)| *code == status);
            if !known {
                self.errors.count("status", record.get("status"));
            }
            for (code, label) in STATUSES {
                let mut labels = base();
                labels.push(("status", label.to_string()));
                families.push(n, labels, if code == status { 1.0 } else { 0.0 });
            }
        }
        match parse_u64(record.get("enable")) {
            Some(0) => families.push(n + 1, base(), 1.0),
            Some(1) => families.push(n + 1, base(), 0.0),
            None if record.get("enable").is_none_or(Value::is_null) => {}
            _ => self.errors.count("enable", record.get("enable")),
        }
        let text = |key: &str| match record.get(key) {
            Some(Value::String(s)) => label_name(s),
            Some(Value::Number(n)) => label_name(&n.to_string()),
            _ => String::new(),
        };
        let mut labels: Labels = base();
        labels.extend([("name", text("name")), ("emp_no", text("empNo")), ("group_name", text("groupName"))]);
        families.push(n + 2, labels, 1.0);
    }
}

impl crate::collect::Collect for SeatCollector {
    fn name(&self) -> &str {
        SeatCollector::name(self)
    }

    fn collect(&self) -> crate::collect::Cycle<'_> {
        Box::pin(SeatCollector::collect(self))
    }

    fn replay(&self) -> crate::collect::Replay {
        crate::collect::Replay::Daily
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::parse_errors;
    use crate::collect::series;
    use crate::sources::laaffic::client::check_status;

    #[test]
    fn a_seat_keeps_the_fields_the_families_read_and_no_other() {
        let record: serde_json::Map<String, Value> = SEAT_FIELDS
            .iter()
            .map(|f| f.key)
            .chain(LIVE_FIELDS)
            .chain(["account", "password", "keyId"])
            .map(|k| (k.to_string(), json!("x")))
            .collect();
        let kept = kept_fields(Value::Object(record));
        let keys: Vec<&str> =
            kept.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        let mut want: Vec<&str> = SEAT_FIELDS.iter().map(|f| f.key).chain(LIVE_FIELDS).collect();
        want.sort_unstable();
        assert_eq!(keys, want, "never the account or the password");
    }

    fn decoder() -> (Decoder, Arc<Telemetry>) {
        let telemetry = Arc::new(Telemetry::new());
        (Decoder::new(Duration::from_secs(60), ParseErrors::new(ENDPOINT, telemetry.clone())), telemetry)
    }

    /// The `data` of the document's example answer, with `edit` applied to its one record.
    fn example(edit: impl FnOnce(&mut Value)) -> Value {
        let body: Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/laaffic/seat_query.json"
        )))
        .expect("fixture is JSON");
        let mut data = check_status(body).expect("status 0 with a data object");
        edit(&mut data["records"][0]);
        data
    }

    fn live_today(seats: Vec<Seat>) -> Vec<(Window, bool, Seat)> {
        seats.into_iter().map(|seat| (Window::Today, true, seat)).collect()
    }

    #[test]
    fn the_documents_example() {
        let (decoder, telemetry) = decoder();
        let (seats, last) = decoder.page(example(|_| {}), 1).expect("records");
        assert!(last, "pages 1");
        assert_eq!(seats.len(), 1);
        assert_eq!((seats[0].id.as_str(), seats[0].group.as_str()), ("681", "1000006"), "sipGroupId");
        let families = decoder.families(&live_today(seats));
        assert_eq!(families.len(), SEAT_FIELDS.len() + SEAT_LIVE_METRICS.len());
        let s = series(&families);
        let seat = "group=\"1000006\",seat=\"681\"";
        for f in SEAT_FIELDS {
            assert_eq!(
                s.get(&format!("{}{{{seat},window=\"today\"}}", f.metric)),
                Some(&0.0),
                "{}",
                f.metric
            );
        }
        for (status, want) in
            [("offline", 1.0), ("idle", 0.0), ("busy", 0.0), ("wrap_up", 0.0), ("break", 0.0)]
        {
            assert_eq!(s.get(&format!("laaffic_seat_status{{{seat},status=\"{status}\"}}")), Some(&want));
        }
        assert_eq!(s.get(&format!("laaffic_seat_enabled{{{seat}}}")), Some(&1.0), "enable 0 is enabled");
        assert_eq!(
            s.get("laaffic_seat_info{emp_no=\"003\",group=\"1000006\",group_name=\"測試基礎設置(話機)\",name=\"0705C999_001\",seat=\"681\"}"),
            Some(&1.0)
        );
        assert_eq!(s.len(), SEAT_FIELDS.len() + STATUSES.len() + 2);
        assert!(s.keys().all(|k| !k.contains("0705C559_003") && !k.contains("452061e7b50b")), "no account");
        assert_eq!(parse_errors(&telemetry, ENDPOINT, "status"), 0.0);
        assert!(families[0].help.contains("(呼叫總數; Laaffic seat query field num), count. Cached"));
    }

    #[test]
    fn only_the_first_window_has_live_series() {
        let (decoder, _) = decoder();
        let (today, _) = decoder.page(example(|_| {}), 1).expect("records");
        let (yesterday, _) = decoder.page(example(|r| r["num"] = json!(7)), 1).expect("records");
        let mut rows = live_today(today);
        rows.extend(yesterday.into_iter().map(|seat| (Window::Yesterday, false, seat)));
        let s = series(&decoder.families(&rows));
        assert_eq!(
            s.get("laaffic_seat_calls{group=\"1000006\",seat=\"681\",window=\"yesterday\"}"),
            Some(&7.0)
        );
        assert_eq!(s.keys().filter(|k| k.starts_with("laaffic_seat_status")).count(), STATUSES.len());
        assert!(s.keys().all(|k| !k.starts_with("laaffic_seat_status") || !k.contains("yesterday")));

        let yesterday_only: Vec<_> = rows.into_iter().map(|(w, _, seat)| (w, false, seat)).collect();
        let s = series(&decoder.families(&yesterday_only));
        assert!(s.keys().all(|k| k.contains("window=")), "no live series: {s:?}");
    }

    #[test]
    fn an_unknown_status_is_counted_and_none_of_the_states() {
        let (decoder, telemetry) = decoder();
        let (seats, _) = decoder.page(example(|r| r["status"] = json!("9")), 1).expect("records");
        let s = series(&decoder.families(&live_today(seats)));
        let states: Vec<f64> =
            s.iter().filter(|(k, _)| k.starts_with("laaffic_seat_status")).map(|(_, v)| *v).collect();
        assert_eq!(states, [0.0; 5]);
        assert_eq!(parse_errors(&telemetry, ENDPOINT, "status"), 1.0);
    }

    #[test]
    fn status_and_enable_as_documented_integers_or_absent() {
        let (decoder, telemetry) = decoder();
        let page = example(|r| {
            r["status"] = json!(3);
            r["enable"] = json!("1");
        });
        let (seats, _) = decoder.page(page, 1).expect("records");
        let s = series(&decoder.families(&live_today(seats)));
        assert_eq!(s.get("laaffic_seat_status{group=\"1000006\",seat=\"681\",status=\"busy\"}"), Some(&1.0));
        assert_eq!(s.get("laaffic_seat_enabled{group=\"1000006\",seat=\"681\"}"), Some(&0.0), "disabled");

        for (status, enable) in [(json!(null), json!(null)), (json!(" "), json!(2))] {
            let page = example(|r| {
                r["status"] = status;
                r["enable"] = enable;
            });
            let (seats, _) = decoder.page(page, 1).expect("records");
            let s = series(&decoder.families(&live_today(seats)));
            assert!(
                s.keys()
                    .all(|k| !k.starts_with("laaffic_seat_status") && !k.starts_with("laaffic_seat_enabled"))
            );
        }
        assert_eq!(parse_errors(&telemetry, ENDPOINT, "status"), 0.0, "a blank status is no status");
        assert_eq!(parse_errors(&telemetry, ENDPOINT, "enable"), 1.0, "enable 2 is undocumented");
    }

    #[test]
    fn seats_without_an_id_are_counted_and_deleted_seats_skipped() {
        let (decoder, telemetry) = decoder();
        let record = |id: Value, delete: Value| json!({"keyId": id, "deleteFlag": delete, "voiceGroupId": "7", "sipGroupId": 8, "num": 1});
        let data = json!({"pages": 1, "records": [
            record(json!(1), json!(0)),
            record(json!(" 2 "), json!("0")),
            record(json!(3), json!(1)),
            record(json!(4), json!("1")),
            record(json!(null), json!(0)),
            record(json!(""), json!(0)),
            record(json!(5.5), json!(0)),
            {"keyId": 6, "num": "-", "connectRate": "abc"},
        ]});
        let (seats, last) = decoder.page(data, 1).expect("records");
        assert!(last);
        let ids: Vec<(&str, &str)> = seats.iter().map(|s| (s.id.as_str(), s.group.as_str())).collect();
        assert_eq!(ids, [("1", "7"), ("2", "7"), ("6", "")], "voiceGroupId first; no group is empty");
        assert_eq!(parse_errors(&telemetry, ENDPOINT, "keyId"), 3.0);
        let s = series(&decoder.families(&live_today(seats)));
        assert_eq!(
            s.get("laaffic_seat_calls{group=\"\",seat=\"6\",window=\"today\"}"),
            None,
            "- is no value"
        );
        assert_eq!(parse_errors(&telemetry, ENDPOINT, "num"), 0.0);
        assert_eq!(parse_errors(&telemetry, ENDPOINT, "connectRate"), 1.0);
        assert_eq!(
            s.get("laaffic_seat_info{emp_no=\"\",group=\"\",group_name=\"\",name=\"\",seat=\"6\"}"),
            Some(&1.0)
        );
    }

    #[test]
    fn a_seat_repeated_across_pages_counts_once() {
        let (decoder, _) = decoder();
        let (mut seats, _) = decoder.page(example(|_| {}), 1).expect("records");
        let (again, _) = decoder.page(example(|r| r["num"] = json!(9)), 2).expect("records");
        seats.extend(again);
        let s = series(&decoder.families(&live_today(seats)));
        assert_eq!(s.get("laaffic_seat_calls{group=\"1000006\",seat=\"681\",window=\"today\"}"), Some(&0.0));
        assert_eq!(s.keys().filter(|k| k.starts_with("laaffic_seat_info")).count(), 1);
    }

    #[test]
    fn pages_and_lists() {
        let (decoder, _) = decoder();
        let seat = json!({"keyId": 1});
        let page = |pages: Value, records: Value| json!({"pages": pages, "records": records});
        assert_eq!(decoder.page(page(json!("3"), json!([seat])), 1).map(|p| p.1), Ok(false));
        assert_eq!(decoder.page(page(json!(3), json!([seat])), 3).map(|p| p.1), Ok(true));
        assert_eq!(decoder.page(page(json!(3), json!([])), 2).map(|p| p.1), Ok(true), "empty is last");
        assert_eq!(decoder.page(page(json!(null), json!([seat])), 1).map(|p| p.1), Ok(true));
        assert_eq!(decoder.page(json!({"pages": 2}), 1).map(|p| p.0.len()), Ok(0));
        assert_eq!(
            decoder.page(page(json!(1), json!({"keyId": 1})), 1).map(|p| p.1),
            Err(UpstreamError::InvalidResponse("seat_query: records is not a list".into()))
        );
    }
}
