//! The Laaffic side of the simulator: the seat query, with the Sign, Timestamp and paging checks.

use bytes::Bytes;
use hyper::StatusCode;
use jiff::civil::{Date, DateTime};
use serde_json::{Value, json};

use super::day::{self, Shift, SimNow};
use super::{Call, DataMode, State, data};
use sobot_exporter_core::sign::laaffic_sign;
use sobot_exporter_core::table::DateFormat;

/// How far the `Timestamp` header may be from the simulator's clock (`-16` beyond).
const CLOCK_SKEW_S: i64 = 300;

/// Answers a seat query: `(HTTP status, status code, body)`.
pub(super) fn answer(state: &State, call: &Call) -> (StatusCode, String, Bytes) {
    match check(state, call) {
        Ok(body) => (StatusCode::OK, "0".to_string(), body),
        Err(code) => (StatusCode::OK, code.to_string(), error_body(code)),
    }
}

/// The error envelope of a status code.
pub(super) fn error_body(code: &str) -> Bytes {
    Bytes::from(json!({"status": code, "reason": reason(code), "data": null}).to_string())
}

fn reason(code: &str) -> &'static str {
    match code {
        "-1" => "帳號認證異常",
        "-16" => "時間戳過期",
        "-22" => "參數異常",
        "-35" => "搜索時間區間不能大於32天",
        _ => "系統異常",
    }
}

fn check(state: &State, call: &Call) -> Result<Bytes, &'static str> {
    let config = &state.config;
    let [Some(key), Some(timestamp), Some(sign)] = &call.laaffic_headers else {
        return Err("-1");
    };
    let ts: i64 = timestamp.parse().map_err(|_| "-16")?;
    if (super::now(state).as_second() - ts).abs() > CLOCK_SKEW_S {
        return Err("-16");
    }
    if key != config.laaffic_api_key.expose()
        || *sign != laaffic_sign(key, config.laaffic_api_secret.expose(), timestamp)
    {
        return Err("-1");
    }
    let body = call.json.as_ref().ok_or("-22")?;
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let current = body.get("current").and_then(number).filter(|c| *c >= 1).ok_or("-22")?;
    let size = body.get("size").and_then(number).filter(|s| (1..=100).contains(s)).ok_or("-22")?;
    let params = body.get("params").filter(|p| p.is_object()).ok_or("-22")?;
    let time = |key: &str| {
        params
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| s.len() == 19)
            .and_then(|s| DateTime::strptime("%Y-%m-%d %H:%M:%S", s).ok())
            .ok_or("-22")
    };
    let (start, end) = (time("strTime")?, time("endTime")?);
    if start > end {
        return Err("-22");
    }
    let span = start.until(end).map_err(|_| "-22")?;
    if span.total(jiff::Unit::Second).map_err(|_| "-22")? > 32.0 * 86_400.0 {
        return Err("-35");
    }
    let seats = config.laaffic_seats;
    if seats == 0 {
        return Ok(Bytes::from_static(data::LAAFFIC_FIXTURE.as_bytes()));
    }
    let (current, size) =
        (usize::try_from(current).unwrap_or(usize::MAX), usize::try_from(size).unwrap_or(100));
    let now = super::sim_now(state).until(day::range_end(start, end, DateFormat::Second));
    Ok(seat_page(&config.data, seats, (current, size), start.date(), &now))
}

/// Calls per hour of a seat at the peak of the demand curve, while logged in (a third to
/// nine tenths more for the busier ones).
const CALLS_PER_PEAK_HOUR: u64 = 120;

/// One page (`current`, `size`) of `seats` simulated seats in groups of eight, for `day`. In
/// live mode the seats of a group take their offs in turn (status offline), their calls grow
/// with the simulated day while logged in, and their status changes every two simulated minutes.
/// A past day's calls (in either mode) are those of its simulated day up to the end of the range
/// (`endTime` inclusive), [`day::day_factor`] of the curve's.
pub(super) fn seat_page(
    mode: &DataMode,
    seats: usize,
    (current, size): (usize, usize),
    day: Date,
    now: &SimNow,
) -> Bytes {
    let live = *mode == DataMode::Live;
    let start = (current - 1).saturating_mul(size).min(seats);
    let end = start.saturating_add(size).min(seats);
    let records: Vec<Value> = (start..end)
        .map(|i| {
            let seed = data::mix(i as u64);
            let group = 1_000_001 + i / 8;
            let team = (seats - i / 8 * 8).min(8);
            let shift = Shift::of_team(i % 8, team, (i / 8) as u64 * 5 * 3600);
            let calls = if live || now.settled(day) {
                let busier = 100 + data::mix(seed ^ day_seed(day) ^ now.seed_of(day)) % 90;
                let demand = shift.demand_until(now.second_of(day));
                let calls = CALLS_PER_PEAK_HOUR * busier * demand / 360_000_000;
                if now.settled(day) { calls * day::day_factor(day) / 1000 } else { calls }
            } else {
                10 + seed % 90
            };
            let status = if !live {
                data::mix(seed) % 5 + 1
            } else if shift.online(now.second) {
                data::mix(seed ^ u64::from(now.second / 120)) % 4 + 2
            } else {
                1
            };
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
                "status": status.to_string(),
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

/// A day's seed, as the Sobot figures' (a day of their own each).
fn day_seed(day: Date) -> u64 {
    u64::try_from(day.day_of_year()).unwrap_or(0) + 1000 * u64::try_from(day.year()).unwrap_or(0)
}
