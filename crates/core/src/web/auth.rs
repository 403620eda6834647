//! Basic auth against the bcrypt hashes of `basic_auth_users`, and the rate limit.
//!
//! bcrypt is slow on purpose (tens of milliseconds at cost 10, doubling with each step), so:
//!
//! - an outcome is cached per user, password and hash: a success for as long as it is used
//!   (`CACHE_FOR`, five minutes, after its last use), a failure for `CACHE_FOR`. A Prometheus
//!   scraping every 15 s pays one bcrypt, and one configured with a wrong password one every five
//!   minutes. Like the exporter-toolkit's cache, this keeps the passwords it saw in memory. Cached
//!   entries are compared in constant time; a changed hash (a reload) misses. Requests with the
//!   same credentials share one check.
//! - one bcrypt runs at a time, on a blocking thread, and at most eight requests (`MAX_WAITING`)
//!   wait for it: a flood of wrong passwords costs one core at most, and what does not fit in the
//!   queue is answered 429 at once.
//! - each client address (an IPv6 address by its /64) has at most two checks in the queue
//!   (`CHECKS_PER_CLIENT`) and ten failed checks (`FAILURES_BURST`), then one every six seconds
//!   (`FAILURE_EVERY`); past that it is answered 429 without a check. So one flooding client
//!   cannot fill the queue: another client's first check waits behind two of its checks at most.
//!   Cached outcomes never count. The addresses kept are capped (`MAX_CLIENTS`).
//! - an unknown user is checked against a hash of the highest cost configured, so that neither
//!   its answer's time nor its cost tells which users exist.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine;
use subtle::ConstantTimeEq;
use tokio::time::Instant;
use tracing::warn;

/// A token bucket: `burst` requests at once, then one every `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateLimit {
    /// Time between two requests.
    pub(crate) interval: Duration,
    /// Requests allowed at once.
    pub(crate) burst: u32,
}

/// How long an outcome of bcrypt is reused: a success after its last use, a failure after it.
pub(crate) const CACHE_FOR: Duration = Duration::from_secs(300);

/// Most requests waiting for a bcrypt check; past it a request is answered 429.
pub(crate) const MAX_WAITING: usize = 8;

/// Most checks of one client address waiting or running at once.
pub(crate) const CHECKS_PER_CLIENT: u32 = 2;

/// Failed checks one client address may make at once; then one every [`FAILURE_EVERY`].
pub(crate) const FAILURES_BURST: u32 = 10;

/// How often a client address that used up its failed checks gets one more (ten a minute).
pub(crate) const FAILURE_EVERY: Duration = Duration::from_secs(6);

/// Most client addresses remembered; past it the ones with nothing to remember go, then the one
/// seen longest ago.
pub(crate) const MAX_CLIENTS: usize = 4096;

/// Most successes and failures kept (the oldest go first).
const MAX_OK: usize = 64;
const MAX_FAILED: usize = 256;

/// A bcrypt hash (cost 10) of a password nobody has; its cost is replaced by the highest one
/// configured, and it is checked for unknown users.
const UNKNOWN_USER_HASH: &str = "$2b$10$GW/P6VZuGga7nG2QXZRrXeEoldvU3z3IEEMSe/hLfBqrzzY07kx0K";

/// A hash cost above this gets a warning at start and on a reload.
const COSTLY: u32 = 12;

/// The outcome of a request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let in.
    Allowed,
    /// Missing or wrong: 401.
    Denied,
    /// The check queue is full, or this client has its share of it: 429, retry in a second.
    Busy,
    /// This client failed too many checks: 429, retry after this many seconds.
    Failing(u64),
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

/// A check under way; requests with the same credentials wait for it (until `done` is dropped).
#[derive(Debug)]
struct Pending {
    id: u64,
    entry: Entry,
    done: tokio::sync::watch::Sender<()>,
}

/// The basic-auth checker and the rate limiter of a server.
#[derive(Debug)]
pub(crate) struct Gate {
    ok: Mutex<Vec<Entry>>,
    failed: Mutex<Vec<Entry>>,
    pending: Mutex<Vec<Pending>>,
    clients: Mutex<Clients>,
    bcrypt: tokio::sync::Semaphore,
    waiting: AtomicUsize,
    /// bcrypt checks started so far (the ids of [`Pending`]).
    checks: AtomicU64,
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
            pending: Mutex::default(),
            clients: Mutex::new(Clients::new(MAX_CLIENTS)),
            bcrypt: tokio::sync::Semaphore::new(1),
            waiting: AtomicUsize::new(0),
            checks: AtomicU64::new(0),
            bucket: Mutex::default(),
        }
    }
}

impl Gate {
    /// Whether a request is within `limit` (a token bucket shared by every connection): `Err`
    /// holds the seconds until the next request is allowed.
    pub(crate) fn within_rate(&self, limit: Option<RateLimit>) -> Result<(), u64> {
        let Some(limit) = limit else { return Ok(()) };
        let mut bucket = lock(&self.bucket);
        let now = Instant::now();
        let burst = f64::from(limit.burst);
        let refill =
            bucket.at.map_or(burst, |at| now.duration_since(at).as_secs_f64() / limit.interval.as_secs_f64());
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = Some(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(seconds((1.0 - bucket.tokens) * limit.interval.as_secs_f64()))
        }
    }

    /// Checks the `Authorization` header of a request from `client` against `users` (user →
    /// bcrypt hash).
    pub(crate) async fn check(
        self: &Arc<Self>,
        users: &BTreeMap<String, String>,
        authorization: Option<&[u8]>,
        client: IpAddr,
    ) -> Verdict {
        let Some((user, password)) = authorization.and_then(credentials) else {
            return Verdict::Denied;
        };
        let known = std::str::from_utf8(&user).ok().and_then(|u| users.get(u));
        let hash = known.cloned().unwrap_or_else(|| unknown_user_hash(users));
        let entry = Entry { user, password, hash, at: Instant::now() };
        let client = client_key(client);
        let id = loop {
            let mut joined = {
                let mut pending = lock(&self.pending);
                if let Some(verdict) = self.cached(&entry, known.is_some()) {
                    return verdict;
                }
                match pending.iter().find(|p| p.entry.matches(&entry.user, &entry.password, &entry.hash)) {
                    Some(other) => other.done.subscribe(),
                    None => match self.admit(&mut pending, &entry, client) {
                        Ok(id) => break id,
                        Err(verdict) => return verdict,
                    },
                }
            };
            // Another request's check of the same credentials: its outcome, once cached.
            let _ = joined.changed().await;
        };
        let gate = self.clone();
        let verify = tokio::spawn(gate.verify(id, entry, client, known.is_some()));
        verify.await.unwrap_or(Verdict::Denied)
    }

    /// A cached outcome; a success's entry is refreshed.
    fn cached(&self, entry: &Entry, known: bool) -> Option<Verdict> {
        let (user, password, hash) = (&entry.user, &entry.password, entry.hash.as_str());
        if let Some(ok) = lock(&self.ok).iter_mut().find(|e| e.matches(user, password, hash)) {
            ok.at = Instant::now();
            return Some(if known { Verdict::Allowed } else { Verdict::Denied });
        }
        lock(&self.failed).iter().any(|e| e.matches(user, password, hash)).then_some(Verdict::Denied)
    }

    /// Lets a check start (its id, registered as pending) or answers why not.
    fn admit(&self, pending: &mut Vec<Pending>, entry: &Entry, client: IpAddr) -> Result<u64, Verdict> {
        lock(&self.clients).admit(client, Instant::now())?;
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            lock(&self.clients).release(client, false, Instant::now());
            return Err(Verdict::Busy);
        }
        let id = self.checks.fetch_add(1, Ordering::Relaxed);
        let copy = Entry {
            user: entry.user.clone(),
            password: entry.password.clone(),
            hash: entry.hash.clone(),
            at: entry.at,
        };
        pending.push(Pending { id, entry: copy, done: tokio::sync::watch::channel(()).0 });
        Ok(id)
    }

    /// Runs one bcrypt check (in a task of its own, so that it completes even if its request
    /// goes), caches its outcome and ends its pending entry.
    async fn verify(self: Arc<Self>, id: u64, entry: Entry, client: IpAddr, known: bool) -> Verdict {
        let permit = self.bcrypt.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let verified = match permit {
            Ok(_permit) => {
                let (password, hash) = (entry.password.clone(), entry.hash.clone());
                tokio::task::spawn_blocking(move || bcrypt::verify(&password, &hash).unwrap_or(false))
                    .await
                    .unwrap_or(false)
            }
            Err(_) => false,
        };
        let ok = verified && known;
        let entry = Entry { at: Instant::now(), ..entry };
        let (list, max) = if ok { (&self.ok, MAX_OK) } else { (&self.failed, MAX_FAILED) };
        {
            let mut list = lock(list);
            list.retain(|e| e.at.elapsed() < CACHE_FOR);
            if list.len() >= max {
                // The success used least recently, or the oldest failure.
                if let Some(oldest) = list.iter().enumerate().min_by_key(|(_, e)| e.at).map(|(i, _)| i) {
                    list.remove(oldest);
                }
            }
            list.push(entry);
        }
        lock(&self.clients).release(client, !ok, Instant::now());
        lock(&self.pending).retain(|p| p.id != id);
        if ok { Verdict::Allowed } else { Verdict::Denied }
    }
}

/// Whole seconds, at least one, for `Retry-After`.
fn seconds(secs: f64) -> u64 {
    // A bounded, positive number of seconds: the cast cannot lose anything that matters.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let whole = secs.ceil().clamp(1.0, 86_400.0) as u64;
    whole
}

/// The address a client's checks are counted under: an IPv4 address (mapped ones too), or an
/// IPv6 address's /64 (what one host usually has to itself).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// The per-address limits on checks: how many wait or run, and a token bucket of failures.
#[derive(Debug)]
pub(crate) struct Clients {
    map: HashMap<IpAddr, Client>,
    max: usize,
}

#[derive(Debug)]
struct Client {
    /// Checks waiting or running.
    checking: u32,
    /// Failed checks it may still make.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

impl Client {
    /// The failed checks it may make at `now`.
    fn tokens_at(&self, now: Instant) -> f64 {
        let gained = now.duration_since(self.at).as_secs_f64() / FAILURE_EVERY.as_secs_f64();
        (self.tokens + gained).min(f64::from(FAILURES_BURST))
    }

    fn refill(&mut self, now: Instant) {
        self.tokens = self.tokens_at(now);
        self.at = now;
    }
}

impl Clients {
    fn new(max: usize) -> Clients {
        Clients { map: HashMap::new(), max }
    }

    /// Counts a check of `client` starting, or says why it may not.
    fn admit(&mut self, client: IpAddr, now: Instant) -> Result<(), Verdict> {
        if !self.map.contains_key(&client) && self.map.len() >= self.max {
            self.make_room(now);
            if self.map.len() >= self.max {
                return Err(Verdict::Busy);
            }
        }
        let state = self.map.entry(client).or_insert(Client {
            checking: 0,
            tokens: f64::from(FAILURES_BURST),
            at: now,
        });
        state.refill(now);
        if state.checking >= CHECKS_PER_CLIENT {
            return Err(Verdict::Busy);
        }
        // Each check under way may fail: it holds a token until it ends.
        let short = 1.0 + f64::from(state.checking) - state.tokens;
        if short > 0.0 {
            return Err(Verdict::Failing(seconds(short * FAILURE_EVERY.as_secs_f64())));
        }
        state.checking += 1;
        Ok(())
    }

    /// Counts a check of `client` ending, `failed` or not.
    fn release(&mut self, client: IpAddr, failed: bool, now: Instant) {
        if let Some(state) = self.map.get_mut(&client) {
            state.checking = state.checking.saturating_sub(1);
            state.refill(now);
            if failed {
                state.tokens = (state.tokens - 1.0).max(0.0);
            }
        }
    }

    /// Forgets the addresses with no check under way and every token back; if none has, the one
    /// with no check under way seen longest ago.
    fn make_room(&mut self, now: Instant) {
        let full = f64::from(FAILURES_BURST);
        self.map.retain(|_, c| c.checking > 0 || c.tokens_at(now) < full);
        if self.map.len() >= self.max {
            let oldest =
                self.map.iter().filter(|(_, c)| c.checking == 0).min_by_key(|(_, c)| c.at).map(|(a, _)| *a);
            if let Some(oldest) = oldest {
                self.map.remove(&oldest);
            }
        }
    }
}

/// [`UNKNOWN_USER_HASH`] at the highest cost of `users`, so that an unknown user costs as much as
/// the costliest known one.
fn unknown_user_hash(users: &BTreeMap<String, String>) -> String {
    let cost = users.values().filter_map(|h| h.parse::<bcrypt::HashParts>().ok()).map(|h| h.get_cost()).max();
    format!("$2b${:02}${}", cost.unwrap_or(10), &UNKNOWN_USER_HASH[7..])
}

/// Warns of each user whose hash costs more than [`COSTLY`], with what one check of a password
/// not cached costs: measured at cost 6 on this machine, doubled for each step above. Runs a
/// bcrypt (a few ms) only if there is such a user.
pub(crate) fn warn_costly(users: &BTreeMap<String, String>) {
    let costly: Vec<(&String, u32)> = users
        .iter()
        .filter_map(|(user, hash)| Some((user, hash.parse::<bcrypt::HashParts>().ok()?.get_cost())))
        .filter(|(_, cost)| *cost > COSTLY)
        .collect();
    if costly.is_empty() {
        return;
    }
    let calibration = format!("$2b$06${}", &UNKNOWN_USER_HASH[7..]);
    let start = std::time::Instant::now();
    let _ = bcrypt::verify("", &calibration);
    let at_6 = start.elapsed().as_secs_f64();
    for (user, cost) in costly {
        let check_s = at_6 * 2f64.powi(i32::try_from(cost).unwrap_or(31) - 6);
        warn!(
            user = %user,
            cost,
            check_s = format!("{check_s:.2}"),
            "basic_auth_users: this user's bcrypt hash has a cost above {COSTLY}: each check of a password \
             that is not cached takes about check_s seconds of one CPU (estimated from one check at cost \
             6), during which other new passwords wait, and an unknown user costs as much; 10 to 12 is \
             usual (htpasswd -nBC 10 \"\")"
        );
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

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn header(user: &str, password: &str) -> Vec<u8> {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}").into_bytes()
    }

    fn users(hashes: &[(&str, &str, u32)]) -> BTreeMap<String, String> {
        hashes.iter().map(|(u, p, cost)| (u.to_string(), bcrypt::hash(p, *cost).expect("hash"))).collect()
    }

    fn checks(gate: &Gate) -> u64 {
        gate.checks.load(Ordering::Relaxed)
    }

    #[test]
    fn an_unknown_user_is_checked_at_the_highest_cost_configured() {
        assert!(!bcrypt::verify("", UNKNOWN_USER_HASH).expect("verifies"));
        let mut configured = users(&[("a", "x", 4), ("b", "y", 5)]);
        let hash = unknown_user_hash(&configured);
        assert_eq!(hash.parse::<bcrypt::HashParts>().expect("a bcrypt hash").get_cost(), 5);
        assert!(!bcrypt::verify("", &hash).expect("verifies"));
        // Checked without computing a hash at that cost: a file's hash is taken as written.
        configured.insert("c".to_string(), format!("$2b$14${}", &UNKNOWN_USER_HASH[7..]));
        assert!(unknown_user_hash(&configured).starts_with("$2b$14$"));
    }

    #[test]
    fn credentials_are_read_from_a_basic_header() {
        assert_eq!(credentials(&header("a", "b:c")), Some((b"a".to_vec(), b"b:c".to_vec())));
        assert_eq!(credentials(b"Bearer abc"), None);
        assert_eq!(credentials(b"Basic !!!"), None);
    }

    #[tokio::test]
    async fn outcomes_are_cached_and_a_changed_hash_misses() {
        let mut users = users(&[("prom", "right", 4)]);
        let gate = Arc::new(Gate::default());
        assert_eq!(gate.check(&users, Some(&header("prom", "right")), B).await, Verdict::Allowed);
        assert_eq!(gate.check(&users, Some(&header("prom", "wrong")), B).await, Verdict::Denied);
        assert_eq!(gate.check(&users, Some(&header("nobody", "right")), B).await, Verdict::Denied);
        assert_eq!(gate.check(&users, None, B).await, Verdict::Denied);
        assert_eq!(checks(&gate), 3);
        // Cached: no new check.
        assert_eq!(gate.check(&users, Some(&header("prom", "right")), B).await, Verdict::Allowed);
        assert_eq!(gate.check(&users, Some(&header("nobody", "right")), B).await, Verdict::Denied);
        assert_eq!(checks(&gate), 3);
        // A new hash for the user (a reload): the old password no longer passes.
        users.insert("prom".to_string(), bcrypt::hash("new", 4).expect("hash"));
        assert_eq!(gate.check(&users, Some(&header("prom", "right")), B).await, Verdict::Denied);
        assert_eq!(gate.check(&users, Some(&header("prom", "new")), B).await, Verdict::Allowed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_stays_cached_while_it_is_used_and_a_failure_expires() {
        let users = users(&[("prom", "right", 4)]);
        let gate = Arc::new(Gate::default());
        let right = header("prom", "right");
        assert_eq!(gate.check(&users, Some(&right), B).await, Verdict::Allowed);
        assert_eq!(gate.check(&users, Some(&header("prom", "wrong")), B).await, Verdict::Denied);
        assert_eq!(checks(&gate), 2);
        // Used every four minutes for twenty: never checked again.
        for _ in 0..5 {
            tokio::time::advance(Duration::from_secs(240)).await;
            assert_eq!(gate.check(&users, Some(&right), B).await, Verdict::Allowed);
        }
        assert_eq!(checks(&gate), 2);
        // The failure was not refreshed: checked again.
        assert_eq!(gate.check(&users, Some(&header("prom", "wrong")), B).await, Verdict::Denied);
        assert_eq!(checks(&gate), 3);
        // Unused for longer than the cache keeps it: checked again.
        tokio::time::advance(CACHE_FOR + Duration::from_secs(1)).await;
        assert_eq!(gate.check(&users, Some(&right), B).await, Verdict::Allowed);
        assert_eq!(checks(&gate), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_checks_are_limited_per_client_address() {
        let users = users(&[("prom", "right", 4), ("other", "second", 4)]);
        let gate = Arc::new(Gate::default());
        for i in 0..FAILURES_BURST {
            let wrong = header("prom", &format!("guess{i}"));
            assert_eq!(gate.check(&users, Some(&wrong), A).await, Verdict::Denied, "{i}");
        }
        let wrong = header("prom", "one more");
        assert_eq!(gate.check(&users, Some(&wrong), A).await, Verdict::Failing(6));
        // A password not cached is not checked for that address, even a right one...
        assert_eq!(gate.check(&users, Some(&header("prom", "right")), A).await, Verdict::Failing(6));
        // ...but it is for another address, and once cached it passes for both.
        assert_eq!(gate.check(&users, Some(&header("prom", "right")), B).await, Verdict::Allowed);
        assert_eq!(gate.check(&users, Some(&header("prom", "right")), A).await, Verdict::Allowed);
        // One more check every six seconds; a cached failure costs nothing.
        tokio::time::advance(FAILURE_EVERY).await;
        assert_eq!(gate.check(&users, Some(&header("other", "second")), A).await, Verdict::Allowed);
        assert_eq!(gate.check(&users, Some(&wrong), A).await, Verdict::Denied);
        assert_eq!(gate.check(&users, Some(&header("prom", "guess0")), A).await, Verdict::Denied);
        assert_eq!(gate.check(&users, Some(&header("prom", "x")), A).await, Verdict::Failing(6));
        assert_eq!(checks(&gate), u64::from(FAILURES_BURST) + 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_with_the_same_credentials_share_one_check() {
        let users = Arc::new(users(&[("prom", "right", 8)]));
        let gate = Arc::new(Gate::default());
        // More than an address may have in the queue: they wait for the first one's outcome.
        let asks: Vec<_> = (0..6)
            .map(|_| {
                let (gate, users) = (gate.clone(), users.clone());
                tokio::spawn(async move { gate.check(&users, Some(&header("prom", "right")), A).await })
            })
            .collect();
        for ask in asks {
            assert_eq!(ask.await.expect("ran"), Verdict::Allowed);
        }
        assert_eq!(checks(&gate), 1);
        assert!(lock(&gate.pending).is_empty());
    }

    #[test]
    fn an_address_has_at_most_two_checks_under_way() {
        let mut clients = Clients::new(8);
        let now = Instant::now();
        assert_eq!(clients.admit(A, now), Ok(()));
        assert_eq!(clients.admit(A, now), Ok(()));
        assert_eq!(clients.admit(A, now), Err(Verdict::Busy));
        assert_eq!(clients.admit(B, now), Ok(()));
        clients.release(A, true, now);
        assert_eq!(clients.admit(A, now), Ok(()));
    }

    #[test]
    fn the_addresses_remembered_are_capped() {
        let mut clients = Clients::new(3);
        let t0 = Instant::now();
        let addr = |i: u8| IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i));
        for i in 0..3 {
            let at = t0 + Duration::from_millis(u64::from(i));
            assert_eq!(clients.admit(addr(i), at), Ok(()));
            clients.release(addr(i), true, at);
        }
        // Every one has failed once: the one seen longest ago goes.
        assert_eq!(clients.admit(addr(3), t0 + Duration::from_millis(3)), Ok(()));
        assert_eq!(clients.map.len(), 3);
        assert!(!clients.map.contains_key(&addr(0)));
        // Back to every token: forgotten first. With a check under way: never.
        assert_eq!(clients.admit(addr(4), t0 + FAILURE_EVERY * 2), Ok(()));
        assert!(clients.map.len() <= 3 && clients.map.contains_key(&addr(3)));
        for i in 10..20 {
            let _ = clients.admit(addr(i), t0 + FAILURE_EVERY * 2);
        }
        assert!(clients.map.len() <= 3);
        assert!(clients.map.contains_key(&addr(3)) && clients.map.contains_key(&addr(4)));
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("v6");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("v6");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("v6");
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().expect("v6");
        assert_eq!(client_key(mapped), A);
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_one_an_interval() {
        let gate = Gate::default();
        let limit = Some(RateLimit { interval: Duration::from_secs(3600), burst: 2 });
        assert!(gate.within_rate(limit).is_ok() && gate.within_rate(limit).is_ok());
        let retry = gate.within_rate(limit).expect_err("spent");
        assert!((3599..=3600).contains(&retry), "{retry}");
        assert!(gate.within_rate(None).is_ok());
    }
}
