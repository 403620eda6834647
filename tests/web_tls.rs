//! `--web.config.file` with the real binary: TLS with a CA and certificates made here, a real TLS
//! client (reqwest with rustls), client certificates, basic auth, a certificate renewed while
//! running, bad files refused at start; several listen addresses and systemd's sockets.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate authority made for one test.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca { pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// A certificate for `127.0.0.1` and `localhost` (`server`) or a client: (certificate PEM,
    /// key PEM, certificate DER).
    fn issue(&self, name: &str, server: bool) -> (String, String, Vec<u8>) {
        let key = KeyPair::generate().expect("key");
        let sans = if server { vec!["127.0.0.1".to_string(), "localhost".to_string()] } else { Vec::new() };
        let mut params = CertificateParams::new(sans).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }
}

/// A client trusting `ca` only, presenting `identity` (certificate and key PEM) if given; new
/// connections every time, so that each request makes a handshake.
fn tls_client(ca: &Ca, identity: Option<(&str, &str)>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem.as_bytes()).expect("CA")])
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5));
    if let Some((cert, key)) = identity {
        builder = builder
            .identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).expect("identity"));
    }
    builder.build().expect("client")
}

/// The TLS server's certificate in the response.
fn served_certificate(response: &reqwest::Response) -> Vec<u8> {
    let info = response.extensions().get::<reqwest::tls::TlsInfo>().expect("TLS info");
    info.peer_certificate().expect("a certificate").to_vec()
}

/// Writes `content` to `dir/name` in one step (a rename), as certificate tools do.
fn replace_file(dir: &Path, name: &str, content: &str) {
    let staged = write_file(dir, &format!(".{name}.new"), content);
    std::fs::rename(staged, dir.join(name)).expect("rename");
}

/// Runs the binary with the fixture credentials and `args`; (exit code, stderr).
fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
        .args(args)
        .env("SOBOT_APP_ID", APP_ID)
        .env("SOBOT_APP_KEY", APP_KEY)
        .output()
        .expect("runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

const GOOD_TLS: &str = "tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.key\n";

/// A directory with `web.yml` (`yaml`), the CA, and a server certificate in `tls/`.
fn tls_dir(name: &str, ca: &Ca, yaml: &str) -> (TempDir, Vec<u8>) {
    let dir = temp_dir(name);
    std::fs::create_dir_all(dir.join("tls")).expect("dir");
    let (cert, key, der) = ca.issue("first", true);
    write_file(&dir.join("tls"), "server.crt", &cert);
    write_file(&dir.join("tls"), "server.key", &key);
    write_file(&dir, "ca.crt", &ca.pem);
    write_file(&dir, "web.yml", yaml);
    (dir, der)
}

/// Scrapes `url` with `client` until `check` holds on the metrics; panics after 15 s.
async fn tls_wait_for(
    exporter: &Exporter,
    client: &reqwest::Client,
    url: &str,
    check: impl Fn(&Metrics) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = client.get(url).send().await.expect("TLS scrape").text().await.expect("body");
        let metrics = Metrics::parse(&text);
        if check(&metrics) {
            return;
        }
        assert!(Instant::now() < deadline, "{text}\nlogs:\n{}", exporter.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `sobot_exporter_http_tls_handshake_failures_total{reason}`.
fn handshake_failures(m: &Metrics, reason: &str) -> Option<f64> {
    m.get(&format!("sobot_exporter_http_tls_handshake_failures_total{{reason=\"{reason}\"}}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tls_client_scrapes_and_plain_http_to_the_tls_port_gets_a_400_that_says_so() {
    let sim = fixture_simulator().await;
    let ca = Ca::new("test CA");
    // Relative paths resolve against the web config's directory, not the working directory.
    let (dir, der) = tls_dir("tls_scrape", &ca, GOOD_TLS);
    let web = dir.join("web.yml");
    let exporter =
        Exporter::start("tls_scrape", &sim.base_url(), &["--web.config.file", web.to_str().expect("path")])
            .await;
    let client = tls_client(&ca, None);
    let url = format!("https://{}/metrics", exporter.addr);
    let response = client.get(&url).send().await.expect("TLS scrape");
    assert_eq!(response.status(), 200);
    assert_eq!(served_certificate(&response), der);
    let body = response.text().await.expect("body");
    assert!(body.contains("sobot_exporter_build_info"), "{body}");
    // As Go's servers answer, then the connection is closed.
    let plain = http().get(exporter.url("/metrics")).send().await.expect("an answer to plain HTTP");
    assert_eq!(plain.status(), 400);
    assert_eq!(plain.headers()["connection"], "close");
    assert_eq!(plain.text().await.expect("body"), "Client sent an HTTP request to an HTTPS server.\n");
    assert!(exporter.logs().contains("\"tls\":true"), "{}", exporter.logs());
    tls_wait_for(&exporter, &client, &url, |m| handshake_failures(m, "plain_http") == Some(1.0)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn require_and_verify_client_cert_accepts_the_ca_s_clients_only() {
    let sim = fixture_simulator().await;
    let ca = Ca::new("test CA");
    let yaml =
        format!("{GOOD_TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n");
    let (dir, _) = tls_dir("mtls", &ca, &yaml);
    let web = dir.join("web.yml");
    let exporter =
        Exporter::start("mtls", &sim.base_url(), &["--web.config.file", web.to_str().expect("path")]).await;
    let url = format!("https://{}/metrics", exporter.addr);

    let (cert, key, _) = ca.issue("prometheus", false);
    let signed = tls_client(&ca, Some((&cert, &key))).get(&url).send().await.expect("a client of the CA");
    assert_eq!(signed.status(), 200);

    let none = tls_client(&ca, None).get(&url).send().await;
    assert!(none.is_err(), "no client certificate: {:?}", none.map(|r| r.status()));

    let foreign = Ca::new("another CA");
    let (cert, key, _) = foreign.issue("intruder", false);
    let refused = tls_client(&ca, Some((&cert, &key))).get(&url).send().await;
    assert!(refused.is_err(), "a certificate of another CA: {:?}", refused.map(|r| r.status()));
}

#[tokio::test(flavor = "multi_thread")]
async fn request_and_require_any_client_cert_take_a_certificate_of_any_ca() {
    let sim = fixture_simulator().await;
    let ca = Ca::new("test CA");
    // Trusted by nobody here: these modes check only that the client holds the certificate's key.
    let (cert, key, _) = Ca::new("another CA").issue("anyone", false);
    for (auth, mandatory) in [("RequireAnyClientCert", true), ("RequestClientCert", false)] {
        let name = format!("any_cert_{mandatory}");
        let (dir, _) = tls_dir(&name, &ca, &format!("{GOOD_TLS}  client_auth_type: {auth}\n"));
        let web = dir.join("web.yml");
        let exporter =
            Exporter::start(&name, &sim.base_url(), &["--web.config.file", web.to_str().expect("path")])
                .await;
        let url = format!("https://{}/metrics", exporter.addr);
        let with = tls_client(&ca, Some((&cert, &key))).get(&url).send().await.expect("a certificate");
        assert_eq!(with.status(), 200, "{auth}");
        let without = tls_client(&ca, None).get(&url).send().await;
        assert_eq!(without.is_err(), mandatory, "{auth} without a certificate: {without:?}");
        // `--healthcheck` (its own verifier, no certificate) passes where none is required.
        assert_eq!(healthcheck(&exporter, Some(&web)).await.is_ok(), !mandatory, "{auth}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_tls_clients_are_counted_by_reason_and_the_first_of_each_is_logged() {
    let sim = fixture_simulator().await;
    let ca = Ca::new("test CA");
    let yaml =
        format!("{GOOD_TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n");
    let (dir, _) = tls_dir("tls_refusals", &ca, &yaml);
    let web = dir.join("web.yml");
    let exporter =
        Exporter::start("tls_refusals", &sim.base_url(), &["--web.config.file", web.to_str().expect("path")])
            .await;
    let url = format!("https://{}/metrics", exporter.addr);
    let foreign = Ca::new("another CA");
    let (cert, key, _) = foreign.issue("intruder", false);
    for _ in 0..2 {
        assert!(tls_client(&ca, None).get(&url).send().await.is_err(), "no client certificate");
        assert!(tls_client(&ca, Some((&cert, &key))).get(&url).send().await.is_err(), "another CA's");
    }
    // A client that does not trust the server's certificate ends the handshake with an alert.
    let (cert, key, _) = ca.issue("prometheus", false);
    assert!(tls_client(&foreign, Some((&cert, &key))).get(&url).send().await.is_err());
    // A TCP probe: connects and closes.
    drop(tokio::net::TcpStream::connect(&exporter.addr).await.expect("connect"));

    let client = tls_client(&ca, Some((&cert, &key)));
    let expected = [
        ("no_certificate", 2.0),
        ("unknown_ca", 2.0),
        ("client_alert", 1.0),
        ("closed", 1.0),
        ("plain_http", 0.0),
    ];
    tls_wait_for(&exporter, &client, &url, |m| {
        expected.iter().all(|(reason, n)| handshake_failures(m, reason) == Some(*n))
    })
    .await;
    let logs = exporter.logs();
    for (reason, _) in &expected[..4] {
        let lines = logs
            .lines()
            .filter(|l| l.contains("TLS handshake failed") && l.contains(&format!("\"reason\":\"{reason}\"")))
            .count();
        assert_eq!(lines, 1, "{reason}: {logs}");
    }
    assert!(logs.contains("UnknownIssuer"), "the first refusal says why: {logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_guards_everything_but_the_health_checks() {
    let sim = fixture_simulator().await;
    let dir = temp_dir("basic_auth");
    // Cost 4 keeps the test fast; operators use 10 or more.
    let hash = bcrypt::hash("s3cret", 4).expect("hash");
    let web = write_file(
        &dir,
        "web.yml",
        &format!(
            "basic_auth_users:\n  prometheus: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
        ),
    );
    let exporter =
        Exporter::start("basic_auth", &sim.base_url(), &["--web.config.file", web.to_str().expect("path")])
            .await;
    let client = http();
    let right = client.get(exporter.url("/metrics")).basic_auth("prometheus", Some("s3cret")).send().await;
    let right = right.expect("request");
    assert_eq!(right.status(), 200);
    assert_eq!(right.headers()["x-frame-options"], "deny");

    let wrong = client.get(exporter.url("/metrics")).basic_auth("prometheus", Some("guess")).send().await;
    let wrong = wrong.expect("request");
    assert_eq!(wrong.status(), 401);
    let unknown = client.get(exporter.url("/metrics")).basic_auth("root", Some("s3cret")).send().await;
    assert_eq!(unknown.expect("request").status(), 401);

    for path in ["/metrics", "/", "/sd", "/probe?target=x", "/-/reload", "/nope"] {
        let missing = client.get(exporter.url(path)).send().await.expect("request");
        assert_eq!(missing.status(), 401, "{path}");
        let challenge = missing.headers().get("www-authenticate").expect("WWW-Authenticate");
        assert!(challenge.to_str().expect("text").starts_with("Basic "), "{challenge:?}");
        assert_eq!(missing.headers()["x-frame-options"], "deny", "the headers are on every response");
    }
    // Liveness probes need no password.
    for path in ["/healthz", "/-/healthy"] {
        assert_eq!(client.get(exporter.url(path)).send().await.expect("request").status(), 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renewed_certificate_is_served_without_a_restart_and_a_bad_one_is_logged_once() {
    let sim = fixture_simulator().await;
    let ca = Ca::new("test CA");
    let (dir, first) = tls_dir("tls_renew", &ca, GOOD_TLS);
    let web = dir.join("web.yml");
    let exporter =
        Exporter::start("tls_renew", &sim.base_url(), &["--web.config.file", web.to_str().expect("path")])
            .await;
    let client = tls_client(&ca, None);
    let url = format!("https://{}/healthz", exporter.addr);
    let served = || async { served_certificate(&client.get(&url).send().await.expect("TLS request")) };
    assert_eq!(served().await, first);

    let (cert, key, second) = ca.issue("second", true);
    replace_file(&dir.join("tls"), "server.key", &key);
    replace_file(&dir.join("tls"), "server.crt", &cert);
    let deadline = Instant::now() + Duration::from_secs(15);
    while served().await != second {
        assert!(Instant::now() < deadline, "the renewed certificate was not served: {}", exporter.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A broken certificate: the last good one stays, and the problem is logged once.
    replace_file(&dir.join("tls"), "server.crt", "not a certificate\n");
    let failures = || exporter.logs().matches("web config not reloaded").count();
    let deadline = Instant::now() + Duration::from_secs(15);
    while failures() == 0 {
        assert!(Instant::now() < deadline, "the bad certificate was not reported: {}", exporter.logs());
        assert_eq!(served().await, second);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Several more re-check periods, with handshakes in each.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert_eq!(served().await, second);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(failures(), 1, "{}", exporter.logs());
    assert!(exporter.logs().contains("cert_file"), "the line names the field: {}", exporter.logs());
}

/// Whether `/metrics` answers 200 to `user` with `password`.
async fn admitted(exporter: &Exporter, user: &str, password: &str) -> bool {
    let response = http().get(exporter.url("/metrics")).basic_auth(user, Some(password)).send().await;
    response.expect("request").status() == 200
}

#[tokio::test(flavor = "multi_thread")]
async fn the_web_config_is_re_read_by_the_server_s_tick_without_any_request() {
    let sim = fixture_simulator().await;
    let dir = temp_dir("web_tick");
    let users = |password: &str| {
        format!("basic_auth_users:\n  prometheus: {}\n", bcrypt::hash(password, 4).expect("hash"))
    };
    let web = write_file(&dir, "web.yml", &users("first"));
    let exporter =
        Exporter::start("web_tick", &sim.base_url(), &["--web.config.file", web.to_str().expect("path")])
            .await;
    // No request, no connection: the server's own task notices the new file.
    replace_file(&dir, "web.yml", &users("second"));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !exporter.logs().contains("web config reloaded") {
        assert!(Instant::now() < deadline, "not re-read without a request: {}", exporter.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(admitted(&exporter, "prometheus", "second").await);
    assert!(!admitted(&exporter, "prometheus", "first").await);

    // A bad file is reported without a request too, and the last good one stays.
    replace_file(&dir, "web.yml", "basic_auth_users:\n  prometheus: plain\n");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !exporter.logs().contains("web config not reloaded") {
        assert!(Instant::now() < deadline, "the bad file was not reported: {}", exporter.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(exporter.logs().contains("must be a bcrypt hash"), "{}", exporter.logs());
    assert!(admitted(&exporter, "prometheus", "second").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_re_reads_the_web_config_and_refuses_a_bad_one() {
    let sim = fixture_simulator().await;
    let dir = temp_dir("web_reload");
    let hash = |password: &str| bcrypt::hash(password, 4).expect("hash");
    let (admin, scraper) = (hash("admin"), hash("scraper"));
    let web = write_file(&dir, "web.yml", &format!("basic_auth_users:\n  admin: {admin}\n"));
    let exporter = Exporter::start(
        "web_reload",
        &sim.base_url(),
        &["--web.config.file", web.to_str().expect("path"), "--web.enable-lifecycle"],
    )
    .await;
    let reload = || async {
        let response = http().post(exporter.url("/-/reload")).basic_auth("admin", Some("admin")).send().await;
        let response = response.expect("answer");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    };
    write_file(&dir, "web.yml", &format!("basic_auth_users:\n  admin: {admin}\n  scraper: {scraper}\n"));
    assert_eq!(reload().await, (200, "reloaded\n".to_string()));
    // In force when the reload answers.
    assert!(admitted(&exporter, "scraper", "scraper").await);

    write_file(&dir, "web.yml", &format!("basic_auth_users:\n  admin: {admin}\n  scraper: plain\n"));
    let (status, text) = reload().await;
    assert_eq!(status, 500, "{text}");
    let line = format!("reload failed: --web.config.file {}: basic_auth_users: \"scraper\"", web.display());
    assert!(text.starts_with(&line), "{text}");
    assert!(admitted(&exporter, "scraper", "scraper").await, "the last good web config stays");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let scrape = http().get(exporter.url("/metrics")).basic_auth("admin", Some("admin")).send().await;
        let text = scrape.expect("scrape").text().await.expect("body");
        if Metrics::parse(&text).get("sobot_exporter_config_last_reload_successful") == Some(0.0) {
            break;
        }
        assert!(Instant::now() < deadline, "the failed reload is not in the metrics: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `--healthcheck` in this process against `exporter`, with the web config `web`.
async fn healthcheck(exporter: &Exporter, web: Option<&Path>) -> Result<(), String> {
    let (addr, web) = (exporter.addr.clone(), web.map(Path::to_path_buf));
    tokio::task::spawn_blocking(move || sobot_exporter_core::web::healthcheck::check(&addr, web.as_deref()))
        .await
        .expect("the check ran")
}

#[tokio::test(flavor = "multi_thread")]
async fn healthcheck_speaks_tls_when_the_web_config_does() {
    let sim = fixture_simulator().await;
    let ca = Ca::new("test CA");
    // Basic auth too: /healthz stays outside it, so the check needs no password.
    let hash = bcrypt::hash("s3cret", 4).expect("hash");
    let (dir, _) =
        tls_dir("healthcheck_tls", &ca, &format!("{GOOD_TLS}basic_auth_users:\n  prometheus: {hash}\n"));
    let web = dir.join("web.yml");
    let exporter = Exporter::start(
        "healthcheck_tls",
        &sim.base_url(),
        &["--web.config.file", web.to_str().expect("path")],
    )
    .await;
    assert_eq!(healthcheck(&exporter, Some(&web)).await, Ok(()));
    let plain = healthcheck(&exporter, None).await.expect_err("plain HTTP to a TLS port");
    assert!(plain.contains("give --healthcheck the same --web.config.file"), "{plain}");

    // The binary, as the Dockerfile's HEALTHCHECK runs it (the file from the environment).
    let out = Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
        .args(["--healthcheck", "--web.listen-address", &exporter.addr])
        .env("SOBOT_EXPORTER_WEB_CONFIG_FILE", &web)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn healthcheck_names_required_client_certificates_in_one_line() {
    let sim = fixture_simulator().await;
    let ca = Ca::new("test CA");
    let yaml =
        format!("{GOOD_TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n");
    let (dir, _) = tls_dir("healthcheck_mtls", &ca, &yaml);
    let web = dir.join("web.yml");
    let exporter = Exporter::start(
        "healthcheck_mtls",
        &sim.base_url(),
        &["--web.config.file", web.to_str().expect("path")],
    )
    .await;
    let problem = healthcheck(&exporter, Some(&web)).await.expect_err("no client certificate");
    assert!(
        problem.contains("requires a client certificate (client_auth_type: RequireAndVerifyClientCert)"),
        "{problem}"
    );
    // A web config without client certificates, against this server: the refusal is named too.
    let plain_tls = write_file(&dir, "plain-tls.yml", GOOD_TLS);
    let refused = healthcheck(&exporter, Some(&plain_tls)).await.expect_err("refused by the server");
    assert!(refused.contains("requires a client certificate"), "{refused}");
    let out = Command::new(env!("CARGO_BIN_EXE_sobot_exporter"))
        .args(["--healthcheck", "--web.listen-address", &exporter.addr, "--web.config.file"])
        .arg(&web)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("sobot_exporter: unhealthy: --web.config.file"), "{stderr}");
}

#[test]
fn a_bad_web_config_exits_2_with_one_line() {
    let ca = Ca::new("test CA");
    let (dir, _) = tls_dir("tls_bad", &ca, GOOD_TLS);
    let cases = [
        (
            "  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n",
            "cipher_suites: TLS_RSA_WITH_AES_128_CBC_SHA is not supported by rustls",
        ),
        ("  min_version: TLS10\n", "min_version: TLS10 is not supported: rustls speaks TLS 1.2 and 1.3 only"),
        ("  client_auth_type: RequireAndVerifyClientCert\n", "client_ca_file is needed"),
        ("  cert_fiel: x\n", "cert_fiel"),
    ];
    for (extra, want) in cases {
        let web = write_file(&dir, "web.yml", &format!("{GOOD_TLS}{extra}"));
        let (code, stderr) = run(&["--web.config.file", web.to_str().expect("path")]);
        assert_eq!(code, Some(2), "{extra}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        let prefix = format!("sobot_exporter: --web.config.file {}: tls_server_config: ", web.display());
        assert!(stderr.starts_with(&prefix) && stderr.contains(want), "{extra}: {stderr}");
    }
    // A certificate file that is not there, and a key that is not the certificate's.
    let web = write_file(
        &dir,
        "web.yml",
        "tls_server_config:\n  cert_file: nope.crt\n  key_file: tls/server.key\n",
    );
    let (code, stderr) = run(&["--web.config.file", web.to_str().expect("path"), "--config.check"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cert_file {}: no such file", dir.join("nope.crt").display())),
        "{stderr}"
    );
    let (_, other_key, _) = ca.issue("other", true);
    write_file(&dir, "other.key", &other_key);
    let web = write_file(
        &dir,
        "web.yml",
        "tls_server_config:\n  cert_file: tls/server.crt\n  key_file: other.key\n",
    );
    let (code, stderr) = run(&["--web.config.file", web.to_str().expect("path")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("the key does not belong to the certificate"), "{stderr}");
    assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
}

/// The addresses of the "listening" line.
fn addresses(exporter: &Exporter) -> Vec<String> {
    let logs = exporter.logs();
    let line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "sobot_exporter listening")
        .expect("the listening line");
    line["addresses"].as_str().expect("addresses").split(',').map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_listen_address_serves_the_same_routes() {
    let sim = fixture_simulator().await;
    let exporter =
        Exporter::start("two_addresses", &sim.base_url(), &["--web.listen-address", "[::1]:0"]).await;
    let addresses = addresses(&exporter);
    assert_eq!(addresses.len(), 2, "{addresses:?}");
    assert!(addresses[1].starts_with("[::1]:"), "{addresses:?}");
    for address in &addresses {
        let response = http().get(format!("http://{address}/metrics")).send().await.expect("scrape");
        assert_eq!(response.status(), 200, "{address}");
        assert!(response.text().await.expect("body").contains("sobot_exporter_build_info"), "{address}");
    }
}

/// Binds a socket on 127.0.0.1, passes it as descriptor 3 with `LISTEN_FDS` and `LISTEN_PID`
/// (as systemd does) and `exec`s the exporter.
const SOCKET_ACTIVATE: &str = "import os, socket, sys
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(16)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ['LISTEN_FDS'] = '1'
os.environ['LISTEN_PID'] = str(os.getpid())
os.execv(sys.argv[1], sys.argv[1:])";

#[tokio::test(flavor = "multi_thread")]
async fn the_systemd_socket_is_used_instead_of_binding() {
    let sim = fixture_simulator().await;
    let env = [("SOBOT_APP_ID", APP_ID), ("SOBOT_APP_KEY", APP_KEY)];
    let wrapper = ["python3", "-c", SOCKET_ACTIVATE];
    let exporter =
        Exporter::start_wrapped("systemd", &sim.base_url(), &["--web.systemd-socket"], &env, &wrapper).await;
    assert_eq!(addresses(&exporter).len(), 1);
    let response = http().get(exporter.url("/metrics")).send().await.expect("scrape");
    assert_eq!(response.status(), 200);

    // Without systemd's variables: one line, exit 2.
    let (code, stderr) = run(&["--web.systemd-socket"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.starts_with("sobot_exporter: --web.systemd-socket: systemd passed no socket"), "{stderr}");
}
