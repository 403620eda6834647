//! The exposition: each target's samples encoded once per cycle into a [`Chunk`], and the
//! [`Board`] that assembles `/metrics` from the chunks (each family's HELP/TYPE once) in both
//! formats, plain and gzipped, on the first scrape after a change. The process's own figures,
//! which change every second or connection, are a tail after the targets' part: that part is
//! assembled and compressed once per change of a target, and a body's gzip continues its cached
//! deflate piece with the tail's (one gzip member either way).
//!
//! Sample lines are the same in OpenMetrics and in the 0.0.4 text format (prometheus-client writes
//! them); only the headers differ (a counter's HELP/TYPE name, `# EOF`), so a chunk is encoded
//! once and serves both.

mod board;
mod chunk;

use std::io::{self, Write};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use flate2::write::{DeflateEncoder, GzEncoder};
use flate2::{Compression, Crc, CrcWriter};

pub use board::{Board, Key, Published, Publisher};
pub use chunk::Chunk;
use chunk::EncodedFamily;

use crate::snapshot::Kind;

/// Content type of the OpenMetrics 1.0 text format.
pub(crate) const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of the Prometheus text format 0.0.4.
pub const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text, for scrapers that ask for it (Prometheus does).
    OpenMetrics = 0,
    /// Prometheus text 0.0.4, for everything else (curl, promtool).
    Text = 1,
}

impl Format {
    /// The format an `Accept` header asks for.
    pub(crate) fn negotiate(accept: &str) -> Format {
        if prefers_openmetrics(accept) { Format::OpenMetrics } else { Format::Text }
    }

    /// Its `Content-Type`.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS,
            Format::Text => TEXT,
        }
    }
}

/// One body, as parts (mostly slices of the chunks' own bytes: assembling copies only what it
/// changes), and (on first demand, then kept) gzipped.
#[derive(Debug)]
pub struct Body {
    /// The body's first parts, kept in a body of their own (and compressed there) when they
    /// change less often than the rest: `/metrics`' targets before the process's own figures.
    head: Option<Arc<Body>>,
    /// The parts after the head's.
    parts: Vec<Bytes>,
    /// Length in bytes, the head's included.
    len: usize,
    /// The body gzip-compressed once by the first scrape that asks for it: most deployments only
    /// ever ask for one of the four variants.
    gzip: OnceLock<Bytes>,
    /// As a head: the start of a gzip member, and the CRC of its parts (see [`Body::gzip_start`]).
    gzip_start: OnceLock<Option<(Bytes, Crc)>>,
}

impl Body {
    /// `head` followed by `tail`: the head's gzip work is reused by every body it starts.
    fn join(head: Arc<Body>, tail: Body) -> Body {
        let len = head.len + tail.len;
        Body { head: Some(head), parts: tail.parts, len, gzip: OnceLock::new(), gzip_start: OnceLock::new() }
    }

    /// The parts, in order: the body is their concatenation.
    pub(crate) fn parts(&self) -> Vec<Bytes> {
        let head = self.head.as_ref().map(|h| h.parts()).unwrap_or_default();
        head.into_iter().chain(self.parts.iter().cloned()).collect()
    }

    #[cfg(test)]
    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The body in one piece (a copy).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.len);
        for part in self.parts() {
            out.extend_from_slice(&part);
        }
        Bytes::from(out)
    }

    /// The body gzip-compressed: one gzip member, made on first demand and kept. Compressing into
    /// memory cannot fail; if it did, the empty answer would be refused by the scraper, never misread.
    pub fn gzip(&self) -> Bytes {
        self.gzip.get_or_init(|| self.compress().map(Bytes::from).unwrap_or_default()).clone()
    }

    /// Without a head, flate2's [`GzEncoder`] writes the member whole. With one, the member is the
    /// head's cached start (header and deflate blocks up to a sync flush), this body's parts
    /// deflated as the blocks that follow, and the trailer of both: CRC-32 (the two combined) and
    /// length modulo 2^32, little-endian (RFC 1952), which flate2 writes only for its own encoder.
    fn compress(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len / 5 + 64);
        let Some(head) = &self.head else {
            return write_parts(GzEncoder::new(out, LEVEL), &self.parts)?.finish();
        };
        let (start, head_crc) = head.gzip_start().ok_or(io::ErrorKind::Other)?;
        out.extend_from_slice(start);
        let tail = write_parts(CrcWriter::new(DeflateEncoder::new(out, LEVEL)), &self.parts)?;
        // A copy of the head's CRC (flate2's `Crc` is not `Clone`), continued with the parts'.
        let mut crc = Crc::new();
        crc.combine(head_crc);
        crc.combine(tail.crc());
        let mut out = tail.into_inner().finish()?;
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&crc.amount().to_le_bytes());
        Ok(out)
    }

    /// This body (a head: it has none itself) as the start of a gzip member, and the CRC of its
    /// parts: the header and their deflate blocks, sync-flushed so that more blocks may follow.
    fn gzip_start(&self) -> Option<&(Bytes, Crc)> {
        let start = self.gzip_start.get_or_init(|| {
            let gz = GzEncoder::new(Vec::with_capacity(self.len / 5 + 32), LEVEL);
            let mut gz = write_parts(CrcWriter::new(gz), &self.parts).ok()?;
            gz.flush().ok()?;
            let mut crc = Crc::new();
            crc.combine(gz.crc());
            // Dropping `gz` then finishes its stream into the emptied vector, which goes too.
            Some((Bytes::from(std::mem::take(gz.get_mut().get_mut())), crc))
        });
        start.as_ref()
    }
}

/// Compression level: scrapes want low latency more than the last 10 % of size.
const LEVEL: Compression = Compression::fast();

/// Writes every part to `w`, and returns it.
fn write_parts<W: Write>(mut w: W, parts: &[Bytes]) -> io::Result<W> {
    parts.iter().try_for_each(|part| w.write_all(part))?;
    Ok(w)
}

/// A body being assembled: slices of chunks are shared, what is changed or small is copied.
#[derive(Debug, Default)]
struct Parts {
    parts: Vec<Bytes>,
    pending: Vec<u8>,
    len: usize,
}

impl Parts {
    /// Below this a slice is copied rather than shared, to keep the parts few.
    const SHARE_FROM: usize = 4096;

    fn copy(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        self.len += bytes.len();
    }

    fn share(&mut self, bytes: Bytes) {
        if bytes.len() < Self::SHARE_FROM {
            self.copy(&bytes);
            return;
        }
        self.flush();
        self.len += bytes.len();
        self.parts.push(bytes);
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.parts.push(Bytes::from(std::mem::take(&mut self.pending)));
        }
    }

    /// The body, ending with OpenMetrics' `# EOF` if `eof`.
    fn finish(mut self, eof: bool) -> Body {
        if eof {
            self.copy(b"# EOF\n");
        }
        self.flush();
        Body {
            head: None,
            parts: self.parts,
            len: self.len,
            gzip: OnceLock::new(),
            gzip_start: OnceLock::new(),
        }
    }
}

/// Merges chunks into one body: families in name order, each family's header once (from the first
/// chunk that has it), then every chunk's sample lines with its labels (`k="v",…`) added.
fn assemble<'a>(chunks: impl IntoIterator<Item = (&'a str, &'a Chunk)>, format: Format) -> Body {
    assemble_until(chunks, format, true)
}

/// [`assemble`], with `# EOF` (OpenMetrics) only if `last`: a body another one follows has none.
fn assemble_until<'a>(
    chunks: impl IntoIterator<Item = (&'a str, &'a Chunk)>,
    format: Format,
    last: bool,
) -> Body {
    let chunks: Vec<(&str, &Chunk)> = chunks.into_iter().collect();
    let mut index: std::collections::BTreeMap<&str, Vec<(usize, usize)>> = std::collections::BTreeMap::new();
    for (c, (_, chunk)) in chunks.iter().enumerate() {
        for (f, family) in chunk.families().iter().enumerate() {
            index.entry(&family.name).or_default().push((c, f));
        }
    }
    let mut out = Parts::default();
    for places in index.values() {
        let (c, f) = places[0];
        write_header(&mut out, &chunks[c].1.families()[f], format);
        for &(c, f) in places {
            let (labels, chunk) = chunks[c];
            let lines = &chunk.families()[f].lines;
            if labels.is_empty() {
                out.share(chunk.share(lines));
            } else {
                let before = out.pending.len();
                board::add_labels(&mut out.pending, chunk.slice(lines), labels);
                out.len += out.pending.len() - before;
            }
        }
    }
    out.finish(last && format == Format::OpenMetrics)
}

/// Writes a family's HELP/TYPE lines in `format`: as encoded for OpenMetrics; for 0.0.4 a
/// counter's lines name it with its `_total` suffix.
fn write_header(out: &mut Parts, family: &EncodedFamily, format: Format) {
    let header: &[u8] = &family.header;
    if format == Format::OpenMetrics || family.kind == Kind::Gauge {
        out.copy(header);
        return;
    }
    let base = family.name.strip_suffix("_total").unwrap_or(&family.name);
    for line in header.split_inclusive(|b| *b == b'\n') {
        if let Some(help) = line.strip_prefix(b"# HELP ").and_then(|l| l.strip_prefix(base.as_bytes())) {
            out.copy(b"# HELP ");
            out.copy(family.name.as_bytes());
            out.copy(help);
        } else if line.starts_with(b"# TYPE ") {
            out.copy(format!("# TYPE {} counter\n", family.name).as_bytes());
        }
    }
}

/// `\`, `"` and newlines escaped: a label value as both text formats quote it, and a HELP text
/// as OpenMetrics writes it.
pub(crate) fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Whether an `Accept` header prefers OpenMetrics over the 0.0.4 text format.
pub(crate) fn prefers_openmetrics(accept: &str) -> bool {
    let mut best_om = 0.0_f64;
    let mut best_text = 0.0_f64;
    for (media, q) in media_ranges(accept) {
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            best_om = best_om.max(q);
        } else if media.eq_ignore_ascii_case("text/plain") {
            best_text = best_text.max(q);
        }
    }
    best_om > 0.0 && best_om >= best_text
}

/// Whether an `Accept-Encoding` header allows gzip.
pub(crate) fn accepts_gzip(accept_encoding: &str) -> bool {
    media_ranges(accept_encoding).any(|(coding, q)| q > 0.0 && coding.eq_ignore_ascii_case("gzip"))
}

/// `(value, q)` pairs of a comma-separated header with `;q=` weights.
fn media_ranges(header: &str) -> impl Iterator<Item = (&str, f64)> {
    header.split(',').map(|part| {
        let mut params = part.split(';');
        let value = params.next().unwrap_or("").trim();
        let q = params
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f64>().ok())
            .filter(|q| q.is_finite())
            .unwrap_or(1.0);
        (value, q)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_accept_headers() {
        let prom3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
                     application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;\
                     escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        assert!(prefers_openmetrics(prom3));
        assert!(!prefers_openmetrics("text/plain;version=0.0.4"));
        assert!(!prefers_openmetrics("*/*"));
        assert!(!prefers_openmetrics(""));
        assert!(!prefers_openmetrics("application/openmetrics-text;q=0"));
        assert!(!prefers_openmetrics("application/openmetrics-text;q=0.1,text/plain;q=0.9"));
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=1.0, *;q=0.5"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip(""));
    }
}
