//! Basic auth against the bcrypt hashes of `basic_auth_users`, and the rate limit.
//!
//! bcrypt is slow on purpose (about 50 ms at cost 10), so:
//!
//! - an outcome is cached for five minutes (`CACHE_FOR`) per user, password and hash: a Prometheus scraping
//!   every 15 s pays one bcrypt every five minutes, and so does one configured with a wrong
//!   password. Like the exporter-toolkit's cache, this keeps the passwords it saw in memory for
//!   that long. Cached entries are compared in constant time; a changed hash (a reload) misses.
//! - one bcrypt runs at a time, on a blocking thread, and at most eight requests (`MAX_WAITING`) wait
//!   for it: a flood of wrong passwords costs one core at most, and what does not fit in the
//!   queue is answered 429 at once.
//! - an unknown user is checked against a fixed hash all the same, so that timing does not tell
//!   which users exist.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine;
use subtle::ConstantTimeEq;

use super::webconfig::RateLimit;

/// How long an outcome of bcrypt is reused.
pub(crate) const CACHE_FOR: Duration = Duration::from_secs(300);

/// Most requests waiting for a bcrypt check; past it a request is answered 429.
pub(crate) const MAX_WAITING: usize = 8;

/// Most successes and failures kept (the oldest go first).
const MAX_OK: usize = 64;
const MAX_FAILED: usize = 256;

/// A bcrypt hash (cost 10) of a password nobody has, checked for unknown users.
const UNKNOWN_USER_HASH: &str = "$2b$10$GW/P6VZuGga7nG2QXZRrXeEoldvU3z3IEEMSe/hLfBqrzzY07kx0K";

/// The outcome of a request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let in.
    Allowed,
    /// Missing or wrong: 401.
    Denied,
    /// Too many checks waiting: 429.
    Busy,
}

#[derive(Debug)]
struct Entry {
    user: Vec<u8>,
    password: Vec<u8>,
    hash: String,
    at: Instant,
}

impl Entry {
    fn matches(&self, user: &[u8], password: &[u8], hash: &str) -> bool {
        let same = self.user.ct_eq(user) & self.password.ct_eq(password);
        bool::from(same) && self.hash == hash && self.at.elapsed() < CACHE_FOR
    }
}

/// The basic-auth checker and the rate limiter of a server.
#[derive(Debug)]
pub(crate) struct Gate {
    ok: Mutex<Vec<Entry>>,
    failed: Mutex<Vec<Entry>>,
    bcrypt: tokio::sync::Semaphore,
    waiting: AtomicUsize,
    bucket: Mutex<Bucket>,
}

#[derive(Debug, Default)]
struct Bucket {
    tokens: f64,
    at: Option<Instant>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Lists and figures: a panic cannot leave them half-written.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            ok: Mutex::default(),
            failed: Mutex::default(),
            bcrypt: tokio::sync::Semaphore::new(1),
            waiting: AtomicUsize::new(0),
            bucket: Mutex::default(),
        }
    }
}

impl Gate {
    /// Whether a request is within `limit` (a token bucket shared by every connection).
    pub(crate) fn within_rate(&self, limit: Option<RateLimit>) -> bool {
        let Some(limit) = limit else { return true };
        let mut bucket = lock(&self.bucket);
        let now = Instant::now();
        let burst = f64::from(limit.burst);
        let refill =
            bucket.at.map_or(burst, |at| now.duration_since(at).as_secs_f64() / limit.interval.as_secs_f64());
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = Some(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Checks the `Authorization` header against `users` (user → bcrypt hash).
    pub(crate) async fn check(
        &self,
        users: &BTreeMap<String, String>,
        authorization: Option<&[u8]>,
    ) -> Verdict {
        let Some((user, password)) = authorization.and_then(credentials) else {
            return Verdict::Denied;
        };
        let known = std::str::from_utf8(&user).ok().and_then(|u| users.get(u));
        let hash = known.map_or(UNKNOWN_USER_HASH, String::as_str);
        if lock(&self.ok).iter().any(|e| e.matches(&user, &password, hash)) {
            return if known.is_some() { Verdict::Allowed } else { Verdict::Denied };
        }
        if lock(&self.failed).iter().any(|e| e.matches(&user, &password, hash)) {
            return Verdict::Denied;
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Verdict::Busy;
        }
        let permit = self.bcrypt.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let Ok(_permit) = permit else { return Verdict::Denied };
        let (pass, owned_hash) = (password.clone(), hash.to_string());
        let verified =
            tokio::task::spawn_blocking(move || bcrypt::verify(&pass, &owned_hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        let ok = verified && known.is_some();
        let entry = Entry { user, password, hash: hash.to_string(), at: Instant::now() };
        let (list, max) = if ok { (&self.ok, MAX_OK) } else { (&self.failed, MAX_FAILED) };
        let mut list = lock(list);
        list.retain(|e| e.at.elapsed() < CACHE_FOR);
        if list.len() >= max {
            list.remove(0);
        }
        list.push(entry);
        if ok { Verdict::Allowed } else { Verdict::Denied }
    }
}

/// The user and password of a `Basic` authorization header.
fn credentials(header: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let header = std::str::from_utf8(header).ok()?.trim();
    let (scheme, token) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> Vec<u8> {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}").into_bytes()
    }

    #[test]
    fn the_unknown_user_hash_is_a_bcrypt_hash() {
        assert!(UNKNOWN_USER_HASH.parse::<bcrypt::HashParts>().is_ok());
        assert!(!bcrypt::verify("", UNKNOWN_USER_HASH).expect("verifies"));
    }

    #[test]
    fn credentials_are_read_from_a_basic_header() {
        assert_eq!(credentials(&header("a", "b:c")), Some((b"a".to_vec(), b"b:c".to_vec())));
        assert_eq!(credentials(b"Bearer abc"), None);
        assert_eq!(credentials(b"Basic !!!"), None);
    }

    #[tokio::test]
    async fn outcomes_are_cached_and_a_changed_hash_misses() {
        let hash = bcrypt::hash("right", 4).expect("hash");
        let mut users = BTreeMap::from([("prom".to_string(), hash)]);
        let gate = Gate::default();
        assert_eq!(gate.check(&users, Some(&header("prom", "right"))).await, Verdict::Allowed);
        assert_eq!(gate.check(&users, Some(&header("prom", "wrong"))).await, Verdict::Denied);
        assert_eq!(gate.check(&users, Some(&header("nobody", "right"))).await, Verdict::Denied);
        assert_eq!(gate.check(&users, None).await, Verdict::Denied);
        assert_eq!((lock(&gate.ok).len(), lock(&gate.failed).len()), (1, 2));
        // Cached: no new entry.
        assert_eq!(gate.check(&users, Some(&header("prom", "right"))).await, Verdict::Allowed);
        assert_eq!(lock(&gate.ok).len(), 1);
        // A new hash for the user (a reload): the old password no longer passes.
        users.insert("prom".to_string(), bcrypt::hash("new", 4).expect("hash"));
        assert_eq!(gate.check(&users, Some(&header("prom", "right"))).await, Verdict::Denied);
        assert_eq!(gate.check(&users, Some(&header("prom", "new"))).await, Verdict::Allowed);
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_one_an_interval() {
        let gate = Gate::default();
        let limit = Some(RateLimit { interval: Duration::from_secs(3600), burst: 2 });
        assert!(gate.within_rate(limit) && gate.within_rate(limit));
        assert!(!gate.within_rate(limit));
        assert!(gate.within_rate(None));
    }
}
