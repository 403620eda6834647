//! The platform side of the simulator: getTenantList, getBatchAppKey, tenantStaffJobList and
//! getStaffLogInfos, each with its own parameter spelling, signature formula and `ts` unit, and
//! the limit of 20 calls a minute per endpoint. getStaffLogInfos answers each staff's log
//! ([`crate::staff`]) within the document's four cases of `startTime`/`endTime`, up to the
//! simulator's clock; without tenants, the document's example whatever the range.
//!
//! The document names no codes for a wrong signature, an unknown union code or the rate limit;
//! the simulator answers with the statistics API's codes for the same conditions, in the
//! endpoint's own envelope (`retCode` where the document's table says so, `ret_code` where the
//! table of getBatchAppKey and tenantStaffJobList says so):
//!
//! | code | when |
//! |---|---|
//! | `210006` | a required parameter missing (or spelled as another endpoint spells it), a bad `openStatus`, page or time (`startTime`/`endTime` not whole milliseconds since 1970) |
//! | `210003`, `210005` | tenantStaffJobList: a date missing, or not `yyyy-MM-dd`, or start after end |
//! | `910004` | the `unionCode` is not the platform's |
//! | `910003` | the token or sign does not match, the email is not the platform's, or `ts` is more than five minutes off in the endpoint's unit (a `ts` in seconds where milliseconds are due is) |
//! | `210017` | more than 20 calls to the endpoint in the last 60 seconds (the statistics API's code for its per-minute limit; the platform document states the limit of 20 only as chatIndexPage's `status` 4, an envelope these endpoints do not use) |

use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::data::{DataMode, hash_str, mix};
use super::day::{self, SimNow};
use super::staff::{staff_ids, staff_log};
use super::{Call, State, lock};
use sobot_exporter_core::secret::Secret;
use sobot_exporter_core::sign::{platform_email_token, platform_sign};
use sobot_exporter_core::sources::platform::{
    BATCH_APP_KEY, CALLS_PER_MINUTE, ENDPOINTS, PlatformEndpoint, STAFF_JOB_LIST, STAFF_LOG_INFOS,
    TENANT_LIST,
};

/// A simulated e-commerce platform: its credentials and its tenants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPlatform {
    /// The `unionCode` it accepts.
    pub union_code: String,
    /// The super-admin email getTenantList's token is made with.
    pub email: String,
    /// The `unionKey` it checks tokens and signs with.
    pub union_key: Secret,
    /// Its tenants; empty: every endpoint answers the document's example, and the example
    /// tenants of getBatchAppKey are the companies.
    pub tenants: Vec<SimTenant>,
}

/// A tenant of the simulated platform, a simulator company of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTenant {
    /// `companyId`.
    pub company_id: String,
    /// `companyName`.
    pub company_name: String,
    /// `appId`, its company's id for `/api/get_token`.
    pub app_id: String,
    /// `appKey` as the platform lists it.
    pub app_key: Secret,
    /// The key get_token accepts when it is not the listed one (a tenant whose listed key is
    /// wrong); `None`: the listed key.
    pub accepted_key: Option<Secret>,
}

/// A platform of `tenants` tenants with stable ids, names and keys (`unionCode` `10004`, the
/// document's).
pub fn sim_platform(tenants: usize) -> SimPlatform {
    let hex = |seed: u64| format!("{:016x}{:016x}", mix(seed), mix(seed ^ 0x5555));
    SimPlatform {
        union_code: "10004".to_string(),
        email: "admin@platform.example".to_string(),
        union_key: Secret::new("SimUnionKey-4e1b"),
        tenants: (0..tenants as u64)
            .map(|i| SimTenant {
                company_id: hex(3_000_000 + i),
                company_name: format!("商户{:03} Tenant {:03}", i + 1, i + 1),
                app_id: hex(4_000_000 + i),
                app_key: Secret::new(format!("key{:012x}", mix(5_000_000 + i) >> 16)),
                accepted_key: None,
            })
            .collect(),
    }
}

/// The platform's tenants at start: the configured ones, or the document's example tenants of
/// getBatchAppKey.
pub(super) fn tenants(platform: &SimPlatform) -> Vec<SimTenant> {
    if !platform.tenants.is_empty() {
        return platform.tenants.clone();
    }
    let Ok(body) = serde_json::from_str::<Value>(BATCH_APP_KEY_FIXTURE) else {
        return Vec::new();
    };
    let text = |row: &Value, key: &str| row.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let rows = body.get("10004").and_then(|e| e.get("data")).and_then(Value::as_array);
    rows.into_iter()
        .flatten()
        .map(|row| SimTenant {
            company_id: text(row, "companyId"),
            company_name: text(row, "companyName"),
            app_id: text(row, "appId"),
            app_key: Secret::new(text(row, "appKey")),
            accepted_key: None,
        })
        .collect()
}

const TENANT_LIST_FIXTURE: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/platform/get_tenant_list.json"));
/// The document's example without its trailing comma after the last entry of `data`.
const BATCH_APP_KEY_FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/platform/get_batch_app_key.json"
));
const STAFF_JOB_LIST_FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/platform/tenant_staff_job_list.json"
));
const STAFF_LOG_INFOS_FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/platform/get_staff_log_infos.json"
));

/// How far `ts` may be from the simulator's clock.
const TS_SKEW: Duration = Duration::from_secs(300);
/// The window of the per-endpoint limit.
const LIMIT_WINDOW: Duration = Duration::from_secs(60);
/// One week in milliseconds: getStaffLogInfos' longest range.
const WEEK_MS: i64 = 7 * 86_400_000;

fn message(code: &str) -> &'static str {
    match code {
        "210017" => "接口调用频率超过限制,目前的上限是每分钟调用 20 次",
        "910003" => "token 校验异常",
        "910004" => "unionCode 异常",
        other => super::sobot::message(other),
    }
}

/// Answers a platform call: `(HTTP status, result code, body)`.
pub(super) fn answer(state: &State, call: &Call) -> (StatusCode, String, Bytes) {
    let Some(endpoint) = ENDPOINTS.iter().find(|e| e.path == call.path) else {
        return (StatusCode::NOT_FOUND, "http_404".to_string(), Bytes::from_static(b"not found"));
    };
    let method = if *endpoint == STAFF_LOG_INFOS { hyper::Method::GET } else { hyper::Method::POST };
    if call.method != method {
        let body = Bytes::from_static(b"method not allowed");
        return (StatusCode::METHOD_NOT_ALLOWED, "http_405".to_string(), body);
    }
    match check(state, call, endpoint) {
        Ok(body) => (StatusCode::OK, endpoint.ok_code.to_string(), body),
        Err(code) => (StatusCode::OK, code.to_string(), error_body(&call.path, code)),
    }
}

/// The error envelope of the endpoint at `path` (its table's spelling), with `code`.
pub(super) fn error_body(path: &str, code: &str) -> Bytes {
    let snake = [BATCH_APP_KEY.path, STAFF_JOB_LIST.path].contains(&path);
    let body = if snake {
        json!({"ret_code": code, "ret_msg": message(code)})
    } else {
        json!({"retCode": code, "retMsg": message(code)})
    };
    Bytes::from(body.to_string())
}

/// A parameter as a string: from the JSON body of a POST, from the query of a GET.
fn param(call: &Call, key: &str) -> Option<String> {
    if call.method == hyper::Method::GET {
        return call.param(key).map(str::to_string);
    }
    match call.json.as_ref()?.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn check(state: &State, call: &Call, endpoint: &PlatformEndpoint) -> Result<Bytes, &'static str> {
    rate_limit(state, endpoint)?;
    let platform = state.config.platform.as_ref().ok_or("910004")?;
    if call.method == hyper::Method::POST && (call.body_error || call.json.is_none()) {
        return Err("210006");
    }
    let snake = *endpoint == STAFF_JOB_LIST;
    let with_token = matches!(*endpoint, TENANT_LIST | STAFF_LOG_INFOS);
    let required = |key: &str| param(call, key).filter(|v| !v.trim().is_empty()).ok_or("210006");
    let union = required(if snake { "union_code" } else { "unionCode" })?;
    let ts = required("ts")?;
    let signature = required(if with_token { "token" } else { "sign" })?;
    let email = if *endpoint == TENANT_LIST { Some(required("email")?) } else { None };
    if union != platform.union_code {
        return Err("910004");
    }
    // getTenantList and getStaffLogInfos sign a ts in milliseconds, the others in seconds.
    let now = super::now(state);
    let (now, skew) = if with_token {
        (now.as_millisecond(), i64::try_from(TS_SKEW.as_millis()).unwrap_or(i64::MAX))
    } else {
        (now.as_second(), i64::try_from(TS_SKEW.as_secs()).unwrap_or(i64::MAX))
    };
    let sent: i64 = ts.parse().map_err(|_| "910003")?;
    if (now - sent).abs() > skew {
        return Err("910003");
    }
    let key = platform.union_key.expose();
    let expected = match &email {
        Some(email) => platform_email_token(&union, &ts, email, key),
        None => platform_sign(&union, &ts, key),
    };
    if signature != expected || email.is_some_and(|e| e != platform.email) {
        return Err("910003");
    }
    let fixtures = platform.tenants.is_empty();
    let tenants = lock(&state.tenants).clone();
    let tick = |period: u64| match state.config.data {
        DataMode::Live => state.started.elapsed().as_secs() / period,
        DataMode::Fixtures => 0,
    };
    match *endpoint {
        TENANT_LIST => tenant_list(call, &tenants, fixtures, tick(60)),
        BATCH_APP_KEY => Ok(batch_app_key(&platform.union_code, &tenants, fixtures)),
        STAFF_JOB_LIST => {
            let now = super::sim_now(state);
            staff_job_list(call, &tenants, fixtures, (state.config.data == DataMode::Live).then_some(&now))
        }
        _ => staff_log_infos(call, &tenants, fixtures, super::now(state)),
    }
}

/// At most [`CALLS_PER_MINUTE`] calls of an endpoint in any 60 seconds; a call turned away does
/// not count.
fn rate_limit(state: &State, endpoint: &PlatformEndpoint) -> Result<(), &'static str> {
    let mut calls = lock(&state.platform_calls);
    let window = calls.entry(endpoint.label).or_default();
    let now = Instant::now();
    while window.front().is_some_and(|t| now.duration_since(*t) >= LIMIT_WINDOW) {
        window.pop_front();
    }
    if window.len() >= CALLS_PER_MINUTE {
        return Err("210017");
    }
    window.push_back(now);
    Ok(())
}

/// A whole number parameter, `default` when absent, within `range`.
fn number(
    call: &Call,
    key: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, &'static str> {
    match param(call, key) {
        None => Ok(default),
        Some(v) => v.trim().parse().ok().filter(|n| range.contains(n)).ok_or("210006"),
    }
}

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap_or(TimeZone::UTC)
}

/// A tenant's values: its seed.
fn seed(company_id: &str) -> u64 {
    mix(hash_str(company_id))
}

fn tenant_list(call: &Call, tenants: &[SimTenant], fixtures: bool, tick: u64) -> Result<Bytes, &'static str> {
    let open = param(call, "openStatus").ok_or("210006")?;
    let want: Option<bool> = match open.trim() {
        "-1" => None,
        "1" => Some(true),
        "0" => Some(false),
        _ => return Err("210006"),
    };
    let page = number(call, "pageNo", 1, 1..=100_000)?;
    let size = number(call, "pageSize", 10, 1..=1000)?;
    if fixtures {
        if page == 1 {
            return Ok(Bytes::from_static(TENANT_LIST_FIXTURE.as_bytes()));
        }
        let body = json!({"pageNo": page, "pageCount": 1, "totalCount": 3, "pageSize": size, "items": [],
                          "item": null, "retCode": "200000", "retMsg": "成功"});
        return Ok(Bytes::from(body.to_string()));
    }
    let today = jiff::Timestamp::now().to_zoned(shanghai()).date();
    let rows: Vec<Value> = tenants
        .iter()
        .map(|t| tenant_row(t, today, tick))
        .filter(|row| want.is_none_or(|w| row.get("tenantStatus") == Some(&Value::Bool(w))))
        .collect();
    let total = rows.len();
    let items: Vec<Value> = rows.into_iter().skip((page - 1).saturating_mul(size)).take(size).collect();
    let body = json!({
        "pageNo": page,
        "pageCount": total.div_ceil(size),
        "totalCount": total,
        "pageSize": size,
        "items": items,
        "item": null,
        "retCode": "200000",
        "retMsg": "成功"
    });
    Ok(Bytes::from(body.to_string()))
}

/// One tenant as getTenantList lists it; one in four ends its term within seven weeks.
fn tenant_row(tenant: &SimTenant, today: Date, tick: u64) -> Value {
    let seed = seed(&tenant.company_id);
    let agents = 1 + seed % 40 + mix(seed ^ tick) % 3;
    let max = agents + 5 + (seed >> 8) % 30;
    let end = if (seed >> 24).is_multiple_of(4) {
        let days = i64::try_from(3 + (seed >> 32) % 50).unwrap_or(30);
        today.checked_add(jiff::Span::new().days(days)).unwrap_or(today).strftime("%Y-%m-%d").to_string()
    } else {
        "2099-12-31".to_string()
    };
    json!({
        "companyId": tenant.company_id,
        "companyName": tenant.company_name,
        "email": format!("{}@tenant.example", tenant.company_id.get(..8).unwrap_or("tenant")),
        "contactTel": "13100000000",
        "contactName": "",
        "serviceNum": agents,
        "maxServiceCount": max,
        "createTime": "2018-08-29",
        "endTime": end,
        "tenantStatus": !(seed >> 16).is_multiple_of(8),
        "appKey": tenant.app_key.expose(),
        "services": null,
        "customerCode": null,
        "provinceId": null,
        "cityId": null,
        "areaId": null
    })
}

fn batch_app_key(union_code: &str, tenants: &[SimTenant], fixtures: bool) -> Bytes {
    let data: Vec<Value> = if fixtures {
        // The document's example, nested under this platform's union code.
        serde_json::from_str::<Value>(BATCH_APP_KEY_FIXTURE)
            .ok()
            .and_then(|mut body| body.get_mut("10004").map(|e| e["data"].take()))
            .and_then(|data| data.as_array().cloned())
            .unwrap_or_default()
    } else {
        tenants
            .iter()
            .map(|t| {
                json!({"appId": t.app_id, "appKey": t.app_key.expose(), "companyId": t.company_id,
                       "companyName": t.company_name})
            })
            .collect()
    };
    let time = jiff::Timestamp::now().to_zoned(shanghai()).strftime("%Y-%m-%d %H:%M:%S").to_string();
    let mut body = Map::new();
    body.insert(union_code.to_string(), json!({"data": data, "time": time}));
    body.insert("retCode".to_string(), json!("000000"));
    body.insert("retMsg".to_string(), json!("操作成功"));
    Bytes::from(Value::Object(body).to_string())
}

/// The staff's figures of the day asked for; in live mode (`now`) they grow with the simulated
/// day and start again at its midnight.
fn staff_job_list(
    call: &Call,
    tenants: &[SimTenant],
    fixtures: bool,
    now: Option<&SimNow>,
) -> Result<Bytes, &'static str> {
    let date = |key: &str| -> Result<Date, &'static str> {
        let raw = param(call, key).filter(|v| !v.trim().is_empty()).ok_or("210003")?;
        (raw.len() == 10).then(|| Date::strptime("%Y-%m-%d", &raw).ok()).flatten().ok_or("210005")
    };
    let (start, end) = (date("start_date")?, date("end_date")?);
    if start > end {
        return Err("210005");
    }
    if fixtures {
        return Ok(Bytes::from_static(STAFF_JOB_LIST_FIXTURE.as_bytes()));
    }
    let day =
        u64::try_from(start.day_of_year()).unwrap_or(0) + 1000 * u64::try_from(start.year()).unwrap_or(0);
    let mut items = Vec::new();
    for tenant in tenants {
        for staff in staff_ids(&tenant.company_id) {
            let seed = mix(hash_str(&staff) ^ day);
            // Thousandths of the day's volume so far.
            let share =
                now.map_or(1000, |n| 1000 * day::demand_until(n.second_of(start)) / day::demand_of_day());
            let first = match now {
                Some(_) => (40 + seed % 80) * share / 1000,
                None => seed % 40 + mix(seed) % 2,
            };
            let in60s = if first == 0 { 0 } else { 50 + (seed >> 24) % 51 };
            items.push(json!({
                "staffid": staff,
                "companyid": tenant.company_id,
                "first_response_time_set": first,
                "transfer_first_response_count": (seed >> 8) % 5 * share / 1000,
                "session_human_visitor_consult": first + (seed >> 16) % 20 * share / 1000,
                "first_response_in60s_rate": format!("{in60s:02}%"),
            }));
        }
    }
    Ok(Bytes::from(json!({"items": items, "retCode": "000000", "retMsg": "成功"}).to_string()))
}

/// The time range of getStaffLogInfos, as the document's four cases set it. A time that is not
/// a whole number of milliseconds from 1970 to 9999 is `210006`.
fn log_range(call: &Call, now: i64) -> Result<(i64, i64), &'static str> {
    let time = |key: &str| match param(call, key).filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(v) => {
            let ms = v.trim().parse::<i64>().ok().filter(|ms| *ms >= 0);
            let last = jiff::Timestamp::MAX.as_millisecond() - WEEK_MS;
            ms.filter(|ms| *ms <= last).map(Some).ok_or("210006")
        }
    };
    Ok(match (time("startTime")?, time("endTime")?) {
        (Some(start), Some(end)) => (start.max(end - WEEK_MS), end),
        (None, None) => (now - WEEK_MS, now),
        (Some(start), None) => (start, start + WEEK_MS),
        (None, Some(end)) => (end - WEEK_MS, end),
    })
}

/// Each staff's log entries within the range asked for and up to `now` (none in the future).
fn staff_log_infos(
    call: &Call,
    tenants: &[SimTenant],
    fixtures: bool,
    now: jiff::Timestamp,
) -> Result<Bytes, &'static str> {
    let now = now.as_millisecond();
    let (start, end) = log_range(call, now)?;
    if fixtures {
        return Ok(Bytes::from_static(STAFF_LOG_INFOS_FIXTURE.as_bytes()));
    }
    let tz = shanghai();
    let items: Vec<Value> = tenants
        .iter()
        .map(|tenant| {
            let company = &tenant.company_id;
            let staff: Vec<Value> = staff_ids(company)
                .into_iter()
                .map(|staff| {
                    let logs: Vec<Value> = staff_log(company, &staff, start, end.min(now))
                        .into_iter()
                        .map(|entry| {
                            let format = jiff::Timestamp::from_millisecond(entry.millis)
                                .map(|t| t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string())
                                .unwrap_or_default();
                            json!({"datetime": entry.millis, "datetimeFormat": format, "source": entry.source,
                                   "operationAction": entry.action})
                        })
                        .collect();
                    json!({"staffId": staff, "staffLogInfos": logs})
                })
                .collect();
            json!({"companyId": company, "companyStaffInfos": staff})
        })
        .collect();
    Ok(Bytes::from(json!({"items": items, "retCode": "200000", "retMsg": "成功"}).to_string()))
}

#[cfg(test)]
mod staff_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_platforms_are_stable() {
        let a = sim_platform(3);
        assert_eq!(a, sim_platform(3));
        assert_eq!(a.tenants.len(), 3);
        let ids: std::collections::BTreeSet<&str> = a.tenants.iter().map(|t| t.app_id.as_str()).collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(sim_platform(5).tenants[..3], a.tenants[..], "a bigger platform extends a smaller one");
    }

    #[test]
    fn the_fixture_tenants_are_the_examples() {
        let tenants = tenants(&SimPlatform { tenants: Vec::new(), ..sim_platform(0) });
        let apps: Vec<&str> = tenants.iter().map(|t| t.app_id.as_str()).collect();
        assert_eq!(
            apps,
            [
                "3cb9c7b8dd914621ae3db8bef000d0",
                "b17989cdf9b2428db63b90672b756015",
                "f6bbd4bce5924fde807dbd7ccc17af53"
            ]
        );
        assert_eq!(tenants[0].app_key.expose(), "d14N6QO9e3p6");
    }

    use crate::{SimConfig, Simulator};

    /// A simulator with a platform of `n` tenants.
    async fn simulator(n: usize) -> (Simulator, SimPlatform) {
        let platform = sim_platform(n);
        let config = SimConfig { platform: Some(platform.clone()), ..SimConfig::fixtures("1", "k") };
        (Simulator::start(config).await.expect("simulator starts"), platform)
    }

    /// POSTs `body` to `endpoint` and returns the answer's JSON.
    async fn post(sim: &Simulator, endpoint: &PlatformEndpoint, body: Value) -> Value {
        let url = format!("{}{}", sim.base_url(), endpoint.path);
        let answer = reqwest::Client::new().post(url).json(&body).send().await.expect("sent");
        answer.json().await.expect("JSON")
    }

    fn signed(platform: &SimPlatform, ts: i64) -> (String, String) {
        (ts.to_string(), platform_sign(&platform.union_code, &ts.to_string(), platform.union_key.expose()))
    }

    #[tokio::test]
    async fn signatures_units_and_spellings_are_checked() {
        let (sim, p) = simulator(2).await;
        let seconds = jiff::Timestamp::now().as_second();
        let (ts, sign) = signed(&p, seconds);
        let ok = post(&sim, &BATCH_APP_KEY, json!({"unionCode": p.union_code, "ts": ts, "sign": sign})).await;
        assert_eq!(ok["retCode"], "000000", "{ok}");
        assert_eq!(ok[&p.union_code]["data"].as_array().map(Vec::len), Some(2));

        // The same sign over milliseconds: the wrong unit for this endpoint.
        let (ms, sign_ms) = signed(&p, seconds * 1000);
        let e =
            post(&sim, &BATCH_APP_KEY, json!({"unionCode": p.union_code, "ts": ms, "sign": sign_ms})).await;
        assert_eq!(e, json!({"ret_code": "910003", "ret_msg": "token 校验异常"}), "the table's envelope");
        // A wrong key, a wrong union code, the other endpoint's spelling.
        let wrong = platform_sign(&p.union_code, &ts, "not-the-key");
        let e = post(&sim, &BATCH_APP_KEY, json!({"unionCode": p.union_code, "ts": ts, "sign": wrong})).await;
        assert_eq!(e["ret_code"], "910003");
        let e = post(&sim, &BATCH_APP_KEY, json!({"unionCode": "10005", "ts": ts, "sign": sign})).await;
        assert_eq!(e["ret_code"], "910004");
        let day = "2026-11-23";
        let snake =
            json!({"union_code": p.union_code, "ts": ts, "sign": sign, "start_date": day, "end_date": day});
        let camel =
            json!({"unionCode": p.union_code, "ts": ts, "sign": sign, "start_date": day, "end_date": day});
        assert_eq!(post(&sim, &STAFF_JOB_LIST, snake).await["retCode"], "000000");
        assert_eq!(post(&sim, &STAFF_JOB_LIST, camel).await["ret_code"], "210006");
        let hourly = json!({"union_code": p.union_code, "ts": ts, "sign": sign, "start_date": "2026-11-23 00",
                            "end_date": day});
        assert_eq!(post(&sim, &STAFF_JOB_LIST, hourly).await["ret_code"], "210005");

        // getTenantList: milliseconds and the email in the token.
        let ms = jiff::Timestamp::now().as_millisecond().to_string();
        let token = platform_email_token(&p.union_code, &ms, &p.email, p.union_key.expose());
        let list = |email: &str, token: &str, ts: &str| {
            json!({"unionCode": p.union_code, "ts": ts, "token": token, "email": email, "openStatus": "-1",
                   "pageNo": 1, "pageSize": 1})
        };
        let ok = post(&sim, &TENANT_LIST, list(&p.email, &token, &ms)).await;
        assert_eq!((ok["retCode"].clone(), ok["pageCount"].clone()), (json!("200000"), json!(2)), "{ok}");
        let other = platform_email_token(&p.union_code, &ms, "x@y.z", p.union_key.expose());
        let e = post(&sim, &TENANT_LIST, list("x@y.z", &other, &ms)).await;
        assert_eq!(e, json!({"retCode": "910003", "retMsg": "token 校验异常"}));
        let s = seconds.to_string();
        let in_seconds = platform_email_token(&p.union_code, &s, &p.email, p.union_key.expose());
        assert_eq!(post(&sim, &TENANT_LIST, list(&p.email, &in_seconds, &s)).await["retCode"], "910003");

        // getStaffLogInfos is a GET.
        let url = format!("{}{}", sim.base_url(), STAFF_LOG_INFOS.path);
        let token = platform_sign(&p.union_code, &ms, p.union_key.expose());
        let query = [("unionCode", p.union_code.as_str()), ("ts", ms.as_str()), ("token", token.as_str())];
        let answer = reqwest::Client::new().get(&url).query(&query).send().await.expect("sent");
        let body: Value = answer.json().await.expect("JSON");
        assert_eq!(body["retCode"], "200000");
        assert_eq!(body["items"].as_array().map(Vec::len), Some(2));
        let answer = reqwest::Client::new().post(&url).query(&query).send().await.expect("sent");
        assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);

        let hit: Vec<String> = sim.requests().iter().map(|r| r.endpoint.clone()).collect();
        assert!(hit.iter().any(|e| e == "getStaffLogInfos") && hit.iter().any(|e| e == "tenantStaffJobList"));
    }

    #[tokio::test]
    async fn a_past_date_has_staff_figures_of_its_own() {
        let (sim, p) = simulator(2).await;
        let yesterday = jiff::Timestamp::now().to_zoned(shanghai()).date().yesterday().expect("a day");
        let rows = |day: Date| {
            let (ts, sign) = signed(&p, jiff::Timestamp::now().as_second());
            let body = json!({"union_code": p.union_code, "ts": ts, "sign": sign,
                              "start_date": day.to_string(), "end_date": day.to_string()});
            let sim = &sim;
            async move { post(sim, &STAFF_JOB_LIST, body).await["items"].clone() }
        };
        let before = yesterday.yesterday().expect("a day");
        let (a, b) = (rows(yesterday).await, rows(before).await);
        assert_eq!(a.as_array().map(Vec::len), Some(6));
        assert_ne!(a, b, "two past dates differ");
        assert_eq!(a, rows(yesterday).await, "a past date is settled");
    }

    #[tokio::test(start_paused = true)]
    async fn twenty_calls_a_minute_per_endpoint() {
        let (sim, p) = simulator(1).await;
        let call = |endpoint: &'static PlatformEndpoint| {
            let (ts, sign) = signed(&p, jiff::Timestamp::now().as_second());
            let body = json!({"unionCode": p.union_code, "union_code": p.union_code, "ts": ts, "sign": sign,
                              "start_date": "2026-11-23", "end_date": "2026-11-23"});
            let sim = &sim;
            async move { post(sim, endpoint, body).await }
        };
        for _ in 0..20 {
            assert_eq!(call(&BATCH_APP_KEY).await["retCode"], "000000");
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        let limited = call(&BATCH_APP_KEY).await;
        assert_eq!(limited["ret_code"], "210017", "{limited}");
        assert_eq!(call(&STAFF_JOB_LIST).await["retCode"], "000000", "another endpoint has its own limit");
        // 60 s after the first call, one slot is free again; the call turned away did not count.
        tokio::time::advance(Duration::from_secs(40)).await;
        assert_eq!(call(&BATCH_APP_KEY).await["retCode"], "000000");
        assert_eq!(call(&BATCH_APP_KEY).await["ret_code"], "210017");
        let codes: Vec<String> = sim.requests_to("getBatchAppKey").into_iter().map(|r| r.code).collect();
        assert_eq!(codes.iter().filter(|c| *c == "210017").count(), 2);
    }
}
