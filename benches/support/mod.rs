//! What the benches share: ports, `/proc` figures, programs on `PATH`, unit conversions, child
//! processes and temp dirs that clean up after themselves, and nginx as the serving baseline.

#![allow(dead_code, clippy::cast_precision_loss)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A positive whole number from the environment variable `name`, else `default`.
pub(crate) fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(default)
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A `/proc/<pid>/status` figure in KiB (`VmRSS:`, `VmHWM:`); 0 if unreadable.
pub(crate) fn proc_status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The full path of `program` on `PATH`, if there is one.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// `a / b`, or 0 when `b` is 0.
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// The median of `values` (sorts them); the default for none.
pub(crate) fn median<T: Ord + Copy + Default>(values: &mut [T]) -> T {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Milliseconds.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Bytes in MiB.
pub(crate) fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// KiB in MiB.
pub(crate) fn kib_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Runs `wrk` with `args` against `url` on a blocking thread, so that an in-process simulator
/// keeps answering; its standard output, or `None`, with a printed reason, if it fails.
pub(crate) async fn run_wrk(args: &[&str], url: &str) -> Option<String> {
    let mut command = Command::new("wrk");
    command.args(args).arg(url).stdin(Stdio::null());
    let output = tokio::task::spawn_blocking(move || command.output()).await.ok()?;
    match output {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => {
            println!("    wrk {url}: {} {}", o.status, String::from_utf8_lossy(&o.stderr).trim());
            None
        }
        Err(e) => {
            println!("    wrk {url}: cannot run: {e}");
            None
        }
    }
}

/// The `Non-2xx or 3xx responses` and `Socket errors` lines of wrk's output.
pub(crate) fn wrk_errors(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Non-2xx") || l.starts_with("Socket errors"))
        .map(str::to_string)
        .collect()
}

/// A child process, killed and reaped when dropped (also when the bench panics).
pub(crate) struct Guarded {
    name: &'static str,
    child: Child,
}

impl Guarded {
    /// Spawns `command`; panics with `name` in the message if it cannot start.
    pub(crate) fn spawn(name: &'static str, command: &mut Command) -> Guarded {
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Guarded { name, child }
    }

    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the process has exited.
    pub(crate) fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub(crate) fn wait_for(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} did not exit within {} s: killing it", self.name, timeout.as_secs());
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A directory under the system temp dir, removed with everything in it when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// Creates `<tmp>/<prefix>_<pid>`.
    pub(crate) fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("{prefix}_{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create the temp dir");
        TempDir(path)
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Gives everyone read access to `dir` and below (nginx's workers may run as another user).
pub(crate) fn make_world_readable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(dir) else { return };
    let mode = if meta.is_dir() { 0o755 } else { 0o644 };
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode));
    if meta.is_dir()
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        for entry in entries.flatten() {
            make_world_readable(&entry.path());
        }
    }
}

/// nginx as a child process with its own configuration in `dir/nginx`, serving the files of
/// `www`; stopped when dropped.
pub(crate) struct Nginx {
    child: Guarded,
    port: u16,
    conf: PathBuf,
    prefix: PathBuf,
}

impl Nginx {
    /// Starts nginx on 127.0.0.1:<free port> with two workers (like the exporter's two runtime
    /// threads on this machine), no access log, `content_type` for every file, and `locations`
    /// (its `location` blocks) in its one server; temp paths and pid file inside `dir`, so nothing
    /// outside it is touched. `None`, with a printed reason, if `ready_path` does not answer 2xx
    /// within 10 s.
    pub(crate) async fn start(
        dir: &Path,
        www: &Path,
        content_type: &str,
        locations: &str,
        ready_path: &str,
    ) -> Option<Nginx> {
        let prefix = dir.join("nginx");
        std::fs::create_dir_all(prefix.join("tmp")).expect("create nginx's directories");
        let port = free_port();
        let p = prefix.display();
        let conf = prefix.join("nginx.conf");
        let text = format!(
            "daemon off;\nmaster_process on;\nworker_processes 2;\npid {p}/nginx.pid;\nerror_log {p}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  keepalive_requests 1000000;\n\
             client_body_temp_path {p}/tmp/body;\n  proxy_temp_path {p}/tmp/proxy;\n  fastcgi_temp_path {p}/tmp/fastcgi;\n\
             uwsgi_temp_path {p}/tmp/uwsgi;\n  scgi_temp_path {p}/tmp/scgi;\n  types {{ }}\n  default_type \"{content_type}\";\n\
             server {{\n    listen 127.0.0.1:{port};\n    root {www};\n    {locations}\n  }}\n}}\n",
            www = www.display(),
        );
        std::fs::write(&conf, text).expect("write nginx's config");
        make_world_readable(dir);
        let mut command = Command::new("nginx");
        command
            .args([
                "-p",
                &format!("{p}/"),
                "-c",
                &conf.display().to_string(),
                "-e",
                &format!("{p}/error.log"),
            ])
            .stdout(Stdio::null());
        let child = Guarded::spawn("nginx", &mut command);
        let nginx = Nginx { child, port, conf, prefix };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if client.get(nginx.url(ready_path)).send().await.is_ok_and(|r| r.status().is_success()) {
                return Some(nginx);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(nginx.prefix.join("error.log")).unwrap_or_default();
        println!("  nginx: did not start within 10 s; skipping the comparison with nginx. Its log:\n{log}");
        None
    }

    /// `http://127.0.0.1:<port><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The master's process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // A fast shutdown through the master, which takes its workers with it; the guard kills
        // the master if it is still there after that.
        let prefix = format!("{}/", self.prefix.display());
        let conf = self.conf.display().to_string();
        let _ = Command::new("nginx")
            .args(["-p", &prefix, "-c", &conf, "-e", &format!("{prefix}error.log"), "-s", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        self.child.wait_for(Duration::from_secs(5));
    }
}

/// What every tenant of the platform benches collects: the platform's defaults and one per-agent
/// endpoint.
pub(crate) static TENANT_COLLECTORS: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| {
        let mut names = sobot_exporter_core::sources::platform::config::default_tenant_collectors();
        names.push("get_service_data");
        names
    });
