//! Reloading the configuration: SIGHUP and `POST /-/reload` (with `--web.enable-lifecycle`), a bad
//! file keeping the running config, targets that did not change keeping their tokens, and
//! `--config.check`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use sobot_simulator::sim_platform;

const SECS: Duration = Duration::from_secs(30);
const OK: &str = "sobot_exporter_config_last_reload_successful";
const OK_AT: &str = "sobot_exporter_config_last_reload_success_timestamp_seconds";

fn hangup(exporter: &Exporter) {
    let status = Command::new("kill").args(["-HUP", &exporter.pid().to_string()]).status();
    assert!(status.is_ok_and(|s| s.success()), "kill -HUP");
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_and_a_bad_file_keeps_the_running_config() {
    let sim = fixture_simulator().await;
    let dir = temp_dir("reload_hup");
    let config = write_file(&dir, "config.yml", "collectors: [robot_session]\n");
    let path = config.to_str().expect("utf8");
    let mut exporter = Exporter::start(
        "reload_hup",
        &sim.base_url(),
        &["--collect.interval", "300ms", "--config.file", path],
    )
    .await;
    let m = exporter.wait_for("the first config", SECS, |m| m.success("robot_session") == Some(1.0)).await;
    assert_eq!(m.get(OK), Some(1.0), "a successful load at start");
    let started_at = m.get(OK_AT).expect("the start is a successful load");
    assert_eq!(m.success("human_session"), None);

    write_file(&dir, "config.yml", "collectors: [robot_session, human_session]\n");
    // The process has run a while: a count from its start would exceed the reload's.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent = std::time::Instant::now();
    hangup(&exporter);
    exporter
        .wait_for("the new collector and the reload's time", SECS, |m| {
            m.success("human_session") == Some(1.0) && m.get(OK_AT) > Some(started_at)
        })
        .await;
    // The restarted target's first collection counts from the reload, not from the start.
    let firsts: Vec<f64> = exporter
        .logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "first collection completed")
        .filter_map(|v| v["took_s"].as_f64())
        .collect();
    assert_eq!(firsts.len(), 2, "one at start, one after the reload: {}", exporter.logs());
    assert!(firsts[1] <= sent.elapsed().as_secs_f64(), "took_s {} counts from before the reload", firsts[1]);
    assert!(exporter.exited().is_none(), "SIGHUP does not end the process");

    write_file(&dir, "config.yml", "collectors: [robot_session, no_such_collector]\n");
    hangup(&exporter);
    let m = exporter.wait_for("the failed reload", SECS, |m| m.get(OK) == Some(0.0)).await;
    assert_eq!(m.success("human_session"), Some(1.0), "the running config stays");
    let logs = exporter.logs();
    assert!(logs.contains("reload failed: the running configuration stays in force"), "{logs}");
    assert!(logs.contains("no_such_collector"), "the reason is logged: {logs}");

    // Fixed again: back to 1.
    write_file(&dir, "config.yml", "collectors: [robot_session]\n");
    hangup(&exporter);
    let m = exporter.wait_for("the fixed config", SECS, |m| m.get(OK) == Some(1.0)).await;
    exporter.wait_for("human_session gone", SECS, |m| m.success("human_session").is_none()).await;
    assert_eq!(m.success("robot_session"), Some(1.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn post_reload_answers_only_with_the_lifecycle_flag() {
    let sim = fixture_simulator().await;
    let dir = temp_dir("reload_post");
    let config = write_file(&dir, "config.yml", "collectors: [robot_session]\n");
    let path = config.to_str().expect("utf8");
    let client = http();

    let closed = Exporter::start("reload_closed", &sim.base_url(), &["--config.file", path]).await;
    let response = client.post(closed.url("/-/reload")).send().await.expect("answer");
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap_or_default().contains("--web.enable-lifecycle"));
    let response = client.get(closed.url("/-/reload")).send().await.expect("answer");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST, PUT"));

    let open = Exporter::start(
        "reload_open",
        &sim.base_url(),
        &["--collect.interval", "300ms", "--config.file", path, "--web.enable-lifecycle"],
    )
    .await;
    let m = open.wait_for("the first config", SECS, |m| m.success("robot_session") == Some(1.0)).await;
    let loaded_at = m.get(OK_AT).expect("the start is a successful load");
    write_file(&dir, "config.yml", "collectors: [robot_session, human_session]\n");
    let response = client.post(open.url("/-/reload")).send().await.expect("answer");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap_or_default(), "reloaded\n");
    // The reload's time is on /metrics as soon as the answer is (not up to a second later).
    let m = Metrics::parse(&open.scrape().await);
    assert!(m.get(OK_AT) > Some(loaded_at), "{:?} after the 200", m.get(OK_AT));
    open.wait_for("the new collector", SECS, |m| m.success("human_session") == Some(1.0)).await;

    write_file(&dir, "config.yml", "windows: [tomorrow]\n");
    let response = client.put(open.url("/-/reload")).send().await.expect("answer");
    assert_eq!(response.status(), 500);
    let text = response.text().await.unwrap_or_default();
    assert!(text.starts_with("reload failed: ") && text.contains("tomorrow"), "{text}");
    // The process's own series are published before the answer goes.
    let m = Metrics::parse(&open.scrape().await);
    assert_eq!(m.get(OK), Some(0.0), "the failed reload is on /metrics with its 500");
    assert_eq!(m.success("human_session"), Some(1.0), "the running config stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_that_did_not_change_keep_their_tokens() {
    let platform = sim_platform(4);
    let config = SimConfig { platform: Some(platform.clone()), ..SimConfig::fixtures(APP_ID, APP_KEY) };
    let sim = Simulator::start(config).await.expect("simulator");
    let dir = temp_dir("reload_tenants");
    let yaml = |extra: &str| {
        format!(
            "platform:\n  union_code: \"{}\"\n  email: {}\n  interval: 300ms\n{extra}",
            platform.union_code, platform.email
        )
    };
    let config = write_file(&dir, "config.yml", &yaml(""));
    let key = platform.union_key.expose().to_string();
    let exporter = Exporter::start_with_env(
        "reload_tenants",
        &sim.base_url(),
        &["--collect.interval", "300ms", "--config.file", config.to_str().expect("utf8")],
        &[("SOBOT_PLATFORM_UNION_KEY", &key)],
    )
    .await;
    let success = |m: &Metrics, tenant: &str| {
        m.get(&format!("sobot_exporter_collector_success{{tenant=\"{tenant}\",collector=\"robot_session\"}}"))
    };
    let ids: Vec<String> = platform.tenants.iter().map(|t| t.company_id.clone()).collect();
    exporter.wait_for("every tenant", SECS, |m| ids.iter().all(|id| success(m, id) == Some(1.0))).await;
    let tokens = || -> Vec<usize> {
        platform.tenants.iter().map(|t| sim.requests_for(&t.app_id, "get_token").len()).collect()
    };
    let before = tokens();
    assert!(before.iter().all(|n| *n == 1), "one token each: {before:?}");

    let excluded = &ids[0];
    write_file(&dir, "config.yml", &yaml(&format!("  tenants: {{exclude_ids: [\"{excluded}\"]}}\n")));
    hangup(&exporter);
    let m = exporter
        .wait_for("the excluded tenant gone", SECS, |m| {
            m.get(OK_AT).is_some() && success(m, excluded).is_none()
        })
        .await;
    assert!(ids[1..].iter().all(|id| success(&m, id) == Some(1.0)));
    // A few more cycles: the others never fetched a new token.
    let n = sim.requests_to("robot_session").len();
    exporter.wait_for("more cycles", SECS, |_| sim.requests_to("robot_session").len() >= n + 6).await;
    assert_eq!(&tokens()[1..], &before[1..], "unchanged tenants keep their tokens");
    assert!(exporter.logs().contains("configuration reloaded"));
}

#[test]
fn config_check_says_valid_or_names_the_problem() {
    let dir = temp_dir("config_check");
    let good = write_file(&dir, "good.yml", "collectors: [robot_session, human_session]\n");
    let bad = write_file(&dir, "bad.yml", "collectors: [robot_sesion]\n");
    let run = |file: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
            .args([
                "--config.check",
                "--collect.interval",
                "2m",
                "--config.file",
                file.to_str().expect("utf8"),
            ])
            .env("SOBOT_APP_ID", "app1")
            .env("SOBOT_APP_KEY", "key-that-is-not-printed")
            .env_remove("LAAFFIC_API_KEY")
            .env_remove("LAAFFIC_API_SECRET")
            .output()
            .expect("runs")
    };
    let out = run(&good);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout, "sobot_exporter: configuration is valid: 2 collectors every 2m; Sobot app id app1\n");
    let out = run(&bad);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr,
        format!(
            "sobot_exporter: {}: collectors: unknown collector \"robot_sesion\" (known: robot_session, \
             robot_satisfaction, human_session, human_satisfaction, customer_session, message_stats, \
             get_service_data, human_duration, group_human_session, group_human_satisfaction, quality_result, \
             chat_result, call_result, laaffic_seats)\n",
            bad.display()
        )
    );
    assert!(!stderr.contains("key-that-is-not-printed") && !stdout.contains("key-that-is-not-printed"));

    // Platform mode counts each tenant's collectors, and the web config is checked and named.
    let platform =
        write_file(&dir, "platform.yml", "platform:\n  union_code: \"10004\"\n  email: a@b.example\n");
    let web = write_file(
        &dir,
        "web.yml",
        "basic_auth_users:\n  prom: $2y$10$Xlg.WDrk8toE3Xe..XY25.vGlQYTqP7N3.qyPY5ozBQaGh./6i61O\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
        .args(["--config.check", "--config.file", platform.to_str().expect("utf8")])
        .args(["--web.config.file", web.to_str().expect("utf8")])
        .env_remove("SOBOT_APP_ID")
        .env_remove("SOBOT_APP_KEY")
        .env_remove("LAAFFIC_API_KEY")
        .env_remove("LAAFFIC_API_SECRET")
        .env("SOBOT_PLATFORM_UNION_KEY", "union-key-not-printed")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        stdout,
        format!(
            "sobot_exporter: configuration is valid: platform 10004 (shard 1/1): 6 collectors for each \
             tenant every 1m, discovery every 5m; --web.config.file {} is valid: plain HTTP, basic auth for \
             1 user\n",
            web.display()
        )
    );
    // A bad web config fails the check, naming the file.
    let bad_web = write_file(&dir, "bad_web.yml", "basic_auth_users:\n  prom: plain\n");
    let out = Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
        .args(["--config.check", "--web.config.file", bad_web.to_str().expect("utf8")])
        .env("SOBOT_APP_ID", "app1")
        .env("SOBOT_APP_KEY", "key")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!("sobot_exporter: --web.config.file {}: ", bad_web.display())),
        "{stderr}"
    );
}

/// Issue 17: a reload that changed `groups` restarted the company with a new `get_token`, which
/// invalidated the token in use. A token belongs to the credentials: a reload that changes what
/// is collected keeps it.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_that_keeps_the_credentials_keeps_the_token() {
    let sim = fixture_simulator().await;
    let dir = temp_dir("reload_token");
    let config = write_file(&dir, "config.yml", "collectors: [robot_session]\ngroups: [\"1\"]\n");
    let path = config.to_str().expect("utf8");
    let exporter = Exporter::start(
        "reload_token",
        &sim.base_url(),
        &["--collect.interval", "300ms", "--config.file", path],
    )
    .await;
    let m = exporter.wait_for("the first config", SECS, |m| m.success("robot_session") == Some(1.0)).await;
    let started_at = m.get(OK_AT).expect("a successful load at start");
    assert_eq!(sim.tokens_issued_to(APP_ID), 1);

    write_file(&dir, "config.yml", "collectors: [robot_session, human_session]\ngroups: [\"1\", \"2\"]\n");
    hangup(&exporter);
    exporter
        .wait_for("the reloaded config collecting", SECS, |m| {
            m.get(OK_AT) > Some(started_at) && m.success("human_session") == Some(1.0)
        })
        .await;
    let n = sim.requests_for(APP_ID, "robot_session").len();
    exporter
        .wait_for("more cycles", SECS, |_| sim.requests_for(APP_ID, "robot_session").len() >= n + 4)
        .await;
    assert_eq!(sim.tokens_issued_to(APP_ID), 1, "the reload fetched a new token");
}

/// Issue 17: `--config.check` names a platform interval the shard's share of the platform's budget
/// cannot carry, with the smallest that works (a warning: such a config still loads).
#[test]
fn config_check_warns_of_a_platform_interval_the_budget_cannot_carry() {
    let dir = temp_dir("config_check_budget");
    let yaml = "platform:\n  union_code: \"10004\"\n  email: ops@example.com\n  interval: 5s\n";
    let file = write_file(&dir, "platform.yml", yaml);
    let run = |shard: &str| {
        Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
            .args([
                "--config.check",
                "--platform.shard",
                shard,
                "--config.file",
                file.to_str().expect("utf8"),
            ])
            .env("SOBOT_PLATFORM_UNION_KEY", "union-key-not-printed")
            .env_remove("SOBOT_APP_ID")
            .env_remove("SOBOT_APP_KEY")
            .env_remove("LAAFFIC_API_KEY")
            .env_remove("LAAFFIC_API_SECRET")
            .output()
            .expect("runs")
    };
    let out = run("1/30");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.starts_with("sobot_exporter: warning: platform.interval 5.000s"), "{stderr}");
    assert!(stderr.contains("30 shard(s)") && stderr.contains("at least 92s"), "{stderr}");
    assert!(!stderr.contains("union-key-not-printed"));
    let out = run("1/1");
    assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stderr).as_ref()), (Some(0), ""));
}
