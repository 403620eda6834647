//! What a fault makes of an answer: bodies that stream (a large answer never built in memory, an
//! answer cut off by a broken connection), the normal answer reshaped or cut short, random codes.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use serde_json::{Map, Value};

use super::data::mix;

/// A response body, sent chunk by chunk.
#[derive(Debug)]
pub(super) struct SimBody {
    chunks: VecDeque<Bytes>,
    /// After the last chunk the connection breaks instead of the answer ending, once this pause
    /// is over (so that what was sent reaches the client first).
    broken: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The length announced in `Content-Length`.
    length: u64,
}

impl SimBody {
    /// A whole body.
    pub(super) fn full(body: Bytes) -> Self {
        let length = body.len() as u64;
        Self { chunks: VecDeque::from([body]), broken: None, length }
    }

    /// `chunks` one after the other.
    fn chunks(chunks: VecDeque<Bytes>) -> Self {
        let length = chunks.iter().map(|c| c.len() as u64).sum();
        Self { chunks, broken: None, length }
    }

    /// The first `sent` bytes of `body` (announced whole), then a broken connection.
    pub(super) fn broken_after(body: &Bytes, sent: usize) -> Self {
        let prefix = body.slice(..sent.min(body.len().saturating_sub(1)));
        let pause = Box::pin(tokio::time::sleep(std::time::Duration::from_millis(20)));
        Self { chunks: VecDeque::from([prefix]), broken: Some(pause), length: body.len() as u64 }
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(chunk) = self.chunks.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        match self.broken.as_mut().map(|pause| pause.as_mut().poll(cx)) {
            Some(Poll::Pending) => Poll::Pending,
            Some(Poll::Ready(())) => {
                self.broken = None;
                Poll::Ready(Some(Err(std::io::Error::other("connection broken by a fault"))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty() && self.broken.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.length)
    }
}

/// One padding row of a large answer.
const PAD_ROW: &[u8] = b"{\"a\":1}";
/// Padding rows per streamed chunk (64 KiB with their commas).
const PAD_ROWS_PER_CHUNK: usize = 8192;

/// The normal answer `body` with its first list (depth first; a `padding` list added when it has
/// none) extended by `{"a":1}` rows to about `bytes` bytes in all, as chunks that share one
/// 64 KiB block: the body is streamed, never built. A body that is not a JSON object is returned
/// as it is.
pub(super) fn large(body: &Bytes, bytes: usize) -> SimBody {
    const MARK: &str = "__simulator_padding__";
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(body) else {
        return SimBody::full(body.clone());
    };
    let kept = match first_mut(&mut map, &Value::is_array) {
        Some(list) => std::mem::replace(list, Value::String(MARK.to_string())),
        None => {
            map.insert("padding".to_string(), Value::String(MARK.to_string()));
            Value::Array(Vec::new())
        }
    };
    let text = Value::Object(map).to_string();
    let Some((head, tail)) = text.split_once(&format!("\"{MARK}\"")) else {
        return SimBody::full(body.clone());
    };
    let mut open = String::from("[");
    for row in kept.as_array().into_iter().flatten() {
        open.push_str(&row.to_string());
        open.push(',');
    }
    let mut chunks = VecDeque::from([Bytes::from(format!("{head}{open}"))]);
    let rows = bytes.saturating_sub(text.len()) / (PAD_ROW.len() + 1);
    let block: Bytes =
        PAD_ROW.iter().chain(b",").copied().cycle().take((PAD_ROW.len() + 1) * PAD_ROWS_PER_CHUNK).collect();
    let (full, rest) = (rows / PAD_ROWS_PER_CHUNK, rows % PAD_ROWS_PER_CHUNK);
    chunks.extend(std::iter::repeat_n(block.clone(), full));
    chunks.push_back(block.slice(..rest * (PAD_ROW.len() + 1)));
    // The last row has no comma after it.
    chunks.push_back(Bytes::from(format!("{}]{tail}", String::from_utf8_lossy(PAD_ROW))));
    SimBody::chunks(chunks)
}

/// The first value below the top of `map` (depth first) that `pick` accepts.
fn first_mut<'a>(map: &'a mut Map<String, Value>, pick: &dyn Fn(&Value) -> bool) -> Option<&'a mut Value> {
    map.values_mut().find_map(|v| first_in(v, pick))
}

fn first_in<'a>(value: &'a mut Value, pick: &dyn Fn(&Value) -> bool) -> Option<&'a mut Value> {
    if pick(value) {
        return Some(value);
    }
    match value {
        Value::Object(map) => first_mut(map, pick),
        Value::Array(list) => list.iter_mut().find_map(|v| first_in(v, pick)),
        _ => None,
    }
}

/// The normal answer with its first object below the top (depth first) wrapped in a list, as an
/// upstream that sends a list where the document has an object; the body unchanged if it has none.
pub(super) fn list_for_object(body: &Bytes) -> Bytes {
    reshape(body, &Value::is_object, |v| Value::Array(vec![v]))
}

/// The normal answer with its first list (depth first) turned into an object keyed by position,
/// as an upstream that sends an object where the document has a list.
pub(super) fn object_for_list(body: &Bytes) -> Bytes {
    reshape(body, &Value::is_array, |v| match v {
        Value::Array(list) => {
            Value::Object(list.into_iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect())
        }
        other => other,
    })
}

/// The normal answer with its first object or list below the top (its data) replaced by a
/// string, as an upstream that sends a string where the document has an object or a list.
pub(super) fn string_for_data(body: &Bytes) -> Bytes {
    let data = |v: &Value| v.is_object() || v.is_array();
    reshape(body, &data, |_| Value::String("no data today".to_string()))
}

fn reshape(body: &Bytes, pick: &dyn Fn(&Value) -> bool, change: impl FnOnce(Value) -> Value) -> Bytes {
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(body) else {
        return body.clone();
    };
    let Some(found) = first_mut(&mut map, pick) else {
        return body.clone();
    };
    *found = change(found.take());
    Bytes::from(Value::Object(map).to_string())
}

/// The first half of the normal answer, as a complete HTTP answer: JSON cut short.
pub(super) fn truncated(body: &Bytes) -> Bytes {
    body.slice(..body.len() / 2)
}

/// An HTML error page such as a proxy or a load balancer sends with status 200.
pub(super) const HTML_PAGE: &[u8] =
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><h1>Bad Gateway</h1></body></html>\n";

/// A result code of 6 to 8 digits, none of them documented, from `seed`.
pub(super) fn random_code(seed: u64) -> String {
    let n = mix(seed);
    let digits = 6 + (n % 3) as u32;
    let low = 10u64.pow(digits - 1);
    // Documented codes start with 0, 2, 7 or 9: a leading 1, 3, 4, 5, 6 or 8 is none of them.
    let lead = [1, 3, 4, 5, 6, 8][((n >> 8) % 6) as usize];
    (lead * low + (n >> 16) % low).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn collect(body: SimBody) -> Result<Vec<u8>, std::io::Error> {
        Ok(body.collect().await?.to_bytes().to_vec())
    }

    #[tokio::test]
    async fn a_large_answer_is_valid_json_of_the_size_asked_built_from_shared_chunks() {
        let normal = Bytes::from_static(br#"{"ret_code":"000000","items":[{"id":"x"},{"id":"y"}]}"#);
        let body = large(&normal, 1 << 20);
        assert!(body.chunks.len() > 10, "streamed in chunks");
        // The padding chunks share one block: no copy of a megabyte was made.
        let blocks: Vec<&Bytes> = body.chunks.iter().filter(|c| c.len() == 8 * PAD_ROWS_PER_CHUNK).collect();
        assert!(blocks.len() >= 10 && blocks.windows(2).all(|w| w[0].as_ptr() == w[1].as_ptr()));
        let length = body.length;
        let bytes = collect(body).await.expect("body");
        assert_eq!(bytes.len() as u64, length);
        assert!((1 << 20) - 64 <= bytes.len() && bytes.len() <= (1 << 20) + 64, "{}", bytes.len());
        let value: Value = serde_json::from_slice(&bytes).expect("valid JSON");
        let items = value["items"].as_array().expect("list");
        assert_eq!(items[..2], [serde_json::json!({"id": "x"}), serde_json::json!({"id": "y"})]);
        assert_eq!(items[2], serde_json::json!({"a": 1}));
        assert!(items.len() > 100_000);
        assert_eq!(value["ret_code"], "000000");

        // No list: one is added beside the envelope.
        let normal = Bytes::from_static(br#"{"ret_code":"000000","item":{"a":"1"}}"#);
        let value: Value =
            serde_json::from_slice(&collect(large(&normal, 4096)).await.expect("body")).expect("JSON");
        assert_eq!(value["item"]["a"], "1");
        assert!(value["padding"].as_array().is_some_and(|l| l.len() > 400));
    }

    #[tokio::test]
    async fn a_broken_answer_sends_part_then_fails() {
        let normal = Bytes::from_static(br#"{"ret_code":"000000","item":{}}"#);
        let mut body = SimBody::broken_after(&normal, 10);
        assert_eq!(body.size_hint().exact(), Some(normal.len() as u64));
        let first = body.frame().await.expect("a frame").expect("data");
        assert_eq!(first.into_data().ok(), Some(normal.slice(..10)));
        assert!(body.frame().await.expect("a frame").is_err());
        assert!(body.frame().await.is_none());
    }

    #[test]
    fn reshaped_answers_swap_lists_and_objects() {
        let item = Bytes::from_static(br#"{"ret_code":"000000","item":{"a":"1"}}"#);
        let items = Bytes::from_static(br#"{"ret_code":"000000","items":[{"a":"1"},{"a":"2"}]}"#);
        let parse = |b: Bytes| serde_json::from_slice::<Value>(&b).expect("JSON");
        assert_eq!(parse(list_for_object(&item))["item"], serde_json::json!([{"a": "1"}]));
        assert_eq!(parse(list_for_object(&items))["items"], serde_json::json!([[{"a": "1"}], {"a": "2"}]));
        assert_eq!(
            parse(object_for_list(&items))["items"],
            serde_json::json!({"0": {"a": "1"}, "1": {"a": "2"}})
        );
        assert_eq!(object_for_list(&item), item, "no list: unchanged");
        assert_eq!(parse(string_for_data(&item))["item"], "no data today");
        assert_eq!(parse(string_for_data(&items))["items"], "no data today");
        let envelope = Bytes::from_static(br#"{"ret_code":"000000"}"#);
        assert_eq!(string_for_data(&envelope), envelope, "no data: unchanged");
        assert!(serde_json::from_slice::<Value>(&truncated(&items)).is_err());
        assert!(items.starts_with(&truncated(&items)));
    }

    #[test]
    fn random_codes_are_undocumented_codes_of_six_to_eight_digits() {
        let codes: std::collections::BTreeSet<String> = (0..1000).map(random_code).collect();
        assert!(codes.len() > 990);
        for code in &codes {
            assert!((6..=8).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
            let label = sobot_exporter_core::upstream::UpstreamError::api(code.as_str(), "").code_label();
            assert_eq!(label, "other", "{code} is not documented");
        }
    }
}
