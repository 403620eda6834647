//! The platform client against the simulator over 127.0.0.1: every page of the tenant list, the
//! tenants' keys (each a company with its own token and values), staff statistics and status,
//! typed errors for a wrong key and the rate limit, and the per-endpoint limiter's spacing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sobot_exporter_core::secret::Secret;
use sobot_exporter_core::snapshot::Family;
use sobot_exporter_core::sources::platform::decode::{StaffJobDecoder, StaffStatusDecoder, TenantDecoder};
use sobot_exporter_core::sources::platform::{PlatformClient, PlatformCredentials};
use sobot_exporter_core::sources::sobot::client::{Credentials, SobotClient};
use sobot_exporter_core::sources::sobot::endpoints::Endpoint;
use sobot_exporter_core::telemetry::{Telemetry, UPSTREAM_REQUESTS};
use sobot_exporter_core::upstream::{ClientSettings, UpstreamError, http_client};
use sobot_exporter_core::window::{Window, day_range};
use sobot_simulator::{Fault, SimConfig, SimPlatform, Simulator, sim_platform};

const INTERVAL: Duration = Duration::from_secs(60);

async fn simulator(platform: SimPlatform) -> Simulator {
    let config = SimConfig { platform: Some(platform), ..SimConfig::fixtures("first", "first-key") };
    Simulator::start(config).await.expect("simulator starts")
}

fn settings(sim: &Simulator) -> ClientSettings {
    ClientSettings {
        base_url: sim.base_url(),
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(10),
        rate_limit_per_minute: 1000,
    }
}

fn credentials(platform: &SimPlatform) -> PlatformCredentials {
    PlatformCredentials {
        union_code: platform.union_code.clone(),
        email: platform.email.clone(),
        union_key: platform.union_key.clone(),
    }
}

fn client(sim: &Simulator, credentials: PlatformCredentials) -> (PlatformClient, Arc<Telemetry>) {
    let settings = settings(sim);
    let telemetry = Arc::new(Telemetry::new());
    let http = http_client(&settings).expect("HTTP client");
    (PlatformClient::new(&settings, http, credentials, telemetry.clone(), 1), telemetry)
}

fn requests(telemetry: &Telemetry, endpoint: &str, code: &str) -> f64 {
    let labels = vec![("endpoint", endpoint.to_string()), ("code", code.to_string())];
    telemetry.get(UPSTREAM_REQUESTS, &labels).unwrap_or(0.0)
}

/// The label values of `label` over every sample of the family `name`.
fn label_values(families: &[Family], name: &str, label: &str) -> BTreeSet<String> {
    let family = families.iter().find(|f| &*f.name == name).unwrap_or_else(|| panic!("no {name}"));
    family
        .samples
        .iter()
        .flat_map(|s| s.labels.iter().filter(|(k, _)| *k == label).map(|(_, v)| v.clone()))
        .collect()
}

fn today() -> jiff::civil::Date {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date()
}

#[tokio::test]
async fn every_page_of_the_tenant_list() {
    let platform = sim_platform(5);
    let sim = simulator(platform.clone()).await;
    let (client, telemetry) = client(&sim, credentials(&platform));
    let client = client.with_paging(2, 100);
    let list = client.tenant_list().await.expect("tenants");
    assert!(!list.truncated);
    let ids: Vec<&str> = list.rows.iter().filter_map(|r| r["companyId"].as_str()).collect();
    let want: Vec<&str> = platform.tenants.iter().map(|t| t.company_id.as_str()).collect();
    assert_eq!(ids, want);
    assert!(list.rows.iter().all(|r| r.get("appKey").is_none()), "the listed keys are dropped on arrival");
    let pages: Vec<(String, String, String)> = sim
        .requests_to("getTenantList")
        .iter()
        .map(|r| {
            let p = |k: &str| {
                r.params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default()
            };
            (p("pageNo"), p("pageSize"), p("openStatus"))
        })
        .collect();
    let page = |n: &str| (n.to_string(), "2".to_string(), "-1".to_string());
    assert_eq!(pages, [page("1"), page("2"), page("3")]);
    assert_eq!(requests(&telemetry, "get_tenant_list", "200000"), 3.0);

    // Decoded: one series per tenant and metric, each tenant told apart.
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tzdb");
    let families = TenantDecoder::new(INTERVAL, tz, telemetry.clone()).families(&list.rows);
    let tenants = label_values(&families, "sobot_platform_tenant_agents", "tenant");
    assert_eq!(tenants, want.iter().map(|s| (*s).to_string()).collect());
    let ends = &families.iter().find(|f| &*f.name == "sobot_platform_tenant_contract_end_timestamp_seconds");
    assert_eq!(ends.map(|f| f.samples.len()), Some(5));

    // The page cap: two pages of two, and it says so.
    let (capped, _) = self::client(&sim, credentials(&platform));
    let list = capped.with_paging(2, 2).tenant_list().await.expect("tenants");
    assert_eq!((list.rows.len(), list.truncated), (4, true));
}

#[tokio::test]
async fn without_a_page_count_the_short_page_is_the_last() {
    let platform = sim_platform(1);
    let sim = simulator(platform.clone()).await;
    let page = |ids: &[&str]| {
        let items: Vec<serde_json::Value> =
            ids.iter().map(|id| serde_json::json!({"companyId": id})).collect();
        Fault::Body(serde_json::json!({"items": items, "retCode": "200000"}).to_string())
    };
    sim.inject("getTenantList", page(&["a", "b"]), 1);
    sim.inject("getTenantList", page(&["c"]), 1);
    let (client, _) = client(&sim, credentials(&platform));
    let list = client.with_paging(2, 10).tenant_list().await.expect("tenants");
    let ids: Vec<&str> = list.rows.iter().filter_map(|r| r["companyId"].as_str()).collect();
    assert_eq!((ids, list.truncated), (vec!["a", "b", "c"], false));
    assert_eq!(sim.requests_to("getTenantList").len(), 2);
}

#[tokio::test]
async fn every_tenant_key_gets_its_own_token_and_values() {
    let mut platform = sim_platform(5);
    // The platform lists a key for the last tenant that its company does not accept.
    platform.tenants[4].accepted_key = Some(Secret::new("the-real-key"));
    let sim = simulator(platform.clone()).await;
    let (client, telemetry) = client(&sim, credentials(&platform));
    let keys = client.batch_app_keys().await.expect("keys");
    assert_eq!(keys.len(), 5);
    for (key, tenant) in keys.iter().zip(&platform.tenants) {
        assert_eq!(
            (&key.company_id, &key.app_id, &key.company_name),
            (&tenant.company_id, &tenant.app_id, &tenant.company_name)
        );
        assert_eq!(key.app_key, tenant.app_key);
    }
    assert_eq!(requests(&telemetry, "get_batch_app_key", "000000"), 1.0);

    let ep = Endpoint::by_name("robot_session").expect("robot_session");
    let (start, end) = day_range(today(), ep.date_format);
    let params = [("start_date", start), ("end_date", end)];
    let settings = settings(&sim);
    let http = http_client(&settings).expect("HTTP client");
    let mut answers = BTreeSet::new();
    for key in &keys {
        let credentials = Credentials { app_id: key.app_id.clone(), app_key: key.app_key.clone() };
        let tenant = SobotClient::new(
            &settings,
            http.clone(),
            credentials,
            Arc::new(Telemetry::new()),
            Duration::from_secs(1),
        );
        let answer = tenant.call(ep.name, ep.method, ep.path, &params, Ok).await;
        if key.app_id == platform.tenants[4].app_id {
            assert_eq!(
                answer.map_err(|e| e.code_label()),
                Err("910003".to_string()),
                "the listed key is wrong"
            );
            continue;
        }
        let body = answer.expect("a tenant's statistics");
        assert_eq!(sim.tokens_issued_to(&key.app_id), 1);
        answers.insert(body["item"].to_string());
    }
    assert_eq!(answers.len(), 4, "every tenant has values of its own");
    assert_eq!(sim.tokens_issued_to("first"), 0);
}

#[tokio::test]
async fn a_tenant_joins_at_run_time() {
    let platform = sim_platform(2);
    let sim = simulator(platform.clone()).await;
    let (client, _) = client(&sim, credentials(&platform));
    assert_eq!(client.batch_app_keys().await.map(|k| k.len()), Ok(2));
    let grown = sim_platform(3);
    sim.set_tenants(grown.tenants.clone());
    let keys = client.batch_app_keys().await.expect("keys");
    let joined = keys.iter().find(|k| k.app_id == grown.tenants[2].app_id).expect("the new tenant is listed");
    let credentials = Credentials { app_id: joined.app_id.clone(), app_key: joined.app_key.clone() };
    let settings = settings(&sim);
    let http = http_client(&settings).expect("HTTP client");
    let tenant =
        SobotClient::new(&settings, http, credentials, Arc::new(Telemetry::new()), Duration::from_secs(1));
    tenant.ensure_token().await.expect("the new tenant is a company");
    assert_eq!(client.tenant_list().await.map(|l| l.rows.len()), Ok(3));
}

#[tokio::test]
async fn staff_statistics_and_status_of_every_tenant() {
    let platform = sim_platform(5);
    let sim = simulator(platform.clone()).await;
    let (client, telemetry) = client(&sim, credentials(&platform));
    let day = today();
    let rows = client.staff_job_list(day).await.expect("staff statistics");
    assert_eq!(rows.len(), 15, "three staff per tenant");
    let sent = &sim.requests_to("tenantStaffJobList")[0].params;
    let date = day.strftime("%Y-%m-%d").to_string();
    for (key, want) in [("start_date", &date), ("end_date", &date), ("union_code", &platform.union_code)] {
        assert!(sent.iter().any(|(k, v)| k == key && v == want), "{key} in {sent:?}");
    }
    let families = StaffJobDecoder::new(INTERVAL, telemetry.clone()).families(&[(Window::Today, rows)]);
    let tenants = label_values(&families, "sobot_platform_staff_valid_consult_sessions", "tenant");
    assert_eq!(tenants.len(), 5);
    assert_eq!(
        label_values(&families, "sobot_platform_staff_first_response_in60s_ratio", "window"),
        ["today".to_string()].into()
    );

    let items = client.staff_log_infos(None).await.expect("staff logs");
    assert_eq!(items.len(), 5);
    let sent = &sim.requests_to("getStaffLogInfos")[0].params;
    let keys: BTreeSet<&str> = sent.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["token", "ts", "unionCode"].into(), "no time range: the document's last week");
    let families = StaffStatusDecoder::new(INTERVAL, telemetry.clone()).families(&items);
    let status = families.iter().find(|f| &*f.name == "sobot_platform_staff_status").expect("status family");
    let current = status.samples.iter().filter(|s| s.value == 1.0).count();
    assert_eq!(current, 15, "one current state per staff");
    let other = ("status", "other".to_string());
    let others = status.samples.iter().filter(|s| s.labels.contains(&other));
    assert!(others.map(|s| s.value).all(|v| v == 0.0), "the simulator speaks only known words");
    assert_eq!(requests(&telemetry, "tenant_staff_job_list", "000000"), 1.0);
    assert_eq!(requests(&telemetry, "get_staff_log_infos", "200000"), 1.0);
}

#[tokio::test]
async fn without_tenants_the_documents_examples() {
    let platform = SimPlatform { tenants: Vec::new(), ..sim_platform(0) };
    let sim = simulator(platform.clone()).await;
    let (client, _) = client(&sim, credentials(&platform));
    let list = client.tenant_list().await.expect("tenants");
    assert_eq!(list.rows.len(), 3);
    assert_eq!(list.rows[0]["companyName"], "青樱格格02");
    let keys = client.batch_app_keys().await.expect("keys");
    let apps: Vec<&str> = keys.iter().map(|k| k.app_id.as_str()).collect();
    assert_eq!(
        apps,
        [
            "3cb9c7b8dd914621ae3db8bef000d0",
            "b17989cdf9b2428db63b90672b756015",
            "f6bbd4bce5924fde807dbd7ccc17af53"
        ]
    );
    let rows = client.staff_job_list(today()).await.expect("staff statistics");
    assert_eq!(rows[0]["first_response_in60s_rate"], "100%");
    let items = client.staff_log_infos(None).await.expect("staff logs");
    assert_eq!(items[0]["companyId"], "9e73cc58f2f7472d993e6772c250ed99");
}

#[tokio::test]
async fn a_wrong_union_key_or_email_is_a_typed_error_without_the_key() {
    let platform = sim_platform(2);
    let sim = simulator(platform.clone()).await;
    let wrong =
        PlatformCredentials { union_key: Secret::new("Wrong-Union-Key-77"), ..credentials(&platform) };
    let (client, telemetry) = client(&sim, wrong);
    let errors: Vec<UpstreamError> = vec![
        client.tenant_list().await.expect_err("tenant list"),
        client.batch_app_keys().await.expect_err("keys"),
        client.staff_job_list(today()).await.expect_err("staff statistics"),
        client.staff_log_infos(None).await.expect_err("staff logs"),
    ];
    for e in &errors {
        assert_eq!(e.api_code(), Some("910003"), "{e:?}");
        assert!(e.to_string().contains("union key"), "{e}");
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains("Wrong-Union-Key-77") && !text.contains(platform.union_key.expose()),
            "{text}"
        );
    }
    for endpoint in ["get_tenant_list", "get_batch_app_key", "tenant_staff_job_list", "get_staff_log_infos"] {
        assert_eq!(requests(&telemetry, endpoint, "910003"), 1.0, "{endpoint}");
    }
    let other_email =
        PlatformCredentials { email: "someone@else.example".to_string(), ..credentials(&platform) };
    let (client, _) = self::client(&sim, other_email);
    assert_eq!(client.tenant_list().await.map_err(|e| e.code_label()), Err("910003".to_string()));
    assert!(client.batch_app_keys().await.is_ok(), "only getTenantList's token has the email");
}

#[tokio::test]
async fn the_platforms_rate_limit_is_a_typed_error() {
    let platform = sim_platform(1);
    let sim = simulator(platform.clone()).await;
    // Two clients of one platform: each keeps its own count, the platform counts both.
    let (first, _) = client(&sim, credentials(&platform));
    let (second, telemetry) = client(&sim, credentials(&platform));
    for _ in 0..20 {
        first.batch_app_keys().await.expect("within the limit");
    }
    let e = second.batch_app_keys().await.expect_err("over the limit");
    assert_eq!(e.api_code(), Some("210017"), "{e:?}");
    assert!(e.to_string().contains("20 calls a minute"), "{e}");
    assert_eq!(requests(&telemetry, "get_batch_app_key", "210017"), 1.0);
    assert!(second.staff_log_infos(None).await.is_ok(), "each endpoint has its own limit");
}

#[tokio::test(start_paused = true)]
async fn the_limiter_keeps_each_endpoint_under_twenty_calls_a_minute() {
    let platform = sim_platform(2);
    let sim = simulator(platform.clone()).await;
    let (client, telemetry) = client(&sim, credentials(&platform));
    let start = tokio::time::Instant::now();
    for i in 0..45 {
        client.staff_job_list(today()).await.expect("never over the limit");
        if i == 30 {
            // Another endpoint does not wait for this one's.
            let before = tokio::time::Instant::now();
            client.staff_log_infos(None).await.expect("staff logs");
            assert!(before.elapsed() < Duration::from_secs(1), "waited {:?}", before.elapsed());
        }
    }
    assert!(
        start.elapsed() >= Duration::from_secs(122),
        "45 calls take two full windows: {:?}",
        start.elapsed()
    );
    let at: Vec<tokio::time::Instant> = sim.requests_to("tenantStaffJobList").iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 45);
    for (i, pair) in at.windows(21).enumerate() {
        let span = pair[20] - pair[0];
        assert!(span >= Duration::from_secs(60), "calls {i} to {} within {span:?}", i + 20);
    }
    assert_eq!(requests(&telemetry, "tenant_staff_job_list", "000000"), 45.0);
    assert!(sim.requests().iter().all(|r| r.code != "210017"));
}

#[tokio::test]
async fn a_union_key_echoed_by_the_platform_is_taken_out_of_the_error() {
    let platform = sim_platform(1);
    let sim = simulator(platform.clone()).await;
    let key = platform.union_key.expose().to_string();
    let body = format!(r#"{{"retCode": "999999", "retMsg": "key {key} unknown"}}"#);
    for endpoint in ["getTenantList", "getBatchAppKey"] {
        sim.set_fault(endpoint, Some(Fault::Body(body.clone())));
    }
    let (client, _) = client(&sim, credentials(&platform));
    let e = client.tenant_list().await.expect_err("the echo is an error");
    assert_eq!(e.to_string(), "upstream error 999999: key <redacted> unknown");
    let e = client.batch_app_keys().await.expect_err("the echo is an error");
    assert_eq!(e.to_string(), "upstream error 999999: key <redacted> unknown");
}

/// Issue 17: a lone surrogate escape in one company's name made the whole getBatchAppKey answer
/// "not JSON", and the tenant list froze. Now the name loses the bad character, counted.
#[tokio::test]
async fn a_lone_surrogate_costs_the_name_not_the_answer() {
    let platform = sim_platform(3);
    let sim = simulator(platform.clone()).await;
    let rows: Vec<String> = platform
        .tenants
        .iter()
        .enumerate()
        .map(|(i, t)| {
            // Written as JSON text: `\ud800` is an escape serde_json refuses in a string.
            let name = if i == 1 { r"Shop \ud800 two".to_string() } else { t.company_name.clone() };
            format!(
                r#"{{"appId": "{}", "appKey": "{}", "companyId": "{}", "companyName": "{name}"}}"#,
                t.app_id,
                t.app_key.expose(),
                t.company_id
            )
        })
        .collect();
    let body =
        format!(r#"{{"{}": {{"data": [{}]}}, "retCode": "000000"}}"#, platform.union_code, rows.join(","));
    sim.set_fault("getBatchAppKey", Some(Fault::Body(body)));
    let (client, telemetry) = client(&sim, credentials(&platform));
    let keys = client.batch_app_keys().await.expect("the answer is read");
    let names: Vec<&str> = keys.iter().map(|k| k.company_name.as_str()).collect();
    let want =
        [platform.tenants[0].company_name.as_str(), "Shop \u{fffd} two", &platform.tenants[2].company_name];
    assert_eq!(names, want);
    assert_eq!(keys[1].app_key, platform.tenants[1].app_key);
    assert_eq!(requests(&telemetry, "get_batch_app_key", "000000"), 1.0);
    let labels = vec![("endpoint", "get_batch_app_key".to_string()), ("field", "lone_surrogate".to_string())];
    assert_eq!(telemetry.get(sobot_exporter_core::telemetry::PARSE_ERRORS, &labels), Some(1.0));
}
