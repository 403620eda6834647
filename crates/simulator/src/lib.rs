//! An embedded simulator of the vendors' APIs on 127.0.0.1 (Sobot's statistics, quality and
//! e-commerce platform APIs, Laaffic's seat query), speaking the documents' protocol:
//! it checks the sign and the token, date formats and id limits, answers with the documents'
//! error codes, and serves either the documents' example payloads (tests) or values that move
//! from cycle to cycle (`--demo`). Tests also use it to inject faults and to count requests.
//!
//! # Layout
//!
//! The server and its state are here; each module imports only from layers below its own
//! (`tests/layers.rs` keeps this table true).
//!
//! | layer | modules | what they do |
//! |---|---|---|
//! | 4 | `platform`, `day_tests` | the e-commerce platform's four endpoints and its tenants; the simulated day's tests |
//! | 3 | `sobot`, `laaffic`, `faults`, [`staff`] | the Sobot statistics and quality answers; Laaffic's seat query; injected faults; the platform staff's status log |
//! | 2 | `data` | the figures: the documents' examples, or a population whose figures add up and move |
//! | 1 | `day`, [`demo`] | the simulated day and its clock; `--demo`: the bound port, the credentials, the demo's config |

mod data;
mod day;
#[cfg(test)]
mod day_tests;
pub mod demo;
mod faults;
mod laaffic;
mod platform;
mod sobot;
pub mod staff;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;

use faults::SimBody;
use sobot_exporter_core::secret::Secret;

pub use data::{DataMode, mix, settled_answer};
pub(crate) use day::SimClock;
pub use platform::{SimPlatform, SimTenant, sim_platform};

/// What the simulator serves and accepts.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The Sobot `appid` it accepts.
    pub sobot_app_id: String,
    /// The Sobot `app_key` it checks signs with.
    pub sobot_app_key: Secret,
    /// Lifetime of the tokens it issues (`expires_in`).
    pub token_lifetime: Duration,
    /// Fixed example payloads or moving values.
    pub data: DataMode,
    /// Calls a minute before it answers `210017`.
    pub rate_limit_per_minute: u32,
    /// The agents it knows; empty: the per-agent and quality endpoints answer the documents'
    /// examples.
    pub agents: Vec<SimAgent>,
    /// Quality records per source a query of today finds (a past day's vary by its date), over the agents.
    pub quality_records: usize,
    /// Laaffic seats; 0: the seat query answers the document's example.
    pub laaffic_seats: usize,
    /// The Laaffic `Api-Key` it accepts.
    pub laaffic_api_key: Secret,
    /// The Laaffic secret it checks signs with.
    pub laaffic_api_secret: Secret,
    /// The e-commerce platform it serves (`/tenantpro/...`), if any; each of its tenants is a
    /// company with its own token and its own statistics.
    pub platform: Option<SimPlatform>,
    /// How many times as fast as the real clock the simulated day runs in live mode (1: the
    /// real time of day; the clock starts at the real time when the simulator starts).
    pub speed: u32,
    /// The app id of a company (a platform's tenant) that refuses its key and its tokens for
    /// three simulated hours a day, the first six simulated hours after the start.
    pub outages: Option<String>,
}

/// An agent of the simulated company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimAgent {
    /// Service id (32 hex digits, like Sobot's).
    pub id: String,
    /// Skill group id.
    pub group: String,
    /// Display name.
    pub name: String,
}

/// The demo's company: four skill groups of nine agents.
pub fn demo_population() -> Vec<SimAgent> {
    population(4, 9)
}

/// `groups` groups of `per_group` agents each, with stable ids and names.
pub fn population(groups: usize, per_group: usize) -> Vec<SimAgent> {
    let hex = |seed: u64| format!("{:016x}{:016x}", mix(seed), mix(seed ^ 0x5555));
    (0..groups * per_group)
        .map(|i| {
            let g = i / per_group.max(1);
            SimAgent {
                id: hex(1_000_000 + i as u64),
                group: hex(2_000_000 + g as u64),
                name: format!("客服{:03} Agent {:03}", i + 1, i + 1),
            }
        })
        .collect()
}

impl SimConfig {
    /// The documents' example payloads, with the given credentials.
    pub fn fixtures(app_id: &str, app_key: &str) -> Self {
        Self {
            sobot_app_id: app_id.to_string(),
            sobot_app_key: Secret::new(app_key),
            token_lifetime: Duration::from_secs(86_400),
            data: DataMode::Fixtures,
            rate_limit_per_minute: 1000,
            agents: Vec::new(),
            quality_records: 0,
            laaffic_seats: 0,
            laaffic_api_key: Secret::new("bDqJFiq9"),
            laaffic_api_secret: Secret::new("7bz1lzh9"),
            platform: None,
            speed: 1,
            outages: None,
        }
    }
}

/// A fault to answer with instead of the normal response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// A documented error envelope with this `ret_code`.
    RetCode(&'static str),
    /// A bare HTTP status.
    Http(u16),
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// The normal answer, after a delay.
    Delay(Duration),
    /// HTTP 200 with this body (a well-formed answer with odd values, say).
    Body(String),
    /// The connection closed without an answer, as a reset or a crashed peer does.
    Reset,
    /// The normal answer's first bytes (at most this many), then the connection breaks.
    ResetAfter(usize),
    /// HTTP 200 with an HTML page, as a proxy in front of the upstream sends.
    Html,
    /// HTTP 200 with the first half of the normal answer: JSON cut short.
    Truncated,
    /// The normal answer with a list where the document has an object (the first object below
    /// the top wrapped in a list).
    ListForObject,
    /// The normal answer with an object where the document has a list (the first list turned into
    /// an object keyed by position).
    ObjectForList,
    /// The normal answer with a string where the document has its data (the first object or list
    /// below the top), as an upstream that sends `"data": "…"`.
    StringForData,
    /// The normal answer grown to about this many bytes by `{"a":1}` rows in its first list,
    /// streamed in shared chunks rather than built in memory.
    Large(usize),
    /// An error envelope with a new undocumented code of 6–8 digits every time.
    RandomCode,
    /// No answer, ever: the request hangs until the client gives up.
    Hang,
}

/// One request the simulator received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Endpoint name (last path segment).
    pub endpoint: String,
    /// Query or body parameters as strings.
    pub params: Vec<(String, String)>,
    /// The result code it answered.
    pub code: String,
    /// The Sobot company (`appid`) the request was for: the `appid` of a get_token, the owner of
    /// a valid token; `None` otherwise.
    pub company: Option<String>,
    /// When it arrived.
    pub at: Instant,
}

/// One Sobot company the simulator knows: its key and its single valid token.
#[derive(Debug)]
struct Company {
    key: Secret,
    current: Option<(String, Instant)>,
    issued: u64,
    /// Whether its statistics are its own (a platform's tenant) rather than the first company's.
    own_values: bool,
    /// Every token it presents is refused as expired (get_token still issues new ones).
    always_expired: bool,
}

impl Company {
    fn new(key: Secret) -> Self {
        Self { key, current: None, issued: 0, own_values: false, always_expired: false }
    }
}

#[derive(Debug, Default)]
struct Tokens {
    /// Companies by `appid`.
    companies: BTreeMap<String, Company>,
    /// Tokens issued to every company.
    issued: u64,
}

impl Tokens {
    /// The company whose current token this is.
    fn owner(&self, token: &str) -> Option<&str> {
        self.companies
            .iter()
            .find(|(_, c)| c.current.as_ref().is_some_and(|(t, _)| t == token))
            .map(|(id, _)| id.as_str())
    }

    /// Registers a platform's tenant as a company with statistics of its own (its key changed:
    /// its token is invalidated). A tenant with the first company's app id stays the first company.
    fn register_tenant(&mut self, tenant: &SimTenant, first: &str) {
        if tenant.app_id == first {
            return;
        }
        let key = tenant.accepted_key.clone().unwrap_or_else(|| tenant.app_key.clone());
        let company =
            self.companies.entry(tenant.app_id.clone()).or_insert_with(|| Company::new(key.clone()));
        company.own_values = true;
        if company.key != key {
            company.key = key;
            company.current = None;
        }
    }
}

#[derive(Debug)]
struct State {
    config: SimConfig,
    agents: Mutex<Vec<SimAgent>>,
    tokens: Mutex<Tokens>,
    faults: Mutex<HashMap<String, VecDeque<Fault>>>,
    sticky: Mutex<HashMap<String, Fault>>,
    /// Faults for one company's calls: `(app id, endpoint)`.
    scoped: Mutex<HashMap<(String, String), Fault>>,
    /// Seconds the simulator's clock is ahead of the real one (behind if negative), as the
    /// timestamp checks see it.
    clock_skew_s: AtomicI64,
    /// Random codes answered so far (their seed).
    random_codes: AtomicU64,
    log: Mutex<Vec<Recorded>>,
    /// A group id answered with `210006`.
    rejected_group: Mutex<Option<String>>,
    /// Calls per company in the current minute.
    minute: Mutex<HashMap<String, (Instant, u32)>>,
    /// The platform's tenants (the configured ones until [`Simulator::set_tenants`]).
    tenants: Mutex<Vec<SimTenant>>,
    /// The arrival of the calls each platform endpoint let through in the last minute.
    platform_calls: Mutex<HashMap<&'static str, VecDeque<Instant>>>,
    started: Instant,
    /// The simulated day's clock (live mode).
    clock: SimClock,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running simulator; stops when dropped.
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    state: Arc<State>,
    _stop: watch::Sender<bool>,
}

impl Simulator {
    /// Binds 127.0.0.1 on an ephemeral port and starts serving.
    pub async fn start(config: SimConfig) -> std::io::Result<Simulator> {
        Self::serve(TcpListener::bind(("127.0.0.1", 0)).await?, config)
    }

    /// Starts serving on a listener bound beforehand (so that its address is known before the
    /// runtime starts).
    pub async fn start_on(listener: std::net::TcpListener, config: SimConfig) -> std::io::Result<Simulator> {
        listener.set_nonblocking(true)?;
        Self::serve(TcpListener::from_std(listener)?, config)
    }

    fn serve(listener: TcpListener, config: SimConfig) -> std::io::Result<Simulator> {
        let addr = listener.local_addr()?;
        let companies =
            BTreeMap::from([(config.sobot_app_id.clone(), Company::new(config.sobot_app_key.clone()))]);
        let mut tokens = Tokens { companies, issued: 0 };
        let tenants = config.platform.as_ref().map(platform::tenants).unwrap_or_default();
        for tenant in &tenants {
            tokens.register_tenant(tenant, &config.sobot_app_id);
        }
        let config_speed = config.speed;
        let state = Arc::new(State {
            agents: Mutex::new(config.agents.clone()),
            config,
            tokens: Mutex::new(tokens),
            faults: Mutex::default(),
            sticky: Mutex::default(),
            scoped: Mutex::default(),
            clock_skew_s: AtomicI64::new(0),
            random_codes: AtomicU64::new(0),
            log: Mutex::default(),
            minute: Mutex::default(),
            rejected_group: Mutex::default(),
            tenants: Mutex::new(tenants),
            platform_calls: Mutex::default(),
            started: Instant::now(),
            clock: SimClock::new(jiff::Timestamp::now(), config_speed),
        });
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(accept_loop(listener, state.clone(), stopped));
        Ok(Simulator { addr, state, _stop: stop })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next `times` requests to `endpoint` with `fault`.
    pub fn inject(&self, endpoint: &str, fault: Fault, times: usize) {
        let mut faults = lock(&self.state.faults);
        let queue = faults.entry(endpoint.to_string()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Answers every request to `endpoint` with `fault` until cleared with `None`.
    pub fn set_fault(&self, endpoint: &str, fault: Option<Fault>) {
        let mut sticky = lock(&self.state.sticky);
        match fault {
            Some(f) => sticky.insert(endpoint.to_string(), f),
            None => sticky.remove(endpoint),
        };
    }

    /// Answers every request to `endpoint` on behalf of the company `app_id` (a get_token naming
    /// it, a call with its token) with `fault` until cleared with `None`; before the faults of
    /// [`Simulator::inject`] and [`Simulator::set_fault`].
    pub fn set_fault_for(&self, app_id: &str, endpoint: &str, fault: Option<Fault>) {
        let mut scoped = lock(&self.state.scoped);
        let key = (app_id.to_string(), endpoint.to_string());
        match fault {
            Some(f) => scoped.insert(key, f),
            None => scoped.remove(&key),
        };
    }

    /// While `on`, every token of the company `app_id` is refused as expired on every call
    /// (`910002`, `900002` in the quality API), however new; get_token still issues tokens.
    pub fn set_tokens_expired(&self, app_id: &str, on: bool) {
        if let Some(company) = lock(&self.state.tokens).companies.get_mut(app_id) {
            company.always_expired = on;
        }
    }

    /// Sets the simulator's clock `seconds` ahead of the real one (behind if negative), as the
    /// documented timestamp checks see it: Laaffic's `Timestamp` (`-16` beyond five minutes) and
    /// the platform's `ts` (`910003`). Sobot's documents give `create_time` no tolerance, so
    /// get_token does not look at it.
    pub fn set_clock_skew(&self, seconds: i64) {
        self.state.clock_skew_s.store(seconds, Ordering::Relaxed);
    }

    /// Invalidates the current token of one company.
    pub fn expire_token_of(&self, app_id: &str) {
        if let Some(company) = lock(&self.state.tokens).companies.get_mut(app_id) {
            company.current = None;
        }
    }

    /// Answers `210006` (parameter error) to every statistics request filtered by this group, as
    /// the upstream does for a group id it does not know; `None` clears it.
    pub fn reject_group(&self, group: Option<&str>) {
        *lock(&self.state.rejected_group) = group.map(str::to_string);
    }

    /// Replaces the simulated agents (an agent who left disappears from the answers).
    pub fn set_agents(&self, agents: Vec<SimAgent>) {
        *lock(&self.state.agents) = agents;
    }

    /// Invalidates every company's current token, as the upstream does when its lifetime ends.
    pub fn expire_token(&self) {
        for company in lock(&self.state.tokens).companies.values_mut() {
            company.current = None;
        }
    }

    /// How many tokens were issued, to every company.
    pub fn tokens_issued(&self) -> u64 {
        lock(&self.state.tokens).issued
    }

    /// How many tokens were issued to one company.
    pub fn tokens_issued_to(&self, app_id: &str) -> u64 {
        lock(&self.state.tokens).companies.get(app_id).map_or(0, |c| c.issued)
    }

    /// The first company's currently valid token, if any.
    pub fn current_token(&self) -> Option<String> {
        let tokens = lock(&self.state.tokens);
        tokens.companies.get(&self.state.config.sobot_app_id)?.current.as_ref().map(|(t, _)| t.clone())
    }

    /// Adds a company (or changes its key, which invalidates its token), as a tenant of a platform
    /// would be: its statistics are the same as the first company's.
    pub fn add_company(&self, app_id: &str, app_key: &str) {
        let mut tokens = lock(&self.state.tokens);
        let company =
            tokens.companies.entry(app_id.to_string()).or_insert_with(|| Company::new(Secret::new("")));
        company.key = Secret::new(app_key);
        company.current = None;
    }

    /// Replaces the platform's tenants (a tenant joins, leaves or changes its key): new and changed
    /// ones are registered as companies with statistics of their own; a tenant that left keeps its
    /// company (its key still gets a token), as a company outlives its listing.
    pub fn set_tenants(&self, tenants: Vec<SimTenant>) {
        let mut companies = lock(&self.state.tokens);
        for tenant in &tenants {
            companies.register_tenant(tenant, &self.state.config.sobot_app_id);
        }
        drop(companies);
        *lock(&self.state.tenants) = tenants;
    }

    /// The `item` a company-wide statistics endpoint answers `company` (a tenant's app id) for
    /// `day`, as the simulator serves it in fixture mode: what a test expects on /metrics.
    pub fn tenant_item(endpoint: &str, company: &str, day: jiff::civil::Date) -> Option<serde_json::Value> {
        let endpoint = sobot_exporter_core::sources::sobot::endpoints::Endpoint::by_name(endpoint)?;
        let agents = data::company_agents(company);
        let real = jiff::Timestamp::now();
        let now = SimClock::new(real, 1).at(real);
        let body = data::statistics(&DataMode::Fixtures, endpoint, day, None, &now, Some(company), &agents);
        let mut body: serde_json::Value = serde_json::from_slice(&body).ok()?;
        body.get_mut("item").map(serde_json::Value::take)
    }

    /// Requests received for one endpoint on behalf of one company.
    pub fn requests_for(&self, company: &str, endpoint: &str) -> Vec<Recorded> {
        lock(&self.state.log)
            .iter()
            .filter(|r| r.endpoint == endpoint && r.company.as_deref() == Some(company))
            .cloned()
            .collect()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.log).clone()
    }

    /// Requests received for one endpoint.
    pub fn requests_to(&self, endpoint: &str) -> Vec<Recorded> {
        lock(&self.state.log).iter().filter(|r| r.endpoint == endpoint).cloned().collect()
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stopped: watch::Receiver<bool>) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = state.clone();
                // `None`: drop the connection without an answer.
                async move { route(&state, req).await.ok_or_else(|| std::io::Error::other("reset")) }
            });
            // A client that goes away mid-request is not the simulator's concern.
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// A parsed request: endpoint name, headers of interest, parameters.
#[derive(Debug)]
struct Call {
    method: hyper::Method,
    path: String,
    endpoint: String,
    token: Option<String>,
    params: Vec<(String, String)>,
    /// The body was present but not a JSON object.
    body_error: bool,
    /// The body as JSON, if it was an object.
    json: Option<serde_json::Value>,
    /// Laaffic's headers: `Api-Key`, `Timestamp`, `Sign`.
    laaffic_headers: [Option<String>; 3],
}

impl Call {
    fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

async fn route(state: &State, req: Request<Incoming>) -> Option<Response<SimBody>> {
    let call = match read_call(req).await {
        Some(call) => call,
        None => return Some(respond(StatusCode::BAD_REQUEST, Bytes::from_static(b"bad request"))),
    };
    let at = Instant::now();
    let company = if call.endpoint == "get_token" {
        call.param("appid").map(str::to_string)
    } else {
        call.token.as_deref().and_then(|t| lock(&state.tokens).owner(t).map(str::to_string))
    };
    let scoped =
        company.as_ref().and_then(|c| lock(&state.scoped).get(&(c.clone(), call.endpoint.clone())).cloned());
    let fault = scoped
        .or_else(|| {
            let mut faults = lock(&state.faults);
            faults.get_mut(&call.endpoint).and_then(VecDeque::pop_front)
        })
        .or_else(|| lock(&state.sticky).get(&call.endpoint).cloned());
    let record = |code: String| {
        let params = call.params.clone();
        let company = company.clone();
        lock(&state.log).push(Recorded { endpoint: call.endpoint.clone(), params, code, company, at });
    };
    let ok = |body: Bytes| (StatusCode::OK, "000000".to_string(), body);
    let (status, code, body) = match fault {
        Some(Fault::RetCode(code)) => (StatusCode::OK, code.to_string(), error_body(&call, code)),
        Some(Fault::RandomCode) => {
            let code = faults::random_code(state.random_codes.fetch_add(1, Ordering::Relaxed));
            let body = error_body(&call, &code);
            (StatusCode::OK, code, body)
        }
        Some(Fault::Http(status)) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            format!("http_{status}"),
            Bytes::from_static(b"<html>upstream error</html>"),
        ),
        Some(Fault::Garbage) => (
            StatusCode::OK,
            "garbage".to_string(),
            Bytes::from_static(b"{\"ret_code\": \"000000\", \"item\": "),
        ),
        Some(Fault::Body(body)) => (StatusCode::OK, "custom".to_string(), Bytes::from(body)),
        Some(Fault::Html) => {
            record("html".to_string());
            let mut response = respond(StatusCode::OK, Bytes::from_static(faults::HTML_PAGE));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            return Some(response);
        }
        Some(Fault::Truncated) => ok(faults::truncated(&answer(state, &call).2)),
        Some(Fault::ListForObject) => ok(faults::list_for_object(&answer(state, &call).2)),
        Some(Fault::ObjectForList) => ok(faults::object_for_list(&answer(state, &call).2)),
        Some(Fault::StringForData) => ok(faults::string_for_data(&answer(state, &call).2)),
        Some(Fault::Large(bytes)) => {
            record("large".to_string());
            return Some(with_body(StatusCode::OK, faults::large(&answer(state, &call).2, bytes)));
        }
        Some(Fault::ResetAfter(sent)) => {
            record("reset".to_string());
            let body = faults::SimBody::broken_after(&answer(state, &call).2, sent);
            return Some(with_body(StatusCode::OK, body));
        }
        Some(Fault::Reset) => {
            record("reset".to_string());
            return None;
        }
        Some(Fault::Hang) => {
            record("hang".to_string());
            std::future::pending::<()>().await;
            return None;
        }
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            answer(state, &call)
        }
        None => answer(state, &call),
    };
    record(code);
    Some(respond(status, body))
}

/// The error envelope of the upstream `call` went to, with `code`.
fn error_body(call: &Call, code: &str) -> Bytes {
    if call.path == sobot_exporter_core::sources::laaffic::client::SEAT_QUERY {
        laaffic::error_body(code)
    } else if call.path.starts_with("/tenantpro/") {
        platform::error_body(&call.path, code)
    } else {
        sobot::error_body(code)
    }
}

/// The simulator's clock: the real one plus the skew a test set.
fn now(state: &State) -> jiff::Timestamp {
    let skew = jiff::SignedDuration::from_secs(state.clock_skew_s.load(Ordering::Relaxed));
    jiff::Timestamp::now().checked_add(skew).unwrap_or_else(|_| jiff::Timestamp::now())
}

/// The simulated day's moment now.
fn sim_now(state: &State) -> day::SimNow {
    state.clock.at(jiff::Timestamp::now())
}

fn answer(state: &State, call: &Call) -> (StatusCode, String, Bytes) {
    if call.path == sobot_exporter_core::sources::laaffic::client::SEAT_QUERY {
        laaffic::answer(state, call)
    } else if call.path.starts_with("/tenantpro/") {
        platform::answer(state, call)
    } else {
        sobot::answer(state, call)
    }
}

async fn read_call(req: Request<Incoming>) -> Option<Call> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let endpoint = path.rsplit('/').next().unwrap_or("").to_string();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let token = header("token");
    let laaffic_headers = [header("Api-Key"), header("Timestamp"), header("Sign")];
    let mut params: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let body = Limited::new(req.into_body(), 1024 * 1024).collect().await.ok()?.to_bytes();
    let mut body_error = false;
    let mut json = None;
    if !body.is_empty() {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(serde_json::Value::Object(map)) => {
                for (k, v) in &map {
                    let v = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    params.push((k.clone(), v));
                }
                json = Some(serde_json::Value::Object(map));
            }
            _ => body_error = true,
        }
    }
    Some(Call { method, path, endpoint, token, params, body_error, json, laaffic_headers })
}

fn respond(status: StatusCode, body: Bytes) -> Response<SimBody> {
    with_body(status, SimBody::full(body))
}

fn with_body(status: StatusCode, body: SimBody) -> Response<SimBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    async fn get(url: String) -> reqwest::Result<reqwest::Response> {
        reqwest::Client::new().get(url).timeout(Duration::from_secs(5)).send().await
    }

    /// get_token for `app_id` signed with `key`: (result code, token).
    async fn token(sim: &Simulator, app_id: &str, key: &str) -> (String, String) {
        let now = jiff::Timestamp::now().as_second().to_string();
        let sign = sobot_exporter_core::sign::sobot_token_sign(app_id, &now, key);
        let url = format!("{}/api/get_token?appid={app_id}&create_time={now}&sign={sign}", sim.base_url());
        let body: Value = get(url).await.expect("answer").json().await.expect("JSON");
        let token = body["item"]["token"].as_str().unwrap_or_default().to_string();
        (body["ret_code"].as_str().unwrap_or_default().to_string(), token)
    }

    async fn robot_session(sim: &Simulator, token: &str) -> reqwest::Result<reqwest::Response> {
        let url = format!(
            "{}/api/wb/5/data/robot_session?start_date=2024-01-01%2000&end_date=2024-01-01%2023",
            sim.base_url()
        );
        reqwest::Client::new().get(url).header("token", token).send().await
    }

    async fn code(response: reqwest::Response) -> String {
        let body: Value = response.json().await.expect("JSON");
        body["ret_code"].as_str().unwrap_or_default().to_string()
    }

    #[tokio::test]
    async fn scoped_faults_and_always_expired_tokens_hit_one_company() {
        let sim = Simulator::start(SimConfig::fixtures("1", "key-one")).await.expect("simulator");
        sim.add_company("2", "key-two");
        sim.set_fault_for("1", "get_token", Some(Fault::RetCode("910004")));
        assert_eq!(token(&sim, "1", "key-one").await.0, "910004");
        let (ok, two) = token(&sim, "2", "key-two").await;
        assert_eq!(ok, "000000");
        assert_eq!(code(robot_session(&sim, &two).await.expect("answer")).await, "000000");

        sim.set_tokens_expired("2", true);
        assert_eq!(code(robot_session(&sim, &two).await.expect("answer")).await, "910002");
        let (ok, newer) = token(&sim, "2", "key-two").await;
        assert_eq!(ok, "000000", "get_token still issues tokens");
        assert_eq!(code(robot_session(&sim, &newer).await.expect("answer")).await, "910002");
        sim.set_tokens_expired("2", false);
        assert_eq!(code(robot_session(&sim, &newer).await.expect("answer")).await, "000000");

        sim.set_fault_for("1", "get_token", None);
        let (ok, one) = token(&sim, "1", "key-one").await;
        assert_eq!(ok, "000000");
        // A fault on an endpoint for company 2 leaves company 1's calls alone.
        sim.set_fault_for("2", "robot_session", Some(Fault::RandomCode));
        let random = code(robot_session(&sim, &newer).await.expect("answer")).await;
        assert!((6..=8).contains(&random.len()), "{random}");
        assert_eq!(code(robot_session(&sim, &one).await.expect("answer")).await, "000000");
    }

    #[tokio::test]
    async fn html_pages_broken_answers_and_hangs() {
        let sim = Simulator::start(SimConfig::fixtures("1", "key-one")).await.expect("simulator");
        let (_, token) = token(&sim, "1", "key-one").await;
        sim.inject("robot_session", Fault::Html, 1);
        sim.inject("robot_session", Fault::ResetAfter(20), 1);
        sim.inject("robot_session", Fault::Hang, 1);
        let html = robot_session(&sim, &token).await.expect("answer");
        assert_eq!(html.status(), 200);
        assert!(html.headers()["content-type"].to_str().is_ok_and(|t| t.starts_with("text/html")));
        assert!(html.text().await.expect("body").starts_with("<!DOCTYPE html>"));

        let broken = robot_session(&sim, &token).await.expect("headers arrive");
        assert_eq!(broken.status(), 200);
        assert!(broken.bytes().await.is_err(), "the body breaks off");

        let hung = tokio::time::timeout(Duration::from_millis(300), robot_session(&sim, &token)).await;
        assert!(hung.is_err(), "no answer");
        let codes: Vec<String> = sim.requests_to("robot_session").into_iter().map(|r| r.code).collect();
        assert_eq!(codes, ["html", "reset", "hang"]);
        assert_eq!(code(robot_session(&sim, &token).await.expect("answer")).await, "000000");
    }

    #[tokio::test]
    async fn laaffic_refuses_a_skewed_timestamp_and_errors_use_its_envelope() {
        let sim = Simulator::start(SimConfig::fixtures("1", "key-one")).await.expect("simulator");
        let query = |sim: &Simulator| {
            let ts = jiff::Timestamp::now().as_second().to_string();
            let (key, secret) = ("bDqJFiq9", "7bz1lzh9");
            let body = json!({"current": 1, "size": 10,
                              "params": {"strTime": "2024-01-01 00:00:00", "endTime": "2024-01-01 23:59:59"}});
            reqwest::Client::new()
                .post(format!(
                    "{}{}",
                    sim.base_url(),
                    sobot_exporter_core::sources::laaffic::client::SEAT_QUERY
                ))
                .header("Api-Key", key)
                .header("Sign", sobot_exporter_core::sign::laaffic_sign(key, secret, &ts))
                .header("Timestamp", ts)
                .json(&body)
                .send()
        };
        let status = |v: Value| v["status"].to_string().trim_matches('"').to_string();
        assert_eq!(status(query(&sim).await.expect("answer").json().await.expect("JSON")), "0");
        sim.set_clock_skew(301);
        assert_eq!(status(query(&sim).await.expect("answer").json().await.expect("JSON")), "-16");
        sim.set_clock_skew(-250);
        assert_eq!(status(query(&sim).await.expect("answer").json().await.expect("JSON")), "0");
        sim.inject("query", Fault::RetCode("-18"), 1);
        assert_eq!(status(query(&sim).await.expect("answer").json().await.expect("JSON")), "-18");
    }
}
