//! The demo's day, answer by answer: at any simulated moment the figures add up, within a day
//! every count only grows, at the simulated midnight they start again, and each skill group,
//! the robot, each Laaffic group and the busiest tenant bring the volume the 15-minute and
//! 1-hour ratios need within a few minutes at any hour.

use std::collections::BTreeMap;

use jiff::civil::{Date, date};
use serde_json::Value;

use super::data::{DataMode, agent_rows, company_agents, statistics};
use super::day::{DAY_S, SimNow};
use super::{SimAgent, demo_population, laaffic, sim_platform};
use crate::sources::sobot::endpoints::{ENDPOINTS, Endpoint, Rows};

const DAY: fn() -> Date = || date(2026, 12, 7);

fn endpoint(name: &str) -> &'static Endpoint {
    ENDPOINTS.iter().find(|e| e.name == name).expect("endpoint")
}

/// The whole-number fields of every company, group and agent answer at `second`, keyed by
/// `scope/endpoint/field`.
fn counts(agents: &[SimAgent], company: Option<&str>, second: u32) -> BTreeMap<String, u64> {
    let now = SimNow::at_second(DAY(), second);
    let mut groups: Vec<&str> = agents.iter().map(|a| a.group.as_str()).collect();
    groups.dedup();
    let mut out = BTreeMap::new();
    let mut add = |scope: &str, ep: &str, item: &Value| {
        for (k, v) in item.as_object().into_iter().flatten() {
            if let Some(n) = v.as_str().and_then(|s| s.parse::<u64>().ok()) {
                out.insert(format!("{scope}/{ep}/{k}"), n);
            }
        }
    };
    let selected: Vec<&SimAgent> = agents.iter().collect();
    for ep in ENDPOINTS {
        let body = |group: Option<&str>| {
            let answer = match ep.rows {
                Rows::Item => statistics(&DataMode::Live, ep, DAY(), group, &now, company, agents),
                Rows::Items(_) => agent_rows(&DataMode::Live, ep, (agents, &selected), DAY(), &now, company),
            };
            serde_json::from_slice::<Value>(&answer).expect("JSON")
        };
        match ep.rows {
            Rows::Item => {
                add("company", ep.name, &body(None)["item"]);
                for g in &groups {
                    add(g, ep.name, &body(Some(g))["item"]);
                }
            }
            Rows::Items(_) => {
                for row in body(None)["items"].as_array().into_iter().flatten() {
                    add(row["serviceid"].as_str().unwrap_or(""), ep.name, row);
                }
            }
        }
    }
    out
}

/// The invariants of `tests/demo.rs` on one moment's answers.
fn check_invariants(c: &BTreeMap<String, u64>, agents: &[SimAgent], at: u32) {
    let get = |key: &str| *c.get(key).unwrap_or_else(|| panic!("{key} at {at}"));
    let sum = |keys: &[&str]| keys.iter().map(|k| get(k)).sum::<u64>();
    let mut scopes: Vec<&str> = agents.iter().map(|a| a.group.as_str()).collect();
    scopes.dedup();
    scopes.push("company");
    for s in &scopes {
        let k = |f: &str| format!("{s}/{f}");
        let [hs, rs, sat] = ["human_session/", "robot_session/", "human_satisfaction/"];
        assert_eq!(
            get(&k(&format!("{hs}consult_session"))),
            sum(&[&k(&format!("{hs}valid_session")), &k(&format!("{hs}invalid_session"))]),
            "{s} at {at}"
        );
        assert_eq!(
            get(&k(&format!("{hs}valid_session"))),
            sum(&[
                &k(&format!("{hs}valid_reception_session")),
                &k(&format!("{hs}invalid_reception_session")),
                &k(&format!("{hs}not_reception_session"))
            ]),
            "{s} at {at}"
        );
        assert_eq!(
            get(&k(&format!("{hs}consult_session"))),
            sum(&[
                &k(&format!("{hs}solved_session")),
                &k(&format!("{hs}not_solved_session")),
                &k(&format!("{hs}not_mark_is_solved"))
            ]),
            "{s} at {at}"
        );
        let evaluations = get(&k(&format!("{sat}total_times")));
        assert!(evaluations <= get(&k(&format!("{sat}effect_session_count"))), "{s} at {at}");
        assert_eq!(
            evaluations,
            sum(&[&k(&format!("{sat}good")), &k(&format!("{sat}middle")), &k(&format!("{sat}bad"))]),
            "{s} at {at}"
        );
        assert_eq!(
            evaluations,
            sum(&[&k(&format!("{sat}initiative")), &k(&format!("{sat}invites"))]),
            "{s} at {at}"
        );
        if *s == "company" {
            assert_eq!(
                get(&k(&format!("{rs}consult_session"))),
                sum(&[&k(&format!("{rs}valid_session")), &k(&format!("{rs}invalid_session"))])
            );
            let cs = "customer_session/";
            assert_eq!(
                get(&k(&format!("{cs}total_valid_session"))) + get(&k(&format!("{rs}to_human_session"))),
                get(&k(&format!("{rs}valid_session"))) + get(&k(&format!("{hs}valid_session"))),
                "all sessions: valid = robot + human - robot to human, at {at}"
            );
        }
    }
    // Groups and agents add up to the company.
    for field in [
        "human_session/valid_session",
        "human_session/not_reception_session",
        "human_satisfaction/total_times",
    ] {
        let groups: u64 =
            scopes.iter().filter(|s| **s != "company").map(|g| get(&format!("{g}/{field}"))).sum();
        assert_eq!(groups, get(&format!("company/{field}")), "{field} at {at}");
    }
    let agents_valid: u64 =
        agents.iter().map(|a| get(&format!("{}/get_service_data/valid_session", a.id))).sum();
    assert_eq!(agents_valid, get("company/human_session/valid_session"), "at {at}");
}

#[test]
fn figures_add_up_grow_within_the_day_and_start_again_at_midnight() {
    let agents = demo_population();
    let mut last = counts(&agents, None, 0);
    check_invariants(&last, &agents, 0);
    for second in (1200..DAY_S).step_by(1200) {
        let now = counts(&agents, None, second);
        check_invariants(&now, &agents, second);
        for (key, value) in &now {
            assert!(*value >= last[key], "{key} fell from {} to {value} at {second}", last[key]);
        }
        last = now;
    }
    assert!(
        last["company/human_session/valid_session"] > 10_000,
        "{}",
        last["company/human_session/valid_session"]
    );
    // The simulated midnight: today's figures start again.
    let midnight = counts(&agents, None, 0);
    assert!(
        midnight["company/human_session/valid_session"] < last["company/human_session/valid_session"] / 100
    );
    assert!(
        midnight["company/robot_session/valid_session"] < last["company/robot_session/valid_session"] / 100
    );
    // A tenant's figures too.
    let tenant = "4a7b";
    let agents = company_agents(tenant);
    let mut last = counts(&agents, Some(tenant), 0);
    for second in (1800..DAY_S).step_by(1800) {
        let now = counts(&agents, Some(tenant), second);
        check_invariants(&now, &agents, second);
        assert!(now.iter().all(|(k, v)| *v >= last[k]), "at {second}");
        last = now;
    }
}

#[test]
fn agents_log_in_and_out() {
    let agents = demo_population();
    let ep = endpoint("human_duration");
    let selected: Vec<&SimAgent> = agents.iter().collect();
    let login = |second: u32| -> Vec<String> {
        let now = SimNow::at_second(DAY(), second);
        let body = agent_rows(&DataMode::Live, ep, (&agents, &selected), DAY(), &now, None);
        let body: Value = serde_json::from_slice(&body).expect("JSON");
        body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["login_duration"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let (a, b) = (login(10 * 3600), login(10 * 3600 + 1800));
    let still = a.iter().zip(&b).filter(|(x, y)| x == y).count();
    // A third of the agents is logged out at any time: their login time stands still.
    assert!((9..=15).contains(&still), "{still} of {} stood still", a.len());
}

/// The least a figure grows in any `window` seconds of the day.
fn least_growth(window: u32, figure: &dyn Fn(u32) -> u64) -> u64 {
    (0..DAY_S - window).step_by(300).map(|s| figure(s + window) - figure(s)).min().unwrap_or(0)
}

#[test]
fn every_group_robot_seat_group_and_the_busiest_tenant_have_volume_within_four_minutes() {
    let agents = demo_population();
    let window = 240;
    let mut groups: Vec<&str> = agents.iter().map(|a| a.group.as_str()).collect();
    groups.dedup();
    let at =
        |ep: &str, group: Option<&str>, company: Option<&str>, agents: &[SimAgent], field: &str, s: u32| {
            let now = SimNow::at_second(DAY(), s);
            let body = statistics(&DataMode::Live, endpoint(ep), DAY(), group, &now, company, agents);
            let body: Value = serde_json::from_slice(&body).expect("JSON");
            body["item"][field].as_str().and_then(|v| v.parse::<u64>().ok()).expect("a count")
        };
    for g in &groups {
        let valid =
            least_growth(window, &|s| at("human_session", Some(g), None, &agents, "valid_session", s));
        let evaluations =
            least_growth(window, &|s| at("human_satisfaction", Some(g), None, &agents, "total_times", s));
        // The guards: 20 sessions, 10 evaluations (src/mixin Settings::default()).
        assert!(valid >= 25 && evaluations >= 12, "group {g}: {valid} sessions, {evaluations} evaluations");
    }
    let robot = least_growth(window, &|s| at("robot_session", None, None, &agents, "valid_session", s));
    assert!(robot >= 25, "robot: {robot}");
    let busiest = sim_platform(24)
        .tenants
        .iter()
        .map(|t| {
            let agents = company_agents(&t.app_id);
            least_growth(window, &|s| at("human_session", None, Some(&t.app_id), &agents, "valid_session", s))
        })
        .max()
        .unwrap_or(0);
    assert!(busiest >= 25, "busiest tenant: {busiest}");
    for group in 0..3 {
        let calls = least_growth(window, &|s| {
            let now = SimNow::at_second(DAY(), s);
            let page = laaffic::seat_page(&DataMode::Live, 24, (1, 100), DAY(), &now);
            let page: Value = serde_json::from_slice(&page).expect("JSON");
            page["data"]["records"]
                .as_array()
                .into_iter()
                .flatten()
                .skip(group * 8)
                .take(8)
                .map(|r| r["num"].as_u64().unwrap_or(0))
                .sum()
        });
        assert!(calls >= 25, "seat group {group}: {calls} calls");
    }
}
