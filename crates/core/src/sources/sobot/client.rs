//! The one request path to the Sobot API: token, signing, rate limit, timeouts, result codes.
//!
//! One client per tenant (company): it holds that tenant's credentials and the single token of
//! those credentials, shared ([`Tokens`]) with every other client that has the same base URL, app
//! id and key, across reloads. Collectors never build HTTP requests themselves.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::debug;

use crate::secret::Secret;
use crate::sign::sobot_token_sign;
use crate::table::Method;
use crate::telemetry::Telemetry;
use crate::upstream::UpstreamError;
use crate::upstream::{ClientSettings, Upstream};
use crate::value::parse_u64;

/// The result code of success.
pub(crate) const OK: &str = "000000";
/// "Token expired" in the statistics API (`910002`) and the quality API (`900002`).
pub(crate) const TOKEN_EXPIRED: [&str; 2] = ["910002", "900002"];
/// Token lifetime the documents state, used when `expires_in` is missing or unreadable.
pub(crate) const DOCUMENTED_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);

/// Credentials of one Sobot company.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// `appid`, not secret but not printed either.
    pub app_id: String,
    /// `app_key`, the signing secret.
    pub app_key: Secret,
}

#[derive(Debug)]
struct Token {
    value: Secret,
    refresh_at: Instant,
    /// When the upstream said it expires: a failed refresh before then keeps using it.
    expires_at: Instant,
}

/// The token, or why there is none.
#[derive(Debug, Default)]
struct TokenState {
    token: Option<Token>,
    /// The last failed fetch and until when it stands: callers until then get this error without
    /// a new attempt, so a rejected key costs one `get_token` a cycle, not one per collector.
    failed: Option<(Instant, UpstreamError)>,
}

/// The token of one set of credentials. A tokio mutex, held across the fetch so that concurrent
/// callers wait for one refresh instead of starting several (each new token invalidates the
/// previous one).
type TokenCell = Arc<Mutex<TokenState>>;

/// The app keys seen with one base URL and app id, each with its token.
type KeyCells = Vec<(Secret, TokenCell)>;

/// The tokens of the process, one per set of credentials: base URL, app id and app key. Each
/// `get_token` invalidates the token before it, so every client of the same credentials (two
/// tenants listed with one app id, a target restarted by a reload that kept its credentials)
/// must use the same one.
#[derive(Default)]
pub struct Tokens {
    /// By base URL and app id: the keys seen with them, each with its token.
    cells: std::sync::Mutex<HashMap<(String, String), KeyCells>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Tokens").field("credentials", &cells.values().map(Vec::len).sum::<usize>()).finish()
    }
}

impl Tokens {
    /// The token cell of `credentials` at `base_url`, made on first use.
    fn cell(&self, base_url: &str, credentials: &Credentials) -> TokenCell {
        let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        let keys = cells.entry((base(base_url), credentials.app_id.clone())).or_default();
        if let Some((_, cell)) = keys.iter().find(|(key, _)| *key == credentials.app_key) {
            return cell.clone();
        }
        let cell = TokenCell::default();
        keys.push((credentials.app_key.clone(), cell.clone()));
        cell
    }

    /// Forgets the tokens of every set of credentials not in `keep` (`(base URL, credentials)`):
    /// those no target has any more.
    pub fn retain<'a>(&self, keep: impl IntoIterator<Item = (&'a str, &'a Credentials)>) {
        let keep: Vec<(String, &Credentials)> = keep.into_iter().map(|(url, c)| (base(url), c)).collect();
        let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        cells.retain(|(url, app_id), keys| {
            keys.retain(|(key, _)| {
                keep.iter().any(|(u, c)| u == url && c.app_id == *app_id && c.app_key == *key)
            });
            !keys.is_empty()
        });
    }

    /// How many sets of credentials have a token cell.
    pub fn len(&self) -> usize {
        self.cells.lock().unwrap_or_else(PoisonError::into_inner).values().map(Vec::len).sum()
    }

    /// Whether no credentials have a token cell.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A base URL as the upstream layer uses it (no trailing slash).
fn base(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

/// A Sobot API client for one company.
#[derive(Debug)]
pub struct SobotClient {
    upstream: Upstream,
    credentials: Credentials,
    /// The token of the credentials (of this client alone unless [`SobotClient::sharing`]).
    token: TokenCell,
    /// How long a failed token fetch stands (about half the target's interval).
    retry_after: Duration,
}

impl SobotClient {
    /// A client for one company over the vendor's shared HTTP client; a failed token fetch is
    /// not retried for `retry_after`.
    pub fn new(
        settings: &ClientSettings,
        http: reqwest::Client,
        credentials: Credentials,
        telemetry: Arc<Telemetry>,
        retry_after: Duration,
    ) -> Self {
        Self {
            upstream: Upstream::new(settings, http, vec![credentials.app_key.clone()], telemetry),
            credentials,
            token: TokenCell::default(),
            retry_after,
        }
    }

    /// The same client using the token `tokens` keeps for its base URL and credentials, shared
    /// with every other client of them.
    #[must_use]
    pub fn sharing(mut self, tokens: &Tokens) -> Self {
        self.token = tokens.cell(self.upstream.base_url(), &self.credentials);
        self
    }

    /// Makes sure a token is at hand (fetched, or the standing failure returned): a cycle calls it
    /// once before its collectors, so that they share one attempt.
    pub async fn ensure_token(&self) -> Result<(), UpstreamError> {
        self.token().await.map(drop)
    }

    /// Calls an endpoint with the shared token and returns the JSON envelope of a successful
    /// answer as `decode` reads it (an answer it refuses is counted as `invalid_response`). On an
    /// expired token it fetches a new one once and retries once.
    pub async fn call<T>(
        &self,
        name: &str,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        decode: impl Fn(Value) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        let token = self.token().await?;
        match self.send(name, method, path, params, &token, &decode).await {
            Err(e) if e.api_code().is_some_and(|code| TOKEN_EXPIRED.contains(&code)) => {
                debug!(
                    endpoint = name,
                    code = e.code_label(),
                    "token rejected as expired; fetching a new one"
                );
                let token = self.refresh_after(&token).await?;
                self.send(name, method, path, params, &token, &decode).await
            }
            other => other,
        }
    }

    async fn send<T>(
        &self,
        name: &str,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        token: &Secret,
        decode: &impl Fn(Value) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        let build = |client: &reqwest::Client, url: String| {
            let request = match method {
                Method::Get => client.get(url).query(params),
                Method::Post => {
                    let body: Map<String, Value> =
                        params.iter().map(|(k, v)| ((*k).to_string(), Value::String(v.clone()))).collect();
                    client.post(url).json(&body)
                }
            };
            // Sensitive: the upstream layer redacts it from the upstream's text, as the key.
            match reqwest::header::HeaderValue::from_str(token.expose()) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    request.header("token", value)
                }
                // Not a header value: the builder carries the error, and the send fails.
                Err(_) => request.header("token", token.expose()),
            }
        };
        self.upstream.send(name, path, OK, build, |body| check_ret_code(body).and_then(decode)).await
    }

    /// The current token, fetched or refreshed (at 90 % of its lifetime) when needed.
    async fn token(&self) -> Result<Secret, UpstreamError> {
        let mut guard = self.token.lock().await;
        if let Some(token) = guard.token.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(token.value.clone());
        }
        match self.fetch_into(&mut guard).await {
            Ok(token) => Ok(token),
            // A refresh ahead of expiry that failed: the token still works until it expires.
            Err(e) => match guard.token.as_ref().filter(|t| Instant::now() < t.expires_at) {
                Some(token) => Ok(token.value.clone()),
                None => Err(e),
            },
        }
    }

    /// A token newer than `stale`: fetched now unless another caller already did.
    async fn refresh_after(&self, stale: &Secret) -> Result<Secret, UpstreamError> {
        let mut guard = self.token.lock().await;
        if let Some(token) = guard.token.as_ref().filter(|t| &t.value != stale) {
            return Ok(token.value.clone());
        }
        guard.token = None;
        self.fetch_into(&mut guard).await
    }

    /// Fetches a token into `state`, unless a failed fetch still stands.
    async fn fetch_into(&self, state: &mut TokenState) -> Result<Secret, UpstreamError> {
        if let Some((until, e)) = &state.failed
            && Instant::now() < *until
        {
            return Err(e.clone());
        }
        match self.fetch_token().await {
            Ok(token) => {
                let value = token.value.clone();
                *state = TokenState { token: Some(token), failed: None };
                Ok(value)
            }
            Err(e) => {
                let now = Instant::now();
                state.failed = Some((now.checked_add(self.retry_after).unwrap_or(now), e.clone()));
                Err(e)
            }
        }
    }

    async fn fetch_token(&self) -> Result<Token, UpstreamError> {
        let create_time = jiff::Timestamp::now().as_second().to_string();
        let sign =
            sobot_token_sign(&self.credentials.app_id, &create_time, self.credentials.app_key.expose());
        let query = [
            ("appid", self.credentials.app_id.as_str()),
            ("create_time", create_time.as_str()),
            ("sign", sign.as_str()),
        ];
        let build = |client: &reqwest::Client, url: String| client.get(url).query(&query);
        let result = self
            .upstream
            .send("get_token", "/api/get_token", OK, build, |body| parse_token(&check_ret_code(body)?))
            .await;
        self.upstream.telemetry().count_token_refresh(result.is_ok());
        // A failure is logged by the target, once per change.
        let (value, lifetime) = result?;
        debug!(lifetime_s = lifetime.as_secs(), "fetched a new token");
        let now = Instant::now();
        let refresh_at = now.checked_add(lifetime.mul_f64(0.9)).unwrap_or(now);
        Ok(Token { value, refresh_at, expires_at: now.checked_add(lifetime).unwrap_or(now) })
    }
}

/// Fails unless the envelope's `ret_code` is `000000` (a string as documented, or a number).
pub(crate) fn check_ret_code(body: Value) -> Result<Value, UpstreamError> {
    let code = match body.get("ret_code") {
        Some(Value::String(s)) => s.clone(),
        // `Number`'s Display ignores width and fill: pad the integer itself (0 is 000000).
        Some(Value::Number(n)) => match n.as_u64() {
            Some(code) => format!("{code:06}"),
            None => n.to_string(),
        },
        _ => {
            return Err(UpstreamError::InvalidResponse("no ret_code in the response".to_string()));
        }
    };
    if code == OK {
        return Ok(body);
    }
    let message = body.get("ret_msg").and_then(Value::as_str).unwrap_or("");
    Err(UpstreamError::api(code, message))
}

/// Reads `item.token` and `item.expires_in` (seconds, string or number) of a get_token answer.
pub(crate) fn parse_token(body: &Value) -> Result<(Secret, Duration), UpstreamError> {
    let item = body.get("item");
    let token = item
        .and_then(|i| i.get("token"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| UpstreamError::InvalidResponse("no token in the get_token answer".to_string()))?;
    let lifetime = parse_u64(item.and_then(|i| i.get("expires_in")))
        .filter(|s| *s > 0)
        // Never longer than documented (a huge value would overflow the clock).
        .map_or(DOCUMENTED_TOKEN_LIFETIME, |s| Duration::from_secs(s.min(86_400)));
    Ok((Secret::new(token), lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ret_codes() {
        assert!(check_ret_code(json!({"ret_code": "000000", "item": {}})).is_ok());
        assert_eq!(
            check_ret_code(json!({"ret_code": "210005", "ret_msg": "日期传入错误"})),
            Err(UpstreamError::api("210005", "日期传入错误"))
        );
        assert_eq!(
            check_ret_code(json!({"ret_code": 910002})).map_err(|e| e.code_label()),
            Err("910002".to_string())
        );
        assert!(matches!(check_ret_code(json!({"item": {}})), Err(UpstreamError::InvalidResponse(_))));
        assert!(check_ret_code(json!({"ret_code": 0, "item": {}})).is_ok(), "numeric 0 is 000000");
    }

    #[test]
    fn token_answer_of_the_document() {
        let body: Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/sobot/get_token.json"
        )))
        .expect("fixture is JSON");
        let (token, lifetime) = parse_token(&body).expect("documented answer parses");
        assert_eq!(token.expose(), "4ac37cb2e9c740dba4b75a34d5358802");
        assert_eq!(lifetime, Duration::from_secs(86_400));
        let numeric = json!({"item": {"token": "t", "expires_in": 7200}});
        assert_eq!(parse_token(&numeric).map(|t| t.1), Ok(Duration::from_secs(7200)));
        assert!(parse_token(&json!({"item": {"token": ""}})).is_err());
        let huge = json!({"item": {"token": "t", "expires_in": "18446744073709551615"}});
        assert_eq!(parse_token(&huge).map(|t| t.1), Ok(Duration::from_secs(86_400)));
        let zero = json!({"item": {"token": "t", "expires_in": "0"}});
        assert_eq!(parse_token(&zero).map(|t| t.1), Ok(Duration::from_secs(86_400)));
    }
}
