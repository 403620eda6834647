//! The platform tenants' staff and their status log, as getStaffLogInfos answers it: pure
//! functions of the ids and the time, so that a test can ask what any moment shows.
//!
//! Each tenant has three staff. A staff's day (Asia/Shanghai) is one of:
//! - off, one day in seven (the weekday varies by staff): no entry, 离线 since the day before;
//! - an early shift, 在线 from 07:30–09:29 to 离线 at 16:30–18:29;
//! - a late shift, 在线 from 12:00–13:59 to 离线 at 21:00–23:29.
//!
//! A third of the staff work late, each swapping shifts one day in four. Within a shift 在线
//! alternates with 忙碌, now and then 小休, 会议, 培训 or 活动, and one 用餐 mid-shift. No shift
//! crosses midnight, so a day's entries are that day's and its state at 00:00 is 离线. The log
//! has no end in either direction; the simulator answers only the part up to its clock's now.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::data::{hash_str, mix};

/// One entry of a staff's status log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEntry {
    /// `datetime`: when the state began, in Unix milliseconds.
    pub millis: i64,
    /// `operationAction`: the state, one of the exporter's known words.
    pub action: &'static str,
    /// `source`: 0 PC, 2 app.
    pub source: u8,
}

const ONLINE: &str = "在线";
const BUSY: &str = "忙碌";
const OFFLINE: &str = "离线";
const MEAL: &str = "用餐";
/// What 在线 turns into, by weight out of 100.
const AWAY: [(&str, u64); 5] = [(BUSY, 55), ("小休", 15), ("会议", 10), ("培训", 10), ("活动", 10)];

/// The zone the days are counted in: Sobot's.
fn zone() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::UTC)
}

/// A tenant's three staff ids (`staffId`).
pub fn staff_ids(company_id: &str) -> Vec<String> {
    let seed = mix(hash_str(company_id));
    (1..=3u64).map(|k| format!("{:016x}{:016x}", mix(seed ^ k), mix(seed ^ (k << 8)))).collect()
}

/// The state (`operationAction`) of a tenant's staff at `at`: that of its latest entry at or
/// before `at` (inclusive). `None` for a staff that is not the tenant's. Future moments answer
/// the schedule, which the simulator serves once they have passed.
pub fn staff_action_at(company_id: &str, staff_id: &str, at: Timestamp) -> Option<&'static str> {
    if !staff_ids(company_id).iter().any(|s| s == staff_id) {
        return None;
    }
    let millis = at.as_millisecond();
    let mut day = at.to_zoned(zone()).date();
    // At most one day off in a row: the day before has a shift if this one has none.
    for _ in 0..8 {
        let entries = day_log(company_id, staff_id, day);
        if let Some(last) = entries.iter().rev().find(|e| e.millis <= millis) {
            return Some(last.action);
        }
        day = day.yesterday().ok()?;
    }
    None
}

/// The entries of a staff with `start <= datetime <= end` (milliseconds), in time order.
pub fn staff_log(company_id: &str, staff_id: &str, start: i64, end: i64) -> Vec<LogEntry> {
    let (Ok(from), Ok(to)) = (Timestamp::from_millisecond(start), Timestamp::from_millisecond(end)) else {
        return Vec::new();
    };
    let tz = zone();
    let (mut day, last) = (from.to_zoned(tz.clone()).date(), to.to_zoned(tz).date());
    let mut entries = Vec::new();
    while day <= last {
        entries.extend(
            day_log(company_id, staff_id, day).into_iter().filter(|e| (start..=end).contains(&e.millis)),
        );
        let Ok(next) = day.tomorrow() else { break };
        day = next;
    }
    entries
}

/// Deterministic draws from a seed.
struct Draws(u64);

impl Draws {
    /// A value in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.0 = mix(self.0);
        self.0 % n.max(1)
    }

    /// A value in `from..from + len`.
    fn within(&mut self, from: u64, len: u64) -> u64 {
        from + self.below(len)
    }
}

/// The state 在线 turns into at `pick` (`0..100`) of [`AWAY`]'s weights.
fn away(mut pick: u64) -> &'static str {
    for (word, weight) in AWAY {
        if pick < weight {
            return word;
        }
        pick -= weight;
    }
    BUSY
}

/// A staff's entries on `day`, in time order.
fn day_log(company_id: &str, staff_id: &str, day: Date) -> Vec<LogEntry> {
    let staff = mix(hash_str(company_id) ^ mix(hash_str(staff_id)));
    let n = jiff::civil::date(1970, 1, 1).until(day).map_or(0, |span| i64::from(span.get_days()));
    let weekday_off = i64::try_from(staff % 7).unwrap_or(0);
    if (n + weekday_off).rem_euclid(7) == 0 {
        return Vec::new();
    }
    let Ok(midnight) = day.to_zoned(zone()).map(|z| z.timestamp().as_millisecond()) else {
        return Vec::new();
    };
    let mut draw = Draws(staff ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let late = (staff >> 8).is_multiple_of(3) != (draw.below(4) == 0);
    // Minutes of the day.
    let (login, logout) = if late {
        (draw.within(720, 120), draw.within(1260, 150))
    } else {
        (draw.within(450, 120), draw.within(990, 120))
    };
    let meal = login + (logout - login) / 2 - 30 + draw.below(60);
    let source = if (staff >> 16).is_multiple_of(2) { 0 } else { 2 };
    let mut entries = Vec::new();
    let mut push = |minute: u64, action: &'static str, draw: &mut Draws| {
        let ms = i64::try_from(minute * 60_000 + draw.below(60_000)).unwrap_or(0);
        entries.push(LogEntry { millis: midnight + ms, action, source });
    };
    push(login, ONLINE, &mut draw);
    let (mut minute, mut state, mut fed) = (login, ONLINE, false);
    loop {
        minute += match state {
            ONLINE => draw.within(40, 80),
            BUSY => draw.within(30, 60),
            MEAL => draw.within(30, 20),
            "小休" => draw.within(10, 10),
            "培训" => draw.within(45, 45),
            _ => draw.within(30, 30),
        };
        if minute + 10 >= logout {
            break;
        }
        state = if state != ONLINE {
            ONLINE
        } else if !fed && minute >= meal {
            fed = true;
            MEAL
        } else {
            away(draw.below(100))
        };
        push(minute, state, &mut draw);
    }
    push(logout, OFFLINE, &mut draw);
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use sobot_exporter_core::sources::platform::decode::STAFF_STATES;

    const TENANT: &str = "tenant-a";

    /// The day `back` days before `day`.
    fn days_before(day: Date, back: i64) -> Date {
        day.checked_sub(jiff::Span::new().days(back)).expect("a day")
    }

    fn at(day: Date, hour: i8, minute: i8) -> Timestamp {
        day.at(hour, minute, 0, 0).to_zoned(zone()).expect("a time").timestamp()
    }

    #[test]
    fn every_day_of_a_staff_is_ordered_in_known_words_within_the_day() {
        let today = jiff::civil::date(2026, 11, 20);
        for staff in staff_ids(TENANT) {
            let mut off = 0;
            for back in 0..70 {
                let day = days_before(today, back);
                let entries = day_log(TENANT, &staff, day);
                if entries.is_empty() {
                    off += 1;
                    continue;
                }
                assert!(entries.windows(2).all(|w| w[0].millis < w[1].millis), "{day}: in time order");
                assert!(entries.iter().all(|e| STAFF_STATES.iter().any(|(w, _)| *w == e.action)));
                assert_eq!((entries[0].action, entries[entries.len() - 1].action), (ONLINE, OFFLINE));
                assert!(entries[0].millis >= at(day, 7, 30).as_millisecond());
                assert!(entries[entries.len() - 1].millis < at(day, 23, 30).as_millisecond());
                assert_eq!(entries.iter().filter(|e| e.action == MEAL).count(), 1, "{day}: one meal");
            }
            assert_eq!(off, 10, "one day in seven off");
        }
    }

    #[test]
    fn the_state_at_a_moment_is_the_latest_entry_at_or_before_it() {
        let staff = &staff_ids(TENANT)[0];
        let mut worked = 0;
        for back in 0..7 {
            let day = days_before(jiff::civil::date(2026, 11, 20), back);
            let (start, end) = (at(day, 0, 0).as_millisecond(), at(day, 23, 59).as_millisecond() + 59_999);
            let entries = staff_log(TENANT, staff, start, end);
            assert_eq!(staff_action_at(TENANT, staff, at(day, 0, 0)), Some(OFFLINE), "离线 overnight");
            let Some(first) = entries.first().map(|e| e.millis) else { continue };
            worked += 1;
            for entry in &entries {
                let moment = Timestamp::from_millisecond(entry.millis).expect("t");
                assert_eq!(staff_action_at(TENANT, staff, moment), Some(entry.action), "inclusive");
            }
            // A range's ends are inclusive.
            assert_eq!(staff_log(TENANT, staff, first, first), entries[..1]);
            assert!(staff_log(TENANT, staff, first + 1, first + 1).is_empty());
            assert!(staff_log(TENANT, staff, end, start).is_empty(), "start after end");
        }
        assert_eq!(worked, 6, "one day off a week");
        assert_eq!(staff_action_at(TENANT, "not-a-staff", Timestamp::now()), None);
    }

    #[test]
    fn some_staff_are_online_at_ten_and_offline_at_twenty_two_others_the_other_way() {
        let today = jiff::civil::date(2026, 11, 20);
        let (mut early, mut late) = (0, 0);
        for tenant in ["tenant-a", "tenant-b", "tenant-c", "tenant-d"] {
            for staff in staff_ids(tenant) {
                for back in 1..=8 {
                    let day = days_before(today, back);
                    let state = |hour| staff_action_at(tenant, &staff, at(day, hour, 0));
                    let (ten, ten_pm) = (state(10), state(22));
                    early += usize::from(ten != Some(OFFLINE) && ten_pm == Some(OFFLINE));
                    late += usize::from(ten == Some(OFFLINE) && ten_pm != Some(OFFLINE));
                }
            }
        }
        assert!(early > 30 && late > 5, "early {early}, late {late} of 96 staff days");
    }
}
