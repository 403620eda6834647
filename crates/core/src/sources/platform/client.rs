//! The platform client: one [`Upstream`] per endpoint (each with its own limit of 20 calls a
//! minute), all over the Sobot host's shared HTTP client; requests signed when they leave.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Date;
use serde_json::{Value, json};

use super::{
    BATCH_APP_KEY, Budget, PlatformCredentials, PlatformEndpoint, STAFF_JOB_LIST, STAFF_LOG_INFOS,
    TENANT_LIST, check_answer,
};
use crate::collect::{ParseErrors, label_id, label_name, list};
use crate::secret::Secret;
use crate::sign::{platform_email_token, platform_sign};
use crate::telemetry::Telemetry;
use crate::upstream::{ClientSettings, Upstream, UpstreamError};
use crate::value::{parse_id, parse_u64};

/// The window of the per-endpoint limit: a minute and a second, the second being slack for the
/// network between the exporter's clock and the platform's count.
pub(crate) const LIMIT_WINDOW: Duration = Duration::from_secs(61);

/// Tenants asked for per getTenantList page (the document names no maximum; the client follows
/// the answer's `pageCount`, so a platform that pages smaller is still read to the end).
pub(crate) const PAGE_SIZE: u32 = 100;
/// Pages of getTenantList read per call at most (10,000 tenants at [`PAGE_SIZE`]).
pub(crate) const MAX_PAGES: u32 = 100;

/// Items a list of the platform's unpaged answers (getBatchAppKey, the staff statistics and
/// status logs) keeps: ten times the statistics' cap, for platforms of thousands of tenants.
pub(crate) const PLATFORM_MAX_ITEMS: usize = 200_000;

/// The keys of one tenant, from getBatchAppKey: what a tenant target needs to get its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantKey {
    /// `companyId` (公司 id): the tenant's id, the `tenant` label.
    pub company_id: String,
    /// `companyName` (公司名称); empty if the answer had none.
    pub company_name: String,
    /// `appId`: the tenant's app id for `/api/get_token`.
    pub app_id: String,
    /// `appKey`: the tenant's app key, never printed.
    pub app_key: Secret,
}

/// Every tenant of getTenantList.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantList {
    /// The records (`items`) of every page, in the platform's order; `appKey` removed from each on
    /// arrival (the keys come from getBatchAppKey, as secrets).
    pub rows: Vec<Value>,
    /// Whether the page cap stopped the reading before the last page.
    pub truncated: bool,
}

/// A client of one platform's API.
#[derive(Debug)]
pub struct PlatformClient {
    credentials: PlatformCredentials,
    tenant_list: Upstream,
    batch_app_key: Upstream,
    staff_job_list: Upstream,
    staff_log_infos: Upstream,
    page_size: u32,
    max_pages: u32,
    telemetry: Arc<Telemetry>,
}

impl PlatformClient {
    /// A client over the Sobot host's shared HTTP client (`settings.base_url` is the Sobot base
    /// URL, the statistics API's): each endpoint gets a limiter of its own that lets at most
    /// [`super::CALLS_PER_MINUTE`] calls start in any `LIMIT_WINDOW`, whatever
    /// `settings.rate_limit_per_minute` says — divided by `replicas`, the exporters that share
    /// the platform's limit (the shards), so that together they stay under it (`Budget`).
    pub fn new(
        settings: &ClientSettings,
        http: reqwest::Client,
        credentials: PlatformCredentials,
        telemetry: Arc<Telemetry>,
        replicas: u32,
    ) -> Self {
        let Budget { calls, window } = Budget::of(replicas);
        let secrets = vec![credentials.union_key.clone()];
        let upstream = || {
            Upstream::with_window_limit(
                settings,
                http.clone(),
                calls,
                window,
                secrets.clone(),
                telemetry.clone(),
            )
        };
        Self {
            credentials,
            tenant_list: upstream(),
            // These three list the whole platform (every tenant, every staff) in one answer.
            batch_app_key: upstream().with_max_items(PLATFORM_MAX_ITEMS),
            staff_job_list: upstream().with_max_items(PLATFORM_MAX_ITEMS),
            staff_log_infos: upstream().with_max_items(PLATFORM_MAX_ITEMS),
            page_size: PAGE_SIZE,
            max_pages: MAX_PAGES,
            telemetry,
        }
    }

    /// The same client asking for `page_size` tenants a page and reading at most `max_pages`
    /// pages (both at least 1).
    #[must_use]
    pub fn with_paging(mut self, page_size: u32, max_pages: u32) -> Self {
        self.page_size = page_size.max(1);
        self.max_pages = max_pages.max(1);
        self
    }

    /// Every tenant, enabled or not (`openStatus=-1`): page after page until the answer's
    /// `pageCount` (without one, until a page shorter than asked for), a page without records, or
    /// the page cap.
    pub async fn tenant_list(&self) -> Result<TenantList, UpstreamError> {
        let mut rows = Vec::new();
        let mut page = 1u32;
        loop {
            let (records, page_count) = self.tenant_page(page).await?;
            let last = records.is_empty()
                || match page_count {
                    Some(count) => u64::from(page) >= count,
                    None => records.len() < usize::try_from(self.page_size).unwrap_or(usize::MAX),
                };
            rows.extend(records);
            if last {
                return Ok(TenantList { rows, truncated: false });
            }
            if page >= self.max_pages {
                return Ok(TenantList { rows, truncated: true });
            }
            page += 1;
        }
    }

    /// The records of one page (each without its `appKey`) and the answer's `pageCount`.
    async fn tenant_page(&self, page: u32) -> Result<(Vec<Value>, Option<u64>), UpstreamError> {
        let c = &self.credentials;
        let build = |client: &reqwest::Client, url: String| {
            let ts = jiff::Timestamp::now().as_millisecond();
            let token = platform_email_token(&c.union_code, &ts.to_string(), &c.email, c.union_key.expose());
            // Types as the table gives them: ts long, openStatus string, pageNo/pageSize Integer.
            client.post(url).json(&json!({
                "unionCode": c.union_code,
                "ts": ts,
                "token": token,
                "email": c.email,
                "openStatus": "-1",
                "pageNo": page,
                "pageSize": self.page_size,
            }))
        };
        let decode = |mut body: Value| {
            let mut records = list(&mut body, TENANT_LIST.label, &["items"])?;
            for record in &mut records {
                if let Some(object) = record.as_object_mut() {
                    object.remove("appKey");
                }
            }
            Ok((records, parse_u64(body.get("pageCount"))))
        };
        self.send(&self.tenant_list, TENANT_LIST, build, decode).await
    }

    /// Every tenant's app id and key. Entries without a company id, app id or app key are skipped
    /// (counted as parse errors of `get_batch_app_key`); a company listed twice keeps its first.
    pub async fn batch_app_keys(&self) -> Result<Vec<TenantKey>, UpstreamError> {
        let c = &self.credentials;
        let build = |client: &reqwest::Client, url: String| {
            let ts = jiff::Timestamp::now().as_second().to_string();
            let sign = platform_sign(&c.union_code, &ts, c.union_key.expose());
            // ts a String in seconds, as the table and the example write it.
            client.post(url).json(&json!({"unionCode": c.union_code, "ts": ts, "sign": sign}))
        };
        let errors = ParseErrors::new(BATCH_APP_KEY.label, self.telemetry.clone());
        let decode = |body| tenant_keys(body, &c.union_code, &errors);
        self.send(&self.batch_app_key, BATCH_APP_KEY, build, decode).await
    }

    /// The per-staff statistics of every tenant for one day (`start_date` = `end_date` = `day`,
    /// `yyyy-MM-dd`): the answer's `items`.
    pub async fn staff_job_list(&self, day: Date) -> Result<Vec<Value>, UpstreamError> {
        let c = &self.credentials;
        let day = day.strftime("%Y-%m-%d").to_string();
        let build = |client: &reqwest::Client, url: String| {
            let ts = jiff::Timestamp::now().as_second().to_string();
            let sign = platform_sign(&c.union_code, &ts, c.union_key.expose());
            // This endpoint spells its parameters in snake case, union_code included.
            client.post(url).json(&json!({
                "union_code": c.union_code,
                "ts": ts,
                "sign": sign,
                "start_date": day,
                "end_date": day,
            }))
        };
        // The table says `item`, the example `items`: accept both.
        let decode = |mut body: Value| list(&mut body, STAFF_JOB_LIST.label, &["items", "item"]);
        self.send(&self.staff_job_list, STAFF_JOB_LIST, build, decode).await
    }

    /// Every staff's status changes of the week before `end` (milliseconds since the epoch), or
    /// of the last week: the answer's `items` (per company).
    ///
    /// Without `end` no `startTime`/`endTime` is sent: the document defines that case as "from a
    /// week before now to now" (its case 2), the longest range it allows, measured on the
    /// platform's clock. With `end` only `endTime` is sent: "a week before it to it" (its case 4).
    pub async fn staff_log_infos(&self, end: Option<i64>) -> Result<Vec<Value>, UpstreamError> {
        let c = &self.credentials;
        let build = |client: &reqwest::Client, url: String| {
            let ts = jiff::Timestamp::now().as_millisecond().to_string();
            let token = platform_sign(&c.union_code, &ts, c.union_key.expose());
            let request = client.get(url).query(&[
                ("unionCode", c.union_code.as_str()),
                ("ts", ts.as_str()),
                ("token", token.as_str()),
            ]);
            match end {
                Some(end) => request.query(&[("endTime", end.to_string())]),
                None => request,
            }
        };
        let decode = |mut body: Value| list(&mut body, STAFF_LOG_INFOS.label, &["items"]);
        self.send(&self.staff_log_infos, STAFF_LOG_INFOS, build, decode).await
    }

    /// Sends a request; the answer is checked, then read by `decode` (an answer it refuses is
    /// counted as `invalid_response`).
    async fn send<T>(
        &self,
        upstream: &Upstream,
        endpoint: PlatformEndpoint,
        build: impl FnOnce(&reqwest::Client, String) -> reqwest::RequestBuilder,
        decode: impl FnOnce(Value) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        let check = |body| check_answer(body).and_then(decode);
        upstream.send(endpoint.label, endpoint.path, endpoint.ok_code, build, check).await
    }
}

/// The tenants' keys of a getBatchAppKey answer: the `data` list under the key equal to the
/// union code, as the example nests it (or a top-level `data`, as the table lists it).
pub(crate) fn tenant_keys(
    mut body: Value,
    union_code: &str,
    errors: &ParseErrors,
) -> Result<Vec<TenantKey>, UpstreamError> {
    let endpoint = BATCH_APP_KEY.label;
    let mut nested = match body.get_mut(union_code).map(Value::take) {
        Some(Value::Object(object)) => Value::Object(object),
        Some(Value::Null) | None => body,
        Some(_) => {
            return Err(UpstreamError::InvalidResponse(format!(
                "{endpoint}: the union code's entry is not an object"
            )));
        }
    };
    if nested.get("data").is_none() {
        return Err(UpstreamError::InvalidResponse(format!("{endpoint}: no data list in the answer")));
    }
    let rows = list(&mut nested, endpoint, &["data"])?;
    let mut seen = BTreeSet::new();
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let id = |key: &str| {
            // The company id is the tenant's label: of a label's length at most.
            let id = if key == "companyId" { label_id(row.get(key)) } else { parse_id(row.get(key)) };
            if id.is_none() {
                // Whatever stands in a key's place is not logged.
                errors.count(key, if key == "appKey" { None } else { row.get(key) });
            }
            id
        };
        let (Some(company_id), Some(app_id), Some(app_key)) = (id("companyId"), id("appId"), id("appKey"))
        else {
            continue;
        };
        if !errors.first(&mut seen, company_id.clone()) {
            continue;
        }
        let company_name = match row.get("companyName") {
            // The `tenant_name` label of `/sd`.
            Some(Value::String(name)) => label_name(name),
            _ => String::new(),
        };
        keys.push(TenantKey { company_id, company_name, app_id, app_key: Secret::new(app_key) });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::{duplicates, parse_errors};

    fn errors() -> (ParseErrors, Arc<Telemetry>) {
        let telemetry = Arc::new(Telemetry::new());
        (ParseErrors::new(BATCH_APP_KEY.label, telemetry.clone()), telemetry)
    }

    #[test]
    fn keys_of_the_documents_example() {
        // The document's example has a trailing comma after the last entry of `data`; the fixture
        // has it removed, so that it is JSON.
        let body: Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/platform/get_batch_app_key.json"
        )))
        .expect("fixture is JSON");
        let (errors, telemetry) = errors();
        let keys = tenant_keys(check_answer(body).expect("000000"), "10004", &errors).expect("keys");
        let ids: Vec<(&str, &str, &str)> = keys
            .iter()
            .map(|k| (k.company_id.as_str(), k.app_id.as_str(), k.company_name.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("be7f05de11a54390c3f3ec35e6010b", "3cb9c7b8dd914621ae3db8bef000d0", "测试二号"),
                ("32d5fedaf268441dbde6d3eb23a17cee", "b17989cdf9b2428db63b90672b756015", "测试三号"),
                ("6f77727bdb074a128fc43d8788ee5a09", "f6bbd4bce5924fde807dbd7ccc17af53", "测试一号"),
            ]
        );
        assert_eq!(keys[0].app_key.expose(), "d14N6QO9e3p6");
        assert!(!format!("{keys:?}").contains("d14N6QO9e3p6"), "a key in Debug");
        assert_eq!(parse_errors(&telemetry, "get_batch_app_key", "appKey"), 0.0);
    }

    #[test]
    fn ugly_key_answers() {
        let (errors, telemetry) = errors();
        let body = json!({"10004": {"data": [
            {"appId": "a1", "appKey": "k1", "companyId": "c1", "companyName": " One "},
            {"appId": "a2", "appKey": "k2", "companyId": "c1", "companyName": "again"},
            {"appId": "a3", "appKey": "", "companyId": "c3"},
            {"appId": null, "appKey": "k4", "companyId": "c4"},
            {"appKey": "k5", "companyId": "c5"},
            {"appId": 6, "appKey": "k6", "companyId": 66, "companyName": null},
        ]}, "retCode": "000000"});
        let keys = tenant_keys(body, "10004", &errors).expect("keys");
        let ids: Vec<(&str, &str, &str)> = keys
            .iter()
            .map(|k| (k.company_id.as_str(), k.app_id.as_str(), k.company_name.as_str()))
            .collect();
        assert_eq!(ids, [("c1", "a1", "One"), ("66", "6", "")]);
        assert_eq!(duplicates(&telemetry, "get_batch_app_key"), 1.0, "c1 twice: its first entry");
        assert_eq!(parse_errors(&telemetry, "get_batch_app_key", "appKey"), 1.0);
        assert_eq!(parse_errors(&telemetry, "get_batch_app_key", "appId"), 2.0);

        // The table's reading: data at the top level.
        let top = json!({"data": [{"appId": "a", "appKey": "k", "companyId": "c"}], "ret_code": "000000"});
        assert_eq!(tenant_keys(top, "10004", &errors).map(|k| k.len()), Ok(1));
        let none = json!({"10004": {"data": null}});
        assert_eq!(tenant_keys(none, "10004", &errors), Ok(Vec::new()));
        for invalid in [json!({"10005": {"data": []}}), json!({"10004": "x"}), json!({"10004": {"data": {}}})]
        {
            assert!(
                matches!(
                    tenant_keys(invalid.clone(), "10004", &errors),
                    Err(UpstreamError::InvalidResponse(_))
                ),
                "{invalid}"
            );
        }
    }
}
