//! The Sobot e-commerce platform API (电商平台 API): one platform runs many merchants, each a Sobot
//! tenant with its own app id and key. The exporter reads four of its endpoints:
//!
//! | endpoint (label) | path | method, parameters | signature |
//! |---|---|---|---|
//! | `get_tenant_list` | `/tenantpro/open/getTenantList` | POST, JSON `unionCode`, `ts`, `token`, `email`, `openStatus`, `pageNo`, `pageSize` | `token = MD5(unionCode+ts+email+unionKey)`, `ts` ms |
//! | `get_batch_app_key` | `/tenantpro/getBatchAppKey` | POST, JSON `unionCode`, `ts`, `sign` | `sign = MD5(unionCode+ts+unionKey)`, `ts` s |
//! | `tenant_staff_job_list` | `/tenantpro/tenantReport/tenantStaffJobList` | POST, JSON `union_code`, `ts`, `sign`, `start_date`, `end_date` | `sign = MD5(unionCode+ts+unionKey)`, `ts` s |
//! | `get_staff_log_infos` | `/tenantpro/coutomer/getStaffLogInfos` (spelled so upstream) | GET, query `unionCode`, `ts`, `token` | `token = MD5(unionCode+ts+unionKey)`, `ts` ms |
//!
//! The platform allows 20 calls a minute per endpoint ([`CALLS_PER_MINUTE`]); the client keeps
//! each endpoint under it on its own. `client` does the I/O, [`decode`] turns answers into
//! metric families, purely.

pub(crate) mod client;
pub(crate) mod collectors;
pub mod config;
pub mod decode;
pub(crate) mod tenants;

use std::fmt::Write;

use serde_json::Value;

use crate::secret::Secret;
use crate::upstream::UpstreamError;

pub use client::{PlatformClient, TenantKey, TenantList};

/// The source's entry in the registry. Its collectors (discovery and the platform's statistics)
/// run for the platform's target and are not named in the config; its tenants run the Sobot
/// collectors that `platform.collectors` names.
pub(crate) const SOURCE: super::Source = super::Source {
    name: "platform",
    vendor: "the platform",
    sections: &["platform"],
    keys: &[
        "union_code",
        "email",
        "union_key_file",
        "interval",
        "collectors",
        "tenants",
        "include_ids",
        "include_names",
        "exclude_ids",
        "exclude_names",
        "tenants_on_metrics",
    ],
    secret_env: &[config::ENV_UNION_KEY],
    collectors: Vec::new,
    reference,
    configure: None,
    jobs: None,
};

/// The platform's part of the metrics reference, from its table.
fn reference(out: &mut String) {
    out.push_str(
        "\n#### Platform mode — Sobot e-commerce platform API (电商平台 API)\n\n`tenant` is a tenant's \
         `companyId`, `staff` a staff id; `window` as above. Each platform endpoint is called at most \
         20 times in any minute (the limit the document states). A dash under 中文: the document names \
         none (getTenantList's answer has no field table).\n\n| Metric | Labels | Unit | Upstream field | 中文 | \
         Meaning |\n|---|---|---|---|---|---|\n",
    );
    for m in decode::PLATFORM_METRICS {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} `{}` | {} | {} |",
            m.name,
            m.labels,
            m.reading.describe(),
            m.endpoint,
            m.key,
            m.zh.unwrap_or("—"),
            m.meaning
        );
    }
}

/// The credentials of a platform, given by Sobot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformCredentials {
    /// `unionCode` (第三方平台唯一编码): the platform's id; not secret.
    pub union_code: String,
    /// `email` (平台超管邮箱): the platform super-admin's mailbox, part of getTenantList's token.
    pub email: String,
    /// `unionKey` (加密私钥): the signing secret, never sent.
    pub union_key: Secret,
}

/// Calls a minute the platform allows per endpoint (the document: "目前的上限是每分钟调用 20 次").
pub const CALLS_PER_MINUTE: usize = 20;

/// Why the interval of `platform` is too short for this replica's share of the budget
/// (see `Budget::too_short`); `None` without a platform or when the budget carries it.
pub fn interval_warning(platform: &config::PlatformConfig) -> Option<String> {
    let shards = platform.shard.count();
    Budget::of(shards).too_short(platform.interval, shards)
}

/// One replica's share of an endpoint's limit: at most `calls` calls start in any `window`.
///
/// With `shards` replicas sharing the platform's [`CALLS_PER_MINUTE`], each gets
/// `CALLS_PER_MINUTE / shards` calls per [`client::LIMIT_WINDOW`]; past 20 shards, one call per
/// `LIMIT_WINDOW × shards / 20`, so that together they stay under the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    /// Calls in any window.
    pub(crate) calls: usize,
    /// The sliding window.
    pub(crate) window: std::time::Duration,
}

impl Budget {
    /// The share of one of `shards` replicas (at least 1).
    pub(crate) fn of(shards: u32) -> Budget {
        let shards = usize::try_from(shards.max(1)).unwrap_or(usize::MAX);
        if shards <= CALLS_PER_MINUTE {
            return Budget { calls: CALLS_PER_MINUTE / shards, window: client::LIMIT_WINDOW };
        }
        #[allow(clippy::cast_precision_loss)]
        let factor = shards as f64 / CALLS_PER_MINUTE as f64;
        Budget { calls: 1, window: client::LIMIT_WINDOW.mul_f64(factor) }
    }

    /// The shortest interval whose cycles (one call of each endpoint per cycle) the budget carries.
    pub(crate) fn min_interval(&self) -> std::time::Duration {
        self.window / u32::try_from(self.calls.max(1)).unwrap_or(u32::MAX)
    }

    /// Why `interval` is too short for this budget with `shards` replicas (naming the smallest
    /// whole-second interval that works), or `None` if the budget carries it.
    pub(crate) fn too_short(&self, interval: std::time::Duration, shards: u32) -> Option<String> {
        let min = self.min_interval();
        if interval >= min {
            return None;
        }
        let (calls, window_s) = (self.calls, self.window.as_secs_f64());
        let suggested = min.as_secs() + u64::from(min.subsec_nanos() > 0);
        Some(format!(
            "platform.interval {:.3}s is shorter than the platform's budget carries: {CALLS_PER_MINUTE} calls \
             a minute per endpoint shared by {shards} shard(s) (--platform.shard) leave this one {calls} \
             call(s) in {window_s:.1}s, one every {:.2}s; its platform collectors will fail with \
             code=\"budget\" on most cycles: set platform.interval to at least {suggested}s",
            interval.as_secs_f64(),
            min.as_secs_f64(),
        ))
    }
}

/// One platform endpoint the exporter calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformEndpoint {
    /// The `endpoint` label of `sobot_exporter_upstream_requests_total` and of parse errors.
    pub label: &'static str,
    /// Path below the Sobot base URL.
    pub path: &'static str,
    /// The success code of the document's example (counted as the `code` label on success).
    pub ok_code: &'static str,
}

impl PlatformEndpoint {
    /// The last path segment: the endpoint's name upstream (and in the simulator's log).
    pub(crate) fn upstream_name(&self) -> &'static str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }
}

/// 电商平台企业列表查询: the tenants, paged.
pub const TENANT_LIST: PlatformEndpoint =
    PlatformEndpoint { label: "get_tenant_list", path: "/tenantpro/open/getTenantList", ok_code: "200000" };
/// 批量获取所有子商户 appKey 信息查询: every tenant's app id and key.
pub const BATCH_APP_KEY: PlatformEndpoint =
    PlatformEndpoint { label: "get_batch_app_key", path: "/tenantpro/getBatchAppKey", ok_code: "000000" };
/// 客服统计接口: per staff statistics of every tenant for a date range.
pub const STAFF_JOB_LIST: PlatformEndpoint = PlatformEndpoint {
    label: "tenant_staff_job_list",
    path: "/tenantpro/tenantReport/tenantStaffJobList",
    ok_code: "000000",
};
/// 客服状态明细接口: every staff's status changes of the last week.
pub const STAFF_LOG_INFOS: PlatformEndpoint = PlatformEndpoint {
    label: "get_staff_log_infos",
    path: "/tenantpro/coutomer/getStaffLogInfos",
    ok_code: "200000",
};

/// The four endpoints.
pub const ENDPOINTS: [PlatformEndpoint; 4] = [TENANT_LIST, BATCH_APP_KEY, STAFF_JOB_LIST, STAFF_LOG_INFOS];

/// The result codes of success: `200000` (getTenantList, getStaffLogInfos and the write calls)
/// and `000000` (getBatchAppKey, tenantStaffJobList, the error-code table).
pub(crate) const OK_CODES: [&str; 2] = ["200000", "000000"];

/// Fails unless the answer says success: its result code (`retCode` as the examples write it, or
/// `ret_code` as the tables of getBatchAppKey and tenantStaffJobList do; a string or a number) is
/// one of [`OK_CODES`], and its `status` (chatIndexPage's style), where present, is `1`. An answer
/// with neither is invalid.
pub(crate) fn check_answer(body: Value) -> Result<Value, UpstreamError> {
    let code = ["retCode", "ret_code"].iter().find_map(|key| code_of(body.get(*key), 6));
    let status = code_of(body.get("status"), 1);
    if code.is_none() && status.is_none() {
        return Err(UpstreamError::InvalidResponse("no retCode, ret_code or status in the response".into()));
    }
    let message = ["retMsg", "ret_msg", "msg"].iter().find_map(|k| body.get(*k).and_then(Value::as_str));
    let message = message.unwrap_or("");
    if let Some(code) = code.filter(|c| !OK_CODES.contains(&c.as_str())) {
        return Err(UpstreamError::api(code.clone(), &explained(explain_code(&code), message)));
    }
    if let Some(status) = status.filter(|s| s != "1") {
        return Err(UpstreamError::api(status.clone(), &explained(explain_status(&status), message)));
    }
    Ok(body)
}

/// A code as a string: as sent, or a number padded to `width` digits (`0` is `000000`).
fn code_of(value: Option<&Value>, width: usize) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(match n.as_u64() {
            Some(code) => format!("{code:0width$}"),
            None => n.to_string(),
        }),
        _ => None,
    }
}

fn explained(hint: &str, message: &str) -> String {
    match (hint.is_empty(), message.is_empty()) {
        (true, _) => message.to_string(),
        (false, true) => hint.to_string(),
        (false, false) => format!("{hint} ({message})"),
    }
}

/// What a result code means. The platform document lists only `999999`, `999998`, `200007` and
/// `220001`; the sign, union-code and rate-limit failures are not documented, so the codes the
/// statistics API uses for the same conditions (and the simulator answers) are explained too.
fn explain_code(code: &str) -> &'static str {
    match code {
        "910001" | "910003" => {
            "the token or sign was rejected: check the union key, the platform email and the host clock"
        }
        "910004" => "the union code was rejected: check the platform's unionCode",
        "210017" => "over the platform's limit of 20 calls a minute for this endpoint",
        "210003" | "210005" | "210006" => "the exporter sent a parameter the platform does not accept",
        "999998" => "the platform says the login expired (登录已失效)",
        _ => "",
    }
}

/// What a `status` of chatIndexPage's style means (the document's list).
fn explain_status(status: &str) -> &'static str {
    match status {
        "2" => "parameter error (传参异常)",
        "3" => "the union code was rejected (unionCode 异常): check the platform's unionCode",
        "4" => "over the platform's limit of 20 calls a minute (接口调用频率超过限制)",
        "5" => "the token was rejected (token 校验异常): check the union key and the host clock",
        "0" => "unknown error at the platform (未知异常)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn success_codes_of_the_examples() {
        for fixture in [
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/platform/get_tenant_list.json"
            )),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/platform/get_batch_app_key.json"
            )),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/platform/tenant_staff_job_list.json"
            )),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/platform/get_staff_log_infos.json"
            )),
        ] {
            let body: Value = serde_json::from_str(fixture).expect("fixture is JSON");
            assert!(check_answer(body).is_ok());
        }
        assert!(check_answer(json!({"ret_code": "000000", "items": []})).is_ok());
        assert!(check_answer(json!({"retCode": 200000})).is_ok(), "a number");
        assert!(check_answer(json!({"ret_code": 0})).is_ok(), "0 is 000000");
        assert!(check_answer(json!({"status": 1, "items": []})).is_ok());
        assert!(check_answer(json!({"retCode": "200000", "status": "1"})).is_ok());
    }

    #[test]
    fn failures_are_typed_and_explained() {
        let e = check_answer(json!({"retCode": "999999", "retMsg": "商户不存在!", "msg": null}));
        assert_eq!(e, Err(UpstreamError::api("999999", "商户不存在!")));
        let e = check_answer(json!({"ret_code": "910003", "ret_msg": "signature错误"})).expect_err("sign");
        assert_eq!(e.code_label(), "910003");
        assert!(e.to_string().contains("union key") && e.to_string().contains("signature错误"), "{e}");
        let e = check_answer(json!({"retCode": "210017"})).expect_err("limit");
        assert!(e.to_string().contains("20 calls a minute"), "{e}");
        let e = check_answer(json!({"status": 4, "items": []})).expect_err("status 4");
        assert_eq!(e.code_label(), "4");
        assert!(e.to_string().contains("20 calls a minute"), "{e}");
        let e = check_answer(json!({"retCode": "200000", "status": 5})).expect_err("status 5");
        assert_eq!(e.code_label(), "5");
        // An undocumented code is counted as `other` (the label set stays bounded), kept in the error.
        let e = check_answer(json!({"retCode": 1})).expect_err("code 1");
        assert_eq!((e.code_label().as_str(), e.to_string().contains("000001")), ("other", true), "{e}");
        for invalid in [json!({}), json!({"retCode": null}), json!([1]), json!({"items": []})] {
            assert!(
                matches!(check_answer(invalid.clone()), Err(UpstreamError::InvalidResponse(_))),
                "{invalid}"
            );
        }
    }

    #[test]
    fn the_budget_of_a_shard_and_the_shortest_interval_it_carries() {
        use std::time::Duration;
        let one = Budget::of(1);
        assert_eq!((one.calls, one.window), (20, Duration::from_secs(61)));
        assert_eq!(one.min_interval(), Duration::from_millis(3050));
        assert_eq!(Budget::of(3).calls, 6);
        // Past 20 shards, one call each in a longer window: together still 20 a minute.
        let thirty = Budget::of(30);
        assert_eq!((thirty.calls, thirty.window), (1, Duration::from_millis(91_500)));
        let why = thirty.too_short(Duration::from_secs(5), 30).expect("5 s is too short");
        assert!(
            why.contains("30 shard(s)") && why.contains("at least 92s") && why.contains("budget"),
            "{why}"
        );
        assert_eq!(thirty.too_short(Duration::from_secs(92), 30), None);
        let why = one.too_short(Duration::from_secs(1), 1).expect("1 s is too short");
        assert!(why.contains("one every 3.05s") && why.contains("at least 4s"), "{why}");
        assert_eq!(one.too_short(Duration::from_secs(60), 1), None);
    }

    #[test]
    fn endpoint_names_upstream() {
        let names: Vec<&str> = ENDPOINTS.iter().map(PlatformEndpoint::upstream_name).collect();
        assert_eq!(names, ["getTenantList", "getBatchAppKey", "tenantStaffJobList", "getStaffLogInfos"]);
    }
}
