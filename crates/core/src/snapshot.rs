//! Collected samples: what a collector's cycle produces, kept by its target until the next one
//! replaces it whole.

use std::sync::Arc;

/// Label pairs of one series, keys first. Sorted by the producer so output is deterministic.
pub(crate) type Labels = Vec<(&'static str, String)>;

/// One value of one series.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: Labels,
    /// Its value.
    pub value: f64,
}

/// The type of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down (everything collected).
    Gauge,
    /// A count since start; named with `_total` (the exporter's own counters).
    Counter,
}

/// The samples of one metric produced by one collector.
#[derive(Clone, Debug)]
pub struct Family {
    /// Metric name; a counter's ends in `_total`.
    pub name: Arc<str>,
    /// HELP text.
    pub help: Arc<str>,
    /// Gauge or counter.
    pub kind: Kind,
    /// Samples, in any order.
    pub samples: Vec<Sample>,
}

#[cfg(test)]
impl Family {
    /// A family for a test: `samples` as label pairs and a value each.
    pub(crate) fn of(
        name: &str,
        kind: Kind,
        help: &str,
        samples: &[(&[(&'static str, &str)], f64)],
    ) -> Family {
        let samples = samples
            .iter()
            .map(|(labels, value)| Sample {
                labels: labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect(),
                value: *value,
            })
            .collect();
        Family { name: name.into(), help: help.into(), kind, samples }
    }
}

/// The end of every collected metric's HELP text: the value is served from a cache.
pub(crate) fn cached(interval: std::time::Duration) -> String {
    format!("Cached, refreshed every {}s.", interval.as_secs_f64())
}
