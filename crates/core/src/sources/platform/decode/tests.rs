//! The decoders' tests: the documents' examples and the traps of each answer.

use super::*;
use crate::collect::series;
use crate::collect::{duplicates, parse_errors};
use serde_json::json;

const INTERVAL: Duration = Duration::from_secs(60);

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

fn items(mut body: Value, key: &str) -> Vec<Value> {
    match body.get_mut(key).map(Value::take) {
        Some(Value::Array(rows)) => rows,
        other => panic!("no list under {key}: {other:?}"),
    }
}

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").expect("bundled tzdb has Asia/Shanghai")
}

#[test]
fn the_table_is_consistent() {
    let mut names: Vec<&str> = PLATFORM_METRICS.iter().map(|m| m.name).collect();
    assert!(names.iter().all(|n| n.starts_with("sobot_platform_") && !n.ends_with("_total")));
    for m in PLATFORM_METRICS {
        match m.reading {
            Reading::Ratio => assert!(m.name.ends_with("_ratio"), "{}", m.name),
            Reading::EndOfDay | Reading::Millis => {
                assert!(m.name.ends_with("_timestamp_seconds"), "{}", m.name)
            }
            Reading::Info => assert!(m.name.ends_with("_info"), "{}", m.name),
            Reading::Count | Reading::Flag | Reading::State => {}
        }
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), PLATFORM_METRICS.len());
    let help = PLATFORM_METRICS[1].help(INTERVAL);
    assert_eq!(
        help,
        "Agents (客服) the tenant has (unnamed in the document; Sobot platform getTenantList field \
         serviceNum), count. Cached, refreshed every 60s."
    );
}

#[test]
fn tenants_of_the_documents_example() {
    let telemetry = Arc::new(Telemetry::new());
    let decoder = TenantDecoder::new(INTERVAL, shanghai(), telemetry.clone());
    let rows = items(
        fixture(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/platform/get_tenant_list.json"
        ))),
        "items",
    );
    let families = decoder.families(&rows);
    assert_eq!(families.len(), 5);
    let s = series(&families);
    assert_eq!(s.len(), 15, "{s:#?}");
    let t = "tenant=\"42fb9905aa7f4eff9639d732c9c3aa85\"";
    assert_eq!(s.get(&format!("sobot_platform_tenant_enabled{{{t}}}")), Some(&0.0));
    assert_eq!(s.get(&format!("sobot_platform_tenant_agents{{{t}}}")), Some(&0.0));
    assert_eq!(s.get(&format!("sobot_platform_tenant_max_agents{{{t}}}")), Some(&0.0));
    // 2099-12-31 23:59:59 +08:00: python3 -c 'import datetime as d; print(int(d.datetime(2099,12,31,23,59,59,
    // tzinfo=d.timezone(d.timedelta(hours=8))).timestamp()))'
    assert_eq!(
        s.get(&format!("sobot_platform_tenant_contract_end_timestamp_seconds{{{t}}}")),
        Some(&4_102_415_999.0)
    );
    assert_eq!(s.get(&format!("sobot_platform_tenant_info{{name=\"还珠格格03\",{t}}}")), Some(&1.0));
    let t = "tenant=\"3b9577c3ddaa49bda857a0ab8593b7ba\"";
    assert_eq!(s.get(&format!("sobot_platform_tenant_enabled{{{t}}}")), Some(&1.0));
    assert!(families[4].help.contains("Sobot platform getTenantList field endTime"), "{}", families[4].help);
    assert!(families[4].help.ends_with("Unix time in seconds. Cached, refreshed every 60s."));
    for field in ["companyId", "serviceNum", "endTime", "tenantStatus"] {
        assert_eq!(parse_errors(&telemetry, "get_tenant_list", field), 0.0, "{field}");
    }
}

#[test]
fn the_end_of_the_day_is_in_the_configured_zone() {
    let telemetry = Arc::new(Telemetry::new());
    let row = json!({"companyId": "c", "endTime": "2026-11-23"});
    let end = |tz: TimeZone| {
        let s =
            series(&TenantDecoder::new(INTERVAL, tz, telemetry.clone()).families(std::slice::from_ref(&row)));
        s.get("sobot_platform_tenant_contract_end_timestamp_seconds{tenant=\"c\"}").copied()
    };
    // 2026-11-23T23:59:59Z and eight hours earlier in Shanghai.
    assert_eq!(end(TimeZone::UTC), Some(1_795_478_399.0));
    assert_eq!(end(shanghai()), Some(1_795_478_399.0 - 8.0 * 3600.0));
}

#[test]
fn ugly_tenants() {
    let telemetry = Arc::new(Telemetry::new());
    let decoder = TenantDecoder::new(INTERVAL, TimeZone::UTC, telemetry.clone());
    let rows = vec![
        json!({"companyName": "no id", "serviceNum": 1}),
        json!({"companyId": "  ", "serviceNum": 1}),
        json!({"companyId": "a", "companyName": "  ", "serviceNum": "7", "maxServiceCount": "-",
               "tenantStatus": "1", "endTime": "2026-11-23 12:00:00"}),
        json!({"companyId": 42, "serviceNum": null, "maxServiceCount": 10.5, "tenantStatus": "yes",
               "endTime": "31/12/2099"}),
        json!({"companyId": "b", "serviceNum": -1, "maxServiceCount": "", "tenantStatus": null,
               "endTime": 4_102_415_999_u64}),
        json!({"companyId": "c", "serviceNum": 3, "tenantStatus": 0, "endTime": "-"}),
        // Listed twice: nothing of the second record, not even what the first lacks.
        json!({"companyId": "c", "serviceNum": 4, "tenantStatus": 1, "endTime": "2026-11-23 12:00:00"}),
    ];
    let s = series(&decoder.families(&rows));
    let want: BTreeMap<String, f64> = [
        ("sobot_platform_tenant_agents{tenant=\"a\"}", 7.0),
        ("sobot_platform_tenant_enabled{tenant=\"a\"}", 1.0),
        ("sobot_platform_tenant_contract_end_timestamp_seconds{tenant=\"a\"}", 1_795_435_200.0),
        ("sobot_platform_tenant_agents{tenant=\"c\"}", 3.0),
        ("sobot_platform_tenant_enabled{tenant=\"c\"}", 0.0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(s, want, "a tenant listed twice keeps its first record whole");
    assert_eq!(duplicates(&telemetry, "get_tenant_list"), 1.0);
    let errors = |field| parse_errors(&telemetry, "get_tenant_list", field);
    assert_eq!(errors("companyId"), 2.0);
    assert_eq!(errors("serviceNum"), 1.0, "-1");
    assert_eq!(errors("maxServiceCount"), 1.0, "10.5; - and blank are absent");
    assert_eq!(errors("tenantStatus"), 1.0, "yes; null is absent");
    assert_eq!(errors("endTime"), 2.0, "31/12/2099 and a bare number; - is absent");
}

#[test]
fn staff_statistics_of_the_documents_example() {
    let telemetry = Arc::new(Telemetry::new());
    let decoder = StaffJobDecoder::new(INTERVAL, telemetry.clone());
    let rows = items(
        fixture(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/platform/tenant_staff_job_list.json"
        ))),
        "items",
    );
    let families = decoder.families(&[(Window::Today, rows)]);
    assert_eq!(families.len(), 4);
    let s = series(&families);
    assert_eq!(s.len(), 12);
    let a = "staff=\"0a499e5706fb454688abe23ffeb48e6f\",tenant=\"f2749ad44367485796b3ca8d4777388c\",window=\"today\"";
    assert_eq!(s.get(&format!("sobot_platform_staff_first_response_sessions{{{a}}}")), Some(&1.0));
    assert_eq!(s.get(&format!("sobot_platform_staff_first_response_in60s_ratio{{{a}}}")), Some(&1.0));
    assert_eq!(s.get(&format!("sobot_platform_staff_transfer_first_responses{{{a}}}")), Some(&0.0));
    assert_eq!(s.get(&format!("sobot_platform_staff_valid_consult_sessions{{{a}}}")), Some(&1.0));
    let b = "staff=\"441d1579b6364ab6b9a33b5f5d956852\",tenant=\"a5b158a28fbf4a2d99ee1c374416573b\",window=\"today\"";
    assert_eq!(s.get(&format!("sobot_platform_staff_first_response_in60s_ratio{{{b}}}")), Some(&0.0), "00%");
    assert_eq!(s.get(&format!("sobot_platform_staff_valid_consult_sessions{{{b}}}")), Some(&4.0));
    assert!(
        families[0]
            .help
            .contains("首次接待首响会话; Sobot platform tenantStaffJobList field first_response_time_set")
    );
    assert_eq!(parse_errors(&telemetry, "tenant_staff_job_list", "first_response_in60s_rate"), 0.0);
}

#[test]
fn ugly_staff_statistics() {
    let telemetry = Arc::new(Telemetry::new());
    let decoder = StaffJobDecoder::new(INTERVAL, telemetry.clone());
    let rows = vec![
        json!({"companyid": "c", "first_response_time_set": 1}),
        json!({"staffid": "s", "first_response_time_set": 1}),
        json!({"staffid": "s", "companyid": "c", "first_response_time_set": "3",
               "transfer_first_response_count": "-", "session_human_visitor_consult": null,
               "first_response_in60s_rate": 0.5}),
        // Listed twice: nothing of the second row, not even what the first lacks.
        json!({"staffid": "s", "companyid": "c", "first_response_time_set": "4",
               "transfer_first_response_count": "5"}),
        json!({"staffid": 7, "companyid": "c", "first_response_time_set": 2.5,
               "transfer_first_response_count": "x", "first_response_in60s_rate": " 53.49% "}),
    ];
    let yesterday = vec![json!({"staffid": "s", "companyid": "c", "first_response_in60s_rate": "-60.00%"})];
    let s = series(&decoder.families(&[(Window::Today, rows), (Window::Yesterday, yesterday)]));
    let want: BTreeMap<String, f64> = [
        ("sobot_platform_staff_first_response_sessions{staff=\"s\",tenant=\"c\",window=\"today\"}", 3.0),
        (
            "sobot_platform_staff_first_response_in60s_ratio{staff=\"7\",tenant=\"c\",window=\"today\"}",
            0.5349,
        ),
        (
            "sobot_platform_staff_first_response_in60s_ratio{staff=\"s\",tenant=\"c\",window=\"yesterday\"}",
            -0.6,
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(s, want);
    assert_eq!(duplicates(&telemetry, "tenant_staff_job_list"), 1.0, "s today; yesterday is another window");
    let errors = |field| parse_errors(&telemetry, "tenant_staff_job_list", field);
    assert_eq!((errors("staffid"), errors("companyid")), (1.0, 1.0));
    assert_eq!(errors("first_response_in60s_rate"), 1.0, "a bare number is ambiguous");
    assert_eq!(errors("first_response_time_set"), 1.0, "2.5");
    assert_eq!(errors("transfer_first_response_count"), 1.0, "x; - is absent");
    assert_eq!(errors("session_human_visitor_consult"), 0.0);
}

#[test]
fn staff_status_of_the_documents_example() {
    let telemetry = Arc::new(Telemetry::new());
    let decoder = StaffStatusDecoder::new(INTERVAL, telemetry.clone());
    let rows = items(
        fixture(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/platform/get_staff_log_infos.json"
        ))),
        "items",
    );
    let families = decoder.families(&rows);
    assert_eq!(families.len(), 2);
    let s = series(&families);
    let (staff, tenant) =
        ("staff=\"53df8dee9a9e4fdda236faf6351e7a8d\"", "tenant=\"9e73cc58f2f7472d993e6772c250ed99\"");
    let status =
        |state: &str| s.get(&format!("sobot_platform_staff_status{{{staff},status=\"{state}\",{tenant}}}"));
    assert_eq!(status("online"), Some(&1.0));
    for (_, state) in &STAFF_STATES[1..] {
        assert_eq!(status(state), Some(&0.0), "{state}");
    }
    assert_eq!(status("other"), Some(&0.0));
    assert_eq!(
        s.get(&format!("sobot_platform_staff_status_change_timestamp_seconds{{{staff},{tenant}}}")),
        Some(&1_571_037_571.921)
    );
    assert_eq!(s.len(), STAFF_STATES.len() + 2);
    assert_eq!(parse_errors(&telemetry, "get_staff_log_infos", "operationAction"), 0.0);
}

#[test]
fn the_latest_entry_wins_and_unknown_words_are_other() {
    let telemetry = Arc::new(Telemetry::new());
    let decoder = StaffStatusDecoder::new(INTERVAL, telemetry.clone());
    let log = |t: Value, w: Value| json!({"datetime": t, "operationAction": w, "source": 0});
    let items = vec![
        json!({"companyId": "c", "companyStaffInfos": [
            // Out of order: the latest is not the last.
            {"staffId": "a", "staffLogInfos": [
                log(json!(3000), json!("忙碌")), log(json!("5000"), json!(" 小休 ")), log(json!(4000), json!("在线")),
            ]},
            // The latest is a word we do not know; an older garbage entry is skipped.
            {"staffId": "b", "staffLogInfos": [
                log(json!(1000), json!("在线")), log(json!(9000), json!("挂起")), log(json!("soon"), json!("离线")),
                log(json!(null), json!("离线")), log(json!(9500), json!("")), log(json!(9600), json!(7)),
            ]},
            // Nothing dated: no series.
            {"staffId": "e", "staffLogInfos": [log(json!(""), json!("在线"))]},
            {"staffId": "f", "staffLogInfos": null},
            {"staffId": "g", "staffLogInfos": {"datetime": 1}},
            {"staffLogInfos": [log(json!(1), json!("在线"))]},
        ]}),
        // The same staff again, later in the answer, on a tie: the later entry wins.
        json!({"companyId": "c", "companyStaffInfos": [
            {"staffId": "a", "staffLogInfos": [log(json!(5000), json!("离线"))]},
        ]}),
        json!({"companyStaffInfos": []}),
        json!({"companyId": "d", "companyStaffInfos": "none"}),
    ];
    let s = series(&decoder.families(&items));
    let current: Vec<&str> = s
        .iter()
        .filter(|(k, v)| k.starts_with("sobot_platform_staff_status{") && **v == 1.0)
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        current,
        [
            "sobot_platform_staff_status{staff=\"a\",status=\"offline\",tenant=\"c\"}",
            "sobot_platform_staff_status{staff=\"b\",status=\"other\",tenant=\"c\"}",
        ]
    );
    assert_eq!(
        s.get("sobot_platform_staff_status_change_timestamp_seconds{staff=\"a\",tenant=\"c\"}"),
        Some(&5.0)
    );
    assert_eq!(
        s.get("sobot_platform_staff_status_change_timestamp_seconds{staff=\"b\",tenant=\"c\"}"),
        Some(&9.0)
    );
    assert_eq!(s.len(), 2 * (STAFF_STATES.len() + 2), "a and b only");
    let errors = |field| parse_errors(&telemetry, "get_staff_log_infos", field);
    assert_eq!(errors("operationAction"), 2.0, "7, and 挂起 as the current state");
    assert_eq!(errors("datetime"), 1.0, "soon; null and blank are absent");
    assert_eq!(errors("staffLogInfos"), 1.0, "an object; null is none");
    assert_eq!(errors("staffId"), 1.0);
    assert_eq!((errors("companyId"), errors("companyStaffInfos")), (1.0, 1.0));
}
