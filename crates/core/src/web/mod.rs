//! The HTTP server: `/metrics` (the cached exposition), `/probe?target=` (one tenant), `/sd`
//! (Prometheus HTTP service discovery of the tenants), `/` (landing page with each target's
//! status, `landing`), `/healthz`, `/-/healthy`, `/-/ready` (200 once the first collection or
//! discovery completed, 503 before), `/-/reload` (with `--web.enable-lifecycle`).
//!
//! A scrape never touches the upstream: it takes the bytes the board assembled from the targets'
//! encoded chunks. `conn` runs the connections within their limits, on every listener
//! ([`listen`]); `webconfig` is `--web.config.file` (TLS, whose failed handshakes and plain
//! HTTP `handshake` counts and answers, headers, basic auth checked by `auth`). The routes are one table, `Route`: everything is behind the web config except
//! `/healthz`, `/-/healthy` and `/-/ready`, which stay open for liveness and readiness probes
//! (they tell nothing but "the process serves" and "the first collection is done").

pub(crate) mod auth;
pub(crate) mod conn;
pub(crate) mod handshake;
pub mod healthcheck;
pub(crate) mod landing;
pub mod listen;
pub(crate) mod sd;
mod verify;
pub(crate) mod webconfig;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{
    ACCEPT, ACCEPT_ENCODING, ALLOW, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, RETRY_AFTER,
    VARY, WWW_AUTHENTICATE,
};
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;

use crate::exposition::{self, Board, Body, Format, Key};
use crate::targets::TargetSet;
pub(crate) use conn::Limits;

/// A response body: the parts of a body (shared with the exposition, not copied), sent in order;
/// or `/sd`'s shared pieces with an address between them.
#[derive(Debug)]
pub(crate) struct Reply {
    parts: std::collections::VecDeque<Bytes>,
    spliced: Option<sd::Spliced>,
    remaining: u64,
}

impl Reply {
    fn one(bytes: Bytes) -> Reply {
        Reply::many(vec![bytes])
    }

    fn many(parts: Vec<Bytes>) -> Reply {
        let remaining = parts.iter().map(|p| p.len() as u64).sum();
        Reply { parts: parts.into_iter().filter(|p| !p.is_empty()).collect(), spliced: None, remaining }
    }

    fn spliced(spliced: sd::Spliced) -> Reply {
        Reply { parts: Default::default(), remaining: spliced.len(), spliced: Some(spliced) }
    }

    fn next_part(&mut self) -> Option<Bytes> {
        loop {
            let part = match &mut self.spliced {
                Some(spliced) => spliced.next_part(),
                None => self.parts.pop_front(),
            }?;
            if !part.is_empty() {
                return Some(part);
            }
        }
    }
}

impl hyper::body::Body for Reply {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        let part = self.next_part();
        if let Some(part) = &part {
            self.remaining -= part.len() as u64;
        }
        std::task::Poll::Ready(part.map(|p| Ok(hyper::body::Frame::data(p))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.remaining)
    }
}

/// What `POST /-/reload` runs: the configuration read again and applied; `Err` holds the
/// reason it was refused, for the answer.
pub trait Reload: Send + Sync + std::fmt::Debug {
    /// Reloads; `trigger` names what asked, for the log.
    fn reload<'a>(
        &'a self,
        trigger: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
}

/// What the handlers need.
#[derive(Debug, Clone)]
pub struct Routes {
    /// Path of the metrics endpoint, e.g. `/metrics`.
    pub telemetry_path: Arc<str>,
    /// The targets' published chunks.
    pub board: Arc<Board>,
    /// The running targets, for `/sd` and `/probe`.
    pub targets: Arc<TargetSet>,
    /// The address listened on, for `/sd` answers to requests without a `Host` header.
    pub address: std::net::SocketAddr,
    /// `/sd`'s address (`--web.external-address`) and its encoded answers.
    pub discovery: Arc<sd::Discovery>,
    /// `POST /-/reload`, if the lifecycle endpoint is enabled (`--web.enable-lifecycle`).
    pub reloader: Option<Arc<dyn Reload>>,
    /// The process-wide self-metrics (build info, reload status), published with the server's.
    pub process: Arc<crate::telemetry::Telemetry>,
    /// The `process_*` metrics, read again by a scrape when they are a second old.
    pub process_stats: Arc<crate::process::ProcessStats>,
    /// The process's own figures on the board: empty (`Figures::default()`), set by the server.
    pub figures: Figures,
}

/// The process's own figures on the board, as the server publishes them; set when it starts.
#[derive(Debug, Clone, Default)]
pub struct Figures(Option<Arc<conn::ProcessFigures>>);

/// Every route the server answers. The dispatch, the web config's exemptions, the methods (405
/// and `Allow`), the landing page's links and the check of `--web.telemetry-path` read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/`: the landing page with each target's status.
    Landing,
    /// `--web.telemetry-path` (`/metrics`): every target's series.
    Metrics,
    /// `/probe?target=`: one tenant's series.
    Probe,
    /// `/sd`: Prometheus HTTP service discovery of the tenants.
    ServiceDiscovery,
    /// `/healthz`: liveness.
    Healthz,
    /// `/-/healthy`: liveness, Prometheus's name.
    Healthy,
    /// `/-/ready`: 200 once the first collection or discovery completed, 503 before.
    Ready,
    /// `/-/reload` (`POST`, `PUT`; with `--web.enable-lifecycle`).
    Reload,
}

impl Route {
    /// Every route, in the landing page's order of links.
    pub(crate) const ALL: [Route; 8] = [
        Route::Landing,
        Route::Metrics,
        Route::Probe,
        Route::ServiceDiscovery,
        Route::Healthz,
        Route::Healthy,
        Route::Ready,
        Route::Reload,
    ];

    /// Its path; the metrics' is `--web.telemetry-path`, this is its default.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Route::Landing => "/",
            Route::Metrics => "/metrics",
            Route::Probe => "/probe",
            Route::ServiceDiscovery => "/sd",
            Route::Healthz => "/healthz",
            Route::Healthy => "/-/healthy",
            Route::Ready => "/-/ready",
            Route::Reload => "/-/reload",
        }
    }

    /// The route of `path`, the metrics being at `telemetry_path`.
    fn of(path: &str, telemetry_path: &str) -> Option<Route> {
        if path == telemetry_path {
            return Some(Route::Metrics);
        }
        Route::ALL.into_iter().find(|route| *route != Route::Metrics && route.path() == path)
    }

    /// Outside the web config's basic auth and rate limit (TLS still applies): the probes, which
    /// tell nothing but "the process serves" and "the first collection is done".
    fn open(self) -> bool {
        matches!(self, Route::Healthz | Route::Healthy | Route::Ready)
    }

    /// The methods it answers, as `Allow` lists them.
    fn allow(self) -> &'static str {
        match self {
            Route::Reload => "POST, PUT",
            _ => "GET, HEAD",
        }
    }

    /// The link's text on the landing page, if it has one.
    pub(crate) fn link(self) -> Option<&'static str> {
        match self {
            Route::Metrics => Some("Metrics"),
            Route::ServiceDiscovery => Some("Service discovery (tenants)"),
            Route::Healthz => Some("Health"),
            Route::Ready => Some("Readiness"),
            Route::Landing | Route::Probe | Route::Healthy | Route::Reload => None,
        }
    }
}

/// Serves on every listener, behind the web config `web` (`--web.config.file`; `None`: plain
/// HTTP, no auth), until `shutdown` resolves, within `limits` (see `conn`); then closes the
/// connections that serve no request and lets in-flight requests finish (up to 10 s). The web
/// config's files are re-checked by one task of the server, every second (`webconfig::watch`).
pub async fn serve(
    listeners: Vec<TcpListener>,
    routes: Routes,
    web: Option<Arc<webconfig::WebConfig>>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let watch = web.clone().map(|web| tokio::spawn(webconfig::watch(web)));
    if let Some(web) = &web {
        let loaded = web.current();
        tokio::task::spawn_blocking(move || auth::warn_costly(&loaded.users));
    }
    let access = Access { web, gate: Arc::default() };
    conn::serve(listeners, routes, access, limits, shutdown).await;
    if let Some(watch) = watch {
        watch.abort();
    }
}

/// The web config a server runs behind, and its basic-auth checker.
#[derive(Debug, Clone, Default)]
pub(crate) struct Access {
    web: Option<Arc<webconfig::WebConfig>>,
    gate: Arc<auth::Gate>,
}

/// The answer to one request from `client`: the web config's checks, the route, the web
/// config's headers.
async fn respond(
    routes: &Routes,
    access: &Access,
    client: std::net::IpAddr,
    req: &Request<Incoming>,
) -> Response<Reply> {
    let route = Route::of(req.uri().path(), &routes.telemetry_path);
    let Some(web) = access.web.as_ref().map(|web| web.current()) else {
        return answer(routes, route, req).await;
    };
    let mut response = if route.is_some_and(Route::open) {
        answer(routes, route, req).await
    } else {
        guarded(routes, access, &web, route, client, req).await
    };
    let headers = response.headers_mut();
    for (name, value) in &web.headers {
        headers.insert(name.clone(), value.clone());
    }
    response
}

/// The rate limit (every client's requests, before authentication, as in the exporter-toolkit)
/// and basic auth (its checks limited per client address, see [`auth`]), then the route.
async fn guarded(
    routes: &Routes,
    access: &Access,
    web: &webconfig::Loaded,
    route: Option<Route>,
    client: std::net::IpAddr,
    req: &Request<Incoming>,
) -> Response<Reply> {
    if let Err(retry) = access.gate.within_rate(web.rate_limit) {
        let text = "too many requests: the rate_limit of --web.config.file is spent (it counts every \
                    client's requests, before authentication)\n";
        return too_many(text, retry);
    }
    if !web.users.is_empty() {
        let authorization = req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes);
        match access.gate.check(&web.users, authorization, client).await {
            auth::Verdict::Allowed => {}
            auth::Verdict::Denied => {
                let mut response = plain(StatusCode::UNAUTHORIZED, "unauthorized\n");
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"sobot_exporter\""));
                return response;
            }
            auth::Verdict::Busy => return too_many("too many password checks at once; retry\n", 1),
            auth::Verdict::Failing(retry) => {
                return too_many("too many failed password checks from this address; retry later\n", retry);
            }
        }
    }
    answer(routes, route, req).await
}

/// 429 with `Retry-After: seconds`.
fn too_many(text: &'static str, seconds: u64) -> Response<Reply> {
    let mut response = plain(StatusCode::TOO_MANY_REQUESTS, text);
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// The route's answer: 404 for an unknown path whatever the method, 405 with `Allow` for a
/// method the route does not take.
async fn answer(routes: &Routes, route: Option<Route>, req: &Request<Incoming>) -> Response<Reply> {
    let Some(route) = route else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    let allow = route.allow();
    if !allow.split(", ").any(|method| method == req.method().as_str()) {
        let text = format!("method not allowed: use {}\n", allow.replace(", ", " or "));
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, text);
        response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
        return response;
    }
    match route {
        Route::Landing => landing(routes),
        Route::Metrics => metrics(routes, req),
        Route::Probe => probe(routes, req),
        Route::ServiceDiscovery => routes.discovery.answer(&routes.targets, req, routes.address),
        Route::Healthz | Route::Healthy => plain(StatusCode::OK, "ok\n"),
        Route::Ready if !routes.targets.status().ready() => {
            plain(StatusCode::SERVICE_UNAVAILABLE, "not ready: the first collection has not completed\n")
        }
        Route::Ready => plain(StatusCode::OK, "ready\n"),
        Route::Reload => reload(routes).await,
    }
}

/// `POST` or `PUT /-/reload`: 200 once the new config is in force, 500 with the reason if it
/// was refused (the running one stays), 403 unless `--web.enable-lifecycle`.
async fn reload(routes: &Routes) -> Response<Reply> {
    let Some(reloader) = &routes.reloader else {
        return plain(StatusCode::FORBIDDEN, "the lifecycle API is not enabled (--web.enable-lifecycle)\n");
    };
    let outcome = reloader.reload("POST /-/reload").await;
    // The reload status is on /metrics before the answer goes.
    if let Figures(Some(figures)) = &routes.figures {
        figures.publish_changes(&routes.process);
    }
    match outcome {
        Ok(()) => plain(StatusCode::OK, "reloaded\n"),
        Err(reason) => plain(StatusCode::INTERNAL_SERVER_ERROR, format!("reload failed: {reason}\n")),
    }
}

fn header(req: &Request<Incoming>, name: hyper::header::HeaderName) -> &str {
    req.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok()).unwrap_or("")
}

fn metrics(routes: &Routes, req: &Request<Incoming>) -> Response<Reply> {
    routes.process_stats.refresh();
    exposition_response(req, |format| routes.board.body(format))
}

/// One tenant's series, from its published chunks: no `tenant` label inside (the scrape target
/// carries it), its own health included. 404 for a tenant this replica does not serve.
fn probe(routes: &Routes, req: &Request<Incoming>) -> Response<Reply> {
    let target = req.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "target").map(|(_, v)| v.into_owned())
    });
    let Some(target) = target.filter(|t| !t.is_empty()) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "the target parameter is missing: /probe?target=<companyId>\n",
        );
    };
    let published =
        routes.targets.serves_tenant(&target).then(|| routes.board.published(&Key::Target(target)));
    match published.flatten() {
        Some(published) => exposition_response(req, |format| published.body(format)),
        None => plain(StatusCode::NOT_FOUND, "this exporter does not serve that tenant (see /sd)\n"),
    }
}

/// An exposition in the format and encoding the request asks for.
fn exposition_response(req: &Request<Incoming>, body: impl FnOnce(Format) -> Arc<Body>) -> Response<Reply> {
    let format = Format::negotiate(header(req, ACCEPT));
    let content_type = format.content_type();
    let body = body(format);
    let gzip = exposition::accepts_gzip(header(req, ACCEPT_ENCODING));
    let reply = if gzip { Reply::one(body.gzip()) } else { Reply::many(body.parts()) };
    let mut response = Response::new(reply);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    if gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

fn landing(routes: &Routes) -> Response<Reply> {
    let html = landing::render(&routes.telemetry_path, routes.targets.status(), jiff::Timestamp::now());
    let mut response = Response::new(Reply::one(Bytes::from(html)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

fn plain(status: StatusCode, text: impl Into<Bytes>) -> Response<Reply> {
    let mut response = Response::new(Reply::one(text.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_finds_its_route_and_the_metrics_move_with_the_flag() {
        for route in Route::ALL {
            assert_eq!(Route::of(route.path(), "/metrics"), Some(route), "{route:?}");
        }
        assert_eq!(Route::of("/stats", "/stats"), Some(Route::Metrics));
        assert_eq!(Route::of("/metrics", "/stats"), None);
        assert_eq!(Route::of("/nope", "/metrics"), None);
        let open: Vec<&str> = Route::ALL.into_iter().filter(|r| r.open()).map(Route::path).collect();
        assert_eq!(open, ["/healthz", "/-/healthy", "/-/ready"]);
    }
}
