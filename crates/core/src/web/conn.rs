//! The connections of the HTTP server, and their limits.
//!
//! An exporter's clients are a few Prometheus servers, but anything that reaches the port can
//! open connections, and each one that asks for `/metrics` pins that body until it is sent. So:
//!
//! - **Write timeout** (`--web.write-timeout`, 30 s): a response whose write makes no progress
//!   for that long (a client that asks and never reads) closes the connection, and its body goes.
//! - **Idle timeout** (`--web.idle-timeout`, 60 s): hyper's header read timeout, which since
//!   hyper 1.4 starts when a connection waits for a request, so one timer covers a kept-alive
//!   connection between requests, a new one before its first, and a header sent slowly. Longer
//!   than the usual 15 s and 30 s scrape intervals, so Prometheus keeps its connection.
//! - **Maximum age** (`--web.max-connection-age`, 5 min): an older connection is closed after
//!   its current response, or at once if it serves none; one whose response does not finish
//!   within 10 s more is closed anyway (a client reading a byte at a time).
//! - **Connection limit** (`--web.max-connections`, 512): at the limit a new connection closes
//!   the one that has waited longest without serving a request (idle, or still sending its
//!   header), else the one whose write has been stalled longest, else it is refused: a scrape
//!   still answers when idle or stuck clients fill the limit. One WARN when the limit is reached,
//!   one INFO when the connections are back under three quarters of it.
//! - **Shutdown**: connections not serving a request close at once; a response in flight gets
//!   10 s to finish, unless its write makes no progress for a second (a client not reading): then
//!   its connection closes.
//!
//! `raise_fd_limit` lifts the soft file-descriptor limit to the hard one at start, so that the
//! limit, not `EMFILE`, is what bites; should `accept` still fail for want of descriptors, the
//! connection idle longest is closed to give one back (logged at most once a minute).
//! The figures are the process-wide self-metrics
//! `sobot_exporter_http_*`, published on the board at most once a second when they change.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Frame, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use super::handshake::{self, Opening};
use super::{Access, Routes, respond};
use crate::exposition::{Chunk, Key, Published};
use crate::telemetry::{
    self, HTTP_CONNECTIONS, HTTP_CONNECTIONS_CLOSED, HTTP_MAX_CONNECTIONS, HTTP_TLS_HANDSHAKE_FAILURES,
};
use crate::upstream::out_of_files;

/// How long in-flight responses may take to finish after a shutdown signal, or after their
/// connection reached its maximum age.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// After a shutdown signal, a response whose write has made no progress for this long closes its
/// connection instead of holding the drain.
const STALLED_AT_SHUTDOWN: Duration = Duration::from_secs(1);

/// How often the `sobot_exporter_http_*` figures are published when they changed.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// A failing `accept` (out of file descriptors) is logged at most this often.
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(60);

/// The server's limits (the `--web.*` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most connections kept open.
    pub(crate) max_connections: usize,
    /// A response write that makes no progress for this long closes its connection.
    pub(crate) write_timeout: Duration,
    /// Longest wait for a request's complete header (between requests, or for the first).
    pub(crate) idle_timeout: Duration,
    /// Connections older than this close after their current response; `None`: never.
    pub(crate) max_age: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            write_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_age: Some(Duration::from_secs(300)),
        }
    }
}

/// Why the server closed a connection: the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Limit = 0,
    WriteTimeout = 1,
    IdleTimeout = 2,
    MaxAge = 3,
}

impl Reason {
    const ALL: [Reason; 4] = [Reason::Limit, Reason::WriteTimeout, Reason::IdleTimeout, Reason::MaxAge];

    fn label(self) -> &'static str {
        match self {
            Reason::Limit => "limit",
            Reason::WriteTimeout => "write_timeout",
            Reason::IdleTimeout => "idle_timeout",
            Reason::MaxAge => "max_age",
        }
    }
}

/// What the server, a connection's task, its IO and its response bodies share about it.
#[derive(Debug, Default)]
struct ConnState {
    /// Responses being sent (handed to the service, body not yet finished).
    serving: AtomicU32,
    /// Milliseconds after the server's start when it last stopped serving (or was accepted).
    quiet_since: AtomicU64,
    /// Milliseconds after the server's start (plus one) since which a write has been pending; 0
    /// when none is.
    stalled_since: AtomicU64,
    /// A write failed for want of progress.
    write_timed_out: AtomicBool,
    /// Closes the connection at once (the limit made room).
    kill: Notify,
}

impl ConnState {
    /// Serving a request, or still writing one's answer.
    fn busy(&self) -> bool {
        self.serving.load(Ordering::Acquire) > 0 || self.stalled_since.load(Ordering::Acquire) != 0
    }
}

/// The open connections and the figures about them.
#[derive(Debug)]
struct Server {
    limits: Limits,
    start: Instant,
    conns: Mutex<Conns>,
    closed: [AtomicU64; 4],
    /// The failed TLS handshakes, published when the server speaks TLS.
    handshakes: handshake::Failures,
    tls: bool,
    /// Set by every change of the figures; cleared when they are published.
    changed: AtomicBool,
    /// Notified when the last connection goes.
    emptied: Notify,
}

#[derive(Debug, Default)]
struct Conns {
    map: HashMap<u64, Arc<ConnState>>,
    next_id: u64,
    /// The limit has been reached and the connections have not gone back under 3/4 of it.
    limited: bool,
    /// Connections closed or refused for the limit in this episode.
    limited_closes: u64,
}

fn lock(m: &Mutex<Conns>) -> MutexGuard<'_, Conns> {
    // Only a map and counters behind it: a panic cannot leave it half-written.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Server {
    fn new(limits: Limits, tls: bool) -> Server {
        Server {
            limits,
            start: Instant::now(),
            conns: Mutex::default(),
            closed: Default::default(),
            handshakes: handshake::Failures::default(),
            tls,
            changed: AtomicBool::new(true),
            emptied: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn count_close(&self, reason: Reason) {
        self.closed[reason as usize].fetch_add(1, Ordering::Relaxed);
        self.changed.store(true, Ordering::Relaxed);
    }

    fn count_handshake_failure(&self, reason: handshake::Reason, peer: std::net::SocketAddr, error: &str) {
        self.handshakes.count(reason, peer, &error);
        self.changed.store(true, Ordering::Relaxed);
    }

    /// Registers a new connection, making room at the limit; `None`: refused.
    fn admit(&self) -> Option<(u64, Arc<ConnState>)> {
        let mut conns = lock(&self.conns);
        if conns.map.len() >= self.limits.max_connections {
            if !conns.limited {
                conns.limited = true;
                warn!(
                    max_connections = self.limits.max_connections,
                    "connection limit reached: closing the connections idle longest to make room \
                     (raise --web.max-connections if this many clients are expected)"
                );
            }
            conns.limited_closes += 1;
            self.count_close(Reason::Limit);
            let oldest = victim(&conns.map)?;
            if let Some(state) = conns.map.remove(&oldest) {
                state.kill.notify_one();
            }
        }
        let id = conns.next_id;
        conns.next_id += 1;
        let state = Arc::new(ConnState::default());
        state.quiet_since.store(self.now_ms(), Ordering::Relaxed);
        conns.map.insert(id, state.clone());
        self.changed.store(true, Ordering::Relaxed);
        Some((id, state))
    }

    /// Closes the connection idle longest (out of file descriptors); whether there was one.
    fn close_one_idle(&self) -> bool {
        let mut conns = lock(&self.conns);
        let victim = victim(&conns.map).and_then(|id| conns.map.remove(&id));
        if let Some(state) = &victim {
            state.kill.notify_one();
            conns.limited_closes += 1;
            self.count_close(Reason::Limit);
        }
        self.after_removal(&mut conns);
        victim.is_some()
    }

    /// Forgets a connection that ended; false if it was already gone (closed for the limit).
    fn remove(&self, id: u64) -> bool {
        let mut conns = lock(&self.conns);
        let removed = conns.map.remove(&id).is_some();
        self.after_removal(&mut conns);
        removed
    }

    fn after_removal(&self, conns: &mut Conns) {
        self.changed.store(true, Ordering::Relaxed);
        if conns.limited && conns.map.len() <= self.limits.max_connections * 3 / 4 {
            conns.limited = false;
            info!(closed = std::mem::take(&mut conns.limited_closes), "connections back under the limit");
        }
        if conns.map.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    /// The `sobot_exporter_http_*` series.
    fn values(&self) -> Vec<(&'static str, crate::snapshot::Labels, f64)> {
        let open = lock(&self.conns).map.len();
        let mut values = vec![
            (HTTP_CONNECTIONS, Vec::new(), open as f64),
            (HTTP_MAX_CONNECTIONS, Vec::new(), self.limits.max_connections as f64),
        ];
        for reason in Reason::ALL {
            let n = self.closed[reason as usize].load(Ordering::Relaxed);
            values.push((HTTP_CONNECTIONS_CLOSED, vec![("reason", reason.label().to_string())], n as f64));
        }
        if self.tls {
            for (reason, n) in self.handshakes.counts() {
                let labels = vec![("reason", reason.label().to_string())];
                values.push((HTTP_TLS_HANDSHAKE_FAILURES, labels, n as f64));
            }
        }
        values
    }

    /// Waits until every connection is gone.
    async fn all_gone(&self) {
        loop {
            let emptied = self.emptied.notified();
            if lock(&self.conns).map.is_empty() {
                return;
            }
            emptied.await;
        }
    }
}

/// The connection to close to make room: the one idle longest, else the one whose write has
/// been stalled longest (a client that does not read); none if every one is sending.
fn victim(conns: &HashMap<u64, Arc<ConnState>>) -> Option<u64> {
    let idle = conns
        .iter()
        .filter(|(_, c)| !c.busy())
        .min_by_key(|(id, c)| (c.quiet_since.load(Ordering::Relaxed), **id));
    let stalled = || {
        conns
            .iter()
            .map(|(id, c)| (c.stalled_since.load(Ordering::Relaxed), *id))
            .filter(|(since, _)| *since != 0)
            .min()
            .map(|(_, id)| id)
    };
    idle.map(|(id, _)| *id).or_else(stalled)
}

/// The process's own figures on the board: the process-wide self-metrics (build info, reload
/// status) and the server's. Published by the server's loop once a second when they changed,
/// and by a reload before it answers (so its answer and the next scrape agree).
pub(crate) struct ProcessFigures {
    publisher: crate::exposition::Publisher,
    server: Arc<Server>,
    /// `Telemetry::changes` at the last publication; held while publishing, so that a caller
    /// returns once the figures it changed are published, by whichever caller.
    seen: Mutex<u64>,
}

impl std::fmt::Debug for ProcessFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessFigures").finish_non_exhaustive()
    }
}

impl ProcessFigures {
    /// Publishes the figures if they changed since the last publication. The process-wide
    /// ones change rarely: counted, not compared.
    pub(crate) fn publish_changes(&self, process: &telemetry::Telemetry) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let changes = process.changes();
        let process_changed = std::mem::replace(&mut *seen, changes) != changes;
        if self.server.changed.swap(false, Ordering::Relaxed) | process_changed {
            let families = telemetry::process_families(process, self.server.values());
            match Chunk::encode(vec![Arc::new(families)]) {
                Ok(chunk) => self.publisher.publish(Published::new(vec![Arc::new(chunk)])),
                Err(_) => debug!("cannot encode the process's own metrics"),
            }
        }
    }
}

/// Serves on every listener until `shutdown` resolves; then closes the connections that serve no
/// request and lets the others finish (up to [`DRAIN_TIMEOUT`]). `routes` is cloned per listener
/// with its address; `access` is the web config (TLS, basic auth) and its checker.
pub(crate) async fn serve(
    listeners: Vec<TcpListener>,
    routes: Routes,
    access: Access,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let tls = access.web.as_ref().is_some_and(|web| web.tls());
    let server = Arc::new(Server::new(limits, tls));
    let figures = Arc::new(ProcessFigures {
        publisher: routes.board.publisher(Key::Process, &Vec::new(), true),
        server: server.clone(),
        seen: Mutex::new(u64::MAX),
    });
    let mut routes = routes;
    routes.figures = super::Figures(Some(figures.clone()));
    let (stop, stopped) = watch::channel(false);
    let publish_changes = || figures.publish_changes(&routes.process);
    publish_changes();
    let mut publish = tokio::time::interval(PUBLISH_EVERY);
    publish.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // One accept task per listener; the connections come to one loop (one limit for all).
    let (accepted_tx, mut accepted) = tokio::sync::mpsc::channel(16);
    let acceptors: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            let mut routes = routes.clone();
            routes.address = listener.local_addr().unwrap_or(routes.address);
            tokio::spawn(accept(listener, routes, server.clone(), accepted_tx.clone()))
        })
        .collect();
    drop(accepted_tx);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            next = accepted.recv() => {
                let Some((stream, peer, routes)) = next else { break };
                let Some((id, state)) = server.admit() else {
                    debug!(%peer, "connection refused: every connection is sending a response");
                    continue;
                };
                let task = Connection { id, state, server: server.clone(), routes, access: access.clone() };
                tokio::spawn(task.run(stream, peer, stopped.clone()));
            }
            _ = publish.tick() => publish_changes(),
            () = &mut shutdown => break,
        }
    }
    // Dropping the accept tasks closes the listeners.
    for acceptor in acceptors {
        acceptor.abort();
    }
    info!("shutting down: finishing in-flight requests");
    let _ = stop.send(true);
    if tokio::time::timeout(DRAIN_TIMEOUT, server.all_gone()).await.is_err() {
        warn!("in-flight requests did not finish within {}s", DRAIN_TIMEOUT.as_secs());
    }
}

/// Accepts the connections of one listener and hands them to the server's loop.
async fn accept(
    listener: TcpListener,
    routes: Routes,
    server: Arc<Server>,
    to: tokio::sync::mpsc::Sender<(TcpStream, std::net::SocketAddr, Routes)>,
) {
    let mut warned: Option<Instant> = None;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if to.send((stream, peer, routes.clone())).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                if warned.is_none_or(|at| at.elapsed() >= ACCEPT_WARN_EVERY) {
                    warn!(error = %e, "accept failed; retrying (logged at most once a minute)");
                    warned = Some(Instant::now());
                }
                // Out of file descriptors: an idle connection gives one back.
                if !(out_of_files(&e) && server.close_one_idle()) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// One connection's task.
struct Connection {
    id: u64,
    state: Arc<ConnState>,
    server: Arc<Server>,
    routes: Routes,
    access: Access,
}

impl Connection {
    async fn run(self, stream: TcpStream, peer: std::net::SocketAddr, mut stopped: watch::Receiver<bool>) {
        let limits = &self.server.limits;
        let io = TimedIo::new(stream, limits.write_timeout, self.state.clone(), self.server.clone());
        let Some(tls) = self.access.web.as_ref().and_then(|web| web.current().tls.clone()) else {
            return self.serve(io, peer, stopped).await;
        };
        // The handshake counts as waiting for a request: the idle timeout bounds it, and the
        // connection limit may close it. Plain HTTP is not given to rustls: it is answered.
        let handshake = async {
            match handshake::opening(&io.inner).await {
                Ok(Opening::Tls) => TlsAcceptor::from(tls)
                    .accept(io)
                    .await
                    .map_err(|e| (handshake::Reason::of(&e), e.to_string(), None)),
                Ok(Opening::Http) => {
                    Err((handshake::Reason::PlainHttp, "an HTTP request".to_string(), Some(io)))
                }
                Ok(Opening::Other) => Err((handshake::Reason::NotTls, "not a TLS record".to_string(), None)),
                Ok(Opening::Closed) => {
                    Err((handshake::Reason::Closed, "closed before a byte".to_string(), None))
                }
                Err(e) => Err((handshake::Reason::of(&e), e.to_string(), None)),
            }
        };
        let handshake = tokio::time::timeout(limits.idle_timeout, handshake);
        let outcome = tokio::select! {
            outcome = handshake => outcome,
            () = self.state.kill.notified() => {
                self.server.remove(self.id);
                return;
            }
            _ = stopped.wait_for(|stop| *stop) => {
                self.server.remove(self.id);
                return;
            }
        };
        match outcome {
            Ok(Ok(stream)) => self.serve(stream, peer, stopped).await,
            Ok(Err((reason, error, plain))) => {
                self.server.count_handshake_failure(reason, peer, &error);
                if let Some(io) = plain {
                    handshake::refuse_plain_http(io).await;
                }
                self.server.remove(self.id);
            }
            Err(_) => {
                let error =
                    format!("no handshake within {} s (--web.idle-timeout)", limits.idle_timeout.as_secs());
                self.server.count_handshake_failure(handshake::Reason::Timeout, peer, &error);
                if self.server.remove(self.id) {
                    self.server.count_close(Reason::IdleTimeout);
                }
            }
        }
    }

    /// Serves HTTP/1.1 over `io` (plain or TLS) within the limits.
    async fn serve<I>(self, io: I, peer: std::net::SocketAddr, mut stopped: watch::Receiver<bool>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let limits = &self.server.limits;
        let (routes, state, server) = (self.routes.clone(), self.state.clone(), self.server.clone());
        let access = self.access.clone();
        let service = service_fn(move |req| {
            state.serving.fetch_add(1, Ordering::AcqRel);
            let guard = Serving { state: state.clone(), server: server.clone() };
            let (routes, access) = (routes.clone(), access.clone());
            async move {
                let response = respond(&routes, &access, peer.ip(), &req).await;
                Ok::<_, Infallible>(response.map(|body| Tracked { body, _guard: guard }))
            }
        });
        let mut conn = Box::pin(
            http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.idle_timeout)
                .serve_connection(TokioIo::new(io), service),
        );
        let age = tokio::time::sleep(limits.max_age.unwrap_or(DRAIN_TIMEOUT));
        tokio::pin!(age);
        let mut aged = false;
        let mut closing: Option<Reason> = None;
        let mut stopping = *stopped.borrow();
        let mut stall_check = tokio::time::interval(STALLED_AT_SHUTDOWN / 4);
        let reason = loop {
            if stopping && !self.state.busy() {
                break None;
            }
            tokio::select! {
                result = conn.as_mut() => break match result {
                    Ok(()) => closing,
                    Err(_) if self.state.write_timed_out.load(Ordering::Relaxed) => Some(Reason::WriteTimeout),
                    Err(e) if e.is_timeout() => Some(Reason::IdleTimeout),
                    Err(e) => {
                        debug!(%peer, error = %e, "connection ended with an error");
                        None
                    }
                },
                () = self.state.kill.notified() => break None,
                () = &mut age, if limits.max_age.is_some() => {
                    if aged {
                        // Its response did not finish in the time given after the maximum age.
                        break Some(Reason::MaxAge);
                    }
                    aged = true;
                    if !self.state.busy() {
                        break Some(Reason::MaxAge);
                    }
                    closing = Some(Reason::MaxAge);
                    conn.as_mut().graceful_shutdown();
                    age.as_mut().reset(tokio::time::Instant::now() + DRAIN_TIMEOUT);
                }
                _ = stall_check.tick(), if stopping => {
                    let since = self.state.stalled_since.load(Ordering::Acquire);
                    let stalled_ms = self.server.now_ms().saturating_sub(since.saturating_sub(1));
                    if since != 0 && stalled_ms >= STALLED_AT_SHUTDOWN.as_millis() as u64 {
                        debug!(%peer, "shutting down: closing a connection whose client does not read");
                        break None;
                    }
                }
                changed = stopped.changed(), if !stopping => {
                    // A closed channel: the server is gone; stop as on a signal.
                    stopping = changed.is_err() || *stopped.borrow();
                    if stopping {
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        };
        // Dropping the connection closes the socket at once.
        drop(conn);
        if self.server.remove(self.id)
            && let Some(reason) = reason
        {
            debug!(%peer, reason = reason.label(), "connection closed");
            self.server.count_close(reason);
        }
    }
}

/// Held by a response body while it is being sent: the connection is serving.
#[derive(Debug)]
struct Serving {
    state: Arc<ConnState>,
    server: Arc<Server>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.state.quiet_since.store(self.server.now_ms(), Ordering::Relaxed);
        self.state.serving.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that marks its connection as serving until it is sent (or dropped).
#[derive(Debug)]
pub(crate) struct Tracked<B> {
    body: B,
    _guard: Serving,
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A socket whose writes fail once one has made no progress for the write timeout.
struct TimedIo {
    inner: TcpStream,
    timeout: Duration,
    /// Armed while a write is pending.
    timer: Pin<Box<tokio::time::Sleep>>,
    armed: bool,
    state: Arc<ConnState>,
    server: Arc<Server>,
}

impl TimedIo {
    fn new(inner: TcpStream, timeout: Duration, state: Arc<ConnState>, server: Arc<Server>) -> TimedIo {
        TimedIo { inner, timeout, timer: Box::pin(tokio::time::sleep(timeout)), armed: false, state, server }
    }

    /// After a write that returned `result`: disarms on progress, arms or fires on `Pending`.
    fn watch<T>(&mut self, cx: &mut Context<'_>, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if result.is_ready() {
            if self.armed {
                self.armed = false;
                self.state.stalled_since.store(0, Ordering::Release);
            }
            return result;
        }
        if !self.armed {
            self.armed = true;
            self.timer.as_mut().reset(tokio::time::Instant::now() + self.timeout);
            self.state.stalled_since.store(self.server.now_ms() + 1, Ordering::Release);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            self.state.write_timed_out.store(true, Ordering::Relaxed);
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")));
        }
        Poll::Pending
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, result)
    }
}

/// Raises the soft limit on open files to the hard limit (Linux and other Unix), so that
/// `--web.max-connections`, not `EMFILE`, bounds the connections; logs what it is. Never fails.
pub(crate) fn raise_fd_limit(max_connections: usize) {
    #[cfg(unix)]
    {
        let before = rlimit::Resource::NOFILE.get();
        match (before, rlimit::increase_nofile_limit(u64::MAX)) {
            (Ok((soft, hard)), Ok(now)) => {
                info!(soft_before = soft, soft = now, hard, "file-descriptor limit (RLIMIT_NOFILE)");
                // Sockets to the upstreams, the listener, logs: some room besides the connections.
                if now < max_connections as u64 + 64 {
                    warn!(
                        limit = now,
                        max_connections,
                        "the file-descriptor limit leaves little room for --web.max-connections: raise it \
                         (ulimit -n, systemd LimitNOFILE=) or lower --web.max-connections"
                    );
                }
            }
            (_, Err(e)) | (Err(e), _) => {
                debug!(error = %e, "cannot raise the file-descriptor limit (RLIMIT_NOFILE)");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = max_connections;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(quiet_since: u64, serving: u32, stalled_since: u64) -> Arc<ConnState> {
        let c = ConnState::default();
        c.quiet_since.store(quiet_since, Ordering::Relaxed);
        c.serving.store(serving, Ordering::Relaxed);
        c.stalled_since.store(stalled_since, Ordering::Relaxed);
        Arc::new(c)
    }

    #[test]
    fn the_idle_longest_go_first_then_the_stalled_then_none() {
        let mut conns = HashMap::new();
        conns.insert(1, conn(10, 1, 0)); // serving, writing fine
        conns.insert(2, conn(50, 0, 0)); // idle since 50
        conns.insert(3, conn(5, 1, 300)); // serving, write stalled since 300
        conns.insert(4, conn(20, 0, 0)); // idle since 20
        conns.insert(5, conn(1, 1, 200)); // serving, write stalled since 200
        assert_eq!(victim(&conns), Some(4));
        conns.remove(&4);
        assert_eq!(victim(&conns), Some(2));
        conns.remove(&2);
        assert_eq!(victim(&conns), Some(5));
        conns.remove(&5);
        assert_eq!(victim(&conns), Some(3));
        conns.remove(&3);
        assert_eq!(victim(&conns), None, "a connection sending a response is never closed for the limit");
    }

    #[test]
    fn at_the_limit_a_connection_makes_room_or_is_refused() {
        let server = Server::new(Limits { max_connections: 2, ..Limits::default() }, false);
        let (a, a_state) = server.admit().expect("room");
        let (_, b_state) = server.admit().expect("room");
        b_state.serving.store(1, Ordering::Relaxed);
        let (c, c_state) = server.admit().expect("a is idle: it makes room");
        assert!(!server.remove(a), "a was closed for the limit");
        c_state.serving.store(1, Ordering::Relaxed);
        assert!(server.admit().is_none(), "both serve: refused");
        assert!(server.remove(c));
        let values = server.values();
        let limit = values.iter().find(|(name, labels, _)| {
            *name == HTTP_CONNECTIONS_CLOSED && labels == &vec![("reason", "limit".to_string())]
        });
        assert_eq!(limit.map(|v| v.2), Some(2.0));
        assert!(values.contains(&(HTTP_CONNECTIONS, Vec::new(), 1.0)));
        drop((a_state, b_state));
    }
}
