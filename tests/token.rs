//! The token protocol at the client level: shared, refreshed ahead of expiry, refreshed once.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use sobot_exporter::secret::Secret;
use sobot_exporter::sources::sobot::client::{Credentials, SobotClient};
use sobot_exporter::sources::sobot::endpoints::Endpoint;
use sobot_exporter::table::Method;
use sobot_exporter::telemetry::Telemetry;
use sobot_exporter::upstream::ClientSettings;

fn client(base_url: &str) -> Arc<SobotClient> {
    let settings = ClientSettings {
        base_url: base_url.to_string(),
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
        rate_limit_per_minute: 1000,
    };
    let credentials = Credentials { app_id: APP_ID.to_string(), app_key: Secret::new(APP_KEY) };
    let http = sobot_exporter::upstream::http_client(&settings).expect("client");
    let telemetry = Arc::new(Telemetry::new());
    Arc::new(SobotClient::new(&settings, http, credentials, telemetry, Duration::from_secs(1)))
}

async fn robot_session(
    client: &SobotClient,
) -> Result<serde_json::Value, sobot_exporter::upstream::UpstreamError> {
    let ep = Endpoint::by_name("robot_session").expect("in the table");
    let params = [("start_date", "2019-08-01 01".to_string()), ("end_date", "2019-11-01 03".to_string())];
    client.call(ep.name, Method::Post, ep.path, &params, Ok).await
}

type Call = tokio::task::JoinHandle<Result<serde_json::Value, sobot_exporter::upstream::UpstreamError>>;

fn twenty_at_once(client: &Arc<SobotClient>) -> Vec<Call> {
    (0..20)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { robot_session(&client).await })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_callers_wait_for_one_refresh() {
    let sim = fixture_simulator().await;
    let client = client(&sim.base_url());
    // Twenty callers at once, before any token exists: one fetch.
    let calls = twenty_at_once(&client);
    for call in calls {
        assert!(call.await.expect("task").is_ok());
    }
    assert_eq!(sim.tokens_issued(), 1);
    // The token expires upstream: twenty callers get 910002, one new token is fetched.
    sim.expire_token();
    let calls = twenty_at_once(&client);
    for call in calls {
        let body = call.await.expect("task").expect("retried with the new token");
        assert_eq!(body["item"]["self_reception_rate"], "53.49%");
    }
    assert_eq!(sim.tokens_issued(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_is_refreshed_ahead_of_expiry() {
    let config = SimConfig { token_lifetime: Duration::from_secs(2), ..SimConfig::fixtures(APP_ID, APP_KEY) };
    let sim = Simulator::start(config).await.expect("simulator");
    let client = client(&sim.base_url());
    robot_session(&client).await.expect("first call");
    tokio::time::sleep(Duration::from_millis(1900)).await; // past 90 % of 2 s, before expiry
    robot_session(&client).await.expect("second call");
    assert_eq!(sim.tokens_issued(), 2, "refreshed at 90 % of its lifetime");
    assert!(
        sim.requests_to("robot_session").iter().all(|r| r.code == "000000"),
        "never used an expired token"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_910002_is_not_retried_again() {
    let sim = fixture_simulator().await;
    let client = client(&sim.base_url());
    robot_session(&client).await.expect("first call");
    sim.inject("robot_session", Fault::RetCode("910002"), 2);
    let err = robot_session(&client).await.expect_err("two 910002 in a row fail the call");
    assert_eq!(err.code_label(), "910002");
    assert_eq!(sim.tokens_issued(), 2, "one re-fetch, one retry");
    assert_eq!(sim.requests_to("robot_session").len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_refresh_ahead_of_expiry_keeps_the_valid_token() {
    let config = SimConfig { token_lifetime: Duration::from_secs(2), ..SimConfig::fixtures(APP_ID, APP_KEY) };
    let sim = Simulator::start(config).await.expect("simulator");
    let client = client(&sim.base_url());
    robot_session(&client).await.expect("first call");
    tokio::time::sleep(Duration::from_millis(1900)).await; // past 90 % of 2 s, before expiry
    sim.inject("get_token", Fault::Http(503), 1);
    let body = robot_session(&client).await.expect("the token still works while the refresh fails");
    assert_eq!(body["item"]["self_reception_rate"], "53.49%");
    assert_eq!(sim.tokens_issued(), 1);
    assert_eq!(sim.requests_to("get_token").len(), 2, "one refresh was tried");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_or_key_echoed_by_the_upstream_is_taken_out_of_the_error() {
    let sim = fixture_simulator().await;
    let sobot = client(&sim.base_url());
    robot_session(&sobot).await.expect("the first call succeeds");
    let token = sim.current_token().expect("a token was issued");
    let body = format!(r#"{{"ret_code": "210005", "ret_msg": "token {token}, key {APP_KEY}"}}"#);
    sim.set_fault("robot_session", Some(Fault::Body(body)));
    let e = robot_session(&sobot).await.expect_err("the echo is an error");
    assert_eq!(e.to_string(), "upstream error 210005: token <redacted>, key <redacted>");
    // The token fetch too.
    let body = format!(r#"{{"ret_code": "910003", "ret_msg": "no key {APP_KEY}"}}"#);
    sim.set_fault("get_token", Some(Fault::Body(body)));
    let e = client(&sim.base_url()).ensure_token().await.expect_err("no token");
    assert_eq!(e.to_string(), "upstream error 910003: no key <redacted>");
}

/// Issue 17: clients of the same credentials (two tenants listed with one app id, a target
/// restarted by a reload) share one token; other credentials have their own.
#[tokio::test(flavor = "multi_thread")]
async fn clients_of_the_same_credentials_share_one_token() {
    let sim = fixture_simulator().await;
    let tokens = sobot_exporter::sources::sobot::client::Tokens::default();
    let shared = || Arc::new(Arc::into_inner(client(&sim.base_url())).expect("one owner").sharing(&tokens));
    let (a, b) = (shared(), shared());
    for _ in 0..5 {
        robot_session(&a).await.expect("a's call");
        robot_session(&b).await.expect("b's call");
    }
    assert_eq!(sim.tokens_issued(), 1, "one token for both");
    assert_eq!(tokens.len(), 1);
    let slash = Arc::into_inner(client(&format!("{}/", sim.base_url()))).expect("one owner").sharing(&tokens);
    assert_eq!(tokens.len(), 1, "a trailing slash is the same base URL");
    robot_session(&slash).await.expect("the same token");
    assert_eq!(sim.tokens_issued(), 1);
    let credentials = Credentials { app_id: APP_ID.to_string(), app_key: Secret::new(APP_KEY) };
    let base = sim.base_url();
    tokens.retain([(base.as_str(), &credentials)]);
    assert_eq!(tokens.len(), 1);
    tokens.retain([]);
    assert!(tokens.is_empty());
    // Without sharing, each client fetches its own.
    let (c, d) = (client(&sim.base_url()), client(&sim.base_url()));
    robot_session(&c).await.expect("c's call");
    robot_session(&d).await.expect("d's call");
    assert_eq!(sim.tokens_issued(), 3);
}
