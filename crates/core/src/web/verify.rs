//! The one rustls certificate verifier of the exporter, for both ends of a connection: it takes
//! the peer's certificate on trust and checks only the handshake's signatures, so the peer must
//! still hold the certificate's key. The server uses it for `RequestClientCert` and
//! `RequireAnyClientCert` (as Go does: no CA trusted), `--healthcheck` for the exporter's own
//! server (see [`super::healthcheck`] for why).

use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// Any certificate, with the handshake's signatures checked by the provider's algorithms.
#[derive(Debug)]
pub(crate) struct AnyCert {
    algorithms: WebPkiSupportedAlgorithms,
    /// As a client-certificate verifier: whether a client without a certificate is refused.
    mandatory: bool,
}

impl AnyCert {
    /// A server's certificate, as the client sees it.
    pub(crate) fn server(provider: &CryptoProvider) -> AnyCert {
        AnyCert { algorithms: provider.signature_verification_algorithms, mandatory: false }
    }

    /// Asks clients for a certificate, refusing those without one if `mandatory`.
    pub(crate) fn client(provider: &CryptoProvider, mandatory: bool) -> AnyCert {
        AnyCert { algorithms: provider.signature_verification_algorithms, mandatory }
    }
}

/// The handshake signature checks, the same in both traits.
macro_rules! signatures {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    };
}

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    signatures!();
}

impl ClientCertVerifier for AnyCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    signatures!();
}
