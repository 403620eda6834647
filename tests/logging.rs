//! `--log.format logfmt` (the default): every line of a real run parses as strict logfmt, and
//! values with spaces, quotes, `=` and newlines read back as they were written.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

/// One logfmt line as key/value pairs, strictly: `key=value` pairs separated by one space; a key
/// is one or more characters other than space, `=`, `"` and control characters; a value is bare
/// (one or more of the same) or quoted with `\\`, `\"`, `\n`, `\r`, `\t` and `\uXXXX` escapes.
fn parse(line: &str) -> Result<Vec<(String, String)>, String> {
    let plain = |c: char| !(c <= ' ' || c == '=' || c == '"' || c.is_control());
    let mut pairs = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut key = String::new();
        while let Some(&c) = chars.peek().filter(|c| plain(**c)) {
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            return Err(format!("an empty key in {line:?}"));
        }
        if chars.next() != Some('=') {
            return Err(format!("no '=' after {key:?} in {line:?}"));
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("an unterminated quote in {line:?}")),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        Some('r') => value.push('\r'),
                        Some('t') => value.push('\t'),
                        Some('u') => {
                            let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                            let c = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                            value.push(c.ok_or_else(|| format!("a bad \\u escape in {line:?}"))?);
                        }
                        other => return Err(format!("a bad escape {other:?} in {line:?}")),
                    },
                    Some(c) if c.is_control() => return Err(format!("a raw control character in {line:?}")),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek().filter(|c| plain(**c)) {
                value.push(c);
                chars.next();
            }
            if value.is_empty() {
                return Err(format!("an empty bare value for {key:?} in {line:?}"));
            }
        }
        pairs.push((key, value));
        match chars.next() {
            None => return Ok(pairs),
            Some(' ') => {}
            Some(c) => return Err(format!("{c:?} where a space or the end was due in {line:?}")),
        }
    }
}

#[test]
fn the_strict_parser_refuses_what_is_not_logfmt() {
    assert_eq!(
        parse("a=1 b=\"x y\" c=\"q\\\"\\n\"").expect("logfmt"),
        [("a", "1"), ("b", "x y"), ("c", "q\"\n")].map(|(k, v)| (k.to_string(), v.to_string()))
    );
    for bad in ["a=1  b=2", "a=", "a=\"x", "=1", "a=1 b", "a=x\"y", "a=\"\\q\"", "a=1 ", "a b=1"] {
        assert!(parse(bad).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn fields_with_spaces_quotes_and_newlines_round_trip() {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .event_format(sobot_exporter_core::logging::Logfmt)
        .with_writer(move || writer.clone())
        .finish();
    let awkward = "say \"hi\"\n\tthen a=b \\ back\u{1}slash 智齿";
    let error = std::io::Error::other("two\nlines");
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!(field = awkward, empty = "", n = 42_u64, ratio = 0.5, flag = true, error = %error, "a message with spaces");
        tracing::info!("plain");
    });
    let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "one line per event: {text:?}");
    let pairs = parse(lines[0]).expect("logfmt");
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["ts", "level", "msg", "field", "empty", "n", "ratio", "flag", "error"]);
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    assert!(get("ts").expect("ts").parse::<jiff::Timestamp>().is_ok(), "{lines:?}");
    assert!(get("ts").expect("ts").ends_with('Z') && get("ts").expect("ts").len() == 24, "{lines:?}");
    assert_eq!(get("level"), Some("warn"));
    assert_eq!(get("msg"), Some("a message with spaces"));
    assert_eq!(get("field"), Some(awkward));
    assert_eq!(get("empty"), Some(""));
    assert_eq!((get("n"), get("ratio"), get("flag")), (Some("42"), Some("0.5"), Some("true")));
    assert_eq!(get("error"), Some("two\nlines"));
    assert!(lines[1].ends_with(" level=info msg=plain"), "{}", lines[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_line_of_a_real_run_is_logfmt() {
    let sim = fixture_simulator().await;
    // A failure whose line carries an error, a URL and a hint with spaces.
    sim.set_fault("message_stats", Some(Fault::Http(500)));
    let dir = temp_dir("logfmt");
    let log = dir.join("exporter.log");
    // No `--log.format`: logfmt is the default.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
        .args(["--web.listen-address", "127.0.0.1:0", "--sobot.base-url", &sim.base_url()])
        .args(["--log.level", "debug", "--collect.interval", "1s"])
        .env("SOBOT_APP_ID", APP_ID)
        .env("SOBOT_APP_KEY", APP_KEY)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("exporter starts");
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    // The first collection, and the failing collector's second cycle (a debug line).
    while !(read().contains("msg=\"first collection completed\"")
        && read().contains("msg=\"collection failed again\""))
    {
        assert!(std::time::Instant::now() < deadline, "no first collection: {}", read());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().expect("exit status");
    assert!(status.success(), "{status}");
    let logs = read();
    let mut messages = Vec::new();
    for line in logs.lines() {
        let pairs = parse(line).unwrap_or_else(|e| panic!("{e}"));
        let keys: Vec<&str> = pairs.iter().take(3).map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["ts", "level", "msg"], "{line}");
        assert!(["debug", "info", "warn", "error"].contains(&pairs[1].1.as_str()), "{line}");
        messages.push((pairs[2].1.clone(), pairs));
    }
    let failed = messages.iter().find(|(m, _)| m == "collection failed").expect("the failure's line");
    let hint = failed.1.iter().find(|(k, _)| k == "hint").map(|(_, v)| v.as_str()).unwrap_or_default();
    assert!(hint.contains("retried with backoff"), "{hint}");
    for wanted in
        ["sobot_exporter listening", "first collection completed", "collection failed again", "stopped"]
    {
        assert!(messages.iter().any(|(m, _)| m == wanted), "{wanted}: {logs}");
    }
    assert!(!logs.contains(APP_KEY));
}

/// A tenant whose listed key Sobot refuses: its warning names the tenant's id and its name.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_tenants_line_names_it() {
    let mut platform = sobot_simulator::sim_platform(2);
    platform.tenants[0].accepted_key = Some(sobot_exporter_core::secret::Secret::new("another-key"));
    let config = SimConfig { platform: Some(platform.clone()), ..SimConfig::fixtures(APP_ID, APP_KEY) };
    let sim = Simulator::start(config).await.expect("simulator");
    let dir = temp_dir("tenant_name_log");
    let yaml = format!(
        "platform:\n  union_code: \"{}\"\n  email: {}\n  interval: 300ms\n",
        platform.union_code, platform.email
    );
    let config = write_file(&dir, "config.yml", &yaml);
    let key = platform.union_key.expose().to_string();
    let exporter = Exporter::start_with_env(
        "tenant_name_log",
        &sim.base_url(),
        &["--collect.interval", "300ms", "--config.file", config.to_str().expect("utf8")],
        &[("SOBOT_PLATFORM_UNION_KEY", &key)],
    )
    .await;
    let failing = &platform.tenants[0];
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let line = loop {
        let logs = exporter.logs();
        let found = logs
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["level"] == "WARN" && v["target_id"] == failing.company_id.as_str());
        if let Some(line) = found {
            break line;
        }
        assert!(std::time::Instant::now() < deadline, "no warning of the failing tenant: {logs}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(line["target_name"], failing.company_name.as_str(), "{line}");
    exporter.terminate();
}
