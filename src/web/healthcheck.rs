//! `--healthcheck`: a tiny HTTP client for the container's HEALTHCHECK (distroless has no curl).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Asks `http://<listen address>/healthz` (the unspecified address becomes loopback) and succeeds
/// on HTTP 200.
pub fn check(listen_address: &str) -> Result<(), String> {
    let addr = target(listen_address)?;
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| e.to_string())?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    let status = status_line.split_whitespace().nth(1).unwrap_or("");
    if status == "200" { Ok(()) } else { Err(format!("/healthz answered {status:?}")) }
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
        assert!(check(&format!("127.0.0.1:{port}")).is_err());
    }
}
