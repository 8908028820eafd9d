//! One active health check against one member: tcp connect, or an http(s)
//! GET of a path with the Host header set explicitly, an expected status
//! (a redirect is a failure unless its status is listed: Exchange's root
//! redirects even when a virtual directory is broken) and an optional body
//! substring.
//!
//! https checks do not verify the member's certificate: a check carries no
//! secret and only asks "does this member answer correctly", and members
//! commonly present internal certificates the gateway has no CA for. The
//! handshake signature is still verified, and TLS is 1.2 or later.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use gatehouse_model::topology::{CheckKind, HealthCheck};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{CONNECTION, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// The most of a response body a check reads when looking for its substring.
const BODY_LIMIT: usize = 64 * 1024;

/// What to check and where.
#[derive(Clone, Debug)]
pub struct ProbeTarget {
    pub addr: SocketAddr,
    /// The Host header (and TLS server name) of http(s) checks.
    pub host: String,
}

/// Why a check failed, in words for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeError(pub String);

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Runs `check` once against `target`, within the check's timeout.
pub async fn probe(check: &HealthCheck, target: &ProbeTarget) -> Result<(), ProbeError> {
    let timeout = check.timeout.value;
    match tokio::time::timeout(timeout, run(check, target)).await {
        Ok(r) => r,
        Err(_) => Err(ProbeError(format!(
            "no answer within {}",
            super::state::fmt_duration(timeout)
        ))),
    }
}

async fn run(check: &HealthCheck, target: &ProbeTarget) -> Result<(), ProbeError> {
    let stream = TcpStream::connect(target.addr)
        .await
        .map_err(|e| ProbeError(format!("connect to {}: {e}", target.addr)))?;
    match check.kind {
        CheckKind::Tcp => Ok(()),
        CheckKind::Http => http_get(stream, check, target).await,
        CheckKind::Https => {
            let name = ServerName::try_from(target.host.clone())
                .unwrap_or_else(|_| ServerName::IpAddress(target.addr.ip().into()));
            let tls = tokio_rustls::TlsConnector::from(tls_config())
                .connect(name, stream)
                .await
                .map_err(|e| ProbeError(format!("TLS handshake: {e}")))?;
            http_get(tls, check, target).await
        }
    }
}

async fn http_get<S>(io: S, check: &HealthCheck, target: &ProbeTarget) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(io))
        .await
        .map_err(|e| ProbeError(format!("HTTP: {e}")))?;
    let path = check.path.as_ref().map_or("/", |p| p.value.as_str());
    let request = hyper::Request::get(path)
        .header(HOST, target.host.as_str())
        .header(
            USER_AGENT,
            concat!("gatehouse-health-check/", env!("CARGO_PKG_VERSION")),
        )
        .header(CONNECTION, "close")
        .body(Empty::new())
        .map_err(|e| ProbeError(format!("request: {e}")))?;
    let exchange = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ProbeError(format!("HTTP: {e}")))?;
        let status = response.status().as_u16();
        if !check.expect_status.contains(&status) {
            return Err(ProbeError(format!(
                "GET {path} answered {status}, expected {}",
                list(&check.expect_status)
            )));
        }
        if let Some(needle) = &check.expect_body {
            let body = Limited::new(response.into_body(), BODY_LIMIT)
                .collect()
                .await
                .map_err(|e| ProbeError(format!("reading the body: {e}")))?
                .to_bytes();
            if !contains(&body, needle.as_bytes()) {
                return Err(ProbeError(format!(
                    "GET {path} answered {status} without \"{needle}\" in the first {} KiB of its body",
                    BODY_LIMIT / 1024
                )));
            }
        }
        Ok(())
    };
    // Drive the connection and the exchange together. With `Connection:
    // close` the connection may finish first; the exchange then completes
    // from what was read (or fails).
    tokio::pin!(conn, exchange);
    tokio::select! {
        biased;
        r = &mut exchange => r,
        r = &mut conn => match r {
            Err(e) => Err(ProbeError(format!("HTTP: {e}"))),
            Ok(()) => exchange.await,
        },
    }
}

fn list(statuses: &[u16]) -> String {
    let words: Vec<String> = statuses.iter().map(u16::to_string).collect();
    words.join(" or ")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
                .expect("ring supports TLS 1.2 and 1.3")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        })
        .clone()
}

/// Accepts any certificate (see the module docs) but checks that the
/// handshake is signed by it.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
