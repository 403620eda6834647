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
    /// The connection broke before the answer was complete (reset, closed).
    #[error("the connection broke before the answer was complete")]
    Reset,
    /// The upstream answered with a non-success HTTP status.
    #[error("upstream answered HTTP {0}")]
    Http(u16),
    /// The body was not the documented JSON envelope.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// The collector's cycle did not end within its deadline (its interval, at least one request
    /// timeout): it counts as failed at once instead of holding on to its place.
    #[error("the cycle overran its deadline of {0} ms")]
    Deadline(u64),
    /// The collector's cycle panicked: a bug in the exporter, never the upstream's fault.
    #[error("the collector panicked (a bug; see the log)")]
    Panicked,
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
            UpstreamError::Reset => "reset".to_string(),
            UpstreamError::Http(status) => format!("http_{status}"),
            UpstreamError::InvalidResponse(_) => "invalid_response".to_string(),
            UpstreamError::Panicked => "panic".to_string(),
            UpstreamError::Deadline(_) => "deadline".to_string(),
            // A code becomes a label value: only the documented ones, so that an upstream
            // answering random codes (or garbage) cannot grow the label set without bound.
            UpstreamError::Api { code, .. } if DOCUMENTED_CODES.contains(&code.as_str()) => code.clone(),
            UpstreamError::Api { code, .. } if is_code(code) => "other".to_string(),
            UpstreamError::Api { .. } => "invalid_code".to_string(),
        }
    }

    /// An API error with the upstream message cut to a sane length.
    ///
    /// The code is kept as sent (it is logged); [`UpstreamError::code_label`] bounds the label.
    pub fn api(code: impl Into<String>, message: &str) -> Self {
        let message: String = message.chars().take(160).collect();
        UpstreamError::Api { code: code.into(), message }
    }

    /// The same error with every occurrence of `secrets` in the upstream's text replaced: an
    /// upstream that echoes a key or token must not put it in the log.
    pub fn redacted(self, secrets: &[&str]) -> Self {
        match self {
            UpstreamError::Api { code, mut message } => {
                for secret in secrets.iter().filter(|s| s.len() >= 4) {
                    message = message.replace(secret, "<redacted>");
                }
                UpstreamError::Api { code, message }
            }
            other => other,
        }
    }

    /// Classifies a transport error without its URL (which could carry a signature).
    pub fn from_transport(err: &reqwest::Error) -> Self {
        if err.is_timeout() {
            UpstreamError::Timeout
        } else if err.is_connect() {
            UpstreamError::Connect
        } else if let Some(status) = err.status() {
            UpstreamError::Http(status.as_u16())
        } else if err.is_request() || err.is_body() || err.is_decode() {
            // A body that breaks off while it is read is a decode error to reqwest (the JSON is
            // parsed here, never by reqwest): the connection broke.
            UpstreamError::Reset
        } else {
            UpstreamError::InvalidResponse("transport error while reading the response".to_string())
        }
    }
}

/// Every result code the vendors' documents list (statistics API §3, quality API §3, Laaffic's
/// status table, the platform API's codes and `status` values): the `code` label values besides
/// `other` and the transport ones.
pub const DOCUMENTED_CODES: &[&str] = &[
    "000000", "200000", "0", "1", "2", "3", "4", "5", "910001", "910002", "910003", "910004", "999999",
    "210003", "210004", "210005", "210006", "210007", "210016", "210017", "900001", "900002", "900003",
    "900004", "700001", "700002", "700003", "700004", "700005", "700006", "700007", "700008", "700009",
    "220001", "-1", "-2", "-16", "-18", "-20", "-22", "-23", "-35",
];

/// `-?[0-9]{1,8}`: the shape of every documented result code.
fn is_code(code: &str) -> bool {
    let digits = code.strip_prefix('-').unwrap_or(code);
    (1..=8).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_taken_out_of_upstream_text() {
        let e = UpstreamError::api(
            "910003",
            "sign for key TopSecretAppKey-7f3a9c is wrong (TopSecretAppKey-7f3a9c)",
        );
        let e = e.redacted(&["TopSecretAppKey-7f3a9c", "abc"]);
        assert_eq!(e.to_string(), "upstream error 910003: sign for key <redacted> is wrong (<redacted>)");
    }

    #[test]
    fn code_labels_are_bounded() {
        assert_eq!(UpstreamError::api("910002", "").code_label(), "910002");
        assert_eq!(UpstreamError::api("-16", "").code_label(), "-16");
        assert_eq!(UpstreamError::api("<html>", "").code_label(), "invalid_code");
        assert_eq!(UpstreamError::api("1234567890", "").code_label(), "invalid_code");
        // Random well-formed codes share one label: the label set stays bounded.
        let labels: std::collections::BTreeSet<String> = (0..1000)
            .map(|i| UpstreamError::api(format!("{}", 1_000_000 + i * 7919), "").code_label())
            .collect();
        assert_eq!(labels.into_iter().collect::<Vec<_>>(), ["other"]);
        assert_eq!(UpstreamError::api("210017", "").code_label(), "210017");
        assert_eq!(UpstreamError::api("-35", "").code_label(), "-35");
        assert_eq!(UpstreamError::api("", "").code_label(), "invalid_code");
        assert_eq!(UpstreamError::Http(503).code_label(), "http_503");
    }
}
