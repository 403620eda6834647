//! Collected samples: one immutable snapshot per collector, replaced whole after each cycle, and
//! the merged exposition built from all of them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
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

/// The end of every collected metric's HELP text: the value is served from a cache.
pub fn cached(interval: std::time::Duration) -> String {
    format!("Cached, refreshed every {}s.", interval.as_secs_f64())
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
pub struct Merged(BTreeMap<Arc<str>, (Arc<str>, Kind, Vec<Sample>)>);

impl Merged {
    /// Merges families from any number of sources.
    pub fn new<'a>(families: impl IntoIterator<Item = &'a Family>) -> Self {
        let mut merged: BTreeMap<Arc<str>, (Arc<str>, Kind, Vec<Sample>)> = BTreeMap::new();
        for family in families {
            let entry = merged
                .entry(family.name.clone())
                .or_insert_with(|| (family.help.clone(), family.kind, Vec::new()));
            entry.2.extend(family.samples.iter().cloned());
        }
        for (name, (_, _, samples)) in &mut merged {
            samples.sort_by(|a, b| a.labels.cmp(&b.labels));
            // Two sources may report the same series: one sample per label set keeps the
            // exposition valid. An info series is identified by its labels other than `name`
            // (an agent named by both quality sources, maybe differently, gets one series).
            if name.ends_with("_info") {
                samples.dedup_by(|a, b| without_name(&a.labels).eq(without_name(&b.labels)));
            } else {
                samples.dedup_by(|a, b| a.labels == b.labels);
            }
        }
        Merged(merged)
    }

    /// Registers the merged data as a collector of `registry`.
    pub fn register(self, registry: &mut Registry) {
        registry.register_collector(Box::new(self));
    }
}

fn without_name(labels: &Labels) -> impl Iterator<Item = &(&'static str, String)> {
    labels.iter().filter(|(k, _)| *k != "name")
}

impl Collector for Merged {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, (help, kind, samples)) in &self.0 {
            match kind {
                Kind::Gauge => {
                    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
                    for sample in samples {
                        let labels: &[(&str, String)] = &sample.labels;
                        metric.encode_family(&labels)?.encode_gauge(&sample.value)?;
                    }
                }
                Kind::Counter => {
                    // The library writes the `_total` suffix itself.
                    let base = name.strip_suffix("_total").unwrap_or(name);
                    let mut metric = encoder.encode_descriptor(base, help, None, MetricType::Counter)?;
                    for sample in samples {
                        let labels: &[(&str, String)] = &sample.labels;
                        metric
                            .encode_family(&labels)?
                            .encode_counter::<NoLabelSet, _, f64>(&sample.value, None)?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(name: &str, samples: &[(&[(&'static str, &str)], f64)]) -> Family {
        Family {
            name: name.into(),
            help: "help".into(),
            kind: Kind::Gauge,
            samples: samples
                .iter()
                .map(|(labels, value)| Sample {
                    labels: labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect(),
                    value: *value,
                })
                .collect(),
        }
    }

    fn encode(merged: Merged) -> String {
        let mut registry = Registry::default();
        merged.register(&mut registry);
        let mut out = String::new();
        prometheus_client::encoding::text::encode_registry(&mut out, &registry).expect("encodes");
        out
    }

    #[test]
    fn one_series_per_label_set_and_one_info_series_per_id() {
        let chat = family("sobot_agent_info", &[(&[("agent", "a1"), ("name", "Ann")], 1.0)]);
        let call = family(
            "sobot_agent_info",
            &[(&[("agent", "a1"), ("name", "Ann (calls)")], 1.0), (&[("agent", "a2"), ("name", "Bo")], 1.0)],
        );
        let text = encode(Merged::new([&chat, &call]));
        assert_eq!(text.matches("agent=\"a1\"").count(), 1, "{text}");
        assert!(text.contains("sobot_agent_info{agent=\"a2\",name=\"Bo\"} 1.0"));

        let a = family("sobot_x", &[(&[("window", "today")], 2.0)]);
        let b = family("sobot_x", &[(&[("window", "today")], 2.0), (&[("window", "yesterday")], 3.0)]);
        let text = encode(Merged::new([&b, &a]));
        assert_eq!(text.matches("sobot_x{").count(), 2, "{text}");
        // Sorted by labels whatever the input order.
        assert!(text.find("today").expect("today") < text.find("yesterday").expect("yesterday"));
    }

    #[test]
    fn counters_get_their_total_suffix_once() {
        let mut c = family("sobot_exporter_parse_errors_total", &[(&[("field", "f")], 3.0)]);
        c.kind = Kind::Counter;
        let text = encode(Merged::new([&c]));
        assert!(text.contains("# TYPE sobot_exporter_parse_errors counter"), "{text}");
        assert!(text.contains("sobot_exporter_parse_errors_total{field=\"f\"} 3"), "{text}");
    }
}
