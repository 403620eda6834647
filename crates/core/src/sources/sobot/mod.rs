//! The Sobot (智齿) API: the token client and its signing, the statistics endpoint table and its
//! collectors, quality inspection, and the `sobot:` and `quality:` sections of the config.

pub mod client;
pub mod config;
pub mod endpoints;
pub mod quality;
mod reference;
pub mod stats;

use super::{CollectorKind, Source};
use endpoints::{ENDPOINTS, Rows};
use quality::QUALITY_SOURCES;

/// The source's entry in the registry.
pub(crate) const SOURCE: Source = Source {
    name: "sobot",
    vendor: "Sobot",
    sections: &["quality", "sobot"],
    keys: &[
        "app_id",
        "app_id_file",
        "app_key_file",
        "timeout",
        "connect_timeout",
        "rate_limit_per_minute",
        "interval",
        "page_size",
        "max_pages",
        "part_scores",
    ],
    secret_env: &[config::ENV_APP_KEY],
    collectors: || {
        let mut all: Vec<CollectorKind> = ENDPOINTS.iter().map(CollectorKind::Stats).collect();
        all.extend(ENDPOINTS.iter().filter(|e| e.filters && e.rows == Rows::Item).map(CollectorKind::Group));
        all.extend(QUALITY_SOURCES.iter().map(CollectorKind::Quality));
        all
    },
    reference: reference::reference,
    // Structural: the general config reads its sections, the targets build its jobs around the
    // shared token client.
    configure: None,
    jobs: None,
};
