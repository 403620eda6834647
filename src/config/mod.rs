//! The configuration: flags and the YAML file, validated into one [`Config`].
//!
//! Every problem is reported as one line naming the flag, file and key at fault.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;
use serde::Deserialize;
use thiserror::Error;

use crate::cli::{Cli, LogFormat, LogLevel};
use crate::http::ClientSettings;
use crate::laaffic::client::LaafficCredentials;
use crate::secret::Secret;
use crate::sobot::client::Credentials;
use crate::sobot::endpoints::{ENDPOINTS, Endpoint, Rows};
use crate::sobot::quality::QUALITY_SOURCES;
pub use crate::sobot::quality::QualitySource;
use crate::window::Window;

/// A configuration problem: the process exits with code 2 and prints this one line.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// The YAML file as written. Unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// IANA time zone of the statistics day; default `Asia/Shanghai`.
    pub timezone: Option<String>,
    /// Windows to collect: `today`, `yesterday`; default `[today]`.
    pub windows: Option<Vec<String>>,
    /// Collectors to run; default all but `chat_result` (and the per-group ones without groups).
    pub collectors: Option<Vec<String>>,
    /// Skill group ids: per-group statistics, and the agent filter when no agents are given.
    pub groups: Option<Vec<String>>,
    /// Agent (service) ids to collect per-agent statistics for; default all agents.
    pub agents: Option<Vec<String>>,
    /// Cardinality guard: distinct agents per collector at most; default 2000.
    pub max_agents: Option<usize>,
    /// Quality-inspection collectors.
    #[serde(default)]
    pub quality: QualitySection,
    /// The Sobot API section.
    #[serde(default)]
    pub sobot: SobotSection,
    /// The Laaffic call-center section.
    #[serde(default)]
    pub laaffic: LaafficSection,
}

/// `quality:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualitySection {
    /// Interval of the quality collectors; default 5m.
    pub interval: Option<String>,
    /// Records per page; default 1000, at most 10000.
    pub page_size: Option<u32>,
    /// Pages per window and cycle at most; default 50.
    pub max_pages: Option<u32>,
}

/// `laaffic:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaafficSection {
    /// File holding the API key; or use `LAAFFIC_API_KEY`.
    pub api_key_file: Option<PathBuf>,
    /// File holding the API secret; or use `LAAFFIC_API_SECRET`.
    pub api_secret_file: Option<PathBuf>,
    /// Total timeout of one request; default 15s.
    pub timeout: Option<String>,
    /// Connect timeout; default 5s.
    pub connect_timeout: Option<String>,
}

/// `sobot:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SobotSection {
    /// The `appid` (not secret); or use `app_id_file` or `SOBOT_APP_ID`.
    pub app_id: Option<String>,
    /// File holding the `appid`.
    pub app_id_file: Option<PathBuf>,
    /// File holding the `app_key`; or use `SOBOT_APP_KEY`.
    pub app_key_file: Option<PathBuf>,
    /// Total timeout of one upstream request; default 15s.
    pub timeout: Option<String>,
    /// Connect timeout; default 5s.
    pub connect_timeout: Option<String>,
    /// Upstream calls a minute at most; default 1000, the documented limit.
    pub rate_limit_per_minute: Option<u32>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Path of the metrics endpoint.
    pub telemetry_path: String,
    /// Interval between collection cycles.
    pub interval: Duration,
    /// Log level.
    pub log_level: LogLevel,
    /// Log format.
    pub log_format: LogFormat,
    /// Demo mode: run against the embedded simulator.
    pub demo: bool,
    /// Time zone of the statistics day.
    pub tz: TimeZone,
    /// Windows to collect.
    pub windows: Vec<Window>,
    /// Collectors to run.
    pub collectors: Vec<CollectorKind>,
    /// Skill group ids.
    pub groups: Vec<String>,
    /// Agent ids; empty means every agent.
    pub agents: Vec<String>,
    /// Cardinality guard.
    pub max_agents: usize,
    /// Interval of the quality collectors.
    pub quality_interval: Duration,
    /// Records per quality page.
    pub quality_page_size: u32,
    /// Quality pages per window and cycle at most.
    pub quality_max_pages: u32,
    /// How to reach Sobot.
    pub sobot: ClientSettings,
    /// Sobot credentials; `None`: no Sobot collectors.
    pub credentials: Option<Credentials>,
    /// How to reach Laaffic.
    pub laaffic: ClientSettings,
    /// Laaffic credentials; `None`: no Laaffic collector.
    pub laaffic_credentials: Option<LaafficCredentials>,
}

/// A collector the config can name.
#[derive(Debug, Clone, Copy)]
pub enum CollectorKind {
    /// Company-wide (`item`) or per-agent (`items`) statistics of a table endpoint.
    Stats(&'static Endpoint),
    /// Per-group statistics of a table endpoint that takes `groupids` (`group_<endpoint>`).
    Group(&'static Endpoint),
    /// Quality-inspection results.
    Quality(&'static QualitySource),
    /// Laaffic seats.
    LaafficSeats,
}

impl CollectorKind {
    /// Every collector, in a stable order.
    pub fn all() -> Vec<CollectorKind> {
        let mut all: Vec<CollectorKind> = ENDPOINTS.iter().map(CollectorKind::Stats).collect();
        all.extend(ENDPOINTS.iter().filter(|e| e.filters && e.rows == Rows::Item).map(CollectorKind::Group));
        all.extend(QUALITY_SOURCES.iter().map(CollectorKind::Quality));
        all.push(CollectorKind::LaafficSeats);
        all
    }

    /// The name used in the config and the `collector` label.
    pub fn name(&self) -> String {
        match self {
            CollectorKind::Stats(e) => e.name.to_string(),
            CollectorKind::Group(e) => format!("group_{}", e.name),
            CollectorKind::Quality(q) => q.name.to_string(),
            CollectorKind::LaafficSeats => "laaffic_seats".to_string(),
        }
    }
}

/// Environment variable of the Laaffic API key.
pub const ENV_LAAFFIC_KEY: &str = "LAAFFIC_API_KEY";
/// Environment variable of the Laaffic API secret.
pub const ENV_LAAFFIC_SECRET: &str = "LAAFFIC_API_SECRET";

/// Environment variables read for credentials.
pub const ENV_APP_ID: &str = "SOBOT_APP_ID";
/// See [`ENV_APP_ID`].
pub const ENV_APP_KEY: &str = "SOBOT_APP_KEY";

/// Validates flags, the config file and the environment (`env` looks a variable up).
pub fn load(cli: &Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let file = match &cli.config_file {
        Some(path) => read_file_config(path)?,
        None => FileConfig::default(),
    };
    let at = |key: &str| match &cli.config_file {
        Some(path) => format!("{}: {key}", path.display()),
        None => key.to_string(),
    };

    let listen = parse_listen(&cli.listen_address)
        .map_err(|m| err(format!("--web.listen-address {:?}: {m}", cli.listen_address)))?;
    let telemetry_path = cli.telemetry_path.clone();
    if !telemetry_path.starts_with('/') || ["/", "/healthz", "/-/healthy"].contains(&telemetry_path.as_str())
    {
        return Err(err(format!(
            "--web.telemetry-path {telemetry_path:?}: must start with / and differ from /, /healthz and /-/healthy"
        )));
    }
    let interval = parse_duration(&cli.collect_interval)
        .filter(|d| *d >= Duration::from_millis(100))
        .ok_or_else(|| {
            err(format!(
                "--collect.interval {:?}: expected a duration of at least 100ms, e.g. 60s",
                cli.collect_interval
            ))
        })?;
    let base_url = cli.sobot_base_url.trim_end_matches('/').to_string();
    if !(base_url.starts_with("https://") || base_url.starts_with("http://"))
        || base_url.contains(char::is_whitespace)
    {
        return Err(err(format!("--sobot.base-url {:?}: expected an http(s) URL", cli.sobot_base_url)));
    }

    let tz_name = file.timezone.as_deref().unwrap_or("Asia/Shanghai");
    let tz = TimeZone::get(tz_name)
        .map_err(|_| err(format!("{}: unknown time zone {tz_name:?}", at("timezone"))))?;

    let windows = match &file.windows {
        None => vec![Window::Today],
        Some(names) => names
            .iter()
            .map(|n| {
                Window::parse(n).ok_or_else(|| {
                    err(format!("{}: unknown window {n:?} (known: today, yesterday)", at("windows")))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    if windows.is_empty() {
        return Err(err(format!("{}: at least one window is needed", at("windows"))));
    }
    no_repeats(windows.iter().map(|w| w.label()), &at("windows"))?;

    let ids = |list: &Option<Vec<String>>, key: &str| -> Result<Vec<String>, ConfigError> {
        let list = list.clone().unwrap_or_default();
        if let Some(bad) = list.iter().find(|id| id.trim().is_empty() || id.contains([',', ' '])) {
            return Err(err(format!("{}: invalid id {bad:?} (no blanks, spaces or commas)", at(key))));
        }
        Ok(list)
    };
    // The demo's simulator has skill groups of its own: show the per-group collectors too.
    let groups = match (&file.groups, cli.demo) {
        (None, true) => demo_groups(),
        _ => ids(&file.groups, "groups")?,
    };
    let agents = ids(&file.agents, "agents")?;
    let max_agents = match file.max_agents {
        Some(0) => return Err(err(format!("{}: must be at least 1", at("max_agents")))),
        Some(n) => n,
        None => 2000,
    };

    let all = CollectorKind::all();
    let collectors: Vec<CollectorKind> = match &file.collectors {
        None => all
            .into_iter()
            .filter(|k| match k {
                CollectorKind::Group(_) => !groups.is_empty(),
                CollectorKind::Quality(q) => q.name != "chat_result",
                CollectorKind::Stats(_) | CollectorKind::LaafficSeats => true,
            })
            .collect(),
        Some(names) => names
            .iter()
            .map(|n| {
                all.iter().copied().find(|k| k.name() == *n).ok_or_else(|| {
                    let known: Vec<_> = all.iter().map(CollectorKind::name).collect();
                    err(format!(
                        "{}: unknown collector {n:?} (known: {})",
                        at("collectors"),
                        known.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    if groups.is_empty()
        && let Some(k) = collectors.iter().find(|k| matches!(k, CollectorKind::Group(_)))
    {
        return Err(err(format!("{}: {} needs groups to be configured", at("collectors"), k.name())));
    }
    let names: Vec<String> = collectors.iter().map(CollectorKind::name).collect();
    // A repeated entry would run twice and count everything twice.
    no_repeats(names.iter().map(String::as_str), &at("collectors"))?;
    no_repeats(groups.iter().map(String::as_str), &at("groups"))?;
    no_repeats(agents.iter().map(String::as_str), &at("agents"))?;
    if names.iter().any(|n| n == "quality_result") && names.iter().any(|n| n == "chat_result") {
        return Err(err(format!(
            "{}: quality_result and chat_result both give the chat channel's inspections; choose one",
            at("collectors")
        )));
    }

    let q = &file.quality;
    let quality_interval = match &q.interval {
        None => Duration::from_secs(300),
        Some(v) => parse_duration(v)
            .filter(|d| *d >= Duration::from_millis(100))
            .ok_or_else(|| err(format!("{}: invalid duration {v:?} (e.g. 5m)", at("quality.interval"))))?,
    };
    let quality_page_size = match q.page_size {
        Some(n) if !(1..=10_000).contains(&n) => {
            return Err(err(format!("{}: must be between 1 and 10000", at("quality.page_size"))));
        }
        Some(n) => n,
        // Small pages in the demo, so that it shows paging at work.
        None if cli.demo => DEMO_QUALITY_PAGE_SIZE,
        None => 1000,
    };
    let quality_max_pages = match q.max_pages {
        Some(0) => {
            return Err(err(format!("{}: must be at least 1", at("quality.max_pages"))));
        }
        Some(n) => n,
        None => 50,
    };

    let s = &file.sobot;
    let duration = |value: &Option<String>, key: &str, default: u64| -> Result<Duration, ConfigError> {
        match value {
            None => Ok(Duration::from_secs(default)),
            Some(v) => parse_duration(v)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| err(format!("{}: invalid duration {v:?} (e.g. 15s)", at(key)))),
        }
    };
    let sobot = ClientSettings {
        base_url,
        timeout: duration(&s.timeout, "sobot.timeout", 15)?,
        connect_timeout: duration(&s.connect_timeout, "sobot.connect_timeout", 5)?,
        rate_limit_per_minute: match s.rate_limit_per_minute {
            Some(0) => {
                return Err(err(format!("{}: must be at least 1", at("sobot.rate_limit_per_minute"))));
            }
            Some(n) => n,
            None => 1000,
        },
    };

    let l = &file.laaffic;
    let laaffic_base_url = cli.laaffic_base_url.trim_end_matches('/').to_string();
    if !(laaffic_base_url.starts_with("https://") || laaffic_base_url.starts_with("http://"))
        || laaffic_base_url.contains(char::is_whitespace)
    {
        return Err(err(format!("--laaffic.base-url {:?}: expected an http(s) URL", cli.laaffic_base_url)));
    }
    let laaffic = ClientSettings {
        base_url: laaffic_base_url,
        timeout: duration(&l.timeout, "laaffic.timeout", 15)?,
        connect_timeout: duration(&l.connect_timeout, "laaffic.connect_timeout", 5)?,
        rate_limit_per_minute: 600,
    };

    let (credentials, laaffic_credentials) = if cli.demo {
        (None, None)
    } else {
        (sobot_credentials(s, env, &at)?, laaffic_credentials(l, env, &at)?)
    };
    if !cli.demo && credentials.is_none() && laaffic_credentials.is_none() {
        return Err(err(format!(
            "missing credentials: set {ENV_APP_ID} and {ENV_APP_KEY} (or sobot.app_id and \
             sobot.app_key_file in --config.file) for Sobot, {ENV_LAAFFIC_KEY} and {ENV_LAAFFIC_SECRET} \
             (or laaffic.api_key_file and laaffic.api_secret_file) for Laaffic, or run with --demo"
        )));
    }
    // Only collectors whose vendor has credentials run: a listed one without them is an error,
    // an unlisted default is left out; no collector at all is an error.
    let has_credentials = |k: &CollectorKind| {
        cli.demo
            || match k {
                CollectorKind::LaafficSeats => laaffic_credentials.is_some(),
                _ => credentials.is_some(),
            }
    };
    if file.collectors.is_some()
        && let Some(k) = collectors.iter().find(|k| !has_credentials(k))
    {
        let vendor = if matches!(k, CollectorKind::LaafficSeats) { "Laaffic" } else { "Sobot" };
        return Err(err(format!("{}: {} needs {vendor} credentials", at("collectors"), k.name())));
    }
    let collectors: Vec<CollectorKind> = collectors.into_iter().filter(|k| has_credentials(k)).collect();
    if collectors.is_empty() {
        return Err(err(format!("{}: no collector to run", at("collectors"))));
    }

    Ok(Config {
        listen,
        telemetry_path,
        interval,
        log_level: cli.log_level,
        log_format: cli.log_format,
        demo: cli.demo,
        tz,
        windows,
        collectors,
        groups,
        agents,
        max_agents,
        quality_interval,
        quality_page_size,
        quality_max_pages,
        sobot,
        credentials,
        laaffic,
        laaffic_credentials,
    })
}

/// One credential from the environment or a file named in the config, not both.
fn one_credential(
    env: &dyn Fn(&str) -> Option<String>,
    env_name: &str,
    file: Option<&PathBuf>,
    file_key: &str,
) -> Result<Option<Secret>, ConfigError> {
    match (env(env_name).filter(|v| !v.is_empty()), file) {
        (Some(_), Some(_)) => Err(err(format!("{env_name} and {file_key} are both set; use one"))),
        (Some(v), None) => Ok(Some(Secret::new(v))),
        (None, Some(path)) => read_secret_file(path, file_key).map(Some),
        (None, None) => Ok(None),
    }
}

/// Both parts of a credential pair, or neither; one alone is an error naming the other.
fn pair<T>(
    a: Option<Secret>,
    b: Option<Secret>,
    names: (&str, &str),
    make: impl FnOnce(Secret, Secret) -> T,
) -> Result<Option<T>, ConfigError> {
    match (a, b) {
        (Some(a), Some(b)) => Ok(Some(make(a, b))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(err(format!("{} is set but {} is missing", names.0, names.1))),
        (None, Some(_)) => Err(err(format!("{} is set but {} is missing", names.1, names.0))),
    }
}

fn sobot_credentials(
    s: &SobotSection,
    env: &dyn Fn(&str) -> Option<String>,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<Credentials>, ConfigError> {
    let id_key = at("sobot.app_id_file");
    let mut app_id = one_credential(env, ENV_APP_ID, s.app_id_file.as_ref(), &id_key)?;
    if let Some(v) = &s.app_id {
        if app_id.is_some() {
            let other = if s.app_id_file.is_some() { id_key } else { ENV_APP_ID.to_string() };
            return Err(err(format!("{} and {other} are both set; use one", at("sobot.app_id"))));
        }
        app_id = Some(Secret::new(v.clone()));
    }
    let key_key = at("sobot.app_key_file");
    let app_key = one_credential(env, ENV_APP_KEY, s.app_key_file.as_ref(), &key_key)?;
    pair(
        app_id,
        app_key,
        ("the Sobot app id", "the Sobot app key (SOBOT_APP_KEY or sobot.app_key_file)"),
        |id, key| Credentials { app_id: id.expose().to_string(), app_key: key },
    )
}

fn laaffic_credentials(
    l: &LaafficSection,
    env: &dyn Fn(&str) -> Option<String>,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<LaafficCredentials>, ConfigError> {
    let key = one_credential(env, ENV_LAAFFIC_KEY, l.api_key_file.as_ref(), &at("laaffic.api_key_file"))?;
    let secret =
        one_credential(env, ENV_LAAFFIC_SECRET, l.api_secret_file.as_ref(), &at("laaffic.api_secret_file"))?;
    pair(key, secret, ("the Laaffic API key", "the Laaffic API secret"), |api_key, api_secret| {
        LaafficCredentials { api_key, api_secret }
    })
}

/// Fails on the first item listed twice.
fn no_repeats<'a>(items: impl Iterator<Item = &'a str>, key: &str) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for item in items {
        if !seen.insert(item) {
            return Err(err(format!("{key}: {item:?} is listed twice")));
        }
    }
    Ok(())
}

/// Quality page size of the demo.
pub const DEMO_QUALITY_PAGE_SIZE: u32 = 50;

/// The skill groups of the demo's simulated company.
fn demo_groups() -> Vec<String> {
    let mut groups: Vec<String> = crate::simulator::demo_population().into_iter().map(|a| a.group).collect();
    groups.dedup();
    groups
}

/// Reads a credential file: surrounding white space (a trailing newline) is not part of it.
fn read_secret_file(path: &Path, key: &str) -> Result<Secret, ConfigError> {
    let content = std::fs::read_to_string(path)
        .map_err(|e| err(format!("{key}: cannot read {}: {}", path.display(), io_reason(&e))))?;
    let value = content.trim();
    if value.is_empty() {
        return Err(err(format!("{key}: {} is empty", path.display())));
    }
    Ok(Secret::new(value))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.kind().to_string(),
    }
}

/// Reads and parses the YAML file.
pub fn read_file_config(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| err(format!("--config.file {}: {}", path.display(), io_reason(&e))))?;
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    // No source snippet in errors: a line of the file could hold a secret someone put inline.
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    serde_saphyr::from_str_with_options(&text, options).map_err(|e| {
        let one_line =
            e.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        err(format!("{}: {one_line}", path.display()))
    })
}

/// `:PORT`, `HOST:PORT` or `[V6]:PORT`.
fn parse_listen(s: &str) -> Result<SocketAddr, &'static str> {
    let full = if s.starts_with(':') { format!("0.0.0.0{s}") } else { s.to_string() };
    full.to_socket_addrs()
        .map_err(|_| "expected HOST:PORT or :PORT")?
        .next()
        .ok_or("expected HOST:PORT or :PORT")
}

/// A Prometheus-style duration: one or more `<number><unit>` with units `ms`, `s`, `m`, `h`
/// (`90s`, `1m30s`, `500ms`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else if rest.starts_with('s') {
            (Duration::from_secs(1), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(60), 1)
        } else if rest.starts_with('h') {
            (Duration::from_secs(3600), 1)
        } else {
            return None;
        };
        rest = &rest[len..];
        total = total.checked_add(unit.checked_mul(u32::try_from(n).ok()?)?)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn write(name: &str, content: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sobot_exporter_cfg_{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write temp file");
        path
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
        let c = load(&cli(&[]), &env_with_credentials).expect("valid");
        assert_eq!(c.listen, "0.0.0.0:9877".parse().expect("addr"));
        assert_eq!(c.telemetry_path, "/metrics");
        assert_eq!(c.interval, Duration::from_secs(60));
        assert_eq!(c.windows, vec![Window::Today]);
        let names: Vec<String> = c.collectors.iter().map(CollectorKind::name).collect();
        assert_eq!(
            names,
            [
                "robot_session",
                "robot_satisfaction",
                "human_session",
                "human_satisfaction",
                "customer_session",
                "message_stats",
                "get_service_data",
                "human_duration",
                "quality_result",
                "call_result"
            ]
        );
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
        let e = load(&cli(&[]), &no_env).expect_err("no credentials");
        assert!(
            e.0.contains("SOBOT_APP_ID") && e.0.contains("LAAFFIC_API_KEY") && e.0.contains("--demo"),
            "{e}"
        );
        assert!(load(&cli(&["--demo"]), &no_env).is_ok());
        let half = |k: &str| (k == ENV_APP_ID).then(|| "id".to_string());
        let e = load(&cli(&[]), &half).expect_err("half a credential");
        assert!(e.0.contains("the Sobot app key"), "{e}");
    }

    #[test]
    fn only_collectors_with_credentials_run() {
        let laaffic_only = |k: &str| match k {
            ENV_LAAFFIC_KEY => Some("k".to_string()),
            ENV_LAAFFIC_SECRET => Some("s".to_string()),
            _ => None,
        };
        let c = load(&cli(&[]), &laaffic_only).expect("Laaffic alone is enough");
        assert!(c.credentials.is_none());
        assert_eq!(c.laaffic_credentials.expect("laaffic").api_secret.expose(), "s");
        let names: Vec<String> = c.collectors.iter().map(CollectorKind::name).collect();
        assert_eq!(names, ["laaffic_seats"]);
        let sobot_listed = write("sobot_listed.yml", "collectors: [robot_session]\n");
        let e = load(&cli(&["--config.file", sobot_listed.to_str().expect("utf8")]), &laaffic_only)
            .expect_err("a listed collector without credentials");
        assert!(e.0.contains("robot_session needs Sobot credentials"), "{e}");
        let none = write("none.yml", "collectors: []\n");
        let e =
            load(&cli(&["--config.file", none.to_str().expect("utf8")]), &laaffic_only).expect_err("nothing");
        assert!(e.0.contains("no collector to run"), "{e}");
    }

    #[test]
    fn credentials_from_files() {
        let key = write("key", "s3cret\n");
        let cfg = write("files.yml", &format!("sobot:\n  app_id: acme\n  app_key_file: {}\n", key.display()));
        let c = load(&cli(&["--config.file", cfg.to_str().expect("utf8")]), &no_env).expect("valid");
        let creds = c.credentials.expect("credentials");
        assert_eq!(creds.app_key.expose(), "s3cret");
        assert_eq!(creds.app_id, "acme");
        let e = load(&cli(&["--config.file", cfg.to_str().expect("utf8")]), &env_with_credentials)
            .expect_err("given twice");
        assert!(e.0.contains("given twice") || e.0.contains("both set"), "{e}");
    }

    #[test]
    fn bad_config_names_file_and_key() {
        let cases = [
            ("unknown.yml", "timezone: Asia/Shanghai\nbogus: 1\n", "bogus"),
            ("tz.yml", "timezone: Mars/Olympus\n", "timezone: unknown time zone"),
            ("win.yml", "windows: [today, last_week]\n", "windows: unknown window \"last_week\""),
            ("col.yml", "collectors: [robot_session, nope]\n", "collectors: unknown collector \"nope\""),
            ("dur.yml", "sobot:\n  timeout: soon\n", "sobot.timeout: invalid duration"),
            ("yaml.yml", "windows: [today\n", "yaml.yml"),
            ("grp.yml", "collectors: [group_human_session]\n", "group_human_session needs groups"),
            ("chat.yml", "collectors: [quality_result, chat_result]\n", "choose one"),
            ("ids.yml", "agents: [\"a,b\"]\n", "agents: invalid id"),
            ("page.yml", "quality:\n  page_size: 20000\n", "quality.page_size"),
            ("twice.yml", "windows: [today, today]\n", "windows: \"today\" is listed twice"),
            ("twice2.yml", "collectors: [robot_session, robot_session]\n", "is listed twice"),
            ("twice3.yml", "groups: [g1, g1]\n", "groups: \"g1\" is listed twice"),
            ("secret.yml", "sobot:\n  app_key: SuperSecret123\n", "app_key"),
        ];
        for (name, content, want) in cases {
            let path = write(name, content);
            let e = load(&cli(&["--config.file", path.to_str().expect("utf8")]), &env_with_credentials)
                .expect_err(name);
            assert!(e.0.contains(want), "{name}: {e}");
            assert!(e.0.contains(name), "{name}: {e} does not name the file");
            assert!(!e.0.contains('\n'), "{name}: {e:?} is not one line");
            assert!(!e.0.contains("SuperSecret123"), "{name}: the error quotes the file: {e}");
        }
    }

    #[test]
    fn the_example_config_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/config.yml");
        let c = load(&cli(&["--config.file", path]), &env_with_credentials).expect("example is valid");
        assert_eq!(c.windows, vec![Window::Today, Window::Yesterday]);
        // Its groups are commented out (placeholders): no per-group collectors then.
        assert!(c.groups.is_empty());
        assert!(c.collectors.iter().all(|k| !k.name().starts_with("group_")));
        assert_eq!(c.quality_interval, Duration::from_secs(300));
    }

    #[test]
    fn bad_flags() {
        for (args, want) in [
            (&["--collect.interval", "often"][..], "--collect.interval"),
            (&["--web.listen-address", "nowhere"][..], "--web.listen-address"),
            (&["--web.telemetry-path", "metrics"][..], "--web.telemetry-path"),
            (&["--sobot.base-url", "ftp://x"][..], "--sobot.base-url"),
        ] {
            let e = load(&cli(args), &env_with_credentials).expect_err(want);
            assert!(e.0.starts_with(want), "{e}");
        }
    }
}
