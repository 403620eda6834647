//! The Sobot side of the simulator: get_token and the statistics endpoints of the table.

use bytes::Bytes;
use hyper::StatusCode;
use jiff::civil::{Date, DateTime};
use serde_json::json;
use tokio::time::Instant;

use super::{Call, State, data, day, lock};
use sobot_exporter_core::sign::sobot_token_sign;
use sobot_exporter_core::sources::sobot::endpoints::{Endpoint, Rows};
use sobot_exporter_core::sources::sobot::quality::{Paging, QUALITY_SOURCES, QualitySource};
use sobot_exporter_core::sources::sobot::stats::MAX_IDS_PER_REQUEST;
use sobot_exporter_core::table::DateFormat;

/// The documented message of a result code.
pub(super) fn message(code: &str) -> &'static str {
    match code {
        "000000" => "操作成功",
        "910001" | "900001" => "token为空",
        "900002" => "token已失效,请重新获取",
        "910002" => "token已失效,请重新获取",
        "910003" => "signature错误",
        "910004" => "没有找到公司的api配置信息",
        "210003" => "传入日期为空",
        "210005" => "日期传入错误",
        "210006" => "参数信息传入错误",
        "210007" => "groupids或serviceids传参异常,长度超限",
        "210017" => "每分钟调用次数达到限制",
        _ => "系统未知异常",
    }
}

/// A documented error envelope.
pub(super) fn error_body(code: &str) -> Bytes {
    Bytes::from(json!({"ret_code": code, "ret_msg": message(code)}).to_string())
}

/// Answers a call: `(HTTP status, result code, body)`.
pub(super) fn answer(state: &State, call: &Call) -> (StatusCode, String, Bytes) {
    let outcome = if call.path == "/api/get_token" {
        get_token(state, call)
    } else if let Some(ep) = Endpoint::by_name(&call.endpoint).filter(|e| e.path == call.path) {
        statistics(state, call, ep)
    } else if let Some(source) = QUALITY_SOURCES.iter().find(|q| q.path == call.path) {
        quality(state, call, source)
    } else {
        let body = Bytes::from_static(b"not found");
        return (StatusCode::NOT_FOUND, "http_404".to_string(), body);
    };
    match outcome {
        Ok(body) => (StatusCode::OK, "000000".to_string(), body),
        Err(code) => (StatusCode::OK, code.to_string(), error_body(code)),
    }
}

fn get_token(state: &State, call: &Call) -> Result<Bytes, &'static str> {
    let config = &state.config;
    let (Some(appid), Some(create_time), Some(sign)) =
        (call.param("appid"), call.param("create_time"), call.param("sign"))
    else {
        return Err("210006");
    };
    let mut tokens = lock(&state.tokens);
    let Some(company) = tokens.companies.get(appid) else {
        return Err("910004");
    };
    if in_outage(state, appid) {
        // The tenant's outage: its key refused, as after a key change upstream.
        return Err("910003");
    }
    if !create_time.bytes().all(|b| b.is_ascii_digit())
        || sign != sobot_token_sign(appid, create_time, company.key.expose())
    {
        return Err("910003");
    }
    tokens.issued += 1;
    let token = if tokens.issued == 1 && config.data == data::DataMode::Fixtures {
        // The document's example token, then fresh ones.
        "4ac37cb2e9c740dba4b75a34d5358802".to_string()
    } else {
        let seed = data::mix(tokens.issued ^ state.started.elapsed().as_nanos() as u64);
        format!("{:016x}{:016x}", seed, data::mix(seed))
    };
    // Every call returns a new token; the company's previous one stops working.
    let expires = Instant::now() + config.token_lifetime;
    if let Some(company) = tokens.companies.get_mut(appid) {
        company.issued += 1;
        company.current = Some((token.clone(), expires));
    }
    Ok(Bytes::from(
        json!({
            "item": {"token": token, "expires_in": config.token_lifetime.as_secs().to_string()},
            "ret_code": "000000",
            "ret_msg": "操作成功"
        })
        .to_string(),
    ))
}

fn statistics(state: &State, call: &Call, endpoint: &Endpoint) -> Result<Bytes, &'static str> {
    rate_limit(state, call)?;
    check_token(state, call, "910001", "910002")?;
    if call.body_error {
        return Err("210006");
    }
    let (day, end_s) = check_dates(call, ("start_date", "end_date"), endpoint.date_format)?;
    let mut filters = Vec::new();
    let rejected = lock(&state.rejected_group).clone();
    for key in ["groupids", "serviceids"] {
        if let Some(ids) = call.param(key) {
            let ids: Vec<&str> = ids.split(',').filter(|s| !s.is_empty()).collect();
            if ids.len() > MAX_IDS_PER_REQUEST {
                return Err("210007");
            }
            if key == "groupids" && rejected.as_deref().is_some_and(|g| ids.contains(&g)) {
                return Err("210006");
            }
            filters.push((key, ids));
        }
    }
    let now = super::sim_now(state).until(end_s);
    let mode = &state.config.data;
    let own = own_values(state, call);
    let by = |key: &str| filters.iter().find(|(k, _)| *k == key).map(|(_, ids)| ids.clone());
    let mut agents = lock(&state.agents).clone();
    if let Some(app_id) = &own
        && agents.is_empty()
    {
        agents = data::company_agents(app_id);
    }
    match endpoint.rows {
        Rows::Item => {
            // The company's and groups' figures are their agents' summed.
            let group = by("groupids").map(|ids| ids.join(","));
            Ok(data::statistics(mode, endpoint, day, group.as_deref(), &now, own.as_deref(), &agents))
        }
        Rows::Items(_) => {
            if agents.is_empty() {
                return Ok(data::fixture_or_empty(endpoint.name));
            }
            // serviceids wins over groupids, as the document of human_duration says.
            let selected: Vec<&super::SimAgent> = match (by("serviceids"), by("groupids")) {
                (Some(ids), _) => agents.iter().filter(|a| ids.contains(&a.id.as_str())).collect(),
                (None, Some(groups)) => {
                    agents.iter().filter(|a| groups.contains(&a.group.as_str())).collect()
                }
                (None, None) => agents.iter().collect(),
            };
            Ok(data::agent_rows(mode, endpoint, (&agents, &selected), day, &now, own.as_deref()))
        }
    }
}

/// The app id of the caller's company if its statistics are its own (a platform's tenant).
fn own_values(state: &State, call: &Call) -> Option<String> {
    let tokens = lock(&state.tokens);
    let owner = tokens.owner(call.token.as_deref()?)?;
    tokens.companies.get(owner).filter(|c| c.own_values).map(|_| owner.to_string())
}

fn quality(state: &State, call: &Call, source: &QualitySource) -> Result<Bytes, &'static str> {
    rate_limit(state, call)?;
    // The quality API has its own codes for token errors.
    if source.path.starts_with("/api/interceptor/") {
        check_token(state, call, "900001", "900002")?;
    } else {
        check_token(state, call, "910001", "910002")?;
        if call.body_error {
            return Err("210006");
        }
    }
    let (day, end_s) = check_dates(call, (source.dates.0, source.dates.1), source.dates.2)?;
    let (page_key, size_key) = match source.paging {
        Paging::PageSize => ("page", "size"),
        Paging::PageCount => ("page_no", "page_size"),
    };
    let number = |key: &str| call.param(key).and_then(|v| v.parse::<usize>().ok());
    let (Some(page), Some(size)) = (number(page_key), number(size_key)) else {
        return Err("210006");
    };
    if page == 0 || size == 0 || size > 10_000 {
        return Err("210006");
    }
    let agents = lock(&state.agents).clone();
    if agents.is_empty() {
        return Ok(data::fixture_or_empty(source.name));
    }
    let (records, uptime) = (state.config.quality_records, state.started.elapsed());
    let now = super::sim_now(state).until(end_s);
    Ok(data::quality_page(source, &agents, records, day, (page, size), uptime, &now))
}

/// The documented limit is per company: calls are counted per token owner in fixed minutes.
fn rate_limit(state: &State, call: &Call) -> Result<(), &'static str> {
    let owner = call.token.as_deref().and_then(|t| lock(&state.tokens).owner(t).map(str::to_string));
    let mut minutes = lock(&state.minute);
    let minute = minutes.entry(owner.unwrap_or_default()).or_insert_with(|| (Instant::now(), 0));
    if minute.0.elapsed().as_secs() >= 60 {
        *minute = (Instant::now(), 0);
    }
    minute.1 += 1;
    if minute.1 > state.config.rate_limit_per_minute { Err("210017") } else { Ok(()) }
}

fn check_token(
    state: &State,
    call: &Call,
    missing: &'static str,
    expired: &'static str,
) -> Result<(), &'static str> {
    let Some(token) = call.token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(missing);
    };
    let tokens = lock(&state.tokens);
    let valid = tokens.companies.iter().any(|(id, c)| {
        !c.always_expired
            && !in_outage(state, id)
            && c.current
                .as_ref()
                .is_some_and(|(current, expires)| current == token && Instant::now() < *expires)
    });
    if valid { Ok(()) } else { Err(expired) }
}

/// Whether the company `app_id` is the tenant with outages and in one now.
fn in_outage(state: &State, app_id: &str) -> bool {
    state.config.outages.as_deref() == Some(app_id) && super::sim_now(state).outage()
}

/// Checks the start and end dates against the endpoint's format; returns the start day and where
/// the range ends in it ([`day::range_end`]: the end hour is inclusive).
fn check_dates(call: &Call, keys: (&str, &str), format: DateFormat) -> Result<(Date, u32), &'static str> {
    let (Some(start), Some(end)) = (call.param(keys.0), call.param(keys.1)) else {
        return Err("210003");
    };
    let (start, end) = (parse_date(start, format)?, parse_date(end, format)?);
    if start > end {
        return Err("210005");
    }
    Ok((start.date(), day::range_end(start, end, format)))
}

fn parse_date(s: &str, format: DateFormat) -> Result<DateTime, &'static str> {
    let parsed = match format {
        DateFormat::Hour if s.len() == 13 => DateTime::strptime("%Y-%m-%d %H", s).ok(),
        DateFormat::Day if s.len() == 10 => Date::strptime("%Y-%m-%d", s).ok().map(|d| d.at(0, 0, 0, 0)),
        DateFormat::Second if s.len() == 19 => DateTime::strptime("%Y-%m-%d %H:%M:%S", s).ok(),
        _ => None,
    };
    parsed.ok_or("210005")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn date_formats_are_strict() {
        assert!(parse_date("2019-08-01 01", DateFormat::Hour).is_ok());
        assert!(parse_date("2019-08-01", DateFormat::Hour).is_err());
        assert!(parse_date("2019-08-01 1", DateFormat::Hour).is_err());
        assert!(parse_date("2019-08-01", DateFormat::Day).is_ok());
        assert!(parse_date("2019-08-01 01", DateFormat::Day).is_err());
        assert!(parse_date("2019-13-01", DateFormat::Day).is_err());
        assert!(parse_date("2019-08-01 00:00:00", DateFormat::Second).is_ok());
        assert!(parse_date("2019-08-01", DateFormat::Second).is_err());
        let body: Value = serde_json::from_slice(&error_body("210005")).expect("JSON");
        assert_eq!(body["ret_code"], "210005");
    }
}
