//! `/sd`: Prometheus HTTP service discovery of the tenants this replica serves, one group per
//! tenant, each scraped through `/probe` at one address: `--web.external-address` if it is set,
//! else the request's `Host` (a `host[:port]` of RFC 3986 characters and at most 255 bytes, else
//! the answer is 400), else the address listened on.
//!
//! The answer repeats the address once per tenant, so it is never built per request: the tenants'
//! part is encoded once per change of the served set, as the pieces between the addresses, and
//! joined with an address at most once for each of the first four addresses asked
//! for. Any other address is sent between the shared pieces as they are written: a connection
//! holds no more of its own than that address.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::{Reply, plain};
use crate::targets::TargetSet;

/// The longest address `/sd` gives its targets (a DNS name's limit).
pub(crate) const MAX_ADDRESS: usize = 255;

/// How many addresses keep a body of their own, per version of the served set.
const CACHED_ADDRESSES: usize = 4;

/// `/sd`'s address and its encoded answers.
#[derive(Debug, Default)]
pub struct Discovery {
    /// `--web.external-address`: used instead of the request's `Host`.
    external: Option<Bytes>,
    cache: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    /// The version of the served set the pieces were encoded from.
    version: Option<u64>,
    pieces: Pieces,
    /// Whole bodies: (address, body).
    bodies: Vec<(Bytes, Bytes)>,
}

/// The answer without its addresses: the address goes between every two pieces.
type Pieces = Arc<[Bytes]>;

impl Discovery {
    /// Targets at `external_address` (checked with [`check_address`]) whatever the request's
    /// `Host`; `None`: at the request's `Host`.
    pub(crate) fn new(external_address: Option<&str>) -> Discovery {
        let external = external_address.map(|a| Bytes::copy_from_slice(a.as_bytes()));
        Discovery { external, cache: Mutex::default() }
    }

    /// The answer to `req`: `targets`' tenants; `listen` is the address listened on, for a
    /// request without a `Host`.
    pub(crate) fn answer(
        &self,
        targets: &TargetSet,
        req: &Request<Incoming>,
        listen: SocketAddr,
    ) -> Response<Reply> {
        let address = match &self.external {
            Some(address) => address.clone(),
            None => match request_address(req) {
                Ok(Some(address)) => address,
                Ok(None) => Bytes::from(listen.to_string()),
                Err(reason) => {
                    let text = format!(
                        "{reason}: /sd lists its targets at that address; it must be host[:port] \
                         (RFC 3986, at most {MAX_ADDRESS} bytes), or set --web.external-address\n"
                    );
                    return plain(StatusCode::BAD_REQUEST, text);
                }
            },
        };
        let mut response = Response::new(self.body(targets, address));
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }

    /// The body for `address`: whole if it is cached or there is room, else spliced.
    fn body(&self, targets: &TargetSet, address: Bytes) -> Reply {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.version != Some(targets.tenants_version()) {
            // Encoded under the lock: concurrent requests wait for one encoding.
            let (version, tenants) = targets.tenants_versioned();
            *cache = Cache { version: Some(version), pieces: encode(&tenants), bodies: Vec::new() };
        }
        if let Some((_, body)) = cache.bodies.iter().find(|(a, _)| *a == address) {
            return Reply::one(body.clone());
        }
        if cache.bodies.len() < CACHED_ADDRESSES {
            let body = join(&cache.pieces, &address);
            cache.bodies.push((address, body.clone()));
            return Reply::one(body);
        }
        Reply::spliced(Spliced::new(cache.pieces.clone(), address))
    }
}

/// The request's `Host`, if it has one; `Err` if it has several or an invalid one.
fn request_address(req: &Request<Incoming>) -> Result<Option<Bytes>, &'static str> {
    let mut hosts = req.headers().get_all(HOST).iter();
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return match req.headers().contains_key(HOST) {
            true => Err("more than one Host header"),
            false => Ok(None),
        };
    };
    if host.is_empty() {
        return Ok(None);
    }
    let text = std::str::from_utf8(host.as_bytes()).map_err(|_| "the Host header is not valid")?;
    check_address(text).map_err(|_| "the Host header is not valid")?;
    Ok(Some(Bytes::copy_from_slice(host.as_bytes())))
}

/// Checks that `address` is a `host[:port]` of RFC 3986: a name or IPv4 address of unreserved
/// characters, sub-delimiters and percent-escapes, or an IPv6 address in brackets; a port of 1 to
/// 65535; at most [`MAX_ADDRESS`] bytes. None of these characters needs escaping in JSON.
pub(crate) fn check_address(address: &str) -> Result<(), &'static str> {
    if address.len() > MAX_ADDRESS {
        return Err("longer than 255 bytes");
    }
    let (host, port) = match address.strip_prefix('[') {
        Some(rest) => {
            let (ip, after) = rest.split_once(']').ok_or("an IPv6 address needs its closing ]")?;
            ip.parse::<std::net::Ipv6Addr>().map_err(|_| "not an IPv6 address in brackets")?;
            match after {
                "" => (None, None),
                after => (None, Some(after.strip_prefix(':').ok_or("expected :PORT after ]")?)),
            }
        }
        None => match address.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(address), None),
        },
    };
    if let Some(host) = host {
        if host.is_empty() {
            return Err("the host is empty");
        }
        if !reg_name(host.as_bytes()) {
            return Err("the host holds a character RFC 3986 does not allow");
        }
    }
    if let Some(port) = port {
        let valid = port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
        if !valid || !matches!(port.parse::<u32>(), Ok(1..=65535)) {
            return Err("the port is not a number from 1 to 65535");
        }
    }
    Ok(())
}

/// RFC 3986's `reg-name`: unreserved characters, sub-delimiters and `%` with two hex digits.
fn reg_name(host: &[u8]) -> bool {
    let mut i = 0;
    while i < host.len() {
        let b = host[i];
        if b == b'%' {
            let hex = host.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !hex {
                return false;
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b)) {
            return false;
        }
        i += 1;
    }
    true
}

/// The served tenants' groups, cut where their address goes (one piece more than tenants).
fn encode(tenants: &[(String, String)]) -> Pieces {
    if tenants.is_empty() {
        return Arc::from([Bytes::from_static(b"[]")]);
    }
    let mut pieces = Vec::with_capacity(tenants.len() + 1);
    let mut piece = String::from("[");
    for (i, (id, name)) in tenants.iter().enumerate() {
        if i > 0 {
            piece.push_str("\"]},");
        }
        let labels = serde_json::json!({
            "tenant": id,
            "tenant_name": name,
            "__metrics_path__": "/probe",
            "__param_target": id,
        });
        piece.push_str(&format!("{{\"labels\":{labels},\"targets\":[\""));
        pieces.push(Bytes::from(std::mem::take(&mut piece)));
    }
    pieces.push(Bytes::from_static(b"\"]}]"));
    pieces.into()
}

/// The whole body: the pieces joined by `address`.
fn join(pieces: &[Bytes], address: &Bytes) -> Bytes {
    let len = pieces.iter().map(Bytes::len).sum::<usize>() + address.len() * (pieces.len() - 1);
    let mut body = BytesMut::with_capacity(len);
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            body.extend_from_slice(address);
        }
        body.extend_from_slice(piece);
    }
    body.freeze()
}

/// A body sent as the shared pieces with an address between every two.
#[derive(Debug)]
pub(crate) struct Spliced {
    pieces: Pieces,
    address: Bytes,
    /// The next part: piece `next / 2` when even, the address when odd.
    next: usize,
}

impl Spliced {
    fn new(pieces: Pieces, address: Bytes) -> Spliced {
        Spliced { pieces, address, next: 0 }
    }

    /// Its length in bytes.
    pub(crate) fn len(&self) -> u64 {
        let pieces: usize = self.pieces.iter().map(Bytes::len).sum();
        (pieces + self.address.len() * self.pieces.len().saturating_sub(1)) as u64
    }

    /// The next part, `None` at the end.
    pub(crate) fn next_part(&mut self) -> Option<Bytes> {
        let next = self.next;
        if next >= (self.pieces.len() * 2).saturating_sub(1) {
            return None;
        }
        self.next += 1;
        Some(if next.is_multiple_of(2) { self.pieces[next / 2].clone() } else { self.address.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_of_rfc_3986_and_bounded_length_only() {
        for good in [
            "localhost",
            "127.0.0.1:9877",
            "sobot-exporter-0.sobot-exporter.monitoring.svc:9877",
            "[::1]:9877",
            "[2001:db8::1]",
            "a%2Db:1",
            "x_y~z:65535",
            &"a".repeat(MAX_ADDRESS),
        ] {
            assert_eq!(check_address(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            ":9877",
            "host:",
            "host:0",
            "host:65536",
            "host:+80",
            "a:b:c",
            "a\"b",
            "a\\b",
            "a b",
            "a/b",
            "a%2",
            "a%zz",
            "[::1",
            "[::1]x",
            "[not-v6]:80",
            "héllo",
            &"a".repeat(MAX_ADDRESS + 1),
        ] {
            assert!(check_address(bad).is_err(), "{bad:?}");
        }
    }

    fn tenants(n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("c{i}"), format!("Shop \"{i}\" 店"))).collect()
    }

    #[test]
    fn the_pieces_joined_or_spliced_are_the_groups_serde_would_write() {
        for n in [0, 1, 3] {
            let tenants = tenants(n);
            let want: Vec<serde_json::Value> = tenants
                .iter()
                .map(|(id, name)| {
                    serde_json::json!({
                        "targets": ["h:1"],
                        "labels": {
                            "tenant": id,
                            "tenant_name": name,
                            "__metrics_path__": "/probe",
                            "__param_target": id,
                        }
                    })
                })
                .collect();
            let want = serde_json::Value::Array(want).to_string();
            let pieces = encode(&tenants);
            let address = Bytes::from_static(b"h:1");
            assert_eq!(join(&pieces, &address), want.as_bytes(), "{n} tenants, joined");
            let mut spliced = Spliced::new(pieces, address);
            assert_eq!(spliced.len(), want.len() as u64);
            let mut body = Vec::new();
            while let Some(part) = spliced.next_part() {
                body.extend_from_slice(&part);
            }
            assert_eq!(body, want.as_bytes(), "{n} tenants, spliced");
        }
    }
}
