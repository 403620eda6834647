//! The demo's day, answer by answer: at any simulated moment the figures add up, within a day
//! every count only grows, at the simulated midnight they start again, and each skill group,
//! the robot, each Laaffic group and the busiest tenant bring the volume the 15-minute and
//! 1-hour ratios need within a few minutes at any hour. A past day is settled: its figures
//! differ from other days', and a range of it up to an hour gives the day so far.

use std::collections::BTreeMap;

use jiff::civil::{Date, date};
use serde_json::Value;

use super::data::{DataMode, agent_rows, company_agents, quality_records, settled_answer, statistics};
use super::day::{DAY_S, SimNow, day_factor};
use super::{SimAgent, SimConfig, Simulator, demo_population, laaffic, population, sim_platform};
use sobot_exporter_core::sources::sobot::endpoints::{ENDPOINTS, Endpoint, Rows};

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
        // The guards: 20 sessions, 10 evaluations (xtask/src Settings::default()).
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

/// A count of `ep`'s answer for `day` at `now`: the company's, or the agents' rows summed.
fn count(
    mode: &DataMode,
    (ep, field): (&str, &str),
    (day, now): (Date, &SimNow),
    company: Option<&str>,
    agents: &[SimAgent],
) -> u64 {
    let ep = endpoint(ep);
    let all: Vec<&SimAgent> = agents.iter().collect();
    let body = match ep.rows {
        Rows::Item => statistics(mode, ep, day, None, now, company, agents),
        Rows::Items(_) => agent_rows(mode, ep, (agents, &all), day, now, company),
    };
    let body: Value = serde_json::from_slice(&body).expect("JSON");
    let rows = match ep.rows {
        Rows::Item => vec![body["item"].clone()],
        Rows::Items(_) => body["items"].as_array().cloned().unwrap_or_default(),
    };
    rows.iter().map(|r| r[field].as_str().and_then(|v| v.parse::<u64>().ok()).expect(field)).sum()
}

/// The seats' calls of `day` at `now`.
fn calls(mode: &DataMode, day: Date, now: &SimNow) -> u64 {
    let page: Value =
        serde_json::from_slice(&laaffic::seat_page(mode, 24, (1, 100), day, now)).expect("JSON");
    page["data"]["records"].as_array().into_iter().flatten().map(|r| r["num"].as_u64().unwrap_or(0)).sum()
}

#[test]
fn past_days_differ_from_one_another() {
    let days: Vec<Date> = (1..=14).map(|n| DAY() - jiff::Span::new().days(n)).collect();
    for (i, a) in days.iter().enumerate() {
        assert!((800..1200).contains(&day_factor(*a)));
        for b in days.iter().skip(i + 1).take(6) {
            assert!(day_factor(*a).abs_diff(day_factor(*b)) >= 35, "{a} and {b}");
        }
    }
    let now = SimNow::at_second(DAY(), 10 * 3600);
    let (demo, own) = (demo_population(), company_agents("app-a"));
    let week: Vec<[u64; 6]> = days[..7]
        .iter()
        .map(|&d| {
            let live = |ep| count(&DataMode::Live, ep, (d, &now), None, &demo);
            let fixed = |ep| count(&DataMode::Fixtures, ep, (d, &now), Some("app-a"), &own);
            [
                live(("robot_session", "consult_session")),
                live(("human_session", "valid_session")),
                fixed(("human_session", "valid_session")),
                calls(&DataMode::Live, d, &now),
                calls(&DataMode::Fixtures, d, &now),
                quality_records(180, d, &now) as u64,
            ]
        })
        .collect();
    for figure in 0..6 {
        for (i, a) in week.iter().enumerate() {
            for b in &week[i + 1..] {
                assert_ne!(a[figure], b[figure], "figure {figure}: {week:?}");
            }
        }
    }
    // A settled day does not move with the clock.
    let later = SimNow::at_second(DAY(), 20 * 3600);
    let robot = |now: &SimNow| {
        count(&DataMode::Live, ("robot_session", "consult_session"), (days[0], now), None, &demo)
    };
    assert_eq!(robot(&now), robot(&later));
}

#[test]
fn an_hourly_range_of_a_past_day_is_the_day_so_far_and_to_23_the_daily_figures() {
    let day = DAY() - jiff::Span::new().days(3);
    let now = SimNow::at_second(DAY(), 10 * 3600);
    let (demo, own) = (demo_population(), company_agents("app-a"));
    for (mode, company, agents) in [(DataMode::Live, None, &demo), (DataMode::Fixtures, Some("app-a"), &own)]
    {
        let at = |hour: u32, ep| count(&mode, ep, (day, &now.until((hour + 1) * 3600)), company, agents);
        for ep in [
            ("robot_session", "consult_session"),
            ("human_session", "consult_session"),
            ("human_satisfaction", "effect_session_count"),
            ("get_service_data", "valid_session"),
        ] {
            assert_eq!(endpoint(ep.0).date_format, sobot_exporter_core::table::DateFormat::Hour);
            let hours: Vec<u64> = (0..24).map(|h| at(h, ep)).collect();
            assert!(hours.windows(2).all(|w| w[0] < w[1]), "{mode:?} {ep:?}: {hours:?}");
            assert!(hours[0] > 0);
            // To 23: the whole day, as a daily range (or one ending on a later day) answers it.
            assert_eq!(hours[23], count(&mode, ep, (day, &now), company, agents), "{mode:?} {ep:?}");
        }
        // The daily endpoints agree with the hourly ones to 23: robot_satisfaction counts the
        // robot's valid sessions, customer_session the robot's and the humans' less transfers.
        let whole = |ep| count(&mode, ep, (day, &now), company, agents);
        let robot_valid = at(23, ("robot_session", "valid_session"));
        assert_eq!(whole(("robot_satisfaction", "effect_session_count")), robot_valid);
        assert!(at(12, ("robot_session", "valid_session")) < robot_valid);
        let human_valid = at(23, ("human_session", "valid_session"));
        let to_human = at(23, ("robot_session", "to_human_session"));
        assert_eq!(whole(("customer_session", "total_valid_session")) + to_human, robot_valid + human_valid);
    }
    // Laaffic: a range ending at a time of the day, its calls so far.
    let seats: Vec<u64> = (0..24).map(|h| calls(&DataMode::Live, day, &now.until((h + 1) * 3600))).collect();
    assert!(seats.windows(2).all(|w| w[0] < w[1]) && seats[23] == calls(&DataMode::Live, day, &now));
    let records: Vec<usize> =
        (0..24).map(|h| quality_records(180, day, &now.until((h + 1) * 3600))).collect();
    assert!(records.windows(2).all(|w| w[0] < w[1]) && records[23] == quality_records(180, day, &now));
}

#[test]
fn today_answers_as_before_past_ranges_came_in() {
    let now = SimNow::at_second(DAY(), 10 * 3600);
    let (demo, own) = (demo_population(), company_agents("app-a"));
    let today =
        |mode, ep, now: &SimNow, company, agents: &[SimAgent]| count(mode, ep, (DAY(), now), company, agents);
    // Today's figures at 10:00, as the simulator gave them before past days had hours.
    let pinned = [
        (today(&DataMode::Live, ("robot_session", "consult_session"), &now, None, &demo), 31_441),
        (today(&DataMode::Live, ("human_session", "valid_session"), &now, None, &demo), 27_901),
        (today(&DataMode::Live, ("human_session", "valid_session"), &now, Some("app-a"), &own), 7_585),
        (today(&DataMode::Fixtures, ("robot_session", "consult_session"), &now, Some("app-a"), &own), 65),
        (calls(&DataMode::Live, DAY(), &now), 17_765),
        (calls(&DataMode::Fixtures, DAY(), &now), 1_233),
        (quality_records(180, DAY(), &now) as u64, 180),
    ];
    for (i, (got, want)) in pinned.iter().enumerate() {
        assert_eq!(got, want, "figure {i}");
    }
    // The exporter's range of today, `00` to `23`, is the day so far; an earlier end hour caps it.
    let robot = |now: &SimNow| today(&DataMode::Live, ("robot_session", "consult_session"), now, None, &demo);
    assert_eq!(robot(&now.until(DAY_S)), 31_441);
    assert!(robot(&now.until(6 * 3600)) < 31_441);
    let fixed = |now: &SimNow| {
        today(&DataMode::Fixtures, ("human_session", "valid_session"), now, Some("app-a"), &own)
    };
    assert_eq!(fixed(&now.until(3600)), fixed(&now), "fixture mode stands still today");
}

/// A Live simulator's answers over HTTP to past ranges: what [`settled_answer`] expects, the end
/// hour (or second) inclusive, a range ending on a later day the whole start day.
#[tokio::test]
async fn past_ranges_asked_over_http_are_the_settled_answers() {
    let agents = population(2, 3);
    let config = SimConfig {
        data: DataMode::Live,
        agents: agents.clone(),
        quality_records: 60,
        laaffic_seats: 16,
        ..SimConfig::fixtures("1", "key-one")
    };
    let sim = Simulator::start(config).await.expect("simulator");
    let client = reqwest::Client::new();
    let ts = jiff::Timestamp::now().as_second().to_string();
    let sign = sobot_exporter_core::sign::sobot_token_sign("1", &ts, "key-one");
    let url = format!("{}/api/get_token?appid=1&create_time={ts}&sign={sign}", sim.base_url());
    let body: Value = client.get(url).send().await.expect("token").json().await.expect("JSON");
    let token = body["item"]["token"].as_str().expect("a token").to_string();
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
    let day = jiff::Timestamp::now().to_zoned(tz).date() - jiff::Span::new().days(2);
    let get = |path: String, query: Vec<(&'static str, String)>| {
        let request = client.get(format!("{}{path}", sim.base_url())).header("token", &token).query(&query);
        async move { request.send().await.expect("answer").json::<Value>().await.expect("JSON") }
    };
    let sobot = |ep: &str, start: String, end: String| {
        get(format!("/api/wb/5/data/{ep}"), vec![("start_date", start), ("end_date", end)])
    };
    let expected = |ep: &str, hour: u8| settled_answer(DataMode::Live, ep, day, hour, None, &agents);
    for ep in ["robot_session", "get_service_data"] {
        for hour in [5, 6, 23] {
            let answer = sobot(ep, format!("{day} 00"), format!("{day} {hour:02}")).await;
            assert_eq!(Some(answer), expected(ep, hour), "{ep} to {hour}");
        }
        let tomorrow = day.tomorrow().expect("a day");
        let answer = sobot(ep, format!("{day} 00"), format!("{tomorrow} 03")).await;
        assert_eq!(Some(answer), expected(ep, 23), "{ep}: a later end day is the whole day");
    }
    let consult =
        |v: Option<Value>| v.and_then(|v| v["item"]["consult_session"].as_str()?.parse::<u64>().ok());
    assert!(consult(expected("robot_session", 5)) < consult(expected("robot_session", 6)));
    let daily = sobot("robot_satisfaction", day.to_string(), day.to_string()).await;
    assert_eq!(Some(daily.clone()), expected("robot_satisfaction", 5), "the daily form ignores the hour");
    let robot_valid = expected("robot_session", 23).map(|v| v["item"]["valid_session"].clone());
    assert_eq!(Some(daily["item"]["effect_session_count"].clone()), robot_valid);
    assert_eq!(expected("robot_session", 24), None);
    assert_eq!(
        settled_answer(DataMode::Live, "robot_session", day + jiff::Span::new().days(2), 5, None, &agents),
        None
    );

    // Quality by datetime: the records of the day up to the end second.
    let call_result = |end: &str| {
        let query = vec![
            ("start_datetime", format!("{day} 00:00:00")),
            ("end_datetime", format!("{day} {end}")),
            ("page_no", "1".to_string()),
            ("page_size", "500".to_string()),
        ];
        get("/api/interceptor/5/quality/call_result".to_string(), query)
    };
    let (noon, evening) = (call_result("11:59:59").await, call_result("23:59:59").await);
    let total = |v: &Value| v["total_count"].as_u64().expect("total_count");
    assert!(0 < total(&noon) && total(&noon) < total(&evening), "{noon} {evening}");
    assert_eq!(noon["items"][0], evening["items"][0], "the first records of the day are the same");

    // Laaffic: the calls of the day up to `endTime`.
    let seats = |end: &str| {
        let ts = jiff::Timestamp::now().as_second().to_string();
        let body = serde_json::json!({"current": 1, "size": 100,
            "params": {"strTime": format!("{day} 00:00:00"), "endTime": format!("{day} {end}")}});
        let request = client
            .post(format!("{}{}", sim.base_url(), sobot_exporter_core::sources::laaffic::client::SEAT_QUERY))
            .header("Api-Key", "bDqJFiq9")
            .header("Sign", sobot_exporter_core::sign::laaffic_sign("bDqJFiq9", "7bz1lzh9", &ts))
            .header("Timestamp", ts)
            .json(&body);
        async move {
            let page: Value = request.send().await.expect("answer").json().await.expect("JSON");
            page["data"]["records"]
                .as_array()
                .expect("records")
                .iter()
                .map(|r| r["num"].as_u64().unwrap_or(0))
                .sum::<u64>()
        }
    };
    assert!(seats("11:59:59").await < seats("23:59:59").await);
}
