//! The one request path to the Laaffic API: per-request `Sign`, rate limit, timeouts, status codes.

use std::sync::Arc;

use serde_json::Value;

use crate::secret::Secret;
use crate::sign::laaffic_sign;
use crate::telemetry::Telemetry;
use crate::upstream::UpstreamError;
use crate::upstream::{ClientSettings, Upstream};

/// Path of the seat query.
pub const SEAT_QUERY: &str = "/v3/cc/seat/query";

/// Laaffic credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaafficCredentials {
    /// `Api-Key` header.
    pub api_key: Secret,
    /// Signing secret, never sent.
    pub api_secret: Secret,
}

/// What a documented `status` means (what to do about it is the log line's hint).
pub(crate) fn explain(status: &str) -> &'static str {
    match status {
        "-1" => "account authentication failed (帳號認證異常)",
        "-2" => "IP restricted (ip限制)",
        "-16" => "timestamp expired (時間戳過期)",
        "-18" => "system error at Laaffic (系統異常)",
        "-20" => "data already exists (數據已存在)",
        "-22" => "parameter error (參數異常)",
        "-23" => "data limit reached (數據上限)",
        "-35" => "search range over 32 days (搜索時間區間不能大於32天)",
        _ => "undocumented status",
    }
}

/// A Laaffic API client.
#[derive(Debug)]
pub struct LaafficClient {
    upstream: Upstream,
    credentials: LaafficCredentials,
}

impl LaafficClient {
    /// A client for one set of credentials over the vendor's shared HTTP client.
    pub fn new(
        settings: &ClientSettings,
        http: reqwest::Client,
        credentials: LaafficCredentials,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        let secrets = vec![credentials.api_key.clone(), credentials.api_secret.clone()];
        Self { upstream: Upstream::new(settings, http, secrets, telemetry), credentials }
    }

    /// POSTs a seat query and returns its `data` object as `decode` reads it (an answer it
    /// refuses is counted as `invalid_response`).
    pub async fn seat_query<T>(
        &self,
        body: &Value,
        decode: impl FnOnce(Value) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        let key = &self.credentials.api_key;
        // Signed when the rate limiter lets the request go, so that the timestamp is fresh.
        let build = |client: &reqwest::Client, url: String| {
            let timestamp = jiff::Timestamp::now().as_second().to_string();
            let sign = laaffic_sign(key.expose(), self.credentials.api_secret.expose(), &timestamp);
            client
                .post(url)
                .header("Api-Key", key.expose())
                .header("Timestamp", timestamp)
                .header("Sign", sign)
                .json(body)
        };
        self.upstream
            .send("seat_query", SEAT_QUERY, "0", build, |body| check_status(body).and_then(decode))
            .await
    }
}

/// Fails unless `status` is `0` (a string in the example, an Integer in the table); returns `data`.
pub(crate) fn check_status(mut body: Value) -> Result<Value, UpstreamError> {
    let status = match body.get("status") {
        Some(Value::String(s)) => s.trim().to_string(),
        // `0.0` is the number 0 too.
        Some(Value::Number(n)) if is_zero(n) => "0".to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(UpstreamError::InvalidResponse("no status in the response".to_string())),
    };
    if status != "0" {
        // The upstream's reason only where it says more than the document's text.
        let meaning = explain(&status);
        let reason = body.get("reason").and_then(Value::as_str).unwrap_or("").trim();
        let message = if reason.is_empty() || meaning.contains(reason) {
            meaning.to_string()
        } else {
            format!("{meaning}: {reason}")
        };
        return Err(UpstreamError::api(status.clone(), &message));
    }
    match body.get_mut("data").map(Value::take) {
        Some(data @ Value::Object(_)) => Ok(data),
        _ => Err(UpstreamError::InvalidResponse("no data object in the response".to_string())),
    }
}

/// Whether a JSON number is zero (`0`, `0.0`, `-0`, `0e5`), not merely one that rounds to it
/// in an `f64` (`1e-400`).
fn is_zero(n: &serde_json::Number) -> bool {
    let text = n.to_string();
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    mantissa.bytes().all(|b| matches!(b, b'0' | b'.' | b'-' | b'+'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documented_statuses() {
        let ok = check_status(json!({"status": "0", "data": {"records": []}}));
        assert!(ok.is_ok());
        assert!(check_status(json!({"status": 0, "data": {}})).is_ok());
        assert!(check_status(json!({"status": 0.0, "data": {}})).is_ok(), "0.0 is 0");
        // Found by the fuzz target: a status that only rounds to 0 in an f64 is no success.
        for zero in ["-0", "0e7", "0.000"] {
            let body: Value =
                serde_json::from_str(&format!(r#"{{"status": {zero}, "data": {{}}}}"#)).expect("JSON");
            assert!(check_status(body).is_ok(), "{zero}");
        }
        let tiny: Value = serde_json::from_str(r#"{"status": 1e-400, "data": {}}"#).expect("JSON");
        let e = check_status(tiny).expect_err("1e-400 is not 0");
        assert_eq!(e.code_label(), "invalid_code");
        let e = check_status(json!({"status": "-16", "reason": "timestamp expired"})).expect_err("-16");
        assert_eq!(e.code_label(), "-16");
        assert_eq!(e.to_string(), "upstream error -16: timestamp expired (時間戳過期)");
        let e = check_status(json!({"status": "-22", "reason": "strTime is required"})).expect_err("-22");
        assert_eq!(e.to_string(), "upstream error -22: parameter error (參數異常): strTime is required");
        // The upstream's reason is not repeated when the document's text says it already.
        let e = check_status(json!({"status": -1, "reason": "帳號認證異常"})).expect_err("-1");
        assert_eq!(e.to_string(), "upstream error -1: account authentication failed (帳號認證異常)");
        for code in ["-1", "-2", "-18", "-20", "-22", "-23", "-35"] {
            let e = check_status(json!({"status": code})).expect_err(code);
            assert_eq!(e.code_label(), code);
            assert!(!e.to_string().contains("undocumented"), "{code}: {e}");
        }
        assert!(matches!(check_status(json!({"status": "0"})), Err(UpstreamError::InvalidResponse(_))));
    }
}
