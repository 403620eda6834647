//! What the simulator answers with: the documents' example payloads, or moving values.

use std::time::Duration;

use bytes::Bytes;
use jiff::civil::Date;
use serde_json::{Map, Value, json};

use crate::collect::quality::{Paging, QualitySource};
use crate::sobot::endpoints::Endpoint;
use crate::value::Unit;

/// Which data the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMode {
    /// The documents' example payloads, byte for byte (tests).
    Fixtures,
    /// Plausible values in the vendors' string formats that change every few seconds (demo).
    Live,
}

/// The document's example answer of a Sobot endpoint.
pub fn sobot_fixture(endpoint: &str) -> Option<&'static str> {
    Some(match endpoint {
        "robot_session" => include_str!("../../tests/fixtures/sobot/robot_session.json"),
        "robot_satisfaction" => include_str!("../../tests/fixtures/sobot/robot_satisfaction.json"),
        "human_session" => include_str!("../../tests/fixtures/sobot/human_session.json"),
        "human_satisfaction" => include_str!("../../tests/fixtures/sobot/human_satisfaction.json"),
        "customer_session" => include_str!("../../tests/fixtures/sobot/customer_session.json"),
        "message_stats" => include_str!("../../tests/fixtures/sobot/message_stats.json"),
        "get_service_data" => include_str!("../../tests/fixtures/sobot/get_service_data.json"),
        "human_duration" => include_str!("../../tests/fixtures/sobot/human_duration.json"),
        "quality_result" => include_str!("../../tests/fixtures/sobot/quality_result.json"),
        "chat_result" => include_str!("../../tests/fixtures/sobot/chat_result.json"),
        "call_result" => include_str!("../../tests/fixtures/sobot/call_result.json"),
        _ => return None,
    })
}

/// The document's example answer of the Laaffic seat query.
pub const LAAFFIC_FIXTURE: &str = include_str!("../../tests/fixtures/laaffic/seat_query.json");

/// One page of `seats` simulated seats in groups of eight; their status changes every few
/// seconds in live mode.
pub fn seat_page(mode: &DataMode, seats: usize, current: usize, size: usize, uptime: Duration) -> Bytes {
    let tick = if *mode == DataMode::Live { uptime.as_secs() / 7 } else { 0 };
    let start = (current - 1).saturating_mul(size).min(seats);
    let end = start.saturating_add(size).min(seats);
    let records: Vec<Value> = (start..end)
        .map(|i| {
            let seed = mix(i as u64);
            let group = 1_000_001 + i / 8;
            let calls = 10 + seed % 90 + tick / 3;
            let connected = calls * (50 + seed % 40) / 100;
            let valid = connected * (60 + seed % 30) / 100;
            let pct = |n: u64, d: u64| format!("{}%", (n * 100).checked_div(d).unwrap_or(0));
            json!({
                "keyId": 600 + i,
                "empNo": format!("{:03}", i + 1),
                "name": format!("Seat {:03} 坐席", i + 1),
                "groupName": format!("Group {} 坐席組", i / 8 + 1),
                "voiceGroupId": group,
                "enable": u8::from(seed.is_multiple_of(17)),
                "status": ((mix(seed ^ tick) % 5) + 1).to_string(),
                "account": format!("acct{i}"),
                "password": "452061e7b50b70001c1e2168632ea56d",
                "ccode": null,
                "num": calls,
                "connectNum": connected,
                "connectRate": pct(connected, calls),
                "validConnectNum": valid,
                "validConnectRate": pct(valid, calls),
            })
        })
        .collect();
    let body = json!({
        "status": "0",
        "reason": "success",
        "data": {
            "total": seats,
            "size": size,
            "current": current,
            "pages": seats.div_ceil(size.max(1)),
            "records": records
        }
    });
    Bytes::from(body.to_string())
}

/// The agents of a company with values of its own when the simulator has none configured: three
/// in one group, with ids derived from its app id.
pub fn company_agents(app_id: &str) -> Vec<super::SimAgent> {
    let seed = hash_str(app_id);
    let hex = |x: u64| format!("{:016x}{:016x}", mix(x), mix(x ^ 0x5555));
    (0..3u64)
        .map(|i| super::SimAgent {
            id: hex(seed ^ (i + 1)),
            group: hex(seed ^ 0xabcd),
            name: format!("{app_id} 客服{}", i + 1),
        })
        .collect()
}

/// SplitMix64: a tiny, good-enough mixer for deterministic pseudo-random values.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// FNV-1a of a string: a seed from an id.
pub fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The document's example answer, or an empty list where there is none.
pub fn fixture_or_empty(endpoint: &str) -> Bytes {
    match sobot_fixture(endpoint) {
        Some(fixture) => Bytes::from_static(fixture.as_bytes()),
        None => Bytes::from(json!({"items": [], "ret_code": "000000", "ret_msg": "成功"}).to_string()),
    }
}

fn day_seed(day: Date) -> u64 {
    u64::try_from(day.day_of_year()).unwrap_or(0) + 1000 * u64::try_from(day.year()).unwrap_or(0)
}

/// The fields of `endpoint` for one subject (company, group or agent) in the vendor's formats.
fn fields(
    mode: &DataMode,
    endpoint: &Endpoint,
    subject: &str,
    day: Date,
    uptime: Duration,
) -> Map<String, Value> {
    // Fixture mode stands still; live mode moves every five seconds.
    let tick = if *mode == DataMode::Live { uptime.as_secs() / 5 } else { 0 };
    let mut item = Map::new();
    for field in endpoint.fields {
        let seed = mix(hash_str(field.key) ^ hash_str(endpoint.name) ^ hash_str(subject) ^ day_seed(day));
        let wobble = mix(seed ^ tick);
        let value = live_value(field.key, field.unit, seed, wobble, tick);
        item.insert(field.key.to_string(), Value::String(value));
    }
    item
}

/// The answer of a company (or, with `group`, per-group) statistics endpoint: for the first
/// company (`company` `None`), the document's example in fixture mode; for a company with values
/// of its own (a platform's tenant, by app id), values seeded by its app id, standing still in
/// fixture mode.
pub fn statistics(
    mode: &DataMode,
    endpoint: &Endpoint,
    day: Date,
    group: Option<&str>,
    uptime: Duration,
    company: Option<&str>,
) -> Bytes {
    if *mode == DataMode::Fixtures
        && company.is_none()
        && let Some(fixture) = sobot_fixture(endpoint.name)
    {
        return Bytes::from_static(fixture.as_bytes());
    }
    let group = group.unwrap_or("");
    let subject = company.map_or_else(|| group.to_string(), |c| format!("{c}/{group}"));
    let item = fields(mode, endpoint, &subject, day, uptime);
    Bytes::from(json!({"item": item, "ret_code": "000000", "ret_msg": "成功"}).to_string())
}

/// The rows of a per-agent endpoint for the selected agents; a company with values of its own
/// (`company`, its app id) gets values seeded by it too.
pub fn agent_rows(
    mode: &DataMode,
    endpoint: &Endpoint,
    agents: &[&super::SimAgent],
    day: Date,
    uptime: Duration,
    company: Option<&str>,
) -> Bytes {
    let items: Vec<Value> = agents
        .iter()
        .map(|agent| {
            let subject = company.map_or_else(|| agent.id.clone(), |c| format!("{c}/{}", agent.id));
            let mut row = fields(mode, endpoint, &subject, day, uptime);
            row.insert("serviceid".to_string(), Value::String(agent.id.clone()));
            if endpoint.name == "get_service_data" {
                row.insert("groupid".to_string(), Value::String(agent.group.clone()));
            }
            Value::Object(row)
        })
        .collect();
    Bytes::from(json!({"items": items, "ret_code": "000000", "ret_msg": "成功"}).to_string())
}

/// One page of quality records: `total` records spread over the agents, numbered from 0.
pub fn quality_page(
    source: &QualitySource,
    agents: &[super::SimAgent],
    total: usize,
    day: Date,
    page: usize,
    size: usize,
    uptime: Duration,
) -> Bytes {
    let start = (page - 1).saturating_mul(size).min(total);
    let end = start.saturating_add(size).min(total);
    // Inspections move between agents as time goes on.
    let drift = usize::try_from(uptime.as_secs() / 60).unwrap_or(0) % 3;
    let items: Vec<Value> = (start..end)
        .filter_map(|i| {
            let agent = agents.get((i + drift) % agents.len().max(1))?;
            let seed = mix(i as u64 ^ day_seed(day));
            let values = [
                (format!("{}.0", 60 + seed % 41), "100.0"),
                (format!("{}.0", 40 + seed % 41), "80.0"),
                (format!("{}.0", seed % 11), "10.0"),
                (format!("-{}.0", seed % 6), "-10.0"),
            ];
            let mut record = Map::new();
            record.insert(source.agent_key.to_string(), Value::String(agent.id.clone()));
            record.insert(source.name_key.to_string(), Value::String(agent.name.clone()));
            for ((score_key, max_key), (v, m)) in source.scores.iter().zip(values) {
                record.insert((*score_key).to_string(), Value::String(v));
                record.insert((*max_key).to_string(), Value::String(m.to_string()));
            }
            // Each record its own id (the record number of the day).
            for key in source.record_key {
                record.insert((*key).to_string(), Value::String(format!("{:016x}{i:08x}", day_seed(day))));
            }
            Some(Value::Object(record))
        })
        .collect();
    let body = match source.paging {
        Paging::PageSize => json!({"items": items, "ret_code": "000000", "ret_msg": "查询成功"}),
        Paging::PageCount => json!({
            "items": items,
            "page_count": total.div_ceil(size).max(1),
            "page_no": page,
            "page_size": size,
            "total_count": total,
            "ret_code": "000000",
            "ret_msg": "操作成功"
        }),
    };
    Bytes::from(body.to_string())
}

/// A plausible value in the vendor's string format: counts that grow, ratios and durations that
/// move a little around a per-field level.
fn live_value(key: &str, unit: Unit, seed: u64, wobble: u64, tick: u64) -> String {
    match unit {
        Unit::Count => {
            // Totals large, exceptions (invalid, not received, bad reviews, …) small, so that a
            // dashboard of the demo looks like a day at a contact center.
            let (base, spread, growth) = if [
                "invalid",
                "not_",
                "black",
                "leave",
                "offline",
                "bad",
                "score1",
                "score2",
                "max_meantime",
            ]
            .iter()
            .any(|k| key.contains(k))
            {
                (2, 20, tick / 12)
            } else if ["total", "consult", "message", "word"].iter().any(|k| key.contains(k)) {
                (400, 600, tick * 2)
            } else {
                (40, 200, tick / 2)
            };
            (base + seed % spread + growth + wobble % 3).to_string()
        }
        Unit::Ratio => {
            let basis = 3000 + seed % 6500 + wobble % 300; // hundredths of a percent
            format!("{}.{:02}%", basis / 100, basis % 100)
        }
        Unit::Seconds => {
            let s = 5 + seed % 600 + wobble % 30;
            format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
        }
        Unit::Number => {
            let hundredths = 100 + seed % 400 + wobble % 20;
            format!("{}.{:02}", hundredths / 100, hundredths % 100)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sobot::endpoints::ENDPOINTS;
    use crate::value::{Parsed, parse_str};

    #[test]
    fn every_endpoint_has_a_fixture_and_its_values_parse() {
        let mut missing = Vec::new();
        for ep in ENDPOINTS {
            let fixture = sobot_fixture(ep.name).unwrap_or_else(|| panic!("{} has no fixture", ep.name));
            let body: Value = serde_json::from_str(fixture).expect("fixture is JSON");
            let item = match ep.rows {
                crate::sobot::endpoints::Rows::Item => &body["item"],
                crate::sobot::endpoints::Rows::Items(_) => &body["items"][0],
            };
            for f in ep.fields {
                match item[f.key].as_str() {
                    Some(raw) => {
                        assert!(matches!(parse_str(raw, f.unit), Parsed::Value(_)), "{}.{}", ep.name, f.key)
                    }
                    None => missing.push((ep.name, f.key)),
                }
            }
        }
        // The document's example of §2.5 omits one field of its own table.
        assert_eq!(missing, [("human_satisfaction", "invite_counts")]);
        for source in crate::collect::quality::QUALITY_SOURCES {
            let fixture =
                sobot_fixture(source.name).unwrap_or_else(|| panic!("{} has no fixture", source.name));
            let body: Value = serde_json::from_str(fixture).expect("fixture is JSON");
            for (score, max) in source.scores {
                assert!(
                    body["items"][0][score].is_string() && body["items"][0][max].is_string(),
                    "{}",
                    source.name
                );
            }
        }
    }

    #[test]
    fn live_values_parse_and_move() {
        for ep in ENDPOINTS {
            let day = jiff::civil::date(2026, 11, 23);
            let a = statistics(&DataMode::Live, ep, day, None, Duration::from_secs(0), None);
            let b = statistics(&DataMode::Live, ep, day, None, Duration::from_secs(600), None);
            assert_ne!(a, b, "{} does not move", ep.name);
            let body: Value = serde_json::from_slice(&a).expect("JSON");
            for f in ep.fields {
                let raw = body["item"][f.key].as_str().unwrap_or("");
                assert!(matches!(parse_str(raw, f.unit), Parsed::Value(_)), "{}.{} = {raw}", ep.name, f.key);
            }
        }
    }

    #[test]
    fn a_company_of_its_own_stands_still_and_differs() {
        let day = jiff::civil::date(2026, 11, 23);
        let ep = ENDPOINTS.iter().find(|e| e.name == "robot_session").expect("robot_session");
        let zero = Duration::from_secs(0);
        let first = statistics(&DataMode::Fixtures, ep, day, None, zero, None);
        assert_eq!(first, Bytes::from_static(sobot_fixture("robot_session").unwrap_or("").as_bytes()));
        let a = statistics(&DataMode::Fixtures, ep, day, None, zero, Some("app-a"));
        let later = statistics(&DataMode::Fixtures, ep, day, None, Duration::from_secs(600), Some("app-a"));
        let b = statistics(&DataMode::Fixtures, ep, day, None, zero, Some("app-b"));
        assert_eq!(a, later, "fixture mode stands still");
        assert_ne!(a, b);
        assert_ne!(a, first);
        assert_ne!(company_agents("app-a"), company_agents("app-b"));
        assert_eq!(company_agents("app-a"), company_agents("app-a"));
    }
}
