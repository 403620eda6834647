//! The fault matrix (issue 10): each upstream (Sobot statistics and quality, Laaffic, the platform's
//! discovery and statistics, a platform's tenant) under each fault, one line per case. For every
//! case, the real binary against its own simulator: no panic, `/metrics` prompt while the fault
//! lasts, the other collectors and tenants intact, the self-metrics naming the failure, and
//! recovery once the fault is cleared. The cases of one fault run at the same time.
//!
//! The exporter collects, in every case: the company's `human_session` (never faulted),
//! `get_service_data` (statistics), `quality_result` (quality), Laaffic's seats, the platform's
//! four collectors, and `robot_session` for each of two tenants.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sobot_exporter_core::upstream::UpstreamError;
use sobot_simulator::{SimPlatform, sim_platform};

use Expect::{Fails, Rejected, RowErrors};
use Inject::{ClockSkew, F, Refused, TokenHang, TokensExpired, Twice};
use Up::{Discovery, Laaffic, PlatformStats, Quality, Stats, Tenant};

/// How long a case waits for a state it expects.
const SECS: Duration = Duration::from_secs(30);
/// Far longer than the request timeout (2s in every case), and than [`PROMPT`].
const SLOW: Duration = Duration::from_secs(30);
/// A request that did not end in time: its own timeout, or its cycle's deadline (which comes first
/// when the interval is shorter than the timeout, as here).
const TIMED_OUT: &str = "timeout|deadline";
/// A scrape slower than this waited on something: one from memory takes milliseconds (up to a
/// second on a loaded machine), one stuck behind a hung or slow upstream 15s (the client's
/// timeout) or more.
const PROMPT: Duration = Duration::from_secs(3);
/// The company statistics collectors.
const COMPANY: [&str; 3] = ["human_session", "get_service_data", "quality_result"];
/// The platform's own collectors.
const PLATFORM: [&str; 4] =
    ["platform_discovery", "platform_tenants", "platform_staff_jobs", "platform_staff_status"];

/// The upstream a case faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Up {
    /// The company's `get_service_data` (the statistics API).
    Stats,
    /// The company's `quality_result`.
    Quality,
    /// Laaffic's seat query.
    Laaffic,
    /// The platform's getBatchAppKey.
    Discovery,
    /// The platform's getTenantList.
    PlatformStats,
    /// The first tenant's `robot_session` (or its token).
    Tenant,
}

/// What a case does to the upstream.
#[derive(Clone, Debug)]
enum Inject {
    /// The simulator answers the upstream's endpoint (for the company or the tenant only) so.
    F(Fault),
    /// The simulator answers the upstream's endpoint so, twice (for everyone who calls it).
    Twice(Fault),
    /// The upstream's host refuses connections (Sobot's host serves statistics, quality and the
    /// platform alike: all of them are refused).
    Refused,
    /// The company's (tenant's) token is invalidated and its get_token hangs.
    TokenHang,
    /// Every token of the company (tenant) is refused as expired on every call.
    TokensExpired,
    /// The upstream's clock is this many seconds ahead.
    ClockSkew(i64),
}

/// What the exporter must make of it.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The faulted collectors fail, and a request is counted under this `code` (or one of
    /// `a|b`).
    Fails(&'static str),
    /// The faulted collectors fail on an answer whose envelope was good and whose shape is not
    /// the document's: the request counts as `invalid_response` (as a body that is not JSON
    /// does), and the log says what failed (`invalid response: …`).
    Rejected,
    /// The collectors keep succeeding; the rows that do not fit are counted in
    /// `sobot_exporter_parse_errors_total` of the endpoint.
    RowErrors,
}

/// A collector of one target: (tenant, name).
type Id = (Option<String>, &'static str);

struct Env {
    sim: Simulator,
    platform: SimPlatform,
    exporter: Exporter,
    /// The host that refuses, and the port it will serve on once the fault is cleared.
    refused: Option<std::net::SocketAddr>,
}

/// The label set of a collector's self-metrics, as written in the exposition.
fn labels((tenant, name): &Id) -> String {
    match tenant {
        Some(t) => format!("{{tenant=\"{t}\",collector=\"{name}\"}}"),
        None => format!("{{collector=\"{name}\"}}"),
    }
}

fn success(m: &Metrics, id: &Id) -> Option<f64> {
    m.get(&format!("sobot_exporter_collector_success{}", labels(id)))
}

/// Whether `sobot_exporter_upstream_requests_total` counted `code` (for `endpoint`, of `tenant`).
fn counted(m: &Metrics, tenant: Option<&str>, endpoint: Option<&str>, code: &str) -> bool {
    m.family("sobot_exporter_upstream_requests_total").iter().any(|(k, v)| {
        *v > 0.0
            && code.split('|').any(|code| k.contains(&format!("code=\"{code}\"")))
            && endpoint.is_none_or(|e| k.contains(&format!("endpoint=\"{e}\"")))
            && match tenant {
                Some(t) => k.contains(&format!("tenant=\"{t}\"")),
                None => !k.contains("tenant="),
            }
    })
}

impl Env {
    /// `timeout`: of every upstream request (the large answers need more than the others in a
    /// debug build on a loaded machine).
    async fn start(name: &str, refused: Option<Up>, timeout: &str) -> Env {
        let platform = sim_platform(2);
        let config = SimConfig { platform: Some(platform.clone()), ..SimConfig::fixtures(APP_ID, APP_KEY) };
        let sim = Simulator::start(config).await.expect("simulator");
        let dead = refused.map(|_| {
            let port = free_port();
            std::net::SocketAddr::from(([127, 0, 0, 1], port))
        });
        let url = |up: Up| match (refused, dead) {
            (Some(r), Some(addr)) if (r == Laaffic) == (up == Laaffic) => format!("http://{addr}"),
            _ => sim.base_url(),
        };
        let dir = temp_dir(name);
        let yaml = format!(
            "collectors: [human_session, get_service_data, quality_result, laaffic_seats]\n\
             quality: {{interval: 500ms}}\n\
             sobot: {{timeout: {timeout}, connect_timeout: 2s}}\n\
             laaffic: {{timeout: {timeout}, connect_timeout: 2s}}\n\
             platform:\n  union_code: \"{}\"\n  email: {}\n  interval: 1s\n  collectors: [robot_session]\n",
            platform.union_code, platform.email
        );
        let config = write_file(&dir, "config.yml", &yaml);
        let key = platform.union_key.expose().to_string();
        let laaffic = url(Laaffic);
        let exporter = Exporter::start_with_env(
            name,
            &url(Stats),
            &[
                "--collect.interval",
                "500ms",
                "--config.file",
                config.to_str().expect("utf8"),
                "--laaffic.base-url",
                &laaffic,
            ],
            &[
                ("SOBOT_APP_ID", APP_ID),
                ("SOBOT_APP_KEY", APP_KEY),
                ("LAAFFIC_API_KEY", LAAFFIC_KEY),
                ("LAAFFIC_API_SECRET", LAAFFIC_SECRET),
                ("SOBOT_PLATFORM_UNION_KEY", &key),
            ],
        )
        .await;
        Env { sim, platform, exporter, refused: dead }
    }

    fn tenant(&self, i: usize) -> String {
        self.platform.tenants[i].company_id.clone()
    }

    /// Every collector of the exporter.
    fn all(&self) -> Vec<Id> {
        let mut ids: Vec<Id> =
            COMPANY.iter().chain(&["laaffic_seats"]).chain(&PLATFORM).map(|c| (None, *c)).collect();
        ids.extend((0..2).map(|i| (Some(self.tenant(i)), "robot_session")));
        ids
    }

    /// The collectors a case's fault reaches.
    fn affected(&self, up: Up, inject: &Inject) -> Vec<Id> {
        let company = || COMPANY.iter().map(|c| (None, *c)).collect();
        match (up, inject) {
            (_, ClockSkew(_)) => PLATFORM.iter().chain(&["laaffic_seats"]).map(|c| (None, *c)).collect(),
            (Laaffic, _) => vec![(None, "laaffic_seats")],
            (_, Refused) => self.all().into_iter().filter(|(_, c)| *c != "laaffic_seats").collect(),
            (Stats | Quality, TokenHang | TokensExpired) => company(),
            (Stats, _) => vec![(None, "get_service_data")],
            (Quality, _) => vec![(None, "quality_result")],
            (Discovery, _) => vec![(None, "platform_discovery")],
            (PlatformStats, _) => vec![(None, "platform_tenants")],
            (Tenant, _) => vec![(Some(self.tenant(0)), "robot_session")],
        }
    }

    /// Where the failure is counted: (tenant, endpoint label); `None`: any endpoint.
    fn counted_at(&self, up: Up, inject: &Inject) -> (Option<String>, Option<&'static str>) {
        let tenant = (up == Tenant).then(|| self.tenant(0));
        let endpoint = match (up, inject) {
            (Laaffic, _) => Some("seat_query"),
            (_, Refused) => None,
            (_, TokenHang) => Some("get_token"),
            (Stats, _) => Some("get_service_data"),
            (Quality, _) => Some("quality_result"),
            (Discovery, _) => Some("get_batch_app_key"),
            (PlatformStats, _) => Some("get_tenant_list"),
            (Tenant, _) => Some("robot_session"),
        };
        (tenant, endpoint)
    }

    /// The app id and the simulator endpoint a fault of `up` goes to.
    fn target(&self, up: Up) -> (String, &'static str) {
        match up {
            Stats => (APP_ID.to_string(), "get_service_data"),
            Quality => (APP_ID.to_string(), "quality_result"),
            Laaffic => (String::new(), "query"),
            Discovery => (String::new(), "getBatchAppKey"),
            PlatformStats => (String::new(), "getTenantList"),
            Tenant => (self.platform.tenants[0].app_id.clone(), "robot_session"),
        }
    }

    /// Turns the fault on (`true`) or off.
    async fn apply(&mut self, up: Up, inject: &Inject, on: bool) -> Option<Simulator> {
        let (app_id, endpoint) = self.target(up);
        match inject {
            F(fault) => {
                let fault = on.then(|| fault.clone());
                if app_id.is_empty() {
                    self.sim.set_fault(endpoint, fault);
                } else {
                    self.sim.set_fault_for(&app_id, endpoint, fault);
                }
            }
            Twice(fault) if on => self.sim.inject(endpoint, fault.clone(), 2),
            Twice(_) => {}
            TokenHang => {
                self.sim.set_fault_for(&app_id, "get_token", on.then_some(Fault::Hang));
                if on {
                    self.sim.expire_token_of(&app_id);
                }
            }
            TokensExpired => self.sim.set_tokens_expired(&app_id, on),
            ClockSkew(s) => self.sim.set_clock_skew(if on { *s } else { 0 }),
            // Refused from the start; cleared by a simulator on the refused port.
            Refused if !on => {
                let addr = self.refused.expect("a refused port");
                let listener = std::net::TcpListener::bind(addr).expect("the refused port is still free");
                let config = SimConfig {
                    platform: Some(self.platform.clone()),
                    ..SimConfig::fixtures(APP_ID, APP_KEY)
                };
                return Some(Simulator::start_on(listener, config).await.expect("simulator"));
            }
            Refused => {}
        }
        None
    }
}

/// Scrapes until `check` holds, or panics after [`SECS`] with the self-metrics and the warnings.
async fn wait(
    exporter: &Exporter,
    what: &str,
    timeout: Duration,
    check: impl Fn(&Metrics) -> bool,
) -> Metrics {
    let deadline = Instant::now() + timeout;
    loop {
        let m = scrape(exporter).await;
        if check(&m) {
            return m;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}:\n{}", health(&m, exporter));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One client for every scrape (building one costs more than the scrape).
fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| reqwest::Client::builder().timeout(Duration::from_secs(15)).build().expect("client"))
}

async fn scrape(exporter: &Exporter) -> Metrics {
    let response = client().get(exporter.url("/metrics")).send().await.expect("scrape");
    Metrics::parse(&response.text().await.expect("body"))
}

/// The collectors' success and the requests by code, and the log's warnings: what a failed case
/// shows.
fn health(m: &Metrics, exporter: &Exporter) -> String {
    let mut out: Vec<String> = m
        .series
        .iter()
        .filter(|(k, _)| {
            ["collector_success", "upstream_requests_total", "parse_errors_total", "collector_series"]
                .iter()
                .any(|f| k.starts_with(&format!("sobot_exporter_{f}")))
        })
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let logs = exporter.logs();
    out.extend(
        logs.lines()
            .filter(|l| !l.contains("\"INFO\"") && !l.contains("\"DEBUG\""))
            .take(30)
            .map(str::to_string),
    );
    out.join("\n")
}

/// Runs one case.
async fn case(up: Up, inject: Inject, expect: Expect) {
    let name =
        format!("{up:?}_{inject:?}").chars().filter(char::is_ascii_alphanumeric).take(40).collect::<String>();
    let refused = matches!(inject, Refused).then_some(up);
    let large = matches!(inject, F(Fault::Large(_)) | Twice(Fault::Large(_)));
    let mut env = Env::start(&name, refused, if large { "10s" } else { "2s" }).await;
    let all = env.all();
    let affected = env.affected(up, &inject);
    let others: Vec<Id> = all.iter().filter(|id| !affected.contains(id)).cloned().collect();
    let what = format!("{up:?} under {inject:?}");
    let t0 = Instant::now();

    // Every collector succeeds before the fault (the others only, when it is there from the start).
    let before = if refused.is_none() { &all } else { &others };
    wait(&env.exporter, &format!("{what}: every collector before the fault"), SECS, |m| {
        before.iter().all(|id| success(m, id) == Some(1.0))
    })
    .await;
    let t_before = t0.elapsed();
    env.apply(up, &inject, true).await;
    let (tenant, endpoint) = env.counted_at(up, &inject);
    match expect {
        Fails(code) => {
            wait(&env.exporter, &format!("{what}: the failure named"), SECS, |m| {
                affected.iter().all(|id| success(m, id).is_none_or(|v| v == 0.0))
                    && affected.iter().any(|id| success(m, id) == Some(0.0))
                    && counted(m, tenant.as_deref(), endpoint, code)
            })
            .await;
        }
        Rejected => {
            wait(&env.exporter, &format!("{what}: the failure named"), SECS, |m| {
                affected.iter().all(|id| success(m, id) == Some(0.0))
                    && counted(m, tenant.as_deref(), endpoint, "invalid_response")
                    && env.exporter.logs().contains("invalid response")
            })
            .await;
        }
        RowErrors => {
            let endpoint = endpoint.expect("an endpoint");
            let rows = |m: &Metrics| {
                m.family("sobot_exporter_parse_errors_total")
                    .iter()
                    .filter(|(k, _)| {
                        k.contains(&format!("endpoint=\"{endpoint}\""))
                            && tenant.as_ref().is_none_or(|t| k.contains(&format!("tenant=\"{t}\"")))
                    })
                    .map(|(_, v)| *v)
                    .sum::<f64>()
            };
            // Two cycles' worth of row errors.
            let first =
                wait(&env.exporter, &format!("{what}: row errors counted"), SECS, |m| rows(m) > 0.0).await;
            wait(&env.exporter, &format!("{what}: more row errors"), SECS, |m| rows(m) > rows(&first)).await;
        }
    }
    // While the fault lasts: alive, prompt, the others intact.
    for _ in 0..3 {
        let started = Instant::now();
        let m = scrape(&env.exporter).await;
        let took = started.elapsed();
        assert!(took < PROMPT, "{what}: a scrape took {took:?}");
        let intact = if matches!(expect, RowErrors) { &all } else { &others };
        let failed: Vec<&Id> = intact.iter().filter(|id| success(&m, id) != Some(1.0)).collect();
        assert!(failed.is_empty(), "{what}: {failed:?} failed too:\n{}", health(&m, &env.exporter));
        assert!(env.exporter.exited().is_none(), "{what}: the exporter exited: {}", env.exporter.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if large {
        // Measured, not asserted (bounded decoding is another change's): the peak so far.
        let hwm = std::fs::read_to_string(format!("/proc/{}/status", env.exporter.pid()))
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
            .unwrap_or_default();
        eprintln!("{what}: exporter {hwm}");
    }
    // Code labels stay within the documented set.
    let m = scrape(&env.exporter).await;
    let codes = m.family("sobot_exporter_upstream_requests_total");
    for k in codes.keys() {
        let code = k.split("code=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or_default();
        // A transport outcome (`timeout`, `http_503`), or a documented code (its own label).
        let word = code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let known = word || UpstreamError::api(code, "").code_label() == code;
        assert!(known, "{what}: an undocumented code became a label: {k}");
    }

    // Recovery on the next good cycles.
    let t_fault = t0.elapsed();
    let _recovered = env.apply(up, &inject, false).await;
    wait(&env.exporter, &format!("{what}: recovery"), SECS, |m| {
        all.iter().all(|id| success(m, id) == Some(1.0))
    })
    .await;
    eprintln!("{what}: ready {t_before:?}, fault {t_fault:?}, recovered {:?}", t0.elapsed());
    let logs = env.exporter.logs();
    assert!(!logs.contains("panicked"), "{what}: {logs}");
    assert!(!logs.contains(APP_KEY), "{what}: the app key was logged");
}

/// Runs the cases at the same time; fails with every case that failed.
async fn matrix(cases: &[(Up, Inject, Expect)]) {
    let mut set = tokio::task::JoinSet::new();
    for (up, inject, expect) in cases.iter().cloned() {
        set.spawn(case(up, inject, expect));
    }
    let mut failures = Vec::new();
    while let Some(done) = set.join_next().await {
        if let Err(e) = done {
            failures.push(match e.try_into_panic() {
                Ok(p) => p.downcast_ref::<String>().cloned().unwrap_or_else(|| format!("{p:?}")),
                Err(e) => e.to_string(),
            });
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_refused() {
    matrix(&[
        // Sobot's host serves the statistics, quality and platform APIs: all of them refuse.
        (Stats, Refused, Fails("connect")),
        (Laaffic, Refused, Fails("connect")),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_mid_answer() {
    matrix(&[
        (Stats, F(Fault::ResetAfter(40)), Fails("reset")),
        (Quality, F(Fault::ResetAfter(40)), Fails("reset")),
        (Laaffic, F(Fault::ResetAfter(40)), Fails("reset")),
        (Discovery, F(Fault::ResetAfter(40)), Fails("reset")),
        (PlatformStats, F(Fault::ResetAfter(40)), Fails("reset")),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_5xx() {
    matrix(&[
        (Stats, F(Fault::Http(503)), Fails("http_503")),
        (Quality, F(Fault::Http(500)), Fails("http_500")),
        (Laaffic, F(Fault::Http(502)), Fails("http_502")),
        (Discovery, F(Fault::Http(504)), Fails("http_504")),
        (PlatformStats, F(Fault::Http(503)), Fails("http_503")),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn html_with_status_200() {
    matrix(&[
        (Stats, F(Fault::Html), Fails("invalid_response")),
        (Quality, F(Fault::Html), Fails("invalid_response")),
        (Laaffic, F(Fault::Html), Fails("invalid_response")),
        (Discovery, F(Fault::Html), Fails("invalid_response")),
        (PlatformStats, F(Fault::Html), Fails("invalid_response")),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_json() {
    matrix(&[
        (Stats, F(Fault::Truncated), Fails("invalid_response")),
        (Quality, F(Fault::Truncated), Fails("invalid_response")),
        (Laaffic, F(Fault::Truncated), Fails("invalid_response")),
        (Discovery, F(Fault::Truncated), Fails("invalid_response")),
        (PlatformStats, F(Fault::Truncated), Fails("invalid_response")),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_list_where_an_object_is_expected() {
    matrix(&[
        (Stats, F(Fault::ListForObject), RowErrors),
        (Quality, F(Fault::ListForObject), RowErrors),
        (Laaffic, F(Fault::ListForObject), Fails("invalid_response")),
        (Discovery, F(Fault::ListForObject), Rejected),
        (PlatformStats, F(Fault::ListForObject), RowErrors),
        (Tenant, F(Fault::ListForObject), Rejected),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_where_a_list_is_expected() {
    matrix(&[
        (Stats, F(Fault::ObjectForList), Rejected),
        (Quality, F(Fault::ObjectForList), Rejected),
        (Laaffic, F(Fault::ObjectForList), Rejected),
        (Discovery, F(Fault::ObjectForList), Rejected),
        (PlatformStats, F(Fault::ObjectForList), Rejected),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_string_where_the_data_is_expected() {
    matrix(&[
        (Stats, F(Fault::StringForData), Rejected),
        (Quality, F(Fault::StringForData), Rejected),
        (Laaffic, F(Fault::StringForData), Rejected),
        (Discovery, F(Fault::StringForData), Rejected),
        (PlatformStats, F(Fault::StringForData), Rejected),
        (Tenant, F(Fault::StringForData), Rejected),
    ])
    .await;
}

/// A wrong-shape answer is a failed cycle like any other: the last good samples stay (for three
/// intervals), the request is counted as `invalid_response`, never under the success code.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_shape_keeps_the_last_good_samples() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("wrong_shape_kept", &sim.base_url(), &["--collect.interval", "2s"]).await;
    let series = "sobot_robot_valid_sessions{window=\"today\"}";
    let good = exporter.wait_for("a good cycle", SECS, |m| m.success("robot_session") == Some(1.0)).await;
    let value = good.get(series).expect("a sample of the good cycle");
    let ok = good.requests("robot_session", "000000");
    sim.set_fault("robot_session", Some(Fault::StringForData));
    let m = exporter
        .wait_for("the wrong shape counted", SECS, |m| m.requests("robot_session", "invalid_response") > 0.0)
        .await;
    assert_eq!(m.success("robot_session"), Some(0.0), "the cycle failed");
    assert_eq!(m.get(series), Some(value), "the last good sample is kept");
    assert_eq!(m.requests("robot_session", "000000"), ok, "no success counted for it");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_answer() {
    matrix(&[
        (Stats, F(Fault::Delay(SLOW)), Fails(TIMED_OUT)),
        (Quality, F(Fault::Delay(SLOW)), Fails(TIMED_OUT)),
        (Laaffic, F(Fault::Delay(SLOW)), Fails(TIMED_OUT)),
        (Discovery, F(Fault::Delay(SLOW)), Fails(TIMED_OUT)),
        (PlatformStats, F(Fault::Delay(SLOW)), Fails(TIMED_OUT)),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_token_fetch() {
    // Laaffic and the platform sign every request: they have no token to fetch.
    matrix(&[(Stats, TokenHang, Fails(TIMED_OUT)), (Tenant, TokenHang, Fails(TIMED_OUT))]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limit_code() {
    // Laaffic documents no rate-limit status; the platform's is the simulator's reading (210017).
    matrix(&[
        (Stats, F(Fault::RetCode("210017")), Fails("210017")),
        (Quality, F(Fault::RetCode("210017")), Fails("210017")),
        (Discovery, F(Fault::RetCode("210017")), Fails("210017")),
        (PlatformStats, F(Fault::RetCode("210017")), Fails("210017")),
        (Tenant, F(Fault::RetCode("210017")), Fails("210017")),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_on_every_call() {
    matrix(&[(Stats, TokensExpired, Fails("910002")), (Tenant, TokensExpired, Fails("910002"))]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clock_skew() {
    // The simulator has one clock: Laaffic refuses a Timestamp more than five minutes off (-16),
    // the platform a ts (its reading: 910003), together; Sobot's documents give create_time no
    // tolerance, so the company and the tenants stay intact.
    matrix(&[(Laaffic, ClockSkew(600), Fails("-16")), (Discovery, ClockSkew(-600), Fails("910003"))]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn random_result_codes() {
    matrix(&[
        (Stats, F(Fault::RandomCode), Fails("other")),
        (Quality, F(Fault::RandomCode), Fails("other")),
        (Laaffic, F(Fault::RandomCode), Fails("other")),
        (Discovery, F(Fault::RandomCode), Fails("other")),
        (PlatformStats, F(Fault::RandomCode), Fails("other")),
        (Tenant, F(Fault::RandomCode), Fails("other")),
    ])
    .await;
}

/// A 10 MiB answer: the normal one with `{"a":1}` rows to 10 MiB. Two of them, and one upstream
/// per test, so that no more than two such exporters run at once: decoding one costs seconds of CPU
/// in a debug build (and ~80 times its size in memory, the open defect of issue 10), which on a
/// loaded machine would starve the other collectors of a process decoding them without end.
const TEN_MIB: Inject = Twice(Fault::Large(10 << 20));

#[tokio::test(flavor = "multi_thread")]
async fn a_10_mib_answer_of_statistics() {
    matrix(&[(Stats, TEN_MIB, RowErrors)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_10_mib_answer_of_quality() {
    matrix(&[(Quality, TEN_MIB, RowErrors)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_10_mib_answer_of_laaffic() {
    matrix(&[(Laaffic, TEN_MIB, RowErrors)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_10_mib_answer_of_discovery() {
    matrix(&[(Discovery, TEN_MIB, RowErrors)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_10_mib_answer_of_platform_statistics() {
    matrix(&[(PlatformStats, TEN_MIB, RowErrors)]).await;
}
