//! The one request path of every upstream client: the HTTP client with its timeouts, a rate
//! limiter, and the one place that sends a request, reads its JSON body, logs and counts the outcome.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use tracing::{debug, warn};

mod capped;
mod error;
mod surrogates;

use crate::secret::Secret;
use crate::telemetry::Telemetry;
#[cfg(test)]
pub(crate) use capped::parse as parse_capped;
pub(crate) use error::out_of_files;
pub use error::{DOCUMENTED_CODES, UpstreamError};

/// Upper bound on a response body we are willing to parse (quality pages of 10,000 records are
/// a few MiB).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Items a list of an answer keeps by default: twice the largest page the documents allow
/// (10,000 quality records); the rest are skipped unread and counted.
pub(crate) const MAX_ITEMS: usize = 20_000;

/// Bodies larger than this are parsed on a blocking thread, off the runtime's workers.
const PARSE_INLINE_MAX: usize = 1024 * 1024;

tokio::task_local! {
    /// The deadline of the cycle a call belongs to (set by the target's task for its collectors):
    /// a call whose rate-limit slot would come after it fails at once with
    /// [`UpstreamError::Budget`] and takes no slot, instead of waiting to be cut off while its
    /// slot stays reserved (which starved every later cycle).
    static DEADLINE: Instant;
}

/// Runs `work` (a collector's cycle) with calls bound by `deadline` (see [`DEADLINE`]).
pub(crate) async fn within<F: std::future::Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// How to reach an upstream API.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// One upstream API as every client uses it: the HTTP client with its timeouts, the base URL, the
/// rate limit, and the one place that sends, checks the vendor's result code, logs and counts.
#[derive(Debug)]
pub(crate) struct Upstream {
    client: reqwest::Client,
    base_url: String,
    limiter: Limiter,
    /// Items each list of an answer keeps.
    max_items: usize,
    /// Endpoints whose answers were cut at `max_items`, warned about once.
    warned: Mutex<BTreeSet<String>>,
    /// The credentials of the target: taken out of any upstream text an error carries.
    secrets: Vec<Secret>,
    telemetry: Arc<Telemetry>,
}

/// How an [`Upstream`] spaces its requests.
#[derive(Debug)]
enum Limiter {
    /// A rate with bursts (the statistics and Laaffic APIs).
    Rate(RateLimiter),
    /// A hard count per sliding window (the platform API's 20 calls a minute).
    Window(WindowLimiter),
}

/// The HTTP client (and its connection pool) of one vendor, shared by every target; fails only
/// if the TLS backend cannot be initialised.
pub fn http_client(settings: &ClientSettings) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        // A redirect would carry the token and signature headers to another host: none followed.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("sobot_exporter/", env!("CARGO_PKG_VERSION")))
        .build()
}

impl Upstream {
    /// One target's view of an upstream: the vendor's shared `client` (from [`http_client`]), the
    /// base URL, a rate limiter of its own (the limit is per company), the target's `secrets`
    /// (every one of them is redacted from the upstream's text in errors), its self-metrics.
    pub(crate) fn new(
        settings: &ClientSettings,
        client: reqwest::Client,
        secrets: Vec<Secret>,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        Self {
            client,
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            limiter: Limiter::Rate(RateLimiter::per_minute(settings.rate_limit_per_minute)),
            max_items: MAX_ITEMS,
            warned: Mutex::default(),
            secrets,
            telemetry,
        }
    }

    /// The same upstream keeping up to `max` items per list of an answer instead of
    /// [`MAX_ITEMS`] (for an endpoint that lists every tenant or staff of a platform at once).
    #[must_use]
    pub(crate) fn with_max_items(mut self, max: usize) -> Self {
        self.max_items = max.max(1);
        self
    }

    /// Like [`Upstream::new`], but at most `max` requests start in any `window`, whatever
    /// `settings.rate_limit_per_minute` says: for an endpoint with a hard limit of its own.
    pub(crate) fn with_window_limit(
        settings: &ClientSettings,
        client: reqwest::Client,
        max: usize,
        window: Duration,
        secrets: Vec<Secret>,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        Self {
            limiter: Limiter::Window(WindowLimiter::new(max, window)),
            ..Self::new(settings, client, secrets, telemetry)
        }
    }

    /// The base URL, without a trailing slash.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The self-metrics the calls are counted in.
    pub(crate) fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Waits for a rate-limit slot, then builds the request (so that a signed timestamp is fresh)
    /// from the client and the URL of `path`, sends it, checks the vendor's result code and decodes
    /// the answer into the documented shape with `check`, and counts the outcome under `endpoint`:
    /// `ok_code` only when `check` took the answer, so that a well-formed answer of the wrong shape
    /// counts as `invalid_response`, as a body that is not JSON does.
    ///
    /// Every error it returns has the target's secrets, and the values of the request's
    /// sensitive headers (a token), taken out of the upstream's text.
    pub(crate) async fn send<T>(
        &self,
        endpoint: &str,
        path: &str,
        ok_code: &str,
        build: impl FnOnce(&reqwest::Client, String) -> reqwest::RequestBuilder,
        check: impl FnOnce(Value) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        let url = format!("{}{path}", self.base_url);
        let deadline = DEADLINE.try_with(|d| *d).ok();
        let slot = match &self.limiter {
            Limiter::Rate(limiter) => limiter.acquire(deadline).await,
            Limiter::Window(limiter) => limiter.acquire(deadline).await,
        };
        if let Err(wait) = slot {
            let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            debug!(endpoint, code = "budget", wait_ms, "no rate-limit slot before the cycle's deadline");
            self.telemetry.count_request(endpoint, "budget");
            return Err(UpstreamError::Budget(wait_ms).at(endpoint, &url));
        }
        let (client, request) = build(&self.client, url.clone()).build_split();
        let sensitive: Vec<String> = request.as_ref().map_or_else(|_| Vec::new(), sensitive_headers);
        let started = Instant::now();
        let mut in_flight = InFlight { telemetry: &self.telemetry, endpoint, done: false };
        let result = send_json(&client, request, self.max_items)
            .await
            .and_then(|Parsed { body, dropped, replaced }| {
                if dropped > 0 {
                    self.items_dropped(endpoint, dropped);
                }
                if replaced > 0 {
                    debug!(
                        endpoint,
                        replaced, "lone surrogate escapes in the answer's strings replaced by U+FFFD"
                    );
                    self.telemetry.count_parse_errors(endpoint, LONE_SURROGATE, replaced);
                }
                check(body)
            })
            .map_err(|e| {
                let secrets =
                    self.secrets.iter().map(Secret::expose).chain(sensitive.iter().map(String::as_str));
                e.redacted(&secrets.collect::<Vec<_>>()).at(endpoint, &url)
            });
        in_flight.done = true;
        let code = match &result {
            Ok(_) => ok_code.to_string(),
            Err(e) => e.code_label(),
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        debug!(endpoint, code, elapsed_ms, "upstream call");
        self.telemetry.count_request(endpoint, &code);
        result
    }
}

impl Upstream {
    /// Counts the items of an answer skipped past the cap; warns the first time per endpoint.
    fn items_dropped(&self, endpoint: &str, dropped: u64) {
        self.telemetry.count_items_dropped(endpoint, dropped);
        let first = self.warned.lock().unwrap_or_else(PoisonError::into_inner).insert(endpoint.to_string());
        if first {
            warn!(
                endpoint,
                max_items = self.max_items,
                dropped,
                "an answer listed more items than the exporter keeps: the rest were skipped (logged once; see sobot_exporter_upstream_items_dropped_total)"
            );
        } else {
            debug!(endpoint, dropped, "answer items skipped past the cap");
        }
    }
}

/// A request on its way: one that is dropped before its answer (its cycle's deadline cut it off,
/// which happens before its own timeout when the interval is shorter) is counted as `deadline`
/// rather than not at all.
struct InFlight<'a> {
    telemetry: &'a Telemetry,
    endpoint: &'a str,
    done: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.done {
            debug!(
                endpoint = self.endpoint,
                code = "deadline",
                "upstream call cut off by the cycle's deadline"
            );
            self.telemetry.count_request(self.endpoint, "deadline");
        }
    }
}

/// The values of the headers of `request` marked sensitive (a token).
fn sensitive_headers(request: &reqwest::Request) -> Vec<String> {
    let values = request.headers().values().filter(|v| v.is_sensitive());
    values.filter_map(|v| v.to_str().ok()).map(str::to_string).collect()
}

/// The `field` of `sobot_exporter_parse_errors_total` under which a string's lone surrogate
/// escapes are counted (see [`surrogates`]): which key held the string is in no table.
pub(crate) const LONE_SURROGATE: &str = "lone_surrogate";

/// A parsed answer.
struct Parsed {
    body: Value,
    /// List items skipped past the cap.
    dropped: u64,
    /// Lone surrogate escapes replaced by U+FFFD.
    replaced: u64,
}

/// Sends a request and parses its body as JSON, lone surrogate escapes replaced (see
/// [`surrogates`]) and every list cut at `max_items` (see [`capped`]). HTTP errors, timeouts and
/// non-JSON bodies become [`UpstreamError`]s; the vendor's own result code is left to the caller.
async fn send_json(
    client: &reqwest::Client,
    request: reqwest::Result<reqwest::Request>,
    max_items: usize,
) -> Result<Parsed, UpstreamError> {
    let request = request.map_err(|e| UpstreamError::from_transport(&e))?;
    let mut response = client.execute(request).await.map_err(|e| UpstreamError::from_transport(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(UpstreamError::Http(status.as_u16()));
    }
    let too_large = || UpstreamError::InvalidResponse(format!("body larger than {} MiB", MAX_BODY >> 20));
    if response.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    // Read chunk by chunk, so that a body without a length cannot grow past the limit. The
    // chunks are parsed where they are, never copied into one buffer: a large contiguous
    // allocation would raise glibc's mmap threshold and stay with the process after the spike.
    let mut body = capped::Chunks::default();
    while let Some(chunk) = response.chunk().await.map_err(|e| UpstreamError::from_transport(&e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.push(chunk);
    }
    let inline = body.len() <= PARSE_INLINE_MAX;
    let parse = move || {
        let replaced = surrogates::repair(&mut body);
        capped::parse(body, max_items)
            .map(|(body, dropped)| Parsed { body, dropped, replaced })
            .map_err(|e| UpstreamError::InvalidResponse(format!("body is not JSON ({e})")))
    };
    if inline {
        return parse();
    }
    tokio::task::spawn_blocking(parse)
        .await
        .unwrap_or_else(|e| Err(UpstreamError::InvalidResponse(format!("parsing the body failed ({e})"))))
}

/// Spaces requests so that at most `per_minute` start in any minute, allowing short bursts
/// (a generic cell rate algorithm).
#[derive(Debug)]
pub(crate) struct RateLimiter {
    spacing: Duration,
    burst: Duration,
    /// The theoretical arrival time of the next request.
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// A limiter for `per_minute` requests a minute with bursts of up to `burst` requests.
    pub(crate) fn new(per_minute: u32, burst: u32) -> Self {
        let spacing = Duration::from_secs(60) / per_minute.max(1);
        Self { spacing, burst: spacing * burst.saturating_sub(1), next: Mutex::new(None) }
    }

    /// At most `limit` requests in any minute, the vendors' way of counting: bursts of up to 20
    /// (at most half the limit) and a steady rate that leaves room for them. (A rate of `limit`
    /// with bursts on top let 1,002 calls into one minute of a saturating backfill, measured by
    /// the backfill bench: the upstream refused two.)
    pub(crate) fn per_minute(limit: u32) -> Self {
        let burst = 20.min(limit / 2).max(1);
        Self::new(limit.saturating_sub(burst), burst)
    }

    /// Waits for this request's slot; if it comes after `deadline`, takes none and returns at
    /// once how long it would have waited.
    pub(crate) async fn acquire(&self, deadline: Option<Instant>) -> Result<(), Duration> {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let tat = next.map_or(now, |t| t.max(now));
            let slot = tat.checked_sub(self.burst).map_or(now, |t| t.max(now));
            if deadline.is_some_and(|d| slot > d) {
                return Err(slot - now);
            }
            *next = Some(tat + self.spacing);
            slot
        };
        tokio::time::sleep_until(slot).await;
        Ok(())
    }
}

/// Lets at most `max` requests start in any `window` (a sliding-window log): up to `max` go at
/// once, the next waits until the `max`-th before it is a `window` old. Unlike a rate with bursts,
/// no interval of length `window` ever holds more than `max` starts.
#[derive(Debug)]
pub(crate) struct WindowLimiter {
    max: usize,
    window: Duration,
    /// The slots of the last `max` requests, oldest first (never decreasing).
    slots: Mutex<VecDeque<Instant>>,
}

impl WindowLimiter {
    /// A limiter for `max` (at least 1) requests in any `window`.
    pub(crate) fn new(max: usize, window: Duration) -> Self {
        let max = max.max(1);
        Self { max, window, slots: Mutex::new(VecDeque::with_capacity(max)) }
    }

    /// Waits for this request's slot; if it comes after `deadline`, takes none and returns at
    /// once how long it would have waited.
    pub(crate) async fn acquire(&self, deadline: Option<Instant>) -> Result<(), Duration> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            // The oldest of the last `max`: this one may start a window after it.
            let slot = match slots.front() {
                Some(oldest) if slots.len() >= self.max => (*oldest + self.window).max(now),
                _ => now,
            };
            if deadline.is_some_and(|d| slot > d) {
                return Err(slot - now);
            }
            if slots.len() >= self.max {
                slots.pop_front();
            }
            slots.push_back(slot);
            slot
        };
        tokio::time::sleep_until(slot).await;
        Ok(())
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
            assert_eq!(limiter.acquire(None).await, Ok(()));
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        let soon = Some(Instant::now() + Duration::from_millis(500));
        assert_eq!(
            limiter.acquire(soon).await,
            Err(Duration::from_secs(1)),
            "its slot is after the deadline"
        );
        assert_eq!(start.elapsed(), Duration::ZERO, "no wait");
        limiter.acquire(None).await.expect("no deadline");
        limiter.acquire(None).await.expect("no deadline");
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    /// Saturated for three minutes, no minute (any 60 s from any start) holds more than the limit.
    #[tokio::test(start_paused = true)]
    async fn a_saturated_limiter_keeps_every_minute_within_the_limit() {
        for limit in [1, 3, 60, 1000] {
            let limiter = RateLimiter::per_minute(limit);
            let start = Instant::now();
            let mut starts = Vec::new();
            while start.elapsed() < Duration::from_secs(180) {
                limiter.acquire(None).await.expect("no deadline");
                starts.push(Instant::now());
            }
            let most = (0..starts.len())
                .map(|i| starts[i..].iter().take_while(|t| **t < starts[i] + Duration::from_secs(60)).count())
                .max()
                .unwrap_or(0);
            assert!(most <= limit as usize, "{limit} a minute: {most} in one minute");
            // And it uses most of the limit.
            assert!(starts.len() >= 2 * limit as usize, "{limit} a minute: {} in 3", starts.len());
        }
    }

    /// Found in issue 17: a call cut off while it waited kept its slot, so with one call a window
    /// and cycles shorter than it, every later cycle queued behind slots nobody used, for ever.
    #[tokio::test(start_paused = true)]
    async fn a_call_whose_slot_is_past_its_deadline_takes_none() {
        let (window, cycle) = (Duration::from_secs(60), Duration::from_secs(5));
        let limiter = WindowLimiter::new(1, window);
        let start = Instant::now();
        limiter.acquire(Some(start + cycle)).await.expect("the first is free");
        for i in 1..11u32 {
            tokio::time::advance(cycle).await;
            let wait = limiter.acquire(Some(Instant::now() + cycle)).await;
            assert_eq!(wait, Err(window - cycle * i), "cycle {i}: refused at once, with the wait");
        }
        tokio::time::advance(cycle).await;
        limiter.acquire(Some(Instant::now() + cycle)).await.expect("a window after the first: its slot");
        assert_eq!(start.elapsed(), window, "not pushed back by the refused calls");
    }

    #[tokio::test(start_paused = true)]
    async fn window_limiter_never_lets_more_than_max_into_a_window() {
        let window = Duration::from_secs(60);
        let limiter = WindowLimiter::new(3, window);
        let start = Instant::now();
        let mut starts = Vec::new();
        for i in 0..8 {
            limiter.acquire(None).await.expect("no deadline");
            starts.push(start.elapsed());
            if i == 3 {
                // A pause: the next waits for the window of its own predecessors only.
                tokio::time::advance(Duration::from_secs(100)).await;
            }
        }
        let secs: Vec<u64> = starts.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [0, 0, 0, 60, 160, 160, 160, 220]);
        for (i, at) in starts.iter().enumerate().skip(3) {
            assert!(*at >= starts[i - 3] + window, "start {i} at {at:?}: {starts:?}");
        }
    }
}
