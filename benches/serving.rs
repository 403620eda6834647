//! Memory and serving at about 184k series: 2,000 agents in 40 groups, 2,005 Laaffic seats and
//! 20,000 quality records per source, both windows, every collector, against the local simulator.
//!
//! `cargo bench --locked --bench serving` runs the real binary with a 5 s interval and prints:
//!
//! 1. while it keeps collecting for 60 s and is scraped every second: series, body sizes, peak
//!    (VmHWM) and steady (median VmRSS) memory, bytes per series, and the latency of one full scrape
//!    next to nginx serving the same bytes;
//! 2. `/metrics` throughput under `wrk`, plain and gzip, against nginx serving the same bytes from
//!    files (skipped, with a line saying so, when `nginx` or `wrk` is missing);
//! 3. in process, the encode time after one collector's snapshot changes, per collector.
//!
//! Figures, not assertions: nothing here fails on a slow machine. Every comparison is a ratio of
//! two things measured in the same run, interleaved, because the machine is shared.

mod support;

use support::*;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sobot_exporter_core::config::CollectorKind;
use sobot_exporter_core::exposition::{Board, Chunk, Format, Key, Published};
use sobot_exporter_core::secret::Secret;
use sobot_exporter_core::snapshot::Family;
use sobot_exporter_core::sources::laaffic::client::{LaafficClient, LaafficCredentials};
use sobot_exporter_core::sources::laaffic::seats::SeatCollector;
use sobot_exporter_core::sources::sobot::client::{Credentials, SobotClient};
use sobot_exporter_core::sources::sobot::endpoints::Rows;
use sobot_exporter_core::sources::sobot::quality::{PageSettings, QualityCollector};
use sobot_exporter_core::sources::sobot::stats::{Context, Scope, StatsCollector};
use sobot_exporter_core::telemetry::Telemetry;
use sobot_exporter_core::upstream::ClientSettings;
use sobot_exporter_core::upstream::UpstreamError;
use sobot_exporter_core::window::Window;
use sobot_simulator::{DataMode, SimConfig, Simulator, population};

/// 40 skill groups of 50 agents.
const AGENTS: (usize, usize) = (40, 50);
const SEATS: usize = 2_005;
const QUALITY_RECORDS: usize = 20_000;
/// Both the collection and the quality interval.
const INTERVAL: Duration = Duration::from_secs(5);
/// How long the exporter keeps collecting while it is scraped every second.
const STEADY: Duration = Duration::from_secs(60);
/// How long the exporter and nginx are scraped in turn for the latency comparison: two
/// collection cycles, so that the medians see the exporter while it encodes and while it does not.
const LATENCY_SPAN: Duration = Duration::from_secs(10);
/// Arguments of every `wrk` run.
const WRK_ARGS: [&str; 5] = ["-t2", "-c8", "-d5s", "--timeout", "10s"];
/// `wrk` runs per server and variant, the servers in turn, so that both see the same background.
const WRK_ROUNDS: usize = 3;
/// Rounds of "one collector changes, encode everything" per collector.
const ENCODE_ROUNDS: usize = 3;
const APP_ID: &str = "bench";
const APP_KEY: &str = "bench-key";
const LAAFFIC_KEY: &str = "bDqJFiq9";
const LAAFFIC_SECRET: &str = "7bz1lzh9";
/// Every collector the exporter runs by default with Sobot and Laaffic credentials and groups.
static COLLECTORS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| sobot_exporter_core::sources::default_collectors(true, true));

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    // Other builds share the machine: say how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let agents = population(AGENTS.0, AGENTS.1);
    let sim = Simulator::start(SimConfig {
        data: DataMode::Live,
        agents: agents.clone(),
        quality_records: QUALITY_RECORDS,
        laaffic_seats: SEATS,
        rate_limit_per_minute: u32::MAX,
        laaffic_api_key: Secret::new(LAAFFIC_KEY),
        laaffic_api_secret: Secret::new(LAAFFIC_SECRET),
        ..SimConfig::fixtures(APP_ID, APP_KEY)
    })
    .await
    .expect("the simulator starts");
    let mut groups: Vec<String> = agents.iter().map(|a| a.group.clone()).collect();
    groups.dedup();
    let dir = TempDir::new("sobot_exporter_serving");
    let config = dir.path().join("config.yml");
    std::fs::write(&config, config_yaml(&groups)).expect("write the exporter's config");

    let port = free_port();
    let started = Instant::now();
    let exporter = Guarded::spawn(
        "sobot_exporter",
        Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
            .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
            .args(["--sobot.base-url", &sim.base_url(), "--laaffic.base-url", &sim.base_url()])
            .args(["--config.file", config.to_str().expect("temp path is UTF-8")])
            .args(["--collect.interval", &format!("{}s", INTERVAL.as_secs()), "--log.level", "warn"])
            .env("SOBOT_APP_ID", APP_ID)
            .env("SOBOT_APP_KEY", APP_KEY)
            .env("LAAFFIC_API_KEY", LAAFFIC_KEY)
            .env("LAAFFIC_API_SECRET", LAAFFIC_SECRET)
            .stdout(Stdio::null()),
    );
    let pid = exporter.id();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    eprintln!("waiting for every collector to succeed once ...");
    loop {
        if let Ok((body, _)) = scrape(&client, &url, false).await
            && all_succeeded(&body)
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the collectors did not all succeed in 300 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first_cycle = started.elapsed();

    // Steady state: collection goes on every 5 s; one plain and one gzip scrape a second.
    eprintln!("steady state for {} s ...", STEADY.as_secs());
    let mut rss_kib = Vec::new();
    let (mut plain_times, mut gzip_times) = (Vec::new(), Vec::new());
    let mut changes = 0;
    let mut last = Bytes::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let steady_start = Instant::now();
    while steady_start.elapsed() < STEADY {
        ticker.tick().await;
        rss_kib.push(proc_status_kib(pid, "VmRSS:"));
        let (body, took) = scrape(&client, &url, false).await.expect("scrape /metrics");
        plain_times.push(took);
        if !last.is_empty() && body != last {
            changes += 1;
        }
        last = body;
        gzip_times.push(scrape(&client, &url, true).await.expect("scrape /metrics with gzip").1);
    }
    let steady_hwm = proc_status_kib(pid, "VmHWM:");
    let (text, _) = scrape(&client, &url, false).await.expect("scrape /metrics");
    let (gzip, _) = scrape(&client, &url, true).await.expect("scrape /metrics with gzip");
    let still_ok = all_succeeded(&text);
    let series =
        String::from_utf8_lossy(&text).lines().filter(|l| !l.is_empty() && !l.starts_with('#')).count();

    println!(
        "load average before the run: {} (on {} CPUs)",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "serving {} agents in {} groups, {SEATS} Laaffic seats, {QUALITY_RECORDS} quality records per source, \
         windows today and yesterday, {} collectors, interval {} s",
        agents.len(),
        groups.len(),
        COLLECTORS.len(),
        INTERVAL.as_secs()
    );
    println!("  process start to every collector done:             {:>9.1} s", first_cycle.as_secs_f64());
    println!("  /metrics series:                                   {series:>9}");
    println!("  /metrics size, text format:                        {:>9.1} MiB", mib(text.len()));
    println!(
        "  /metrics size, gzip:                               {:>9.1} MiB ({:.1}x smaller)",
        mib(gzip.len()),
        ratio(text.len() as f64, gzip.len() as f64)
    );
    println!(
        "  exposition changes seen by the 1-s scrapes:        {changes:>9} in {} s{}",
        STEADY.as_secs(),
        if still_ok { "" } else { " (some collector was failing at the end!)" }
    );
    println!(
        "  peak RSS (VmHWM) after {} s:                       {:>9.1} MiB",
        STEADY.as_secs(),
        kib_mib(steady_hwm)
    );
    println!(
        "  steady RSS (median of VmRSS, 1/s):                 {:>9.1} MiB",
        kib_mib(median(&mut rss_kib))
    );
    println!(
        "  bytes per series (peak RSS / series):              {:>9.0} B",
        steady_hwm as f64 * 1024.0 / series as f64
    );
    println!(
        "  full scrape during the {} s, median of {:>2}, plain: {:>9.1} ms",
        STEADY.as_secs(),
        plain_times.len(),
        ms(median(&mut plain_times))
    );
    println!(
        "  full scrape during the {} s, median of {:>2}, gzip:  {:>9.1} ms (gzipped on first demand after a change)",
        STEADY.as_secs(),
        gzip_times.len(),
        ms(median(&mut gzip_times))
    );

    // The same bytes from nginx: one full scrape, then throughput under wrk.
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).expect("create the nginx document root");
    std::fs::write(www.join("metrics"), &text).expect("save the text body");
    std::fs::write(www.join("metrics.gz"), &gzip).expect("save the gzip body");
    let have_wrk = which("wrk").is_some();
    if !have_wrk {
        println!("  wrk: not found on PATH; skipping the throughput comparison (apt-get install -y wrk)");
    }
    let nginx = if which("nginx").is_none() {
        println!(
            "  nginx: not found on PATH; skipping the comparisons with nginx, scrape latency and throughput \
             (apt-get install -y nginx)"
        );
        None
    } else {
        // `www/metrics` (text format) and `www/metrics.gz` (the same, pre-compressed, sent with
        // `Content-Encoding: gzip`).
        let locations = "tcp_nopush on;\n    location = /metrics { }\n    location = /metrics.gz { add_header Content-Encoding gzip; }";
        Nginx::start(dir.path(), &www, sobot_exporter_core::exposition::TEXT, locations, "/metrics").await
    };
    let mut peak_after_load = None;
    if let Some(nginx) = &nginx {
        let plain_url = nginx.url("/metrics");
        let gzip_url = nginx.url("/metrics.gz");
        check_same_bytes(&client, &plain_url, false, &text).await;
        check_same_bytes(&client, &gzip_url, true, &gzip).await;
        for (label, gz, nginx_url) in [("plain", false, &plain_url), ("gzip ", true, &gzip_url)] {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            let span = Instant::now();
            while span.elapsed() < LATENCY_SPAN {
                ours.push(scrape(&client, &url, gz).await.expect("scrape the exporter").1);
                theirs.push(scrape(&client, nginx_url, gz).await.expect("scrape nginx").1);
            }
            let n = ours.len();
            let (ours, theirs) = (median(&mut ours), median(&mut theirs));
            println!(
                "  full scrape, median of {n:>3} each in turn, {label}: exporter {:>6.1} ms, nginx {:>6.1} ms, \
                 exporter/nginx {:.2}x",
                ms(ours),
                ms(theirs),
                ratio(ours.as_secs_f64(), theirs.as_secs_f64())
            );
        }
        if have_wrk {
            println!(
                "  throughput, wrk {}, {WRK_ROUNDS} runs each, the servers in turn (the exporter keeps collecting):",
                WRK_ARGS.join(" ")
            );
            for (label, gz, nginx_url) in [("plain", false, &plain_url), ("gzip ", true, &gzip_url)] {
                let (mut ours, mut theirs, mut problems) = (0.0, 0.0, String::new());
                let mut rounds = Vec::new();
                for _ in 0..WRK_ROUNDS {
                    let (Some(o), Some(t)) = (wrk(&url, gz).await, wrk(nginx_url, gz).await) else {
                        problems.push_str(" (a wrk run failed, see above)");
                        break;
                    };
                    ours += o.requests_per_s;
                    theirs += t.requests_per_s;
                    rounds.push(ratio(o.requests_per_s, t.requests_per_s));
                    problems.push_str(&o.problems("exporter"));
                    problems.push_str(&t.problems("nginx"));
                }
                let n = rounds.len().max(1) as f64;
                let (low, high) = rounds.iter().fold((f64::MAX, 0.0_f64), |(l, h), r| (l.min(*r), h.max(*r)));
                println!(
                    "    {label}: exporter {:>7.1} req/s, nginx {:>7.1} req/s, exporter/nginx {:.2}x \
                     (runs {low:.2}x to {high:.2}x){problems}",
                    ours / n,
                    theirs / n,
                    ratio(ours, theirs),
                );
            }
            peak_after_load = Some(proc_status_kib(pid, "VmHWM:"));
        }
    }
    if let Some(hwm) = peak_after_load {
        println!("  peak RSS (VmHWM) after the wrk runs too:           {:>9.1} MiB", kib_mib(hwm));
    }
    drop(nginx);
    drop(exporter);

    // Cost of one collector's change, in process: the same collection, one chunk per collector
    // on a board; then each collector collects again (live values move), is encoded into its
    // chunk, and /metrics is assembled for the next scrape (text format).
    eprintln!("encode per changed collector, in process ...");
    let (mut chunks, targets) = collect_in_process(&sim.base_url(), &groups).await;
    let board = Board::new();
    let publisher = board.publisher(Key::Target("company".to_string()), &Vec::new(), true);
    publisher.publish(Published::new(chunks.clone()));
    let reference = board.body(Format::Text);
    let mut gzips = Vec::new();
    for _ in 0..ENCODE_ROUNDS {
        let t = Instant::now();
        std::hint::black_box(fresh_gzip(&reference.to_bytes()));
        gzips.push(t.elapsed());
    }
    let gzip_time = median(&mut gzips);
    println!(
        "after one collector's change (in process; median of {ENCODE_ROUNDS}): encode of that collector, then"
    );
    println!("assembly of the whole text body from every collector's chunk (what the next scrape pays)");
    println!("  gzip of the text body, for reference:               {:>8.1} ms", ms(gzip_time));
    let (mut all_encodes, mut all_assemblies) = (Vec::new(), Vec::new());
    for (i, target) in targets.iter().enumerate() {
        let (mut encodes, mut assemblies) = (Vec::new(), Vec::new());
        let mut series = 0;
        for _ in 0..ENCODE_ROUNDS {
            let families = target.collect().await.expect("collects");
            series = families.iter().map(|f| f.samples.len()).sum::<usize>();
            let t = Instant::now();
            chunks[i] = Arc::new(Chunk::encode(vec![Arc::new(families)]).expect("encode"));
            encodes.push(t.elapsed());
            publisher.publish(Published::new(chunks.clone()));
            let t = Instant::now();
            std::hint::black_box(board.body(Format::Text));
            assemblies.push(t.elapsed());
        }
        let (encode, assemble) = (median(&mut encodes), median(&mut assemblies));
        all_encodes.push(encode);
        all_assemblies.push(assemble);
        println!(
            "  {:<26} {series:>7} series: encode {:>7.1} ms, assembly {:>6.1} ms ({:.1}x the gzip in all)",
            target.name(),
            ms(encode),
            ms(assemble),
            ratio((encode + assemble).as_secs_f64(), gzip_time.as_secs_f64())
        );
    }
    println!(
        "  median over collectors:                       encode {:>7.1} ms, assembly {:>6.1} ms",
        ms(median(&mut all_encodes)),
        ms(median(&mut all_assemblies))
    );
}

/// The exporter's config: both windows, every collector, every group, no cap on agents or seats,
/// no rate limit worth the name, and the quality collectors on the same 5 s interval.
fn config_yaml(groups: &[String]) -> String {
    let mut yaml = format!(
        "windows: [today, yesterday]\ncollectors: [{}]\nmax_agents: 100000\n\
         sobot:\n  rate_limit_per_minute: 1000000\nquality:\n  interval: {}s\n  page_size: 1000\n  \
         max_pages: 100\ngroups:\n",
        COLLECTORS.join(", "),
        INTERVAL.as_secs()
    );
    for g in groups {
        yaml.push_str(&format!("  - {g}\n"));
    }
    yaml
}

/// Whether every collector's last cycle succeeded, according to the self-metrics in `body`.
fn all_succeeded(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    COLLECTORS
        .iter()
        .all(|c| text.contains(&format!("sobot_exporter_collector_success{{collector=\"{c}\"}} 1")))
}

/// One full GET of `url` (with `Accept-Encoding: gzip` when `gzip`): the body as sent, undecoded,
/// and the time until its last byte arrived.
async fn scrape(
    client: &reqwest::Client,
    url: &str,
    gzip: bool,
) -> Result<(Bytes, Duration), reqwest::Error> {
    let started = Instant::now();
    let mut request = client.get(url);
    if gzip {
        request = request.header("Accept-Encoding", "gzip");
    }
    let body = request.send().await?.error_for_status()?.bytes().await?;
    Ok((body, started.elapsed()))
}

/// Says so when nginx does not serve exactly `expected` with the exporter's headers at `url`.
async fn check_same_bytes(client: &reqwest::Client, url: &str, gzip: bool, expected: &[u8]) {
    let mut request = client.get(url);
    if gzip {
        request = request.header("Accept-Encoding", "gzip");
    }
    let Ok(response) = request.send().await else {
        println!("  nginx: {url} did not answer");
        return;
    };
    let header = |name: &str| {
        response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    };
    let (content_type, encoding) = (header("content-type"), header("content-encoding"));
    let body = response.bytes().await.unwrap_or_default();
    if body != expected
        || content_type != sobot_exporter_core::exposition::TEXT
        || (encoding == "gzip") != gzip
    {
        println!(
            "  nginx: {url} differs from the exporter ({} vs {} bytes, {content_type:?}, encoding {encoding:?})",
            body.len(),
            expected.len()
        );
    }
}

/// What one `wrk` run reported.
struct WrkRun {
    requests_per_s: f64,
    /// `Non-2xx or 3xx responses` and `Socket errors` lines, if any.
    errors: Vec<String>,
}

impl WrkRun {
    /// `; <who>: <errors>` when the run had errors, else nothing.
    fn problems(&self, who: &str) -> String {
        if self.errors.is_empty() { String::new() } else { format!("; {who}: {}", self.errors.join(", ")) }
    }
}

/// Runs `wrk` ([`run_wrk`]) against `url`, with `Accept-Encoding: gzip` when `gzip`; `None`, with a
/// printed reason, if it fails.
async fn wrk(url: &str, gzip: bool) -> Option<WrkRun> {
    let mut args = WRK_ARGS.to_vec();
    if gzip {
        args.extend(["-H", "Accept-Encoding: gzip"]);
    }
    let stdout = run_wrk(&args, url).await?;
    let requests_per_s = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok());
    let Some(requests_per_s) = requests_per_s else {
        println!("    wrk {url}: no Requests/sec in its output:\n{stdout}");
        return None;
    };
    Some(WrkRun { requests_per_s, errors: wrk_errors(&stdout) })
}

/// One collector of the exporter's configuration, built in process like the binary builds it.
enum Target {
    /// A Sobot statistics endpoint (company, per group or per agent).
    Stats(StatsCollector),
    /// A quality source.
    Quality(QualityCollector),
    /// Laaffic seats.
    Seats(SeatCollector),
}

impl Target {
    /// The collector's name.
    fn name(&self) -> String {
        match self {
            Target::Stats(c) => c.name().to_string(),
            Target::Quality(c) => c.name().to_string(),
            Target::Seats(c) => c.name().to_string(),
        }
    }

    /// One cycle.
    async fn collect(&self) -> Result<Vec<Family>, UpstreamError> {
        match self {
            Target::Stats(c) => c.collect().await,
            Target::Quality(c) => c.collect().await,
            Target::Seats(c) => c.collect().await,
        }
    }
}

/// Builds the benchmark's collectors in process (same scopes, windows and caps as the config the
/// binary gets), collects and encodes each once, and returns the chunks and the collectors.
async fn collect_in_process(base_url: &str, groups: &[String]) -> (Vec<Arc<Chunk>>, Vec<Target>) {
    let telemetry = Arc::new(Telemetry::new());
    let settings = |rate_limit_per_minute| ClientSettings {
        base_url: base_url.to_string(),
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(30),
        rate_limit_per_minute,
    };
    let credentials = Credentials { app_id: APP_ID.to_string(), app_key: Secret::new(APP_KEY) };
    let sobot_settings = settings(1_000_000);
    let http = sobot_exporter_core::upstream::http_client(&sobot_settings).expect("client");
    let retry = Duration::from_secs(1);
    let client =
        Arc::new(SobotClient::new(&sobot_settings, http.clone(), credentials, telemetry.clone(), retry));
    let laaffic =
        LaafficCredentials { api_key: Secret::new(LAAFFIC_KEY), api_secret: Secret::new(LAAFFIC_SECRET) };
    let laaffic = Arc::new(LaafficClient::new(&settings(600), http, laaffic, telemetry.clone()));
    let windows = vec![Window::Today, Window::Yesterday];
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("time zone");
    let ctx = Context {
        client,
        windows: windows.clone(),
        tz: tz.clone(),
        interval: INTERVAL,
        telemetry: telemetry.clone(),
        switches: Default::default(),
        clock: Default::default(),
    };
    let max_agents = 100_000;
    let pages = PageSettings { page_size: 1000, max_pages: 100, max_agents };
    let targets: Vec<Target> = CollectorKind::all()
        .into_iter()
        .filter(|k| COLLECTORS.contains(&k.name()))
        .map(|kind| match kind {
            CollectorKind::Stats(endpoint) => {
                let scope = match endpoint.rows {
                    Rows::Item => Scope::Company,
                    Rows::Items(_) => {
                        Scope::PerAgent { filter: Some(("groupids", groups.to_vec())), max_agents }
                    }
                };
                Target::Stats(StatsCollector::new(endpoint, scope, ctx.clone()))
            }
            CollectorKind::Group(endpoint) => {
                Target::Stats(StatsCollector::new(endpoint, Scope::PerGroup(groups.to_vec()), ctx.clone()))
            }
            CollectorKind::Quality(source) => {
                Target::Quality(QualityCollector::new(source, ctx.clone(), pages))
            }
            CollectorKind::Source(_) => Target::Seats(SeatCollector::new(
                laaffic.clone(),
                windows.clone(),
                tz.clone(),
                INTERVAL,
                max_agents,
                telemetry.clone(),
            )),
        })
        .collect();
    let mut chunks = Vec::new();
    for target in &targets {
        let families = target.collect().await.unwrap_or_else(|e| panic!("{} collects: {e}", target.name()));
        chunks.push(Arc::new(Chunk::encode(vec![Arc::new(families)]).expect("encode")));
    }
    (chunks, targets)
}

/// Gzip at the exporter's level (fast) of `body`, as the first gzip scrape after a change pays.
fn fresh_gzip(body: &[u8]) -> Vec<u8> {
    let mut gz =
        flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 5), flate2::Compression::fast());
    gz.write_all(body).and_then(|()| gz.finish()).expect("gzip into memory")
}
