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
    /// The exporter itself is out of file descriptors (`EMFILE`, `ENFILE`): no socket could be
    /// opened, whatever the upstream's state.
    #[error(
        "the exporter is out of file descriptors (too many open files): raise its limit (ulimit -n, \
         systemd LimitNOFILE=) or lower --web.max-connections"
    )]
    OutOfFiles,
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
    /// The endpoint's call budget (its rate limit) has no slot before the cycle's deadline: the
    /// call was not sent. Carries the milliseconds until the next slot.
    #[error("no call left in the endpoint's rate limit before the cycle's deadline (the next in {0} ms)")]
    Budget(u64),
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
    /// Any of the above, with the call it came from: its endpoint and its URL without query or
    /// user info (a signature or a key could be in them). Displayed as the error itself.
    #[error("{cause}")]
    Call {
        /// The endpoint's name, e.g. `robot_session`.
        endpoint: String,
        /// Scheme, host and path.
        url: String,
        /// What failed.
        cause: Box<UpstreamError>,
    },
}

impl UpstreamError {
    /// The `code` label of `sobot_exporter_upstream_requests_total` for this outcome.
    pub fn code_label(&self) -> String {
        match self {
            UpstreamError::Call { cause, .. } => cause.code_label(),
            UpstreamError::Timeout => "timeout".to_string(),
            UpstreamError::Connect => "connect".to_string(),
            UpstreamError::OutOfFiles => "fd_limit".to_string(),
            UpstreamError::Reset => "reset".to_string(),
            UpstreamError::Http(status) => format!("http_{status}"),
            UpstreamError::InvalidResponse(_) => "invalid_response".to_string(),
            UpstreamError::Panicked => "panic".to_string(),
            UpstreamError::Deadline(_) => "deadline".to_string(),
            UpstreamError::Budget(_) => "budget".to_string(),
            // A code becomes a label value: only the documented ones, so that an upstream
            // answering random codes (or garbage) cannot grow the label set without bound.
            UpstreamError::Api { code, .. } if DOCUMENTED_CODES.contains(&code.as_str()) => code.clone(),
            UpstreamError::Api { code, .. } if is_code(code) => "other".to_string(),
            UpstreamError::Api { .. } => "invalid_code".to_string(),
        }
    }

    /// The same error, saying which call it came from (`url` is shown without query and user
    /// info).
    pub(crate) fn at(self, endpoint: &str, url: &str) -> Self {
        let cause = match self {
            UpstreamError::Call { cause, .. } => cause,
            other => Box::new(other),
        };
        let shown = match reqwest::Url::parse(url) {
            Ok(mut u) => {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.set_query(None);
                u.set_fragment(None);
                u.to_string()
            }
            Err(_) => String::new(),
        };
        UpstreamError::Call { endpoint: endpoint.to_string(), url: shown, cause }
    }

    /// What failed, without the call it came from.
    pub(crate) fn cause(&self) -> &UpstreamError {
        match self {
            UpstreamError::Call { cause, .. } => cause.cause(),
            other => other,
        }
    }

    /// The endpoint and URL of the call, when known.
    pub(crate) fn request(&self) -> Option<(&str, &str)> {
        match self {
            UpstreamError::Call { endpoint, url, .. } => Some((endpoint, url)),
            _ => None,
        }
    }

    /// The vendor's result code, if the upstream answered with one.
    pub fn api_code(&self) -> Option<&str> {
        match self.cause() {
            UpstreamError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// An API error with the upstream message cut to a sane length.
    ///
    /// The code is kept as sent (it is logged), cut to 32 characters like the message;
    /// [`UpstreamError::code_label`] bounds the label.
    pub fn api(code: impl Into<String>, message: &str) -> Self {
        let code: String = code.into();
        let code = if code.chars().count() > 32 { code.chars().take(32).collect() } else { code };
        let message: String = message.chars().take(160).collect();
        UpstreamError::Api { code, message }
    }

    /// The same error with every occurrence of `secrets` in the upstream's text replaced: an
    /// upstream that echoes a key or token must not put it in the log. Only [`super::Upstream`]
    /// calls it, on every error of every request.
    pub(crate) fn redacted(self, secrets: &[&str]) -> Self {
        match self {
            UpstreamError::Api { code, message } => UpstreamError::Api {
                code: crate::secret::redact(&code, secrets),
                message: crate::secret::redact(&message, secrets),
            },
            UpstreamError::InvalidResponse(text) => {
                UpstreamError::InvalidResponse(crate::secret::redact(&text, secrets))
            }
            UpstreamError::Call { endpoint, url, cause } => {
                UpstreamError::Call { endpoint, url, cause: Box::new(cause.redacted(secrets)) }
            }
            other => other,
        }
    }

    /// Classifies a transport error without its URL (which could carry a signature).
    pub(crate) fn from_transport(err: &reqwest::Error) -> Self {
        if out_of_files(err) {
            UpstreamError::OutOfFiles
        } else if err.is_timeout() {
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

/// Whether `err` or any error under it is `EMFILE` or `ENFILE` ("too many open files"): the
/// process (or the system) ran out of file descriptors.
pub(crate) fn out_of_files(err: &(dyn std::error::Error + 'static)) -> bool {
    /// `ENFILE` and `EMFILE`: the same numbers on Linux, the BSDs and macOS.
    const CODES: [i32; 2] = [23, 24];
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.raw_os_error().is_some_and(|code| CODES.contains(&code)) {
                return true;
            }
            // An io::Error's `source` skips the error it wraps: look inside.
            if let Some(inner) = io.get_ref()
                && out_of_files(inner)
            {
                return true;
            }
        }
        next = e.source();
    }
    false
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

    /// A connect error as reqwest and hyper-util nest it: an error whose source is an error whose
    /// source is the `io::Error` of `socket()`.
    #[derive(Debug, Error)]
    #[error("{0}")]
    struct Nested(&'static str, #[source] Box<dyn std::error::Error + Send + Sync + 'static>);

    #[test]
    fn out_of_file_descriptors_is_told_apart_from_connect() {
        let emfile = Nested(
            "client error (Connect)",
            Box::new(Nested("tcp open error", Box::new(std::io::Error::from_raw_os_error(24)))),
        );
        assert!(out_of_files(&emfile));
        let enfile =
            Nested("connect", Box::new(std::io::Error::other(std::io::Error::from_raw_os_error(23))));
        assert!(out_of_files(&enfile));
        let refused = Nested(
            "client error (Connect)",
            Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        );
        assert!(!out_of_files(&refused));
        assert!(!out_of_files(&std::io::Error::from_raw_os_error(111)));
        assert_eq!(UpstreamError::OutOfFiles.code_label(), "fd_limit");
        assert!(UpstreamError::OutOfFiles.to_string().contains("ulimit -n"));
    }

    #[test]
    fn a_call_shows_its_url_without_secrets() {
        let e = UpstreamError::Http(404)
            .at("get_token", "https://user:pw@host.test/api/get_token?appid=a&sign=s#f");
        assert_eq!(e.request(), Some(("get_token", "https://host.test/api/get_token")));
        assert_eq!((e.cause(), e.code_label().as_str()), (&UpstreamError::Http(404), "http_404"));
        assert_eq!(e.to_string(), "upstream answered HTTP 404");
        let twice = e.clone().at("other", "https://host.test/x");
        assert_eq!(twice.cause(), &UpstreamError::Http(404));
        assert_eq!(UpstreamError::api("910003", "m").at("e", "http://h/").api_code(), Some("910003"));
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

    #[test]
    fn a_huge_code_is_cut_in_the_error() {
        // Found by the fuzz target: a 400-digit ret_code went whole into the error and the log.
        let e = UpstreamError::api("9".repeat(400), "x");
        assert_eq!(e.to_string(), format!("upstream error {}: x", "9".repeat(32)));
        assert_eq!(e.code_label(), "invalid_code");
        assert_eq!(UpstreamError::api("名".repeat(40), "").to_string().chars().count(), 15 + 32 + 2);
    }
}
