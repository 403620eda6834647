//! Fuzz target: the quality sources' pages, mutated from the documents' examples, through the
//! result code check, the paging decision, the sums per agent and the exposition.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;

use super::*;
use crate::collect::parse_errors;
use crate::fuzz::{self, Expect};
use crate::sources::sobot::client::check_ret_code;

const SEEDS: &[&str] = &[
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sobot/quality_result.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sobot/chat_result.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sobot/call_result.json")),
];

/// The model's sums of one agent: inspections, then (score, max) per part if the part had both.
#[derive(Debug, Default)]
struct Model {
    inspections: u64,
    parts: [Option<(f64, f64)>; 4],
}

/// A value of `record` as the model reads a score; invalid values must be counted.
fn number(
    record: &Value,
    key: &str,
    telemetry: &Telemetry,
    endpoint: &str,
) -> Result<Option<f64>, TestCaseError> {
    let expect = fuzz::model(record.get(key), Unit::Number);
    if expect == Expect::Invalid {
        prop_assert!(
            parse_errors(telemetry, endpoint, key) >= 1.0,
            "{key} = {:?} not counted",
            record.get(key)
        );
    }
    Ok(expect.sample())
}

fn pages(
    source: &'static QualitySource,
    page_size: u32,
    answers: &[fuzz::Bytes],
) -> Result<(), TestCaseError> {
    let telemetry = Arc::new(Telemetry::new());
    let errors = ParseErrors::new(source.name, telemetry.clone());
    let decoder = Decoder::new(source, page_size, Duration::from_secs(300), errors);
    let mut day = Day::default();
    let mut records = Vec::new();
    for (i, bytes) in answers.iter().enumerate() {
        let page = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let Some(body) = fuzz::json(bytes) else { break };
        let body = match check_ret_code(body) {
            Ok(body) => body,
            Err(e) => {
                fuzz::check_code_label(&e)?;
                break;
            }
        };
        let list = body.get("items").cloned();
        let page_count = fuzz::model_u64(body.get("page_count"));
        match decoder.page(body, page, &mut day) {
            Ok(last) => {
                let rows = match list {
                    Some(Value::Array(rows)) => rows,
                    Some(Value::Null) | None => Vec::new(),
                    Some(other) => return Err(TestCaseError::fail(format!("took {other} as a list"))),
                };
                let short = rows.len() < usize::try_from(page_size).unwrap_or(usize::MAX);
                let want = match source.paging {
                    Paging::PageSize => short,
                    Paging::PageCount => page_count.map_or(short, |count| u64::from(page) >= count),
                };
                prop_assert_eq!(last, want, "last page");
                records.extend(rows);
                if last {
                    break;
                }
            }
            Err(_) => {
                prop_assert!(!matches!(list, Some(Value::Array(_) | Value::Null) | None), "a list refused");
                break;
            }
        }
    }

    // The model: each record once (by its key), with its overall score and full marks.
    let mut model: BTreeMap<String, Model> = BTreeMap::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = HashSet::new();
    for record in &records {
        let Some(agent) = fuzz::model_label_id(record.get(source.agent_key)) else {
            prop_assert!(parse_errors(&telemetry, source.name, source.agent_key) >= 1.0);
            continue;
        };
        let key: Vec<String> =
            source.record_key.iter().filter_map(|k| fuzz::model_id(record.get(*k))).collect();
        if key.len() == source.record_key.len() && !seen.insert(key.join("\u{1f}")) {
            continue;
        }
        let part = |i: usize| -> Result<Option<(f64, f64)>, TestCaseError> {
            let (score, max) = source.scores[i];
            let score = number(record, score, &telemetry, source.name)?;
            let max = number(record, max, &telemetry, source.name)?;
            Ok(score.zip(max))
        };
        let Some(total) = part(0)? else { continue };
        // A sum that would leave f64 leaves the record (or the part) out, counted.
        let sum = |sum: Option<(f64, f64)>, (s, m): (f64, f64)| {
            let (a, b) = sum.unwrap_or((0.0, 0.0));
            Some((a + s, b + m)).filter(|(a, b)| a.is_finite() && b.is_finite())
        };
        let total = sum(model.get(&agent).and_then(|m| m.parts[0]), total);
        let Some(total) = total else {
            let (score, max) = source.scores[0];
            let counted =
                parse_errors(&telemetry, source.name, score) + parse_errors(&telemetry, source.name, max);
            prop_assert!(counted >= 1.0, "an overflowing sum not counted");
            continue;
        };
        let sums = model.entry(agent.clone()).or_default();
        sums.inspections += 1;
        sums.parts[0] = Some(total);
        for i in 1..4 {
            if let Some(p) = part(i)? {
                sums.parts[i] = sum(sums.parts[i], p).or(sums.parts[i]);
            }
        }
        if let Some(Value::String(name)) = record.get(source.name_key) {
            let name = fuzz::model_name(name);
            if !name.is_empty() {
                names.insert(agent, name);
            }
        }
    }

    let sums: BTreeMap<(String, Window), Sums> =
        day.sums.iter().map(|(agent, s)| ((agent.clone(), Window::Today), *s)).collect();
    let families = decoder.families(&sums, &day.names);
    let value = |family: usize, agent: &str, part: Option<&str>| {
        families[family]
            .samples
            .iter()
            .find(|s| {
                s.labels.iter().any(|(k, v)| *k == "agent" && v == agent)
                    && s.labels.iter().find(|(k, _)| *k == "part").map(|(_, v)| v.as_str()) == part
            })
            .map(|s| s.value)
    };
    prop_assert_eq!(day.sums.len(), model.len(), "agents");
    for (agent, m) in &model {
        #[allow(clippy::cast_precision_loss)]
        let inspections = m.inspections as f64;
        prop_assert_eq!(value(0, agent, None), Some(inspections), "inspections of {}", agent);
        for (i, part) in PARTS.iter().enumerate() {
            let (score_family, max_family, label) = if i == 0 { (1, 2, None) } else { (3, 4, Some(*part)) };
            let got = value(score_family, agent, label).zip(value(max_family, agent, label));
            match (got, m.parts[i]) {
                (Some((s, x)), Some((ws, wx))) => {
                    prop_assert!(
                        fuzz::close(s, ws) && fuzz::close(x, wx),
                        "{agent} {part}: {s}/{x}, model {ws}/{wx}"
                    )
                }
                (None, None) => {}
                (got, want) => {
                    return Err(TestCaseError::fail(format!("{agent} {part}: {got:?}, model {want:?}")));
                }
            }
        }
    }
    prop_assert_eq!(&day.names, &names, "names");
    fuzz::check_families(&families)?;
    fuzz::check_families(&telemetry.families())
}

proptest! {
    #![proptest_config(fuzz::cases(2000))]

    #[test]
    fn quality_pages(
        answers in prop::collection::vec(fuzz::answer(SEEDS), 1..=3),
        other in prop::option::weighted(0.15, 0..QUALITY_SOURCES.len()),
        page_size in prop::sample::select(vec![1u32, 2, 100]),
    ) {
        let source = &QUALITY_SOURCES[other.unwrap_or(answers[0].0)];
        let bytes: Vec<fuzz::Bytes> = answers.into_iter().map(|(_, bytes)| bytes).collect();
        pages(source, page_size, &bytes)?;
    }

}

proptest! {
    #![proptest_config(fuzz::cases(300))]

    /// Pages of many records (the example's record, each with its own key) whose scores are
    /// hostile values: sums of out-of-range scores.
    #[test]
    fn quality_pages_of_many_records(
        source in 0..QUALITY_SOURCES.len(),
        scores in prop::collection::vec(prop::collection::vec(prop::option::weighted(0.5, fuzz::hostile()), 8), 1..40),
    ) {
        let source = &QUALITY_SOURCES[source];
        let mut body: Value = serde_json::from_str(SEEDS[QUALITY_SOURCES.iter().position(|s| s.name == source.name).unwrap_or(0)])
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let template = body["items"][0].clone();
        let mut records = Vec::new();
        for (i, values) in scores.iter().enumerate() {
            let mut record = template.clone();
            for key in source.record_key {
                record[*key] = Value::String(format!("r{i}"));
            }
            let keys = source.scores.iter().flat_map(|(score, max)| [*score, *max]);
            for (key, value) in keys.zip(values) {
                if let Some(value) = value {
                    record[key] = value.clone();
                }
            }
            records.push(record);
        }
        body["items"] = Value::Array(records);
        body["page_count"] = Value::from(1);
        let bytes = fuzz::Bytes(serde_json::to_vec(&body).map_err(|e| TestCaseError::fail(e.to_string()))?);
        pages(source, 10_000, &[bytes])?;
    }
}
