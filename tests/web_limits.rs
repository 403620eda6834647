//! The server's limits, with the real binary and raw TCP clients: write and idle timeouts, the
//! maximum connection age, the connection limit, shutdown with idle or half-sent connections,
//! and the file-descriptor limit raised at start.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// `sobot_exporter_http_connections_closed_total{reason}`, 0 if absent.
fn closed(m: &Metrics, reason: &str) -> f64 {
    m.get(&format!("sobot_exporter_http_connections_closed_total{{reason=\"{reason}\"}}")).unwrap_or(0.0)
}

fn open_connections(m: &Metrics) -> f64 {
    m.get("sobot_exporter_http_connections").unwrap_or(-1.0)
}

/// Reads until the peer closes the connection (or resets it); panics after `within`.
fn wait_closed(stream: &mut TcpStream, within: Duration) {
    let deadline = Instant::now() + within;
    stream.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
        assert!(Instant::now() < deadline, "the server did not close the connection within {within:?}");
    }
}

/// One `GET /healthz` over `stream`, its response read whole: `None` if the server closed the
/// connection before answering; panics on a response cut short.
fn request(stream: &mut TcpStream) -> Option<()> {
    if stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
        return None;
    }
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) | Err(_) if head.is_empty() => return None,
            Ok(0) | Err(_) => panic!("response head cut short: {:?}", String::from_utf8_lossy(&head)),
            Ok(_) => head.push(byte[0]),
        }
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("content-length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("the whole body");
    Some(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_reads_is_closed_after_the_write_timeout() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("write_timeout", &sim.base_url(), &["--web.write-timeout", "5s"]).await;
    exporter.wait_for("first cycle", Duration::from_secs(20), |m| m.all_succeeded(&STATS)).await;
    let (mut stalled, requests) = stalled_reader(&exporter).await;
    let (_other, _) = stalled_reader(&exporter).await;
    // (The figures are published once a second: the scrapes' own connections come and go.)
    exporter
        .wait_for("the stalled connections counted", Duration::from_secs(10), |m| open_connections(m) >= 2.0)
        .await;
    let m = exporter
        .wait_for("the stalled connections closed", Duration::from_secs(30), |m| {
            closed(m, "write_timeout") >= 2.0 && open_connections(m) <= 1.0
        })
        .await;
    assert_eq!(closed(&m, "write_timeout"), 2.0, "{}", m.text);
    let mut received = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    // The client gets what was sent before the timeout, then the end: not every response.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut stalled, &mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received += n,
            Err(_) => panic!("the connection is still open"),
        }
        assert!(Instant::now() < deadline, "still reading");
    }
    let size = exporter.scrape().await.len();
    assert!(received < requests * size, "every response was sent: {received} bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn at_the_connection_limit_a_scrape_still_answers() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("limit", &sim.base_url(), &["--web.max-connections", "8"]).await;
    let mut idle: Vec<TcpStream> =
        (0..20).map(|_| TcpStream::connect(&exporter.addr).expect("connect")).collect();
    let body =
        tokio::time::timeout(Duration::from_secs(10), exporter.scrape()).await.expect("a prompt answer");
    assert!(body.contains("sobot_exporter_build_info"), "{body}");
    let m = exporter
        .wait_for("closes for the limit", Duration::from_secs(10), |m| closed(m, "limit") >= 13.0)
        .await;
    assert!(open_connections(&m) <= 8.0, "{}", m.text);
    assert_eq!(m.get("sobot_exporter_http_max_connections"), Some(8.0));
    // The oldest idle connection was closed to make room.
    wait_closed(&mut idle[0], Duration::from_secs(5));
    let warnings = exporter.logs().lines().filter(|l| l.contains("connection limit reached")).count();
    assert_eq!(warnings, 1, "{}", exporter.logs());
    idle.clear();
    exporter.wait_for("the episode ends", Duration::from_secs(10), |m| open_connections(m) <= 6.0).await;
    assert!(exporter.logs().contains("connections back under the limit"), "{}", exporter.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("idle", &sim.base_url(), &["--web.idle-timeout", "500ms"]).await;
    // A new connection that sends nothing, and one kept alive after a request.
    let mut silent = TcpStream::connect(&exporter.addr).expect("connect");
    let mut kept = TcpStream::connect(&exporter.addr).expect("connect");
    assert_eq!(request(&mut kept), Some(()));
    wait_closed(&mut silent, Duration::from_secs(5));
    wait_closed(&mut kept, Duration::from_secs(5));
    exporter
        .wait_for("idle closes counted", Duration::from_secs(10), |m| closed(m, "idle_timeout") >= 2.0)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn old_connections_are_closed_after_their_response() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("max_age", &sim.base_url(), &["--web.max-connection-age", "1s"]).await;
    // Requests back to back: the server closes between two of them, never inside one.
    let mut busy = TcpStream::connect(&exporter.addr).expect("connect");
    let started = Instant::now();
    let mut answered = 0;
    while request(&mut busy).is_some() {
        answered += 1;
        assert!(started.elapsed() < Duration::from_secs(10), "still open after {answered} requests");
    }
    assert!(answered >= 2, "{answered}");
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    // An idle one goes at once when its age is up.
    let mut idle = TcpStream::connect(&exporter.addr).expect("connect");
    assert_eq!(request(&mut idle), Some(()));
    wait_closed(&mut idle, Duration::from_secs(5));
    exporter
        .wait_for("max-age closes counted", Duration::from_secs(10), |m| closed(m, "max_age") >= 2.0)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_serving_no_request_do_not_delay_shutdown() {
    let sim = fixture_simulator().await;
    let exporter = Exporter::start("shutdown_idle", &sim.base_url(), &[]).await;
    let mut half = TcpStream::connect(&exporter.addr).expect("connect");
    half.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").expect("write");
    let _silent = TcpStream::connect(&exporter.addr).expect("connect");
    let mut kept = TcpStream::connect(&exporter.addr).expect("connect");
    assert_eq!(request(&mut kept), Some(()));
    exporter.wait_for("three connections", Duration::from_secs(10), |m| open_connections(m) >= 3.0).await;
    let started = Instant::now();
    let status = exporter.terminate();
    assert_eq!(status.code(), Some(0));
    // The drain would wait up to 10 s for the half-sent request.
    assert!(started.elapsed() < Duration::from_secs(4), "shutdown took {:?}", started.elapsed());
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn the_soft_file_descriptor_limit_is_raised_to_the_hard_one() {
    fn open_files(pid: &str) -> (String, String) {
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
        let line =
            limits.lines().find(|l| l.starts_with("Max open files")).expect("Max open files").to_string();
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields[3].to_string(), fields[4].to_string())
    }
    let (_, hard) = open_files("self");
    if hard.parse::<u64>().is_ok_and(|h| h <= 256) {
        eprintln!("skipped: the hard limit ({hard}) is not above 256");
        return;
    }
    let sim = fixture_simulator().await;
    let creds = [("SOBOT_APP_ID", APP_ID), ("SOBOT_APP_KEY", APP_KEY)];
    let wrapper = ["sh", "-c", "ulimit -Sn 256 && exec \"$0\" \"$@\""];
    let exporter = Exporter::start_wrapped("nofile", &sim.base_url(), &[], &creds, &wrapper).await;
    let (soft, hard_now) = open_files(&exporter.pid().to_string());
    assert_eq!((soft.as_str(), hard_now.as_str()), (hard.as_str(), hard.as_str()));
    let logs = exporter.logs();
    assert!(
        logs.lines().any(|l| l.contains("file-descriptor limit") && l.contains("\"soft_before\":256")),
        "{logs}"
    );
}
