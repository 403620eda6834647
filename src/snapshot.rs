//! Collected samples: one immutable snapshot per collector, replaced whole after each cycle, and
//! the merged exposition built from all of them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// Label pairs of one series, keys first. Sorted by the producer so output is deterministic.
pub type Labels = Vec<(&'static str, String)>;

/// One value of one series.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: Labels,
    /// Its value.
    pub value: f64,
}

/// The samples of one gauge metric produced by one collector.
#[derive(Clone, Debug)]
pub struct Family {
    /// Metric name.
    pub name: Arc<str>,
    /// HELP text.
    pub help: Arc<str>,
    /// Samples, in any order.
    pub samples: Vec<Sample>,
}

/// What a collector's last successful cycle produced.
#[derive(Debug)]
pub struct Snapshot {
    /// Its families.
    pub families: Vec<Family>,
    /// When the cycle that produced it finished.
    pub taken: Instant,
}

impl Snapshot {
    /// Number of series in the snapshot.
    pub fn series(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }
}

/// The current snapshot of every collector, keyed by collector id.
///
/// A std `Mutex`: it is held only to swap or clone `Arc`s, never across an `.await`.
#[derive(Debug, Default)]
pub struct Store {
    snapshots: Mutex<BTreeMap<String, Arc<Snapshot>>>,
}

impl Store {
    /// Replaces a collector's snapshot.
    pub fn put(&self, collector: &str, snapshot: Snapshot) {
        self.lock().insert(collector.to_string(), Arc::new(snapshot));
    }

    /// Drops a collector's snapshot; returns whether there was one.
    pub fn remove(&self, collector: &str) -> bool {
        self.lock().remove(collector).is_some()
    }

    /// A collector's current snapshot.
    pub fn get(&self, collector: &str) -> Option<Arc<Snapshot>> {
        self.lock().get(collector).cloned()
    }

    /// Every current snapshot.
    pub fn all(&self) -> Vec<Arc<Snapshot>> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Snapshot>>> {
        // A panic while holding the lock cannot leave the map half-written: recover it.
        self.snapshots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The snapshots merged by metric name, ready to encode: one HELP/TYPE block per name, series
/// sorted by labels.
#[derive(Debug)]
pub struct Merged(BTreeMap<Arc<str>, (Arc<str>, Vec<Sample>)>);

impl Merged {
    /// Merges every family of every snapshot.
    pub fn new(snapshots: &[Arc<Snapshot>]) -> Self {
        let mut merged: BTreeMap<Arc<str>, (Arc<str>, Vec<Sample>)> = BTreeMap::new();
        for family in snapshots.iter().flat_map(|s| s.families.iter()) {
            let entry =
                merged.entry(family.name.clone()).or_insert_with(|| (family.help.clone(), Vec::new()));
            entry.1.extend(family.samples.iter().cloned());
        }
        for (_, samples) in merged.values_mut() {
            samples.sort_by(|a, b| a.labels.cmp(&b.labels));
            // Two collectors may report the same series (an agent's name learned from two
            // sources): one sample per label set keeps the exposition valid.
            samples.dedup_by(|a, b| a.labels == b.labels);
        }
        Merged(merged)
    }

    /// Registers the merged data as a collector of `registry`.
    pub fn register(self, registry: &mut Registry) {
        registry.register_collector(Box::new(self));
    }
}

impl Collector for Merged {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, (help, samples)) in &self.0 {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for sample in samples {
                let labels: &[(&str, String)] = &sample.labels;
                metric.encode_family(&labels)?.encode_gauge(&sample.value)?;
            }
        }
        Ok(())
    }
}
