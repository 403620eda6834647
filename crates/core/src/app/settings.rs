//! The settings of a run: the process settings from the flags ([`Settings`]), and the collection
//! config ([`crate::config`]) read from the file the flags name.
//!
//! Every problem is reported as one line naming the flag, file and key at fault.

pub(crate) use crate::input::ConfigError;
pub(crate) use crate::input::{err, io_reason, parse_duration, read_file, shown_path};

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use crate::cli::{Cli, LogFormat, LogLevel};
use crate::config::{self as collection, CollectionConfig, Demo, Flags};
use crate::secret::{Shape, redact, shown};
use crate::shard::Shard;

/// Process settings: where to listen, how to log, whether this is the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where to listen (`--web.listen-address`, one or more).
    pub listen: Vec<SocketAddr>,
    /// Listen on the sockets systemd passed instead (`--web.systemd-socket`).
    pub systemd_socket: bool,
    /// `--web.config.file`, read and valid.
    pub web_config: Option<std::sync::Arc<crate::web::webconfig::WebConfig>>,
    /// Path of the metrics endpoint.
    pub telemetry_path: String,
    /// The address `/sd` gives its targets instead of the request's `Host`
    /// (`--web.external-address`).
    pub external_address: Option<String>,
    /// The HTTP server's limits.
    pub limits: crate::web::Limits,
    /// Log level.
    pub log_level: LogLevel,
    /// Log format.
    pub log_format: LogFormat,
    /// Demo mode: run against the embedded simulator.
    pub demo: bool,
    /// How many times as fast as the real clock the demo's day runs (`--demo.speed`, 1 without).
    pub demo_speed: u32,
    /// Whether `POST /-/reload` is served (`--web.enable-lifecycle`).
    pub enable_lifecycle: bool,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Process settings, from the flags.
    pub process: Settings,
    /// What to collect, from the config file (and the collection flags).
    pub collection: CollectionConfig,
}

impl Config {
    /// One line for `--config.check`: what is collected and, when `--web.config.file` is given,
    /// that it was read and what it sets (no secrets).
    pub fn summary(&self) -> String {
        let mut line = self.collection.summary();
        if let Some(web) = &self.process.web_config {
            let loaded = web.current();
            let tls = if loaded.tls.is_some() { "TLS" } else { "plain HTTP" };
            let auth = match loaded.users.len() {
                0 => "no basic auth".to_string(),
                1 => "basic auth for 1 user".to_string(),
                n => format!("basic auth for {n} users"),
            };
            line.push_str(&format!("; --web.config.file {} is valid: {tls}, {auth}", web.path().display()));
        }
        line
    }
}

/// Validates the flags, reads the config file and builds the collection config from it. `env`
/// looks a variable up; `demo` is the bound demo when `--demo` is given.
pub fn load(
    cli: &Cli,
    env: &dyn Fn(&str) -> Option<String>,
    demo: Option<&dyn Demo>,
) -> Result<Config, ConfigError> {
    redacted(env, || {
        let process = settings(cli, demo.is_some())?;
        Ok(Config { process, collection: load_collection_unredacted(cli, env, demo)? })
    })
}

/// What a reload reads again: the config file and the credential files, into the collection
/// config. The process settings were checked at start and stay; the web config re-reads itself
/// (`WebConfig::reload`).
pub fn load_collection(
    cli: &Cli,
    env: &dyn Fn(&str) -> Option<String>,
    demo: Option<&dyn Demo>,
) -> Result<CollectionConfig, ConfigError> {
    redacted(env, || load_collection_unredacted(cli, env, demo))
}

/// `load`'s outcome with the environment's secrets taken out of the error: whatever flag or
/// field one ended up in, it is not printed.
fn redacted<T>(
    env: &dyn Fn(&str) -> Option<String>,
    load: impl FnOnce() -> Result<T, ConfigError>,
) -> Result<T, ConfigError> {
    load().map_err(|e| ConfigError(redact(&e.0, &crate::sources::env_secrets(env))))
}

fn load_collection_unredacted(
    cli: &Cli,
    env: &dyn Fn(&str) -> Option<String>,
    demo: Option<&dyn Demo>,
) -> Result<CollectionConfig, ConfigError> {
    let flags = flags(cli)?;
    let path = cli.config_file.as_deref();
    let yaml = match path {
        Some(path) => read_file(path, MAX_CONFIG_FILE)
            .map_err(|e| err(format!("--config.file {}: {}", shown_path(path), io_reason(&e))))?,
        None => String::new(),
    };
    let read = |file: &Path| read_file(file, MAX_SECRET_FILE);
    let collection = match demo {
        None => collection::from_yaml(&yaml, path, &flags, env, &read)?,
        Some(demo) => demo.collection(&yaml, path, &flags, &read)?,
    };
    Ok(collection)
}

/// The process settings of the flags.
fn settings(cli: &Cli, demo: bool) -> Result<Settings, ConfigError> {
    // The demo answers on this machine only, as the quick start's http://localhost:9877 says; a
    // container passes --web.listen-address (the image sets SOBOT_EXPORTER_LISTEN_ADDRESS).
    let default = [if demo { DEMO_LISTEN_ADDRESS } else { LISTEN_ADDRESS }.to_string()];
    let given = if cli.listen_address.is_empty() { &default[..] } else { &cli.listen_address[..] };
    let listen = given
        .iter()
        .map(|a| {
            parse_listen(a)
                .map_err(|m| err(format!("--web.listen-address {}: {m}", shown(a, Shape::Address))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let web_config = match &cli.web_config_file {
        Some(path) => Some(std::sync::Arc::new(crate::web::webconfig::WebConfig::open(path).map_err(err)?)),
        None => None,
    };
    let telemetry_path = cli.telemetry_path.clone();
    let path_chars = telemetry_path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b));
    // The other routes' paths: the metrics cannot take one (nor its place outside basic auth).
    let taken: Vec<&str> = crate::web::Route::ALL
        .into_iter()
        .filter(|route| *route != crate::web::Route::Metrics)
        .map(crate::web::Route::path)
        .collect();
    if !telemetry_path.starts_with('/') || !path_chars || taken.contains(&telemetry_path.as_str()) {
        return Err(err(format!(
            "--web.telemetry-path {}: must start with /, hold only letters, digits and /_.- \
             and differ from {}",
            shown(&telemetry_path, Shape::Path),
            taken.join(", ")
        )));
    }
    if let Some(address) = &cli.external_address {
        crate::web::sd::check_address(address).map_err(|reason| {
            err(format!(
                "--web.external-address {}: {reason}; give HOST[:PORT], e.g. exporter.example.com:9877",
                shown(address, Shape::Address)
            ))
        })?;
    }
    Ok(Settings {
        listen,
        systemd_socket: cli.systemd_socket,
        web_config,
        telemetry_path,
        external_address: cli.external_address.clone(),
        limits: limits(cli)?,
        log_level: cli.log_level,
        log_format: cli.log_format,
        demo,
        demo_speed: demo_speed(cli, demo)?,
        enable_lifecycle: cli.enable_lifecycle,
    })
}

/// The fastest `--demo.speed`: a simulated day in a minute.
const MAX_DEMO_SPEED: u32 = 1440;

/// `--demo.speed`: a whole number from 1 to [`MAX_DEMO_SPEED`], only with `--demo`.
fn demo_speed(cli: &Cli, demo: bool) -> Result<u32, ConfigError> {
    let Some(value) = &cli.demo_speed else {
        return Ok(1);
    };
    if !demo {
        return Err(err("--demo.speed: only with --demo (it sets the pace of the demo's simulated day)"));
    }
    value.trim().parse::<u32>().ok().filter(|n| (1..=MAX_DEMO_SPEED).contains(n)).ok_or_else(|| {
        err(format!(
            "--demo.speed {}: expected a whole number from 1 to {MAX_DEMO_SPEED}, e.g. 60 (a simulated day in 24 minutes)",
            shown(value, Shape::Number)
        ))
    })
}

/// The `--web.*` limits of the server.
fn limits(cli: &Cli) -> Result<crate::web::Limits, ConfigError> {
    let max_connections =
        cli.max_connections.trim().parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            err(format!(
                "--web.max-connections {}: expected a whole number of at least 1, e.g. 512",
                shown(&cli.max_connections, Shape::Number)
            ))
        })?;
    let duration = |value: &str, flag: &str, zero: bool| {
        parse_duration(value)
            .filter(|d| (zero && d.is_zero()) || *d >= Duration::from_millis(100))
            .ok_or_else(|| {
                let off = if zero { " (0s: never)" } else { "" };
                let value = shown(value, Shape::Duration);
                err(format!("{flag} {value}: expected a duration of at least 100ms{off}, e.g. 30s"))
            })
    };
    let max_age = duration(&cli.max_connection_age, "--web.max-connection-age", true)?;
    Ok(crate::web::Limits {
        max_connections,
        write_timeout: duration(&cli.write_timeout, "--web.write-timeout", false)?,
        idle_timeout: duration(&cli.idle_timeout, "--web.idle-timeout", false)?,
        max_age: (!max_age.is_zero()).then_some(max_age),
    })
}

/// The flags the collection config takes.
fn flags(cli: &Cli) -> Result<Flags, ConfigError> {
    let interval = parse_duration(&cli.collect_interval)
        .filter(|d| *d >= Duration::from_millis(100))
        .ok_or_else(|| {
            err(format!(
                "--collect.interval {}: expected a duration of at least 100ms, e.g. 60s",
                shown(&cli.collect_interval, Shape::Duration)
            ))
        })?;
    let hostname = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string());
    let shard = Shard::parse(&cli.platform_shard, hostname.as_deref())
        .map_err(|e| err(format!("--platform.shard {}: {e}", shown(&cli.platform_shard, Shape::Fraction))))?;
    Ok(Flags {
        interval,
        sobot_base_url: base_url(&cli.sobot_base_url, "--sobot.base-url")?,
        laaffic_base_url: base_url(&cli.laaffic_base_url, "--laaffic.base-url")?,
        shard,
    })
}

/// An http(s) URL without trailing slash.
fn base_url(value: &str, flag: &str) -> Result<String, ConfigError> {
    let url = value.trim_end_matches('/');
    let parsed = reqwest::Url::parse(url).ok().filter(|u| {
        ["http", "https"].contains(&u.scheme())
            && u.host_str().is_some_and(|h| !h.is_empty())
            && u.port() != Some(0)
            && u.query().is_none()
            && !url.contains(char::is_whitespace)
    });
    if parsed.is_none() {
        return Err(err(format!(
            "{flag} {}: expected an http(s) URL with a host, e.g. https://www.sobot.com",
            shown(value, Shape::Url)
        )));
    }
    Ok(url.to_string())
}

/// Where the exporter listens by default: every IPv4 interface.
pub const LISTEN_ADDRESS: &str = ":9877";
/// Where the demo listens by default: this machine only.
pub const DEMO_LISTEN_ADDRESS: &str = "127.0.0.1:9877";

/// The largest config file read.
const MAX_CONFIG_FILE: u64 = 1024 * 1024;
/// The largest credential file read.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// `:PORT`, `HOST:PORT` or `[V6]:PORT`.
fn parse_listen(s: &str) -> Result<SocketAddr, &'static str> {
    if let Some((_, port)) = s.rsplit_once(':')
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_err()
    {
        return Err("port out of range (0 to 65535)");
    }
    let full = if s.starts_with(':') { format!("0.0.0.0{s}") } else { s.to_string() };
    full.to_socket_addrs()
        .map_err(|_| "expected HOST:PORT or :PORT")?
        .next()
        .ok_or("expected HOST:PORT or :PORT")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::ReadFile;
    use crate::sources::CollectorKind;
    use crate::sources::sobot::config::{ENV_APP_ID, ENV_APP_KEY};
    use crate::window::Window;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("sobot_exporter").chain(args.iter().copied()))
            .expect("valid flags")
    }

    fn env_with_credentials(key: &str) -> Option<String> {
        match key {
            ENV_APP_ID => Some("app".to_string()),
            ENV_APP_KEY => Some("key".to_string()),
            _ => None,
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// A demo with credentials of its own (the simulator crate's demo is tested there).
    struct TestDemo;

    impl Demo for TestDemo {
        fn collection(
            &self,
            yaml: &str,
            path: Option<&Path>,
            flags: &Flags,
            read: &ReadFile<'_>,
        ) -> Result<CollectionConfig, ConfigError> {
            let env = |name: &str| match name {
                ENV_APP_ID => Some("demo".to_string()),
                ENV_APP_KEY => Some("demo-key".to_string()),
                _ => None,
            };
            crate::config::from_yaml(yaml, path, flags, &env, read)
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        for bad in ["", "60", "s", "1.5s", "-1s", "10x", "1m 30s"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn defaults() {
        let Config { process: p, collection: c } =
            load(&cli(&[]), &env_with_credentials, None).expect("valid");
        assert_eq!(p.listen, vec!["0.0.0.0:9877".parse().expect("addr")]);
        // The demo listens on this machine only, unless told otherwise (as the image does).
        let demo = TestDemo;
        let listen = |args: &[&str]| load(&cli(args), &no_env, Some(&demo)).expect("valid").process.listen;
        assert_eq!(listen(&["--demo"]), vec!["127.0.0.1:9877".parse().expect("addr")]);
        assert_eq!(listen(&["--demo", "--web.listen-address=:9877"]), p.listen);
        assert_eq!(p.telemetry_path, "/metrics");
        assert_eq!(p.limits, crate::web::Limits::default());
        assert_eq!(p.limits.max_connections, 512);
        assert_eq!((p.log_level, p.log_format, p.demo), (LogLevel::Info, LogFormat::Logfmt, false));
        assert_eq!(c.interval, Duration::from_secs(60));
        assert_eq!(c.windows, vec![Window::Today]);
        // The default list itself is checked by the config's tests.
        let names: Vec<String> = c.collectors.iter().map(CollectorKind::name).collect();
        assert_eq!(names, crate::sources::default_collectors(false, false));
        assert_eq!(c.max_agents, 2000);
        assert_eq!(c.quality_interval, Duration::from_secs(300));
        assert_eq!(c.sobot.base_url, "https://www.sobot.com");
        assert_eq!(c.sobot.timeout, Duration::from_secs(15));
        assert_eq!(c.tz.iana_name(), Some("Asia/Shanghai"));
        let creds = c.credentials.expect("credentials");
        assert_eq!((creds.app_id.as_str(), creds.app_key.expose()), ("app", "key"));
    }

    #[test]
    fn missing_credentials_say_what_to_set() {
        let e = load(&cli(&[]), &no_env, None).expect_err("no credentials");
        assert!(
            e.0.contains("SOBOT_APP_ID") && e.0.contains("LAAFFIC_API_KEY") && e.0.contains("--demo"),
            "{e}"
        );
        let c = load(&cli(&["--demo"]), &no_env, Some(&TestDemo)).expect("the demo needs no credentials");
        assert!(c.process.demo);
        assert_eq!(c.collection.credentials.expect("the demo's").app_id, "demo");
        let half = |k: &str| (k == ENV_APP_ID).then(|| "id".to_string());
        let e = load(&cli(&[]), &half, None).expect_err("half a credential");
        assert!(e.0.contains("the Sobot app key"), "{e}");
    }

    #[test]
    fn the_demo_speed_is_a_whole_number_and_needs_the_demo() {
        let demo = TestDemo;
        let speed = |args: &[&str], demo| load(&cli(args), &no_env, demo).map(|c| c.process.demo_speed);
        assert_eq!(speed(&["--demo"], Some(&demo)), Ok(1));
        assert_eq!(speed(&["--demo", "--demo.speed", "60"], Some(&demo)), Ok(60));
        assert_eq!(speed(&["--demo", "--demo.speed", "1440"], Some(&demo)), Ok(1440));
        for bad in ["0", "1441", "60x", "1.5", "-3", ""] {
            let e = speed(&["--demo", &format!("--demo.speed={bad}")], Some(&demo)).expect_err(bad);
            assert!(
                e.0.starts_with("--demo.speed ") && e.0.contains("from 1 to 1440") && !e.0.contains('\n'),
                "{e}"
            );
        }
        let e = speed(&["--demo.speed", "60"], None).expect_err("without --demo");
        assert!(e.0.contains("only with --demo"), "{e}");
    }

    #[test]
    fn the_example_config_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/config.yml");
        let c = load(&cli(&["--config.file", path]), &env_with_credentials, None)
            .expect("example is valid")
            .collection;
        assert_eq!(c.windows, vec![Window::Today, Window::Yesterday]);
        // Its groups are commented out (placeholders): no per-group collectors then.
        assert!(c.groups.is_empty());
        assert!(c.collectors.iter().all(|k| !k.name().starts_with("group_")));
        assert_eq!(c.quality_interval, Duration::from_secs(300));
    }

    #[test]
    fn server_limits() {
        let p = load(
            &cli(&[
                "--web.max-connections=8",
                "--web.write-timeout=500ms",
                "--web.idle-timeout=2s",
                "--web.max-connection-age=0s",
            ]),
            &env_with_credentials,
            None,
        )
        .expect("valid")
        .process;
        let want = crate::web::Limits {
            max_connections: 8,
            write_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_secs(2),
            max_age: None,
        };
        assert_eq!(p.limits, want);
    }

    #[test]
    fn bad_flags() {
        for (args, want) in [
            (&["--collect.interval", "often"][..], "--collect.interval"),
            (&["--web.listen-address", "nowhere"][..], "--web.listen-address"),
            (&["--web.telemetry-path", "metrics"][..], "--web.telemetry-path"),
            (&["--web.external-address", "http://x:80"][..], "--web.external-address "),
            (&["--web.external-address", "x:99999"][..], "--web.external-address "),
            (&["--sobot.base-url", "ftp://x"][..], "--sobot.base-url"),
            (&["--web.max-connections", "0"][..], "--web.max-connections \"0\": "),
            (&["--web.max-connections", "many"][..], "--web.max-connections"),
            (&["--web.write-timeout", "0s"][..], "--web.write-timeout \"0s\": "),
            (&["--web.idle-timeout", "10"][..], "--web.idle-timeout"),
            (&["--web.max-connection-age", "50ms"][..], "--web.max-connection-age"),
            (&["--laaffic.base-url", "api.laaffic.com"][..], "--laaffic.base-url \"api.laaffic.com\": "),
            (
                &["--config.file", "/nonexistent/sobot.yml"][..],
                "--config.file /nonexistent/sobot.yml: no such file",
            ),
        ] {
            let e = load(&cli(args), &env_with_credentials, None).expect_err(want);
            assert!(e.0.starts_with(want), "{e}");
        }
    }
}
