//! JSON answers parsed in bounded memory: every list keeps at most a number of items, and the
//! items past it are skipped as they are read (checked for syntax, never built).
//!
//! A `serde_json::Value` costs far more than its text (a one-field object is a map node of
//! several hundred bytes), so an answer of millions of tiny items would cost gigabytes. The cap
//! is applied inside serde's visitor calls: a wrapper around the deserializer hands each list to
//! the `Value` visitor through an access that ends the list after `max` items and drains the rest
//! with [`IgnoredAny`]. Everything else (numbers kept as written, nesting limits, errors) is
//! serde_json's own.

use std::cell::Cell;
use std::fmt;
use std::io::Read;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// `body` parsed as one JSON value whose lists (at any depth) keep at most `max_items` items
/// each; returns the value and how many items were skipped.
pub(crate) fn parse(body: impl Read, max_items: usize) -> Result<(Value, u64), serde_json::Error> {
    let dropped = Cell::new(0);
    // serde_json reads a reader byte by byte: through a buffer, that is a copy, not a call.
    let mut json = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(64 * 1024, body));
    let value =
        Value::deserialize(Capped { inner: &mut json, cap: Cap { max: max_items, dropped: &dropped } })?;
    json.end()?;
    Ok((value, dropped.get()))
}

/// A body as the chunks it arrived in, read in order.
#[derive(Debug, Default)]
pub(crate) struct Chunks {
    pub(super) parts: std::collections::VecDeque<bytes::Bytes>,
    len: usize,
}

impl Chunks {
    /// Appends a chunk.
    pub(crate) fn push(&mut self, chunk: bytes::Bytes) {
        self.len += chunk.len();
        self.parts.push_back(chunk);
    }

    /// Bytes pushed so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(front) = self.parts.front_mut() {
            if front.is_empty() {
                self.parts.pop_front();
                continue;
            }
            let n = buf.len().min(front.len());
            buf[..n].copy_from_slice(&front[..n]);
            bytes::Buf::advance(front, n);
            return Ok(n);
        }
        Ok(0)
    }
}

/// The cap, carried down to every nested value.
#[derive(Clone, Copy)]
struct Cap<'c> {
    max: usize,
    dropped: &'c Cell<u64>,
}

/// A deserializer whose visitors see capped lists.
struct Capped<'c, T> {
    inner: T,
    cap: Cap<'c>,
}

macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.inner.$method(Capped { inner: visitor, cap: self.cap })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Capped<'_, D> {
    type Error = D::Error;

    forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_unit_struct(name, Capped { inner: v, cap: self.cap })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_newtype_struct(name, Capped { inner: v, cap: self.cap })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_tuple(len, Capped { inner: v, cap: self.cap })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_tuple_struct(name, len, Capped { inner: v, cap: self.cap })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_struct(name, fields, Capped { inner: v, cap: self.cap })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_enum(name, variants, Capped { inner: v, cap: self.cap })
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! visit {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Capped<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128)
        visit_f32(f32) visit_f64(f64) visit_char(char) visit_str(&str) visit_borrowed_str(&'de str)
        visit_string(String) visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(Capped { inner: d, cap: self.cap })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(Capped { inner: d, cap: self.cap })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_seq(Items { inner: seq, cap: self.cap, left: self.cap.max })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(Capped { inner: map, cap: self.cap })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for Capped<'_, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Value, D::Error> {
        self.inner.deserialize(Capped { inner: d, cap: self.cap })
    }
}

/// A map's values are capped too; its keys are plain strings.
impl<'de, A: MapAccess<'de>> MapAccess<'de> for Capped<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.inner.next_value_seed(Capped { inner: seed, cap: self.cap })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// A list that ends for its visitor after `left` more items; the rest are read and skipped.
struct Items<'c, A> {
    inner: A,
    cap: Cap<'c>,
    left: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Items<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        if self.left == 0 {
            while self.inner.next_element::<IgnoredAny>()?.is_some() {
                self.cap.dropped.set(self.cap.dropped.get().saturating_add(1));
            }
            return Ok(None);
        }
        self.left -= 1;
        self.inner.next_element_seed(Capped { inner: seed, cap: self.cap })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint().map(|n| n.min(self.left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_keep_their_first_items_at_every_depth() {
        let body = br#"{"items": [1, 2, 3, {"nested": [4, 5, 6]}], "s": "x", "o": {"a": [7, [8], 9]}}"#;
        let (value, dropped) = parse(&body[..], 2).expect("valid JSON");
        assert_eq!(value, json!({"items": [1, 2], "s": "x", "o": {"a": [7, [8]]}}));
        assert_eq!(dropped, 3, "3 and the object after it, 9");
    }

    #[test]
    fn below_the_cap_the_value_is_serde_jsons_own() {
        let body = br#"{"ret_code": "000000", "n": 1e400, "f": 0.10, "big": 123456789012345678901234567890,
            "items": [{"a": null, "b": true, "c": "53.49%", "d": [], "e": {}}], "u": "\u6210\u529f"}"#;
        let (value, dropped) = parse(&body[..], 10).expect("valid JSON");
        assert_eq!(value, serde_json::from_slice::<Value>(body).expect("valid JSON"));
        assert_eq!(dropped, 0);
        assert_eq!(value["n"].to_string(), "1e+400", "out-of-range numbers are kept, not lost");
        for fixture in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/sobot"))
            .expect("fixtures")
            .flatten()
        {
            let text = std::fs::read(fixture.path()).expect("readable fixture");
            let Ok(expected) = serde_json::from_slice::<Value>(&text) else { continue };
            assert_eq!(parse(&text[..], 10_000).map(|(v, _)| v).ok(), Some(expected), "{:?}", fixture.path());
        }
    }

    #[test]
    fn skipped_items_are_still_checked_and_the_end_too() {
        for bad in
            [&br#"[1, 2, 3, }"#[..], br#"[1, 2, 3, "#, br#"[1, 2, [3, 4"#, br#"[1] [2]"#, b"[1, 2, 3] x"]
        {
            assert!(parse(bad, 1).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn chunks_read_as_one_body() {
        let mut chunks = Chunks::default();
        for part in [&b"{\"items\": [1, "[..], b"", b"2", b", 3]}"] {
            chunks.push(bytes::Bytes::copy_from_slice(part));
        }
        assert_eq!(chunks.len(), 20);
        assert_eq!(parse(chunks, 2).ok(), Some((json!({"items": [1, 2]}), 1)));
    }

    #[test]
    fn a_million_items_build_only_the_first() {
        let mut body = b"{\"items\": [".to_vec();
        for i in 0..1_000_000 {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(br#"{"a":1}"#);
        }
        body.extend_from_slice(b"]}");
        let (value, dropped) = parse(&body[..], 1000).expect("valid JSON");
        assert_eq!(value["items"].as_array().map(Vec::len), Some(1000));
        assert_eq!(dropped, 999_000);
    }
}
