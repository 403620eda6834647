//! The web config file's parsing: what is taken, and what is refused with which line.

use super::*;

fn problem(yaml: &str) -> String {
    parse(yaml, Path::new("/etc/x")).expect_err("refused")
}

#[test]
fn a_node_exporter_file_parses_with_paths_relative_to_its_directory() {
    let spec = parse(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: /abs/server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS12\n  \
         cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [X25519, CurveP256]\n  \
         prefer_server_cipher_suites: false\n\
         http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n\
         basic_auth_users:\n  prom: $2y$10$Xlg.WDrk8toE3Xe..XY25.vGlQYTqP7N3.qyPY5ozBQaGh./6i61O\n",
        Path::new("/etc/x"),
    )
    .expect("valid");
    let tls = spec.tls.as_ref().expect("tls");
    assert_eq!(tls.cert, Pem::File(PathBuf::from("/etc/x/server.crt")));
    assert_eq!(tls.key, Pem::File(PathBuf::from("/abs/server.key")));
    assert_eq!(tls.client_auth, ClientAuth::RequireAndVerify);
    assert_eq!((tls.tls12, tls.tls13, tls.prefer_server_order), (true, true, false));
    assert_eq!((tls.cipher_suites.len(), tls.curves.len()), (1, 2));
    assert_eq!(spec.files().len(), 3);
    assert_eq!(spec.headers[0].0.as_str(), "x-frame-options");
    assert!(spec.users.contains_key("prom"));
    // No TLS section: plain HTTP (basic auth alone is allowed, as in the exporter-toolkit).
    assert!(parse("# empty\n", Path::new(".")).expect("valid").tls.is_none());
}

#[test]
fn what_rustls_cannot_honour_is_refused() {
    let tls = "tls_server_config:\n  cert_file: a\n  key_file: b\n";
    for (extra, want) in [
        ("  min_version: TLS10\n", "min_version: TLS10 is not supported"),
        ("  max_version: TLS11\n", "max_version: TLS11 is not supported"),
        (
            "  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n",
            "TLS_RSA_WITH_AES_128_CBC_SHA is not supported by rustls",
        ),
        ("  cipher_suites: [NOPE]\n", "unknown cipher suite \"NOPE\""),
        ("  curve_preferences: [CurveP521]\n", "CurveP521 is not supported by rustls"),
        ("  client_auth_type: Sometimes\n", "client_auth_type: unknown \"Sometimes\""),
        ("  client_ca_file: ca\n", "client_auth_type is NoClientCert"),
        ("  client_auth_type: RequireAndVerifyClientCert\n", "client_ca_file is needed"),
        ("  client_allowed_sans: [a]\n", "client_allowed_sans is not supported"),
        ("  cert: inline\n", "give cert_file or cert, not both"),
    ] {
        let line = problem(&format!("{tls}{extra}"));
        assert!(line.contains(want), "{extra}: {line}");
    }
    assert!(problem("tls_server_config:\n  cert_file: a\n").contains("key_file is missing"));
    assert!(problem("http_server_config:\n  http2: true\n").contains("http2: true is not supported"));
    assert!(problem("http_server_config:\n  headers:\n    Server: x\n").contains("\"Server\" cannot be set"));
    assert!(problem("http_server_config:\n  headers:\n    X-Frame-Options: allow\n").contains("not valid"));
    assert!(problem("basic_auth_users:\n  prom: plain\n").contains("must be a bcrypt hash"));
    assert!(problem("rate_limit:\n  interval: 1s\n").contains("burst must be at least 1"));
    assert!(problem("tls_server_config:\n  cert_fiel: a\n").contains("cert_fiel"));
}
