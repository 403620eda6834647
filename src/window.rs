//! Statistics windows: which local day a value covers, and how each endpoint wants it written.

use jiff::{Timestamp, civil::Date, tz::TimeZone};

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
    pub const ALL: [Window; 2] = [Window::Today, Window::Yesterday];

    /// The `window` label value (also the config spelling).
    pub fn label(self) -> &'static str {
        match self {
            Window::Today => "today",
            Window::Yesterday => "yesterday",
        }
    }

    /// Parses the config spelling.
    pub fn parse(s: &str) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.label() == s)
    }

    /// The local day this window covers at `now` in `tz`.
    pub fn day(self, now: Timestamp, tz: &TimeZone) -> Date {
        let today = now.to_zoned(tz.clone()).date();
        match self {
            Window::Today => today,
            // Only fails at the minimum representable date, far outside any clock.
            Window::Yesterday => today.yesterday().unwrap_or(today),
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
