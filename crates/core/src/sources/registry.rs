//! What a source that runs through the registry alone is given and gives back: its settings read
//! from the config file ([`SectionInput`] → [`SourceConfig`], kept in [`Sections`]) and its jobs
//! ([`JobInput`] → [`Scheduled`](crate::collect::Scheduled)). The collection config implements
//! [`Collection`], so that a source reads the general settings without depending on the config.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;

use super::CollectorKind;
use crate::input::{Env, ReadFile};
use crate::telemetry::Telemetry;
use crate::upstream::ClientSettings;
use crate::window::Window;

/// A collector of a source beyond the structural ones: its name and its source's.
#[derive(Debug)]
pub struct SourceCollector {
    /// The name used in the config and the `collector` label.
    pub(crate) name: &'static str,
    /// The source it belongs to ([`Source::name`](super::Source)).
    pub(crate) source: &'static str,
}

/// The validated settings of one source, of the source's own type.
pub(crate) trait SourceConfig: Debug + PartialEq + Send + Sync + 'static {
    /// How to reach it: the process keeps one HTTP client (connection pool) per source.
    fn client(&self) -> &ClientSettings;
}

/// A source's settings as [`Sections`] keep them, whatever their type.
pub(crate) trait AnySettings: Debug + Send + Sync {
    /// How to reach the source.
    fn client(&self) -> &ClientSettings;
    /// Itself, to be read back as its own type.
    fn as_any(&self) -> &dyn Any;
    /// Whether `other` holds the same settings (a reload that changed none keeps the targets).
    fn same(&self, other: &dyn AnySettings) -> bool;
}

impl<T: SourceConfig> AnySettings for T {
    fn client(&self) -> &ClientSettings {
        SourceConfig::client(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn same(&self, other: &dyn AnySettings) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
}

/// The settings of the configured sources beyond Sobot and the platform, by source name.
#[derive(Debug, Clone, Default)]
pub struct Sections(BTreeMap<&'static str, Arc<dyn AnySettings>>);

impl Sections {
    /// Adds the settings of `source`.
    pub(crate) fn insert(&mut self, source: &'static str, config: Box<dyn AnySettings>) {
        self.0.insert(source, Arc::from(config));
    }

    /// The settings of `source`, if it is configured.
    pub(crate) fn get(&self, source: &str) -> Option<&dyn AnySettings> {
        self.0.get(source).map(|c| &**c)
    }

    /// The settings of `source` as its own type.
    pub fn of<T: 'static>(&self, source: &str) -> Option<&T> {
        self.get(source).and_then(|c| c.as_any().downcast_ref())
    }

    /// Whether `source` is configured.
    pub(crate) fn contains(&self, source: &str) -> bool {
        self.0.contains_key(source)
    }

    /// The configured sources and their settings, by name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, &dyn AnySettings)> {
        self.0.iter().map(|(name, c)| (*name, &**c))
    }

    /// Whether no source is configured.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for Sections {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self.0.iter().zip(&other.0).all(|((a, x), (b, y))| a == b && x.same(&**y))
    }
}

impl Eq for Sections {}

/// What a source's `configure` reads: the file's text (a source parses its own sections from it,
/// ignoring the other keys), the environment and files for its credentials.
pub(crate) struct SectionInput<'a> {
    /// The YAML text of the config file (empty without a file).
    pub(crate) yaml: &'a str,
    /// The file's path, for error lines.
    pub(crate) path: Option<&'a Path>,
    /// A key's place in error lines: `FILE: key`.
    pub(crate) at: &'a dyn Fn(&str) -> String,
    /// The environment.
    pub(crate) env: &'a Env<'a>,
    /// Reads a file named in the config (relative to the config file).
    pub(crate) read: &'a ReadFile<'a>,
    /// One line for a YAML error of the file, in the config's own terms.
    pub(crate) yaml_error: fn(&serde_saphyr::Error, &str) -> String,
    /// The base URL a flag gives the source named (`--laaffic.base-url`), if one does.
    pub(crate) base_url: &'a dyn Fn(&str) -> Option<String>,
    /// The general cap of agents (`max_agents`), for a source whose own cap defaults to it.
    pub(crate) max_agents: usize,
}

impl SectionInput<'_> {
    /// The source's sections, parsed from the file as `T` (a struct of them whose other keys are
    /// ignored); an error is one line naming the key and place.
    pub(crate) fn parse<T: serde::de::DeserializeOwned + Default>(
        &self,
    ) -> Result<T, crate::input::ConfigError> {
        crate::input::parse_yaml(self.yaml, self.path, self.yaml_error)
    }
}

/// The general settings of the collection a source's collectors read.
pub(crate) trait Collection: Send + Sync {
    /// The time zone of the statistics day.
    fn tz(&self) -> &TimeZone;
    /// The interval between cycles.
    fn interval(&self) -> Duration;
    /// The collectors the config runs.
    fn collectors(&self) -> &[CollectorKind];
    /// The windows `kind` collects.
    fn windows_of(&self, kind: &CollectorKind) -> Vec<Window>;
    /// The settings of the sources beyond Sobot and the platform.
    fn sections(&self) -> &Sections;
}

/// What a source's `jobs` is given to make its collectors for the configured company.
pub(crate) struct JobInput<'a> {
    /// The general settings and every source's.
    pub(crate) collection: &'a dyn Collection,
    /// The source's HTTP client (its connection pool, shared by the process).
    pub(crate) http: reqwest::Client,
    /// The target's self-metrics.
    pub(crate) telemetry: &'a Arc<Telemetry>,
    /// What "now" is: the system's time, or the moment the backfill sets.
    pub(crate) clock: crate::window::Clock,
}

impl JobInput<'_> {
    /// Whether the config runs `collector`.
    pub(crate) fn runs(&self, collector: &'static SourceCollector) -> bool {
        self.collection.collectors().iter().any(|k| k.name() == collector.name)
    }
}
