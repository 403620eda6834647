//! The sources: one folder a vendor, each with its client and signing, its field tables, its
//! pure decoders, its config section and its collectors; and the registry of them, `SOURCES`,
//! which the collector kinds, the default collector list, the config file's keys, the secret
//! variables, the metrics reference and the jobs of a target are read from.
//!
//! Sobot and the platform are structural: the targets are built around Sobot's token client
//! (shared by every target with the same credentials) and the platform's tenants (each a target).
//! Every other source (Laaffic's, and the tests' `example`) runs through the registry alone: its
//! `Source::configure` reads its section of the config file, its `Source::jobs` makes its
//! collectors for the configured company.

#[cfg(test)]
pub(crate) mod example;
mod hint;
pub mod laaffic;
pub mod platform;
mod registry;
pub mod sobot;

pub(crate) use hint::{Origins, hint};
pub(crate) use registry::{AnySettings, Collection, JobInput, SectionInput, SourceConfig};
pub use registry::{Sections, SourceCollector};

use crate::collect::Scheduled;
use crate::input::ConfigError;
use crate::sources::sobot::endpoints::Endpoint;
use crate::sources::sobot::quality::QualitySource;

/// A collector the config can name. Two are equal when their names are.
#[derive(Debug, Clone, Copy)]
pub enum CollectorKind {
    /// Company-wide (`item`) or per-agent (`items`) statistics of a table endpoint.
    Stats(&'static Endpoint),
    /// Per-group statistics of a table endpoint that takes `groupids` (`group_<endpoint>`).
    Group(&'static Endpoint),
    /// Quality-inspection results.
    Quality(&'static QualitySource),
    /// A collector of a source that runs through the registry alone (Laaffic's seats).
    Source(&'static SourceCollector),
}

/// A source as the rest of the exporter sees it: one entry of [`SOURCES`].
#[derive(Debug)]
pub(crate) struct Source {
    /// Its name: the key of its settings in [`Sections`].
    pub(crate) name: &'static str,
    /// What error lines call it ("Laaffic credentials").
    pub(crate) vendor: &'static str,
    /// The top-level keys of the config file it owns (its sections).
    pub(crate) sections: &'static [&'static str],
    /// The keys inside its sections, at any depth (named in error lines).
    pub(crate) keys: &'static [&'static str],
    /// The environment variables that hold its secrets: never printed.
    pub(crate) secret_env: &'static [&'static str],
    /// The collectors the config can name, in a stable order.
    pub(crate) collectors: fn() -> Vec<CollectorKind>,
    /// Its part of the metrics reference (docs/metrics.md), in Markdown.
    pub(crate) reference: fn(&mut String),
    /// Its settings from its sections of the config file: `Ok(None)` when it is not configured
    /// (no credentials). `None` for the sources whose sections the general config reads.
    pub(crate) configure: Option<Configure>,
    /// Its collectors for the configured company, when its settings are in the config. `None` for
    /// Sobot and the platform, whose jobs the targets build.
    pub(crate) jobs: Option<fn(&JobInput<'_>) -> Vec<Scheduled>>,
}

/// Reads a source's settings from its sections: `Ok(None)` when it is not configured.
pub(crate) type Configure = fn(&SectionInput<'_>) -> Result<Option<Box<dyn AnySettings>>, ConfigError>;

/// The registry: every source, in the order their collectors are listed. Tests add a source of
/// their own (`example`), which shows that a source needs nothing outside its folder but this
/// line.
#[cfg(not(test))]
pub(crate) const SOURCES: [&Source; 3] = [&sobot::SOURCE, &laaffic::SOURCE, &platform::SOURCE];
/// The registry: every source, in the order their collectors are listed. Tests add a source of
/// their own (`example`), which shows that a source needs nothing outside its folder but this
/// line.
#[cfg(test)]
pub(crate) const SOURCES: [&Source; 4] =
    [&sobot::SOURCE, &laaffic::SOURCE, &platform::SOURCE, &example::SOURCE];

/// The source named `name`.
pub(crate) fn source(name: &str) -> Option<&'static Source> {
    SOURCES.into_iter().find(|s| s.name == name)
}

/// The environment variables that hold secrets, of every source: their values are never printed
/// in an error line.
pub(crate) fn secret_env() -> impl Iterator<Item = &'static str> {
    SOURCES.into_iter().flat_map(|s| s.secret_env.iter().copied())
}

/// The values `env` holds for the secret variables of every source: what an error line must not
/// print.
pub(crate) fn env_secrets(env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    secret_env().filter_map(env).collect()
}

/// Whether `key` is a key of some source's config section (a section's own name included).
pub(crate) fn is_section_key(key: &str) -> bool {
    SOURCES.iter().any(|s| s.sections.contains(&key) || s.keys.contains(&key))
}

impl CollectorKind {
    /// Every collector, in a stable order: each source's, in the registry's order.
    pub fn all() -> Vec<CollectorKind> {
        SOURCES.into_iter().flat_map(|s| (s.collectors)()).collect()
    }

    /// The name used in the config and the `collector` label.
    pub fn name(&self) -> String {
        match self {
            CollectorKind::Stats(e) => e.name.to_string(),
            CollectorKind::Group(e) => format!("group_{}", e.name),
            CollectorKind::Quality(q) => q.name.to_string(),
            CollectorKind::Source(c) => c.name.to_string(),
        }
    }
}

impl CollectorKind {
    /// Whether it runs when the config names no collectors: every one but `chat_result` (the chat
    /// channel a second time, as `quality_result` gives it), the per-group ones only when
    /// `groups` are configured. Those of a vendor without credentials are left out later.
    pub(crate) fn by_default(&self, groups: bool) -> bool {
        match self {
            CollectorKind::Group(_) => groups,
            CollectorKind::Quality(q) => q.name != "chat_result",
            CollectorKind::Stats(_) | CollectorKind::Source(_) => true,
        }
    }
}

/// The names of the collectors that run by default, in their stable order: with or without skill
/// groups configured, with or without the credentials of the sources beyond Sobot (Laaffic's;
/// Sobot's are assumed).
pub fn default_collectors(groups: bool, others: bool) -> Vec<String> {
    CollectorKind::all()
        .iter()
        .filter(|k| k.by_default(groups) && (others || !matches!(k, CollectorKind::Source(_))))
        .map(CollectorKind::name)
        .collect()
}

impl PartialEq for CollectorKind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for CollectorKind {}
