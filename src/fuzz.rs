//! Fuzzing on stable Rust: proptest strategies that mutate the documents' example answers (and
//! the config files of `src/config/testdata`), an independent model of the value grammar, and the
//! checks every target shares (finite samples, an exposition that parses).
//!
//! The targets live next to the code they reach, each in a `fuzz` module of its own:
//! `value/fuzz.rs` (the grammar), `config/collection/fuzz.rs` (the YAML file),
//! `sources/sobot/client/fuzz.rs` (result codes, the token answer), `sources/sobot/stats/fuzz.rs`,
//! `sources/sobot/quality/fuzz.rs`, `sources/laaffic/seats/fuzz.rs` and `sources/platform/decode/fuzz.rs` (every
//! endpoint's answer, through the same steps a real answer takes: JSON, result code, decoder,
//! families, exposition).
//!
//! Each target runs [`cases`] cases: the defaults keep the whole run at about 30 s of CPU in CI;
//! `FUZZ_SCALE=10` (ten times each default) or `FUZZ_CASES=100000` (that many for every target)
//! run longer: `FUZZ_SCALE=10 cargo test --locked --lib fuzz` (nextest would stop a test after
//! two minutes). The cases are drawn from a fixed seed, so a normal run tries the same ones every
//! time and fails only on a finding; `FUZZ_SEED=random` (or another number) draws new ones. A
//! failure prints the shrunk input; nothing is written to the source tree (add the case as a unit
//! test instead).

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngSeed, TestCaseError};
use regex_lite::Regex;
use serde_json::{Map, Value, json};

use crate::exposition::{Chunk, Format};
use crate::snapshot::Family;
use crate::upstream::{DOCUMENTED_CODES, MAX_ITEMS, UpstreamError, parse_capped};
use crate::value::{Parsed, Unit};

/// The proptest settings of a target: `FUZZ_CASES` cases if set, else `default` times
/// `FUZZ_SCALE` (1 unless set); no failure persistence (files in the source tree); a bounded
/// shrink.
pub(crate) fn cases(default: u32) -> Config {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<u32>().ok());
    let cases = var("FUZZ_CASES").unwrap_or_else(|| default.saturating_mul(var("FUZZ_SCALE").unwrap_or(1)));
    // The same cases on every run unless asked otherwise: a CI run fails on a finding, never on
    // the luck of the draw; `FUZZ_SEED=random` (or a number) explores beyond them.
    let rng_seed = match std::env::var("FUZZ_SEED").as_deref().map(str::trim) {
        Ok("random") => RngSeed::Random,
        Ok(seed) => seed.parse().map_or(RngSeed::Fixed(DEFAULT_SEED), RngSeed::Fixed),
        Err(_) => RngSeed::Fixed(DEFAULT_SEED),
    };
    Config { cases, failure_persistence: None, max_shrink_iters: 2048, rng_seed, ..Config::default() }
}

/// The seed of the cases a normal test run tries.
const DEFAULT_SEED: u64 = 20_261_123;

// ----------------------------------------------------------------------------------------------
// Structural mutations of a JSON document
// ----------------------------------------------------------------------------------------------

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    At(usize),
}

/// What a mutation does at the node it picks.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// The node becomes this value (another type, an out-of-range number, a long string…).
    Replace(Value),
    /// The key (or list element) goes.
    Remove,
    /// A list element twice; any other node becomes a list of itself twice.
    Duplicate,
    /// `[node]`: a list where an object (or a value) was.
    WrapInList,
    /// `{"<key>": node}`.
    WrapInObject,
    /// A list becomes its first element, an object the list of its values.
    Unwrap,
    /// A copy of another node of the document (rows spliced into fields, fields into rows).
    CopyFrom(usize),
    /// A string that reads as a JSON number becomes that number, a number its text.
    Retype,
}

/// A mutation: a node (by index among the document's nodes) and what happens to it.
#[derive(Debug, Clone)]
pub(crate) struct Mutation {
    at: usize,
    op: Op,
}

/// What happens to the serialized bytes before parsing.
#[derive(Debug, Clone)]
pub(crate) enum ByteOp {
    /// Cut at a position.
    Truncate(usize),
    /// Flip bits of one byte.
    Flip(usize, u8),
    /// Insert bytes at a position.
    Insert(usize, Vec<u8>),
    /// Remove up to `n` bytes from a position.
    Delete(usize, usize),
    /// Copy a stretch of the text elsewhere.
    Splice(usize, usize, usize),
    /// A key given twice in an object: `"key": value` added after an object's `{` (the original
    /// wins) or before its `}` (the copy wins).
    DuplicateKey { at: usize, key: usize, value: Value, last: bool },
}

/// A hostile JSON value: every type, numbers out of `f64`'s range, the grammar's edge cases, long
/// and unicode strings, nested lists and objects.
pub(crate) fn hostile() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => select(fixed_hostiles()),
        2 => any::<String>().prop_map(Value::String),
        3 => "[0-9:%.,+ -]{0,24}".prop_map(Value::String),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<u64>().prop_map(|n| json!(n.to_string())),
        1 => any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        1 => any::<f64>().prop_map(|f| Value::String(format!("{f}%"))),
        1 => "[0-9]{1,12}:[0-9]{1,3}:[0-9]{1,3}".prop_map(Value::String),
    ]
}

/// The fixed part of [`hostile`].
fn fixed_hostiles() -> Vec<Value> {
    // Numbers beyond f64 (and beyond u64/i64) need arbitrary_precision, which the crate enables.
    let number = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    let mut values = vec![
        Value::Null,
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(-0.0),
        json!(u64::MAX),
        json!(i64::MIN),
        number("1e400"),
        number("-1e400"),
        number("1e-400"),
        number("0e0"),
        number("-0"),
        number("18446744073709551616"),
        number("-9223372036854775809"),
        number("1.7976931348623157e308"),
        number("-1.7976931348623157e308"),
        number(&"9".repeat(400)),
        json!([]),
        json!({}),
        json!([[[[[]]]]]),
        json!({"a": {"b": {"c": []}}}),
        json!([1, "2", null, {"x": "3"}]),
    ];
    let nines = "9".repeat(30);
    let strings = [
        "",
        " ",
        "-",
        " - ",
        "0",
        "00",
        "-0",
        "+0",
        "-1",
        "1.5",
        "NaN",
        "nan",
        "inf",
        "-inf",
        "Infinity",
        "1e400",
        "1e5",
        "0x10",
        "1_000",
        "1,234",
        "1,23",
        "1,234,567.5",
        "１２３",
        "١٢٣",
        "十",
        "%",
        "-0.00%",
        "100%",
        "10000%",
        "10000.01%",
        "-10000%",
        "00:00:00",
        "00:00:60",
        "00:60:00",
        "999999999:59:59",
        "9999999999:59:59",
        "-1:00:00",
        "1:2:3",
        "000000",
        "200000",
        "910002",
        "210017",
        "-16",
        "0.0",
        "true",
        "false",
        "null",
        "名\u{0}\r\n\"\\",
        "a\u{7f}b\u{1b}[31m",
        "\u{202e}evil",
        "\u{feff}1",
        "2099-12-31",
        "2099-02-30",
        "2099-12-31 23:59:59",
        "9999-12-31 23:59:59",
        "-0001-01-01",
        "在线",
        "离线",
        " 小休 ",
    ];
    values.extend(strings.iter().map(|s| Value::String((*s).to_string())));
    for long in [
        format!("{nines}%"),
        format!("{}%", "9".repeat(400)),
        format!("-{nines}.5%"),
        "9".repeat(309),
        format!("1{}", "0".repeat(308)),
        format!("{}.0", "1".repeat(400)),
        "a".repeat(10_000),
        "名".repeat(5_000),
        format!("{}:00:00", "9".repeat(20)),
    ] {
        values.push(Value::String(long));
    }
    values
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => hostile().prop_map(Op::Replace),
        2 => Just(Op::Remove),
        2 => Just(Op::Duplicate),
        1 => Just(Op::WrapInList),
        1 => Just(Op::WrapInObject),
        1 => Just(Op::Unwrap),
        1 => any::<usize>().prop_map(Op::CopyFrom),
        2 => Just(Op::Retype),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (any::<usize>(), op()).prop_map(|(at, op)| Mutation { at, op })
}

fn byte_op() -> impl Strategy<Value = ByteOp> {
    prop_oneof![
        2 => any::<usize>().prop_map(ByteOp::Truncate),
        2 => (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| ByteOp::Flip(at, mask)),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, b)| ByteOp::Insert(at, b)),
        1 => (any::<usize>(), 1usize..16).prop_map(|(at, n)| ByteOp::Delete(at, n)),
        1 => (any::<usize>(), any::<usize>(), 1usize..64).prop_map(|(a, b, n)| ByteOp::Splice(a, b, n)),
        3 => (any::<usize>(), any::<usize>(), hostile(), any::<bool>())
            .prop_map(|(at, key, value, last)| ByteOp::DuplicateKey { at, key, value, last }),
    ]
}

/// The bytes of an answer, shown as text in a failure report.
#[derive(Clone)]
pub(crate) struct Bytes(pub(crate) Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// An answer made from one of `seeds` (JSON texts): its index and the bytes, after up to six
/// structural mutations and, one time in four, up to three byte mutations.
pub(crate) fn answer(seeds: &'static [&'static str]) -> impl Strategy<Value = (usize, Bytes)> {
    (
        0..seeds.len(),
        prop::collection::vec(mutation(), 0..=6),
        prop::bool::weighted(0.25),
        prop::collection::vec(byte_op(), 1..=3),
    )
        .prop_map(move |(seed, mutations, raw, bytes)| {
            let mut doc: Value = serde_json::from_str(seeds[seed]).unwrap_or(Value::Null);
            let keys = keys(&doc);
            for m in &mutations {
                mutate(&mut doc, m, &keys);
            }
            let mut text = serde_json::to_vec(&doc).unwrap_or_default();
            if raw {
                for op in &bytes {
                    mutate_bytes(&mut text, op, &keys);
                }
            }
            (seed, Bytes(text))
        })
}

/// The document's keys, and the envelope keys every vendor uses, for new keys.
fn keys(doc: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    out.push(k.clone());
                    walk(c, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    let mut out: Vec<String> =
        ["ret_code", "retCode", "status", "items", "item", "data", "records", "pages", "page_count"]
            .iter()
            .map(|k| (*k).to_string())
            .collect();
    walk(doc, &mut out);
    out.sort();
    out.dedup();
    out
}

/// Every node's path, the root first, depth first (at most 4096).
fn paths(doc: &Value) -> Vec<Vec<Step>> {
    fn walk(v: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        if out.len() >= 4096 {
            return;
        }
        out.push(prefix.clone());
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    prefix.push(Step::Key(k.clone()));
                    walk(c, prefix, out);
                    prefix.pop();
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    prefix.push(Step::At(i));
                    walk(c, prefix, out);
                    prefix.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, &mut Vec::new(), &mut out);
    out
}

fn node_mut<'a>(doc: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |node, step| match step {
        Step::Key(k) => node.get_mut(k.as_str()),
        Step::At(i) => node.get_mut(*i),
    })
}

fn mutate(doc: &mut Value, m: &Mutation, keys: &[String]) {
    let paths = paths(doc);
    let path = paths[pick(m.at, paths.len())].clone();
    let source = match &m.op {
        Op::CopyFrom(from) => {
            let from = &paths[pick(*from, paths.len())];
            node_mut(doc, from).map(|v| v.clone())
        }
        _ => None,
    };
    let key = keys.get(pick(m.at, keys.len())).cloned().unwrap_or_default();
    if let Op::Remove | Op::Duplicate = m.op
        && let Some((last, parent)) = path.split_last()
        && let Some(parent) = node_mut(doc, parent)
    {
        match (last, parent, &m.op) {
            (Step::Key(k), Value::Object(o), Op::Remove) => drop(o.remove(k)),
            (Step::At(i), Value::Array(a), Op::Remove) if *i < a.len() => drop(a.remove(*i)),
            (Step::At(i), Value::Array(a), Op::Duplicate) if *i < a.len() => {
                let copy = a[*i].clone();
                a.insert(*i, copy);
            }
            (Step::Key(k), Value::Object(o), Op::Duplicate) => {
                if let Some(v) = o.get(k).cloned() {
                    o.insert(k.clone(), json!([v.clone(), v]));
                }
            }
            _ => {}
        }
        return;
    }
    let Some(node) = node_mut(doc, &path) else { return };
    let old = node.take();
    *node = match &m.op {
        Op::Replace(v) => v.clone(),
        Op::Remove => Value::Null,
        Op::Duplicate => json!([old.clone(), old]),
        Op::WrapInList => json!([old]),
        Op::WrapInObject => Value::Object(Map::from_iter([(key, old)])),
        Op::Unwrap => match old {
            Value::Array(a) => a.into_iter().next().unwrap_or(Value::Null),
            Value::Object(o) => Value::Array(o.into_iter().map(|(_, v)| v).collect()),
            other => other,
        },
        Op::CopyFrom(_) => source.unwrap_or(old),
        Op::Retype => match old {
            Value::String(s) => {
                serde_json::from_str::<serde_json::Number>(s.trim()).map_or(Value::String(s), Value::Number)
            }
            Value::Number(n) => Value::String(n.to_string()),
            other => other,
        },
    };
}

/// `i` reduced to a position in `0..len` (0 when empty).
fn pick(i: usize, len: usize) -> usize {
    if len == 0 { 0 } else { i % len }
}

/// Positions of `{` (or `}`) outside strings.
fn braces(text: &[u8], brace: u8) -> Vec<usize> {
    let (mut in_string, mut escaped) = (false, false);
    let mut out = Vec::new();
    for (i, b) in text.iter().enumerate() {
        match (in_string, escaped, *b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (false, _, b'"') => in_string = true,
            (false, _, b) if b == brace => out.push(i),
            _ => {}
        }
    }
    out
}

fn mutate_bytes(text: &mut Vec<u8>, op: &ByteOp, keys: &[String]) {
    let len = text.len();
    let at = |i: &usize| pick(*i, len);
    match op {
        ByteOp::Truncate(i) => text.truncate(at(i)),
        ByteOp::Flip(i, mask) => {
            if len > 0 {
                let i = at(i);
                text[i] ^= mask;
            }
        }
        ByteOp::Insert(i, bytes) => {
            let i = at(i);
            text.splice(i..i, bytes.iter().copied());
        }
        ByteOp::Delete(i, n) => {
            let i = at(i);
            text.drain(i..(i + n).min(len));
        }
        ByteOp::Splice(from, to, n) => {
            let from = at(from);
            let piece = text[from..(from + n).min(len)].to_vec();
            let to = at(to);
            text.splice(to..to, piece);
        }
        ByteOp::DuplicateKey { at: i, key, value, last } => {
            let places = braces(text, if *last { b'}' } else { b'{' });
            if places.is_empty() || keys.is_empty() {
                return;
            }
            let place = places[pick(*i, places.len())];
            let pair = format!("{}:{}", json!(keys[pick(*key, keys.len())]), value);
            let insert = if *last { format!(",{pair}") } else { format!("{pair},") };
            let at = if *last { place } else { place + 1 };
            text.splice(at..at, insert.into_bytes());
        }
    }
}

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
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sobot/get_service_data.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sobot/human_satisfaction.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sobot/call_result.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/laaffic/seat_query.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/platform/get_batch_app_key.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/platform/get_staff_log_infos.json")),
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
