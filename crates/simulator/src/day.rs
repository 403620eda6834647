//! The demo's simulated day: a clock that may run faster than the real one, the daily curve the
//! figures follow, the shifts agents and seats log in and out by, and a tenant's outages. Pure
//! functions of the simulated time, so that tests can ask for any moment of the day.
//!
//! The simulated clock starts at the real time (Asia/Shanghai, Sobot's zone) and runs `speed`
//! times as fast; at 1× it is the real clock. Its day wraps at the simulated midnight, when
//! today's figures start again from zero, while the dates the exporter asks for stay on the real
//! clock: a past date is settled (its whole day), today and later follow the simulated day.
//!
//! A range asked for covers its start day from midnight to the end of its last hour (second,
//! day): the end is inclusive, so `D 00`–`D 23`, `D 00:00:00`–`D 23:59:59` and `D`–`D` are each
//! the whole day D, the range the exporter's `window::day_range` asks for a day (the documents
//! do not say). `D 00`–`D HH` is then the day so far at `HH+1:00`: exactly, for a settled day;
//! at most the simulated moment, for today. The start hour is not read, nor days after the first.
//!
//! A settled day's volume is [`day_factor`] of the curve's (80–120 %, by its date), so that past
//! days differ; today's follows the curve alone (at 1×, a date settles at its factor of what it
//! reached as today).

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use sobot_exporter_core::table::DateFormat;

/// Seconds in a day.
pub(crate) const DAY_S: u32 = 86_400;

/// Customer demand in each hour of the day, in thousandths of the peak: an e-commerce shop, busy
/// late in the morning and in the evening, never below half of the peak at night (so that a
/// group's 15-minute ratios have their volume at any hour).
const DEMAND: [u64; 24] = [
    640, 580, 540, 520, 500, 520, 580, 680, 820, 950, 1000, 980, 860, 900, 960, 970, 940, 880, 820, 880, 980,
    1000, 900, 760,
];

/// How long an agent or seat is logged out each day (its off shift).
const OFF_S: u32 = 8 * 3600;

/// When, after the start, a tenant's first outage begins, in simulated seconds; its outages
/// then come back every simulated day.
pub(crate) const OUTAGE_AFTER_S: u64 = 6 * 3600;
/// How long an outage lasts, in simulated seconds.
pub(crate) const OUTAGE_S: u64 = 3 * 3600;

/// The demand summed over `[0, second)` of the day, in thousandths of the peak times seconds.
pub(crate) fn demand_until(second: u32) -> u64 {
    let second = second.min(DAY_S);
    let (hours, rest) = ((second / 3600) as usize, u64::from(second % 3600));
    let full: u64 = DEMAND.iter().take(hours).map(|d| d * 3600).sum();
    full + DEMAND.get(hours).map_or(0, |d| d * rest)
}

/// The demand of a whole day (see [`demand_until`]).
pub(crate) fn demand_of_day() -> u64 {
    demand_until(DAY_S)
}

/// A settled day's volume in thousandths of the curve's, 800 to 1199 by its date: steps of the
/// golden ratio, so that dates less than a week apart are at least 35 apart.
pub(crate) fn day_factor(day: Date) -> u64 {
    let n = jiff::civil::date(1970, 1, 1).until(day).map_or(0, |span| span.get_days());
    let n = u64::from(n.unsigned_abs());
    800 + (((n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) * 400) >> 32)
}

/// Where the range `start`–`end` in `format` ends, in seconds of the start day: after its
/// (inclusive) last hour, second or day; the day's end when `end` is on a later day.
pub(crate) fn range_end(start: DateTime, end: DateTime, format: DateFormat) -> u32 {
    if end.date() > start.date() {
        return DAY_S;
    }
    let step = match format {
        DateFormat::Hour => 3600,
        DateFormat::Day => DAY_S,
        DateFormat::Second => 1,
    };
    let t = end.time();
    let second = i32::from(t.hour()) * 3600 + i32::from(t.minute()) * 60 + i32::from(t.second());
    u32::try_from(second).unwrap_or(0).saturating_add(step).min(DAY_S)
}

/// The daily shift of an agent or a seat: logged out for [`OFF_S`] from `off_start` (wrapping
/// past midnight), logged in the rest of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shift {
    off_start: u32,
}

impl Shift {
    /// The `k`-th of `n` members of a team whose offs start at `offset`: their offs are spread
    /// evenly over the day, so that about a third of the team is logged out at any time.
    pub(crate) fn of_team(k: usize, n: usize, offset: u64) -> Shift {
        let spread = u64::from(DAY_S) * k as u64 / n.max(1) as u64;
        Shift { off_start: u32::try_from((offset + spread) % u64::from(DAY_S)).unwrap_or(0) }
    }

    /// The logged-out parts of the day, `[from, to)`.
    fn offs(self) -> [(u32, u32); 2] {
        let end = self.off_start + OFF_S;
        if end <= DAY_S {
            [(self.off_start, end), (0, 0)]
        } else {
            [(self.off_start, DAY_S), (0, end - DAY_S)]
        }
    }

    /// Logged in at `second` of the day.
    pub(crate) fn online(self, second: u32) -> bool {
        !self.offs().iter().any(|&(from, to)| (from..to).contains(&second))
    }

    /// The demand over the logged-in part of `[0, second)` (what the agent's figures grow with).
    pub(crate) fn demand_until(self, second: u32) -> u64 {
        let off: u64 = self
            .offs()
            .iter()
            .map(|&(from, to)| demand_until(to.min(second)) - demand_until(from.min(second)))
            .sum();
        demand_until(second) - off
    }

    /// Seconds logged in within `[0, second)`.
    pub(crate) fn online_seconds(self, second: u32) -> u32 {
        let second = second.min(DAY_S);
        let off: u32 = self.offs().iter().map(|&(from, to)| to.min(second) - from.min(second)).sum();
        second - off
    }
}

/// The simulated clock: starts at `start` and runs `speed` times as fast as the real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SimClock {
    start: Timestamp,
    speed: u32,
}

impl SimClock {
    /// A clock started at `start`, running `speed` (at least 1) times as fast as the real one.
    pub(crate) fn new(start: Timestamp, speed: u32) -> SimClock {
        SimClock { start, speed: speed.max(1) }
    }

    /// The simulated moment at the real time `now`.
    pub(crate) fn at(&self, now: Timestamp) -> SimNow {
        let tz = TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::UTC);
        let real = now.duration_since(self.start).max(SignedDuration::ZERO);
        let elapsed = real.checked_mul(i32::try_from(self.speed).unwrap_or(i32::MAX)).unwrap_or(real);
        let simulated = self.start.checked_add(elapsed).unwrap_or(now).to_zoned(tz.clone());
        let today = now.to_zoned(tz).date();
        let time = simulated.time();
        let second = u32::try_from(
            i32::from(time.hour()) * 3600 + i32::from(time.minute()) * 60 + i32::from(time.second()),
        )
        .unwrap_or(0);
        SimNow {
            today,
            second,
            days_ahead: today.until(simulated.date()).map_or(0, |span| i64::from(span.get_days())),
            elapsed_s: u64::try_from(elapsed.as_secs()).unwrap_or(0),
            end_s: DAY_S,
        }
    }
}

/// A moment of the simulated day, as the answers use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SimNow {
    /// The real date (Asia/Shanghai): earlier dates are settled.
    pub(crate) today: Date,
    /// The second of the simulated day, `0..DAY_S`.
    pub(crate) second: u32,
    /// Simulated days since the real date (0 at 1×): each simulated day has figures of its own.
    pub(crate) days_ahead: i64,
    /// Simulated seconds since the clock started.
    pub(crate) elapsed_s: u64,
    /// Where the range asked for ends, in seconds of its day (see [`range_end`]).
    pub(crate) end_s: u32,
}

impl SimNow {
    /// `second` of `today` at 1×, `second` seconds after the start.
    #[cfg(test)]
    pub(crate) fn at_second(today: Date, second: u32) -> SimNow {
        SimNow {
            today,
            second: second.min(DAY_S - 1),
            days_ahead: 0,
            elapsed_s: u64::from(second),
            end_s: DAY_S,
        }
    }

    /// This moment, answering a range that ends at `end_s` of its day.
    pub(crate) fn until(self, end_s: u32) -> SimNow {
        SimNow { end_s, ..self }
    }

    /// How much of `day` its figures cover: a settled (past) day's, today's (and later dates')
    /// simulated day so far, up to the end of the range asked.
    pub(crate) fn second_of(&self, day: Date) -> u32 {
        if day < self.today { DAY_S } else { self.second }.min(self.end_s)
    }

    /// Whether `day` is settled (before the real date).
    pub(crate) fn settled(&self, day: Date) -> bool {
        day < self.today
    }

    /// Mixed into the seeds of `day`: which simulated day it is (0 for a past day).
    pub(crate) fn seed_of(&self, day: Date) -> u64 {
        if day < self.today { 0 } else { self.days_ahead.unsigned_abs().wrapping_mul(0x9e37_79b9) }
    }

    /// Whether a tenant with outages refuses its key now: for [`OUTAGE_S`] every simulated day,
    /// the first [`OUTAGE_AFTER_S`] after the start.
    pub(crate) fn outage(&self) -> bool {
        self.elapsed_s >= OUTAGE_AFTER_S && (self.elapsed_s - OUTAGE_AFTER_S) % u64::from(DAY_S) < OUTAGE_S
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_grows_over_the_day_faster_by_day_than_at_night() {
        assert_eq!(demand_until(0), 0);
        let mut last = 0;
        for second in (0..=DAY_S).step_by(60) {
            let d = demand_until(second);
            assert!(d >= last, "{second}");
            last = d;
        }
        let hour = |h: u32| demand_until((h + 1) * 3600) - demand_until(h * 3600);
        assert!(hour(10) >= 2 * hour(4) - 1, "the peak is twice the night");
        assert!(hour(4) > 0);
        assert_eq!(demand_until(DAY_S + 5), demand_of_day());
    }

    #[test]
    fn shifts_log_a_third_of_a_team_out_and_their_figures_only_grow_logged_in() {
        let team: Vec<Shift> = (0..9).map(|k| Shift::of_team(k, 9, 3 * 3600 + 17)).collect();
        for second in (0..DAY_S).step_by(300) {
            let online = team.iter().filter(|s| s.online(second)).count();
            assert_eq!(online, 6, "at {second}");
        }
        for shift in &team {
            let mut last = 0;
            for second in (0..=DAY_S).step_by(600) {
                let d = shift.demand_until(second);
                assert!(d >= last);
                if !shift.online(second) && second + 600 <= DAY_S && !shift.online(second + 599) {
                    assert_eq!(shift.demand_until(second + 600), d, "no growth logged out");
                }
                last = d;
            }
            assert_eq!(shift.online_seconds(DAY_S), DAY_S - OFF_S);
        }
        // A wrapping off: logged out before and after midnight.
        let late = Shift::of_team(0, 1, 20 * 3600);
        assert!(!late.online(23 * 3600) && !late.online(3600) && late.online(5 * 3600));
    }

    #[test]
    fn the_clock_runs_faster_wraps_at_midnight_and_keeps_the_real_date() {
        let start: Timestamp = "2026-12-07T15:30:00Z".parse().expect("time"); // 23:30 in Shanghai
        let real = jiff::civil::date(2026, 12, 7);
        let at = |clock: SimClock, secs: i64| {
            clock.at(start.checked_add(SignedDuration::from_secs(secs)).expect("t"))
        };
        let one = SimClock::new(start, 1);
        assert_eq!(at(one, 0).second, 23 * 3600 + 1800);
        assert_eq!(at(one, 0).today, real);
        assert_eq!((at(one, 60).second, at(one, 60).days_ahead), (23 * 3600 + 1860, 0));
        let fast = SimClock::new(start, 60);
        // 31 real seconds: 31 simulated minutes, past the simulated midnight; the date is real.
        let after = at(fast, 31);
        assert_eq!((after.second, after.days_ahead, after.today), (60, 1, real));
        assert_eq!(after.second_of(real), 60);
        assert_eq!(after.second_of(real.yesterday().expect("day")), DAY_S, "a past day is settled");
        assert_ne!(after.seed_of(real), at(fast, 0).seed_of(real), "each simulated day its own figures");
        assert_eq!(after.elapsed_s, 31 * 60);
    }

    #[test]
    fn a_tenant_fails_for_three_simulated_hours_a_day() {
        let at = |elapsed_s| SimNow { elapsed_s, ..SimNow::at_second(jiff::civil::date(2026, 1, 1), 0) };
        assert!(!at(0).outage() && !at(OUTAGE_AFTER_S - 1).outage());
        assert!(at(OUTAGE_AFTER_S).outage() && at(OUTAGE_AFTER_S + OUTAGE_S - 1).outage());
        assert!(!at(OUTAGE_AFTER_S + OUTAGE_S).outage());
        assert!(at(OUTAGE_AFTER_S + u64::from(DAY_S) + 60).outage(), "and again the next day");
    }
}
