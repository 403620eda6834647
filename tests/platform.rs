//! Platform mode with the real binary against the simulated platform: every tenant discovered and
//! collected with its own values and token, a tenant with a wrong key contained, the platform's
//! limit of 20 calls a minute kept, /sd and /probe, two shards that split the tenants, and real
//! Prometheus agents that find every tenant exactly once through /sd.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use sobot_simulator::{SimPlatform, sim_platform};

const SECS: Duration = Duration::from_secs(40);

/// A platform of `n` tenants; the tenant at `wrong` (if any) is listed with a key get_token
/// refuses.
async fn platform(n: usize, wrong: Option<usize>) -> (Simulator, SimPlatform) {
    let mut platform = sim_platform(n);
    if let Some(i) = wrong {
        platform.tenants[i].accepted_key =
            Some(sobot_exporter_core::secret::Secret::new("not-the-listed-key"));
    }
    let config = SimConfig { platform: Some(platform.clone()), ..SimConfig::fixtures(APP_ID, APP_KEY) };
    (Simulator::start(config).await.expect("simulator"), platform)
}

/// The exporter in platform mode only (no company credentials), with `extra` flags.
async fn exporter(
    name: &str,
    sim: &Simulator,
    platform: &SimPlatform,
    interval: &str,
    extra: &[&str],
) -> Exporter {
    exporter_with(name, sim, platform, interval, extra, &[]).await
}

/// [`exporter`] with more environment (a company's credentials, say).
async fn exporter_with(
    name: &str,
    sim: &Simulator,
    platform: &SimPlatform,
    interval: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Exporter {
    let dir = temp_dir(name);
    let yaml = format!(
        "platform:\n  union_code: \"{}\"\n  email: {}\n  interval: {interval}\n",
        platform.union_code, platform.email
    );
    let config = write_file(&dir, "config.yml", &yaml);
    let mut args = vec!["--collect.interval", "500ms", "--config.file", config.to_str().expect("utf8")];
    args.extend_from_slice(extra);
    let key = platform.union_key.expose().to_string();
    let mut env: Vec<(&str, &str)> = env.to_vec();
    env.push(("SOBOT_PLATFORM_UNION_KEY", &key));
    Exporter::start_with_env(name, &sim.base_url(), &args, &env).await
}

fn collector_success(m: &Metrics, tenant: &str, collector: &str) -> Option<f64> {
    m.get(&format!("sobot_exporter_collector_success{{tenant=\"{tenant}\",collector=\"{collector}\"}}"))
}

fn today() -> jiff::civil::Date {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
    jiff::Timestamp::now().to_zoned(tz).date()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_tenant_is_collected_with_its_own_values_and_one_token() {
    let wrong = 7;
    let (sim, platform) = platform(42, Some(wrong)).await;
    let exporter = exporter("platform42", &sim, &platform, "300ms", &[]).await;
    let good: Vec<_> =
        platform.tenants.iter().enumerate().filter(|(i, _)| *i != wrong).map(|(_, t)| t).collect();
    let bad = &platform.tenants[wrong];
    let m = exporter
        .wait_for("every good tenant collected, the bad one failing", SECS, |m| {
            good.iter().all(|t| STATS.iter().all(|c| collector_success(m, &t.company_id, c) == Some(1.0)))
                && collector_success(m, &bad.company_id, "robot_session") == Some(0.0)
                && m.family("sobot_platform_tenant_info").len() == 42
                && m.get("sobot_exporter_platform_tenants_discovered").is_some()
        })
        .await;

    // Each tenant's own values, labelled with its company id.
    let day = today();
    for t in &good {
        let item = sobot_simulator::Simulator::tenant_item("robot_session", &t.app_id, day).expect("item");
        let want: f64 = item["consult_session"].as_str().expect("string").parse().expect("count");
        let series = format!("sobot_robot_consult_sessions{{tenant=\"{}\",window=\"today\"}}", t.company_id);
        assert_eq!(m.get(&series), Some(want), "{series}");
        for endpoint in sobot_exporter_core::sources::sobot::endpoints::ENDPOINTS
            .iter()
            .filter(|e| STATS.contains(&e.name))
        {
            let field = &endpoint.fields[0];
            let any = m.family(field.metric);
            assert!(
                any.keys().any(|k| k.contains(&format!("tenant=\"{}\"", t.company_id))),
                "{}",
                field.metric
            );
        }
    }
    let values: BTreeSet<String> = good
        .iter()
        .filter_map(|t| {
            m.get(&format!("sobot_robot_consult_sessions{{tenant=\"{}\",window=\"today\"}}", t.company_id))
        })
        .map(|v| v.to_string())
        .collect();
    assert!(values.len() > 10, "tenants have values of their own: {values:?}");
    // The platform's own series: one info series per tenant, the discovery figures.
    assert_eq!(m.family("sobot_platform_tenant_info").len(), 42);
    assert_eq!(m.get("sobot_exporter_platform_tenants_discovered"), Some(42.0));
    assert_eq!(m.get("sobot_exporter_platform_tenants_served"), Some(42.0));
    assert_eq!(m.get("sobot_exporter_platform_discovery_success"), Some(1.0));
    assert_eq!(m.get("sobot_exporter_platform_shard_info{shard=\"1\",shards=\"1\"}"), Some(1.0));

    // Many cycles later: one token per good tenant; the bad one at most one attempt a cycle.
    let first = &good[0].app_id;
    exporter.wait_for("several cycles", SECS, |_| sim.requests_for(first, "robot_session").len() >= 6).await;
    for t in &good {
        assert_eq!(sim.tokens_issued_to(&t.app_id), 1, "{} fetched more than one token", t.company_id);
    }
    let attempts = sim.requests_for(&bad.app_id, "get_token");
    assert!(!attempts.is_empty());
    for pair in attempts.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(420),
            "token attempts {:?} apart",
            pair[1].at - pair[0].at
        );
    }
    // The platform endpoints never above 20 calls a minute, although the interval asks for more.
    for endpoint in ["getBatchAppKey", "getTenantList", "tenantStaffJobList", "getStaffLogInfos"] {
        let calls = sim.requests_to(endpoint).len();
        assert!((1..=20).contains(&calls), "{endpoint}: {calls} calls within a minute");
    }
    // Keys stay secret.
    let logs = exporter.logs();
    let body = exporter.scrape().await;
    for t in &platform.tenants {
        assert!(
            !logs.contains(t.app_key.expose()) && !body.contains(t.app_key.expose()),
            "an app key leaked"
        );
    }
    assert!(!logs.contains(platform.union_key.expose()) && !body.contains(platform.union_key.expose()));
    assert!(!logs.contains("panicked"));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_shards_split_the_tenants_and_each_serves_its_own_through_sd_and_probe() {
    let (sim, platform) = platform(30, None).await;
    let one = exporter("shard1", &sim, &platform, "2s", &["--platform.shard", "1/2"]).await;
    let two = exporter("shard2", &sim, &platform, "2s", &["--platform.shard", "2/2"]).await;
    let client = http();
    let mut served: Vec<BTreeSet<String>> = Vec::new();
    for replica in [&one, &two] {
        let m = replica
            .wait_for("discovery", SECS, |m| {
                m.get("sobot_exporter_platform_tenants_served").is_some_and(|n| n > 0.0)
            })
            .await;
        let groups: Vec<serde_json::Value> =
            client.get(replica.url("/sd")).send().await.expect("sd").json().await.expect("json");
        let ids: BTreeSet<String> =
            groups.iter().map(|g| g["labels"]["tenant"].as_str().expect("tenant").to_string()).collect();
        assert_eq!(ids.len(), groups.len(), "a tenant listed twice");
        assert_eq!(m.get("sobot_exporter_platform_tenants_served"), Some(ids.len() as f64));
        assert_eq!(m.get("sobot_exporter_platform_tenants_discovered"), Some(30.0));
        served.push(ids);
    }
    assert!(served[0].is_disjoint(&served[1]), "a tenant on both shards");
    let all: BTreeSet<String> = platform.tenants.iter().map(|t| t.company_id.clone()).collect();
    assert_eq!(&served[0] | &served[1], all, "every tenant on one shard");

    // Each replica probes its own tenants and 404s the other's.
    let mine = served[0].iter().next().expect("shard 1 has tenants").clone();
    let theirs = served[1].iter().next().expect("shard 2 has tenants").clone();
    let probe = format!("/probe?target={mine}");
    one.wait_for("a probe with data", SECS, |_| true).await;
    let deadline = Instant::now() + SECS;
    let body = loop {
        let body = client.get(one.url(&probe)).send().await.expect("probe").text().await.expect("body");
        if body.contains("sobot_robot_consult_sessions{window=\"today\"}") {
            break body;
        }
        assert!(Instant::now() < deadline, "no data on {probe}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!body.contains("tenant=\"") && !body.contains(&theirs), "another tenant in the probe");
    assert_eq!(
        client.get(one.url(&format!("/probe?target={theirs}"))).send().await.expect("probe").status(),
        404
    );
    assert_eq!(client.get(two.url(&probe)).send().await.expect("probe").status(), 404);
    // No tenant got a token from both replicas.
    two.wait_for("shard 2 collecting", SECS, |m| {
        m.family("sobot_robot_consult_sessions").len() >= served[1].len()
    })
    .await;
    one.wait_for("shard 1 collecting", SECS, |m| {
        m.family("sobot_robot_consult_sessions").len() >= served[0].len()
    })
    .await;
    for t in &platform.tenants {
        assert_eq!(sim.tokens_issued_to(&t.app_id), 1, "{}", t.company_id);
    }
}

async fn query(p: &Prometheus, expr: &str) -> Vec<serde_json::Value> {
    p.query(expr, None).await
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_agents_find_every_tenant_exactly_once_through_sd() {
    let (sim, platform) = platform(24, None).await;
    let one = exporter("e2e_shard1", &sim, &platform, "2s", &["--platform.shard", "1/2"]).await;
    let two = exporter("e2e_shard2", &sim, &platform, "2s", &["--platform.shard", "2/2"]).await;
    let dir = temp_dir("platform_e2e");
    let receiver = ["--web.enable-remote-write-receiver"];
    let store = Prometheus::start(&dir.join("store"), "global:\n  scrape_interval: 1s\n", &receiver).await;
    let mut agents = Vec::new();
    for (i, replica) in [&one, &two].iter().enumerate() {
        // A bare http_sd_configs job: /sd's labels do the rest.
        let config = format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sobot_tenants\n    http_sd_configs:\n      \
             - url: {}\n        refresh_interval: 1s\nremote_write:\n  - url: {}/api/v1/write\n",
            replica.url("/sd"),
            store.url
        );
        agents.push(
            Prometheus::start(&dir.join(format!("agent{i}")), &config, &["--enable-feature=agent"]).await,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let count = "count(count by (tenant) (sobot_robot_consult_sessions{window=\"today\"}))";
    loop {
        let result = query(&store, count).await;
        if result.first().and_then(|r| r["value"][1].as_str()) == Some("24") {
            break;
        }
        assert!(Instant::now() < deadline, "the store did not get every tenant: {result:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Exactly once: one series per tenant, from one replica's probe, with its name as a target label.
    let twice = query(&store, "count by (tenant) (sobot_robot_consult_sessions{window=\"today\"}) > 1").await;
    assert!(twice.is_empty(), "a tenant twice: {twice:?}");
    let up = query(&store, "count(up{job=\"sobot_tenants\"} == 1)").await;
    assert_eq!(up.first().and_then(|r| r["value"][1].as_str()), Some("24"), "every tenant its own target");
    let named = query(&store, "count(count by (tenant_name) (sobot_robot_consult_sessions))").await;
    assert_eq!(named.first().and_then(|r| r["value"][1].as_str()), Some("24"));
    drop(agents);
    drop(store);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documents_examples_reach_metrics_exactly() {
    // No tenants configured: every platform endpoint answers the document's example.
    let platform = SimPlatform { tenants: Vec::new(), ..sim_platform(0) };
    let config = SimConfig { platform: Some(platform.clone()), ..SimConfig::fixtures(APP_ID, APP_KEY) };
    let sim = Simulator::start(config).await.expect("simulator");
    let exporter = exporter("platform_examples", &sim, &platform, "5s", &[]).await;
    let t1 = "3b9577c3ddaa49bda857a0ab8593b7ba";
    let m = exporter
        .wait_for("the platform collectors", SECS, |m| {
            ["platform_discovery", "platform_tenants", "platform_staff_jobs", "platform_staff_status"]
                .iter()
                .all(|c| {
                    m.get(&format!("sobot_exporter_collector_success{{collector=\"{c}\"}}")) == Some(1.0)
                })
        })
        .await;
    // getTenantList: serviceNum, maxServiceCount, tenantStatus, endTime (end of 2099-12-31, Shanghai).
    assert_eq!(m.get(&format!("sobot_platform_tenant_agents{{tenant=\"{t1}\"}}")), Some(0.0));
    assert_eq!(m.get(&format!("sobot_platform_tenant_max_agents{{tenant=\"{t1}\"}}")), Some(0.0));
    assert_eq!(m.get(&format!("sobot_platform_tenant_enabled{{tenant=\"{t1}\"}}")), Some(1.0));
    assert_eq!(
        m.get("sobot_platform_tenant_enabled{tenant=\"42fb9905aa7f4eff9639d732c9c3aa85\"}"),
        Some(0.0)
    );
    assert_eq!(
        m.get(&format!("sobot_platform_tenant_contract_end_timestamp_seconds{{tenant=\"{t1}\"}}")),
        Some(4_102_415_999.0)
    );
    assert_eq!(
        m.get(&format!("sobot_platform_tenant_info{{name=\"青樱格格02\",tenant=\"{t1}\"}}")),
        Some(1.0)
    );
    // tenantStaffJobList: the four fields of the first row; "00%" is 0.
    let staff = "staff=\"0a499e5706fb454688abe23ffeb48e6f\",tenant=\"f2749ad44367485796b3ca8d4777388c\",window=\"today\"";
    assert_eq!(m.get(&format!("sobot_platform_staff_first_response_sessions{{{staff}}}")), Some(1.0));
    assert_eq!(m.get(&format!("sobot_platform_staff_transfer_first_responses{{{staff}}}")), Some(0.0));
    assert_eq!(m.get(&format!("sobot_platform_staff_valid_consult_sessions{{{staff}}}")), Some(1.0));
    assert_eq!(m.get(&format!("sobot_platform_staff_first_response_in60s_ratio{{{staff}}}")), Some(1.0));
    let other = "staff=\"441d1579b6364ab6b9a33b5f5d956852\",tenant=\"a5b158a28fbf4a2d99ee1c374416573b\",window=\"today\"";
    assert_eq!(m.get(&format!("sobot_platform_staff_first_response_in60s_ratio{{{other}}}")), Some(0.0));
    // getStaffLogInfos: the latest state, and when it began.
    let (staff, tenant) =
        ("staff=\"53df8dee9a9e4fdda236faf6351e7a8d\"", "tenant=\"9e73cc58f2f7472d993e6772c250ed99\"");
    let s = format!("{staff},{tenant}");
    assert_eq!(
        m.get(&format!("sobot_platform_staff_status{{{staff},status=\"online\",{tenant}}}")),
        Some(1.0)
    );
    assert_eq!(
        m.get(&format!("sobot_platform_staff_status{{{staff},status=\"offline\",{tenant}}}")),
        Some(0.0)
    );
    assert_eq!(
        m.get(&format!("sobot_platform_staff_status_change_timestamp_seconds{{{s}}}")),
        Some(1_571_037_571.921)
    );
    // getBatchAppKey: its three tenants, each collected with its own token.
    assert_eq!(m.get("sobot_exporter_platform_tenants_discovered"), Some(3.0));
    for company in [
        "be7f05de11a54390c3f3ec35e6010b",
        "32d5fedaf268441dbde6d3eb23a17cee",
        "6f77727bdb074a128fc43d8788ee5a09",
    ] {
        exporter
            .wait_for("the example tenants collected", SECS, |m| {
                collector_success(m, company, "robot_session") == Some(1.0)
            })
            .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_shows_a_platform_with_a_failing_tenant() {
    let exporter = Exporter::start_with_env(
        "demo_platform",
        "http://127.0.0.1:9",
        &["--demo", "--collect.interval", "2s"],
        &[],
    )
    .await;
    let client = http();
    let deadline = Instant::now() + SECS;
    let tenants: Vec<String> = loop {
        let groups: Vec<serde_json::Value> =
            client.get(exporter.url("/sd")).send().await.expect("sd").json().await.expect("json");
        if groups.len() == 24 {
            break groups
                .iter()
                .map(|g| g["labels"]["tenant"].as_str().expect("tenant").to_string())
                .collect();
        }
        assert!(Instant::now() < deadline, "the demo's platform: {groups:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Every tenant collects but one, whose key Sobot refuses.
    let deadline = Instant::now() + SECS;
    loop {
        let mut ok = 0;
        let mut failing = 0;
        for t in &tenants {
            let body = client.get(exporter.url(&format!("/probe?target={t}"))).send().await.expect("probe");
            let m = Metrics::parse(&body.text().await.expect("body"));
            match m.success("robot_session") {
                Some(1.0) if m.get("sobot_robot_consult_sessions{window=\"today\"}").is_some() => ok += 1,
                Some(0.0) => failing += 1,
                _ => {}
            }
        }
        if ok == 23 && failing == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{ok} tenants collected, {failing} failing");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let m = Metrics::parse(&exporter.scrape().await);
    assert_eq!(m.family("sobot_platform_tenant_info").len(), 24);
    assert!(
        m.series.keys().all(|k| !k.starts_with("sobot_robot_") || !k.contains("tenant=")),
        "tenants kept off /metrics"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_configured_company_is_collected_by_the_first_shard_only() {
    let (sim, platform) = platform(6, None).await;
    let company = [("SOBOT_APP_ID", APP_ID), ("SOBOT_APP_KEY", APP_KEY)];
    let one =
        exporter_with("company_shard1", &sim, &platform, "2s", &["--platform.shard", "1/2"], &company).await;
    let two =
        exporter_with("company_shard2", &sim, &platform, "2s", &["--platform.shard", "2/2"], &company).await;
    one.wait_for("the company on shard 1", SECS, |m| {
        m.get("sobot_robot_consult_sessions{window=\"today\"}") == Some(63.0)
    })
    .await;
    let m = two
        .wait_for("shard 2 discovered", SECS, |m| {
            m.get("sobot_exporter_platform_tenants_discovered") == Some(6.0)
        })
        .await;
    assert!(m.success("robot_session").is_none(), "shard 2 collects the company too");
    assert_eq!(sim.tokens_issued_to(APP_ID), 1, "one replica holds the company's token");
}

/// Issue 17: two tenants listed with one app id (different company ids) invalidated each other's
/// token for ever. Now they share one token, and a warning names them.
#[tokio::test(flavor = "multi_thread")]
async fn tenants_listed_with_one_app_id_share_one_token() {
    let mut listed = sim_platform(3);
    listed.tenants[1].app_id = listed.tenants[0].app_id.clone();
    listed.tenants[1].app_key = listed.tenants[0].app_key.clone();
    let config = SimConfig { platform: Some(listed.clone()), ..SimConfig::fixtures(APP_ID, APP_KEY) };
    let sim = Simulator::start(config).await.expect("simulator");
    let exporter = exporter("one_app_id", &sim, &listed, "5s", &[]).await;
    let (a, b) = (&listed.tenants[0], &listed.tenants[1]);
    exporter
        .wait_for("both tenants collected", SECS, |m| {
            [a, b].iter().all(|t| collector_success(m, &t.company_id, "robot_session") == Some(1.0))
        })
        .await;
    let n = sim.requests_for(&a.app_id, "robot_session").len();
    let m = exporter
        .wait_for("more cycles of both", SECS, |_| {
            sim.requests_for(&a.app_id, "robot_session").len() >= n + 8
        })
        .await;
    assert_eq!(sim.tokens_issued_to(&a.app_id), 1, "one token for the two tenants");
    for t in [a, b] {
        assert_eq!(collector_success(&m, &t.company_id, "robot_session"), Some(1.0), "{}", t.company_id);
    }
    let logs = exporter.logs();
    let mut ids = [a.company_id.as_str(), b.company_id.as_str()];
    ids.sort_unstable();
    assert!(logs.contains("tenants listed with one app id") && logs.contains(&ids.join(",")), "{logs}");
    assert!(!logs.contains(&a.app_id), "the app id is not printed");
}

/// Issue 17: ids `company` and `platform` and the company's own app id were counted as discovered
/// and served while `/sd` left them out. The counts are what some shard can serve and what `/sd`
/// lists.
#[tokio::test(flavor = "multi_thread")]
async fn discovered_and_served_count_what_sd_lists() {
    let mut listed = sim_platform(10);
    listed.tenants[0].company_id = "company".to_string();
    listed.tenants[1].company_id = "platform".to_string();
    listed.tenants[2].app_id = APP_ID.to_string();
    listed.tenants[2].app_key = sobot_exporter_core::secret::Secret::new(APP_KEY);
    let config = SimConfig { platform: Some(listed.clone()), ..SimConfig::fixtures(APP_ID, APP_KEY) };
    let sim = Simulator::start(config).await.expect("simulator");
    let company = [("SOBOT_APP_ID", APP_ID), ("SOBOT_APP_KEY", APP_KEY)];
    let exporter = exporter_with("counts", &sim, &listed, "5s", &[], &company).await;
    let m = exporter
        .wait_for("discovery", SECS, |m| m.get("sobot_exporter_platform_tenants_served").is_some())
        .await;
    let groups: Vec<serde_json::Value> =
        http().get(exporter.url("/sd")).send().await.expect("sd").json().await.expect("json");
    assert_eq!(groups.len(), 7);
    assert_eq!(m.get("sobot_exporter_platform_tenants_discovered"), Some(7.0));
    assert_eq!(m.get("sobot_exporter_platform_tenants_served"), Some(7.0));
    let reserved = "sobot_exporter_parse_errors_total{endpoint=\"get_batch_app_key\",field=\"companyId\"}";
    assert_eq!(m.get(reserved), Some(2.0), "each reserved id a parse error");
}

/// Issue 17: with 30 shards and a 1 s interval every platform cycle waited for a budget slot it
/// could never get, failed as `deadline` (reserving the slot all the same), and
/// `discovery_success` stayed 1. Now: a warning with the numbers at start, the code `budget` at
/// once, and the discovery's real outcome.
#[tokio::test(flavor = "multi_thread")]
async fn a_platform_interval_the_budget_cannot_carry_is_named() {
    let (sim, platform) = platform(3, None).await;
    let exporter = exporter("budget", &sim, &platform, "1s", &["--platform.shard", "1/30"]).await;
    let budget = "sobot_exporter_upstream_requests_total{endpoint=\"get_batch_app_key\",code=\"budget\"}";
    let m = exporter
        .wait_for("a budget failure", SECS, |m| {
            m.get(budget).is_some_and(|n| n >= 1.0) && m.success("platform_discovery") == Some(0.0)
        })
        .await;
    assert_eq!(m.get("sobot_exporter_platform_discovery_success"), Some(0.0), "the discovery's real outcome");
    assert_eq!(sim.requests_to("getBatchAppKey").len(), 1, "one call in the shard's share of the budget");
    let logs = exporter.logs();
    assert!(logs.contains("set platform.interval to at least 92s"), "{logs}");
    assert!(logs.contains(r#""code":"budget""#) && logs.contains("lengthen platform.interval"), "{logs}");
}
