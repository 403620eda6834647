//! Typed upstream errors: what a collector, the self-metrics and the log need to tell apart.

use thiserror::Error;

/// Why an upstream call failed. Messages never carry a credential or a signed URL.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// The request did not finish within the configured timeout.
    #[error("request timed out")]
    Timeout,
    /// No connection could be made.
    #[error("cannot connect to the upstream")]
    Connect,
    /// The upstream answered with a non-success HTTP status.
    #[error("upstream answered HTTP {0}")]
    Http(u16),
    /// The body was not the documented JSON envelope.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// The upstream answered with an error code (`ret_code` or `status`).
    #[error("upstream error {code}: {message}")]
    Api {
        /// The vendor's code, e.g. `910002`.
        code: String,
        /// The vendor's message, shortened, with our explanation where we have one.
        message: String,
    },
}

impl UpstreamError {
    /// The `code` label of `sobot_exporter_upstream_requests_total` for this outcome.
    pub fn code_label(&self) -> String {
        match self {
            UpstreamError::Timeout => "timeout".to_string(),
            UpstreamError::Connect => "connect".to_string(),
            UpstreamError::Http(status) => format!("http_{status}"),
            UpstreamError::InvalidResponse(_) => "invalid_response".to_string(),
            UpstreamError::Api { code, .. } => code.clone(),
        }
    }

    /// An API error with the upstream message cut to a sane length.
    pub fn api(code: impl Into<String>, message: &str) -> Self {
        let message: String = message.chars().take(160).collect();
        UpstreamError::Api { code: code.into(), message }
    }

    /// Classifies a transport error without its URL (which could carry a signature).
    pub fn from_transport(err: &reqwest::Error) -> Self {
        if err.is_timeout() {
            UpstreamError::Timeout
        } else if err.is_connect() {
            UpstreamError::Connect
        } else if let Some(status) = err.status() {
            UpstreamError::Http(status.as_u16())
        } else {
            UpstreamError::InvalidResponse("transport error while reading the response".to_string())
        }
    }
}
