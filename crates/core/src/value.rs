//! The value grammar: the vendors' strings (`"53.49%"`, `"00:07:15"`, `"3.80"`) turned into numbers,
//! and the lenient reading of ids and whole numbers that come as strings or numbers.
//!
//! Pure and total: every input gives [`Parsed::Value`], [`Parsed::Absent`] or [`Parsed::Invalid`]
//! (or an `Option` for ids and whole numbers), never a panic and never a made-up zero.

use serde_json::Value;

/// What a field measures; decides the grammar and the metric name's suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A number of things (sessions, messages): a whole number, not negative: `"63"`.
    Count,
    /// A percentage string, exported as a ratio 0–1: `"53.49%"` → 0.5349, name ends in `_ratio`.
    Ratio,
    /// A duration `H:MM:SS` (hours may exceed 24), exported in seconds, name ends in `_seconds`.
    Seconds,
    /// Any other decimal (averages, scores): `"3.80"` → 3.8.
    Number,
}

impl Unit {
    #[cfg(test)]
    /// The suffix a metric name of this unit must end with, if any.
    pub(crate) fn suffix(self) -> Option<&'static str> {
        match self {
            Unit::Ratio => Some("_ratio"),
            Unit::Seconds => Some("_seconds"),
            Unit::Count | Unit::Number => None,
        }
    }

    /// A short English description for help texts and the metrics reference.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Ratio => "ratio 0–1",
            Unit::Seconds => "seconds",
            Unit::Number => "number",
        }
    }
}

/// The outcome of parsing one upstream value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Parsed {
    /// A finite number, ready to export.
    Value(f64),
    /// Blank, `"-"`, null or missing: no sample, not an error.
    Absent,
    /// Not in the grammar: no sample, counted as a parse error.
    Invalid,
}

/// Parses an upstream JSON value (string or number, as documented or not) as `unit`.
pub(crate) fn parse_json(value: Option<&Value>, unit: Unit) -> Parsed {
    match value {
        None | Some(Value::Null) => Parsed::Absent,
        Some(Value::String(s)) => parse_str(s, unit),
        Some(Value::Number(n)) => match n.as_f64() {
            // A bare number for a ratio is ambiguous (0.5 or 50 %?), so it is rejected.
            Some(v)
                if v.is_finite()
                    && unit != Unit::Ratio
                    && (unit != Unit::Count || is_count(v))
                    && (unit != Unit::Seconds || v >= 0.0) =>
            {
                Parsed::Value(v)
            }
            _ => Parsed::Invalid,
        },
        Some(_) => Parsed::Invalid,
    }
}

/// Parses an upstream string as `unit`.
pub fn parse_str(raw: &str, unit: Unit) -> Parsed {
    let s = raw.trim();
    if s.is_empty() || s == "-" {
        return Parsed::Absent;
    }
    let parsed = match unit {
        // Beyond ±10,000 % a percentage is garbage, not a ratio to export (`"999…9%"`).
        Unit::Ratio => s.strip_suffix('%').and_then(percent_as_ratio).filter(|r| r.abs() <= MAX_RATIO),
        Unit::Seconds => hms(s).or_else(|| decimal(s).filter(|v| *v >= 0.0)),
        Unit::Count => decimal(s).filter(|v| is_count(*v)),
        Unit::Number => decimal(s),
    };
    match parsed {
        Some(v) if v.is_finite() => Parsed::Value(v),
        _ => Parsed::Invalid,
    }
}

/// An identifier the upstream may send as a string or a JSON integer (Laaffic's `keyId` and
/// `status`, Sobot's agent and group ids): `" 681 "` and `681` both give `"681"`. Blank, null,
/// missing, fractions and other types give `None`: no id, which the caller counts or skips.
pub(crate) fn parse_id(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

/// A whole number the upstream may send as a JSON number or a numeric string (`page_count`,
/// `pages`, `deleteFlag`, `enable`, `expires_in`): `3`, `"3"` and `" 3 "` give 3. Anything
/// else, negative numbers and fractions included, gives `None`.
pub(crate) fn parse_u64(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The largest ratio taken (10,000 %); anything beyond is an invalid value.
const MAX_RATIO: f64 = 100.0;

/// Whole and not negative: a count of sessions cannot be -3 or 2.5.
fn is_count(v: f64) -> bool {
    v >= 0.0 && v.fract() == 0.0
}

/// A plain decimal: optional sign, digits (optionally grouped by commas in threes), optional
/// fraction. No exponents, `inf` or `NaN`, which `f64::from_str` would accept.
fn decimal(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    if int.is_empty() || !digits_with_grouping(int) {
        return None;
    }
    if let Some(f) = frac
        && (f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    s.replace(',', "").parse().ok()
}

/// `"68.82"` → 0.6882, by moving the decimal point in the text rather than dividing by 100, so
/// that the result is the float nearest to the exact ratio (0.6882, not 0.6881999999999999).
fn percent_as_ratio(s: &str) -> Option<f64> {
    decimal(s)?;
    let (sign, unsigned) = match s.strip_prefix(['-', '+']) {
        Some(rest) => (&s[..1], rest),
        None => ("", s),
    };
    let unsigned = unsigned.replace(',', "");
    let (int, frac) = unsigned.split_once('.').unwrap_or((&unsigned, ""));
    let int = format!("{int:0>3}");
    let (whole, hundredths) = int.split_at(int.len() - 2);
    format!("{sign}{whole}.{hundredths}{frac}").parse().ok()
}

/// Digits, or digits grouped `1,234,567` (first group 1–3 digits, then groups of exactly 3).
fn digits_with_grouping(int: &str) -> bool {
    let mut groups = int.split(',');
    let first = groups.next().unwrap_or_default();
    let all_digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    if !int.contains(',') {
        return all_digits(first);
    }
    all_digits(first) && first.len() <= 3 && groups.all(|g| g.len() == 3 && all_digits(g))
}

/// `H:MM:SS` with any number of hour digits and minutes and seconds below 60.
fn hms(s: &str) -> Option<f64> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || m.len() != 2 || sec.len() != 2 || h.is_empty() || h.len() > 9 {
        return None;
    }
    let number = |p: &str| -> Option<u64> {
        if p.bytes().all(|b| b.is_ascii_digit()) { p.parse().ok() } else { None }
    };
    let (h, m, sec) = (number(h)?, number(m)?, number(sec)?);
    if m >= 60 || sec >= 60 {
        return None;
    }
    // At most 9 hour digits: the sum stays far below 2^53, so the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    Some((h * 3600 + m * 60 + sec) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_invalid_not_the_whole_answer() {
        // A number beyond f64 fails that value only: the answer still parses.
        let body: Value =
            serde_json::from_str(r#"{"huge": 1e400, "fine": "5", "tiny": -1e400}"#).expect("parses");
        assert_eq!(parse_json(body.get("huge"), Unit::Count), Parsed::Invalid);
        assert_eq!(parse_json(body.get("tiny"), Unit::Number), Parsed::Invalid);
        assert_eq!(parse_json(body.get("fine"), Unit::Count), Parsed::Value(5.0));
        let nines = format!("{}%", "9".repeat(30));
        assert_eq!(parse_str(&nines, Unit::Ratio), Parsed::Invalid);
        assert_eq!(parse_str("10000%", Unit::Ratio), Parsed::Value(100.0));
        assert_eq!(parse_str("-60.00%", Unit::Ratio), Parsed::Value(-0.6));
    }
    use serde_json::json;

    #[test]
    fn documented_examples() {
        let cases: &[(&str, Unit, Parsed)] = &[
            ("53.49%", Unit::Ratio, Parsed::Value(0.5349)),
            ("-60.00%", Unit::Ratio, Parsed::Value(-0.6)),
            ("00%", Unit::Ratio, Parsed::Value(0.0)),
            ("0%", Unit::Ratio, Parsed::Value(0.0)),
            ("100.00%", Unit::Ratio, Parsed::Value(1.0)),
            ("68.82%", Unit::Ratio, Parsed::Value(0.6882)),
            ("46.51%", Unit::Ratio, Parsed::Value(0.4651)),
            ("5%", Unit::Ratio, Parsed::Value(0.05)),
            ("+7.5%", Unit::Ratio, Parsed::Value(0.075)),
            ("1,234.5%", Unit::Ratio, Parsed::Value(12.345)),
            ("00:07:15", Unit::Seconds, Parsed::Value(435.0)),
            ("123:04:05", Unit::Seconds, Parsed::Value(443_045.0)),
            ("25:03:07", Unit::Seconds, Parsed::Value(90_187.0)),
            ("00:00:00", Unit::Seconds, Parsed::Value(0.0)),
            ("3.80", Unit::Number, Parsed::Value(3.8)),
            ("-10.0", Unit::Number, Parsed::Value(-10.0)),
            ("63", Unit::Count, Parsed::Value(63.0)),
            ("1,234", Unit::Count, Parsed::Value(1234.0)),
            ("1,234,567.5", Unit::Number, Parsed::Value(1_234_567.5)),
            (" 42 ", Unit::Count, Parsed::Value(42.0)),
            ("435", Unit::Seconds, Parsed::Value(435.0)),
        ];
        for (raw, unit, want) in cases {
            assert_eq!(parse_str(raw, *unit), *want, "{raw:?} as {unit:?}");
        }
    }

    #[test]
    fn blanks_are_absent_not_zero() {
        for raw in ["", "   ", "-", " - "] {
            for unit in [Unit::Count, Unit::Ratio, Unit::Seconds, Unit::Number] {
                assert_eq!(parse_str(raw, unit), Parsed::Absent, "{raw:?}");
            }
        }
        assert_eq!(parse_json(None, Unit::Count), Parsed::Absent);
        assert_eq!(parse_json(Some(&Value::Null), Unit::Ratio), Parsed::Absent);
    }

    #[test]
    fn garbage_is_invalid() {
        let cases: &[(&str, Unit)] = &[
            ("53.49", Unit::Ratio),
            ("%", Unit::Ratio),
            ("abc%", Unit::Ratio),
            ("NaN", Unit::Number),
            ("inf", Unit::Count),
            ("1e5", Unit::Count),
            ("12,34", Unit::Count),
            (",123", Unit::Count),
            ("1.", Unit::Number),
            (".5", Unit::Number),
            ("--1", Unit::Number),
            ("07:15", Unit::Seconds),
            ("00:60:00", Unit::Seconds),
            ("00:00:61", Unit::Seconds),
            ("1:2:3", Unit::Seconds),
            ("-1:00:00", Unit::Seconds),
            ("-10", Unit::Seconds),
            ("00:07:15", Unit::Count),
            ("53.49%", Unit::Count),
            ("-3", Unit::Count),
            ("2.5", Unit::Count),
            ("十", Unit::Count),
        ];
        for (raw, unit) in cases {
            assert_eq!(parse_str(raw, *unit), Parsed::Invalid, "{raw:?} as {unit:?}");
        }
    }

    #[test]
    fn json_numbers_where_strings_are_documented() {
        assert_eq!(parse_json(Some(&json!(63)), Unit::Count), Parsed::Value(63.0));
        assert_eq!(parse_json(Some(&json!(3.8)), Unit::Number), Parsed::Value(3.8));
        assert_eq!(parse_json(Some(&json!(435)), Unit::Seconds), Parsed::Value(435.0));
        assert_eq!(parse_json(Some(&json!(0.5)), Unit::Ratio), Parsed::Invalid);
        assert_eq!(parse_json(Some(&json!(-1)), Unit::Count), Parsed::Invalid);
        assert_eq!(parse_json(Some(&json!(1.5)), Unit::Count), Parsed::Invalid);
        assert_eq!(parse_json(Some(&json!(true)), Unit::Count), Parsed::Invalid);
        assert_eq!(parse_json(Some(&json!([1])), Unit::Count), Parsed::Invalid);
        assert_eq!(parse_json(Some(&json!({"a": 1})), Unit::Count), Parsed::Invalid);
    }

    #[test]
    fn ids_come_as_strings_or_integers() {
        assert_eq!(parse_id(Some(&json!(" 681 "))), Some("681".to_string()));
        assert_eq!(parse_id(Some(&json!(681))), Some("681".to_string()));
        assert_eq!(parse_id(Some(&json!(-7))), Some("-7".to_string()));
        assert_eq!(parse_id(Some(&json!("093685e7ae85"))), Some("093685e7ae85".to_string()));
        // Not an id: nothing, blank, null, a fraction, a list.
        assert_eq!(parse_id(None), None);
        assert_eq!(parse_id(Some(&json!("  "))), None);
        assert_eq!(parse_id(Some(&Value::Null)), None);
        assert_eq!(parse_id(Some(&json!(1.5))), None);
        assert_eq!(parse_id(Some(&json!(true))), None);
        assert_eq!(parse_id(Some(&json!(["a"]))), None);
    }

    #[test]
    fn whole_numbers_come_as_numbers_or_strings() {
        assert_eq!(parse_u64(Some(&json!(3))), Some(3));
        assert_eq!(parse_u64(Some(&json!("86400"))), Some(86_400));
        assert_eq!(parse_u64(Some(&json!(" 1 "))), Some(1));
        assert_eq!(parse_u64(Some(&json!("18446744073709551615"))), Some(u64::MAX));
        assert_eq!(parse_u64(None), None);
        assert_eq!(parse_u64(Some(&Value::Null)), None);
        assert_eq!(parse_u64(Some(&json!(-1))), None);
        assert_eq!(parse_u64(Some(&json!(1.5))), None);
        assert_eq!(parse_u64(Some(&json!("-1"))), None);
        assert_eq!(parse_u64(Some(&json!("1.0"))), None);
        assert_eq!(parse_u64(Some(&json!(""))), None);
        assert_eq!(parse_u64(Some(&json!("18446744073709551616"))), None);
        assert_eq!(parse_u64(Some(&json!(false))), None);
    }
}
