//! The seat collector: every page of the seat query, per seat call statistics for each window,
//! live status as a state set, and an info series.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::{Timestamp, tz::TimeZone};
use serde_json::{Value, json};
use tracing::{debug, warn};

use super::client::LaafficClient;
use crate::error::UpstreamError;
use crate::snapshot::{Family, Kind, Labels, Sample};
use crate::table::{DateFormat, Field, field};
use crate::telemetry::{AGENTS_DROPPED, COLLECTOR_TRUNCATED, Telemetry};
use crate::value::Unit::{Count, Ratio};
use crate::value::{Parsed, parse_id, parse_json, parse_u64};
use crate::window::{Settled, Window, day_range};

/// Seats per page: the upstream's maximum.
pub const PAGE_SIZE: u32 = 100;
/// Pages per window and cycle at most (10,000 seats).
pub const MAX_PAGES: u32 = 100;

/// Per-seat call statistics of the window (labels `seat`, `group`, `window`).
pub static SEAT_FIELDS: &[Field] = &[
    field("num", "laaffic_seat_calls", Count, "Calls of the seat", "呼叫總數"),
    field("connectNum", "laaffic_seat_connected_calls", Count, "Connected calls of the seat", "接通數"),
    field("connectRate", "laaffic_seat_connect_ratio", Ratio, "Connect ratio of the seat", "接通率"),
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
        "Valid connect ratio of the seat",
        "有效通話率",
    ),
];

/// Documented seat states: `status` value → `status` label.
pub const STATUSES: [(&str, &str); 5] =
    [("1", "offline"), ("2", "idle"), ("3", "busy"), ("4", "wrap_up"), ("5", "break")];

/// The live metrics of a seat: name, labels, meaning.
pub const SEAT_LIVE_METRICS: &[(&str, &str, &str)] = &[
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
        "1 for every seat, with its name (名稱), job number (工號) and group name (坐席組名稱)",
    ),
];

/// Collects the seat query for every configured window.
#[derive(Debug)]
pub struct SeatCollector {
    client: Arc<LaafficClient>,
    windows: Vec<Window>,
    tz: TimeZone,
    max_seats: usize,
    helps: Vec<Arc<str>>,
    telemetry: Arc<Telemetry>,
    warned_cap: AtomicBool,
    /// Yesterday's seats, reused for an hour when yesterday is not the live window.
    settled: Settled<SeatDay>,
}

/// One day's seats `(seat, group, record)` and whether the page cap cut them.
type SeatDay = (Vec<(String, String, Value)>, bool);

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
        let cached = crate::snapshot::cached(interval);
        let helps = SEAT_FIELDS
            .iter()
            .map(|f| {
                format!(
                    "{} ({}; Laaffic seat query field {}), {}. {cached}",
                    f.en,
                    f.zh,
                    f.key,
                    f.unit.describe()
                )
            })
            .chain(SEAT_LIVE_METRICS.iter().map(|(_, _, meaning)| format!("{meaning}. {cached}")))
            .map(Into::into)
            .collect();
        Self {
            client,
            windows,
            tz,
            max_seats,
            helps,
            telemetry,
            warned_cap: AtomicBool::new(false),
            settled: Settled::default(),
        }
    }

    /// The collector's name.
    pub fn name(&self) -> &'static str {
        "laaffic_seats"
    }

    /// One cycle: every page for every window.
    pub async fn collect(&self) -> Result<Vec<Family>, UpstreamError> {
        let mut families: Vec<Family> = SEAT_FIELDS
            .iter()
            .map(|f| f.metric)
            .chain(SEAT_LIVE_METRICS.iter().map(|m| m.0))
            .zip(&self.helps)
            .map(|(name, help)| Family {
                name: name.into(),
                help: help.clone(),
                kind: Kind::Gauge,
                samples: Vec::new(),
            })
            .collect();
        let now = Timestamp::now();
        let mut truncated = false;
        // (seat, group, window, is the first window, record) of every page of every window.
        let mut rows: Vec<(String, String, Window, bool, Value)> = Vec::new();
        for (w, &window) in self.windows.iter().enumerate() {
            let live = w == 0;
            let date = window.day(now, &self.tz);
            // Yesterday's calls are settled, but the first window also carries the live status.
            let cached = if window == Window::Yesterday && !live { self.settled.get(date) } else { None };
            let (day, cut) = match cached {
                Some(day) => day,
                None => {
                    let day = self.fetch_day(date).await?;
                    if window == Window::Yesterday && !live {
                        self.settled.put(date, day.clone());
                    }
                    day
                }
            };
            truncated |= cut;
            rows.extend(day.into_iter().map(|(seat, group, record)| (seat, group, window, live, record)));
        }
        // Cardinality guard: the seats with the lowest ids are kept, the rest counted.
        let seats: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        let kept: BTreeSet<String> = seats.iter().take(self.max_seats).map(|s| (*s).to_string()).collect();
        let dropped = seats.len() - kept.len();
        #[allow(clippy::cast_precision_loss)]
        self.telemetry.set_collector(AGENTS_DROPPED, self.name(), dropped as f64);
        if dropped > 0 && !self.warned_cap.swap(true, Ordering::Relaxed) {
            warn!(
                collector = self.name(),
                max_agents = self.max_seats,
                dropped,
                "more seats than max_agents: dropping the rest (logged once; see sobot_exporter_agents_dropped)"
            );
        }
        let mut seen: BTreeSet<(usize, Labels)> = BTreeSet::new();
        for (seat, group, window, live, record) in rows.iter().filter(|r| kept.contains(&r.0)) {
            self.seat_samples(record, seat, group, *window, *live, &mut families, &mut seen);
        }
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

    /// Every seat of one day: `(seat, group, record)`, and whether the page cap cut it.
    async fn fetch_day(&self, date: jiff::civil::Date) -> Result<SeatDay, UpstreamError> {
        let (start, end) = day_range(date, DateFormat::Second);
        let mut seats = Vec::new();
        let mut current = 1u32;
        loop {
            let body = json!({
                "current": current,
                "size": PAGE_SIZE,
                "params": {"strTime": start, "endTime": end}
            });
            let mut data = self.client.seat_query(&body).await?;
            let records = match data.get_mut("records").map(Value::take) {
                Some(Value::Array(r)) => r,
                Some(Value::Null) | None => Vec::new(),
                Some(_) => return Err(UpstreamError::InvalidResponse("records is not a list".to_string())),
            };
            let last = records.is_empty() || u64::from(current) >= parse_u64(data.get("pages")).unwrap_or(1);
            for record in records {
                // Logically deleted seats (deleteFlag 1) are not seats any more.
                if parse_u64(record.get("deleteFlag")) == Some(1) {
                    continue;
                }
                let Some(seat) = parse_id(record.get("keyId")) else {
                    self.parse_error("keyId", record.get("keyId"));
                    continue;
                };
                // The table calls it voiceGroupId, the example sipGroupId.
                let group = parse_id(record.get("voiceGroupId"))
                    .or_else(|| parse_id(record.get("sipGroupId")))
                    .unwrap_or_default();
                seats.push((seat, group, record));
            }
            if last {
                return Ok((seats, false));
            }
            if current >= MAX_PAGES {
                return Ok((seats, true));
            }
            current += 1;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn seat_samples(
        &self,
        record: &Value,
        seat: &str,
        group: &str,
        window: Window,
        live: bool,
        families: &mut [Family],
        seen: &mut BTreeSet<(usize, Labels)>,
    ) {
        let mut push = |index: usize, mut labels: Labels, value: f64| {
            labels.sort();
            if seen.insert((index, labels.clone())) {
                families[index].samples.push(Sample { labels, value });
            }
        };
        let base = || vec![("group", group.to_string()), ("seat", seat.to_string())];
        for (i, f) in SEAT_FIELDS.iter().enumerate() {
            match parse_json(record.get(f.key), f.unit) {
                Parsed::Value(v) => {
                    let mut labels = base();
                    labels.push(("window", window.label().to_string()));
                    push(i, labels, v);
                }
                Parsed::Absent => {}
                Parsed::Invalid => self.parse_error(f.key, record.get(f.key)),
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
                self.parse_error("status", record.get("status"));
            }
            for (code, label) in STATUSES {
                let mut labels = base();
                labels.push(("status", label.to_string()));
                push(n, labels, if code == status { 1.0 } else { 0.0 });
            }
        }
        match parse_u64(record.get("enable")) {
            Some(0) => push(n + 1, base(), 1.0),
            Some(1) => push(n + 1, base(), 0.0),
            None if record.get("enable").is_none_or(Value::is_null) => {}
            _ => self.parse_error("enable", record.get("enable")),
        }
        let text = |key: &str| match record.get(key) {
            Some(Value::String(s)) => s.trim().chars().take(128).collect(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let mut labels = base();
        labels.extend([("name", text("name")), ("emp_no", text("empNo")), ("group_name", text("groupName"))]);
        push(n + 2, labels, 1.0);
    }

    fn parse_error(&self, field: &str, raw: Option<&Value>) {
        debug!(endpoint = "seat_query", field, value = ?raw, "value did not parse");
        self.telemetry.count_parse_error("seat_query", field);
    }
}
