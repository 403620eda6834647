//! Property tests (tests only), fuzz-style: proptest strategies that mutate the documents' example
//! answers (and the config files of `src/config/testdata`), checked against independent models
//! ([`check`]: the value grammar, the capped parse, finite samples, an exposition that parses).
//!
//! One module a target: [`value`] (the grammar), [`config`] (the YAML file), [`sobot_client`]
//! (result codes, the token answer), [`stats`], [`quality`], [`seats`] and [`platform`] (every
//! endpoint's answer, through the same steps a real answer takes: JSON, result code, decoder,
//! families, exposition). They sit above the code they reach, so that no module imports its tests.
//!
//! Each target runs [`cases`] cases: the defaults keep the whole run at about 30 s of CPU in CI;
//! `FUZZ_SCALE=10` (ten times each default) or `FUZZ_CASES=100000` (that many for every target)
//! run longer: `FUZZ_SCALE=10 cargo test --locked -p sobot_exporter_core property` (nextest would stop a test after
//! two minutes). The cases are drawn from a fixed seed, so a normal run tries the same ones every
//! time and fails only on a finding; `FUZZ_SEED=random` (or another number) draws new ones. A
//! failure prints the shrunk input; nothing is written to the source tree (add the case as a unit
//! test instead).

mod check;
mod config;
mod platform;
mod quality;
mod seats;
mod sobot_client;
mod stats;
mod value;

pub(crate) use check::*;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Map, Value, json};

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
