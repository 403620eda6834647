//! The sources: one folder a vendor, each with its client and signing, its field tables, its
//! pure decoders, its config section and its collectors.

mod hint;
pub mod laaffic;
pub mod platform;
pub mod sobot;

pub(crate) use hint::{Origins, hint};

use crate::sources::sobot::endpoints::{ENDPOINTS, Endpoint, Rows};
use crate::sources::sobot::quality::{QUALITY_SOURCES, QualitySource};

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

/// The environment variables that hold secrets: their values are never printed in an error line.
pub(crate) const SECRET_ENV: [&str; 4] = [
    sobot::config::ENV_APP_KEY,
    laaffic::config::ENV_LAAFFIC_KEY,
    laaffic::config::ENV_LAAFFIC_SECRET,
    platform::config::ENV_UNION_KEY,
];
