//! The command line: bad flags and config exit 2 at once with one line; SIGTERM exits 0.

mod common;

use std::process::{Command, Output};

use common::*;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
        .args(args)
        .env_remove("SOBOT_APP_ID")
        .env_remove("SOBOT_APP_KEY")
        .envs(env.iter().copied())
        .output()
        .expect("binary runs")
}

/// Asserts exit code 2 and a single stderr line containing `want`.
fn fails_with(args: &[&str], env: &[(&str, &str)], want: &str) {
    let out = run(args, env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: not one line: {stderr}");
    assert!(stderr.starts_with("sobot_exporter: "), "{stderr}");
    assert!(stderr.contains(want), "{args:?}: {stderr:?} lacks {want:?}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
}

const CREDS: &[(&str, &str)] = &[("SOBOT_APP_ID", "a"), ("SOBOT_APP_KEY", "b")];

#[test]
fn bad_flags_exit_2_with_one_line() {
    fails_with(&["--no-such-flag"], CREDS, "--no-such-flag");
    fails_with(&["--log.level", "loud"], CREDS, "loud");
    fails_with(&["--collect.interval", "soon"], CREDS, "--collect.interval");
    fails_with(&["--web.listen-address", "nowhere"], CREDS, "--web.listen-address");
}

#[test]
fn bad_config_exits_2_naming_file_and_key() {
    let dir = temp_dir("cli");
    let unknown = write_file(&dir, "unknown.yml", "timezone: Asia/Shanghai\nsobot:\n  app_secret: x\n");
    fails_with(&["--config.file", unknown.to_str().expect("utf8")], CREDS, "app_secret");
    let broken = write_file(&dir, "broken.yml", "windows: [today\n");
    fails_with(&["--config.file", broken.to_str().expect("utf8")], CREDS, "broken.yml");
    fails_with(&["--config.file", "/nonexistent/sobot.yml"], CREDS, "/nonexistent/sobot.yml: no such file");
    let key_file = write_file(&dir, "cfg.yml", "sobot:\n  app_id: x\n  app_key_file: /nonexistent/key\n");
    fails_with(
        &["--config.file", key_file.to_str().expect("utf8")],
        &[],
        "sobot.app_key_file: cannot read /nonexistent/key",
    );
}

#[test]
fn missing_credentials_exit_2() {
    fails_with(&[], &[], "missing credentials");
    fails_with(&[], &[("SOBOT_APP_ID", "a")], "SOBOT_APP_KEY");
}

#[test]
fn help_and_version_exit_0() {
    let out = run(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--web.listen-address",
        "--web.telemetry-path",
        "--config.file",
        "--sobot.base-url",
        "--collect.interval",
        "--log.level",
        "--log.format",
        "--demo",
    ] {
        assert!(help.contains(flag), "{flag} not in --help");
    }
    let out = run(&["--version"], &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("sobot_exporter {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_exits_0_and_stops_listening() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("sigterm", &sim.base_url(), &["--collect.interval", "1s"]).await;
    exporter.wait_for("first cycle", std::time::Duration::from_secs(20), |m| m.all_succeeded(STATS)).await;
    let url = exporter.url("/healthz");
    let status = exporter.terminate();
    assert_eq!(status.code(), Some(0));
    assert!(http().get(url).send().await.is_err(), "still listening after exit");
}

#[tokio::test(flavor = "multi_thread")]
async fn healthcheck_asks_the_running_exporter() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("healthcheck", &sim.base_url(), &[]).await;
    let addr = exporter.addr.clone();
    let healthy = run(&["--healthcheck", "--web.listen-address", &addr], &[]);
    assert_eq!(healthy.status.code(), Some(0), "{}", String::from_utf8_lossy(&healthy.stderr));
    assert_eq!(exporter.terminate().code(), Some(0));
    let down = run(&["--healthcheck", "--web.listen-address", &addr], &[]);
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).starts_with("sobot_exporter: unhealthy:"));
}

#[test]
fn config_and_secret_files_must_be_small_regular_files() {
    let dir = temp_dir("cli_files");
    // A device would be read forever, a FIFO would block: both are refused at once.
    fails_with(&["--config.file", "/dev/zero"], CREDS, "--config.file /dev/zero: not a regular file");
    let fifo = dir.join("config.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    let started = std::time::Instant::now();
    fails_with(&["--config.file", fifo.to_str().expect("utf8")], CREDS, "config.fifo: not a regular file");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "blocked on the FIFO");
    fails_with(&["--config.file", dir.to_str().expect("utf8")], CREDS, "a directory");
    let big = write_file(&dir, "big.yml", &format!("# {}\n", "x".repeat(2 * 1024 * 1024)));
    fails_with(&["--config.file", big.to_str().expect("utf8")], CREDS, "big.yml: larger than 1024 KiB");
    // The same for a credential file.
    let cfg = write_file(
        &dir,
        "fifo_key.yml",
        &format!("sobot:\n  app_id: x\n  app_key_file: {}\n", fifo.display()),
    );
    fails_with(&["--config.file", cfg.to_str().expect("utf8")], &[], "app_key_file: cannot read");
    let out = run(&["--config.file", cfg.to_str().expect("utf8")], &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
}

#[test]
fn urls_paths_and_header_secrets_are_checked_at_start() {
    for url in ["http://:0", "http://[::1", "http://", "https://host:0", "http://host/?q=1"] {
        fails_with(&["--sobot.base-url", url], CREDS, "--sobot.base-url");
    }
    fails_with(&["--laaffic.base-url", "http://:0"], CREDS, "--laaffic.base-url");
    for path in ["/metrics?x=1", "/me trics", "/sd", "metrics"] {
        fails_with(&["--web.telemetry-path", path], CREDS, "--web.telemetry-path");
    }
    let key = "LineBreakKey\r\nX-Injected: 1";
    let out = run(&[], &[("LAAFFIC_API_KEY", key), ("LAAFFIC_API_SECRET", "s")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("control character"), "{stderr}");
    assert!(!stderr.contains("LineBreakKey"), "the key is printed: {stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sigterm_ends_the_drain_at_once() {
    let sim = fixture_simulator().await;
    let mut exporter = Exporter::start("second_sigterm", &sim.base_url(), &[]).await;
    // A client that asked and does not read: its response is in flight, the drain waits for it.
    let (stalled, _) = stalled_reader(&exporter).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    exporter.signal_term();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(exporter.exited().is_none(), "the first SIGTERM drains");
    exporter.signal_term();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let status = loop {
        if let Some(status) = exporter.exited() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "the second SIGTERM did not end the process");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(1));
    assert!(exporter.logs().contains("second signal"));
    drop(stalled);
}
