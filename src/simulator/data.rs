//! What the simulator answers with: the documents' example payloads, or moving values.

use std::time::Duration;

use bytes::Bytes;
use jiff::civil::Date;
use serde_json::{Map, Value, json};

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
        _ => return None,
    })
}

/// SplitMix64: a tiny, good-enough mixer for deterministic pseudo-random values.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The answer of a statistics endpoint for the day starting at `day`.
pub fn statistics(mode: &DataMode, endpoint: &Endpoint, day: Date, uptime: Duration) -> Bytes {
    if *mode == DataMode::Fixtures
        && let Some(fixture) = sobot_fixture(endpoint.name)
    {
        return Bytes::from_static(fixture.as_bytes());
    }
    let tick = uptime.as_secs() / 5;
    let day_seed = u64::try_from(day.day_of_year()).unwrap_or(0)
        + 1000 * u64::try_from(day.year()).unwrap_or(0);
    let mut item = Map::new();
    for field in endpoint.fields {
        let seed = mix(hash_str(field.key) ^ hash_str(endpoint.name) ^ day_seed);
        let wobble = mix(seed ^ tick);
        item.insert(
            field.key.to_string(),
            Value::String(live_value(field.unit, seed, wobble, tick)),
        );
    }
    Bytes::from(json!({"item": item, "ret_code": "000000", "ret_msg": "成功"}).to_string())
}

/// A plausible value in the vendor's string format: counts that grow, ratios and durations that
/// move a little around a per-field level.
fn live_value(unit: Unit, seed: u64, wobble: u64, tick: u64) -> String {
    match unit {
        Unit::Count => (20 + seed % 400 + tick / 2 + wobble % 3).to_string(),
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
            let fixture =
                sobot_fixture(ep.name).unwrap_or_else(|| panic!("{} has no fixture", ep.name));
            let body: Value = serde_json::from_str(fixture).expect("fixture is JSON");
            for f in ep.fields {
                match body["item"][f.key].as_str() {
                    Some(raw) => assert!(
                        matches!(parse_str(raw, f.unit), Parsed::Value(_)),
                        "{}.{}",
                        ep.name,
                        f.key
                    ),
                    None => missing.push((ep.name, f.key)),
                }
            }
        }
        // The document's example of §2.5 omits one field of its own table.
        assert_eq!(missing, [("human_satisfaction", "invite_counts")]);
    }

    #[test]
    fn live_values_parse_and_move() {
        for ep in ENDPOINTS {
            let day = jiff::civil::date(2026, 11, 23);
            let a = statistics(&DataMode::Live, ep, day, Duration::from_secs(0));
            let b = statistics(&DataMode::Live, ep, day, Duration::from_secs(600));
            assert_ne!(a, b, "{} does not move", ep.name);
            let body: Value = serde_json::from_slice(&a).expect("JSON");
            for f in ep.fields {
                let raw = body["item"][f.key].as_str().unwrap_or("");
                assert!(
                    matches!(parse_str(raw, f.unit), Parsed::Value(_)),
                    "{}.{} = {raw}",
                    ep.name,
                    f.key
                );
            }
        }
    }
}
