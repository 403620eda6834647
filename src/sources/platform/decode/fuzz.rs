//! Fuzz target: the platform's four answers, mutated from the document's examples, through the
//! result code check, the client's list extraction, the decoders, discovery (the served tenants
//! become `tenant` labels on `/metrics`) and the exposition.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::collect::{list, parse_errors};
use crate::config::PlatformConfig;
use crate::exposition::{Board, Chunk, Format, Key, Published};
use crate::fuzz::{self, Expect};
use crate::secret::Secret;
use crate::shard::Shard;
use crate::sources::platform::client::tenant_keys;
use crate::sources::platform::tenants::{Tenant, served};
use crate::sources::platform::{BATCH_APP_KEY, check_answer};

const TENANTS: &[&str] =
    &[include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/platform/get_tenant_list.json"))];
const JOBS: &[&str] = &[include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/platform/tenant_staff_job_list.json"
))];
const LOGS: &[&str] =
    &[include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/platform/get_staff_log_infos.json"))];
const KEYS: &[&str] =
    &[include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/platform/get_batch_app_key.json"))];

const INTERVAL: Duration = Duration::from_secs(60);

/// The first result code of the answer that is a string or a number, as the document's examples
/// (`retCode`) and tables (`ret_code`) write it; `status` in chatIndexPage's style.
fn says_ok(body: &Value) -> bool {
    let is = |v: Option<&Value>, texts: &[&str], numbers: &[u64]| match v {
        Some(Value::String(s)) => Some(texts.contains(&s.trim())),
        Some(Value::Number(n)) => Some(n.as_u64().is_some_and(|n| numbers.contains(&n))),
        _ => None,
    };
    let code =
        ["retCode", "ret_code"].iter().find_map(|k| is(body.get(*k), &["200000", "000000"], &[200_000, 0]));
    let status = is(body.get("status"), &["1"], &[1]);
    (code.is_some() || status.is_some()) && code.unwrap_or(true) && status.unwrap_or(true)
}

/// The answer after the result code check, or `None` (checked) if refused.
fn checked(bytes: &[u8]) -> Result<Option<Value>, TestCaseError> {
    let Some(body) = fuzz::json(bytes) else { return Ok(None) };
    let ok = says_ok(&body);
    match check_answer(body) {
        Ok(body) => {
            prop_assert!(ok, "an answer without a success code taken as success");
            Ok(Some(body))
        }
        Err(e) => {
            prop_assert!(!ok, "a success answer refused: {e}");
            fuzz::check_code_label(&e)?;
            Ok(None)
        }
    }
}

/// The list under the first of `keys`, as the client takes it, checked against the answer.
fn rows(mut body: Value, endpoint: &str, keys: &[&str]) -> Result<Option<Vec<Value>>, TestCaseError> {
    let want = keys.iter().find_map(|k| body.get(*k)).cloned();
    match list(&mut body, endpoint, keys) {
        Ok(rows) => {
            match want {
                Some(Value::Array(want)) => prop_assert_eq!(&rows, &want),
                Some(Value::Null) | None => prop_assert!(rows.is_empty()),
                Some(other) => return Err(TestCaseError::fail(format!("took {other} as a list"))),
            }
            Ok(Some(rows))
        }
        Err(_) => {
            prop_assert!(!matches!(want, Some(Value::Array(_) | Value::Null) | None), "a list refused");
            Ok(None)
        }
    }
}

/// The samples of `families` by (family, labels).
fn samples(families: &[Family]) -> BTreeMap<(usize, Labels), f64> {
    let mut got = BTreeMap::new();
    for (i, family) in families.iter().enumerate() {
        for sample in &family.samples {
            got.insert((i, sample.labels.clone()), sample.value);
        }
    }
    got
}

/// The model's series equal the decoder's; `Either` values may be missing.
fn same(
    got: &BTreeMap<(usize, Labels), f64>,
    want: &BTreeMap<(usize, Labels), Expect>,
) -> Result<(), TestCaseError> {
    for (key, value) in got {
        let expect = want.get(key);
        prop_assert!(
            expect.is_some_and(|e| e.admits(crate::value::Parsed::Value(*value))),
            "{key:?} = {value}: the model expects {expect:?}"
        );
    }
    for (key, expect) in want {
        prop_assert!(
            got.contains_key(key) || matches!(expect, Expect::Either(_)),
            "{key:?}: none, model {expect:?}"
        );
    }
    Ok(())
}

fn tenant_list(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Some(body) = checked(bytes)? else { return Ok(()) };
    // Strings that stood in an appKey, and every other string of the answer.
    let (mut keys, mut others) = (Vec::new(), Vec::new());
    strings(&body, false, &mut keys, &mut others);
    let Some(mut rows) = rows(body, TENANT_LIST.label, &["items"])? else { return Ok(()) };
    for row in &mut rows {
        if let Some(object) = row.as_object_mut() {
            object.remove("appKey");
        }
    }
    let telemetry = Arc::new(Telemetry::new());
    let tz = TimeZone::get("Asia/Shanghai").map_err(|e| TestCaseError::fail(e.to_string()))?;
    let families = TenantDecoder::new(INTERVAL, tz, telemetry.clone()).families(&rows);
    let mut want: BTreeMap<(usize, Labels), Expect> = BTreeMap::new();
    // A tenant listed again is skipped whole.
    let mut seen = std::collections::BTreeSet::new();
    for row in &rows {
        let Some(tenant) = fuzz::model_label_id(row.get("companyId")) else {
            prop_assert!(parse_errors(&telemetry, TENANT_LIST.label, "companyId") >= 1.0);
            continue;
        };
        if !seen.insert(tenant.clone()) {
            continue;
        }
        let labels = || vec![("tenant", tenant.clone())];
        let mut put = |i: usize, mut labels: Labels, e: Expect| {
            labels.sort();
            want.entry((i, labels)).or_insert(e);
        };
        if let Some(Value::String(name)) = row.get("companyName")
            && !name.trim().is_empty()
        {
            let name = fuzz::model_name(name);
            put(0, vec![("tenant", tenant.clone()), ("name", name)], Expect::Value(1.0));
        }
        for (i, key) in [(1, "serviceNum"), (2, "maxServiceCount")] {
            let e = fuzz::model(row.get(key), Unit::Count);
            if e.sample().is_some() {
                put(i, labels(), e);
            }
        }
        let flag = match row.get("tenantStatus") {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::Number(n)) => n.as_u64().filter(|n| *n <= 1).map(|n| n == 1),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if let Some(flag) = flag {
            put(3, labels(), Expect::Value(f64::from(u8::from(flag))));
        }
    }
    let mut got = samples(&families);
    // The end of a term is read by jiff: a sample only for a date (or date and time) text, within
    // the years jiff knows.
    got.retain(|(i, labels), value| {
        *i != 4 || {
            // From the tenant's first record: a tenant listed twice keeps its first record whole.
            let tenant = &labels[0].1;
            let mut texts = rows
                .iter()
                .filter(|r| fuzz::model_label_id(r.get("companyId")).as_ref() == Some(tenant))
                .take(1)
                .filter_map(|r| r.get("endTime").and_then(Value::as_str).map(str::trim));
            !(texts.any(|t| t.len() == 10 || t.len() == 19) && value.abs() < 253_402_300_800.0)
        }
    });
    same(&got, &want)?;
    let text = exposition(&families)?;
    for key in keys.iter().filter(|k| k.len() >= 6 && !others.iter().any(|o| o.contains(k.as_str()))) {
        prop_assert!(!text.contains(key.as_str()), "an appKey in the exposition");
    }
    fuzz::check_families(&families)?;
    fuzz::check_families(&telemetry.families())
}

/// Every string of `value`: under an `appKey` key into `keys`, elsewhere into `others`.
fn strings(value: &Value, in_key: bool, keys: &mut Vec<String>, others: &mut Vec<String>) {
    match value {
        Value::String(s) if in_key => keys.push(s.clone()),
        Value::String(s) => others.push(s.clone()),
        Value::Number(n) => others.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, in_key, keys, others)),
        Value::Object(o) => {
            for (k, v) in o {
                others.push(k.clone());
                strings(v, in_key || k == "appKey", keys, others);
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

/// The OpenMetrics text of `families`.
fn exposition(families: &[Family]) -> Result<String, TestCaseError> {
    let chunk =
        Chunk::encode(vec![Arc::new(families.to_vec())]).map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(String::from_utf8_lossy(&chunk.body(Format::OpenMetrics).to_bytes()).into_owned())
}

fn staff_jobs(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Some(body) = checked(bytes)? else { return Ok(()) };
    let Some(rows) = rows(body, STAFF_JOB_LIST.label, &["items", "item"])? else { return Ok(()) };
    let telemetry = Arc::new(Telemetry::new());
    let families =
        StaffJobDecoder::new(INTERVAL, telemetry.clone()).families(&[(Window::Today, rows.clone())]);
    let mut want: BTreeMap<(usize, Labels), Expect> = BTreeMap::new();
    // A staff listed again is skipped whole: nothing of it is read.
    let mut seen = std::collections::BTreeSet::new();
    let mut repeated = 0.0;
    for row in &rows {
        let (Some(tenant), Some(staff)) =
            (fuzz::model_label_id(row.get("companyid")), fuzz::model_label_id(row.get("staffid")))
        else {
            continue;
        };
        if !seen.insert((tenant.clone(), staff.clone())) {
            repeated += 1.0;
            continue;
        }
        let metrics = table_of(STAFF_JOB_LIST.upstream_name());
        for (i, m) in metrics.enumerate() {
            let unit = if m.reading == Reading::Ratio { Unit::Ratio } else { Unit::Count };
            let e = fuzz::model(row.get(m.key), unit);
            if e == Expect::Invalid {
                prop_assert!(parse_errors(&telemetry, STAFF_JOB_LIST.label, m.key) >= 1.0);
            }
            if e.sample().is_some() {
                let mut labels =
                    vec![("tenant", tenant.clone()), ("staff", staff.clone()), ("window", "today".into())];
                labels.sort();
                want.insert((i, labels), e);
            }
        }
    }
    prop_assert_eq!(crate::collect::duplicates(&telemetry, STAFF_JOB_LIST.label), repeated);
    same(&samples(&families), &want)?;
    fuzz::check_families(&families)?;
    fuzz::check_families(&telemetry.families())
}

fn staff_logs(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Some(body) = checked(bytes)? else { return Ok(()) };
    let Some(items) = rows(body, STAFF_LOG_INFOS.label, &["items"])? else { return Ok(()) };
    let telemetry = Arc::new(Telemetry::new());
    let families = StaffStatusDecoder::new(INTERVAL, telemetry.clone()).families(&items);
    // The model: per (tenant, staff), the dated entry with a word that is latest (later on a tie).
    let blank = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty() || s.trim() == "-",
        _ => false,
    };
    let nested = |v: &Value, key: &str| match v.get(key) {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    let mut latest: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
    for company in &items {
        let Some(tenant) = fuzz::model_label_id(company.get("companyId")) else { continue };
        for staff in nested(company, "companyStaffInfos") {
            let Some(id) = fuzz::model_label_id(staff.get("staffId")) else { continue };
            for entry in nested(&staff, "staffLogInfos") {
                let (time, word) = (entry.get("datetime"), entry.get("operationAction"));
                if blank(time) || blank(word) {
                    continue;
                }
                let (Some(millis), Some(Value::String(word))) = (fuzz::model_u64(time), word) else {
                    continue;
                };
                let key = (tenant.clone(), id.clone());
                if latest.get(&key).is_none_or(|(m, _)| millis >= *m) {
                    latest.insert(key, (millis, word.trim().to_string()));
                }
            }
        }
    }
    let mut want: BTreeMap<(usize, Labels), Expect> = BTreeMap::new();
    for ((tenant, staff), (millis, word)) in &latest {
        let current = STAFF_STATES.iter().find(|(w, _)| w == word).map_or(OTHER_STATE, |(_, label)| label);
        let labels = || vec![("staff", staff.clone()), ("tenant", tenant.clone())];
        for state in STAFF_STATES.iter().map(|(_, label)| *label).chain([OTHER_STATE]) {
            let mut labels = labels();
            labels.push(("status", state.to_string()));
            labels.sort();
            want.insert((0, labels), Expect::Value(if state == current { 1.0 } else { 0.0 }));
        }
        #[allow(clippy::cast_precision_loss)]
        want.insert((1, labels()), Expect::Value(*millis as f64 / 1000.0));
    }
    same(&samples(&families), &want)?;
    fuzz::check_families(&families)?;
    fuzz::check_families(&telemetry.families())
}

fn discovery(bytes: &[u8], shard: Shard) -> Result<(), TestCaseError> {
    let Some(body) = checked(bytes)? else { return Ok(()) };
    let telemetry = Arc::new(Telemetry::new());
    let errors = ParseErrors::new(BATCH_APP_KEY.label, telemetry.clone());
    let Ok(keys) = tenant_keys(body, "10004", &errors) else { return Ok(()) };
    let mut ids: Vec<&str> = keys.iter().map(|k| k.company_id.as_str()).collect();
    for k in &keys {
        prop_assert!(
            !k.company_id.is_empty() && k.company_id == k.company_id.trim(),
            "id {:?}",
            k.company_id
        );
        prop_assert!(!k.app_id.is_empty() && !k.app_key.expose().is_empty());
        let debug = format!("{k:?}");
        let key = k.app_key.expose();
        let elsewhere = [&k.company_id, &k.company_name, &k.app_id].iter().any(|s| s.contains(key));
        prop_assert!(!debug.contains(key) || elsewhere || key.len() < 6, "a key in {}", debug);
    }
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    prop_assert_eq!(ids.len(), before, "a tenant listed twice");
    let platform = PlatformConfig {
        union_code: "10004".into(),
        email: "ops@example.com".into(),
        union_key: Secret::new("union-key"),
        interval: INTERVAL,
        collectors: Vec::new(),
        tenants: Default::default(),
        tenants_on_metrics: true,
        shard,
    };
    let listed: Vec<Tenant> = keys
        .into_iter()
        .map(|k| Tenant { id: k.company_id, name: k.company_name, app_id: k.app_id, app_key: k.app_key })
        .collect();
    let tenants = served(listed, &platform, None, &telemetry);
    // Each served tenant's series go on /metrics with its id as the `tenant` label.
    let board = Board::new();
    let mut publishers = Vec::new();
    for tenant in &tenants {
        prop_assert!(shard.owns(&tenant.id));
        let publisher =
            board.publisher(Key::Target(tenant.id.clone()), &vec![("tenant", tenant.id.clone())], true);
        let family = Family {
            name: "sobot_x".into(),
            help: "x".into(),
            kind: crate::snapshot::Kind::Gauge,
            samples: vec![crate::snapshot::Sample { labels: vec![("window", "today".into())], value: 1.0 }],
        };
        let chunk =
            Chunk::encode(vec![Arc::new(vec![family])]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        publisher.publish(Published::new(vec![Arc::new(chunk)]));
        publishers.push(publisher);
    }
    for format in [Format::OpenMetrics, Format::Text] {
        let body = board.body(format).to_bytes();
        let text = String::from_utf8_lossy(&body);
        let lines = fuzz::parse_exposition(&text, format == Format::OpenMetrics)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let mut labelled: Vec<&str> = lines
            .iter()
            .filter_map(|(_, labels, _)| labels.iter().find(|(k, _)| k == "tenant").map(|(_, v)| v.as_str()))
            .collect();
        labelled.sort_unstable();
        let mut want: Vec<&str> = tenants.iter().map(|t| t.id.as_str()).collect();
        want.sort_unstable();
        prop_assert_eq!(labelled, want);
    }
    fuzz::check_families(&telemetry.families())
}

proptest! {
    #![proptest_config(fuzz::cases(1500))]

    #[test]
    fn tenant_list_answers((_, bytes) in fuzz::answer(TENANTS)) {
        tenant_list(&bytes)?;
    }

    #[test]
    fn staff_job_answers((_, bytes) in fuzz::answer(JOBS)) {
        staff_jobs(&bytes)?;
    }

    #[test]
    fn staff_log_answers((_, bytes) in fuzz::answer(LOGS)) {
        staff_logs(&bytes)?;
    }

    #[test]
    fn app_key_answers((_, bytes) in fuzz::answer(KEYS), shard in prop::sample::select(vec!["1/1", "1/2", "2/3"])) {
        let shard = Shard::parse(shard, None).map_err(TestCaseError::fail)?;
        discovery(&bytes, shard)?;
    }
}
