//! The proxy in front of the simulator that holds the slow tenants' statistics calls.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::SLOW_HOLD;

/// A proxy in front of the simulator that holds every statistics call of the slow tenants for
/// [`SLOW_HOLD`] and then answers 504 without forwarding it: it learns their tokens from the
/// get_token answers it forwards. Stops accepting when dropped.
pub(crate) struct SlowProxy {
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) held: Arc<AtomicU64>,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

/// What the proxy's connections share.
pub(crate) struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    slow_apps: HashSet<String>,
    slow_tokens: Mutex<HashSet<String>>,
    held: Arc<AtomicU64>,
}

impl SlowProxy {
    pub(crate) async fn start(upstream: String, slow_apps: HashSet<String>) -> SlowProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let held = Arc::new(AtomicU64::new(0));
        let state = Arc::new(ProxyState {
            upstream,
            client: reqwest::Client::new(),
            slow_apps,
            slow_tokens: Mutex::default(),
            held: held.clone(),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(proxy(&state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        SlowProxy { addr, held, task }
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn proxy(state: &ProxyState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (token, content_type) = (header("token"), header("content-type"));
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let slow = token.as_ref().is_some_and(|t| {
        let tokens = state.slow_tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.contains(t)
    });
    if slow {
        state.held.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(SLOW_HOLD).await;
        return reply(StatusCode::GATEWAY_TIMEOUT, None, Bytes::from_static(b"held"));
    }
    let app = path.starts_with("/api/get_token").then(|| {
        let query = path.split_once('?').map_or("", |(_, q)| q);
        form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "appid").map(|(_, v)| v.into_owned())
    });
    let mut request = state.client.request(method, format!("{}{path}", state.upstream)).body(body);
    for (name, value) in [("token", token), ("content-type", content_type)] {
        if let Some(value) = value {
            request = request.header(name, value);
        }
    }
    let Ok(response) = request.send().await else {
        return reply(StatusCode::BAD_GATEWAY, None, Bytes::from_static(b"upstream"));
    };
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = response.bytes().await.unwrap_or_default();
    if app.flatten().is_some_and(|a| state.slow_apps.contains(&a))
        && let Some(token) = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.pointer("/item/token").and_then(|t| t.as_str()).map(str::to_string))
    {
        state.slow_tokens.lock().unwrap_or_else(PoisonError::into_inner).insert(token);
    }
    reply(status, content_type, bytes)
}

pub(crate) fn reply(status: StatusCode, content_type: Option<String>, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    if let Some(value) = content_type.and_then(|v| hyper::header::HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
