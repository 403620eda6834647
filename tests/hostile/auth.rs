//! Basic auth and the rate limit under a flood: a scraper on 127.0.0.1 is served while 127.0.0.2
//! sends wrong passwords from 16 connections at once; the rate limit is spent before
//! authentication, as documented; a costly hash is warned of at start.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;

/// The flooding client's address (Linux routes all of 127.0.0.0/8 to loopback).
const FLOODER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
const SCRAPER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Connections flooding at once.
const FLOOD: usize = 16;
/// Scrapes, each with credentials not cached yet.
const SCRAPES: usize = 10;

/// An HTTP client whose connections come from `ip`.
fn client_from(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip).timeout(Duration::from_secs(60)).build().expect("client")
}

/// bcrypt hashes of `passwords` at `cost`, made on every core.
fn hashes(passwords: &[String], cost: u32) -> Vec<String> {
    std::thread::scope(|scope| {
        let made: Vec<_> =
            passwords.iter().map(|p| scope.spawn(move || bcrypt::hash(p, cost).expect("hash"))).collect();
        made.into_iter().map(|h| h.join().expect("hashed")).collect()
    })
}

/// What the flood got back.
#[derive(Debug, Default)]
struct Answers {
    unauthorized: AtomicUsize,
    /// 429 because the queue of checks was full or this address had its share of it.
    busy: AtomicUsize,
    /// 429 because this address failed too many checks.
    failing: AtomicUsize,
    other: AtomicUsize,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scraper_is_served_beside_a_flood_of_wrong_passwords_from_another_address() {
    let sim = fixture_simulator().await;
    // Cost 10, as operators use: every check not cached takes tens of milliseconds (more here,
    // in a debug build), and the flood's passwords are never the same twice.
    let mut passwords = vec!["right".to_string()];
    passwords.extend((0..SCRAPES).map(|i| format!("password{i}")));
    let hashed = hashes(&passwords, 10);
    let mut yaml = format!("basic_auth_users:\n  prometheus: {}\n", hashed[0]);
    for (i, hash) in hashed[1..].iter().enumerate() {
        yaml.push_str(&format!("  scraper{i}: {hash}\n"));
    }
    let dir = temp_dir("hostile_auth_flood");
    let web = write_file(&dir, "web.yml", &yaml);
    let exporter = Exporter::start(
        "hostile_auth_flood",
        &sim.base_url(),
        &["--web.config.file", web.to_str().expect("path")],
    )
    .await;
    let url = exporter.url("/metrics");

    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Answers::default());
    let flooder = client_from(FLOODER);
    let flood: Vec<_> = (0..FLOOD)
        .map(|task| {
            let (stop, answers, flooder, url) = (stop.clone(), answers.clone(), flooder.clone(), url.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let guess = format!("guess-{task}-{n}");
                    let Ok(response) = flooder.get(&url).basic_auth("prometheus", Some(guess)).send().await
                    else {
                        answers.other.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    let status = response.status().as_u16();
                    let body = response.text().await.unwrap_or_default();
                    let counter = match status {
                        401 => &answers.unauthorized,
                        429 if body.contains("failed password checks from this address") => &answers.failing,
                        429 => &answers.busy,
                        _ => &answers.other,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // The flood is on once it is turned away: its share of the checks' queue is full.
    let deadline = Instant::now() + Duration::from_secs(30);
    while answers.busy.load(Ordering::Relaxed) + answers.failing.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the flood was never turned away: {answers:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let scraper = client_from(SCRAPER);
    let mut refused = Vec::new();
    for i in 0..SCRAPES {
        let response =
            scraper.get(&url).basic_auth(format!("scraper{i}"), Some(format!("password{i}"))).send();
        let response = response.await.expect("the scrape is answered");
        let status = response.status().as_u16();
        let body = response.text().await.expect("body");
        if status != 200 || !body.contains("sobot_exporter_build_info") {
            refused.push((i, status, body));
        }
    }
    // The flood goes on until its failures are limited too (ten, then one every few seconds).
    let deadline = Instant::now() + Duration::from_secs(60);
    while answers.failing.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the flood's failures were never limited: {answers:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in flood {
        task.await.expect("flood task");
    }
    assert!(
        refused.is_empty(),
        "every uncached scrape beside the flood answers 200: {refused:?}; the flood got {answers:?}"
    );
    // The flood was checked, and never let in.
    assert!(answers.unauthorized.load(Ordering::Relaxed) >= 10, "{answers:?}");
    assert_eq!(answers.other.load(Ordering::Relaxed), 0, "{answers:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limit_is_spent_before_authentication_and_says_so() {
    let sim = fixture_simulator().await;
    let hash = bcrypt::hash("right", 4).expect("hash");
    let dir = temp_dir("hostile_rate_limit");
    let yaml = format!("basic_auth_users:\n  prometheus: {hash}\nrate_limit:\n  interval: 1h\n  burst: 10\n");
    let web = write_file(&dir, "web.yml", &yaml);
    let exporter = Exporter::start(
        "hostile_rate_limit",
        &sim.base_url(),
        &["--web.config.file", web.to_str().expect("path")],
    )
    .await;
    // Another client without credentials, asking for a path that does not exist, spends it all.
    let other = client_from(FLOODER);
    for _ in 0..10 {
        let response = other.get(exporter.url("/nope")).send().await.expect("answer");
        assert_eq!(response.status(), 401);
    }
    let scrape = client_from(SCRAPER).get(exporter.url("/metrics")).basic_auth("prometheus", Some("right"));
    let response = scrape.send().await.expect("answer");
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"].to_str().expect("text").parse().expect("seconds");
    assert!((3000..=3600).contains(&retry), "{retry}");
    let body = response.text().await.expect("body");
    assert!(body.contains("rate_limit") && body.contains("before authentication"), "{body}");
    // The probes stay outside it.
    assert_eq!(http().get(exporter.url("/healthz")).send().await.expect("answer").status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hash_cost_above_12_is_warned_of_at_start_with_what_a_check_costs() {
    let sim = fixture_simulator().await;
    // The file's hash is taken as written: no need to compute one at cost 13 here.
    let costly = "$2b$13$GW/P6VZuGga7nG2QXZRrXeEoldvU3z3IEEMSe/hLfBqrzzY07kx0K";
    let usual = bcrypt::hash("right", 4).expect("hash");
    let dir = temp_dir("hostile_costly");
    let web = write_file(&dir, "web.yml", &format!("basic_auth_users:\n  slow: {costly}\n  fast: {usual}\n"));
    let exporter = Exporter::start(
        "hostile_costly",
        &sim.base_url(),
        &["--web.config.file", web.to_str().expect("path")],
    )
    .await;
    let warning = |logs: &str| -> Option<serde_json::Value> {
        logs.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["message"].as_str().is_some_and(|m| m.contains("cost above 12")))
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let line = loop {
        if let Some(line) = warning(&exporter.logs()) {
            break line;
        }
        assert!(Instant::now() < deadline, "no warning: {}", exporter.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (line["level"].as_str(), line["user"].as_str(), line["cost"].as_u64()),
        (Some("WARN"), Some("slow"), Some(13))
    );
    let seconds: f64 = line["check_s"].as_str().expect("check_s").parse().expect("a number");
    assert!(seconds > 0.0, "{line}");
    assert_eq!(
        exporter.logs().matches("cost above 12").count(),
        1,
        "only the costly user: {}",
        exporter.logs()
    );
}
