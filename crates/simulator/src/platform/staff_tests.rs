//! getStaffLogInfos over HTTP: the document's four range cases, past ranges, and the state a
//! past hour shows.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::Value;

use super::*;
use crate::staff::{staff_action_at, staff_ids, staff_log};
use crate::{SimConfig, Simulator};
use sobot_exporter_core::sources::platform::decode::STAFF_STATES;

/// A settled past day: the answers of a range within it never change.
const DAY: Date = jiff::civil::date(2026, 11, 20);

/// A staff's entries as an answer lists them: `(datetime, operationAction, source)`.
type Entries = Vec<(i64, String, i64)>;

async fn simulator(platform: SimPlatform) -> Simulator {
    let config = SimConfig { platform: Some(platform), ..SimConfig::fixtures("1", "k") };
    Simulator::start(config).await.expect("simulator starts")
}

/// GETs getStaffLogInfos, signed now, with `range` added to the query.
async fn logs(sim: &Simulator, p: &SimPlatform, range: &[(&str, String)]) -> Value {
    let ts = Timestamp::now().as_millisecond().to_string();
    let token = platform_sign(&p.union_code, &ts, p.union_key.expose());
    let mut query = vec![("unionCode", p.union_code.clone()), ("ts", ts), ("token", token)];
    query.extend(range.iter().cloned());
    let url = format!("{}{}", sim.base_url(), STAFF_LOG_INFOS.path);
    let answer = reqwest::Client::new().get(url).query(&query).send().await.expect("sent");
    answer.json().await.expect("JSON")
}

/// Each (tenant, staff)'s entries in an answer.
fn by_staff(body: &Value) -> BTreeMap<(String, String), Entries> {
    assert_eq!(body["retCode"], "200000", "{body}");
    let text = |v: &Value| v.as_str().expect("a string").to_string();
    let mut all = BTreeMap::new();
    for company in body["items"].as_array().expect("items") {
        for staff in company["companyStaffInfos"].as_array().expect("staff") {
            let entries = staff["staffLogInfos"].as_array().expect("logs").iter().map(|e| {
                (
                    e["datetime"].as_i64().expect("ms"),
                    text(&e["operationAction"]),
                    e["source"].as_i64().expect("source"),
                )
            });
            all.insert((text(&company["companyId"]), text(&staff["staffId"])), entries.collect());
        }
    }
    all
}

/// What every staff of `p` logged within `start..=end`, as [`by_staff`] reads an answer.
fn expected(p: &SimPlatform, start: i64, end: i64) -> BTreeMap<(String, String), Entries> {
    let mut all = BTreeMap::new();
    for tenant in &p.tenants {
        for staff in staff_ids(&tenant.company_id) {
            let entries = staff_log(&tenant.company_id, &staff, start, end);
            let entries = entries.into_iter().map(|e| (e.millis, e.action.to_string(), i64::from(e.source)));
            all.insert((tenant.company_id.clone(), staff), entries.collect());
        }
    }
    all
}

/// Midnight starting `day` (Asia/Shanghai), in milliseconds.
fn midnight(day: Date) -> i64 {
    day.to_zoned(shanghai()).expect("a day").timestamp().as_millisecond()
}

fn days_ago(n: i64) -> Date {
    let today = Timestamp::now().to_zoned(shanghai()).date();
    today.checked_sub(jiff::Span::new().days(n)).expect("a day")
}

#[tokio::test]
async fn staff_logs_follow_the_documents_four_range_cases() {
    let p = sim_platform(3);
    let sim = simulator(p.clone()).await;
    let ms = |v: i64| v.to_string();
    let end = midnight(DAY.tomorrow().expect("a day")) - 1; // DAY 23:59:59.999
    let count = |all: &BTreeMap<_, Entries>| all.values().map(Vec::len).sum::<usize>();

    // 1) Both given, over a week: the start is the end minus a week.
    let ten_days = end - 10 * 86_400_000;
    let answer = by_staff(&logs(&sim, &p, &[("startTime", ms(ten_days)), ("endTime", ms(end))]).await);
    assert_eq!(answer, expected(&p, end - WEEK_MS, end));
    assert!(count(&expected(&p, ten_days, end)) > count(&answer), "the days before the week are left out");
    // Both given within a week: that range, ends included.
    let day = expected(&p, end + 1 - 86_400_000, end);
    assert!(day.values().filter(|e| !e.is_empty()).count() >= 6, "most staff worked on DAY");
    let answer = logs(&sim, &p, &[("startTime", ms(end + 1 - 86_400_000)), ("endTime", ms(end))]).await;
    assert_eq!(by_staff(&answer), day);
    let (first, last) = day.values().flatten().fold((i64::MAX, 0), |(a, b), e| (a.min(e.0), b.max(e.0)));
    let answer = logs(&sim, &p, &[("startTime", ms(first)), ("endTime", ms(last))]).await;
    assert_eq!(by_staff(&answer), day, "start <= datetime <= end");
    let answer = logs(&sim, &p, &[("startTime", ms(first + 1)), ("endTime", ms(last - 1))]).await;
    assert_eq!(count(&by_staff(&answer)), count(&day) - 2);

    // 2) Neither: the week up to now.
    let before = Timestamp::now().as_millisecond();
    let answer = by_staff(&logs(&sim, &p, &[("startTime", String::new())]).await);
    let after = Timestamp::now().as_millisecond();
    let (inner, outer) = (expected(&p, after - WEEK_MS, before), expected(&p, before - WEEK_MS, after));
    for (key, entries) in &answer {
        assert!(entries.iter().all(|e| outer[key].contains(e)), "{key:?}: within the last week");
        assert!(inner[key].iter().all(|e| entries.contains(e)), "{key:?}: all of the last week");
    }

    // 3) Only the start: a week from it; never past now.
    let start = midnight(DAY) - 9 * 86_400_000;
    let answer = by_staff(&logs(&sim, &p, &[("startTime", ms(start))]).await);
    assert_eq!(answer, expected(&p, start, start + WEEK_MS));
    let start = midnight(days_ago(2));
    let before = Timestamp::now().as_millisecond();
    let answer = by_staff(&logs(&sim, &p, &[("startTime", ms(start))]).await);
    let after = Timestamp::now().as_millisecond();
    let (inner, outer) = (expected(&p, start, before), expected(&p, start, after));
    for (key, entries) in &answer {
        assert!(
            entries.iter().all(|e| outer[key].contains(e)) && inner[key].iter().all(|e| entries.contains(e))
        );
    }

    // 4) Only the end: a week before it.
    let answer = by_staff(&logs(&sim, &p, &[("endTime", ms(end))]).await);
    assert_eq!(answer, expected(&p, end - WEEK_MS, end));
}

#[tokio::test]
async fn the_state_of_a_past_hour_is_the_latest_entry_by_its_end() {
    let p = sim_platform(5);
    let sim = simulator(p.clone()).await;
    // As the backfill asks for a day: its end, the week before.
    let day = DAY;
    let end = midnight(DAY.tomorrow().expect("a day")) - 1;
    let answer = by_staff(&logs(&sim, &p, &[("endTime", end.to_string())]).await);
    assert_eq!(answer.len(), 15);
    let at_hour = |entries: &Entries, hour: i64| {
        let by = midnight(day) + (hour + 1) * 3_600_000 - 1;
        entries.iter().rev().find(|e| e.0 <= by).map(|e| e.1.clone())
    };
    let mut differ = 0;
    for ((tenant, staff), entries) in &answer {
        for hour in 0..24 {
            let by = Timestamp::from_millisecond(midnight(day) + (hour + 1) * 3_600_000 - 1).expect("t");
            let want = staff_action_at(tenant, staff, by).map(str::to_string);
            assert_eq!(at_hour(entries, hour), want, "{staff} at {hour}:59:59");
        }
        differ += usize::from(at_hour(entries, 10) != at_hour(entries, 22));
    }
    assert!(differ >= 3, "{differ} of 15 staff in another state at 22:00 than at 10:00");
    let first = &answer.values().flatten().next().expect("an entry");
    let format = Timestamp::from_millisecond(first.0).expect("t").to_zoned(shanghai());
    let body = logs(&sim, &p, &[("endTime", end.to_string())]).await;
    let entry = &body["items"][0]["companyStaffInfos"][0]["staffLogInfos"][0];
    assert_eq!(entry["datetimeFormat"], format.strftime("%Y-%m-%d %H:%M:%S").to_string());
}

#[tokio::test]
async fn without_a_range_every_staff_has_a_current_state_in_a_known_word() {
    let p = sim_platform(5);
    let sim = simulator(p.clone()).await;
    let before = Timestamp::now();
    let answer = by_staff(&logs(&sim, &p, &[]).await);
    let after = Timestamp::now();
    assert_eq!(answer.len(), 15);
    let known = |word: &str| STAFF_STATES.iter().any(|(w, _)| *w == word);
    for ((tenant, staff), entries) in &answer {
        let (_, last, _) = entries.last().expect("an entry in the last week");
        assert!(entries.iter().all(|e| known(&e.1)), "{entries:?}");
        let now = [staff_action_at(tenant, staff, before), staff_action_at(tenant, staff, after)];
        assert!(now.contains(&Some(last.as_str())), "the latest entry is the state now");
    }
}

#[tokio::test]
async fn a_bad_time_is_210006_and_without_tenants_any_range_is_the_example() {
    let p = sim_platform(1);
    let sim = simulator(p.clone()).await;
    for (key, value) in
        [("startTime", "abc"), ("endTime", "1.7e12"), ("startTime", "-1"), ("endTime", "9000000000000000000")]
    {
        let body = logs(&sim, &p, &[(key, value.to_string())]).await;
        assert_eq!(body, json!({"retCode": "210006", "retMsg": message("210006")}), "{key}={value}");
    }
    let example = SimPlatform { tenants: Vec::new(), ..sim_platform(0) };
    let sim = simulator(example.clone()).await;
    let body = logs(&sim, &example, &[("endTime", midnight(days_ago(3)).to_string())]).await;
    assert_eq!(body, serde_json::from_str::<Value>(STAFF_LOG_INFOS_FIXTURE).expect("the example"));
    let body = logs(&sim, &example, &[("startTime", "x".to_string())]).await;
    assert_eq!(body["retCode"], "210006", "checked before the example");
}
