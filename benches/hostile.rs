//! Memory under hostile `/sd` clients (issue 17): 2,000 tenants, the real binary.
//!
//! `cargo bench --locked --bench hostile` prints, for each flood of connections that ask for `/sd`
//! and do not read (a 4 KiB receive window): the answers' status and size, peak (VmHWM) and
//! current (VmRSS) memory during it and after it, the median of ten `/metrics` scrapes made during
//! it, and how long SIGTERM takes to end the process with the last flood still pending.
//!
//! 1. 64 connections, one request each with a 500 KB `Host` (beyond hyper's header buffer);
//! 2. 64 connections, one request each with a 100 KB `Host`;
//! 3. 64 connections, each pipelining 6 MiB of answers to distinct 255-byte `Host`s.
//!
//! Figures, not assertions: nothing here fails on a slow machine.

mod support;

use support::*;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use sobot_simulator::{SimConfig, Simulator, sim_platform};

const TENANTS: usize = 2_000;
const CONNECTIONS: usize = 64;

/// A flood: its name, the `Host` of connection `i`, and the requests each connection pipelines.
type Flood = (&'static str, Box<dyn Fn(usize) -> String>, usize);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let platform = sim_platform(TENANTS);
    let config = SimConfig { platform: Some(platform.clone()), ..SimConfig::fixtures("1", "BenchAppKey-1") };
    let sim = Simulator::start(config).await.expect("the simulator starts");
    let dir = TempDir::new("sobot-bench-hostile");
    let config = dir.path().join("config.yml");
    let yaml = format!(
        "platform:\n  union_code: \"{}\"\n  email: {}\n  interval: 5m\n  tenants_on_metrics: false\n",
        platform.union_code, platform.email
    );
    std::fs::write(&config, yaml).expect("write the exporter's config");
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let mut exporter = Guarded::spawn(
        "sobot_exporter",
        Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
            .args(["--web.listen-address", &address, "--sobot.base-url", &sim.base_url()])
            .args(["--config.file", config.to_str().expect("temp path is UTF-8")])
            .args(["--collect.interval", "10m", "--log.level", "warn", "--web.write-timeout", "60s"])
            .env_remove("SOBOT_APP_ID")
            .env_remove("SOBOT_APP_KEY")
            .env_remove("SOBOT_PLATFORM_SHARD")
            .env("SOBOT_PLATFORM_UNION_KEY", platform.union_key.expose())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let client = reqwest::Client::new();
    let sd = format!("http://{address}/sd");
    let started = Instant::now();
    let normal = loop {
        if let Ok(response) = client.get(&sd).send().await
            && let Ok(body) = response.bytes().await
            && serde_json::from_slice::<Vec<serde_json::Value>>(&body).is_ok_and(|g| g.len() == TENANTS)
        {
            break body.len();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "/sd did not list {TENANTS} tenants in 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let pid = exporter.id();
    println!(
        "{TENANTS} tenants: /sd {:.0} KiB; VmRSS {:.1} MiB",
        normal as f64 / 1024.0,
        kib_mib(proc_status_kib(pid, "VmRSS:"))
    );
    let floods: [Flood; 3] = [
        ("500 KB Host", Box::new(|_| "a".repeat(500_000)), 1),
        ("100 KB Host", Box::new(|_| "a".repeat(100_000)), 1),
        ("255-byte Hosts, pipelined", Box::new(|i| format!("{}{i:04}:9877", "h".repeat(246))), {
            let size = normal + TENANTS * 241;
            (6 << 20) / size + 1
        }),
    ];
    let mut pending = Vec::new();
    for (name, host, requests) in &floods {
        drop(std::mem::take(&mut pending));
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before = proc_status_kib(pid, "VmRSS:");
        for i in 0..CONNECTIONS {
            let host = host(i);
            let one = format!("GET /sd HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
            let mut stream: TcpStream =
                socket.connect(address.parse().expect("address")).await.expect("connect");
            stream.write_all(one.repeat(*requests).as_bytes()).await.expect("requests sent");
            pending.push(stream);
        }
        let mut scrapes = Vec::new();
        for _ in 0..10 {
            let at = Instant::now();
            let ok =
                client.get(format!("http://{address}/metrics")).send().await.is_ok_and(|r| r.status() == 200);
            scrapes.push(if ok { at.elapsed() } else { Duration::MAX });
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let during = proc_status_kib(pid, "VmRSS:");
        println!(
            "{name}: {CONNECTIONS} connections × {requests} unread: VmRSS {:.1} → {:.1} MiB, VmHWM {:.1} MiB; \
             /metrics median {:.1} ms",
            kib_mib(before),
            kib_mib(during),
            kib_mib(proc_status_kib(pid, "VmHWM:")),
            ms(median(&mut scrapes))
        );
        let mut first = TcpStream::connect(&address).await.expect("connect");
        let probe = format!("GET /sd HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", host(CONNECTIONS));
        first.write_all(probe.as_bytes()).await.expect("request sent");
        let mut answer = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut first, &mut answer).await;
        let status = String::from_utf8_lossy(&answer[..answer.len().min(12)]).to_string();
        println!("  one more such request: {status:?}, {} bytes", answer.len());
    }
    let term = Instant::now();
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    exporter.wait_for(Duration::from_secs(30));
    println!(
        "SIGTERM with {} connections' answers unread: exited in {:.2} s",
        pending.len(),
        term.elapsed().as_secs_f64()
    );
}
