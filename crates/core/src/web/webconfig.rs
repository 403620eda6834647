//! `--web.config.file`: TLS, client certificates, response headers, basic auth and a rate limit,
//! in the Prometheus exporter-toolkit format (the file node_exporter and blackbox_exporter read).
//!
//! The file is parsed by `parse` (pure, relative paths resolved against the file's directory)
//! and built by `build` into what the server uses: a rustls configuration, the headers, the
//! users. What rustls cannot honour (TLS 1.0 and 1.1, a cipher suite or curve it lacks, HTTP/2,
//! `client_allowed_sans`) is refused with one line, never ignored.
//!
//! [`WebConfig`] keeps the last good build, which handshakes and requests take without touching
//! a file. [`WebConfig::reload`] is the one way to re-read it: the server's task `watch` calls
//! it every second, and it reads the files again when the modification time, size or inode of
//! the web config file or of a file it names changed, so a renewed certificate is served without
//! a restart or a signal (cert-manager and certbot replace files and signal nobody); a reload
//! (SIGHUP, `POST /-/reload`) calls it to read them in any case. A bad new file keeps the last
//! good build and is logged once (again only when the files change again).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use hyper::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use tokio_rustls::rustls;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::danger::ClientCertVerifier;
use tokio_rustls::rustls::server::{ServerConfig, WebPkiClientVerifier};
use tracing::{error, info};

use super::auth::{RateLimit, warn_costly};
use super::verify::AnyCert;
use crate::secret::mask_credentials;

/// The files are compared with what was loaded at most this often.
pub(crate) const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// The largest web config, certificate, key or CA file read.
const MAX_FILE: u64 = 1024 * 1024;

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tls_server_config: Option<TlsSection>,
    #[serde(default)]
    http_server_config: Option<HttpSection>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default)]
    rate_limit: Option<RateLimitSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSection {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitSection {
    interval: Option<String>,
    burst: Option<u32>,
}

/// PEM text, inline in the file or in a file it names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pem {
    Inline(String),
    File(PathBuf),
}

impl Pem {
    fn read(&self, field: &str) -> Result<Vec<u8>, String> {
        match self {
            Pem::Inline(text) => Ok(text.as_bytes().to_vec()),
            Pem::File(path) => crate::input::read_file(path, MAX_FILE)
                .map(String::into_bytes)
                .map_err(|e| format!("{field} {}: {}", path.display(), io_reason(&e))),
        }
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::InvalidData => "not UTF-8 text".to_string(),
        std::io::ErrorKind::Other => e.to_string(),
        kind => kind.to_string(),
    }
}

/// Who must show a client certificate, and whether it is verified (Go's `tls.ClientAuthType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// No certificate asked for.
    None,
    /// Asked for, not required, not verified.
    Request,
    /// Required, not verified.
    RequireAny,
    /// Not required; verified against the client CA when given.
    VerifyIfGiven,
    /// Required and verified against the client CA.
    RequireAndVerify,
}

impl ClientAuth {
    /// Its name in the file (Go's).
    pub(crate) fn name(self) -> &'static str {
        match self {
            ClientAuth::None => "NoClientCert",
            ClientAuth::Request => "RequestClientCert",
            ClientAuth::RequireAny => "RequireAnyClientCert",
            ClientAuth::VerifyIfGiven => "VerifyClientCertIfGiven",
            ClientAuth::RequireAndVerify => "RequireAndVerifyClientCert",
        }
    }

    /// Whether a client without a certificate is refused.
    pub(crate) fn mandatory(self) -> bool {
        matches!(self, ClientAuth::RequireAny | ClientAuth::RequireAndVerify)
    }
}

/// The TLS part, validated.
#[derive(Debug, Clone)]
struct TlsSpec {
    cert: Pem,
    key: Pem,
    client_ca: Option<Pem>,
    client_auth: ClientAuth,
    /// TLS 1.2 allowed (1.3 always is: rustls has nothing older).
    tls12: bool,
    tls13: bool,
    /// The cipher suites in order; empty: rustls's defaults.
    cipher_suites: Vec<rustls::SupportedCipherSuite>,
    prefer_server_order: bool,
    /// The key exchange groups in order; empty: rustls's defaults.
    curves: Vec<&'static dyn rustls::crypto::SupportedKxGroup>,
}

/// The file validated, before any certificate is read.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    tls: Option<TlsSpec>,
    headers: Vec<(HeaderName, HeaderValue)>,
    users: BTreeMap<String, String>,
    rate_limit: Option<RateLimit>,
}

impl Spec {
    /// Every file this configuration reads.
    fn files(&self) -> Vec<PathBuf> {
        let Some(tls) = &self.tls else { return Vec::new() };
        [Some(&tls.cert), Some(&tls.key), tls.client_ca.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|pem| match pem {
                Pem::File(path) => Some(path.clone()),
                Pem::Inline(_) => None,
            })
            .collect()
    }
}

/// The Go names of the cipher suites rustls has (aws-lc-rs provider).
fn cipher_suite(name: &str) -> Option<rustls::SupportedCipherSuite> {
    use aws_lc_rs::cipher_suite as cs;
    Some(match name {
        "TLS_AES_128_GCM_SHA256" => cs::TLS13_AES_128_GCM_SHA256,
        "TLS_AES_256_GCM_SHA384" => cs::TLS13_AES_256_GCM_SHA384,
        "TLS_CHACHA20_POLY1305_SHA256" => cs::TLS13_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => {
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        _ => return None,
    })
}

/// Cipher suites Go knows and rustls does not (CBC modes, RSA key exchange, RC4, 3DES).
const GO_ONLY_CIPHER_SUITES: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];

const SUPPORTED_CIPHER_SUITES: &str = "TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, \
    TLS_CHACHA20_POLY1305_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, \
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, \
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, \
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256";

/// The response headers the exporter-toolkit lets a file set, with the values it accepts (none
/// listed: any).
const HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// Parses and validates the web config `yaml` of the file in `dir` (relative paths resolve
/// against it). The error is one line without the file's name.
pub(crate) fn parse(yaml: &str, dir: &Path) -> Result<Spec, String> {
    let file: File = if yaml.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        File::default()
    } else {
        let mut options = serde_saphyr::Options::default();
        // No source snippet: a line could hold an inline key.
        options.with_snippet = false;
        serde_saphyr::from_str_with_options(yaml, options).map_err(|e| yaml_error(&e.to_string()))?
    };
    let tls = match file.tls_server_config {
        Some(tls) => tls_spec(tls, dir).map_err(|e| format!("tls_server_config: {e}"))?,
        None => None,
    };
    let http = file.http_server_config.unwrap_or_default();
    if http.http2 == Some(true) {
        return Err("http_server_config: http2: true is not supported: this exporter serves HTTP/1.1 \
                    (Prometheus scrapes over it); remove the line or set http2: false"
            .to_string());
    }
    let mut headers = Vec::new();
    for (name, value) in http.headers.unwrap_or_default() {
        let Some((known, allowed)) = HEADERS.iter().find(|(h, _)| h.eq_ignore_ascii_case(&name)) else {
            let names: Vec<&str> = HEADERS.iter().map(|(h, _)| *h).collect();
            return Err(format!(
                "http_server_config: headers: {name:?} cannot be set (these can: {})",
                names.join(", ")
            ));
        };
        if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
            return Err(format!(
                "http_server_config: headers: {known}: {value:?} is not valid (expected {})",
                allowed.join(" or ")
            ));
        }
        if value.is_empty() {
            continue;
        }
        let value = HeaderValue::from_str(&value)
            .map_err(|_| format!("http_server_config: headers: {known}: not a valid header value"))?;
        headers.push((HeaderName::from_static(known_lower(known)), value));
    }
    let users = file.basic_auth_users.unwrap_or_default();
    for (user, hash) in &users {
        if user.contains(':') {
            return Err(format!("basic_auth_users: {user:?}: a user name cannot contain ':'"));
        }
        if hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(format!(
                "basic_auth_users: {user:?}: the password must be a bcrypt hash, e.g. from \
                 `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
            ));
        }
    }
    let rate_limit = match file.rate_limit {
        None => None,
        Some(RateLimitSection { interval, burst }) => {
            let interval = match interval.as_deref() {
                None => Duration::ZERO,
                Some(text) => crate::input::parse_duration(text).ok_or_else(|| {
                    format!("rate_limit: interval: {text:?} is not a duration, e.g. 1s or 100ms")
                })?,
            };
            let burst = burst.unwrap_or(0);
            if !interval.is_zero() && burst == 0 {
                return Err("rate_limit: burst must be at least 1 when an interval is set".to_string());
            }
            (!interval.is_zero()).then_some(RateLimit { interval, burst })
        }
    };
    Ok(Spec { tls, headers, users, rate_limit })
}

/// The YAML library's line, with the section of an unknown key named, without a value that
/// looks like a key.
fn yaml_error(message: &str) -> String {
    let message = message.replace('\n', " ");
    let section = if !message.starts_with("unknown field") {
        ""
    } else if message.contains("cert_file") {
        "tls_server_config: "
    } else if message.contains("http2") {
        "http_server_config: "
    } else if message.contains("burst") {
        "rate_limit: "
    } else {
        ""
    };
    let line = crate::input::unknown_field(&message)
        .unwrap_or_else(|| mask_credentials(&message).replacen("unknown field", "unknown key", 1));
    format!("{section}{line}")
}

/// The lower-case spelling hyper wants for one of [`HEADERS`].
fn known_lower(name: &str) -> &'static str {
    match name {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

fn tls_spec(t: TlsSection, dir: &Path) -> Result<Option<TlsSpec>, String> {
    let enabled = t.cert.is_some()
        || t.cert_file.is_some()
        || t.key.is_some()
        || t.key_file.is_some()
        || t.client_ca.is_some()
        || t.client_ca_file.is_some()
        || t.client_auth_type.is_some();
    if !enabled {
        return Ok(None);
    }
    if t.client_allowed_sans.is_some() {
        return Err("client_allowed_sans is not supported: verify client certificates with \
                    client_ca_file and a CA that signs only the allowed clients"
            .to_string());
    }
    let pem = |inline: Option<String>, file: Option<String>, name: &str, file_name: &str| match (inline, file)
    {
        (Some(_), Some(_)) => Err(format!("give {file_name} or {name}, not both")),
        (Some(text), None) => Ok(Some(Pem::Inline(text))),
        (None, Some(path)) if path.is_empty() => Ok(None),
        (None, Some(path)) => Ok(Some(Pem::File(dir.join(path)))),
        (None, None) => Ok(None),
    };
    let cert = pem(t.cert, t.cert_file, "cert", "cert_file")?
        .ok_or("cert_file is missing (the server's certificate, PEM)")?;
    let key = pem(t.key, t.key_file, "key", "key_file")?
        .ok_or("key_file is missing (the server's private key, PEM)")?;
    let client_ca = pem(t.client_ca, t.client_ca_file, "client_ca", "client_ca_file")?;
    let client_auth = match t.client_auth_type.as_deref().unwrap_or("") {
        "" | "NoClientCert" => ClientAuth::None,
        "RequestClientCert" => ClientAuth::Request,
        "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAny,
        "VerifyClientCertIfGiven" => ClientAuth::VerifyIfGiven,
        "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerify,
        other => {
            return Err(format!(
                "client_auth_type: unknown {other:?} (NoClientCert, RequestClientCert, RequireAnyClientCert, \
                 VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
            ));
        }
    };
    if client_ca.is_some() && client_auth == ClientAuth::None {
        return Err("client_ca_file is set but client_auth_type is NoClientCert: set client_auth_type: \
                    RequireAndVerifyClientCert"
            .to_string());
    }
    if client_ca.is_none() && matches!(client_auth, ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify)
    {
        return Err("client_auth_type verifies client certificates: client_ca_file is needed (the CA that \
                    signs them)"
            .to_string());
    }
    let version = |field: &str, value: Option<&str>, default: u8| match value {
        None | Some("") => Ok(default),
        Some("TLS12") => Ok(12),
        Some("TLS13") => Ok(13),
        Some(old @ ("TLS10" | "TLS11")) => Err(format!(
            "{field}: {old} is not supported: rustls speaks TLS 1.2 and 1.3 only; use TLS12 or TLS13"
        )),
        Some(other) => Err(format!("{field}: unknown TLS version {other:?} (TLS12 or TLS13)")),
    };
    let min = version("min_version", t.min_version.as_deref(), 12)?;
    let max = version("max_version", t.max_version.as_deref(), 13)?;
    if min > max {
        return Err("min_version is above max_version".to_string());
    }
    let mut cipher_suites = Vec::new();
    for name in t.cipher_suites.unwrap_or_default() {
        match cipher_suite(&name) {
            Some(suite) => cipher_suites.push(suite),
            None if GO_ONLY_CIPHER_SUITES.contains(&name.as_str()) => {
                return Err(format!(
                    "cipher_suites: {name} is not supported by rustls (no CBC, RC4, 3DES or RSA key exchange); \
                     supported: {SUPPORTED_CIPHER_SUITES}"
                ));
            }
            None => {
                return Err(format!(
                    "cipher_suites: unknown cipher suite {name:?}; supported: {SUPPORTED_CIPHER_SUITES}"
                ));
            }
        }
    }
    let mut curves: Vec<&'static dyn rustls::crypto::SupportedKxGroup> = Vec::new();
    for name in t.curve_preferences.unwrap_or_default() {
        curves.push(match name.as_str() {
            "X25519" => aws_lc_rs::kx_group::X25519,
            "CurveP256" => aws_lc_rs::kx_group::SECP256R1,
            "CurveP384" => aws_lc_rs::kx_group::SECP384R1,
            "CurveP521" => {
                return Err("curve_preferences: CurveP521 is not supported by rustls; supported: X25519, \
                            CurveP256, CurveP384"
                    .to_string());
            }
            other => {
                return Err(format!(
                    "curve_preferences: unknown curve {other:?}; supported: X25519, CurveP256, CurveP384"
                ));
            }
        });
    }
    Ok(Some(TlsSpec {
        cert,
        key,
        client_ca,
        client_auth,
        tls12: min <= 12,
        tls13: max >= 13,
        cipher_suites,
        prefer_server_order: t.prefer_server_cipher_suites.unwrap_or(true),
        curves,
    }))
}

/// A web configuration in force.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// The TLS configuration; `None`: plain HTTP.
    pub(crate) tls: Option<Arc<ServerConfig>>,
    /// Headers added to every response.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// User → bcrypt hash; empty: no basic auth.
    pub(crate) users: BTreeMap<String, String>,
    /// The rate limit of requests, if any.
    pub(crate) rate_limit: Option<RateLimit>,
}

/// Reads the certificates and builds the configuration. The error is one line.
pub(crate) fn build(spec: &Spec) -> Result<Loaded, String> {
    let tls = match &spec.tls {
        Some(tls) => Some(Arc::new(server_config(tls).map_err(|e| format!("tls_server_config: {e}"))?)),
        None => None,
    };
    Ok(Loaded { tls, headers: spec.headers.clone(), users: spec.users.clone(), rate_limit: spec.rate_limit })
}

fn server_config(t: &TlsSpec) -> Result<ServerConfig, String> {
    let (cert_field, key_field) = match (&t.cert, &t.key) {
        (Pem::File(_), Pem::File(_)) => ("cert_file", "key_file"),
        (Pem::File(_), Pem::Inline(_)) => ("cert_file", "key"),
        (Pem::Inline(_), Pem::File(_)) => ("cert", "key_file"),
        (Pem::Inline(_), Pem::Inline(_)) => ("cert", "key"),
    };
    let certs = certificates(&t.cert.read(cert_field)?, cert_field)?;
    let key = PrivateKeyDer::from_pem_slice(&t.key.read(key_field)?)
        .map_err(|_| format!("{key_field}: no PEM private key found (PKCS#1, PKCS#8 or SEC1)"))?;
    let mut provider = aws_lc_rs::default_provider();
    if !t.cipher_suites.is_empty() {
        let named_tls13 = t.cipher_suites.iter().any(|s| s.tls13().is_some());
        // As in Go, the list chooses the TLS 1.2 suites; unlike Go, TLS 1.3 suites named in it
        // are honoured too (the others are then off).
        let mut suites: Vec<rustls::SupportedCipherSuite> = if named_tls13 {
            Vec::new()
        } else {
            provider.cipher_suites.iter().filter(|s| s.tls13().is_some()).copied().collect()
        };
        suites.extend(t.cipher_suites.iter().copied());
        provider.cipher_suites = suites;
    }
    if !t.curves.is_empty() {
        provider.kx_groups = t.curves.clone();
    }
    let provider = Arc::new(provider);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [t.tls13.then_some(&rustls::version::TLS13), t.tls12.then_some(&rustls::version::TLS12)]
            .into_iter()
            .flatten()
            .collect();
    let usable = provider
        .cipher_suites
        .iter()
        .any(|s| (s.tls13().is_some() && t.tls13) || (s.tls13().is_none() && t.tls12));
    if !usable {
        return Err("cipher_suites: none of them is usable with min_version and max_version".to_string());
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("cannot use these versions, cipher suites and curves: {e}"))?;
    let verifier: Arc<dyn ClientCertVerifier> = match t.client_auth {
        ClientAuth::None => WebPkiClientVerifier::no_client_auth(),
        // As Go: a certificate asked for, whose key the client must hold; no CA trusted.
        ClientAuth::Request | ClientAuth::RequireAny => {
            Arc::new(AnyCert::client(&provider, t.client_auth == ClientAuth::RequireAny))
        }
        ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify => {
            let field =
                if matches!(t.client_ca, Some(Pem::Inline(_))) { "client_ca" } else { "client_ca_file" };
            let pem = t.client_ca.as_ref().ok_or("client_ca_file is needed")?.read(field)?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(&pem, field)? {
                roots.add(cert).map_err(|e| format!("{field}: not a usable CA certificate: {e}"))?;
            }
            let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let builder = if t.client_auth == ClientAuth::VerifyIfGiven {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder.build().map_err(|e| format!("{field}: {e}"))?
        }
    };
    let mut config = builder
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("{cert_field} and {key_field}: {}", tls_error(&e)))?;
    config.ignore_client_order = t.prefer_server_order;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn tls_error(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InconsistentKeys(_) => "the key does not belong to the certificate".to_string(),
        e => e.to_string(),
    }
}

fn certificates(pem: &[u8], field: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{field}: not valid PEM"))?;
    if certs.is_empty() {
        return Err(format!("{field}: no PEM certificate found"));
    }
    Ok(certs)
}

/// What identifies a file's content without reading it.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok()?, meta.len(), inode))
}

/// The web config in force and the files it came from, re-read when they change.
#[derive(Debug)]
pub struct WebConfig {
    path: PathBuf,
    /// What handshakes and requests read: a clone of an `Arc`, the lock never held across I/O.
    current: RwLock<Arc<Loaded>>,
    /// What [`WebConfig::reload`] compares; one re-read at a time.
    watch: Mutex<Watch>,
}

#[derive(Debug)]
struct Watch {
    /// The files of the current config, and their stamps when it was loaded.
    files: Vec<PathBuf>,
    stamps: Vec<Stamp>,
    /// The stamps of a failed attempt, not tried (nor logged) again until they change.
    failed: Option<Vec<Stamp>>,
}

impl PartialEq for WebConfig {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl Eq for WebConfig {}

impl WebConfig {
    /// Reads the web config file at `path`: the one line of the error if it does not load.
    pub(crate) fn open(path: &Path) -> Result<WebConfig, String> {
        let (current, files) = load_with_files(path).map_err(|(e, _)| e)?;
        let stamps = stamps(path, &files);
        Ok(WebConfig {
            path: path.to_path_buf(),
            current: RwLock::new(Arc::new(current)),
            watch: Mutex::new(Watch { files, stamps, failed: None }),
        })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the server speaks TLS (decided at start: a reload can renew certificates, not
    /// switch between HTTP and HTTPS).
    pub(crate) fn tls(&self) -> bool {
        self.current().tls.is_some()
    }

    /// The configuration in force. Never reads a file: [`watch`] and a reload do.
    pub(crate) fn current(&self) -> Arc<Loaded> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Reads the files again and puts the result in force: if they changed since the last load
    /// and since the last failed attempt, or in any case when `force` (a reload). `Ok(true)`: a
    /// new configuration is in force; `Ok(false)`: nothing was read; `Err`: the one line why the
    /// files were refused, the last good configuration staying in force.
    pub(crate) fn reload(&self, force: bool) -> Result<bool, String> {
        let mut watch = self.watch.lock().unwrap_or_else(PoisonError::into_inner);
        // Taken before reading, so that a change during the read is seen next time.
        let before = stamps(&self.path, &watch.files);
        if !force && (before == watch.stamps || watch.failed.as_ref() == Some(&before)) {
            return Ok(false);
        }
        match load_with_files(&self.path) {
            Ok((loaded, _)) if loaded.tls.is_some() != self.tls() => {
                watch.failed = Some(before);
                Err(format!(
                    "--web.config.file {}: TLS cannot be switched on or off without a restart",
                    self.path.display()
                ))
            }
            Ok((loaded, files)) => {
                watch.stamps = if files == watch.files { before } else { stamps(&self.path, &files) };
                watch.files = files;
                watch.failed = None;
                warn_costly(&loaded.users);
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
                Ok(true)
            }
            Err((e, files)) => {
                // Watch the files the new config names too, so that fixing one is seen.
                for file in files {
                    if !watch.files.contains(&file) {
                        watch.files.push(file);
                    }
                }
                watch.failed = Some(stamps(&self.path, &watch.files));
                Err(e)
            }
        }
    }
}

/// Compares the files with what was loaded every [`RECHECK_EVERY`] and reloads them when they
/// changed (on a blocking thread: handshakes and requests never wait for it); logs a new
/// configuration at INFO and a refused one once at ERROR. Runs until aborted.
pub(crate) async fn watch(web: Arc<WebConfig>) {
    let mut tick = tokio::time::interval(RECHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let read = web.clone();
        let Ok(outcome) = tokio::task::spawn_blocking(move || read.reload(false)).await else { continue };
        match outcome {
            Ok(false) => {}
            Ok(true) => info!(file = %web.path.display(), why = "the files changed", "web config reloaded"),
            Err(e) => error!(error = %e, "web config not reloaded: the last good one stays in force"),
        }
    }
}

fn stamps(path: &Path, files: &[PathBuf]) -> Vec<Stamp> {
    std::iter::once(path).chain(files.iter().map(PathBuf::as_path)).map(stamp).collect()
}

/// Whether the web config at `path` enables TLS (`None`: plain HTTP), and whom it asks for a
/// client certificate; for `--healthcheck`, which reads the file but not the certificates. The
/// error is one line.
pub(crate) fn client_auth(path: &Path) -> Result<Option<ClientAuth>, String> {
    let spec = read_spec(path).map_err(|e| fail(path, &e))?;
    Ok(spec.tls.map(|tls| tls.client_auth))
}

fn load_with_files(path: &Path) -> Result<(Loaded, Vec<PathBuf>), (String, Vec<PathBuf>)> {
    let spec = read_spec(path).map_err(|e| (fail(path, &e), Vec::new()))?;
    let files = spec.files();
    match build(&spec) {
        Ok(loaded) => Ok((loaded, files)),
        Err(e) => Err((fail(path, &e), files)),
    }
}

/// The file at `path` read and validated, paths in it relative to its directory.
fn read_spec(path: &Path) -> Result<Spec, String> {
    let yaml = crate::input::read_file(path, MAX_FILE).map_err(|e| io_reason(&e))?;
    parse(&yaml, path.parent().unwrap_or(Path::new(".")))
}

/// A problem with the file at `path`, as one line.
fn fail(path: &Path, e: &str) -> String {
    format!("--web.config.file {}: {e}", path.display())
}

#[cfg(test)]
mod tests;
