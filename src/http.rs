//! What every upstream client shares: the HTTP client with its timeouts, a rate limiter, and the
//! one function that sends a request and reads a JSON body.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::error::UpstreamError;

/// Upper bound on a response body we are willing to parse (quality pages of 10,000 records are
/// a few MiB).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// How to reach an upstream API.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// Base URL without trailing slash, e.g. `https://www.sobot.com`.
    pub base_url: String,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Total timeout of one request.
    pub timeout: Duration,
    /// Requests a minute (the upstream allows 1000).
    pub rate_limit_per_minute: u32,
}

/// Builds the HTTP client used for all upstream calls.
pub fn client(connect_timeout: Duration, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        // A redirect would carry the token and signature headers to another host: none followed.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("sobot_exporter/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends a request and parses its body as JSON. HTTP errors, timeouts and non-JSON bodies become
/// [`UpstreamError`]s; the vendor's own result code is left to the caller.
pub async fn send_json(request: reqwest::RequestBuilder) -> Result<Value, UpstreamError> {
    let mut response = request.send().await.map_err(|e| UpstreamError::from_transport(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(UpstreamError::Http(status.as_u16()));
    }
    let too_large = || UpstreamError::InvalidResponse(format!("body larger than {} MiB", MAX_BODY >> 20));
    if response.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    // Read chunk by chunk, so that a body without a length cannot grow past the limit.
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| UpstreamError::from_transport(&e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body)
        .map_err(|e| UpstreamError::InvalidResponse(format!("body is not JSON ({e})")))
}

/// Spaces requests so that at most `per_minute` start in any minute, allowing short bursts
/// (a generic cell rate algorithm).
#[derive(Debug)]
pub struct RateLimiter {
    spacing: Duration,
    burst: Duration,
    /// The theoretical arrival time of the next request.
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// A limiter for `per_minute` requests a minute with bursts of up to `burst` requests.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let spacing = Duration::from_secs(60) / per_minute.max(1);
        Self { spacing, burst: spacing * burst.saturating_sub(1), next: Mutex::new(None) }
    }

    /// Waits for this request's slot.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let tat = next.map_or(now, |t| t.max(now));
            let slot = tat.checked_sub(self.burst).map_or(now, |t| t.max(now));
            *next = Some(tat + self.spacing);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn limiter_allows_a_burst_then_spaces() {
        let limiter = RateLimiter::new(60, 3); // one a second, bursts of three
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }
}
