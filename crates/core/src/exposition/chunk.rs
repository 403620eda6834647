//! One target's encoded samples, kept per family so that `/metrics` can be assembled from many
//! targets without encoding any of them again.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode_registry;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::{Body, Format};
use crate::snapshot::{Family, Kind, Labels, Sample};

/// Families encoded once (OpenMetrics sample lines, which are also valid 0.0.4 lines), with the
/// byte range of each family's header and samples: what one collector's cycle produced, or a
/// target's self-metrics.
#[derive(Debug)]
pub struct Chunk {
    bytes: Bytes,
    families: Vec<EncodedFamily>,
    /// This chunk alone as a body, made on first demand.
    own: [OnceLock<Arc<Body>>; 2],
}

/// Where one family sits in a chunk's bytes.
#[derive(Debug)]
pub(crate) struct EncodedFamily {
    /// The name as exposed (counters with `_total`): the key families are merged by.
    pub(crate) name: Arc<str>,
    pub(crate) kind: Kind,
    /// `# HELP` and `# TYPE` lines, OpenMetrics spelling; shared by every chunk with the same
    /// family (thousands of tenants' chunks hold one copy of each HELP text, not thousands).
    pub(crate) header: Arc<[u8]>,
    /// Sample lines.
    pub(crate) lines: Range<usize>,
}

impl Chunk {
    /// Encodes the families of `sources` merged by name: one family per name, series sorted by
    /// labels, one series per label set (per id for `*_info` families).
    pub fn encode(sources: Vec<Arc<Vec<Family>>>) -> Result<Chunk, std::fmt::Error> {
        // Sized up front: a growing buffer would peak at twice the chunk, and keep the slack.
        let size: usize = sources.iter().flat_map(|s| s.iter()).map(encoded_size).sum();
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Merged(sources)));
        let mut text = String::with_capacity(size);
        encode_registry(&mut text, &registry)?;
        // The headers go to the shared table; the chunk keeps its sample lines only.
        let mut families = split(text.as_bytes());
        let mut lines = Vec::with_capacity(families.iter().map(|(_, l)| l.len()).sum());
        for (family, range) in &mut families {
            let start = lines.len();
            lines.extend_from_slice(&text.as_bytes()[range.clone()]);
            family.lines = start..lines.len();
        }
        let families = families.into_iter().map(|(family, _)| family).collect();
        Ok(Chunk { bytes: Bytes::from(lines), families, own: Default::default() })
    }

    /// An empty chunk.
    pub(crate) fn empty() -> Chunk {
        Chunk { bytes: Bytes::new(), families: Vec::new(), own: Default::default() }
    }

    #[cfg(test)]
    /// Number of sample lines.
    pub(crate) fn series(&self) -> usize {
        self.families
            .iter()
            .map(|f| self.bytes[f.lines.clone()].iter().filter(|b| **b == b'\n').count())
            .sum()
    }

    pub(crate) fn families(&self) -> &[EncodedFamily] {
        &self.families
    }

    pub(crate) fn slice(&self, range: &Range<usize>) -> &[u8] {
        &self.bytes[range.clone()]
    }

    /// A range of the chunk's bytes, shared (no copy).
    pub(crate) fn share(&self, range: &Range<usize>) -> Bytes {
        self.bytes.slice(range.clone())
    }

    /// This chunk alone as a complete exposition, made once per format.
    pub fn body(&self, format: Format) -> Arc<Body> {
        self.own[format as usize].get_or_init(|| Arc::new(super::assemble([("", self)], format))).clone()
    }
}

/// About what a family takes encoded: its header, and per sample the name, the labels quoted, the
/// value (up to 24 characters).
fn encoded_size(family: &Family) -> usize {
    let header = 2 * family.name.len() + family.help.len() + 32;
    let samples: usize = family
        .samples
        .iter()
        .map(|s| family.name.len() + 28 + s.labels.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>())
        .sum();
    header + samples
}

/// Finds each family's header and samples in what prometheus-client wrote: a family starts with
/// `# HELP`, its `# TYPE` (and `# UNIT`) lines follow, then its samples until the next `# HELP`.
fn split(bytes: &[u8]) -> Vec<(EncodedFamily, Range<usize>)> {
    let mut families = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let start = pos;
        let line_end = |from: usize| {
            bytes[from..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |i| from + i + 1)
        };
        // `# HELP name help…`: the name is the third word.
        let help_end = line_end(start);
        let name = std::str::from_utf8(&bytes[start..help_end])
            .ok()
            .and_then(|l| l.strip_prefix("# HELP "))
            .and_then(|l| l.split(' ').next())
            .unwrap_or("")
            .trim_end()
            .to_string();
        let mut header_end = help_end;
        let mut kind = Kind::Gauge;
        while bytes[header_end..].starts_with(b"# TYPE ") || bytes[header_end..].starts_with(b"# UNIT ") {
            let end = line_end(header_end);
            if bytes[header_end..end].ends_with(b" counter\n") {
                kind = Kind::Counter;
            }
            header_end = end;
        }
        let mut lines_end = header_end;
        while lines_end < bytes.len() && !bytes[lines_end..].starts_with(b"# HELP ") {
            lines_end = line_end(lines_end);
        }
        let name = match kind {
            Kind::Counter => format!("{name}_total"),
            Kind::Gauge => name,
        };
        let header = intern(&bytes[start..header_end]);
        families
            .push((EncodedFamily { name: name.into(), kind, header, lines: 0..0 }, header_end..lines_end));
        pos = lines_end;
    }
    families
}

/// The one copy of a family's header: the table grows with the distinct HELP texts only (metric
/// names times the configured intervals), never with the number of targets.
fn intern(header: &[u8]) -> Arc<[u8]> {
    static HEADERS: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<Arc<[u8]>>>> =
        std::sync::OnceLock::new();
    let mut headers =
        HEADERS.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(shared) = headers.get(header) {
        return shared.clone();
    }
    let shared: Arc<[u8]> = Arc::from(header);
    headers.insert(shared.clone());
    shared
}

/// The families of several sources merged by name, borrowed at encode time (no sample is copied).
#[derive(Debug)]
struct Merged(Vec<Arc<Vec<Family>>>);

impl Collector for Merged {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut merged: BTreeMap<&str, (&str, Kind, Vec<&Sample>)> = BTreeMap::new();
        for family in self.0.iter().flat_map(|source| source.iter()) {
            let entry = merged.entry(&family.name).or_insert_with(|| (&family.help, family.kind, Vec::new()));
            entry.2.extend(family.samples.iter());
        }
        for (name, (help, kind, mut samples)) in merged {
            samples.sort_by(|a, b| a.labels.cmp(&b.labels));
            // Two sources may report the same series: one sample per label set keeps the exposition
            // valid. An info series is identified by its labels other than `name` (an agent named
            // by both quality sources, maybe differently, gets one series).
            if name.ends_with("_info") {
                samples.dedup_by(|a, b| without_name(&a.labels).eq(without_name(&b.labels)));
            } else {
                samples.dedup_by(|a, b| a.labels == b.labels);
            }
            match kind {
                Kind::Gauge => {
                    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
                    for sample in samples {
                        let labels: &[(&str, String)] = &sample.labels;
                        // Without labels the library would write `name{}`.
                        if labels.is_empty() {
                            metric.encode_gauge(&sample.value)?;
                        } else {
                            metric.encode_family(&labels)?.encode_gauge(&sample.value)?;
                        }
                    }
                }
                Kind::Counter => {
                    // The library writes the `_total` suffix itself.
                    let base = name.strip_suffix("_total").unwrap_or(name);
                    let mut metric = encoder.encode_descriptor(base, help, None, MetricType::Counter)?;
                    for sample in samples {
                        let labels: &[(&str, String)] = &sample.labels;
                        // Without labels the library would write `name{}` (`process_cpu_seconds_total`).
                        if labels.is_empty() {
                            metric.encode_counter::<NoLabelSet, _, f64>(&sample.value, None)?;
                        } else {
                            metric
                                .encode_family(&labels)?
                                .encode_counter::<NoLabelSet, _, f64>(&sample.value, None)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn without_name(labels: &Labels) -> impl Iterator<Item = &(&'static str, String)> {
    labels.iter().filter(|(k, _)| *k != "name")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn family(name: &str, samples: &[(&[(&'static str, &str)], f64)]) -> Family {
        Family::of(name, Kind::Gauge, "help", samples)
    }

    fn text(families: Vec<Family>) -> String {
        let chunk = Chunk::encode(vec![Arc::new(families)]).expect("encodes");
        String::from_utf8(chunk.body(Format::Text).to_bytes().to_vec()).expect("utf8")
    }

    #[test]
    fn one_series_per_label_set_and_one_info_series_per_id() {
        let chat = family("sobot_agent_info", &[(&[("agent", "a1"), ("name", "Ann")], 1.0)]);
        let call = family(
            "sobot_agent_info",
            &[(&[("agent", "a1"), ("name", "Ann (calls)")], 1.0), (&[("agent", "a2"), ("name", "Bo")], 1.0)],
        );
        let out = text(vec![chat, call]);
        assert_eq!(out.matches("agent=\"a1\"").count(), 1, "{out}");
        assert!(out.contains("sobot_agent_info{agent=\"a2\",name=\"Bo\"} 1.0"));
        assert_eq!(out.matches("# HELP sobot_agent_info").count(), 1, "{out}");

        let a = family("sobot_x", &[(&[("window", "today")], 2.0)]);
        let b = family("sobot_x", &[(&[("window", "today")], 2.0), (&[("window", "yesterday")], 3.0)]);
        let out = text(vec![b, a]);
        assert_eq!(out.matches("sobot_x{").count(), 2, "{out}");
        // Sorted by labels whatever the input order.
        assert!(out.find("today").expect("today") < out.find("yesterday").expect("yesterday"));
    }

    #[test]
    fn counters_get_their_total_suffix_once() {
        let mut c = family("sobot_exporter_parse_errors_total", &[(&[("field", "f")], 3.0)]);
        c.kind = Kind::Counter;
        let chunk = Chunk::encode(vec![Arc::new(vec![c])]).expect("encodes");
        assert_eq!(&*chunk.families()[0].name, "sobot_exporter_parse_errors_total");
        let om = String::from_utf8(chunk.body(Format::OpenMetrics).to_bytes().to_vec()).expect("utf8");
        assert!(om.contains("# TYPE sobot_exporter_parse_errors counter"), "{om}");
        assert!(om.contains("sobot_exporter_parse_errors_total{field=\"f\"} 3"), "{om}");
        assert!(om.ends_with("# EOF\n"));
        let text = String::from_utf8(chunk.body(Format::Text).to_bytes().to_vec()).expect("utf8");
        assert!(text.contains("# TYPE sobot_exporter_parse_errors_total counter"), "{text}");
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn families_are_split_at_their_headers() {
        let empty = family("sobot_a", &[]);
        let two = family("sobot_b", &[(&[("window", "today")], 1.0), (&[("window", "yesterday")], 2.0)]);
        let chunk = Chunk::encode(vec![Arc::new(vec![two, empty])]).expect("encodes");
        let names: Vec<&str> = chunk.families().iter().map(|f| &*f.name).collect();
        assert_eq!(names, ["sobot_a", "sobot_b"]);
        assert!(chunk.families()[0].lines.is_empty(), "an empty family keeps its header only");
        assert_eq!(
            String::from_utf8_lossy(chunk.slice(&chunk.families()[1].lines)),
            "sobot_b{window=\"today\"} 1.0\nsobot_b{window=\"yesterday\"} 2.0\n"
        );
        assert_eq!(chunk.series(), 2);
    }
}
