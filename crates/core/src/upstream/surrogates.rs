//! Lone surrogate escapes: `"\ud800"` is valid JSON text but no Unicode, and serde_json refuses
//! the whole answer for it when it builds a string ("lone leading surrogate in hex escape"). One
//! bad name must not cost every tenant of a getBatchAppKey answer, so before parsing, each
//! `\uXXXX` escape of a lone surrogate (a high one not followed by a low one, or a low one alone)
//! has its four hex digits overwritten with `fffd`: U+FFFD, the replacement character, as
//! `String::from_utf8_lossy` would give. The escape keeps its length, so the chunks are patched in
//! place (only those that hold a patched digit are copied), no second copy of the body is made,
//! and serde_json still checks everything else.
//!
//! Why not in serde: serde_json decodes escapes itself, before any visitor sees the string, and
//! lets no `Value` string through lossily (only `deserialize_bytes` passes lone surrogates, as
//! WTF-8, and `Value` never asks for bytes). Why a pre-pass is cheap: a body without a `\u`
//! escape of a surrogate's shape (`\ud8`–`\udf`, any case) is only searched for backslashes;
//! the exact scan, which follows strings and escapes, runs only on a body with one.

use bytes::Bytes;

use super::capped::Chunks;

/// The hex digits written over a lone surrogate's: U+FFFD.
const REPLACEMENT: &[u8; 4] = b"fffd";

/// Replaces every lone surrogate escape of `body` by `\ufffd`; returns how many.
pub(crate) fn repair(body: &mut Chunks) -> u64 {
    if !body.parts().iter().any(|part| maybe_surrogate(part)) {
        return 0;
    }
    let patches = lone_surrogates(body.parts().iter().flat_map(|part| part.iter().copied()));
    if patches.is_empty() {
        return 0;
    }
    body.patch(&patches, REPLACEMENT);
    u64::try_from(patches.len()).unwrap_or(u64::MAX)
}

/// Whether `part` may hold a surrogate's escape: a `\` followed by `u`, `d` and `8`–`f`, or one
/// too near the end to tell (the escape may go on in the next chunk).
fn maybe_surrogate(part: &[u8]) -> bool {
    memchr::memchr_iter(b'\\', part).any(|at| match part.get(at + 1..at + 4) {
        Some([b'u', d, x]) => {
            d.eq_ignore_ascii_case(&b'd') && matches!(x.to_ascii_lowercase(), b'8'..=b'9' | b'a'..=b'f')
        }
        Some(_) => false,
        None => true,
    })
}

/// Where the scan is.
#[derive(Clone, Copy)]
enum State {
    /// Between strings.
    Out,
    /// In a string.
    In,
    /// After a `\` in a string.
    Escape,
    /// In a `\u` escape: where its digits start, how many were read, their value.
    Hex { start: usize, read: u8, value: u32 },
    /// Right after a high surrogate's escape (digits at `high`): a low one must follow.
    High { high: usize },
    /// After a high surrogate and a `\`.
    HighEscape { high: usize },
    /// In the `\u` escape after a high surrogate.
    PairHex { high: usize, start: usize, read: u8, value: u32 },
}

/// The offsets of the hex digits of every lone surrogate escape in the JSON text `bytes`.
fn lone_surrogates(bytes: impl Iterator<Item = u8>) -> Vec<usize> {
    let mut patches = Vec::new();
    let mut state = State::Out;
    for (at, b) in bytes.enumerate() {
        state = match state {
            State::Out => {
                if b == b'"' {
                    State::In
                } else {
                    State::Out
                }
            }
            State::In => in_string(b),
            State::Escape if b == b'u' => State::Hex { start: at + 1, read: 0, value: 0 },
            State::Escape => State::In,
            State::Hex { start, read, value } => match hex(b) {
                Some(d) if read < 3 => State::Hex { start, read: read + 1, value: value << 4 | d },
                Some(d) => match value << 4 | d {
                    0xd800..=0xdbff => State::High { high: start },
                    0xdc00..=0xdfff => {
                        patches.push(start);
                        State::In
                    }
                    _ => State::In,
                },
                // Not an escape: serde_json refuses the answer, as it should.
                None => in_string(b),
            },
            State::High { high } if b == b'\\' => State::HighEscape { high },
            State::High { high } => {
                patches.push(high);
                in_string(b)
            }
            State::HighEscape { high } if b == b'u' => {
                State::PairHex { high, start: at + 1, read: 0, value: 0 }
            }
            State::HighEscape { high } => {
                patches.push(high);
                State::In
            }
            State::PairHex { high, start, read, value } => match hex(b) {
                Some(d) if read < 3 => State::PairHex { high, start, read: read + 1, value: value << 4 | d },
                Some(d) => match value << 4 | d {
                    0xdc00..=0xdfff => State::In,
                    second => {
                        patches.push(high);
                        if (0xd800..=0xdbff).contains(&second) {
                            State::High { high: start }
                        } else {
                            State::In
                        }
                    }
                },
                None => in_string(b),
            },
        };
    }
    if let State::High { high } | State::HighEscape { high } | State::PairHex { high, .. } = state {
        patches.push(high);
    }
    patches
}

/// The state after `b` in a string.
fn in_string(b: u8) -> State {
    match b {
        b'\\' => State::Escape,
        b'"' => State::Out,
        _ => State::In,
    }
}

fn hex(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

impl Chunks {
    /// The chunks.
    pub(crate) fn parts(&self) -> &std::collections::VecDeque<Bytes> {
        &self.parts
    }

    /// Writes `with` at each of `offsets` (into the body as one text), copying only the chunks
    /// that change.
    fn patch(&mut self, offsets: &[usize], with: &[u8]) {
        let mut changed: Vec<Option<Vec<u8>>> = vec![None; self.parts.len()];
        let mut starts = Vec::with_capacity(self.parts.len());
        let mut start = 0;
        for part in &self.parts {
            starts.push(start);
            start += part.len();
        }
        for &offset in offsets {
            for (k, &byte) in with.iter().enumerate() {
                let at = offset + k;
                // The last chunk that starts at or before `at` (empty chunks start where the next does).
                let i = starts.partition_point(|&s| s <= at).saturating_sub(1);
                let Some(part) = self.parts.get(i) else { continue };
                let copy = changed[i].get_or_insert_with(|| part.to_vec());
                if let Some(slot) = copy.get_mut(at - starts[i]) {
                    *slot = byte;
                }
            }
        }
        for (part, copy) in self.parts.iter_mut().zip(changed) {
            if let Some(copy) = copy {
                *part = Bytes::from(copy);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn chunks(parts: &[&str]) -> Chunks {
        let mut body = Chunks::default();
        for part in parts {
            body.push(Bytes::copy_from_slice(part.as_bytes()));
        }
        body
    }

    fn repaired(parts: &[&str]) -> (Option<Value>, u64) {
        let mut body = chunks(parts);
        let n = repair(&mut body);
        (crate::upstream::capped::parse(body, 100).ok().map(|(v, _)| v), n)
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let body = r#"{"data": [{"companyName": "a\ud800b", "companyId": "c1"}, {"companyName": "ok", "companyId": "c2"}]}"#;
        assert!(serde_json::from_str::<Value>(body).is_err(), "serde_json refuses it whole");
        let (value, n) = repaired(&[body]);
        let want = json!({"data": [{"companyName": "a\u{fffd}b", "companyId": "c1"}, {"companyName": "ok", "companyId": "c2"}]});
        assert_eq!((value, n), (Some(want), 1));
        for (text, want, count) in [
            (r#"["\uDFFF"]"#, "\u{fffd}", 1),
            (r#"["\ud800\ud800"]"#, "\u{fffd}\u{fffd}", 2),
            (r#"["\ud800\n"]"#, "\u{fffd}\n", 1),
            (r#"["\ud800\u0041"]"#, "\u{fffd}A", 1),
            (r#"["\ud800"]"#, "\u{fffd}", 1),
            (r#"{"\udc00": 1}"#, "", 1),
            // A valid pair, an escaped backslash before text that looks like an escape.
            (r#"["\ud83d\ude00"]"#, "😀", 0),
            (r#"["\\ud800"]"#, "\\ud800", 0),
            (r#"["\\\ud800"]"#, "\\\u{fffd}", 1),
            (r#"["\u00e9\ud7ff\ue000"]"#, "é\u{d7ff}\u{e000}", 0),
        ] {
            let (value, n) = repaired(&[text]);
            assert_eq!(n, count, "{text}");
            let value = value.unwrap_or_else(|| panic!("{text} parses"));
            if !want.is_empty() {
                assert_eq!(value[0], Value::String(want.to_string()), "{text}");
            }
        }
    }

    #[test]
    fn escapes_split_across_chunks_are_found() {
        let text = r#"{"a": "x\ud800y", "b": "\ud83d\ude00", "c": "\\ud800"}"#;
        for at in 1..text.len() {
            for second in at..text.len() {
                let (value, n) = repaired(&[&text[..at], "", &text[at..second], &text[second..]]);
                let want = json!({"a": "x\u{fffd}y", "b": "😀", "c": "\\ud800"});
                assert_eq!((value, n), (Some(want), 1), "split at {at} and {second}");
            }
        }
    }

    #[test]
    fn other_bodies_are_left_alone() {
        for text in [r#"{"a": "\u6210\u529f", "b": "\"", "c": [1, 2]}"#, r#"["\ud8zz"]"#, r#"["\ud800"#, "x"]
        {
            let mut body = chunks(&[text]);
            let before: Vec<Bytes> = body.parts().iter().cloned().collect();
            let n = repair(&mut body);
            let after: Vec<Bytes> = body.parts().iter().cloned().collect();
            if text == r#"["\ud800"# {
                // Cut short after a high surrogate: patched, and still not JSON.
                assert_eq!(n, 1);
                continue;
            }
            assert_eq!((n, after), (0, before), "{text}");
        }
        assert!(repaired(&[r#"["\ud8zz"]"#]).0.is_none(), "an invalid escape is still refused");
    }
}
