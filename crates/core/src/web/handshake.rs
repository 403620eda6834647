//! The start of a connection to the TLS listener: what its first bytes are, the answer to plain
//! HTTP sent to it, and the failed handshakes counted by reason
//! (`sobot_exporter_http_tls_handshake_failures_total`), the first of each reason logged.
//!
//! A TLS client opens with a handshake record (first byte 22). Anything else is not given to
//! rustls: an HTTP request gets `400 Client sent an HTTP request to an HTTPS server.` (as Go's
//! servers answer) and the connection is closed; other bytes close it at once.

use std::fmt::Display;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, CertificateError};
use tracing::{debug, info, warn};

/// The first byte of a TLS handshake record.
const HANDSHAKE_RECORD: u8 = 22;

/// The answer to plain HTTP on the TLS port.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
    Connection: close\r\nContent-Length: 48\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Longest time given to read a plain HTTP request's header and send the answer, and then to
/// see the client close (a socket closed with unread bytes is reset, and the client could lose
/// the answer).
const PLAIN_HTTP_TIME: Duration = Duration::from_secs(2);

/// Most bytes of a plain HTTP request read before answering.
const PLAIN_HTTP_READ: usize = 16 * 1024;

/// Why a TLS handshake failed: the `reason` label, a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// An HTTP request on the TLS port (answered 400).
    PlainHttp = 0,
    /// First bytes that are neither TLS nor HTTP.
    NotTls,
    /// The client closed or reset the connection (a TCP probe, a client that gave up).
    Closed,
    /// No handshake within `--web.idle-timeout`.
    Timeout,
    /// No TLS version, cipher suite, group or signature scheme in common.
    Incompatible,
    /// `client_auth_type` requires a client certificate and none was sent.
    NoCertificate,
    /// A client certificate not signed by `client_ca_file`.
    UnknownCa,
    /// A client certificate expired or not yet valid.
    Expired,
    /// A client certificate refused otherwise (malformed, X.509 v1, not for client auth, …).
    BadCertificate,
    /// The client ended the handshake with an alert (often: it does not trust our certificate).
    ClientAlert,
    /// A message that breaks the protocol.
    Protocol,
    /// Anything else.
    Other,
}

impl Reason {
    /// Every reason, in the order of their indices.
    pub(crate) const ALL: [Reason; 12] = [
        Reason::PlainHttp,
        Reason::NotTls,
        Reason::Closed,
        Reason::Timeout,
        Reason::Incompatible,
        Reason::NoCertificate,
        Reason::UnknownCa,
        Reason::Expired,
        Reason::BadCertificate,
        Reason::ClientAlert,
        Reason::Protocol,
        Reason::Other,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Reason::PlainHttp => "plain_http",
            Reason::NotTls => "not_tls",
            Reason::Closed => "closed",
            Reason::Timeout => "timeout",
            Reason::Incompatible => "incompatible",
            Reason::NoCertificate => "no_certificate",
            Reason::UnknownCa => "unknown_ca",
            Reason::Expired => "expired",
            Reason::BadCertificate => "bad_certificate",
            Reason::ClientAlert => "client_alert",
            Reason::Protocol => "protocol",
            Reason::Other => "other",
        }
    }

    /// The reason of a failed `TlsAcceptor::accept` (rustls's error inside the I/O error).
    pub(crate) fn of(e: &io::Error) -> Reason {
        let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) else {
            return match e.kind() {
                io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe => Reason::Closed,
                _ => Reason::Other,
            };
        };
        match tls {
            rustls::Error::NoCertificatesPresented => Reason::NoCertificate,
            rustls::Error::InvalidCertificate(cert) => match cert {
                CertificateError::UnknownIssuer => Reason::UnknownCa,
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => Reason::Expired,
                _ => Reason::BadCertificate,
            },
            rustls::Error::PeerIncompatible(_) => Reason::Incompatible,
            rustls::Error::AlertReceived(_) => Reason::ClientAlert,
            rustls::Error::InvalidMessage(_)
            | rustls::Error::PeerMisbehaved(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. }
            | rustls::Error::DecryptError => Reason::Protocol,
            _ => Reason::Other,
        }
    }

    /// Whether its first occurrence is logged at INFO rather than WARN: what load balancers'
    /// and orchestrators' TCP checks do.
    fn routine(self) -> bool {
        matches!(self, Reason::Closed | Reason::Timeout)
    }
}

/// What the first bytes of a connection to the TLS listener are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opening {
    /// A TLS handshake record.
    Tls,
    /// An HTTP request line (a method, then a space).
    Http,
    /// Something else.
    Other,
    /// Nothing: the client closed the connection.
    Closed,
}

impl Opening {
    /// Reads the opening of `bytes`, the first ones a client sent.
    pub(crate) fn of(bytes: &[u8]) -> Opening {
        let Some(&first) = bytes.first() else { return Opening::Closed };
        if first == HANDSHAKE_RECORD {
            return Opening::Tls;
        }
        // A method is a token of capital letters (GET, POST, PRI for HTTP/2's preface).
        let method = bytes.iter().take_while(|b| b.is_ascii_uppercase()).count();
        match bytes.get(method) {
            _ if method == 0 => Opening::Other,
            None | Some(b' ') => Opening::Http,
            Some(_) => Opening::Other,
        }
    }
}

/// Waits for the first bytes of `stream` without taking them, and says what they are.
pub(crate) async fn opening(stream: &TcpStream) -> io::Result<Opening> {
    let mut buf = [0u8; 8];
    let n = stream.peek(&mut buf).await?;
    Ok(Opening::of(&buf[..n]))
}

/// Answers plain HTTP on the TLS port with a 400 a person can read, then closes: reads the
/// request's header first and what the client sends until it closes, within a bounded time and
/// size, so that the answer is not lost to a reset.
pub(crate) async fn refuse_plain_http<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let answered = tokio::time::timeout(PLAIN_HTTP_TIME, async {
        while head.len() < PLAIN_HTTP_READ && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        stream.write_all(PLAIN_HTTP_ANSWER).await?;
        stream.shutdown().await
    })
    .await;
    if matches!(answered, Ok(Ok(()))) {
        let _ = tokio::time::timeout(PLAIN_HTTP_TIME, async {
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
        })
        .await;
    }
}

/// The failed handshakes by reason, and whether each reason was logged yet.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    counts: [AtomicU64; Reason::ALL.len()],
    logged: [AtomicBool; Reason::ALL.len()],
}

impl Failures {
    /// Counts one failure; logs the first of its reason (then at DEBUG).
    pub(crate) fn count(&self, reason: Reason, peer: SocketAddr, error: &dyn Display) {
        self.counts[reason as usize].fetch_add(1, Ordering::Relaxed);
        let label = reason.label();
        if self.logged[reason as usize].swap(true, Ordering::Relaxed) {
            debug!(%peer, reason = label, %error, "TLS handshake failed");
            return;
        }
        let msg = "TLS handshake failed (the first of this reason; all are counted in \
                   sobot_exporter_http_tls_handshake_failures_total{reason}, the next ones logged at debug)";
        if reason.routine() {
            info!(%peer, reason = label, %error, "{msg}");
        } else {
            warn!(%peer, reason = label, %error, "{msg}");
        }
    }

    /// Each reason's count.
    pub(crate) fn counts(&self) -> impl Iterator<Item = (Reason, u64)> + '_ {
        Reason::ALL.into_iter().map(|r| (r, self.counts[r as usize].load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_rustls::rustls::{AlertDescription, OtherError, PeerIncompatible};

    #[test]
    fn the_first_bytes_tell_tls_from_http() {
        assert_eq!(Opening::of(&[22, 3, 1, 0, 200]), Opening::Tls);
        assert_eq!(Opening::of(b"GET /met"), Opening::Http);
        assert_eq!(Opening::of(b"OPTIONS "), Opening::Http);
        assert_eq!(Opening::of(b"POS"), Opening::Http);
        assert_eq!(Opening::of(b"PRI * HT"), Opening::Http);
        assert_eq!(Opening::of(b"get /"), Opening::Other);
        assert_eq!(Opening::of(b"SSH-2.0-"), Opening::Other);
        assert_eq!(Opening::of(&[0x80, 0x2e, 1]), Opening::Other);
        assert_eq!(Opening::of(b""), Opening::Closed);
    }

    #[test]
    fn rustls_errors_map_to_their_reasons() {
        let io = |e: rustls::Error| io::Error::new(io::ErrorKind::InvalidData, e);
        let v1 = CertificateError::Other(OtherError(std::sync::Arc::new(io::Error::other(
            "UnsupportedCertVersion",
        ))));
        let cases = [
            (io(rustls::Error::NoCertificatesPresented), Reason::NoCertificate),
            (io(CertificateError::UnknownIssuer.into()), Reason::UnknownCa),
            (io(CertificateError::Expired.into()), Reason::Expired),
            // What webpki says of an X.509 v1 certificate.
            (io(v1.into()), Reason::BadCertificate),
            (io(PeerIncompatible::NoCipherSuitesInCommon.into()), Reason::Incompatible),
            (io(rustls::Error::AlertReceived(AlertDescription::UnknownCA)), Reason::ClientAlert),
            (io(rustls::Error::DecryptError), Reason::Protocol),
            (io(rustls::Error::General("x".into())), Reason::Other),
            (io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof"), Reason::Closed),
            (io::Error::from(io::ErrorKind::ConnectionReset), Reason::Closed),
        ];
        for (error, want) in cases {
            assert_eq!(Reason::of(&error), want, "{error}");
        }
        for (i, reason) in Reason::ALL.into_iter().enumerate() {
            assert_eq!(reason as usize, i, "{reason:?}");
        }
    }

    #[test]
    fn the_plain_http_answer_is_complete() {
        let text = std::str::from_utf8(PLAIN_HTTP_ANSWER).expect("text");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.contains(&format!("Content-Length: {}", body.len())), "{head}");
    }
}
