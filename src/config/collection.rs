//! The collection config: what to collect and how to reach the vendors, built from the YAML file
//! by a pure function. The environment and credential files come in as lookups, so that the same
//! text and lookups always give the same config (or the same error line).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;
use serde::Deserialize;

use super::{ConfigError, err, io_reason, parse_duration};
use crate::secret::{NOT_SHOWN, Secret, Shape, looks_like_credential, redact, shown};
use crate::sources::laaffic::client::LaafficCredentials;
use crate::sources::sobot::client::Credentials;
use crate::sources::sobot::endpoints::{ENDPOINTS, Endpoint, Rows};
use crate::sources::sobot::quality::{QUALITY_SOURCES, QualitySource};
use crate::targets::Shard;
use crate::upstream::{ClientSettings, Origins};
use crate::window::Window;

/// Looks an environment variable up.
pub(crate) type Env<'a> = dyn Fn(&str) -> Option<String> + 'a;
/// Reads a credential file.
pub(crate) type ReadFile<'a> = dyn Fn(&Path) -> Result<String, io::Error> + 'a;

/// The YAML file as written. Unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
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
    /// Windows of single collectors, by name, instead of `windows`.
    pub collector_windows: Option<BTreeMap<String, Vec<String>>>,
    /// Whether `sobot_agent_score_evaluations` is exported; default true.
    pub agent_score_evaluations: Option<bool>,
    /// Quality-inspection collectors.
    #[serde(default)]
    pub quality: QualitySection,
    /// The Sobot API section.
    #[serde(default)]
    pub sobot: SobotSection,
    /// The Laaffic call-center section.
    #[serde(default)]
    pub laaffic: LaafficSection,
    /// The e-commerce platform (multi-tenant) section.
    pub platform: Option<PlatformSection>,
}

/// `platform:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlatformSection {
    /// `unionCode`, the platform's id at Sobot.
    pub union_code: Option<String>,
    /// The platform super administrator's e-mail (signs getTenantList).
    pub email: Option<String>,
    /// File holding the union key; or use `SOBOT_PLATFORM_UNION_KEY`.
    pub union_key_file: Option<PathBuf>,
    /// Interval of discovery and platform statistics; default 5m.
    pub interval: Option<String>,
    /// Collectors run for every tenant; default the six company overview endpoints.
    pub collectors: Option<Vec<String>>,
    /// Which tenants to collect.
    #[serde(default)]
    pub tenants: TenantsSection,
    /// Whether every tenant's series also go on `/metrics` (with a `tenant` label); default true.
    pub tenants_on_metrics: Option<bool>,
}

/// `platform.tenants:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantsSection {
    /// Only these company ids (and those `include_names` matches), if given.
    pub include_ids: Option<Vec<String>>,
    /// Only tenants whose name matches (anchored regular expression), if given.
    pub include_names: Option<String>,
    /// Never these company ids.
    pub exclude_ids: Option<Vec<String>>,
    /// Never tenants whose name matches (anchored regular expression).
    pub exclude_names: Option<String>,
}

/// `quality:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QualitySection {
    /// Interval of the quality collectors; default 5m.
    pub interval: Option<String>,
    /// Records per page; default 1000, at most 10000.
    pub page_size: Option<u32>,
    /// Pages per window and cycle at most; default 50.
    pub max_pages: Option<u32>,
    /// Whether the per-part families (`sobot_quality_part_*`) are exported; default true.
    pub part_scores: Option<bool>,
}

/// `laaffic:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LaafficSection {
    /// File holding the API key; or use `LAAFFIC_API_KEY`.
    pub api_key_file: Option<PathBuf>,
    /// File holding the API secret; or use `LAAFFIC_API_SECRET`.
    pub api_secret_file: Option<PathBuf>,
    /// Total timeout of one request; default 15s.
    pub timeout: Option<String>,
    /// Connect timeout; default 5s.
    pub connect_timeout: Option<String>,
    /// Cardinality guard of the seats: distinct seats at most; default `max_agents`.
    pub max_seats: Option<usize>,
}

/// `sobot:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SobotSection {
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

/// The flag values the collection config takes, already validated.
#[derive(Debug, Clone)]
pub(crate) struct Flags {
    /// Interval between collection cycles (`--collect.interval`).
    pub interval: Duration,
    /// Sobot base URL without trailing slash (`--sobot.base-url`).
    pub sobot_base_url: String,
    /// Laaffic base URL without trailing slash (`--laaffic.base-url`).
    pub laaffic_base_url: String,
    /// This replica's share of the platform's tenants (`--platform.shard`).
    pub shard: Shard,
}

/// What to collect and how to reach the vendors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionConfig {
    /// Interval between collection cycles.
    pub interval: Duration,
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
    /// Windows of single collectors (by name) instead of `windows`.
    pub collector_windows: BTreeMap<String, Vec<Window>>,
    /// Whether `sobot_agent_score_evaluations` is exported.
    pub agent_score_evaluations: bool,
    /// Whether the per-part quality families are exported.
    pub quality_part_scores: bool,
    /// Cardinality guard of the Laaffic seats.
    pub max_seats: usize,
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
    /// The e-commerce platform whose tenants are collected too, if configured.
    pub platform: Option<PlatformConfig>,
    /// Laaffic credentials; `None`: no Laaffic collector.
    pub laaffic_credentials: Option<LaafficCredentials>,
    /// Where the credentials came from, for the hints of failures.
    pub origins: Origins,
}

impl CollectionConfig {
    /// The windows `kind` collects: its own from `collector_windows`, else `windows`.
    pub fn windows_of(&self, kind: &CollectorKind) -> Vec<Window> {
        self.collector_windows.get(&kind.name()).unwrap_or(&self.windows).clone()
    }

    /// One line saying what this config collects, for `--config.check` (no secrets).
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        // A platform alone runs no collector of the company's: its tenants' are counted below.
        if !self.collectors.is_empty() || self.platform.is_none() {
            parts.push(format!("{} collectors every {}", self.collectors.len(), humantime(self.interval)));
        }
        if let Some(c) = &self.credentials {
            parts.push(format!("Sobot app id {}", c.app_id));
        }
        if self.laaffic_credentials.is_some() {
            parts.push("Laaffic".to_string());
        }
        if let Some(p) = &self.platform {
            parts.push(format!(
                "platform {} (shard {}/{}): {} collectors for each tenant every {}, discovery every {}",
                p.union_code,
                p.shard.number(),
                p.shard.count(),
                p.collectors.len(),
                humantime(self.interval),
                humantime(p.interval)
            ));
        }
        format!("configuration is valid: {}", parts.join("; "))
    }
}

/// A duration as the config writes it: `60s`, `1m30s`, `500ms`.
fn humantime(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

/// A collector the config can name. Two are equal when their names are.
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

impl PartialEq for CollectorKind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for CollectorKind {}

/// The platform section, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformConfig {
    /// `unionCode`.
    pub union_code: String,
    /// The super administrator's e-mail.
    pub email: String,
    /// The union key, the signing secret.
    pub union_key: Secret,
    /// Interval of discovery and platform statistics.
    pub interval: Duration,
    /// Collectors run for every tenant.
    pub collectors: Vec<CollectorKind>,
    /// Which tenants to collect.
    pub tenants: TenantFilter,
    /// Whether tenants' series also go on `/metrics`.
    pub tenants_on_metrics: bool,
    /// This replica's share.
    pub shard: Shard,
}

/// Tenant allow and block lists: a tenant is collected if no include rule is given or one
/// matches, and no exclude rule matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantFilter {
    include_ids: Vec<String>,
    include_names: Option<Pattern>,
    exclude_ids: Vec<String>,
    exclude_names: Option<Pattern>,
}

impl TenantFilter {
    /// Whether rules on names are configured (which only a list with names can apply).
    pub fn has_name_rules(&self) -> bool {
        self.include_names.is_some() || self.exclude_names.is_some()
    }

    /// Whether the id rules let the tenant `id` be collected (the name rules aside).
    pub fn allows_id(&self, id: &str) -> bool {
        (self.include_ids.is_empty() || self.include_ids.iter().any(|i| i == id))
            && !self.exclude_ids.iter().any(|i| i == id)
    }

    /// Whether the tenant `id` named `name` is collected.
    pub fn allows(&self, id: &str, name: &str) -> bool {
        let included = (self.include_ids.is_empty() && self.include_names.is_none())
            || self.include_ids.iter().any(|i| i == id)
            || self.include_names.as_ref().is_some_and(|p| p.matches(name));
        let excluded = self.exclude_ids.iter().any(|i| i == id)
            || self.exclude_names.as_ref().is_some_and(|p| p.matches(name));
        included && !excluded
    }
}

#[cfg(test)]
impl TenantFilter {
    /// Tenants with one of `ids`, or whose name `names` matches.
    pub(crate) fn including(ids: &[&str], names: &str) -> Self {
        TenantFilter {
            include_ids: ids.iter().map(|i| (*i).to_string()).collect(),
            include_names: Pattern::new(names).ok(),
            ..TenantFilter::default()
        }
    }
}

/// A regular expression anchored at both ends, as Prometheus relabeling anchors them.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: regex_lite::Regex,
}

impl Pattern {
    fn new(source: &str) -> Result<Pattern, String> {
        let regex = regex_lite::Regex::new(&format!("^(?:{source})$")).map_err(|e| {
            // The library's message spans several lines: the first says what is wrong.
            e.to_string().lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid").trim().to_string()
        })?;
        Ok(Pattern { source: source.to_string(), regex })
    }

    fn matches(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

/// Environment variable of the platform's union key.
pub(crate) const ENV_UNION_KEY: &str = "SOBOT_PLATFORM_UNION_KEY";

/// Environment variable of the Laaffic API key.
pub(crate) const ENV_LAAFFIC_KEY: &str = "LAAFFIC_API_KEY";
/// Environment variable of the Laaffic API secret.
pub(crate) const ENV_LAAFFIC_SECRET: &str = "LAAFFIC_API_SECRET";
/// Environment variable of the Sobot `appid`.
pub(crate) const ENV_APP_ID: &str = "SOBOT_APP_ID";
/// Environment variable of the Sobot `app_key`.
pub(crate) const ENV_APP_KEY: &str = "SOBOT_APP_KEY";
/// The environment variables that hold secrets: their values are never printed in an error line.
pub(crate) const SECRET_ENV: [&str; 4] = [ENV_APP_KEY, ENV_LAAFFIC_KEY, ENV_LAAFFIC_SECRET, ENV_UNION_KEY];

/// Builds the collection config from the YAML text of the file at `path` (`None`: no file,
/// `yaml` is empty). Pure: the environment and credential files are read through `env` and
/// `read`; `path` only names the file in error lines.
pub(crate) fn from_yaml(
    yaml: &str,
    path: Option<&Path>,
    flags: &Flags,
    env: &Env<'_>,
    read: &ReadFile<'_>,
) -> Result<CollectionConfig, ConfigError> {
    // Whatever field a secret of the environment ended up in, it is not printed (the caller's
    // flags are redacted by `config::load`; this keeps the builder safe on its own).
    let env_secrets: Vec<String> = SECRET_ENV.iter().filter_map(|name| env(name)).collect();
    let env_secrets: Vec<&str> = env_secrets.iter().map(String::as_str).collect();
    let file = parse(yaml, path).map_err(|e| err(redact(&e.0, &env_secrets)))?;
    let named: Vec<PathBuf> = [
        &file.sobot.app_id_file,
        &file.sobot.app_key_file,
        &file.laaffic.api_key_file,
        &file.laaffic.api_secret_file,
        &file.platform.as_ref().and_then(|p| p.union_key_file.clone()),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    build(file, path, flags, env, read).map_err(|e| {
        // Whatever field a secret ended up in, the secrets of the files named are not printed.
        let secrets: Vec<String> = named
            .iter()
            .filter_map(|f| read_next_to(read, path, f).ok())
            .map(|s| s.trim().to_string())
            .collect();
        let mut secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        secrets.extend(&env_secrets);
        err(redact(&e.0, &secrets))
    })
}

/// Reads `file`, a relative path next to the config file at `config`, wherever the process was
/// started.
fn read_next_to(read: &ReadFile<'_>, config: Option<&Path>, file: &Path) -> Result<String, io::Error> {
    match config.and_then(Path::parent) {
        Some(dir) if file.is_relative() => read(&dir.join(file)),
        _ => read(file),
    }
}

/// Parses the YAML text; empty text is an empty file.
pub(crate) fn parse(yaml: &str, path: Option<&Path>) -> Result<FileConfig, ConfigError> {
    if yaml.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    // No source snippet in errors: a line of the file could hold a secret someone put inline.
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    serde_saphyr::from_str_with_options(yaml, options).map_err(|e| {
        let line = super::messages::yaml_error(&e, yaml);
        match path {
            Some(path) => err(format!("{}: {line}", path.display())),
            None => err(line),
        }
    })
}

/// Validates a parsed file into the collection config; see [`from_yaml`].
pub(crate) fn build(
    file: FileConfig,
    path: Option<&Path>,
    flags: &Flags,
    env: &Env<'_>,
    read: &ReadFile<'_>,
) -> Result<CollectionConfig, ConfigError> {
    let at = |key: &str| match path {
        Some(path) => format!("{}: {key}", path.display()),
        None => key.to_string(),
    };

    let tz_name = file.timezone.as_deref().unwrap_or("Asia/Shanghai");
    let tz = TimeZone::get(tz_name).map_err(|_| {
        let suggestion = super::messages::suggest_zone(tz_name);
        // A name close to a zone's (`Beijing`) is a mistyped zone: safe to repeat.
        let value = match &suggestion {
            Some(_) if !looks_like_credential(tz_name) => format!("{tz_name:?}"),
            _ => shown(tz_name, Shape::Zone),
        };
        let hint = match suggestion {
            Some(zone) => format!("; did you mean {zone}?"),
            None => "; expected an IANA name, e.g. Asia/Shanghai".to_string(),
        };
        err(format!("{}: unknown time zone {value}{hint}", at("timezone")))
    })?;

    let windows = match &file.windows {
        None => vec![Window::Today],
        Some(names) => window_list(names, &at("windows"))?,
    };

    let ids = |list: &Option<Vec<String>>, key: &str| -> Result<Vec<String>, ConfigError> {
        let list = list.clone().unwrap_or_default();
        // An id of the documents' form (32 hex digits) looks like an app key: the entry's
        // position is named, not its value.
        if let Some(n) = list.iter().position(|id| id.trim().is_empty() || id.contains([',', ' '])) {
            return Err(err(format!(
                "{}: entry {} is not one id {NOT_SHOWN}: one id per entry, without blanks, spaces \
                 or commas (the documents' ids are 32 hex digits)",
                at(key),
                n + 1
            )));
        }
        Ok(list)
    };
    let groups = ids(&file.groups, "groups")?;
    let agents = ids(&file.agents, "agents")?;
    let max_agents = match file.max_agents {
        Some(0) => return Err(err(format!("{}: must be at least 1", at("max_agents")))),
        Some(n) => n,
        None => 2000,
    };
    // Seats were capped by max_agents before they had a cap of their own: so they still are
    // unless max_seats is set.
    let max_seats = match file.laaffic.max_seats {
        Some(0) => return Err(err(format!("{}: must be at least 1", at("laaffic.max_seats")))),
        Some(n) => n,
        None => max_agents,
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
                        "{}: unknown collector {} (known: {})",
                        at("collectors"),
                        shown(n, Shape::Name),
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
    no_repeats(names.iter().map(String::as_str), &at("collectors"), Shape::Name)?;
    no_repeats(groups.iter().map(String::as_str), &at("groups"), Shape::Number)?;
    no_repeats(agents.iter().map(String::as_str), &at("agents"), Shape::Number)?;
    if names.iter().any(|n| n == "quality_result") && names.iter().any(|n| n == "chat_result") {
        return Err(err(format!(
            "{}: quality_result and chat_result both give the chat channel's inspections; choose one",
            at("collectors")
        )));
    }

    let q = &file.quality;
    let quality_interval = interval(&q.interval, &at("quality.interval"))?;
    let quality_page_size = match q.page_size {
        Some(n) if !(1..=10_000).contains(&n) => {
            return Err(err(format!("{}: must be between 1 and 10000", at("quality.page_size"))));
        }
        Some(n) => n,
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
    let timeout = |value: &Option<String>, key: &str, default: u64| {
        duration(value, &at(key), Duration::from_secs(default), Duration::from_nanos(1), "15s")
    };
    let sobot = ClientSettings {
        base_url: flags.sobot_base_url.clone(),
        timeout: timeout(&s.timeout, "sobot.timeout", 15)?,
        connect_timeout: timeout(&s.connect_timeout, "sobot.connect_timeout", 5)?,
        rate_limit_per_minute: match s.rate_limit_per_minute {
            Some(0) => {
                return Err(err(format!("{}: must be at least 1", at("sobot.rate_limit_per_minute"))));
            }
            Some(n) => n,
            None => 1000,
        },
    };

    let l = &file.laaffic;
    let laaffic = ClientSettings {
        base_url: flags.laaffic_base_url.clone(),
        timeout: timeout(&l.timeout, "laaffic.timeout", 15)?,
        connect_timeout: timeout(&l.connect_timeout, "laaffic.connect_timeout", 5)?,
        rate_limit_per_minute: 600,
    };

    let relative_to_config = |file: &Path| read_next_to(read, path, file);
    let read: &ReadFile<'_> = &relative_to_config;
    let credentials = sobot_credentials(s, env, read, &at)?;
    let laaffic_credentials = laaffic_credentials(l, env, read, &at)?;
    let platform = match &file.platform {
        Some(p) => Some(platform(p, flags, env, read, &at)?),
        None => None,
    };
    if credentials.is_none() && laaffic_credentials.is_none() && platform.is_none() {
        return Err(err(format!(
            "missing credentials: set {ENV_APP_ID} and {ENV_APP_KEY} (or sobot.app_id and \
             sobot.app_key_file in --config.file) for Sobot, {ENV_LAAFFIC_KEY} and {ENV_LAAFFIC_SECRET} \
             (or laaffic.api_key_file and laaffic.api_secret_file) for Laaffic, or run with --demo"
        )));
    }
    // Only collectors whose vendor has credentials run: a listed one without them is an error,
    // an unlisted default is left out; no collector at all is an error.
    let has_credentials = |k: &CollectorKind| match k {
        CollectorKind::LaafficSeats => laaffic_credentials.is_some(),
        _ => credentials.is_some(),
    };
    if file.collectors.is_some()
        && let Some(k) = collectors.iter().find(|k| !has_credentials(k))
    {
        let vendor = if matches!(k, CollectorKind::LaafficSeats) { "Laaffic" } else { "Sobot" };
        return Err(err(format!("{}: {} needs {vendor} credentials", at("collectors"), k.name())));
    }
    let collectors: Vec<CollectorKind> = collectors.into_iter().filter(|k| has_credentials(k)).collect();
    if collectors.is_empty() && platform.is_none() {
        return Err(err(format!("{}: no collector to run", at("collectors"))));
    }

    let collector_windows = collector_windows(&file, &collectors, platform.as_ref(), &at)?;

    let configured = (credentials.is_some(), laaffic_credentials.is_some(), platform.is_some());
    let origins = origins(&file, env, &at, configured);
    Ok(CollectionConfig {
        interval: flags.interval,
        tz,
        windows,
        collectors,
        groups,
        agents,
        max_agents,
        collector_windows,
        agent_score_evaluations: file.agent_score_evaluations.unwrap_or(true),
        quality_part_scores: file.quality.part_scores.unwrap_or(true),
        max_seats,
        quality_interval,
        quality_page_size,
        quality_max_pages,
        sobot,
        credentials,
        laaffic,
        laaffic_credentials,
        platform,
        origins,
    })
}

/// The windows named in `names` (the value of `key`): known, at least one, none twice.
fn window_list(names: &[String], key: &str) -> Result<Vec<Window>, ConfigError> {
    let windows = names
        .iter()
        .map(|n| {
            Window::parse(n).ok_or_else(|| {
                err(format!("{key}: unknown window {} (known: today, yesterday)", shown(n, Shape::Name)))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if windows.is_empty() {
        return Err(err(format!("{key}: at least one window is needed")));
    }
    no_repeats(windows.iter().map(|w| w.label()), key, Shape::Name)?;
    Ok(windows)
}

/// `collector_windows`: each name a collector that runs (for the company or the platform's
/// tenants), each list valid.
fn collector_windows(
    file: &FileConfig,
    collectors: &[CollectorKind],
    platform: Option<&PlatformConfig>,
    at: &dyn Fn(&str) -> String,
) -> Result<BTreeMap<String, Vec<Window>>, ConfigError> {
    let mut out = BTreeMap::new();
    let running = |name: &str| {
        collectors.iter().chain(platform.iter().flat_map(|p| p.collectors.iter())).any(|k| k.name() == name)
    };
    for (name, list) in file.collector_windows.iter().flatten() {
        let known: Vec<_> = CollectorKind::all().iter().map(CollectorKind::name).collect();
        if !known.contains(name) {
            let hint = match super::messages::closest(name, &known) {
                Some(k) => format!("; did you mean {k}?"),
                None => format!(" (known: {})", known.join(", ")),
            };
            return Err(err(format!(
                "{}: unknown collector {}{hint}",
                at("collector_windows"),
                shown(name, Shape::Name)
            )));
        }
        if !running(name) {
            return Err(err(format!(
                "{}: {name} is not collected (not in collectors, or its vendor has no credentials): \
                 remove it here or collect it",
                at("collector_windows")
            )));
        }
        out.insert(name.clone(), window_list(list, &at(&format!("collector_windows.{name}")))?);
    }
    Ok(out)
}

/// Names where each configured credential came from, as the operator gave it (the defaults for
/// those not configured, so that configs compare equal whatever the file is called).
fn origins(
    file: &FileConfig,
    env: &Env<'_>,
    at: &dyn Fn(&str) -> String,
    (sobot, laaffic, platform): (bool, bool, bool),
) -> Origins {
    let default = Origins::default();
    let name = |env_name: &str, key: &str| {
        if env(env_name).is_some_and(|v| !v.is_empty()) { env_name.to_string() } else { at(key) }
    };
    let app_id =
        if file.sobot.app_id.is_some() { at("sobot.app_id") } else { name(ENV_APP_ID, "sobot.app_id_file") };
    Origins {
        app_id: if sobot { app_id } else { default.app_id },
        app_key: if sobot { name(ENV_APP_KEY, "sobot.app_key_file") } else { default.app_key },
        laaffic: if laaffic {
            format!(
                "{} and {}",
                name(ENV_LAAFFIC_KEY, "laaffic.api_key_file"),
                name(ENV_LAAFFIC_SECRET, "laaffic.api_secret_file")
            )
        } else {
            default.laaffic
        },
        union_key: if platform { name(ENV_UNION_KEY, "platform.union_key_file") } else { default.union_key },
    }
}

/// The platform section: credentials, interval, tenant collectors and filters, the shard.
fn platform(
    p: &PlatformSection,
    flags: &Flags,
    env: &Env<'_>,
    read: &ReadFile<'_>,
    at: &dyn Fn(&str) -> String,
) -> Result<PlatformConfig, ConfigError> {
    let text = |value: &Option<String>, key: &str| -> Result<String, ConfigError> {
        match value.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => Err(err(format!("{}: required for the platform", at(key)))),
        }
    };
    let union_code = text(&p.union_code, "platform.union_code")?;
    let email = text(&p.email, "platform.email")?;
    let key_file = at("platform.union_key_file");
    let union_key = one_credential(env, read, ENV_UNION_KEY, p.union_key_file.as_ref(), &key_file)?
        .ok_or_else(|| err(format!("the platform needs its union key: set {ENV_UNION_KEY} or {key_file}")))?;
    let interval = interval(&p.interval, &at("platform.interval"))?;
    let all = CollectorKind::all();
    let names: Vec<String> = match &p.collectors {
        Some(names) => names.clone(),
        // By default the company overview endpoints (the table's company-wide ones).
        None => ENDPOINTS.iter().filter(|e| e.rows == Rows::Item).map(|e| e.name.to_string()).collect(),
    };
    let collectors = names
        .iter()
        .map(|n| {
            let kind = all.iter().copied().find(|k| k.name() == *n);
            match kind {
                Some(k @ (CollectorKind::Stats(_) | CollectorKind::Quality(_))) => Ok(k),
                Some(_) => Err(err(format!(
                    "{}: {n} cannot run for tenants (per-group collectors need a tenant's groups; Laaffic is not a Sobot tenant's)",
                    at("platform.collectors")
                ))),
                None => Err(err(format!(
                    "{}: unknown collector {} (e.g. robot_session)",
                    at("platform.collectors"),
                    shown(n, Shape::Name)
                ))),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    no_repeats(names.iter().map(String::as_str), &at("platform.collectors"), Shape::Name)?;
    if collectors.is_empty() {
        return Err(err(format!("{}: at least one collector is needed", at("platform.collectors"))));
    }
    let pattern = |value: &Option<String>, key: &str| -> Result<Option<Pattern>, ConfigError> {
        value
            .as_deref()
            .map(|v| {
                Pattern::new(v).map_err(|e| err(format!("{}: invalid regular expression: {e}", at(key))))
            })
            .transpose()
    };
    let t = &p.tenants;
    let tenants = TenantFilter {
        include_ids: t.include_ids.clone().unwrap_or_default(),
        include_names: pattern(&t.include_names, "platform.tenants.include_names")?,
        exclude_ids: t.exclude_ids.clone().unwrap_or_default(),
        exclude_names: pattern(&t.exclude_names, "platform.tenants.exclude_names")?,
    };
    Ok(PlatformConfig {
        union_code,
        email,
        union_key,
        interval,
        collectors,
        tenants,
        tenants_on_metrics: p.tenants_on_metrics.unwrap_or(true),
        shard: flags.shard,
    })
}

/// One credential from the environment or a file named in the config, not both.
fn one_credential(
    env: &Env<'_>,
    read: &ReadFile<'_>,
    env_name: &str,
    file: Option<&PathBuf>,
    file_key: &str,
) -> Result<Option<Secret>, ConfigError> {
    match (env(env_name).filter(|v| !v.is_empty()), file) {
        (Some(_), Some(_)) => Err(err(format!("{env_name} and {file_key} are both set; use one"))),
        (Some(v), None) => Ok(Some(Secret::new(v))),
        (None, Some(path)) => read_secret_file(read, path, file_key).map(Some),
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
    env: &Env<'_>,
    read: &ReadFile<'_>,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<Credentials>, ConfigError> {
    let id_key = at("sobot.app_id_file");
    let mut app_id = one_credential(env, read, ENV_APP_ID, s.app_id_file.as_ref(), &id_key)?;
    if let Some(v) = &s.app_id {
        if app_id.is_some() {
            let other = if s.app_id_file.is_some() { id_key } else { ENV_APP_ID.to_string() };
            return Err(err(format!("{} and {other} are both set; use one", at("sobot.app_id"))));
        }
        app_id = Some(Secret::new(v.clone()));
    }
    let key_key = at("sobot.app_key_file");
    let app_key = one_credential(env, read, ENV_APP_KEY, s.app_key_file.as_ref(), &key_key)?;
    pair(
        app_id,
        app_key,
        ("the Sobot app id", "the Sobot app key (SOBOT_APP_KEY or sobot.app_key_file)"),
        |id, key| Credentials { app_id: id.expose().to_string(), app_key: key },
    )
}

fn laaffic_credentials(
    l: &LaafficSection,
    env: &Env<'_>,
    read: &ReadFile<'_>,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<LaafficCredentials>, ConfigError> {
    let key_at = at("laaffic.api_key_file");
    let key = one_credential(env, read, ENV_LAAFFIC_KEY, l.api_key_file.as_ref(), &key_at)?;
    // The key is sent as a header: a line break or control character would break the request.
    if key.as_ref().is_some_and(|k| k.expose().chars().any(char::is_control)) {
        return Err(err(format!(
            "the Laaffic API key ({ENV_LAAFFIC_KEY} or {key_at}) holds a control character (a line break?)"
        )));
    }
    let secret = one_credential(
        env,
        read,
        ENV_LAAFFIC_SECRET,
        l.api_secret_file.as_ref(),
        &at("laaffic.api_secret_file"),
    )?;
    pair(key, secret, ("the Laaffic API key", "the Laaffic API secret"), |api_key, api_secret| {
        LaafficCredentials { api_key, api_secret }
    })
}

/// The duration `value` of the key `at` (`default` when unset): at least `min`, else an error
/// line naming the key with an `example`.
fn duration(
    value: &Option<String>,
    at: &str,
    default: Duration,
    min: Duration,
    example: &str,
) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => parse_duration(v).filter(|d| *d >= min).ok_or_else(|| {
            err(format!("{at}: invalid duration {} (e.g. {example})", shown(v, Shape::Duration)))
        }),
    }
}

/// The interval of the key `at` (the quality or the platform collectors'): 5m by default, at
/// least 100ms.
fn interval(value: &Option<String>, at: &str) -> Result<Duration, ConfigError> {
    duration(value, at, Duration::from_secs(300), Duration::from_millis(100), "5m")
}

/// Fails on the first item listed twice: quoted if it has the list's `shape`, else by position.
fn no_repeats<'a>(items: impl Iterator<Item = &'a str>, key: &str, shape: Shape) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashMap::new();
    for (n, item) in items.enumerate() {
        if let Some(first) = seen.insert(item, n) {
            let value = shown(item, shape);
            return Err(err(if value == NOT_SHOWN {
                format!("{key}: entries {} and {} are the same {NOT_SHOWN}; list each once", first + 1, n + 1)
            } else {
                format!("{key}: {value} is listed twice")
            }));
        }
    }
    Ok(())
}

/// Reads a credential file: surrounding white space (a trailing newline) is not part of it.
fn read_secret_file(read: &ReadFile<'_>, path: &Path, key: &str) -> Result<Secret, ConfigError> {
    // Only a value shaped like a path is printed: a key written where its file's name belongs
    // is not.
    let written = path.to_string_lossy();
    let hint = "; expected the path of a file holding the secret, e.g. /run/secrets/sobot_app_key \
                (never the secret itself)";
    let (file, hint) = if shown(&written, Shape::Path) == NOT_SHOWN {
        (format!("the file named there {NOT_SHOWN}"), hint)
    } else {
        (written.into_owned(), "")
    };
    let content =
        read(path).map_err(|e| err(format!("{key}: cannot read {file}: {}{hint}", io_reason(&e))))?;
    let value = content.trim();
    if value.is_empty() {
        return Err(err(format!("{key}: {file} is empty")));
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/config/testdata");

    fn flags() -> Flags {
        Flags {
            interval: Duration::from_secs(60),
            sobot_base_url: "https://www.sobot.com".to_string(),
            laaffic_base_url: "https://api.laaffic.com".to_string(),
            shard: Shard::default(),
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// Credential files without a disk.
    fn files(path: &Path) -> Result<String, io::Error> {
        let content = match path.to_str().unwrap_or("") {
            "/run/secrets/sobot_app_id" => "acme-from-file\n",
            "/run/secrets/sobot_app_key" => "s3cret\n",
            "testdata/secrets/sobot_app_key" => "relative-s3cret\n",
            "/run/secrets/laaffic_api_key" => "lk\n",
            "/run/secrets/laaffic_api_secret" => "ls\n",
            "/run/secrets/empty" => " \n",
            "/run/secrets/forbidden" => return Err(io::ErrorKind::PermissionDenied.into()),
            "/run/secrets/platform_union_key" => "union-s3cret\n",
            _ => return Err(io::ErrorKind::NotFound.into()),
        };
        Ok(content.to_string())
    }

    /// A file of `testdata`, named `testdata/NAME` in errors, with no environment.
    fn testdata(name: &str) -> Result<CollectionConfig, ConfigError> {
        let yaml = std::fs::read_to_string(Path::new(TESTDATA).join(name)).expect("testdata file");
        from_yaml(&yaml, Some(&Path::new("testdata").join(name)), &flags(), &no_env, &files)
    }

    /// Every bad file of `testdata` and the whole line it gives (the process prints it after
    /// `sobot_exporter: ` and exits 2). No environment; credential files as in [`files`].
    const BAD: &[(&str, &str)] = &[
        (
            "bad_platform_no_union_code.yml",
            "testdata/bad_platform_no_union_code.yml: platform.union_code: required for the platform",
        ),
        (
            "bad_platform_no_key.yml",
            "the platform needs its union key: set SOBOT_PLATFORM_UNION_KEY or \
             testdata/bad_platform_no_key.yml: platform.union_key_file",
        ),
        (
            "bad_platform_group_collector.yml",
            "testdata/bad_platform_group_collector.yml: platform.collectors: group_human_session cannot \
             run for tenants (per-group collectors need a tenant's groups; Laaffic is not a Sobot tenant's)",
        ),
        (
            "bad_platform_pattern.yml",
            "testdata/bad_platform_pattern.yml: platform.tenants.include_names: invalid regular expression: \
             found open group without closing ')'",
        ),
        (
            "bad_platform_interval.yml",
            "testdata/bad_platform_interval.yml: platform.interval: invalid duration (value not shown) (e.g. \
             5m)",
        ),
        (
            "bad_unknown_key.yml",
            "testdata/bad_unknown_key.yml: unknown key `bogus` at line 2, column 1 (known: timezone, \
             windows, collectors, groups, agents, max_agents, collector_windows, agent_score_evaluations, \
             quality, sobot, laaffic, platform)",
        ),
        (
            "bad_key_typo.yml",
            "testdata/bad_key_typo.yml: unknown key `timzone` at line 1, column 1; did you mean `timezone`?",
        ),
        (
            "bad_inline_secret.yml",
            "testdata/bad_inline_secret.yml: sobot.app_key at line 2, column 3: inline secrets are refused \
             on purpose (a config file is read by many and kept in version control): put it in a file \
             named by sobot.app_key_file, or set SOBOT_APP_KEY",
        ),
        (
            "bad_inline_laaffic_secret.yml",
            "testdata/bad_inline_laaffic_secret.yml: laaffic.api_secret at line 2, column 3: inline \
             secrets are refused on purpose (a config file is read by many and kept in version control): \
             put it in a file named by laaffic.api_secret_file, or set LAAFFIC_API_SECRET",
        ),
        (
            "bad_inline_union_key.yml",
            "testdata/bad_inline_union_key.yml: platform.union_key at line 3, column 3: inline secrets \
             are refused on purpose (a config file is read by many and kept in version control): put it \
             in a file named by platform.union_key_file, or set SOBOT_PLATFORM_UNION_KEY",
        ),
        (
            "bad_key_as_a_key.yml",
            "testdata/bad_key_as_a_key.yml: sobot: unknown key that looks like a credential (not shown) at \
             line 2, column 3: secrets are read from files or the environment only (see --help)",
        ),
        (
            "bad_yaml.yml",
            "testdata/bad_yaml.yml: windows: the `[` at line 1, column 10 is never closed: end the list with \
             `]` (entries may go on several lines, each but the last followed by a comma)",
        ),
        ("bad_type.yml", "testdata/bad_type.yml: max_agents: a whole number is needed at line 1, column 13"),
        (
            "bad_key_in_max_agents.yml",
            "testdata/bad_key_in_max_agents.yml: max_agents: a whole number is needed at line 1, column 13",
        ),
        (
            "bad_bool.yml",
            "testdata/bad_bool.yml: platform.tenants_on_metrics: `true` or `false` is needed at line 2, \
             column 23",
        ),
        (
            "bad_windows_scalar.yml",
            "testdata/bad_windows_scalar.yml: windows: a list is needed, e.g. `windows: [today]` at line 1, \
             column 10",
        ),
        (
            "bad_agents_scalar.yml",
            "testdata/bad_agents_scalar.yml: agents: a list is needed, e.g. `agents: [AGENT_ID]` at line 3, \
             column 9",
        ),
        (
            "bad_section_scalar.yml",
            "testdata/bad_section_scalar.yml: sobot: a section of `key: value` lines is needed, not a single \
             value or a list at line 1, column 8",
        ),
        (
            "bad_timeout_list.yml",
            "testdata/bad_timeout_list.yml: sobot.timeout: a single value is needed, not a list or a section \
             at line 2, column 12",
        ),
        (
            "bad_top_level_list.yml",
            "testdata/bad_top_level_list.yml: the file must hold settings as `key: value` lines, e.g. \
             `timezone: Asia/Shanghai` at line 1, column 1",
        ),
        (
            "bad_two_documents.yml",
            "testdata/bad_two_documents.yml: the file holds a second YAML document (a `---` line) at line 3, \
             column 1; a config is one document",
        ),
        (
            "bad_key_twice.yml",
            "testdata/bad_key_twice.yml: windows is set twice; keep one at line 2, column 1",
        ),
        (
            "bad_alias_bomb.yml",
            "testdata/bad_alias_bomb.yml: the file is too large or too deeply nested for a config file (too \
             many entries, aliases or levels); write it out plainly",
        ),
        (
            "bad_timezone.yml",
            "testdata/bad_timezone.yml: timezone: unknown time zone \"Mars/Olympus\"; expected an IANA name, \
             e.g. Asia/Shanghai",
        ),
        (
            "bad_timezone_city.yml",
            "testdata/bad_timezone_city.yml: timezone: unknown time zone \"Beijing\"; did you mean \
             Asia/Shanghai?",
        ),
        (
            "bad_key_in_timezone.yml",
            "testdata/bad_key_in_timezone.yml: timezone: unknown time zone (value not shown); expected an \
             IANA name, e.g. Asia/Shanghai",
        ),
        (
            "bad_key_in_app_key_file.yml",
            "testdata/bad_key_in_app_key_file.yml: sobot.app_key_file: cannot read the file named there \
             (value not shown): no such file; expected the path of a file holding the secret, e.g. \
             /run/secrets/sobot_app_key (never the secret itself)",
        ),
        (
            "bad_key_in_windows.yml",
            "testdata/bad_key_in_windows.yml: windows: unknown window (value not shown) (known: today, \
             yesterday)",
        ),
        (
            "bad_key_in_collectors.yml",
            "testdata/bad_key_in_collectors.yml: collectors: unknown collector (value not shown) (known: \
             robot_session, robot_satisfaction, human_session, human_satisfaction, customer_session, \
             message_stats, get_service_data, human_duration, group_human_session, group_human_satisfaction, \
             quality_result, chat_result, call_result, laaffic_seats)",
        ),
        (
            "bad_key_in_groups.yml",
            "testdata/bad_key_in_groups.yml: groups: entry 1 is not one id (value not shown): one id per \
             entry, without blanks, spaces or commas (the documents' ids are 32 hex digits)",
        ),
        (
            "bad_key_in_agents.yml",
            "testdata/bad_key_in_agents.yml: agents: entries 1 and 2 are the same (value not shown); list \
             each once",
        ),
        (
            "bad_key_in_duration.yml",
            "testdata/bad_key_in_duration.yml: sobot.timeout: invalid duration (value not shown) (e.g. 15s)",
        ),
        (
            "bad_key_in_quality_interval.yml",
            "testdata/bad_key_in_quality_interval.yml: quality.interval: invalid duration (value not shown) \
             (e.g. 5m)",
        ),
        (
            "bad_key_in_platform_interval.yml",
            "testdata/bad_key_in_platform_interval.yml: platform.interval: invalid duration (value not \
             shown) (e.g. 5m)",
        ),
        (
            "bad_key_in_platform_collectors.yml",
            "testdata/bad_key_in_platform_collectors.yml: platform.collectors: unknown collector (value not \
             shown) (e.g. robot_session)",
        ),
        (
            "bad_window.yml",
            "testdata/bad_window.yml: windows: unknown window \"last_week\" (known: today, yesterday)",
        ),
        ("bad_no_window.yml", "testdata/bad_no_window.yml: windows: at least one window is needed"),
        ("bad_window_twice.yml", "testdata/bad_window_twice.yml: windows: \"today\" is listed twice"),
        (
            "bad_agent_id.yml",
            "testdata/bad_agent_id.yml: agents: entry 1 is not one id (value not shown): one id per entry, \
             without blanks, spaces or commas (the documents' ids are 32 hex digits)",
        ),
        (
            "bad_group_id.yml",
            "testdata/bad_group_id.yml: groups: entry 1 is not one id (value not shown): one id per entry, \
             without blanks, spaces or commas (the documents' ids are 32 hex digits)",
        ),
        ("bad_max_agents.yml", "testdata/bad_max_agents.yml: max_agents: must be at least 1"),
        (
            "bad_collector.yml",
            "testdata/bad_collector.yml: collectors: unknown collector \"nope\" (known: robot_session, \
             robot_satisfaction, human_session, human_satisfaction, customer_session, message_stats, \
             get_service_data, human_duration, group_human_session, group_human_satisfaction, \
             quality_result, chat_result, call_result, laaffic_seats)",
        ),
        (
            "bad_group_collector_without_groups.yml",
            "testdata/bad_group_collector_without_groups.yml: collectors: group_human_session needs \
             groups to be configured",
        ),
        (
            "bad_collector_twice.yml",
            "testdata/bad_collector_twice.yml: collectors: \"robot_session\" is listed twice",
        ),
        (
            "bad_group_twice.yml",
            "testdata/bad_group_twice.yml: groups: entries 1 and 2 are the same (value not shown); list each \
             once",
        ),
        (
            "bad_agent_twice.yml",
            "testdata/bad_agent_twice.yml: agents: entries 1 and 3 are the same (value not shown); list each \
             once",
        ),
        (
            "bad_quality_and_chat.yml",
            "testdata/bad_quality_and_chat.yml: collectors: quality_result and chat_result both give \
             the chat channel's inspections; choose one",
        ),
        (
            "bad_quality_interval.yml",
            "testdata/bad_quality_interval.yml: quality.interval: invalid duration \"50ms\" (e.g. 5m)",
        ),
        ("bad_page_size.yml", "testdata/bad_page_size.yml: quality.page_size: must be between 1 and 10000"),
        ("bad_max_pages.yml", "testdata/bad_max_pages.yml: quality.max_pages: must be at least 1"),
        (
            "bad_sobot_timeout.yml",
            "testdata/bad_sobot_timeout.yml: sobot.timeout: invalid duration (value not shown) (e.g. 15s)",
        ),
        (
            "bad_sobot_connect_timeout.yml",
            "testdata/bad_sobot_connect_timeout.yml: sobot.connect_timeout: invalid duration \"0s\" \
             (e.g. 15s)",
        ),
        (
            "bad_rate_limit.yml",
            "testdata/bad_rate_limit.yml: sobot.rate_limit_per_minute: must be at least 1",
        ),
        (
            "bad_laaffic_timeout.yml",
            "testdata/bad_laaffic_timeout.yml: laaffic.timeout: invalid duration \"1.5s\" (e.g. 15s)",
        ),
        (
            "bad_missing_credentials.yml",
            "missing credentials: set SOBOT_APP_ID and SOBOT_APP_KEY (or sobot.app_id and \
             sobot.app_key_file in --config.file) for Sobot, LAAFFIC_API_KEY and LAAFFIC_API_SECRET (or \
             laaffic.api_key_file and laaffic.api_secret_file) for Laaffic, or run with --demo",
        ),
        (
            "bad_app_id_twice.yml",
            "testdata/bad_app_id_twice.yml: sobot.app_id and testdata/bad_app_id_twice.yml: \
             sobot.app_id_file are both set; use one",
        ),
        (
            "bad_key_file_missing.yml",
            "testdata/bad_key_file_missing.yml: sobot.app_key_file: cannot read /run/secrets/missing: \
             no such file",
        ),
        (
            "bad_key_file_forbidden.yml",
            "testdata/bad_key_file_forbidden.yml: sobot.app_key_file: cannot read \
             /run/secrets/forbidden: permission denied",
        ),
        (
            "bad_key_file_empty.yml",
            "testdata/bad_key_file_empty.yml: sobot.app_key_file: /run/secrets/empty is empty",
        ),
        (
            "bad_sobot_half.yml",
            "the Sobot app id is set but the Sobot app key (SOBOT_APP_KEY or sobot.app_key_file) is missing",
        ),
        ("bad_laaffic_half.yml", "the Laaffic API secret is set but the Laaffic API key is missing"),
        (
            "bad_sobot_collector_without_credentials.yml",
            "testdata/bad_sobot_collector_without_credentials.yml: collectors: robot_session needs \
             Sobot credentials",
        ),
        (
            "bad_laaffic_collector_without_credentials.yml",
            "testdata/bad_laaffic_collector_without_credentials.yml: collectors: laaffic_seats needs \
             Laaffic credentials",
        ),
        ("bad_no_collector.yml", "testdata/bad_no_collector.yml: collectors: no collector to run"),
        (
            "bad_collector_windows_unknown.yml",
            "testdata/bad_collector_windows_unknown.yml: collector_windows: unknown collector \
             \"get_servce_data\"; did you mean get_service_data?",
        ),
        (
            "bad_collector_windows_not_running.yml",
            "testdata/bad_collector_windows_not_running.yml: collector_windows: laaffic_seats is not \
             collected (not in collectors, or its vendor has no credentials): remove it here or collect it",
        ),
        (
            "bad_collector_windows_window.yml",
            "testdata/bad_collector_windows_window.yml: collector_windows.get_service_data: unknown window \
             \"last_week\" (known: today, yesterday)",
        ),
        (
            "bad_collector_windows_empty.yml",
            "testdata/bad_collector_windows_empty.yml: collector_windows.human_duration: at least one \
             window is needed",
        ),
        (
            "bad_collector_windows_scalar.yml",
            "testdata/bad_collector_windows_scalar.yml: collector_windows.get_service_data: a list is \
             needed, e.g. `get_service_data: [today]` at line 2, column 21",
        ),
        ("bad_max_seats.yml", "testdata/bad_max_seats.yml: laaffic.max_seats: must be at least 1"),
        (
            "bad_part_scores.yml",
            "testdata/bad_part_scores.yml: quality.part_scores: `true` or `false` is needed at line 2, \
             column 16",
        ),
        // The parser notices an unclosed bracket at the next key, a line late: the bracket is named.
        (
            "bad_unclosed_bracket.yml",
            "testdata/bad_unclosed_bracket.yml: windows: the `[` at line 1, column 10 is never closed: end \
             the list with `]` (entries may go on several lines, each but the last followed by a comma)",
        ),
        (
            "bad_unclosed_brace.yml",
            "testdata/bad_unclosed_brace.yml: sobot: the `{` at line 1, column 8 is never closed: end the \
             section with `}` (entries may go on several lines, each but the last followed by a comma)",
        ),
        (
            "bad_interval.yml",
            "testdata/bad_interval.yml: unknown key `interval` at line 1, column 1: the collection interval \
             is a flag, --collect.interval (e.g. --collect.interval=60s); `interval:` is a key of the \
             quality and platform sections only",
        ),
        (
            "bad_key_case.yml",
            "testdata/bad_key_case.yml: sobot: unknown key (value not shown) at line 2, column 3; did you \
             mean `timeout`?",
        ),
    ];

    /// Keys of other shapes than `KEY` in wrong fields: with dashes (no long run of letters and
    /// digits) and Laaffic's (8 letters and digits). Never quoted.
    const OTHER_KEYS: &[(&str, &str)] = &[
        (
            "bad_dashed_key_in_timezone.yml",
            "testdata/bad_dashed_key_in_timezone.yml: timezone: unknown time zone (value not shown); expected \
             an IANA name, e.g. Asia/Shanghai",
        ),
        (
            "bad_dashed_key_in_groups.yml",
            "testdata/bad_dashed_key_in_groups.yml: groups: entry 2 is not one id (value not shown): one id \
             per entry, without blanks, spaces or commas (the documents' ids are 32 hex digits)",
        ),
        (
            "bad_dashed_key_in_app_key_file.yml",
            "testdata/bad_dashed_key_in_app_key_file.yml: sobot.app_key_file: cannot read the file named \
             there (value not shown): no such file; expected the path of a file holding the secret, e.g. \
             /run/secrets/sobot_app_key (never the secret itself)",
        ),
        (
            "bad_laaffic_key_in_windows.yml",
            "testdata/bad_laaffic_key_in_windows.yml: windows: unknown window (value not shown) (known: \
             today, yesterday)",
        ),
        (
            "bad_laaffic_key_in_duration.yml",
            "testdata/bad_laaffic_key_in_duration.yml: laaffic.timeout: invalid duration (value not shown) \
             (e.g. 15s)",
        ),
        (
            "bad_laaffic_key_in_timezone.yml",
            "testdata/bad_laaffic_key_in_timezone.yml: timezone: unknown time zone (value not shown); \
             expected an IANA name, e.g. Asia/Shanghai",
        ),
        (
            "bad_laaffic_key_in_groups.yml",
            "testdata/bad_laaffic_key_in_groups.yml: groups: entries 2 and 3 are the same (value not shown); \
             list each once",
        ),
    ];

    #[test]
    fn keys_of_any_shape_in_wrong_fields_are_not_printed() {
        for (name, want) in OTHER_KEYS {
            let e = testdata(name).expect_err(name);
            assert_eq!(e.0, *want, "{name}");
            assert!(!e.0.contains("SbtKey") && !e.0.contains("bDqJFiq9"), "{name}: {e}");
        }
    }

    /// Every good file of `testdata`; [`good_files_load`] checks values of each.
    const GOOD: &[&str] =
        &["good_minimal.yml", "good_full.yml", "good_laaffic_only.yml", "good_platform.yml"];

    #[test]
    fn bad_files_give_their_error_line() {
        for (name, want) in BAD {
            let e = testdata(name).expect_err(name);
            assert_eq!(e.0, *want, "{name}");
            assert!(!e.0.contains('\n'), "{name}: {e:?} is not one line");
            assert!(!e.0.contains("SuperSecret123"), "{name}: the error quotes the file: {e}");
            assert!(!e.0.contains(KEY), "{name}: the error quotes a key: {e}");
        }
    }

    /// The app key the `bad_key_*` files put where it does not belong.
    const KEY: &str = "8748cd7faeb1401ab3d97cf45013afc4";

    #[test]
    fn library_internals_stay_out_of_errors() {
        let parse_line = |yaml: &str| parse(yaml, Some(Path::new("c.yml"))).expect_err("refused").0;
        let too_large = "c.yml: the file is too large or too deeply nested for a config file (too many \
                         entries, aliases or levels); write it out plainly";
        // More entries than the parser's budget (it said `budget breached: Nodes { nodes: 250001 }`).
        let many = format!("groups: [{}]\n", vec!["g"; 250_001].join(","));
        assert_eq!(parse_line(&many), too_large);
        // Nested past the parser's own limit (it said `recursion limit exceeded`).
        let deep = format!("windows: {}{}\n", "[".repeat(2000), "]".repeat(2000));
        assert_eq!(parse_line(&deep), too_large);
        for yaml in ["windows: [today]\n---\n", "groups: [~]\n", "windows: [today]\nwindows: [today]\n"] {
            let line = parse_line(yaml);
            for internal in ["from_str", "Option<", "Options", "DuplicateKeyPolicy", "{"] {
                assert!(!line.contains(internal), "{yaml:?}: {line}");
            }
        }
    }

    #[test]
    fn secrets_of_the_files_named_are_not_printed() {
        // A union key that does not look like one, copied into the wrong field: redacted all the same.
        let read = |p: &Path| -> Result<String, io::Error> {
            match p.to_str() {
                Some("/run/secrets/union") => Ok("Hunter/Two\n".to_string()),
                _ => files(p),
            }
        };
        let yaml = "timezone: Hunter/Two\nplatform:\n  union_code: u\n  email: e\n  union_key_file: /run/secrets/union\n";
        let e = from_yaml(yaml, Some(Path::new("c.yml")), &flags(), &no_env, &read).expect_err("bad zone");
        assert_eq!(
            e.0,
            "c.yml: timezone: unknown time zone \"<redacted>\"; expected an IANA name, e.g. Asia/Shanghai"
        );
    }

    #[test]
    fn every_testdata_file_is_in_a_table() {
        let mut seen = 0;
        for entry in std::fs::read_dir(TESTDATA).expect("testdata") {
            let name = entry.expect("entry").file_name().into_string().expect("utf8");
            assert!(
                BAD.iter().chain(OTHER_KEYS).any(|(bad, _)| *bad == name) || GOOD.contains(&name.as_str()),
                "{name} is in neither BAD, OTHER_KEYS nor GOOD"
            );
            seen += 1;
        }
        assert_eq!(seen, BAD.len() + OTHER_KEYS.len() + GOOD.len());
    }

    fn names(c: &CollectionConfig) -> Vec<String> {
        c.collectors.iter().map(CollectorKind::name).collect()
    }

    #[test]
    fn good_files_load() {
        let c = testdata("good_minimal.yml").expect("good_minimal.yml");
        assert_eq!(c.interval, Duration::from_secs(60));
        assert_eq!(c.tz.iana_name(), Some("Asia/Shanghai"));
        assert_eq!(c.windows, [Window::Today]);
        assert_eq!(
            names(&c),
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
        assert!(c.groups.is_empty() && c.agents.is_empty());
        assert_eq!(c.max_agents, 2000);
        assert_eq!(
            (c.quality_interval, c.quality_page_size, c.quality_max_pages),
            (Duration::from_secs(300), 1000, 50)
        );
        // The knobs' defaults keep the output of before they existed.
        assert!(c.collector_windows.is_empty() && c.agent_score_evaluations && c.quality_part_scores);
        assert_eq!(c.max_seats, 2000, "max_agents, which capped the seats before");
        let sobot = ClientSettings {
            base_url: "https://www.sobot.com".to_string(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            rate_limit_per_minute: 1000,
        };
        assert_eq!(c.sobot, sobot);
        assert_eq!(c.laaffic.rate_limit_per_minute, 600);
        assert_eq!(
            c.credentials,
            Some(Credentials { app_id: "acme".to_string(), app_key: Secret::new("s3cret") })
        );
        assert!(c.laaffic_credentials.is_none());

        let c = testdata("good_full.yml").expect("good_full.yml");
        assert_eq!(c.tz.iana_name(), Some("UTC"));
        assert_eq!(c.windows, [Window::Yesterday, Window::Today]);
        assert_eq!(names(&c), ["human_session", "group_human_session", "chat_result", "laaffic_seats"]);
        assert_eq!(
            (&c.groups[..], &c.agents[..]),
            (&["g1".to_string(), "g2".to_string()][..], &["a1".to_string()][..])
        );
        assert_eq!(c.max_agents, 10);
        assert_eq!(
            (c.quality_interval, c.quality_page_size, c.quality_max_pages),
            (Duration::from_secs(90), 200, 3)
        );
        assert_eq!((c.agent_score_evaluations, c.quality_part_scores, c.max_seats), (false, false, 3000));
        let windows_of = |name: &str| {
            let kind = CollectorKind::all().into_iter().find(|k| k.name() == name).expect("a collector");
            c.windows_of(&kind)
        };
        assert_eq!(windows_of("chat_result"), [Window::Today]);
        assert_eq!(windows_of("laaffic_seats"), [Window::Today, Window::Yesterday]);
        assert_eq!(windows_of("human_session"), [Window::Yesterday, Window::Today], "the default");
        let sobot = ClientSettings {
            timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(2),
            rate_limit_per_minute: 500,
            ..sobot
        };
        assert_eq!(c.sobot, sobot);
        assert_eq!(
            c.laaffic,
            ClientSettings {
                base_url: "https://api.laaffic.com".to_string(),
                connect_timeout: Duration::from_millis(500),
                timeout: Duration::from_secs(30),
                rate_limit_per_minute: 600,
            }
        );
        // The relative key file is read next to the config file, not from the working directory.
        assert_eq!(
            c.credentials,
            Some(Credentials {
                app_id: "acme-from-file".to_string(),
                app_key: Secret::new("relative-s3cret")
            })
        );
        assert_eq!(
            c.laaffic_credentials,
            Some(LaafficCredentials { api_key: Secret::new("lk"), api_secret: Secret::new("ls") })
        );

        let c = testdata("good_platform.yml").expect("good_platform.yml");
        assert!(c.credentials.is_none() && c.laaffic_credentials.is_none());
        assert!(c.collectors.is_empty(), "no company: only the platform's tenants");
        let p = c.platform.expect("platform");
        assert_eq!((p.union_code.as_str(), p.email.as_str()), ("10004", "admin@platform.example"));
        assert_eq!(p.union_key.expose(), "union-s3cret");
        assert_eq!(p.interval, Duration::from_secs(120));
        let tenant_collectors: Vec<String> = p.collectors.iter().map(CollectorKind::name).collect();
        assert_eq!(tenant_collectors, ["robot_session", "human_session", "get_service_data", "call_result"]);
        assert!(!p.tenants_on_metrics);
        assert!(p.tenants.allows("1", "测试一号") && p.tenants.allows("2", "Shop 9"));
        assert!(!p.tenants.allows("be7f05de11a54390c3f3ec35e6010b", "测试二号"), "excluded by id");
        assert!(!p.tenants.allows("3", "Another shop"), "not included");
        assert!(!p.tenants.allows("4", "x测试一号"), "anchored");
        assert_eq!(p.shard, Shard::default());

        let c = testdata("good_laaffic_only.yml").expect("good_laaffic_only.yml");
        assert!(c.credentials.is_none());
        assert_eq!(names(&c), ["laaffic_seats"]);
    }

    #[test]
    fn configs_compare_by_value() {
        let full = testdata("good_full.yml").expect("valid");
        assert_eq!(full, testdata("good_full.yml").expect("valid"));
        assert_ne!(full, testdata("good_minimal.yml").expect("valid"));
        let fewer = CollectionConfig { collectors: full.collectors[1..].to_vec(), ..full.clone() };
        assert_ne!(full, fewer);
        assert_eq!(CollectorKind::LaafficSeats, CollectorKind::all()[CollectorKind::all().len() - 1]);
        assert_ne!(CollectorKind::all()[0], CollectorKind::all()[1]);
    }

    fn env_with_credentials(key: &str) -> Option<String> {
        match key {
            ENV_APP_ID => Some("app".to_string()),
            ENV_APP_KEY => Some("key".to_string()),
            _ => None,
        }
    }

    #[test]
    fn an_empty_file_is_no_file() {
        let none = from_yaml("", None, &flags(), &env_with_credentials, &files).expect("valid");
        let empty =
            from_yaml("# nothing\n\n", Some(Path::new("empty.yml")), &flags(), &env_with_credentials, &files);
        assert_eq!(empty.expect("valid"), none);
    }

    #[test]
    fn only_collectors_with_credentials_run() {
        let laaffic_only = |k: &str| match k {
            ENV_LAAFFIC_KEY => Some("k".to_string()),
            ENV_LAAFFIC_SECRET => Some("s".to_string()),
            _ => None,
        };
        let c = from_yaml("", None, &flags(), &laaffic_only, &files).expect("Laaffic alone is enough");
        assert!(c.credentials.is_none());
        assert_eq!(names(&c), ["laaffic_seats"]);
        assert_eq!(c.laaffic_credentials.expect("laaffic").api_secret.expose(), "s");
        let yaml = |text: &str| from_yaml(text, Some(Path::new("c.yml")), &flags(), &laaffic_only, &files);
        let e = yaml("collectors: [robot_session]\n").expect_err("a listed collector without credentials");
        assert!(e.0.contains("robot_session needs Sobot credentials"), "{e}");
        let e = yaml("collectors: []\n").expect_err("nothing");
        assert!(e.0.contains("no collector to run"), "{e}");
    }

    #[test]
    fn credentials_from_files() {
        let yaml = std::fs::read_to_string(Path::new(TESTDATA).join("good_minimal.yml")).expect("testdata");
        let path = Some(Path::new("files.yml"));
        let c = from_yaml(&yaml, path, &flags(), &no_env, &files).expect("valid");
        let creds = c.credentials.expect("credentials");
        assert_eq!(creds.app_key.expose(), "s3cret");
        assert_eq!(creds.app_id, "acme");
        let e = from_yaml(&yaml, path, &flags(), &env_with_credentials, &files).expect_err("given twice");
        assert_eq!(e.0, "files.yml: sobot.app_id and SOBOT_APP_ID are both set; use one");
        let key_file = "sobot:\n  app_key_file: /run/secrets/sobot_app_key\n";
        let e = from_yaml(key_file, path, &flags(), &env_with_credentials, &files).expect_err("given twice");
        assert_eq!(e.0, "SOBOT_APP_KEY and files.yml: sobot.app_key_file are both set; use one");
    }
}
