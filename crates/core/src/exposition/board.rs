//! The published chunks of every target, and `/metrics` assembled from them.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use super::{Body, Chunk, Format, assemble, assemble_until, escape};
use crate::snapshot::Labels;

/// What a chunk on the board belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// The exporter itself (`sobot_exporter_build_info`, the server's figures).
    Process,
    /// The process's CPU, memory and descriptors (`process_*`), read on demand.
    ProcessStats,
    /// A target, by id.
    Target(String),
}

impl Key {
    /// The process's own figures change with every connection and reading: on `/metrics` they come
    /// after the targets, so the targets' part is assembled (and compressed) once per change of
    /// theirs, not per scrape.
    fn volatile(&self) -> bool {
        matches!(self, Key::Process | Key::ProcessStats)
    }
}

/// What a target publishes: one chunk per collector (its last good cycle) and one for its own
/// series (self-metrics, info series merged across collectors).
#[derive(Debug, Default)]
pub struct Published {
    parts: Vec<Arc<Chunk>>,
    /// The target's own body (for `/probe`), made on first demand.
    own: [OnceLock<Arc<Body>>; 2],
}

impl Published {
    /// The target's chunks.
    pub fn new(parts: Vec<Arc<Chunk>>) -> Self {
        Self { parts, own: Default::default() }
    }

    /// The target alone as a complete exposition, without its labels (its scrape target carries
    /// them), made once per format.
    pub(crate) fn body(&self, format: Format) -> Arc<Body> {
        self.own[format as usize]
            .get_or_init(|| Arc::new(assemble(self.parts.iter().map(|c| ("", &**c)), format)))
            .clone()
    }
}

#[derive(Debug)]
struct Entry {
    epoch: u64,
    /// `k="v",…` added to every sample line on `/metrics` (empty for the single company).
    labels: Arc<str>,
    /// Whether it goes on `/metrics`.
    on_metrics: bool,
    published: Arc<Published>,
}

#[derive(Debug, Default)]
struct Entries {
    map: BTreeMap<Key, Entry>,
    /// Bumped on every change: the assembled bodies of an older generation are stale.
    generation: u64,
    /// Bumped on every change of a target (not of a [`Key::volatile`] one).
    targets_generation: u64,
}

impl Entries {
    /// `key`'s entry changed: the bodies with it are stale.
    fn changed(&mut self, key: &Key) {
        self.generation += 1;
        if !key.volatile() {
            self.targets_generation += 1;
        }
    }
}

/// `/metrics` bodies of one generation, each assembled by the first scrape that asks.
#[derive(Debug, Default)]
struct Assembled {
    generation: u64,
    bodies: [OnceLock<Arc<Body>>; 2],
}

/// Every published chunk. Publishing is a map insert; assembly happens on the first scrape after
/// a change, once per format, and never re-encodes a target.
#[derive(Debug, Default)]
pub struct Board {
    entries: Mutex<Entries>,
    assembled: Mutex<Arc<Assembled>>,
    /// The targets' part of `/metrics`, by the targets' generation.
    targets: Mutex<Arc<Assembled>>,
    epochs: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only maps and `Arc`s behind these locks: a panic cannot leave them half-written.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Board {
    /// An empty board.
    pub fn new() -> Arc<Board> {
        Arc::new(Board::default())
    }

    /// The handle a target publishes through. `labels` are added to its series on `/metrics`
    /// (not to its own body); `on_metrics` false keeps it off `/metrics`.
    pub fn publisher(self: &Arc<Self>, key: Key, labels: &Labels, on_metrics: bool) -> Publisher {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
        Publisher {
            board: self.clone(),
            key,
            labels: labels.join(",").into(),
            on_metrics,
            epoch: self.epochs.fetch_add(1, Ordering::Relaxed),
            retired: AtomicBool::new(false),
        }
    }

    /// What `key` published last.
    pub fn published(&self, key: &Key) -> Option<Arc<Published>> {
        lock(&self.entries).map.get(key).map(|e| e.published.clone())
    }

    #[cfg(test)]
    /// Every key with a chunk, in order.
    pub(crate) fn keys(&self) -> Vec<Key> {
        lock(&self.entries).map.keys().cloned().collect()
    }

    /// The whole exposition in `format`: assembled on the first call after a change, then kept.
    /// The targets' part is kept across changes of the process's own figures, which follow it.
    pub fn body(&self, format: Format) -> Arc<Body> {
        let (generation, targets_generation) = {
            let entries = lock(&self.entries);
            (entries.generation, entries.targets_generation)
        };
        current(&self.assembled, generation).bodies[format as usize]
            .get_or_init(|| {
                let (volatile, targets) = self.on_metrics();
                let families = |entries: &[OnMetrics]| {
                    let chunks = entries.iter().flat_map(|(_, p)| p.parts.iter());
                    chunks.flat_map(|c| c.families().iter().map(|f| f.name.clone())).collect::<Vec<_>>()
                };
                // A family both parts have must be written in one place: then no split.
                let process: HashSet<Arc<str>> = families(&volatile).into_iter().collect();
                if families(&targets).iter().any(|name| process.contains(name)) {
                    let all: Vec<_> = volatile.iter().chain(&targets).collect();
                    return Arc::new(assemble(chunks(all), format));
                }
                let head = current(&self.targets, targets_generation).bodies[format as usize]
                    .get_or_init(|| Arc::new(assemble_until(chunks(targets.iter().collect()), format, false)))
                    .clone();
                Arc::new(Body::join(head, assemble(chunks(volatile.iter().collect()), format)))
            })
            .clone()
    }

    /// What goes on `/metrics`: the process's own entries, and the targets'.
    fn on_metrics(&self) -> (Vec<OnMetrics>, Vec<OnMetrics>) {
        let (mut volatile, mut targets) = (Vec::new(), Vec::new());
        for (key, e) in lock(&self.entries).map.iter().filter(|(_, e)| e.on_metrics) {
            let list = if key.volatile() { &mut volatile } else { &mut targets };
            list.push((e.labels.clone(), e.published.clone()));
        }
        (volatile, targets)
    }
}

/// The cache of `generation` in `slot`, made anew if `slot` holds an older one.
fn current(slot: &Mutex<Arc<Assembled>>, generation: u64) -> Arc<Assembled> {
    let mut current = lock(slot);
    // Only ever forward: a scrape that read an older generation must not undo a newer body.
    if current.generation < generation {
        *current = Arc::new(Assembled { generation, bodies: Default::default() });
    }
    current.clone()
}

/// An entry on `/metrics`: the labels added to its series, and its chunks.
type OnMetrics = (Arc<str>, Arc<Published>);

/// Every chunk of `entries`, with its entry's labels.
fn chunks(entries: Vec<&OnMetrics>) -> impl Iterator<Item = (&str, &Chunk)> {
    entries.into_iter().flat_map(|(l, p)| p.parts.iter().map(move |c| (&**l, &**c)))
}

/// Copies sample lines, adding `labels` (`k="v",…`) to each.
pub(super) fn add_labels(out: &mut Vec<u8>, lines: &[u8], labels: &str) {
    if labels.is_empty() {
        out.extend_from_slice(lines);
        return;
    }
    for line in lines.split_inclusive(|b| *b == b'\n') {
        // A metric name has neither braces nor spaces: the first of them ends it.
        let Some(at) = line.iter().position(|b| *b == b'{' || *b == b' ') else {
            out.extend_from_slice(line);
            continue;
        };
        out.extend_from_slice(&line[..at]);
        out.push(b'{');
        out.extend_from_slice(labels.as_bytes());
        if line[at] == b'{' {
            if line.get(at + 1) != Some(&b'}') {
                out.push(b',');
            }
            out.extend_from_slice(&line[at + 1..]);
        } else {
            out.push(b'}');
            out.extend_from_slice(&line[at..]);
        }
    }
}

/// A target's handle on the board. Retired when dropped, so a stopped target's series go.
#[derive(Debug)]
pub struct Publisher {
    board: Arc<Board>,
    key: Key,
    labels: Arc<str>,
    on_metrics: bool,
    epoch: u64,
    retired: AtomicBool,
}

impl Publisher {
    /// Replaces this target's chunks, unless the publisher was retired.
    pub fn publish(&self, published: Published) {
        let published = Arc::new(published);
        let mut entries = lock(&self.board.entries);
        if self.retired.load(Ordering::Relaxed) {
            return;
        }
        let entry =
            Entry { epoch: self.epoch, labels: self.labels.clone(), on_metrics: self.on_metrics, published };
        entries.map.insert(self.key.clone(), entry);
        // A target kept off /metrics does not make /metrics stale.
        if self.on_metrics {
            entries.changed(&self.key);
        }
    }

    /// Removes this target's chunk (unless a newer publisher of the same key replaced it) and
    /// ignores later publishes.
    pub(crate) fn retire(&self) {
        let mut entries = lock(&self.board.entries);
        self.retired.store(true, Ordering::Relaxed);
        if entries.map.get(&self.key).is_some_and(|e| e.epoch == self.epoch) {
            entries.map.remove(&self.key);
            entries.changed(&self.key);
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.retire();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    use crate::snapshot::{Family, Kind, Sample};

    fn chunk(name: &str, labels: &[(&'static str, &str)], value: f64) -> Published {
        let family = Family {
            name: name.into(),
            help: format!("help of {name}").into(),
            kind: Kind::Gauge,
            samples: vec![Sample {
                labels: labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect(),
                value,
            }],
        };
        Published::new(vec![Arc::new(Chunk::encode(vec![Arc::new(vec![family])]).expect("encodes"))])
    }

    fn text(board: &Board, format: Format) -> String {
        String::from_utf8(board.body(format).to_bytes().to_vec()).expect("utf8")
    }

    #[test]
    fn targets_are_merged_with_their_labels_and_one_header_per_family() {
        let board = Board::new();
        let a = board.publisher(Key::Target("a".into()), &vec![("tenant", "a\"1".to_string())], true);
        let b = board.publisher(Key::Target("b".into()), &vec![("tenant", "b".to_string())], true);
        a.publish(chunk("sobot_x", &[("window", "today")], 1.0));
        b.publish(chunk("sobot_x", &[], 2.0));
        let out = text(&board, Format::Text);
        assert_eq!(
            out,
            "# HELP sobot_x help of sobot_x\n# TYPE sobot_x gauge\n\
             sobot_x{tenant=\"a\\\"1\",window=\"today\"} 1.0\nsobot_x{tenant=\"b\"} 2.0\n"
        );
        assert!(text(&board, Format::OpenMetrics).ends_with("2.0\n# EOF\n"));
        // A target's own body has no target labels.
        let own = board.published(&Key::Target("a".into())).expect("published").body(Format::Text);
        assert!(String::from_utf8_lossy(&own.to_bytes()).contains("sobot_x{window=\"today\"} 1.0\n"));
    }

    #[test]
    fn bodies_are_kept_until_a_change_and_retired_targets_go() {
        let board = Board::new();
        let a = board.publisher(Key::Target("a".into()), &Vec::new(), true);
        a.publish(chunk("sobot_x", &[], 1.0));
        let first = board.body(Format::Text);
        assert!(Arc::ptr_eq(&first, &board.body(Format::Text)), "no change, no assembly");
        // A replacement publisher of the same key, then the old one retires: the new one stays.
        let a2 = board.publisher(Key::Target("a".into()), &Vec::new(), true);
        a2.publish(chunk("sobot_x", &[], 2.0));
        drop(a);
        let out = text(&board, Format::Text);
        assert!(out.contains("sobot_x 2.0"), "{out}");
        a2.retire();
        a2.publish(chunk("sobot_x", &[], 3.0));
        assert_eq!(text(&board, Format::Text), "");
        assert!(board.keys().is_empty());
    }

    /// The body's gzip decoded, which must be one gzip member (CRC and length checked) and
    /// nothing after it.
    fn gunzip(body: &Body) -> String {
        let (gzip, mut out) = (body.gzip(), String::new());
        let mut rest = &gzip[..];
        std::io::Read::read_to_string(&mut flate2::bufread::GzDecoder::new(&mut rest), &mut out)
            .expect("a valid gzip member");
        assert!(rest.is_empty(), "{} bytes after the first gzip member", rest.len());
        out
    }

    #[test]
    fn a_gzip_answer_of_many_chunks_is_one_member_that_decodes_to_the_plain_answer() {
        let board = Board::new();
        let lines = |name: &str, n: usize| -> Arc<Chunk> {
            let samples = (0..n)
                .map(|i| Sample { labels: vec![("agent", format!("a{i}"))], value: i as f64 })
                .collect();
            let family = Family { name: name.into(), help: "help".into(), kind: Kind::Gauge, samples };
            Arc::new(Chunk::encode(vec![Arc::new(vec![family])]).expect("encodes"))
        };
        // Labelled targets' lines are copied, an unlabelled one's shared: the body is in pieces.
        let tenants: Vec<Publisher> = ["", "t2", "t3"]
            .iter()
            .map(|t| {
                let labels = if t.is_empty() { Vec::new() } else { vec![("tenant", (*t).into())] };
                let tenant = board.publisher(Key::Target((*t).into()), &labels, true);
                tenant.publish(Published::new(vec![lines("sobot_a", 500), lines("sobot_b", 3)]));
                tenant
            })
            .collect();
        let process = board.publisher(Key::Process, &Vec::new(), true);
        let stats = board.publisher(Key::ProcessStats, &Vec::new(), true);
        stats.publish(chunk("process_open_fds", &[], 7.0));
        for round in 0..2 {
            process.publish(Published::new(vec![lines("sobot_exporter_x", 300 + round)]));
            for format in [Format::OpenMetrics, Format::Text] {
                let body = board.body(format);
                let head = body.head.as_ref().expect("the targets' part is a head");
                assert!(head.parts.len() >= 3 && body.parts.len() >= 2, "{format:?}: pieces");
                let plain = String::from_utf8_lossy(&body.to_bytes()).into_owned();
                assert_eq!(plain.matches("tenant=\"t3\"").count(), 503);
                assert_eq!(gunzip(&body), plain, "{format:?}, round {round}");
                // The head's compressed start is reused as is, not compressed again.
                let (start, _) = head.gzip_start().expect("compressed");
                assert!(body.gzip().starts_with(start), "{format:?}");
            }
        }
        drop(tenants);
    }

    #[test]
    fn the_process_figures_follow_the_targets_whose_part_is_kept_across_their_changes() {
        let board = Board::new();
        let target = board.publisher(Key::Target("a".into()), &Vec::new(), true);
        let process = board.publisher(Key::ProcessStats, &Vec::new(), true);
        // Enough samples that the targets' part is shared in pieces, not copied.
        let many: Vec<Published> = (0..3).map(|i| chunk(&format!("sobot_{i}"), &[], 1.0)).collect();
        let parts: Vec<Arc<Chunk>> = many.iter().flat_map(|p| p.parts.iter().cloned()).collect();
        target.publish(Published::new(parts));
        process.publish(chunk("process_open_fds", &[], 7.0));
        let first = board.body(Format::OpenMetrics);
        process.publish(chunk("process_open_fds", &[], 8.0));
        let second = board.body(Format::OpenMetrics);
        let (a, b) = (first.head.clone().expect("a head"), second.head.clone().expect("a head"));
        assert!(Arc::ptr_eq(&a, &b), "the targets' part is not assembled again");
        let out = text(&board, Format::OpenMetrics);
        assert!(out.starts_with("# HELP sobot_0 "), "{out}");
        assert!(out.ends_with("process_open_fds 8.0\n# EOF\n"), "{out}");
        assert_eq!(out.matches("# EOF").count(), 1);
        for format in [Format::OpenMetrics, Format::Text] {
            let body = board.body(format);
            assert_eq!(gunzip(&body), String::from_utf8_lossy(&body.to_bytes()), "{format:?}");
        }
        // A target's change makes a new head.
        target.publish(chunk("sobot_0", &[], 2.0));
        let third = board.body(Format::OpenMetrics);
        assert!(!Arc::ptr_eq(&a, third.head.as_ref().expect("a head")));
        assert_eq!(gunzip(&third), String::from_utf8_lossy(&third.to_bytes()));
        // A family both parts have is written once, in one place.
        process.publish(chunk("sobot_0", &[("from", "process")], 3.0));
        let out = text(&board, Format::Text);
        assert_eq!(out.matches("# HELP sobot_0 ").count(), 1, "{out}");
        assert!(out.contains("sobot_0{from=\"process\"} 3.0\nsobot_0 2.0\n"), "{out}");
        assert_eq!(gunzip(&board.body(Format::Text)), out);
    }

    #[test]
    fn a_gzip_of_a_head_and_a_tail_is_the_whole_body_whatever_their_sizes() {
        let line = |i: usize| format!("sobot_x{{i=\"{i}\"}} {i}\n");
        for (head_lines, tail_lines) in [(0, 0), (1, 0), (0, 3), (5000, 2), (20000, 20000)] {
            let head: String = (0..head_lines).map(line).collect();
            let tail: String = (0..tail_lines).map(line).collect();
            let body = |text: &str| {
                let mut parts = super::super::Parts::default();
                for piece in text.as_bytes().chunks(5000) {
                    parts.share(Bytes::copy_from_slice(piece));
                }
                parts.finish(false)
            };
            let joined = Body::join(Arc::new(body(&head)), body(&tail));
            assert_eq!(joined.len(), head.len() + tail.len());
            assert_eq!(gunzip(&joined), format!("{head}{tail}"), "{head_lines} + {tail_lines}");
        }
    }

    #[test]
    fn labels_are_added_to_every_line_shape() {
        let mut out = Vec::new();
        add_labels(&mut out, b"a 1\nb{} 2\nc{x=\"1\"} 3\n", "t=\"v\"");
        assert_eq!(String::from_utf8_lossy(&out), "a{t=\"v\"} 1\nb{t=\"v\"} 2\nc{t=\"v\",x=\"1\"} 3\n");
    }
}
