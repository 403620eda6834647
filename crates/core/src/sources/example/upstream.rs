//! The example source's upstream on 127.0.0.1: it checks the `token` header (a wrong one answers
//! code `401`) and the `date` parameter (`yyyy-MM-dd`, else code `400`), and answers two shops
//! whose figures depend on the date's day of the month, so that two windows differ.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Serves the shop report on a free port of 127.0.0.1 until the task is aborted.
pub(crate) async fn upstream(token: &'static str) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = answer(&String::from_utf8_lossy(&request), token);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok((addr, task))
}

/// The answer to one request's head.
fn answer(head: &str, token: &str) -> String {
    let mut lines = head.lines();
    let target = lines.next().and_then(|l| l.split(' ').nth(1)).unwrap_or("");
    let authorized = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| k.eq_ignore_ascii_case("token") && v.trim() == token)
    });
    if !authorized {
        return r#"{"code":"401","message":"bad token"}"#.to_string();
    }
    let date = target.split_once("date=").map(|(_, d)| d.split('&').next().unwrap_or(""));
    let Some(day) = date.and_then(|d| d.parse::<jiff::civil::Date>().ok()) else {
        return r#"{"code":"400","message":"date is yyyy-MM-dd"}"#.to_string();
    };
    let n = i64::from(day.day());
    format!(
        r#"{{"code":"0","items":[{{"shop":"north","widgets":"{}","ratio":"12.50%"}},{{"shop":"south","widgets":"{}","ratio":"-"}}]}}"#,
        10 + n,
        100 + n
    )
}

/// The widgets the upstream answers for `shop` on `day`.
pub(crate) fn widgets(shop: &str, day: jiff::civil::Date) -> f64 {
    let base = if shop == "north" { 10 } else { 100 };
    f64::from(base + i32::from(day.day()))
}
