//! Statistics windows: which local day a value covers, and how each endpoint wants it written.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::{Timestamp, civil::Date, tz::TimeZone};
use tokio::time::Instant;

use crate::table::DateFormat;

/// The date range a value covers; exported as the `window` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Window {
    /// From local midnight to now.
    Today,
    /// The previous local day, complete and settled.
    Yesterday,
}

impl Window {
    /// Every window, in label order.
    pub(crate) const ALL: [Window; 2] = [Window::Today, Window::Yesterday];

    /// The `window` label value (also the config spelling).
    pub(crate) fn label(self) -> &'static str {
        match self {
            Window::Today => "today",
            Window::Yesterday => "yesterday",
        }
    }

    /// Parses the config spelling.
    pub(crate) fn parse(s: &str) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.label() == s)
    }

    /// The local day this window covers at `now` in `tz`.
    pub(crate) fn day(self, now: Timestamp, tz: &TimeZone) -> Date {
        let today = now.to_zoned(tz.clone()).date();
        match self {
            Window::Today => today,
            // Only fails at the minimum representable date, far outside any clock.
            Window::Yesterday => today.yesterday().unwrap_or(today),
        }
    }
}

/// The last answer for a settled window (`yesterday`): reused until the day changes or an hour
/// has passed, so that a settled day costs one call an hour instead of one a cycle (the hourly
/// refresh picks up late corrections upstream).
#[derive(Debug)]
pub(crate) struct Settled<T> {
    cached: Mutex<Option<(Date, Instant, T)>>,
}

impl<T> Default for Settled<T> {
    fn default() -> Self {
        Self { cached: Mutex::new(None) }
    }
}

impl<T: Clone> Settled<T> {
    /// How long a settled answer is reused.
    pub(crate) const REFRESH: Duration = Duration::from_secs(3600);

    /// The cached answer for `day`, if fresh.
    pub(crate) fn get(&self, day: Date) -> Option<T> {
        let cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        cached
            .as_ref()
            .filter(|(d, at, _)| *d == day && at.elapsed() < Self::REFRESH)
            .map(|(_, _, v)| v.clone())
    }

    /// Keeps the answer for `day`.
    pub(crate) fn put(&self, day: Date, value: T) {
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = Some((day, Instant::now(), value));
    }
}

/// The time the collectors read: the system's, or a moment set from outside, so that the live
/// path runs "at" a past hour (the backfill, and the tests that compare the two).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// The set moment in seconds since the epoch; `None`: the system's time.
    fixed: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// A clock at `at` until [`Clock::set`] moves it.
    pub fn at(at: Timestamp) -> Self {
        Self { fixed: Some(Arc::new(AtomicI64::new(at.as_second()))) }
    }

    /// Moves a set clock (and every copy of it) to `at`; the system's clock stays as it is.
    pub fn set(&self, at: Timestamp) {
        if let Some(fixed) = &self.fixed {
            fixed.store(at.as_second(), Ordering::Relaxed);
        }
    }

    /// Whether it is a set clock (the backfill's), not the system's.
    pub(crate) fn is_set(&self) -> bool {
        self.fixed.is_some()
    }

    /// Now, by this clock.
    pub fn now(&self) -> Timestamp {
        match &self.fixed {
            None => Timestamp::now(),
            Some(fixed) => {
                Timestamp::from_second(fixed.load(Ordering::Relaxed)).unwrap_or(Timestamp::UNIX_EPOCH)
            }
        }
    }

    /// `start_date`/`end_date` for `day` in `format`: the whole day ([`day_range`]) by the system's
    /// clock; by a set clock, from midnight to its moment when `day` is its day in `tz` (hours
    /// `00` to its hour, seconds to its second), so that the answer is the day so far then.
    pub(crate) fn range(&self, day: Date, format: DateFormat, tz: &TimeZone) -> (String, String) {
        let whole = day_range(day, format);
        if self.fixed.is_none() {
            return whole;
        }
        let now = self.now().to_zoned(tz.clone());
        if now.date() != day {
            return whole;
        }
        match format {
            DateFormat::Hour => (whole.0, now.strftime("%Y-%m-%d %H").to_string()),
            DateFormat::Day => whole,
            DateFormat::Second => (whole.0, now.strftime("%Y-%m-%d %H:%M:%S").to_string()),
        }
    }
}

/// `start_date`/`end_date` for a whole local day in an endpoint's format. For the hourly format the
/// range is hours `00` to `23` of that day: hours not reached yet hold no data, so for `today` this
/// is "midnight to now" whether the upstream reads the end hour as inclusive or not.
pub fn day_range(day: Date, format: DateFormat) -> (String, String) {
    let d = day.strftime("%Y-%m-%d").to_string();
    match format {
        DateFormat::Hour => (format!("{d} 00"), format!("{d} 23")),
        DateFormat::Day => (d.clone(), d),
        DateFormat::Second => (format!("{d} 00:00:00"), format!("{d} 23:59:59")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_clock_asks_for_the_day_so_far() {
        let tz = shanghai();
        // 09:59:59 in Shanghai on 2026-11-23.
        let clock = Clock::at("2026-11-23T01:59:59Z".parse().expect("valid"));
        let day: Date = "2026-11-23".parse().expect("valid");
        let range = |format| clock.range(day, format, &tz);
        assert_eq!(range(DateFormat::Hour), ("2026-11-23 00".to_string(), "2026-11-23 09".to_string()));
        assert_eq!(range(DateFormat::Day), ("2026-11-23".to_string(), "2026-11-23".to_string()));
        assert_eq!(range(DateFormat::Second).1, "2026-11-23 09:59:59");
        // Another day, and the system's clock: the whole day.
        let before: Date = "2026-11-22".parse().expect("valid");
        assert_eq!(clock.range(before, DateFormat::Hour, &tz).1, "2026-11-22 23");
        assert_eq!(Clock::default().range(day, DateFormat::Hour, &tz).1, "2026-11-23 23");
        let copy = clock.clone();
        clock.set("2026-11-23T15:59:59Z".parse().expect("valid"));
        assert_eq!(copy.range(day, DateFormat::Hour, &tz).1, "2026-11-23 23", "copies move together");
        assert_eq!(Window::Today.day(copy.now(), &tz), day);
    }

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").expect("bundled tzdb has Asia/Shanghai")
    }

    #[test]
    fn local_day_not_utc_day() {
        // 2026-11-22T17:30:00Z is 2026-11-23 01:30 in Shanghai.
        let now: Timestamp = "2026-11-22T17:30:00Z".parse().expect("valid timestamp");
        let tz = shanghai();
        assert_eq!(Window::Today.day(now, &tz).to_string(), "2026-11-23");
        assert_eq!(Window::Yesterday.day(now, &tz).to_string(), "2026-11-22");
        assert_eq!(Window::Today.day(now, &TimeZone::UTC).to_string(), "2026-11-22");
    }

    #[test]
    fn formats_per_endpoint() {
        let day = jiff::civil::date(2019, 8, 1);
        assert_eq!(
            day_range(day, DateFormat::Hour),
            ("2019-08-01 00".to_string(), "2019-08-01 23".to_string())
        );
        assert_eq!(day_range(day, DateFormat::Day), ("2019-08-01".to_string(), "2019-08-01".to_string()));
    }

    #[test]
    fn labels_round_trip() {
        for w in Window::ALL {
            assert_eq!(Window::parse(w.label()), Some(w));
        }
        assert_eq!(Window::parse("last_week"), None);
    }
}

#[cfg(test)]
mod settled_tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn reused_for_an_hour_and_only_for_its_day() {
        let settled: Settled<u32> = Settled::default();
        let day = jiff::civil::date(2026, 11, 22);
        assert_eq!(settled.get(day), None);
        settled.put(day, 7);
        assert_eq!(settled.get(day), Some(7));
        assert_eq!(settled.get(jiff::civil::date(2026, 11, 23)), None, "a new day is fetched");
        tokio::time::advance(Settled::<u32>::REFRESH).await;
        assert_eq!(settled.get(day), None, "refreshed after an hour");
    }
}
