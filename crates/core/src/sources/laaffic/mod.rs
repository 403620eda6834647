//! The Laaffic call center: the seat query client, the seats' collector and the `laaffic:`
//! section of the config.

pub mod client;
pub mod config;
pub mod seats;

use super::{CollectorKind, Source};

/// The source's entry in the registry.
pub(crate) const SOURCE: Source = Source {
    sections: &["laaffic"],
    keys: &["api_key_file", "api_secret_file", "timeout", "connect_timeout", "max_seats"],
    secret_env: &[config::ENV_LAAFFIC_KEY, config::ENV_LAAFFIC_SECRET],
    collectors: || vec![CollectorKind::LaafficSeats],
};
