//! `/sd` under attack: a request's `Host` is echoed once per tenant, so it must be a bounded,
//! valid `host[:port]` (else 400) or not used at all (`--web.external-address`); floods of unread
//! answers leave `/metrics` served, and SIGTERM still ends the process.

use std::time::{Duration, Instant};

use crate::common::*;
use sobot_simulator::{SimPlatform, sim_platform};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TENANTS: usize = 100;

/// The exporter in platform mode against a simulated platform of [`TENANTS`] tenants, `/sd`
/// listing them all.
async fn exporter(name: &str, extra: &[&str]) -> (Simulator, Exporter, usize) {
    let platform: SimPlatform = sim_platform(TENANTS);
    let config = SimConfig { platform: Some(platform.clone()), ..SimConfig::fixtures(APP_ID, APP_KEY) };
    let sim = Simulator::start(config).await.expect("simulator");
    let dir = temp_dir(name);
    let yaml = format!(
        "platform:\n  union_code: \"{}\"\n  email: {}\n  interval: 60s\n  tenants_on_metrics: false\n",
        platform.union_code, platform.email
    );
    let config = write_file(&dir, "config.yml", &yaml);
    let mut args = vec!["--collect.interval", "60s", "--config.file", config.to_str().expect("utf8")];
    args.extend_from_slice(extra);
    let key = platform.union_key.expose().to_string();
    let env = [("SOBOT_PLATFORM_UNION_KEY", key.as_str())];
    let exporter = Exporter::start_with_env(name, &sim.base_url(), &args, &env).await;
    // Every tenant listed, asked with an ordinary Host: the size of a normal answer.
    let deadline = Instant::now() + Duration::from_secs(40);
    let normal = loop {
        let (status, body) = get_sd(&exporter, "127.0.0.1:9877").await;
        assert_eq!(status, 200);
        let groups: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("JSON");
        if groups.len() == TENANTS {
            break body.len();
        }
        assert!(Instant::now() < deadline, "{} tenants listed: {}", groups.len(), exporter.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    (sim, exporter, normal)
}

/// Sends `request` on a new connection and reads until the server closes it, or until more
/// than `limit` bytes came (then returns what came: a test fails on its size).
async fn exchange(exporter: &Exporter, request: &[u8], limit: usize) -> Vec<u8> {
    let mut stream = TcpStream::connect(&exporter.addr).await.expect("connect");
    stream.write_all(request).await.expect("request sent");
    read_until_closed(&mut stream, limit).await
}

async fn read_until_closed(stream: &mut TcpStream, limit: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while got.len() <= limit {
        match tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no answer within 20 s; got {} bytes", got.len()),
        }
    }
    got
}

/// `GET /sd` with `Host: host`, closing: the status and the body.
async fn get_sd(exporter: &Exporter, host: &str) -> (u16, Vec<u8>) {
    let request = format!("GET /sd HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let response = exchange(exporter, request.as_bytes(), 64 << 20).await;
    split(&response)
}

/// A response's status and body.
fn split(response: &[u8]) -> (u16, Vec<u8>) {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete header");
    let head = String::from_utf8_lossy(&response[..end]);
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
    (status, response[end + 4..].to_vec())
}

/// The statuses of the responses in `bytes` (several answers on one connection).
fn statuses(bytes: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(bytes);
    text.match_indices("HTTP/1.1 ").filter_map(|(i, _)| text[i + 9..].get(..3)?.parse().ok()).collect()
}

/// The regression of issue 17: 100 tenants and a 100 KB `Host` made a 10 MB answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_huge_or_invalid_host_gets_a_small_400_and_a_valid_one_its_targets() {
    let (_sim, exporter, normal) = exporter("sd_host", &[]).await;
    let huge = "a".repeat(100 << 10);
    let (status, body) = get_sd(&exporter, &huge).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body[..body.len().min(200)]));
    assert!(body.len() < 1024, "a 400 of {} bytes", body.len());
    assert!(!String::from_utf8_lossy(&body).contains("aaaa"), "the Host is not echoed");

    // Beyond hyper's header buffer (about 400 KB): a clean 431 from hyper, not a body.
    let request = format!("GET /sd HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", "b".repeat(500 << 10));
    let response = exchange(&exporter, request.as_bytes(), 1 << 20).await;
    assert!(response.len() < 1024, "{} bytes", response.len());
    assert_eq!(statuses(&response), [431], "{}", String::from_utf8_lossy(&response));

    for bad in [&"c".repeat(256)[..], "a\"b", "a b:80", "x/y", "x:0", "x:99999", "[::1", "%zz"] {
        let (status, body) = get_sd(&exporter, bad).await;
        assert_eq!(status, 400, "Host {bad:?}: {}", String::from_utf8_lossy(&body));
        assert!(body.len() < 1024);
    }
    let two_hosts = b"GET /sd HTTP/1.1\r\nHost: a:1\r\nHost: b:2\r\nConnection: close\r\n\r\n";
    assert_eq!(statuses(&exchange(&exporter, two_hosts, 1 << 20).await), [400]);

    // The longest valid host: each target is that address, the body a bounded size.
    let longest = "d".repeat(250) + ":9877";
    for host in ["exporter-0.example:9877", "[::1]:9877", longest.as_str()] {
        let (status, body) = get_sd(&exporter, host).await;
        assert_eq!(status, 200, "Host {host:?}");
        let groups: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(groups.len(), TENANTS);
        assert!(groups.iter().all(|g| g["targets"] == serde_json::json!([host])), "{host}");
        assert_eq!(body.len(), normal + TENANTS * host.len() - TENANTS * "127.0.0.1:9877".len());
    }
    // More distinct addresses than the exporter keeps bodies for: the same answers, spliced.
    for i in 0..8 {
        let host = format!("replica-{i}.example:{}", 9000 + i);
        let (status, body) = get_sd(&exporter, &host).await;
        assert_eq!(status, 200);
        let groups: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(groups.len(), TENANTS);
        assert!(groups.iter().all(|g| g["targets"] == serde_json::json!([host])), "{host}");
    }
    // HTTP/1.0 without a Host: the address listened on.
    let response = exchange(&exporter, b"GET /sd HTTP/1.0\r\n\r\n", 64 << 20).await;
    let (status, body) = split(&response);
    assert_eq!(status, 200);
    let groups: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(groups[0]["targets"], serde_json::json!([exporter.addr]));
}

#[tokio::test(flavor = "multi_thread")]
async fn with_an_external_address_the_host_is_not_used() {
    let external = "sobot-exporter-0.sobot-exporter.monitoring.svc:9877";
    let (_sim, exporter, normal) = exporter("sd_external", &["--web.external-address", external]).await;
    let want = serde_json::json!([external]);
    for host in ["127.0.0.1:9877", "elsewhere.example", &"a".repeat(100 << 10), "a\"b"] {
        let (status, body) = get_sd(&exporter, host).await;
        assert_eq!(status, 200, "Host of {} bytes", host.len());
        assert_eq!(body.len(), normal, "the same answer whatever the Host");
        let groups: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(groups.len(), TENANTS);
        assert!(groups.iter().all(|g| g["targets"] == want));
    }
}

/// `requests` pipelined `GET /sd` with `host` on each of `connections` connections that do not
/// read (a small receive window), the last request closing.
async fn unread(exporter: &Exporter, connections: usize, requests: usize, host: &str) -> Vec<TcpStream> {
    let one = format!("GET /sd HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let last = format!("GET /sd HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let request = one.repeat(requests - 1) + &last;
    let mut streams = Vec::new();
    for _ in 0..connections {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let mut stream = socket.connect(exporter.addr.parse().expect("address")).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("requests sent");
        streams.push(stream);
    }
    streams
}

/// Scrapes `/metrics` `times` times: every one answers 200 with the exporter's own series.
async fn scrapes_answer(exporter: &Exporter, times: usize) {
    let client = http();
    for _ in 0..times {
        let response = client.get(exporter.url("/metrics")).send().await.expect("/metrics answers");
        assert_eq!(response.status(), 200);
        let m = Metrics::parse(&response.text().await.expect("body"));
        assert_eq!(m.get("sobot_exporter_platform_tenants_served"), Some(TENANTS as f64));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn floods_of_unread_answers_leave_metrics_served_and_sigterm_ends_the_process() {
    let (_sim, mut exporter, normal) = exporter("sd_flood", &["--web.write-timeout", "60s"]).await;
    // Huge Hosts: every answer a small 400, however many wait unread.
    let mut huge = unread(&exporter, 32, 8, &"a".repeat(100 << 10)).await;
    scrapes_answer(&exporter, 10).await;
    for stream in &mut huge {
        let got = read_until_closed(stream, 64 << 10).await;
        assert!(got.len() < 8 * 1024, "{} bytes of answers", got.len());
        assert_eq!(statuses(&got), [400; 8]);
    }
    // Valid Hosts of the longest kind, distinct: answers of a bounded size, more than the
    // sockets' buffers hold (about 4 MiB), left unread.
    let host = |i: usize| format!("{}{i:03}:9877", "h".repeat(245));
    let size = normal + TENANTS * (host(0).len() - "127.0.0.1:9877".len());
    let requests = (6 << 20) / size + 1;
    let mut valid = Vec::new();
    for i in 0..16 {
        valid.extend(unread(&exporter, 1, requests, &host(i)).await);
    }
    scrapes_answer(&exporter, 10).await;
    let got = read_until_closed(&mut valid[0], 64 << 20).await;
    assert_eq!(statuses(&got), vec![200; requests]);
    assert!(got.len() < requests * (size + 1024), "{} bytes of answers", got.len());
    // SIGTERM with 15 connections' answers pending and unread: the process ends, the stalled
    // connections closed rather than waited for.
    exporter.signal_term();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = exporter.exited() {
            break status;
        }
        assert!(Instant::now() < deadline, "the exporter did not exit on SIGTERM: {}", exporter.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}: {}", exporter.logs());
    assert!(!exporter.logs().contains("did not finish within"), "{}", exporter.logs());
    drop(valid);
}
