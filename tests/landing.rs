//! The landing page rendered by a real headless browser (Debian's `chromium`), `/-/ready`, the
//! first-collection log line and the `process_*` metrics, against the real binary and the
//! simulator.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The binary of Debian's `chromium` package, if it is installed.
fn chromium() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("chromium")).find(|p| p.is_file())
}

/// Runs chromium headless with `args` (its profile in `dir`), killed if it takes a minute.
fn run_chromium(binary: &Path, dir: &Path, args: &[String]) -> std::process::Output {
    let child = Command::new(binary)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,1024"])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(["--no-first-run", "--disable-extensions"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => output.expect("chromium runs"),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &id.to_string()]).status();
            panic!("chromium did not finish within a minute");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_landing_page_in_headless_chromium_shows_targets_errors_and_series() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing in CI: tests/setup.sh installs Debian's chromium package"
        );
        eprintln!(
            "SKIPPED: chromium is not installed (tests/setup.sh installs it); the landing page was not rendered"
        );
        return;
    };
    let sim = fixture_simulator().await;
    sim.set_fault("message_stats", Some(Fault::Http(500)));
    let exporter = Exporter::start("landing", &sim.base_url(), &[]).await;
    let others: Vec<&str> = ALL.iter().copied().filter(|c| *c != "message_stats").collect();
    let m = exporter
        .wait_for("every collector's first cycle", Duration::from_secs(20), |m| {
            m.all_succeeded(&others) && m.success("message_stats") == Some(0.0)
        })
        .await;

    let dir = temp_dir("chromium");
    let url = exporter.url("/");
    let dom = run_chromium(&browser, &dir, &["--dump-dom".to_string(), url.clone()]);
    let dom = String::from_utf8_lossy(&dom.stdout).to_string();
    assert!(dom.contains("<h2>Company <code>company</code></h2>"), "the target: {dom}");
    assert!(dom.contains("id=\"ready\">ready<"), "ready after the first collection: {dom}");
    // Each collector's row: its state and its series count as /metrics has it.
    let row = |collector: &str| -> String {
        let start =
            dom.find(&format!("<code>{collector}</code>")).unwrap_or_else(|| panic!("{collector}: {dom}"));
        let end = dom[start..].find("</tr>").map_or(dom.len(), |e| start + e);
        dom[start..end].to_string()
    };
    for collector in &others {
        let series = m
            .get(&format!("sobot_exporter_collector_series{{collector=\"{collector}\"}}"))
            .unwrap_or_else(|| panic!("{collector}'s series count on /metrics"));
        assert!(series > 0.0, "{collector}");
        let row = row(collector);
        assert!(row.contains("<td>ok</td>"), "{collector}: {row}");
        assert!(
            row.contains(&format!("<td class=\"n\">{series}</td>")),
            "{collector} shows {series} series: {row}"
        );
    }
    let failing = row("message_stats");
    assert!(failing.contains("failing"), "{failing}");
    assert!(failing.contains("upstream answered HTTP 500"), "the error: {failing}");
    assert!(failing.contains("retried with backoff"), "the hint: {failing}");
    assert!(failing.contains("<td>never</td>"), "no success yet: {failing}");
    assert!(dom.contains("class=\"failing\""));

    let png = dir.join("landing.png");
    let out = run_chromium(&browser, &dir, &[format!("--screenshot={}", png.display()), url]);
    let bytes = std::fs::read(&png)
        .unwrap_or_else(|e| panic!("no screenshot ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().expect("IHDR width"));
    let height = u32::from_be_bytes(bytes[20..24].try_into().expect("IHDR height"));
    assert_eq!((width, height), (1280, 1024), "the window's size");
    assert!(bytes.len() > 10_000, "a rendered page, not a blank one: {} bytes", bytes.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_after_the_first_collection_with_one_info_line() {
    let sim = fixture_simulator().await;
    // One slow collector holds the first collection back for a while.
    sim.set_fault("message_stats", Some(Fault::Delay(Duration::from_secs(3))));
    let exporter = Exporter::start("ready", &sim.base_url(), &[]).await;
    let client = http();
    let ready = client.get(exporter.url("/-/ready")).send().await.expect("ready");
    assert_eq!(ready.status(), 503, "before the first collection");
    let head = client.head(exporter.url("/-/ready")).send().await.expect("HEAD");
    assert_eq!(head.status(), 503);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = client.get(exporter.url("/-/ready")).send().await.expect("ready").status();
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "never ready: {}", exporter.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let m = Metrics::parse(&exporter.scrape().await);
    assert!(m.all_succeeded(&ALL), "every collector had its first cycle: {}", m.text);
    let lines: Vec<serde_json::Value> = exporter
        .logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "first collection completed")
        .collect();
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    let line = &lines[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!((line["succeeded"].as_u64(), line["failed"].as_u64()), (Some(ALL.len() as u64), Some(0)));
    let took = line["took_s"].as_f64().expect("took_s");
    assert!((3.0..20.0).contains(&took), "since the start, the slow collector included: {took}");
    // Sticky: a failing collector does not take readiness back.
    sim.set_fault("robot_session", Some(Fault::Http(500)));
    let ready = client.get(exporter.url("/-/ready")).send().await.expect("ready");
    assert_eq!(ready.status(), 200);
    let post = client.post(exporter.url("/-/ready")).send().await.expect("POST");
    assert_eq!(post.status(), 405);
}

#[tokio::test(flavor = "multi_thread")]
async fn process_metrics_as_the_go_client_has_them_and_fresh_at_scrape_time() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("process", &sim.base_url(), &[]).await;
    let text = exporter.scrape().await;
    let m = Metrics::parse(&text);
    for (name, kind, help) in [
        ("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds."),
        ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes."),
        ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes."),
        ("process_virtual_memory_max_bytes", "gauge", "Maximum amount of virtual memory available in bytes."),
        ("process_open_fds", "gauge", "Number of open file descriptors."),
        ("process_max_fds", "gauge", "Maximum number of open file descriptors."),
        ("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds."),
        ("process_threads", "gauge", "Number of OS threads in the process."),
    ] {
        assert!(text.contains(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n")), "{name}: {text}");
        assert!(m.get(name).is_some(), "{name} has one unlabelled sample: {text}");
    }
    let now = jiff::Timestamp::now().as_second() as f64;
    let start = m.get("process_start_time_seconds").expect("start");
    assert!(start <= now + 1.0 && start > now - 60.0, "started within the test: {start} vs {now}");
    let rss = m.get("process_resident_memory_bytes").expect("rss") / 1024.0;
    let proc_rss = exporter.memory_kib("VmRSS") as f64;
    assert!(rss > proc_rss / 2.0 && rss < proc_rss * 2.0, "{rss} KiB vs /proc's {proc_rss} KiB");
    assert!(m.get("process_max_fds").expect("max") >= m.get("process_open_fds").expect("open"));

    // Twenty more connections held open show on a scrape a second or so later.
    let before = m.get("process_open_fds").expect("open fds");
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(tokio::net::TcpStream::connect(&exporter.addr).await.expect("connect"));
    }
    exporter
        .wait_for("the new descriptors", Duration::from_secs(10), |m| {
            m.get("process_open_fds").is_some_and(|open| open >= before + 20.0)
        })
        .await;
    drop(held);
}
