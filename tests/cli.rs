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

/// Asserts exit code 2 and a single stderr line containing `want`; returns the line.
fn fails_with(args: &[&str], env: &[(&str, &str)], want: &str) -> String {
    let out = run(args, env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: not one line: {stderr}");
    assert!(stderr.starts_with("sobot_exporter: "), "{stderr}");
    assert!(stderr.contains(want), "{args:?}: {stderr:?} lacks {want:?}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
    stderr.into_owned()
}

const CREDS: &[(&str, &str)] = &[("SOBOT_APP_ID", "a"), ("SOBOT_APP_KEY", "b")];

#[test]
fn bad_flags_exit_2_with_one_line() {
    fails_with(&["--no-such-flag"], CREDS, "--no-such-flag");
    fails_with(&["--log.level", "loud"], CREDS, "loud");
    fails_with(&["--collect.interval", "soon"], CREDS, "--collect.interval");
    fails_with(&["--web.listen-address", "nowhere"], CREDS, "--web.listen-address");
    fails_with(
        &["--demo", "--demo.speed", "fast"],
        &[],
        "--demo.speed (value not shown): expected a whole number from 1 to 1440",
    );
    fails_with(&["--demo", "--demo.speed", "0"], &[], "--demo.speed");
    fails_with(&["--demo.speed", "60"], CREDS, "--demo.speed: only with --demo");
}

#[test]
fn flag_errors_keep_the_tip_and_the_valid_values() {
    fails_with(&["--config-file", "x.yml"], CREDS, "tip: a similar argument exists: '--config.file'");
    fails_with(
        &["--log.level", "verbose"],
        CREDS,
        "invalid value 'verbose' for '--log.level <LOG_LEVEL>' [possible values: error, warn, info, debug]",
    );
    fails_with(&["--web.listen-address", "0.0.0.0:99999"], CREDS, "port out of range");
}

/// An app key as the Sobot documents show them.
const KEY: &str = "8748cd7faeb1401ab3d97cf45013afc4";

#[test]
fn a_key_in_the_wrong_flag_is_never_printed() {
    for (args, names) in [
        (&["--collect.interval", KEY][..], "--collect.interval"),
        (&["--collect.interval", &format!("{KEY}s")][..], "--collect.interval"),
        (&["--log.level", KEY][..], "--log.level"),
        (&["--web.listen-address", KEY][..], "--web.listen-address"),
        (&["--web.telemetry-path", KEY][..], "--web.telemetry-path"),
        (&["--sobot.base-url", KEY][..], "--sobot.base-url"),
        (&["--platform.shard", KEY][..], "--platform.shard"),
        (&["--config.file", KEY][..], "--config.file"),
        // A bare word is read as a subcommand (`backfill`) that does not exist.
        (&[KEY][..], "unrecognized subcommand"),
    ] {
        let line = fails_with(args, CREDS, names);
        assert!(!line.contains(KEY), "{args:?}: {line}");
    }
    // A secret of the environment is redacted even when it does not look like a key.
    let env = [("SOBOT_APP_ID", "a"), ("SOBOT_APP_KEY", "plain-words")];
    for args in [&["--collect.interval", "plain-words"][..], &["--log.level", "plain-words"][..]] {
        let line = fails_with(args, &env, &args[0][2..]);
        assert!(!line.contains("plain-words"), "{args:?}: {line}");
    }
}

#[test]
fn a_key_in_the_wrong_config_field_is_never_printed() {
    let dir = temp_dir("cli_key_fields");
    for (yaml, field) in [
        (format!("sobot:\n  app_id: x\n  app_key_file: {KEY}\n"), "sobot.app_key_file"),
        (format!("timezone: {KEY}\n"), "timezone"),
        (format!("windows: [{KEY}]\n"), "windows"),
        (format!("windows: {KEY}\n"), "windows"),
        (format!("collectors: [{KEY}]\n"), "collectors"),
        (format!("groups: [\"{KEY} \"]\n"), "groups"),
        (format!("groups: [{KEY}, {KEY}]\n"), "groups"),
        (format!("sobot:\n  timeout: {KEY}\n"), "sobot.timeout"),
        (format!("laaffic:\n  connect_timeout: {KEY}\n"), "laaffic.connect_timeout"),
        (format!("quality:\n  interval: {KEY}\n"), "quality.interval"),
        (format!("sobot:\n  app_key: {KEY}\n"), "sobot.app_key"),
    ] {
        let file = write_file(&dir, "key.yml", &yaml);
        let env: &[(&str, &str)] = if yaml.contains("app_id") { &[] } else { CREDS };
        let line = fails_with(&["--config.file", file.to_str().expect("utf8")], env, field);
        assert!(!line.contains(KEY), "{yaml:?}: {line}");
    }
    // Keys the shape heuristic cannot know: with dashes (no long run of letters and digits) and
    // Laaffic's (8 letters and digits). A value is quoted only where it has its field's shape.
    for key in ["SbtKey-4f1c9e-q7Vm2xR9", "bDqJFiq9"] {
        for (yaml, field) in [
            (format!("sobot:\n  app_id: x\n  app_key_file: {key}\n"), "sobot.app_key_file"),
            (format!("timezone: {key}\n"), "timezone"),
            (format!("groups: [{key}, {key}]\n"), "groups"),
            (format!("groups: [\"g1,{key}\"]\n"), "groups"),
            (format!("agents: {key}\n"), "agents"),
            (format!("windows: [{key}]\n"), "windows"),
            (format!("collectors: [{key}]\n"), "collectors"),
            (format!("collector_windows: {{{key}: [today]}}\n"), "collector_windows"),
            (format!("sobot:\n  timeout: {key}\n"), "sobot.timeout"),
            (format!("sobot:\n  {key}: x\n"), "sobot: unknown key (value not shown)"),
        ] {
            let file = write_file(&dir, "other_key.yml", &yaml);
            let env: &[(&str, &str)] = if yaml.contains("app_id") { &[] } else { CREDS };
            let line = fails_with(&["--config.file", file.to_str().expect("utf8")], env, field);
            assert!(!line.contains(key), "{yaml:?}: {line}");
        }
    }
    // The key of the environment, in a field where it does not look like a key.
    let file = write_file(&dir, "env_key.yml", "timezone: Plain/Words\n");
    let env = [("SOBOT_APP_ID", "a"), ("SOBOT_APP_KEY", "Plain/Words")];
    let line = fails_with(&["--config.file", file.to_str().expect("utf8")], &env, "timezone");
    assert!(!line.contains("Plain/Words"), "{line}");
}

#[test]
fn config_errors_say_what_to_do() {
    let dir = temp_dir("cli_hints");
    for (yaml, want) in [
        ("timezone: Beijing\n", "did you mean Asia/Shanghai?"),
        ("windows: today\n", "windows: a list is needed, e.g. `windows: [today]`"),
        ("sobot:\n  app_key: x\n", "inline secrets are refused on purpose"),
        (
            "interval: 30s\n",
            "the collection interval is a flag, --collect.interval (e.g. --collect.interval=60s)",
        ),
        // The parser notices at `timezone:` on line 2; the bracket is on line 1.
        (
            "windows: [today\ntimezone: UTC\n",
            "windows: the `[` at line 1, column 10 is never closed: end the list with `]`",
        ),
    ] {
        let file = write_file(&dir, "hint.yml", yaml);
        fails_with(&["--config.file", file.to_str().expect("utf8")], CREDS, want);
    }
}

#[test]
fn web_config_keys_get_a_did_you_mean() {
    let dir = temp_dir("cli_web_keys");
    for (yaml, want) in [
        (
            "basic_auth_user:\n  prom: x\n",
            "unknown key `basic_auth_user` at line 1, column 1; did you mean `basic_auth_users`?",
        ),
        (
            "tls_server_config:\n  cert_fiel: a\n",
            "tls_server_config: unknown key `cert_fiel` at line 2, column 3; did you mean `cert_file`?",
        ),
        (
            "rate_limit:\n  brust: 1\n",
            "rate_limit: unknown key `brust` at line 2, column 3; did you mean `burst`?",
        ),
    ] {
        let file = write_file(&dir, "web.yml", yaml);
        let line = fails_with(&["--web.config.file", file.to_str().expect("utf8")], CREDS, want);
        assert!(
            line.starts_with(&format!("sobot_exporter: --web.config.file {}: ", file.display())),
            "{line}"
        );
    }
    // Nothing close: the known keys are listed, a key-like name is not repeated.
    let file = write_file(&dir, "web.yml", "bDqJFiq9: x\n");
    let want = "unknown key (value not shown) at line 1, column 1 (known: tls_server_config, http_server_config, \
                basic_auth_users, rate_limit)";
    let line = fails_with(&["--web.config.file", file.to_str().expect("utf8")], CREDS, want);
    assert!(!line.contains("bDqJFiq9"), "{line}");
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
        "--web.external-address",
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
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let revision = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok();
    let revision =
        revision.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let prefix = format!("sobot_exporter {} (revision {revision}, branch ", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&prefix), "{version:?} does not start with {prefix:?}");
    let rest = &version[prefix.len()..];
    let (_branch, rest) = rest.split_once(", built ").expect("a build date");
    let (date, rustc) = rest.split_once(", rustc ").expect("a compiler version");
    assert!(date.parse::<jiff::Timestamp>().is_ok(), "build date {date:?}");
    assert!(
        rustc.ends_with(')') && rustc[..rustc.len() - 1].split('.').all(|p| p.parse::<u32>().is_ok()),
        "{rustc}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_exits_0_and_stops_listening() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("sigterm", &sim.base_url(), &["--collect.interval", "1s"]).await;
    exporter.wait_for("first cycle", std::time::Duration::from_secs(20), |m| m.all_succeeded(&STATS)).await;
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
    // Another route's path: /-/ready was once let through, and served the metrics outside basic auth.
    for path in ["/metrics?x=1", "/me trics", "/sd", "metrics", "/-/ready", "/-/reload"] {
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

/// The first log line of `exporter` that `check` accepts, waited for.
async fn wait_for_log(exporter: &Exporter, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(line) = exporter.logs().lines().find(|l| check(l)) {
            return line.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no {what}: {}", exporter.logs());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The exporter's WARN lines, as JSON.
fn warnings(exporter: &Exporter) -> Vec<serde_json::Value> {
    exporter
        .logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["level"] == "WARN")
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_failures_are_logged_once_with_endpoint_url_code_and_hint() {
    let sim = fixture_simulator().await;
    sim.set_fault("robot_session", Some(Fault::Http(500)));
    sim.set_fault("human_session", Some(Fault::RetCode("210017")));
    let dir = temp_dir("cli_upstream_hints");
    let cfg = write_file(&dir, "c.yml", "collectors: [robot_session, human_session, customer_session]\n");
    let args = ["--collect.interval", "200ms", "--config.file", cfg.to_str().expect("utf8")];
    let exporter = Exporter::start("upstream_hints", &sim.base_url(), &args).await;
    exporter
        .wait_for("a few failed cycles", std::time::Duration::from_secs(20), |_| {
            sim.requests().iter().filter(|r| r.endpoint == "robot_session").count() >= 3
        })
        .await;
    let warns = warnings(&exporter);
    let of = |endpoint: &str| warns.iter().filter(|w| w["endpoint"] == endpoint).collect::<Vec<_>>();
    let (server, limited) = (of("robot_session"), of("human_session"));
    assert_eq!((server.len(), limited.len()), (1, 1), "logged once per failure: {warns:#?}");
    let (server, limited) = (server[0], limited[0]);
    assert_eq!(server["code"], "http_500");
    assert_eq!(server["url"], format!("{}/api/wb/5/data/robot_session", sim.base_url()));
    assert!(server["hint"].as_str().is_some_and(|h| h.contains("retried with backoff")), "{server}");
    assert_eq!(limited["code"], "210017");
    assert!(limited["hint"].as_str().is_some_and(|h| h.contains("sobot.rate_limit_per_minute")), "{limited}");
    assert!(of("customer_session").is_empty(), "a collector that works logs no warning");
    exporter.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_base_url_and_a_refused_app_id_say_what_to_check() {
    let sim = fixture_simulator().await;
    // A base URL with a path the API does not have: HTTP 404 for get_token.
    let wrong = format!("{}/wrong", sim.base_url());
    let exporter = Exporter::start("wrong_base_url", &wrong, &["--collect.interval", "200ms"]).await;
    let line = wait_for_log(&exporter, "token warning", |l| l.contains("cannot fetch a Sobot token")).await;
    let warn: serde_json::Value = serde_json::from_str(&line).expect("json");
    assert_eq!(warn["endpoint"], "get_token");
    assert_eq!(warn["code"], "http_404");
    assert_eq!(warn["url"], format!("{wrong}/api/get_token"), "the URL without its query (sign)");
    assert!(warn["hint"].as_str().is_some_and(|h| h.contains("check --sobot.base-url")), "{warn}");
    exporter.terminate();

    // An app id Sobot has no configuration for, from the config file: the hint names the file's key.
    let dir = temp_dir("cli_app_id_hint");
    let cfg = write_file(&dir, "c.yml", "sobot:\n  app_id: not-an-app\n");
    let args = ["--collect.interval", "200ms", "--config.file", cfg.to_str().expect("utf8")];
    let env = [("SOBOT_APP_KEY", APP_KEY)];
    let exporter = Exporter::start_with_env("app_id_hint", &sim.base_url(), &args, &env).await;
    let line = wait_for_log(&exporter, "token warning", |l| l.contains("cannot fetch a Sobot token")).await;
    let warn: serde_json::Value = serde_json::from_str(&line).expect("json");
    let hint = warn["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("c.yml: sobot.app_id") && !hint.contains("SOBOT_APP_ID"), "{warn}");
    exporter.terminate();
}

/// The demo listens on this machine only (the quick start opens http://localhost:9877); the image
/// and compose listen on every interface, so that the published port reaches the exporter.
#[test]
fn the_image_and_compose_listen_on_every_interface() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let docker = std::fs::read_to_string(root.join("Dockerfile")).expect("Dockerfile");
    let runtime = docker.rsplit("\nFROM ").next().unwrap_or_default();
    assert!(
        runtime.lines().any(|l| l.trim() == "ENV SOBOT_EXPORTER_LISTEN_ADDRESS=:9877"),
        "the runtime stage does not listen on every interface: {runtime}"
    );
    let compose: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root.join("docker-compose.yml")).expect("docker-compose.yml"),
    )
    .expect("compose parses");
    let command = compose["services"]["sobot-exporter"]["command"].as_array().expect("a command");
    assert!(command.iter().any(|a| a == "--demo"), "{command:?}");
    assert!(command.iter().any(|a| a == "--web.listen-address=:9877"), "{command:?}");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    assert!(readme.contains("http://localhost:9877/metrics"), "the quick start's address");
}
