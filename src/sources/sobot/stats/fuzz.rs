//! Fuzz target: every statistics endpoint's answer, mutated from the documents' examples, through
//! the result code check, the decoder (company, group and agent scopes) and the exposition.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::collect::parse_errors;
use crate::fuzz::{self, Expect};
use crate::simulator::sobot_fixture;
use crate::sources::sobot::client::check_ret_code;
use crate::sources::sobot::endpoints::ENDPOINTS;

/// The document's example answer of each statistics endpoint, in the order of [`ENDPOINTS`].
static SEEDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    ENDPOINTS
        .iter()
        .map(|e| sobot_fixture(e.name).expect("every statistics endpoint has its example"))
        .collect()
});

/// Whether the envelope says success, as the document defines it: `ret_code` `000000` (a string,
/// or the number 0).
fn says_ok(body: &Value) -> bool {
    match body.get("ret_code") {
        Some(Value::String(s)) => s == "000000",
        Some(Value::Number(n)) => n.as_u64() == Some(0),
        _ => false,
    }
}

/// Decodes one answer as the collector does and checks it against the model.
fn statistics(seed: usize, other: Option<usize>, per_group: bool, bytes: &[u8]) -> Result<(), TestCaseError> {
    let name = other.map_or(ENDPOINTS[seed].name, |i| ENDPOINTS[i % ENDPOINTS.len()].name);
    let endpoint = Endpoint::by_name(name).ok_or_else(|| TestCaseError::fail("no endpoint"))?;
    let per_group = per_group && endpoint.rows == Rows::Item;
    let telemetry = Arc::new(Telemetry::new());
    let errors = ParseErrors::new(endpoint.name, telemetry.clone());
    let decoder =
        Decoder::new(endpoint, per_group, Duration::from_secs(60), super::Switches::default(), errors);
    let Some(body) = fuzz::json(bytes) else { return Ok(()) };
    let ok = says_ok(&body);
    let body = match check_ret_code(body) {
        Ok(body) => body,
        Err(e) => {
            prop_assert!(!ok, "a success answer refused: {e}");
            fuzz::check_code_label(&e)?;
            return Ok(());
        }
    };
    prop_assert!(ok, "an answer without ret_code 000000 taken as success");

    // The rows the model expects: (labels, record).
    let mut rows: Vec<(Labels, Value)> = Vec::new();
    let decoded = match endpoint.rows {
        Rows::Item => {
            let item = body.get("item").filter(|i| i.is_object()).cloned();
            match decoder.item(body) {
                Ok(got) => {
                    prop_assert_eq!(Some(&got), item.as_ref());
                    let labels = if per_group { vec![("group", "g1".to_string())] } else { Vec::new() };
                    rows.push((labels.clone(), got.clone()));
                    vec![(labels, got)]
                }
                Err(_) => {
                    prop_assert!(item.is_none(), "an item object refused");
                    return Ok(());
                }
            }
        }
        Rows::Items(keys) => {
            let list = ["items", "item"].iter().find_map(|k| body.get(*k)).cloned();
            match decoder.items(body) {
                Ok(got) => {
                    let records = match list {
                        Some(Value::Array(records)) => records,
                        Some(Value::Null) | None => Vec::new(),
                        Some(other) => return Err(TestCaseError::fail(format!("took {other} as a list"))),
                    };
                    for record in records {
                        let Some(agent) = fuzz::model_label_id(record.get(keys[0].1)) else { continue };
                        let mut labels = vec![(keys[0].0, agent)];
                        let mut refused = false;
                        for (label, key) in &keys[1..] {
                            match fuzz::model_id(record.get(*key)) {
                                // Too long for a label: the row is refused.
                                Some(id) if id.len() > 128 => refused = true,
                                Some(id) => labels.push((*label, id)),
                                None => {}
                            }
                        }
                        if !refused {
                            rows.push((labels, record));
                        }
                    }
                    prop_assert_eq!(got.len(), rows.len(), "rows with an agent");
                    got
                }
                Err(_) => {
                    prop_assert!(!matches!(list, Some(Value::Array(_) | Value::Null) | None));
                    return Ok(());
                }
            }
        }
    };
    let decoded: Vec<(Window, Decoded)> =
        decoded.into_iter().map(|(labels, row)| (Window::Today, decoder.decode(labels, &row))).collect();
    let families = decoder.samples(&decoded.iter().map(|(w, d)| (*w, d)).collect::<Vec<_>>());

    // Every sample is the first row's value of its field (by label set); none for absent or
    // invalid values, which are counted.
    let mut want: BTreeMap<(usize, Labels), Expect> = BTreeMap::new();
    for (labels, record) in &rows {
        for (i, field) in endpoint.fields.iter().enumerate() {
            let expect = fuzz::model(record.get(field.key), field.unit);
            if expect == Expect::Invalid {
                prop_assert!(
                    parse_errors(&telemetry, endpoint.name, field.key) >= 1.0,
                    "{} = {:?} not counted",
                    field.key,
                    record.get(field.key)
                );
            }
            if expect.sample().is_none() {
                continue;
            }
            let mut labels = labels.clone();
            labels.extend(field.labels.iter().map(|(k, v)| (*k, (*v).to_string())));
            labels.push(("window", "today".to_string()));
            labels.sort();
            want.entry((i, labels)).or_insert(expect);
        }
    }
    let mut got: BTreeMap<(usize, Labels), f64> = BTreeMap::new();
    for (i, family) in families.iter().enumerate() {
        for sample in &family.samples {
            prop_assert!(got.insert((i, sample.labels.clone()), sample.value).is_none(), "a series twice");
        }
    }
    for (key, value) in &got {
        let expect = want.get(key);
        prop_assert!(
            expect.is_some_and(|e| e.admits(crate::value::Parsed::Value(*value))),
            "{} {:?} = {value}: the model expects {expect:?}",
            families[key.0].name,
            key.1
        );
    }
    for (key, expect) in &want {
        prop_assert!(
            got.contains_key(key) || matches!(expect, Expect::Either(_)),
            "{} {:?}: no sample, the model expects {expect:?}",
            families[key.0].name,
            key.1
        );
    }
    fuzz::check_families(&families)?;
    fuzz::check_families(&telemetry.families())
}

proptest! {
    #![proptest_config(fuzz::cases(3000))]

    #[test]
    fn statistics_answers(
        (seed, bytes) in fuzz::answer(&SEEDS),
        other in prop::option::weighted(0.15, any::<usize>()),
        per_group in any::<bool>(),
    ) {
        statistics(seed, other, per_group, &bytes)?;
    }
}
