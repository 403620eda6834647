//! Command-line flags, in the Prometheus exporters' dotted style.

use std::path::PathBuf;

use clap::Parser;

pub(crate) use crate::logging::{LogFormat, LogLevel};
use crate::secret::{mask_credentials, redact};

/// Prometheus exporter for Sobot (智齿客服) customer-service statistics.
///
/// Credentials come from the environment (SOBOT_APP_ID, SOBOT_APP_KEY) or from files named in the
/// config file; never from flags.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "sobot_exporter",
    version = crate::build_info::VERSION_LINE,
    about,
    long_about = None,
    after_help = "Credentials (environment, or files named in --config.file):\n  \
                  SOBOT_APP_ID, SOBOT_APP_KEY          Sobot (sobot.app_id / sobot.app_key_file)\n  \
                  LAAFFIC_API_KEY, LAAFFIC_API_SECRET  Laaffic (laaffic.api_key_file / laaffic.api_secret_file)"
)]
pub struct Cli {
    /// Address to listen on (`:PORT` listens on every IPv4 interface); repeat it to serve the
    /// same routes on several addresses. Default :9877, and 127.0.0.1:9877 with --demo.
    #[arg(
        global = true,
        long = "web.listen-address",
        env = "SOBOT_EXPORTER_LISTEN_ADDRESS",
        value_name = "ADDR",
        action = clap::ArgAction::Append
    )]
    pub listen_address: Vec<String>,

    /// The address `/sd` gives its targets (`HOST[:PORT]`, e.g. a Kubernetes Service's name), in
    /// place of the request's Host header: set it behind a proxy, or to pin it.
    #[arg(global = true, long = "web.external-address", value_name = "HOST[:PORT]")]
    pub external_address: Option<String>,

    /// Listen on the sockets systemd passes (socket activation) instead of --web.listen-address.
    #[arg(global = true, long = "web.systemd-socket")]
    pub systemd_socket: bool,

    /// Web configuration file in the Prometheus exporter-toolkit format: TLS, client
    /// certificates, response headers, basic auth.
    #[arg(
        global = true,
        long = "web.config.file",
        env = "SOBOT_EXPORTER_WEB_CONFIG_FILE",
        value_name = "FILE"
    )]
    pub web_config_file: Option<PathBuf>,

    /// Path under which to expose metrics.
    #[arg(global = true, long = "web.telemetry-path", default_value = "/metrics", value_name = "PATH")]
    pub telemetry_path: String,

    /// Most connections kept open; at the limit the one idle longest is closed to make room.
    #[arg(global = true, long = "web.max-connections", default_value = "512", value_name = "N")]
    pub max_connections: String,

    /// Close a connection whose response makes no progress for this long (a client not reading).
    #[arg(global = true, long = "web.write-timeout", default_value = "30s", value_name = "DURATION")]
    pub write_timeout: String,

    /// Close a connection that sends no complete request header for this long (kept alive
    /// between requests, or new).
    #[arg(global = true, long = "web.idle-timeout", default_value = "60s", value_name = "DURATION")]
    pub idle_timeout: String,

    /// Close a connection after its current response once it is this old (0s: never).
    #[arg(global = true, long = "web.max-connection-age", default_value = "5m", value_name = "DURATION")]
    pub max_connection_age: String,

    /// YAML configuration file (time zone, windows, collectors, credentials files, timeouts).
    #[arg(global = true, long = "config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Base URL of the Sobot API.
    #[arg(
        global = true,
        long = "sobot.base-url",
        default_value = "https://www.sobot.com",
        value_name = "URL"
    )]
    pub sobot_base_url: String,

    /// Base URL of the Laaffic call-center API.
    #[arg(
        global = true,
        long = "laaffic.base-url",
        default_value = "https://api.laaffic.com",
        value_name = "URL"
    )]
    pub laaffic_base_url: String,

    /// This replica's share of a platform's tenants: N/M (1 ≤ N ≤ M), or auto/M to take N from a
    /// StatefulSet pod's ordinal (hostname NAME-ORDINAL is shard ORDINAL+1).
    #[arg(
        global = true,
        long = "platform.shard",
        env = "SOBOT_PLATFORM_SHARD",
        default_value = "1/1",
        value_name = "N/M"
    )]
    pub platform_shard: String,

    /// Interval between collection cycles, e.g. 60s, 2m.
    #[arg(global = true, long = "collect.interval", default_value = "60s", value_name = "DURATION")]
    pub collect_interval: String,

    /// Log level.
    #[arg(global = true, long = "log.level", value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,

    /// Log format.
    #[arg(global = true, long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    pub log_format: LogFormat,

    /// Enable the lifecycle endpoint POST /-/reload (off by default, as in Prometheus). SIGHUP
    /// reloads either way.
    #[arg(global = true, long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,

    /// Check the flags, the config file, the credential files it names and --web.config.file,
    /// print one line and exit: 0 if they are valid, 2 if not.
    #[arg(global = true, long = "config.check")]
    pub config_check: bool,

    /// Ask the exporter listening at --web.listen-address for /healthz (over TLS when
    /// --web.config.file enables it) and exit 0 if it is healthy, 1 if not (a container
    /// HEALTHCHECK that needs no shell tools).
    #[arg(long, global = true)]
    pub healthcheck: bool,

    /// Run against an embedded simulator of the Sobot and Laaffic APIs on 127.0.0.1: no credentials
    /// needed.
    #[arg(long, global = true)]
    pub demo: bool,

    /// With --demo: how many times as fast as the real clock the simulated day runs, 1 to 1440
    /// (60: a day in 24 minutes, wrapping at the simulated midnight); the dates the exporter asks
    /// for stay on the real clock. Default 1: the real time of day.
    #[arg(global = true, long = "demo.speed", value_name = "N")]
    pub demo_speed: Option<String>,

    /// A command instead of serving: `backfill`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do instead of serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Replay past days into OpenMetrics files for `promtool tsdb create-blocks-from
    /// openmetrics`: the `window="today"` figures a live exporter would have served, for the
    /// company, the platform's tenants and the platform (the four hourly endpoints and the staff
    /// status at the end of every hour, the rest at the end of the day: statistics, quality
    /// inspection, staff jobs, Laaffic's call counts). Left out, as the documents give no range
    /// for them: Laaffic's live seat state, the tenant list.
    Backfill(Backfill),
}

/// The days to replay and where to write them.
#[derive(Debug, Clone, clap::Args)]
pub struct Backfill {
    /// The first day, `YYYY-MM-DD`, in the configured time zone.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: String,
    /// The last day (inclusive), at most yesterday: Prometheus cannot take backfill into its
    /// head block.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: String,
    /// The directory of the files, one a day: `DIR/YYYY-MM-DD.om`.
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
    /// Skip the days whose file is already there (a run cut short by Ctrl-C).
    #[arg(long)]
    pub resume: bool,
}

/// One line for a flag error: clap's message with its tip (`a similar argument exists:
/// '--config.file'`) and the valid values, without the usage and help lines, without anything
/// that looks like a credential and without the secrets of the environment (`env` looks a variable
/// up).
pub fn error_line(e: &clap::Error, env: &dyn Fn(&str) -> Option<String>) -> String {
    let text = e.render().to_string();
    let mut line = String::new();
    for part in
        text.lines().map(str::trim).take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
    {
        let part = part.trim_start_matches("error: ");
        if part.is_empty() {
            continue;
        }
        if !line.is_empty() {
            line.push_str(if part.starts_with('[') { " " } else { "; " });
        }
        line.push_str(part);
    }
    if line.is_empty() {
        line = "invalid arguments".to_string();
    }
    redact(&mask_credentials(&line), &crate::sources::env_secrets(env))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(args: &[&str], env: &dyn Fn(&str) -> Option<String>) -> String {
        let e = Cli::try_parse_from(std::iter::once("sobot_exporter").chain(args.iter().copied()))
            .expect_err("bad flags");
        error_line(&e, env)
    }

    #[test]
    fn flag_errors_keep_tips_and_values_on_one_line() {
        let none = |_: &str| None;
        let l = line(&["--config-file", "x.yml"], &none);
        assert_eq!(
            l,
            "unexpected argument '--config-file' found; tip: a similar argument exists: '--config.file'"
        );
        let l = line(&["--log.level", "verbose"], &none);
        assert_eq!(
            l,
            "invalid value 'verbose' for '--log.level <LOG_LEVEL>' [possible values: error, warn, info, debug]"
        );
        let l = line(&["--log.format", "yaml"], &none);
        assert!(l.ends_with("[possible values: logfmt, text, json]"), "{l}");
    }

    #[test]
    fn flag_errors_print_no_secret() {
        let key = "8748cd7faeb1401ab3d97cf45013afc4";
        let none = |_: &str| None;
        for args in [&["--log.level", key][..], &[key][..], &["--app-key", key][..]] {
            let l = line(args, &none);
            assert!(!l.contains(key) && !l.contains('\n'), "{l}");
        }
        // A secret of the environment that does not look like one is redacted all the same.
        let env = |name: &str| (name == "LAAFFIC_API_SECRET").then(|| "hunter-two".to_string());
        let l = line(&["--log.level", "hunter-two"], &env);
        assert!(!l.contains("hunter-two") && l.contains("--log.level"), "{l}");
    }
}
