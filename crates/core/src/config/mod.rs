//! The collection config: what to collect and how to reach the vendors, built from the YAML file
//! by a pure function. The environment and credential files come in as lookups, so that the same
//! text and lookups always give the same config (or the same error line).

mod messages;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;
use serde::Deserialize;

pub use crate::input::ConfigError;
pub(crate) use crate::input::{Env, ReadFile};
use crate::input::{duration, err, interval, no_repeats};
use crate::secret::{NOT_SHOWN, Shape, looks_like_credential, redact, shown};
use crate::shard::Shard;
pub use crate::sources::CollectorKind;
pub use crate::sources::Sections;
use crate::sources::laaffic::config::{ENV_LAAFFIC_KEY, ENV_LAAFFIC_SECRET};
pub(crate) use crate::sources::platform::config::PlatformConfig;
use crate::sources::platform::config::{ENV_UNION_KEY, PlatformSection, platform};
use crate::sources::sobot::client::Credentials;
use crate::sources::sobot::config::{
    ENV_APP_ID, ENV_APP_KEY, QualitySection, SobotSection, sobot_credentials,
};
use crate::sources::{Collection, Origins, SOURCES, SectionInput};
use crate::upstream::ClientSettings;
use crate::window::Window;

/// The demo (`--demo`): the collection config it makes of the file's text, with the simulator's
/// addresses and credentials (the simulator crate's `demo::Demo`).
pub trait Demo {
    /// The collection config of the demo, from the file's text (empty without a file).
    fn collection(
        &self,
        yaml: &str,
        path: Option<&Path>,
        flags: &Flags,
        read: &ReadFile<'_>,
    ) -> Result<CollectionConfig, ConfigError>;
}

/// The YAML file as written. Unknown keys are errors: those of no field here and of no source's
/// sections (each source that runs through the registry alone reads its own, see
/// `SectionInput`).
#[derive(Debug, Default, Deserialize)]
pub struct FileConfig {
    /// IANA time zone of the statistics day; default `Asia/Shanghai`.
    pub(crate) timezone: Option<String>,
    /// Windows to collect: `today`, `yesterday`; default `[today]`.
    pub windows: Option<Vec<String>>,
    /// Collectors to run; default all but `chat_result` (and the per-group ones without groups).
    pub(crate) collectors: Option<Vec<String>>,
    /// Skill group ids: per-group statistics, and the agent filter when no agents are given.
    pub groups: Option<Vec<String>>,
    /// Agent (service) ids to collect per-agent statistics for; default all agents.
    pub(crate) agents: Option<Vec<String>>,
    /// Cardinality guard: distinct agents per collector at most; default 2000.
    pub(crate) max_agents: Option<usize>,
    /// Windows of single collectors, by name, instead of `windows`.
    pub(crate) collector_windows: Option<BTreeMap<String, Vec<String>>>,
    /// Whether `sobot_agent_score_evaluations` is exported; default true.
    pub(crate) agent_score_evaluations: Option<bool>,
    /// Quality-inspection collectors.
    #[serde(default)]
    pub quality: QualitySection,
    /// The Sobot API section.
    #[serde(default)]
    pub sobot: SobotSection,
    /// The e-commerce platform (multi-tenant) section.
    pub platform: Option<PlatformSection>,
    /// Every other top-level key: a registered source's section, or an error.
    #[serde(flatten)]
    other: BTreeMap<String, serde::de::IgnoredAny>,
}

/// The flag values the collection config takes, already validated.
#[derive(Debug, Clone)]
pub struct Flags {
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
    /// The e-commerce platform whose tenants are collected too, if configured.
    pub platform: Option<PlatformConfig>,
    /// The settings of the configured sources beyond Sobot and the platform (Laaffic's, when its
    /// credentials are configured), by source name.
    pub sections: Sections,
    /// Where the credentials came from, for the hints of failures.
    pub origins: Origins,
}

impl CollectionConfig {
    /// The windows `kind` collects: its own from `collector_windows`, else `windows`.
    pub(crate) fn windows_of(&self, kind: &CollectorKind) -> Vec<Window> {
        self.collector_windows.get(&kind.name()).unwrap_or(&self.windows).clone()
    }

    /// One line saying what this config collects, for `--config.check` (no secrets).
    pub(crate) fn summary(&self) -> String {
        let mut parts = Vec::new();
        // A platform alone runs no collector of the company's: its tenants' are counted below.
        if !self.collectors.is_empty() || self.platform.is_none() {
            parts.push(format!("{} collectors every {}", self.collectors.len(), humantime(self.interval)));
        }
        if let Some(c) = &self.credentials {
            parts.push(format!("Sobot app id {}", c.app_id));
        }
        for (name, _) in self.sections.iter() {
            parts.push(crate::sources::source(name).map_or(name, |s| s.vendor).to_string());
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

impl Collection for CollectionConfig {
    fn tz(&self) -> &TimeZone {
        &self.tz
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn collectors(&self) -> &[CollectorKind] {
        &self.collectors
    }

    fn windows_of(&self, kind: &CollectorKind) -> Vec<Window> {
        CollectionConfig::windows_of(self, kind)
    }

    fn sections(&self) -> &Sections {
        &self.sections
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
    let env_secrets = crate::sources::env_secrets(env);
    let file = parse(yaml, path).map_err(|e| err(redact(&e.0, &env_secrets)))?;
    let named: Vec<PathBuf> = [
        &file.sobot.app_id_file,
        &file.sobot.app_key_file,
        &file.platform.as_ref().and_then(|p| p.union_key_file.clone()),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    // Every file the build reads (the sources' credential files among them) is kept, so that its
    // text is taken out of an error line whatever field it ended up in.
    let read_texts = std::cell::RefCell::new(Vec::new());
    let recording = |file: &Path| {
        let text = read(file)?;
        read_texts.borrow_mut().push(text.trim().to_string());
        Ok(text)
    };
    build_with(file, yaml, path, flags, env, &recording).map_err(|e| {
        // Whatever field a secret ended up in, the secrets of the files named are not printed.
        let mut secrets: Vec<String> = named
            .iter()
            .filter_map(|f| read_next_to(read, path, f).ok())
            .map(|s| s.trim().to_string())
            .collect();
        secrets.extend(read_texts.take());
        let secrets: Vec<&String> = secrets.iter().chain(&env_secrets).collect();
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
pub fn parse(yaml: &str, path: Option<&Path>) -> Result<FileConfig, ConfigError> {
    crate::input::parse_yaml(yaml, path, messages::yaml_error)
}

/// Validates a parsed file into the collection config; see `from_yaml`. The sources that read
/// their own sections find none (the demo's path: its file is parsed and amended first).
pub fn build(
    file: FileConfig,
    path: Option<&Path>,
    flags: &Flags,
    env: &Env<'_>,
    read: &ReadFile<'_>,
) -> Result<CollectionConfig, ConfigError> {
    build_with(file, "", path, flags, env, read)
}

/// `build`, the registered sources reading their sections from `yaml`, the file's text.
fn build_with(
    file: FileConfig,
    yaml: &str,
    path: Option<&Path>,
    flags: &Flags,
    env: &Env<'_>,
    read: &ReadFile<'_>,
) -> Result<CollectionConfig, ConfigError> {
    let at = |key: &str| match path {
        Some(path) => format!("{}: {key}", path.display()),
        None => key.to_string(),
    };
    if let Some(key) = file
        .other
        .keys()
        .find(|k| !SOURCES.iter().any(|s| s.configure.is_some() && s.sections.contains(&k.as_str())))
    {
        let line = messages::unknown_top_level_key(key, yaml);
        return Err(err(match path {
            Some(path) => format!("{}: {line}", path.display()),
            None => line,
        }));
    }

    let tz_name = file.timezone.as_deref().unwrap_or("Asia/Shanghai");
    let tz = TimeZone::get(tz_name).map_err(|_| {
        let suggestion = messages::suggest_zone(tz_name);
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

    let all = CollectorKind::all();
    let collectors: Vec<CollectorKind> = match &file.collectors {
        None => all.into_iter().filter(|k| k.by_default(!groups.is_empty())).collect(),
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

    let relative_to_config = |file: &Path| read_next_to(read, path, file);
    let read: &ReadFile<'_> = &relative_to_config;
    let credentials = sobot_credentials(s, env, read, &at)?;
    let mut sections = Sections::default();
    // A source whose base URL is a flag gets it (Laaffic's `--laaffic.base-url`).
    let base_url = |source: &str| (source == "laaffic").then(|| flags.laaffic_base_url.clone());
    let input = SectionInput {
        yaml,
        path,
        at: &at,
        env,
        read,
        yaml_error: messages::yaml_error,
        base_url: &base_url,
        max_agents,
    };
    for source in SOURCES {
        if let Some(configure) = source.configure
            && let Some(config) = configure(&input)?
        {
            sections.insert(source.name, config);
        }
    }
    let platform = match &file.platform {
        Some(p) => Some(platform(p, flags.shard, env, read, &at)?),
        None => None,
    };
    if credentials.is_none() && sections.is_empty() && platform.is_none() {
        return Err(err(format!(
            "missing credentials: set {ENV_APP_ID} and {ENV_APP_KEY} (or sobot.app_id and \
             sobot.app_key_file in --config.file) for Sobot, {ENV_LAAFFIC_KEY} and {ENV_LAAFFIC_SECRET} \
             (or laaffic.api_key_file and laaffic.api_secret_file) for Laaffic, or run with --demo"
        )));
    }
    // Only collectors whose vendor has credentials run: a listed one without them is an error,
    // an unlisted default is left out; no collector at all is an error.
    let has_credentials = |k: &CollectorKind| match k {
        CollectorKind::Source(c) => sections.contains(c.source),
        _ => credentials.is_some(),
    };
    if file.collectors.is_some()
        && let Some(k) = collectors.iter().find(|k| !has_credentials(k))
    {
        let vendor = match k {
            CollectorKind::Source(c) => crate::sources::source(c.source).map_or(c.source, |s| s.vendor),
            _ => "Sobot",
        };
        return Err(err(format!("{}: {} needs {vendor} credentials", at("collectors"), k.name())));
    }
    let collectors: Vec<CollectorKind> = collectors.into_iter().filter(|k| has_credentials(k)).collect();
    if collectors.is_empty() && platform.is_none() {
        return Err(err(format!("{}: no collector to run", at("collectors"))));
    }

    let collector_windows = collector_windows(&file, &collectors, platform.as_ref(), &at)?;

    let configured = (credentials.is_some(), sections.contains("laaffic"), platform.is_some());
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
        quality_interval,
        quality_page_size,
        quality_max_pages,
        sobot,
        credentials,
        platform,
        sections,
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
            let hint = match messages::closest(name, &known) {
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
