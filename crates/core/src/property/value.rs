//! Fuzz target: the value grammar against the independent model of `crate::fuzz`, and its round
//! trips (a formatted duration, ratio or count parses back to itself).

use proptest::prelude::*;
use serde_json::Value;

use crate::property::{self, Expect};
use crate::value::*;

fn unit() -> impl Strategy<Value = Unit> {
    prop_oneof![Just(Unit::Count), Just(Unit::Ratio), Just(Unit::Seconds), Just(Unit::Number)]
}

/// Strings near the grammar: the vendors' alphabet, hostile strings, any string.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[0-9:%.,+ -]{0,30}",
        2 => "[ ]?[+-]?[0-9]{1,4}(,[0-9]{1,4}){0,3}(\\.[0-9]{0,3})?%?[ ]?",
        2 => "[0-9]{1,12}:[0-9]{1,3}:[0-9]{1,3}",
        2 => property::hostile().prop_map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        }),
        1 => any::<String>(),
    ]
}

/// Formats `v` with thousands separators: `1234567` → `1,234,567`.
fn grouped(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Compares `got` with what the model says, and checks the unit's range.
fn agrees(raw: &str, got: Parsed, want: Expect, unit: Unit) -> Result<(), TestCaseError> {
    prop_assert!(want.admits(got), "{:?} as {:?}: {:?}, the model says {:?}", raw, unit, got, want);
    if let Parsed::Value(v) = got {
        prop_assert!(v.is_finite());
        match unit {
            Unit::Count => prop_assert!(v >= 0.0 && v.fract() == 0.0, "count {v}"),
            Unit::Seconds => prop_assert!(v >= 0.0, "seconds {v}"),
            Unit::Ratio => prop_assert!(v.abs() <= 100.0, "ratio {v}"),
            Unit::Number => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(property::cases(5000))]

    #[test]
    fn strings_as_the_model_reads_them(raw in text(), unit in unit()) {
        agrees(&raw, parse_str(&raw, unit), property::model_str(&raw, unit), unit)?;
    }

    #[test]
    fn json_values_as_the_model_reads_them(raw in property::hostile(), unit in unit()) {
        agrees(&raw.to_string(), parse_json(Some(&raw), unit), property::model(Some(&raw), unit), unit)?;
        prop_assert_eq!(parse_id(Some(&raw)), property::model_id(Some(&raw)));
        prop_assert_eq!(parse_u64(Some(&raw)), property::model_u64(Some(&raw)));
    }

    #[test]
    fn formatted_values_parse_back(
        seconds in 0u64..1_000_000_000 * 3600,
        hundredths in -1_000_000i64..=1_000_000,
        percent in -10_000.0f64..=10_000.0,
        count in 0u64..(1 << 53),
    ) {
        let hms = format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
        #[allow(clippy::cast_precision_loss)]
        let want = seconds as f64;
        prop_assert_eq!(parse_str(&hms, Unit::Seconds), Parsed::Value(want), "{}", hms);
        prop_assert_eq!(parse_str(&seconds.to_string(), Unit::Seconds), Parsed::Value(want));

        #[allow(clippy::cast_precision_loss)]
        let ratio = hundredths as f64 / 10_000.0;
        let text = format!("{}.{:02}%", hundredths / 100, (hundredths % 100).abs());
        let text = if hundredths < 0 && hundredths > -100 { format!("-{}", text) } else { text };
        match parse_str(&text, Unit::Ratio) {
            Parsed::Value(v) => prop_assert!(property::close(v, ratio), "{} gave {}", text, v),
            other => prop_assert!(false, "{} gave {:?}", text, other),
        }
        // Rust writes an f64 without an exponent: any percentage in range reads back.
        match parse_str(&format!("{percent}%"), Unit::Ratio) {
            Parsed::Value(v) => prop_assert!(property::close(v, percent / 100.0), "{}% gave {}", percent, v),
            other => prop_assert!(false, "{}% gave {:?}", percent, other),
        }

        #[allow(clippy::cast_precision_loss)]
        let want = count as f64;
        prop_assert_eq!(parse_str(&count.to_string(), Unit::Count), Parsed::Value(want));
        prop_assert_eq!(parse_str(&grouped(count), Unit::Count), Parsed::Value(want), "{}", grouped(count));
        prop_assert_eq!(parse_json(Some(&Value::from(count)), Unit::Count), Parsed::Value(want));
    }
}

proptest! {
    // No failure persistence (files in the source tree); FUZZ_CASES runs them longer.
    #![proptest_config(property::cases(256))]

    #[test]
    fn never_panics_and_values_are_finite(raw in any::<String>(), unit in unit()) {
        if let Parsed::Value(v) = parse_str(&raw, unit) {
            prop_assert!(v.is_finite());
        }
    }

    #[test]
    fn never_panics_on_vendor_alphabet(raw in "[0-9:%.,+ -]{0,24}", unit in unit()) {
        if let Parsed::Value(v) = parse_str(&raw, unit) {
            prop_assert!(v.is_finite());
        }
    }

    #[test]
    fn durations_round_trip(h in 0u64..100_000, m in 0u64..60, s in 0u64..60) {
        let raw = format!("{h:02}:{m:02}:{s:02}");
        #[allow(clippy::cast_precision_loss)]
        let want = (h * 3600 + m * 60 + s) as f64;
        prop_assert_eq!(parse_str(&raw, Unit::Seconds), Parsed::Value(want));
    }

    #[test]
    fn percentages_round_trip(hundredths in -100_000i64..100_000) {
        #[allow(clippy::cast_precision_loss)]
        let pct = hundredths as f64 / 100.0;
        let raw = format!("{pct:.2}%");
        match parse_str(&raw, Unit::Ratio) {
            Parsed::Value(v) => {
                prop_assert!((v - pct / 100.0).abs() < 1e-12);
                // The shortest representation has no float noise: at most 4 decimals.
                let text = v.to_string();
                let decimals = text.split_once('.').map_or(0, |(_, f)| f.len());
                prop_assert!(decimals <= 4, "{} gave {}", raw, text);
            }
            other => prop_assert!(false, "{raw} gave {other:?}"),
        }
    }
}
