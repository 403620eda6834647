//! The sources: one folder a vendor, each with its client and signing, its field tables, its
//! pure decoders, its config section and its collectors; and the registry of them, `SOURCES`,
//! which the collector kinds, the default collector list, the config file's keys and the secret
//! variables are read from.

mod hint;
pub mod laaffic;
pub mod platform;
pub mod sobot;

pub(crate) use hint::{Origins, hint};

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
    /// Laaffic seats.
    LaafficSeats,
}

/// A source as the rest of the exporter sees it: one entry of [`SOURCES`].
#[derive(Debug)]
pub(crate) struct Source {
    /// The top-level keys of the config file it owns (its sections).
    pub(crate) sections: &'static [&'static str],
    /// The keys inside its sections, at any depth (named in error lines).
    pub(crate) keys: &'static [&'static str],
    /// The environment variables that hold its secrets: never printed.
    pub(crate) secret_env: &'static [&'static str],
    /// The collectors the config can name, in a stable order.
    pub(crate) collectors: fn() -> Vec<CollectorKind>,
}

/// The registry: every source, in the order their collectors are listed.
pub(crate) const SOURCES: [&Source; 3] = [&sobot::SOURCE, &laaffic::SOURCE, &platform::SOURCE];

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
            CollectorKind::LaafficSeats => "laaffic_seats".to_string(),
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
            CollectorKind::Stats(_) | CollectorKind::LaafficSeats => true,
        }
    }
}

/// The names of the collectors that run by default, in their stable order: with or without skill
/// groups configured, with or without Laaffic's credentials (Sobot's are assumed).
pub fn default_collectors(groups: bool, laaffic: bool) -> Vec<String> {
    CollectorKind::all()
        .iter()
        .filter(|k| k.by_default(groups) && (laaffic || !matches!(k, CollectorKind::LaafficSeats)))
        .map(CollectorKind::name)
        .collect()
}

impl PartialEq for CollectorKind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for CollectorKind {}
