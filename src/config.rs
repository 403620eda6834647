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
use crate::secret::Secret;
use crate::sobot::client::{ClientSettings, Credentials};
use crate::sobot::endpoints::{ENDPOINTS, Endpoint};
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
    /// Collectors to run; default all.
    pub collectors: Option<Vec<String>>,
    /// The Sobot API section.
    #[serde(default)]
    pub sobot: SobotSection,
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
    /// Company statistics endpoints to collect.
    pub collectors: Vec<&'static Endpoint>,
    /// How to reach Sobot.
    pub sobot: ClientSettings,
    /// Sobot credentials; `None` only in demo mode.
    pub credentials: Option<Credentials>,
}

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

    let listen = parse_listen(&cli.listen_address).map_err(|m| {
        err(format!(
            "--web.listen-address {:?}: {m}",
            cli.listen_address
        ))
    })?;
    let telemetry_path = cli.telemetry_path.clone();
    if !telemetry_path.starts_with('/')
        || ["/", "/healthz", "/-/healthy"].contains(&telemetry_path.as_str())
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
        return Err(err(format!(
            "--sobot.base-url {:?}: expected an http(s) URL",
            cli.sobot_base_url
        )));
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
                    err(format!(
                        "{}: unknown window {n:?} (known: today, yesterday)",
                        at("windows")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    if windows.is_empty() {
        return Err(err(format!(
            "{}: at least one window is needed",
            at("windows")
        )));
    }

    let collectors = match &file.collectors {
        None => ENDPOINTS.iter().collect(),
        Some(names) => names
            .iter()
            .map(|n| {
                Endpoint::by_name(n).ok_or_else(|| {
                    let known: Vec<_> = ENDPOINTS.iter().map(|e| e.name).collect();
                    err(format!(
                        "{}: unknown collector {n:?} (known: {})",
                        at("collectors"),
                        known.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };

    let s = &file.sobot;
    let duration =
        |value: &Option<String>, key: &str, default: u64| -> Result<Duration, ConfigError> {
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
                return Err(err(format!(
                    "{}: must be at least 1",
                    at("sobot.rate_limit_per_minute")
                )));
            }
            Some(n) => n,
            None => 1000,
        },
    };

    let credentials = if cli.demo {
        None
    } else {
        Some(credentials(s, env, &at)?)
    };

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
        sobot,
        credentials,
    })
}

fn credentials(
    s: &SobotSection,
    env: &dyn Fn(&str) -> Option<String>,
    at: &dyn Fn(&str) -> String,
) -> Result<Credentials, ConfigError> {
    let env_id = env(ENV_APP_ID).filter(|v| !v.is_empty());
    let env_key = env(ENV_APP_KEY).filter(|v| !v.is_empty());
    let app_id = match (env_id, &s.app_id, &s.app_id_file) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) | (None, Some(_), Some(_)) => {
            return Err(err(format!(
                "the Sobot app id is given twice: use one of {ENV_APP_ID}, {}, {}",
                at("sobot.app_id"),
                at("sobot.app_id_file")
            )));
        }
        (Some(v), None, None) => v,
        (None, Some(v), None) => v.clone(),
        (None, None, Some(path)) => read_secret_file(path, &at("sobot.app_id_file"))?
            .expose()
            .to_string(),
        (None, None, None) => {
            return Err(err(format!(
                "missing Sobot credentials: set {ENV_APP_ID} and {ENV_APP_KEY}, or sobot.app_id and \
                 sobot.app_key_file in --config.file (or run with --demo)"
            )));
        }
    };
    let app_key = match (env_key, &s.app_key_file) {
        (Some(_), Some(_)) => {
            return Err(err(format!(
                "the Sobot app key is given twice: use one of {ENV_APP_KEY}, {}",
                at("sobot.app_key_file")
            )));
        }
        (Some(v), None) => Secret::new(v),
        (None, Some(path)) => read_secret_file(path, &at("sobot.app_key_file"))?,
        (None, None) => {
            return Err(err(format!(
                "missing Sobot app key: set {ENV_APP_KEY} or sobot.app_key_file in --config.file"
            )));
        }
    };
    Ok(Credentials { app_id, app_key })
}

/// Reads a credential file: surrounding white space (a trailing newline) is not part of it.
fn read_secret_file(path: &Path, key: &str) -> Result<Secret, ConfigError> {
    let content = std::fs::read_to_string(path).map_err(|e| {
        err(format!(
            "{key}: cannot read {}: {}",
            path.display(),
            io_reason(&e)
        ))
    })?;
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
    let text = std::fs::read_to_string(path).map_err(|e| {
        err(format!(
            "--config.file {}: {}",
            path.display(),
            io_reason(&e)
        ))
    })?;
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    serde_saphyr::from_str(&text).map_err(|e| {
        let one_line = e
            .to_string()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        err(format!("{}: {one_line}", path.display()))
    })
}

/// `:PORT`, `HOST:PORT` or `[V6]:PORT`.
fn parse_listen(s: &str) -> Result<SocketAddr, &'static str> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_string()
    };
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
        assert_eq!(c.collectors.len(), ENDPOINTS.len());
        assert_eq!(c.sobot.base_url, "https://www.sobot.com");
        assert_eq!(c.sobot.timeout, Duration::from_secs(15));
        assert_eq!(c.tz.iana_name(), Some("Asia/Shanghai"));
        let creds = c.credentials.expect("credentials");
        assert_eq!(
            (creds.app_id.as_str(), creds.app_key.expose()),
            ("app", "key")
        );
    }

    #[test]
    fn missing_credentials_say_what_to_set() {
        let e = load(&cli(&[]), &no_env).expect_err("no credentials");
        assert!(
            e.0.contains("SOBOT_APP_ID") && e.0.contains("--demo"),
            "{e}"
        );
        assert!(load(&cli(&["--demo"]), &no_env).is_ok());
    }

    #[test]
    fn credentials_from_files() {
        let key = write("key", "s3cret\n");
        let cfg = write(
            "files.yml",
            &format!(
                "sobot:\n  app_id: acme\n  app_key_file: {}\n",
                key.display()
            ),
        );
        let c = load(
            &cli(&["--config.file", cfg.to_str().expect("utf8")]),
            &no_env,
        )
        .expect("valid");
        let creds = c.credentials.expect("credentials");
        assert_eq!(creds.app_key.expose(), "s3cret");
        assert_eq!(creds.app_id, "acme");
        let e = load(
            &cli(&["--config.file", cfg.to_str().expect("utf8")]),
            &env_with_credentials,
        )
        .expect_err("given twice");
        assert!(e.0.contains("given twice"), "{e}");
    }

    #[test]
    fn bad_config_names_file_and_key() {
        let cases = [
            (
                "unknown.yml",
                "timezone: Asia/Shanghai\nbogus: 1\n",
                "bogus",
            ),
            (
                "tz.yml",
                "timezone: Mars/Olympus\n",
                "timezone: unknown time zone",
            ),
            (
                "win.yml",
                "windows: [today, last_week]\n",
                "windows: unknown window \"last_week\"",
            ),
            (
                "col.yml",
                "collectors: [robot_session, nope]\n",
                "collectors: unknown collector \"nope\"",
            ),
            (
                "dur.yml",
                "sobot:\n  timeout: soon\n",
                "sobot.timeout: invalid duration",
            ),
            ("yaml.yml", "windows: [today\n", "yaml.yml"),
        ];
        for (name, content, want) in cases {
            let path = write(name, content);
            let e = load(
                &cli(&["--config.file", path.to_str().expect("utf8")]),
                &env_with_credentials,
            )
            .expect_err(name);
            assert!(e.0.contains(want), "{name}: {e}");
            assert!(e.0.contains(name), "{name}: {e} does not name the file");
            assert!(!e.0.contains('\n'), "{name}: {e:?} is not one line");
        }
    }

    #[test]
    fn the_example_config_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/config.yml");
        let c =
            load(&cli(&["--config.file", path]), &env_with_credentials).expect("example is valid");
        assert_eq!(c.windows, vec![Window::Today, Window::Yesterday]);
        assert_eq!(c.collectors.len(), ENDPOINTS.len());
    }

    #[test]
    fn bad_flags() {
        for (args, want) in [
            (&["--collect.interval", "often"][..], "--collect.interval"),
            (
                &["--web.listen-address", "nowhere"][..],
                "--web.listen-address",
            ),
            (
                &["--web.telemetry-path", "metrics"][..],
                "--web.telemetry-path",
            ),
            (&["--sobot.base-url", "ftp://x"][..], "--sobot.base-url"),
        ] {
            let e = load(&cli(args), &env_with_credentials).expect_err(want);
            assert!(e.0.starts_with(want), "{e}");
        }
    }
}
