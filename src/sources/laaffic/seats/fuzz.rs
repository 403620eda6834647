//! Fuzz target: the Laaffic seat query's answer, mutated from the document's example, through the
//! status check, the page decoder, the seat families and the exposition.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::collect::parse_errors;
use crate::fuzz::{self, Expect};
use crate::sources::laaffic::client::check_status;

const SEEDS: &[&str] =
    &[include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/laaffic/seat_query.json"))];

/// Whether `status` says success as the document defines it: `0`, a string or a number equal to
/// zero (`0`, `0.0`, `-0`, `0e5`; not `1e-400`, which only rounds to zero).
fn says_ok(body: &Value) -> bool {
    match body.get("status") {
        Some(Value::String(s)) => s.trim() == "0",
        Some(Value::Number(n)) => {
            let text = n.to_string();
            let mantissa = text.split(['e', 'E']).next().unwrap_or("");
            mantissa.bytes().all(|b| matches!(b, b'0' | b'.' | b'-' | b'+'))
        }
        _ => false,
    }
}

fn seat_page(bytes: &[u8], live: bool) -> Result<(), TestCaseError> {
    let telemetry = Arc::new(Telemetry::new());
    let decoder = Decoder::new(Duration::from_secs(60), ParseErrors::new(ENDPOINT, telemetry.clone()));
    let Some(body) = fuzz::json(bytes) else { return Ok(()) };
    let ok = says_ok(&body);
    let data = body.get("data").filter(|d| d.is_object()).cloned();
    let data = match check_status(body) {
        Ok(got) => {
            prop_assert!(ok, "a status other than 0 taken as success");
            prop_assert_eq!(Some(&got), data.as_ref());
            got
        }
        Err(e) => {
            prop_assert!(!ok || data.is_none(), "a success answer refused: {e}");
            fuzz::check_code_label(&e)?;
            return Ok(());
        }
    };
    let list = data.get("records").cloned();
    let pages = fuzz::model_u64(data.get("pages"));
    let (seats, last) = match decoder.page(data, 1) {
        Ok(page) => page,
        Err(_) => {
            prop_assert!(!matches!(list, Some(Value::Array(_) | Value::Null) | None), "a list refused");
            return Ok(());
        }
    };
    let records = match list {
        Some(Value::Array(records)) => records,
        _ => Vec::new(),
    };
    prop_assert_eq!(last, records.is_empty() || 1 >= pages.unwrap_or(1), "last page");

    // The model: seats not deleted, with an id; the first of a label set wins.
    let mut want: BTreeMap<(usize, Labels), f64> = BTreeMap::new();
    // The seat fields: each record's expectation of a label set, in order. The first that gives
    // a sample wins; one at the ratio bound (`Either`) may give one or not.
    let mut fields: BTreeMap<(usize, Labels), Vec<Expect>> = BTreeMap::new();
    let mut ids = Vec::new();
    // Fields with an invalid value: counted when the families are made.
    let mut invalid = Vec::new();
    let n = SEAT_FIELDS.len();
    for record in &records {
        if fuzz::model_u64(record.get("deleteFlag")) == Some(1) {
            continue;
        }
        let Some(id) = fuzz::model_label_id(record.get("keyId")) else {
            prop_assert!(parse_errors(&telemetry, ENDPOINT, "keyId") >= 1.0);
            continue;
        };
        let group = fuzz::model_id(record.get("voiceGroupId"))
            .or_else(|| fuzz::model_id(record.get("sipGroupId")))
            .unwrap_or_default();
        if group.len() > 128 {
            continue;
        }
        ids.push(id.clone());
        let base = || vec![("group", group.clone()), ("seat", id.clone())];
        let mut put = |i: usize, mut labels: Labels, value: f64| {
            labels.sort();
            want.entry((i, labels)).or_insert(value);
        };
        for (i, f) in SEAT_FIELDS.iter().enumerate() {
            let mut labels = base();
            labels.push(("window", "today".to_string()));
            labels.sort();
            match fuzz::model(record.get(f.key), f.unit) {
                expect @ (Expect::Value(_) | Expect::Either(_)) => {
                    fields.entry((i, labels)).or_default().push(expect);
                }
                Expect::Absent => {}
                Expect::Invalid => invalid.push(f.key),
            }
        }
        if !live {
            continue;
        }
        if let Some(status) = fuzz::model_id(record.get("status")) {
            for (code, label) in STATUSES {
                let mut labels = base();
                labels.push(("status", label.to_string()));
                put(n, labels, if code == status { 1.0 } else { 0.0 });
            }
        }
        match fuzz::model_u64(record.get("enable")) {
            Some(0) => put(n + 1, base(), 1.0),
            Some(1) => put(n + 1, base(), 0.0),
            _ => {}
        }
        let text = |key: &str| match record.get(key) {
            Some(Value::String(s)) => fuzz::model_name(s),
            Some(Value::Number(n)) => fuzz::model_name(&n.to_string()),
            _ => String::new(),
        };
        let mut labels = base();
        labels.extend([("name", text("name")), ("emp_no", text("empNo")), ("group_name", text("groupName"))]);
        put(n + 2, labels, 1.0);
    }
    let seat_ids: Vec<&str> = seats.iter().map(|s| s.id.as_str()).collect();
    prop_assert_eq!(seat_ids, ids.iter().map(String::as_str).collect::<Vec<_>>());

    let rows: Vec<(Window, bool, Seat)> = seats.into_iter().map(|seat| (Window::Today, live, seat)).collect();
    let families = decoder.families(&rows);
    let mut got: BTreeMap<(usize, Labels), f64> = BTreeMap::new();
    for (i, family) in families.iter().enumerate() {
        for sample in &family.samples {
            got.insert((i, sample.labels.clone()), sample.value);
        }
    }
    for key in invalid {
        prop_assert!(parse_errors(&telemetry, ENDPOINT, key) >= 1.0, "{} not counted", key);
    }
    for (key, expects) in fields {
        let got = got.get(&key).copied();
        let first = expects.into_iter().find_map(|expect| match expect {
            Expect::Value(v) => Some(v),
            // At the bound: this record's value if the decoder took it, else the next record's.
            Expect::Either(v) => got.filter(|g| fuzz::close(*g, v)),
            Expect::Absent | Expect::Invalid => None,
        });
        if let Some(v) = first {
            want.insert(key, v);
        }
    }
    prop_assert_eq!(got.len(), want.len(), "series: {:?}\nmodel: {:?}", got, want);
    for (key, value) in &want {
        let v = got.get(key).copied();
        prop_assert!(v.is_some_and(|v| fuzz::close(v, *value)), "{:?}: {:?}, model {}", key, v, value);
    }
    fuzz::check_families(&families)?;
    fuzz::check_families(&telemetry.families())
}

proptest! {
    #![proptest_config(fuzz::cases(3000))]

    #[test]
    fn seat_query_answers((_, bytes) in fuzz::answer(SEEDS), live in prop::bool::weighted(0.8)) {
        seat_page(&bytes, live)?;
    }
}

/// Found by the target in CI: a seat listed twice, its first ratio at the bound (`-10000%`, which
/// the grammar takes), the second `0%`. The first record's value wins; the model once expected the
/// second's.
#[test]
fn a_seat_twice_with_a_ratio_at_the_bound_keeps_the_first() {
    let record = |rate: &str| {
        serde_json::json!({"keyId": 681, "sipGroupId": 1000006, "deleteFlag": 0, "enable": 0, "status": "1",
            "name": "0705C999_001", "connectNum": 0, "connectRate": "0%", "validConnectNum": 0,
            "validConnectRate": rate})
    };
    let body = serde_json::json!({"status": "0", "reason": "success",
        "data": {"current": 1, "pages": 1, "records": [record("-10000%"), record("0%")]}});
    let result = seat_page(body.to_string().as_bytes(), false);
    assert!(result.is_ok(), "{result:?}");
}
