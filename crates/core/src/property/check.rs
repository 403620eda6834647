//! The models and checks the property targets share: an independent model of the value grammar
//! and of the capped parse, and the checks of every answer's families and exposition.

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use regex_lite::Regex;
use serde_json::{Value, json};

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::exposition::{Chunk, Format};
use crate::snapshot::Family;
use crate::upstream::{DOCUMENTED_CODES, MAX_ITEMS, UpstreamError, parse_capped};
use crate::value::{Parsed, Unit};

/// Parses bytes as an answer body is parsed (lists capped at [`MAX_ITEMS`], numbers kept as
/// written); `None` is the transport's `invalid_response`. Below the cap the capped parser must
/// agree with serde_json: a difference fails the case.
pub(crate) fn json(bytes: &[u8]) -> Option<Value> {
    let capped = parse_capped(bytes, MAX_ITEMS).ok().map(|(value, _)| value);
    let plain: Option<Value> = serde_json::from_slice(bytes).ok();
    assert!(
        capped == plain,
        "the capped parser differs from serde_json on {:?}",
        String::from_utf8_lossy(bytes)
    );
    capped
}

/// `value` as the capped parser should give it with lists of at most `max` items, and the number
/// of items it should skip (those of the lists it keeps; the skipped items' own lists are not
/// built, so not counted).
fn capped_model(value: &Value, max: usize) -> (Value, u64) {
    match value {
        Value::Array(items) => {
            let mut dropped = items.len().saturating_sub(max) as u64;
            let kept = items
                .iter()
                .take(max)
                .map(|item| {
                    let (item, d) = capped_model(item, max);
                    dropped += d;
                    item
                })
                .collect();
            (Value::Array(kept), dropped)
        }
        Value::Object(fields) => {
            let mut dropped = 0;
            let kept = fields
                .iter()
                .map(|(k, v)| {
                    let (v, d) = capped_model(v, max);
                    dropped += d;
                    (k.clone(), v)
                })
                .collect();
            (Value::Object(kept), dropped)
        }
        other => (other.clone(), 0),
    }
}

// ----------------------------------------------------------------------------------------------
// An independent model of the value grammar
// ----------------------------------------------------------------------------------------------

fn regexes() -> &'static (Regex, Regex) {
    static RE: OnceLock<(Regex, Regex)> = OnceLock::new();
    RE.get_or_init(|| {
        let decimal = r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?";
        (
            Regex::new(&format!("^{decimal}$")).unwrap_or_else(|e| panic!("{e}")),
            Regex::new("^([0-9]{1,9}):([0-5][0-9]):([0-5][0-9])$").unwrap_or_else(|e| panic!("{e}")),
        )
    })
}

/// What the model expects of a value: a number (compared with a relative tolerance of 1e-12),
/// absent, invalid, or either of a value and invalid (a ratio at the ±100 bound, where rounding
/// decides).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Expect {
    Value(f64),
    Absent,
    Invalid,
    Either(f64),
}

impl Expect {
    /// Whether `got` is what the model expects.
    pub(crate) fn admits(self, got: Parsed) -> bool {
        match (self, got) {
            (Expect::Value(want) | Expect::Either(want), Parsed::Value(v)) => close(v, want),
            (Expect::Absent, Parsed::Absent) => true,
            (Expect::Invalid | Expect::Either(_), Parsed::Invalid) => true,
            _ => false,
        }
    }

    /// The value a sample may have, if any; `Either` says a sample may or may not exist.
    pub(crate) fn sample(self) -> Option<f64> {
        match self {
            Expect::Value(v) | Expect::Either(v) => Some(v),
            Expect::Absent | Expect::Invalid => None,
        }
    }
}

/// Whether two values agree to 12 significant digits.
pub(crate) fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

/// The grammar of a string, written from the README's rules, not from `value.rs`.
pub(crate) fn model_str(raw: &str, unit: Unit) -> Expect {
    let s = raw.trim();
    if s.is_empty() || s == "-" {
        return Expect::Absent;
    }
    let (decimal, hms) = regexes();
    let number = |t: &str| -> Option<f64> {
        decimal
            .is_match(t)
            .then(|| t.replace(',', "").parse::<f64>().ok())
            .flatten()
            .filter(|v| v.is_finite())
    };
    let value = match unit {
        Unit::Number => number(s),
        Unit::Count => number(s).filter(|v| *v >= 0.0 && v.fract() == 0.0),
        Unit::Seconds => match hms.captures(s) {
            Some(c) => {
                let part = |i: usize| c.get(i).map_or(0.0, |m| m.as_str().parse::<f64>().unwrap_or(f64::NAN));
                Some(part(1) * 3600.0 + part(2) * 60.0 + part(3))
            }
            None => number(s).filter(|v| *v >= 0.0),
        },
        Unit::Ratio => {
            let ratio = s.strip_suffix('%').and_then(number).map(|p| p / 100.0);
            match ratio {
                Some(r) if (r.abs() - 100.0).abs() < 1e-9 => return Expect::Either(r),
                Some(r) if r.abs() <= 100.0 => Some(r),
                _ => None,
            }
        }
    };
    value.map_or(Expect::Invalid, Expect::Value)
}

/// The grammar of a JSON value.
pub(crate) fn model(raw: Option<&Value>, unit: Unit) -> Expect {
    match raw {
        None | Some(Value::Null) => Expect::Absent,
        Some(Value::String(s)) => model_str(s, unit),
        Some(Value::Number(n)) => {
            let v = n.to_string().parse::<f64>().ok().filter(|v| v.is_finite());
            let v = match unit {
                Unit::Ratio => None,
                Unit::Count => v.filter(|v| *v >= 0.0 && v.fract() == 0.0),
                Unit::Seconds => v.filter(|v| *v >= 0.0),
                Unit::Number => v,
            };
            v.map_or(Expect::Invalid, Expect::Value)
        }
        Some(_) => Expect::Invalid,
    }
}

/// An id as the README describes them: a non-blank string (trimmed) or a JSON integer.
pub(crate) fn model_id(raw: Option<&Value>) -> Option<String> {
    match raw? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) if n.as_i64().is_some() || n.as_u64().is_some() => Some(n.to_string()),
        _ => None,
    }
}

/// An id as a label takes it: [`model_id`], none when longer than 128 bytes.
pub(crate) fn model_label_id(raw: Option<&Value>) -> Option<String> {
    model_id(raw).filter(|id| id.len() <= 128)
}

/// A name as a label takes it: trimmed; over 128 bytes, the whole characters that fit in 125
/// bytes and `…`.
pub(crate) fn model_name(name: &str) -> String {
    let name = name.trim();
    if name.len() <= 128 {
        return name.to_string();
    }
    let mut cut = String::new();
    for c in name.chars() {
        if cut.len() + c.len_utf8() > 125 {
            break;
        }
        cut.push(c);
    }
    cut + "…"
}

/// A whole number: a JSON number or a string of digits, within u64.
pub(crate) fn model_u64(raw: Option<&Value>) -> Option<u64> {
    match raw? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            let digits = s.strip_prefix('+').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok()
        }
        _ => None,
    }
}

// ----------------------------------------------------------------------------------------------
// The checks every target makes on its results
// ----------------------------------------------------------------------------------------------

/// The `code` label of a failed answer is one of a bounded set: a documented code, `other`,
/// `invalid_code` or `invalid_response`.
pub(crate) fn check_code_label(e: &UpstreamError) -> Result<(), TestCaseError> {
    let label = e.code_label();
    prop_assert!(
        DOCUMENTED_CODES.contains(&label.as_str())
            || ["other", "invalid_code", "invalid_response"].contains(&label.as_str()),
        "unbounded code label {label:?} of {e}"
    );
    Ok(())
}

/// A sample line as parsed back from the exposition.
type Line = (String, Vec<(String, String)>, f64);

/// Every sample finite; the families encode; both formats parse line by line (OpenMetrics:
/// `# HELP`, `# TYPE`, samples, `# EOF` last) and give back every sample, labels unescaped and
/// values exact.
pub(crate) fn check_families(families: &[Family]) -> Result<(), TestCaseError> {
    for family in families {
        for sample in &family.samples {
            prop_assert!(
                sample.value.is_finite(),
                "{}{:?} is {}: every sample must be finite",
                family.name,
                sample.labels,
                sample.value
            );
            for (key, _) in &sample.labels {
                prop_assert!(is_label_name(key), "label name {key:?}");
            }
        }
    }
    let chunk = Chunk::encode(vec![Arc::new(families.to_vec())])
        .map_err(|e| TestCaseError::fail(format!("encoding failed: {e}")))?;
    for format in [Format::OpenMetrics, Format::Text] {
        let body = chunk.body(format).to_bytes();
        let text = std::str::from_utf8(&body).map_err(|e| TestCaseError::fail(format!("not UTF-8: {e}")))?;
        let lines = parse_exposition(text, format == Format::OpenMetrics)
            .map_err(|e| TestCaseError::fail(format!("{format:?} does not parse: {e}\n{text}")))?;
        for family in families {
            let name = family.name.to_string();
            // Info series are merged by their labels other than `name`: only the count is checked.
            if name.ends_with("_info") {
                continue;
            }
            for sample in &family.samples {
                let labels: Vec<(String, String)> =
                    sample.labels.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
                let found = lines.iter().find(|(n, l, _)| *n == name && *l == labels);
                prop_assert!(
                    found.is_some_and(|(_, _, v)| v.to_bits() == sample.value.to_bits()
                        || (*v == 0.0 && sample.value == 0.0)),
                    "{name}{labels:?} = {} is not in the exposition as written:\n{text}",
                    sample.value
                );
            }
        }
    }
    Ok(())
}

fn is_metric_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn is_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Parses an exposition line by line; returns its samples.
pub(crate) fn parse_exposition(text: &str, openmetrics: bool) -> Result<Vec<Line>, String> {
    let mut samples = Vec::new();
    let body = match text.strip_suffix("# EOF\n") {
        Some(body) if openmetrics => body,
        _ if openmetrics => return Err("no `# EOF` at the end".into()),
        _ => text,
    };
    if !body.is_empty() && !body.ends_with('\n') {
        return Err("no newline at the end".into());
    }
    let mut family = String::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _help) = rest.split_once(' ').ok_or(format!("HELP without text: {line:?}"))?;
            if !is_metric_name(name) {
                return Err(format!("bad name in {line:?}"));
            }
            family = name.to_string();
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or(format!("bad TYPE: {line:?}"))?;
            if name != family || !["gauge", "counter"].contains(&kind) {
                return Err(format!("TYPE of another family or type: {line:?}"));
            }
        } else if line.starts_with('#') {
            return Err(format!("unexpected comment {line:?}"));
        } else {
            let sample = parse_sample(line).map_err(|e| format!("{e} in {line:?}"))?;
            let base = sample.0.strip_suffix("_total").unwrap_or(&sample.0);
            if sample.0 != family && base != family {
                return Err(format!("sample of another family than {family}: {line:?}"));
            }
            samples.push(sample);
        }
    }
    Ok(samples)
}

/// `name{k="v",…} value`, label values escaped as both formats require (`\\`, `\"`, `\n`).
fn parse_sample(line: &str) -> Result<Line, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            let eq = inner.find("=\"").ok_or("label without =\"")?;
            let key = &inner[..eq];
            if !is_label_name(key) || labels.iter().any(|(k, _)| k == key) {
                return Err(format!("bad or repeated label name {key:?}"));
            }
            let mut value = String::new();
            let mut chars = inner[eq + 2..].char_indices();
            let end = loop {
                match chars.next().ok_or("unterminated label value")? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        other => return Err(format!("bad escape \\{other}")),
                    },
                    (_, '\n') => return Err("raw newline in a label value".into()),
                    (_, c) => value.push(c),
                }
            };
            labels.push((key.to_string(), value));
            inner = &inner[eq + 2 + end + 1..];
            if let Some(after) = inner.strip_prefix(',') {
                inner = after;
            } else if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            } else {
                return Err("label set not closed".into());
            }
        }
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    if value.contains(' ') {
        return Err("more than a value after the labels".into());
    }
    let v: f64 = value.parse().map_err(|_| format!("value {value:?} is not a number"))?;
    if !v.is_finite() {
        return Err(format!("value {value:?} is not finite"));
    }
    Ok((name.to_string(), labels, v))
}

/// Every example answer of the documents.
const ALL_SEEDS: &[&str] = &[
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/sobot/get_service_data.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/sobot/human_satisfaction.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/sobot/call_result.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/laaffic/seat_query.json")),
    include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/platform/get_batch_app_key.json"
    )),
    include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/platform/get_staff_log_infos.json"
    )),
];

proptest! {
    #![proptest_config(cases(1500))]

    /// The first step of every answer: the capped parser keeps the first `max` items of every
    /// list, counts those it skips, and refuses exactly what serde_json refuses.
    #[test]
    fn answers_parse_in_bounded_memory((_, bytes) in answer(ALL_SEEDS), max in 0usize..4) {
        let plain: Option<Value> = serde_json::from_slice(&bytes).ok();
        let capped = parse_capped(&bytes[..], max).ok();
        // Skipped items are checked for syntax but their strings not for UTF-8 (serde's
        // IgnoredAny): invalid UTF-8 past the cap passes. Harmless, as nothing reads them.
        let invalid_utf8_skipped = std::str::from_utf8(&bytes).is_err() && capped.is_some();
        prop_assert!(capped.is_some() == plain.is_some() || invalid_utf8_skipped);
        if let (Some((value, dropped)), Some(plain)) = (capped, plain) {
            let (want, want_dropped) = capped_model(&plain, max);
            prop_assert_eq!(value, want);
            // A list under a key given twice is skipped (and counted) before the later one
            // replaces it: at least the kept lists' excess is counted.
            prop_assert!(dropped >= want_dropped, "{} skipped, at least {} expected", dropped, want_dropped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_checker_rejects_what_a_scraper_would() {
        let good = "# HELP a_b x y\n# TYPE a_b gauge\na_b{k=\"v\\\"\\n\\\\\"} 1.5\na_b 2\n# EOF\n";
        let lines = parse_exposition(good, true).expect("valid");
        assert_eq!(lines[0], ("a_b".to_string(), vec![("k".to_string(), "v\"\n\\".to_string())], 1.5));
        for bad in [
            "# HELP a x\n# TYPE a gauge\na 1\n",
            "# HELP a x\n# TYPE a gauge\na{k=\"v} 1\n# EOF\n",
            "# HELP a x\n# TYPE a gauge\na{k=\"\\x\"} 1\n# EOF\n",
            "# HELP a x\n# TYPE a gauge\na{k=\"v\",k=\"w\"} 1\n# EOF\n",
            "# HELP a x\n# TYPE a gauge\na NaN\n# EOF\n",
            "# HELP a x\n# TYPE a gauge\na +Inf\n# EOF\n",
            "# HELP a x\n# TYPE a gauge\nb 1\n# EOF\n",
            "# HELP a x\n# TYPE a gauge\na{1k=\"v\"} 1\n# EOF\n",
        ] {
            assert!(parse_exposition(bad, true).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_model_reads_the_documents_examples() {
        assert_eq!(model_str("53.49%", Unit::Ratio), Expect::Value(0.5349));
        assert_eq!(model_str("00:07:15", Unit::Seconds), Expect::Value(435.0));
        assert_eq!(model_str(" - ", Unit::Count), Expect::Absent);
        assert_eq!(model_str("-3", Unit::Count), Expect::Invalid);
        assert_eq!(model(Some(&json!(0.5)), Unit::Ratio), Expect::Invalid);
        assert_eq!(model(Some(&json!(3)), Unit::Count), Expect::Value(3.0));
    }

    #[test]
    fn mutations_change_the_document() {
        let mut doc = json!({"item": {"a": "1", "b": ["x", "y"]}});
        let keys = keys(&doc);
        mutate(&mut doc, &Mutation { at: 0, op: Op::WrapInList }, &keys);
        assert!(doc.is_array(), "{doc}");
        let mut text = br#"{"a":"{","b":1}"#.to_vec();
        let dup = ByteOp::DuplicateKey { at: 0, key: 0, value: json!(2), last: true };
        mutate_bytes(&mut text, &dup, &["b".to_string()]);
        assert_eq!(json(&text), Some(json!({"a": "{", "b": 2})), "{}", String::from_utf8_lossy(&text));
    }
}
