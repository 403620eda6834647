//! `--healthcheck`: a tiny HTTP(S) client for the container's HEALTHCHECK (distroless has no
//! curl). It speaks TLS when the web config (`--web.config.file`) does.
//!
//! Over TLS it does not verify the server's certificate, as the kubelet's HTTPS probes do not:
//! it asks its own process on loopback whether it serves, sends no credential (`/healthz` is
//! outside basic auth) and reads only a status code, so there is nothing for an impostor to
//! take, and a certificate issued for the service's name, expired, or renewed on disk a moment
//! before the server reads it is no reason to call the process dead. The handshake's signatures
//! are still checked, so it is real TLS with the certificate served.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::ServerName;

use super::verify::AnyCert;
use super::webconfig;

/// Asks `/healthz` of the exporter at `listen_address` (the unspecified address becomes
/// loopback), over TLS when the web config at `web_config` enables it, and succeeds on HTTP 200.
/// The error is one line.
pub fn check(listen_address: &str, web_config: Option<&Path>) -> Result<(), String> {
    let addr = target(listen_address)?;
    let tls = match web_config {
        Some(path) => match webconfig::client_auth(path)? {
            Some(auth) if auth.mandatory() => {
                return Err(format!(
                    "--web.config.file {} requires a client certificate (client_auth_type: {}), which \
                     --healthcheck has none of: check the port with a TCP probe instead",
                    path.display(),
                    auth.name()
                ));
            }
            Some(_) => Some(client_config()?),
            None => None,
        },
        None => None,
    };
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let head = match tls {
        None => ask(&mut stream).map_err(|e| format!("{addr}: {e}"))?,
        Some(config) => {
            let mut conn = rustls::ClientConnection::new(config, ServerName::IpAddress(addr.ip().into()))
                .map_err(|e| format!("TLS: {e}"))?;
            ask(&mut rustls::Stream::new(&mut conn, &mut stream)).map_err(|e| tls_failure(addr, &e))?
        }
    };
    // A TLS listener answers plain HTTP with a 400 that says so (`handshake`).
    if head.windows(HTTPS_ONLY.len()).any(|w| w == HTTPS_ONLY) {
        return Err(format!(
            "{addr} serves HTTPS: give --healthcheck the same --web.config.file (or set \
             SOBOT_EXPORTER_WEB_CONFIG_FILE for both)"
        ));
    }
    if !head.starts_with(b"HTTP/") {
        return Err(format!(
            "{addr} did not answer HTTP: if it serves TLS, give --healthcheck the same --web.config.file \
             (or set SOBOT_EXPORTER_WEB_CONFIG_FILE for both)"
        ));
    }
    let status_line = String::from_utf8_lossy(&head);
    let status = status_line.split_whitespace().nth(1).unwrap_or("");
    if status == "200" { Ok(()) } else { Err(format!("/healthz answered {status:?}")) }
}

/// What a TLS listener's answer to plain HTTP says.
const HTTPS_ONLY: &[u8] = b"Client sent an HTTP request to an HTTPS server.";

/// Sends the request and reads the answer (at most 512 bytes: the status line, and the body of a
/// short one).
fn ask(stream: &mut impl ReadWrite) -> std::io::Result<Vec<u8>> {
    stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    stream.flush()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while head.len() < buf.len() {
        match stream.read(&mut buf[..512 - head.len()]) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if head.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(head)
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// One line for a failed TLS exchange: the server's refusal of a client without a certificate
/// named as such, else rustls's reason.
fn tls_failure(addr: SocketAddr, e: &std::io::Error) -> String {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired)) => format!(
            "{addr} requires a client certificate, which --healthcheck has none of: check the port with a \
             TCP probe instead"
        ),
        Some(tls) => format!("TLS with {addr} failed: {tls}"),
        None => format!("TLS with {addr} failed: {e}"),
    }
}

/// A TLS client that takes the server's certificate unverified (see the module's note).
fn client_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert::server(&provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn target(listen_address: &str) -> Result<SocketAddr, String> {
    let full = if listen_address.starts_with(':') {
        format!("127.0.0.1{listen_address}")
    } else {
        listen_address.to_string()
    };
    let mut addr = full
        .to_socket_addrs()
        .map_err(|_| format!("bad --web.listen-address {listen_address:?}"))?
        .next()
        .ok_or_else(|| format!("bad --web.listen-address {listen_address:?}"))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_loopback_for_wildcard_addresses() {
        assert_eq!(target(":9877"), Ok("127.0.0.1:9877".parse().expect("addr")));
        assert_eq!(target("0.0.0.0:9877"), Ok("127.0.0.1:9877".parse().expect("addr")));
        assert_eq!(target("[::]:9877"), Ok("[::1]:9877".parse().expect("addr")));
        assert!(target("nowhere").is_err());
    }

    #[test]
    fn nothing_listening_is_unhealthy() {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        assert!(check(&format!("127.0.0.1:{port}"), None).is_err());
    }
}
