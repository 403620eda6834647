//! Test harness: the simulator in-process, the real binary as a child process, scrape helpers.

#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

pub(crate) use sobot_simulator::{Fault, SimConfig, Simulator};

/// App id and key the fixture simulator accepts.
pub(crate) const APP_ID: &str = "1";
/// A distinctive key, easy to search for in logs.
pub(crate) const APP_KEY: &str = "TopSecretAppKey-7f3a9c";

/// Starts a simulator serving the documents' examples.
pub(crate) async fn fixture_simulator() -> Simulator {
    Simulator::start(SimConfig::fixtures(APP_ID, APP_KEY)).await.expect("simulator starts")
}

/// A running exporter process; killed when dropped.
pub(crate) struct Exporter {
    child: Child,
    pub addr: String,
    pub log: PathBuf,
    dir: TempDir,
}

/// A fresh temporary directory for one test.
pub(crate) fn temp_dir(name: &str) -> TempDir {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sobot_exporter_test_{name}_{}_{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    TempDir(dir)
}

/// A test's temporary directory, removed with everything in it when dropped (a failing test's
/// included).
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a file into `dir`.
pub(crate) fn write_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).expect("create file");
    f.write_all(content.as_bytes()).expect("write file");
    path
}

impl Exporter {
    /// Starts the binary against `base_url` with the fixture credentials in the environment,
    /// listening on an ephemeral port, JSON logs (unless `args` name a `--log.format`) in a file;
    /// waits until it listens.
    pub(crate) async fn start(name: &str, base_url: &str, args: &[&str]) -> Exporter {
        Self::start_with_env(name, base_url, args, &[("SOBOT_APP_ID", APP_ID), ("SOBOT_APP_KEY", APP_KEY)])
            .await
    }

    /// Like [`Exporter::start`] with the given environment.
    pub(crate) async fn start_with_env(
        name: &str,
        base_url: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Exporter {
        Self::start_wrapped(name, base_url, args, env, &[]).await
    }

    /// Like [`Exporter::start_with_env`], run through `wrapper` (a command that is given the
    /// binary and its arguments and `exec`s it, e.g. `["sh", "-c", "ulimit -Sn 256; exec \"$0\" \"$@\""]`).
    pub(crate) async fn start_wrapped(
        name: &str,
        base_url: &str,
        args: &[&str],
        env: &[(&str, &str)],
        wrapper: &[&str],
    ) -> Exporter {
        let dir = temp_dir(name);
        let log = dir.join("exporter.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let binary = env!("CARGO_BIN_EXE_sobot_exporter");
        let mut cmd = match wrapper.split_first() {
            None => Command::new(binary),
            Some((program, wrapper_args)) => {
                let mut cmd = Command::new(program);
                cmd.args(wrapper_args).arg(binary);
                cmd
            }
        };
        cmd.args(["--web.listen-address", "127.0.0.1:0", "--sobot.base-url", base_url]);
        // JSON logs unless the test asks for another format.
        if !args.contains(&"--log.format") {
            cmd.args(["--log.format", "json"]);
        }
        cmd.args(args)
            .env_remove("SOBOT_APP_ID")
            .env_remove("SOBOT_APP_KEY")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let child = cmd.spawn().expect("exporter starts");
        let mut exporter = Exporter { child, addr: String::new(), log, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(addr) = exporter.logs().lines().find_map(listening_address) {
                exporter.addr = addr;
                return exporter;
            }
            if let Ok(Some(status)) = exporter.child.try_wait() {
                panic!("exporter exited with {status}: {}", exporter.logs());
            }
            assert!(Instant::now() < deadline, "exporter did not start: {}", exporter.logs());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything the exporter logged so far.
    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The test's temporary directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The process id (for its `/proc/<pid>/status`).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://ADDR`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// GET /metrics as text (0.0.4).
    pub(crate) async fn scrape(&self) -> String {
        http().get(self.url("/metrics")).send().await.expect("scrape").text().await.expect("body")
    }

    /// Scrapes until `check` holds on the parsed metrics, or panics after `timeout`.
    pub(crate) async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&Metrics) -> bool,
    ) -> Metrics {
        let deadline = Instant::now() + timeout;
        loop {
            let m = Metrics::parse(&self.scrape().await);
            if check(&m) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last scrape:\n{}\nlogs:\n{}",
                m.text,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A memory figure of the process from `/proc/<pid>/status`, in KiB: `VmRSS` (resident now)
    /// or `VmHWM` (peak resident so far).
    pub(crate) fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let line = status.lines().find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')));
        let kib = line.and_then(|l| l.split_whitespace().nth(1)).and_then(|kib| kib.parse().ok());
        kib.unwrap_or_else(|| panic!("{field} in /proc/<pid>/status"))
    }

    /// Sends SIGTERM without waiting.
    pub(crate) fn signal_term(&self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
    }

    /// The exit status, if the process has exited.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "exporter did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening_address(line: &str) -> Option<String> {
    // logfmt: `… msg="sobot_exporter listening" … address=HOST:PORT …`.
    if line.starts_with("ts=") {
        let (_, rest) = line.split_once(" msg=\"sobot_exporter listening\" ")?;
        let (_, address) = rest.split_once(" address=")?;
        return address.split(' ').next().map(str::to_string);
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("message")?.as_str()? != "sobot_exporter listening" {
        return None;
    }
    Some(v.get("address")?.as_str()?.to_string())
}

/// A client that asks `exporter` for `/metrics` many times over one connection (pipelined) and
/// never reads: enough answers to fill both sockets' buffers (16 MiB), so the exporter's write
/// stalls. Returns the connection and the number of requests sent.
pub(crate) async fn stalled_reader(exporter: &Exporter) -> (tokio::net::TcpStream, usize) {
    use tokio::io::AsyncWriteExt;
    let size = exporter.scrape().await.len().max(1);
    let requests = ((16 << 20) / size + 1).min(20_000);
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    // A small receive window: the exporter's send buffer fills sooner.
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stream = socket.connect(exporter.addr.parse().expect("address")).await.expect("connect");
    let one = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    stream.write_all(&one.repeat(requests)).await.expect("requests sent");
    (stream, requests)
}

/// An HTTP client for talking to the exporter.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client")
}

/// Parsed text exposition: series (`name{labels}` as written) → value.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    pub series: BTreeMap<String, f64>,
    pub text: String,
}

impl Metrics {
    pub(crate) fn parse(text: &str) -> Metrics {
        let mut series = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            if let Some((key, value)) = line.rsplit_once(' ')
                && let Ok(v) = value.parse::<f64>()
            {
                series.insert(key.to_string(), v);
            }
        }
        Metrics { series, text: text.to_string() }
    }

    /// The value of one series, written as in the exposition.
    pub(crate) fn get(&self, series: &str) -> Option<f64> {
        self.series.get(series).copied()
    }

    /// Series of one metric name.
    pub(crate) fn family(&self, name: &str) -> BTreeMap<String, f64> {
        self.series
            .iter()
            .filter(|(k, _)| k.as_str() == name || k.starts_with(&format!("{name}{{")))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// `sobot_exporter_collector_success{collector=...}`.
    pub(crate) fn success(&self, collector: &str) -> Option<f64> {
        self.get(&format!("sobot_exporter_collector_success{{collector=\"{collector}\"}}"))
    }

    /// `sobot_exporter_upstream_requests_total{endpoint,code}`, 0 if absent.
    pub(crate) fn requests(&self, endpoint: &str, code: &str) -> f64 {
        self.get(&format!(
            "sobot_exporter_upstream_requests_total{{endpoint=\"{endpoint}\",code=\"{code}\"}}"
        ))
        .unwrap_or(0.0)
    }

    /// Whether every named collector's last cycle succeeded.
    pub(crate) fn all_succeeded(&self, collectors: &[&str]) -> bool {
        collectors.iter().all(|c| self.success(c) == Some(1.0))
    }
}

/// The Laaffic key and secret the simulator accepts: the document's example.
pub(crate) const LAAFFIC_KEY: &str = "bDqJFiq9";
/// See [`LAAFFIC_KEY`].
pub(crate) const LAAFFIC_SECRET: &str = "7bz1lzh9";

/// Every Sobot collector that runs by default (Laaffic needs its own credentials), in order.
pub(crate) static ALL: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    sobot_exporter_core::sources::default_collectors(false, false)
        .into_iter()
        .map(|name| &*Box::leak(name.into_boxed_str()))
        .collect()
});

/// The six company statistics collectors, the first of [`ALL`].
pub(crate) static STATS: LazyLock<Vec<&'static str>> = LazyLock::new(|| ALL[..6].to_vec());

/// A Prometheus server (or agent, with `--enable-feature=agent`) of Debian's package, running in
/// its own directory with `config`; killed when dropped.
pub(crate) struct Prometheus {
    child: Child,
    pub url: String,
}

impl Prometheus {
    /// Starts it on a free port of 127.0.0.1 and waits until it is ready.
    pub(crate) async fn start(dir: &Path, config: &str, flags: &[&str]) -> Prometheus {
        std::fs::create_dir_all(dir).expect("dir");
        let config_path = write_file(dir, "prometheus.yml", config);
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
        let storage =
            if flags.contains(&"--enable-feature=agent") { "storage.agent" } else { "storage.tsdb" };
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--{storage}.path={}", dir.join("data").display()))
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus is installed (Debian package prometheus; tests/setup.sh installs it)");
        let prometheus = Prometheus { child, url: format!("http://127.0.0.1:{port}") };
        wait_ready(&prometheus.url, &dir.join("prometheus.log"), "prometheus").await;
        prometheus
    }
}

impl Prometheus {
    /// The result of an instant query (`/api/v1/query`), at `at` (Unix seconds) or now.
    pub(crate) async fn query(&self, expr: &str, at: Option<i64>) -> Vec<serde_json::Value> {
        let mut params = vec![("query", expr.to_string())];
        params.extend(at.map(|at| ("time", at.to_string())));
        let body: serde_json::Value = http()
            .get(format!("{}/api/v1/query", self.url))
            .query(&params)
            .send()
            .await
            .expect("query")
            .json()
            .await
            .expect("json");
        assert_eq!(body["status"], "success", "{expr}: {body}");
        body["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

/// Waits (30 s at most) until the Prometheus-style server at `url` answers 200 on `/-/ready`;
/// a timeout fails the test with the server's log.
pub(crate) async fn wait_ready(url: &str, log: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http().get(format!("{url}/-/ready")).send().await
            && r.status() == 200
        {
            return;
        }
        let log = std::fs::read_to_string(log).unwrap_or_default();
        assert!(Instant::now() < deadline, "{what} did not start: {log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port of 127.0.0.1 that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

/// The names a PromQL expression mentions (outside quoted strings): every token of name
/// characters, metric names and recording rule names among them.
pub(crate) fn expression_names(expr: &str) -> Vec<String> {
    let mut unquoted = String::new();
    let mut quoted = false;
    for c in expr.chars() {
        if c == '"' {
            quoted = !quoted;
        } else if !quoted {
            unquoted.push(c);
        }
    }
    unquoted
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}
