//! The Laaffic call center: the seat query client, the seats' collector and the `laaffic:`
//! section of the config. It runs through the registry alone: its settings, its jobs and its part
//! of the metrics reference come from its `SOURCE`.

pub mod client;
pub mod config;
pub mod seats;

use std::fmt::Write;
use std::sync::Arc;

use super::{CollectorKind, JobInput, Source, SourceCollector};
use crate::collect::Scheduled;
use client::LaafficClient;
use config::LaafficConfig;
use seats::{SEAT_FIELDS, SEAT_LIVE_METRICS, SeatCollector};

/// The seats' collector.
pub(crate) static SEATS: SourceCollector = SourceCollector { name: "laaffic_seats", source: "laaffic" };

/// The source's entry in the registry.
pub(crate) const SOURCE: Source = Source {
    name: "laaffic",
    vendor: "Laaffic",
    sections: &["laaffic"],
    keys: &["api_key_file", "api_secret_file", "timeout", "connect_timeout", "max_seats"],
    secret_env: &[config::ENV_LAAFFIC_KEY, config::ENV_LAAFFIC_SECRET],
    collectors: || vec![CollectorKind::Source(&SEATS)],
    reference,
    configure: Some(config::configure),
    jobs: Some(jobs),
};

/// The seats' collector, when the config runs it.
fn jobs(input: &JobInput<'_>) -> Vec<Scheduled> {
    let Some(config) = input.collection.sections().of::<LaafficConfig>(SOURCE.name) else {
        return Vec::new();
    };
    if !input.runs(&SEATS) {
        return Vec::new();
    }
    let collection = input.collection;
    let client = Arc::new(LaafficClient::new(
        &config.client,
        input.http.clone(),
        config.credentials.clone(),
        input.telemetry.clone(),
    ));
    let collector = SeatCollector::new(
        client,
        collection.windows_of(&CollectorKind::Source(&SEATS)),
        collection.tz().clone(),
        collection.interval(),
        config.max_seats,
        input.telemetry.clone(),
    )
    .clocked(input.clock.clone());
    vec![Scheduled {
        job: Arc::new(collector),
        interval: collection.interval(),
        timeout: config.client.timeout,
    }]
}

/// The seats' part of the metrics reference.
fn reference(out: &mut String) {
    out.push_str(
        "\n#### `laaffic_seats` — Laaffic seat query (`POST /v3/cc/seat/query`, `strTime`/`endTime` \
         `yyyy-MM-dd HH:mm:ss`)\n\n| Metric | Labels | Unit | Upstream field | 中文 | Meaning |\n|---|---|---|---|---|---|\n",
    );
    for f in SEAT_FIELDS {
        let _ = writeln!(
            out,
            "| `{}` | seat, group, window | {} | `{}` | {} | {} |",
            f.metric,
            f.unit.describe(),
            f.key,
            f.zh,
            f.en
        );
    }
    for (name, labels, meaning) in SEAT_LIVE_METRICS {
        let _ = writeln!(out, "| `{name}` | {labels} | — | — | — | {meaning} |");
    }
}
