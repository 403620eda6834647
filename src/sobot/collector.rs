//! Company statistics collector: one endpoint of the table, every configured window.

use std::sync::Arc;
use std::time::Duration;

use jiff::{Timestamp, tz::TimeZone};
use serde_json::Value;
use tracing::debug;

use super::client::SobotClient;
use super::endpoints::{Endpoint, Field};
use crate::error::UpstreamError;
use crate::snapshot::{Family, Labels, Sample};
use crate::telemetry::Telemetry;
use crate::value::{Parsed, parse_json};
use crate::window::{Window, sobot_range};

/// The HELP text of a table field: what it is, where it comes from, that it is cached.
pub fn help_text(endpoint: &Endpoint, field: &Field, interval: Duration) -> String {
    format!(
        "{} ({}; Sobot {} field {}, §{}), {}. Cached, refreshed every {}s.",
        field.en,
        field.zh,
        endpoint.name,
        field.key,
        endpoint.section,
        field.unit.describe(),
        interval.as_secs()
    )
}

/// Collects one company statistics endpoint for each configured window.
#[derive(Debug)]
pub struct StatsCollector {
    endpoint: &'static Endpoint,
    client: Arc<SobotClient>,
    windows: Vec<Window>,
    tz: TimeZone,
    /// HELP texts, one per field of `endpoint`, built once.
    helps: Vec<Arc<str>>,
    telemetry: Arc<Telemetry>,
}

impl StatsCollector {
    /// A collector for `endpoint`.
    pub fn new(
        endpoint: &'static Endpoint,
        client: Arc<SobotClient>,
        windows: Vec<Window>,
        tz: TimeZone,
        interval: Duration,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        let helps = endpoint
            .fields
            .iter()
            .map(|f| help_text(endpoint, f, interval).into())
            .collect();
        Self {
            endpoint,
            client,
            windows,
            tz,
            helps,
            telemetry,
        }
    }

    /// The collector's name, its endpoint's.
    pub fn name(&self) -> &'static str {
        self.endpoint.name
    }

    /// One cycle: fetches every window; fails if any window fails.
    pub async fn collect(&self) -> Result<Vec<Family>, UpstreamError> {
        let ep = self.endpoint;
        let mut families: Vec<Family> = ep
            .fields
            .iter()
            .zip(&self.helps)
            .map(|(f, help)| Family {
                name: f.metric,
                help: help.clone(),
                samples: Vec::new(),
            })
            .collect();
        let now = Timestamp::now();
        for &window in &self.windows {
            let (start, end) = sobot_range(window.day(now, &self.tz), ep.date_format);
            let params = [("start_date", start), ("end_date", end)];
            let body = self
                .client
                .call(ep.name, ep.method, ep.path, &params)
                .await?;
            let item = body.get("item").filter(|i| i.is_object()).ok_or_else(|| {
                UpstreamError::InvalidResponse(format!("{}: no item object in the answer", ep.name))
            })?;
            for (field, family) in ep.fields.iter().zip(families.iter_mut()) {
                if let Some(value) = self.value(item, field) {
                    let mut labels: Labels = field
                        .labels
                        .iter()
                        .map(|(k, v)| (*k, (*v).to_string()))
                        .collect();
                    labels.push(("window", window.label().to_string()));
                    labels.sort();
                    family.samples.push(Sample { labels, value });
                }
            }
        }
        Ok(families)
    }

    fn value(&self, item: &Value, field: &Field) -> Option<f64> {
        let raw = item.get(field.key);
        match parse_json(raw, field.unit) {
            Parsed::Value(v) => Some(v),
            Parsed::Absent => None,
            Parsed::Invalid => {
                debug!(endpoint = self.endpoint.name, field = field.key, value = ?raw, "value did not parse");
                self.telemetry
                    .count_parse_error(self.endpoint.name, field.key);
                None
            }
        }
    }
}
