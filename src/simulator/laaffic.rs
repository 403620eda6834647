//! The Laaffic side of the simulator: the seat query, with the Sign, Timestamp and paging checks.

use bytes::Bytes;
use hyper::StatusCode;
use jiff::civil::DateTime;
use serde_json::{Value, json};

use super::{Call, State, data};
use crate::sign::laaffic_sign;

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
    Ok(data::seat_page(&config.data, seats, current, size, state.started.elapsed()))
}
