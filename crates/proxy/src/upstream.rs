//! Backend connections: HTTP/1.1 over TCP or re-encrypted TLS ("SSL
//! bridging"), with a pool of idle connections per member and server name.
//!
//! Backend certificates are verified against a CA bundle, a pinned SHA-256
//! fingerprint, or the very certificate a front-end listener uses (Exchange
//! Extended Protection). There is no way to turn verification off.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;

use crate::backend::{BackendConn, BackendIo};
use crate::config::{BackendVerify, ProxyConfig};
use crate::error::ProxyError;
use crate::tls::{self, FrontCert};

/// Where a backend connection goes; idle connections are pooled by target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Target {
    pub host: Arc<str>,
    pub port: u16,
    /// The pool whose TLS settings apply and the server name sent, when bridging.
    pub tls: Option<(Arc<str>, Arc<str>)>,
}

/// Why a backend connection could not be made.
#[derive(Debug)]
pub(crate) enum ConnectError {
    Timeout,
    Io(io::Error),
    Tls(io::Error),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Timeout => f.write_str("connect timed out"),
            ConnectError::Io(e) => write!(f, "connect: {e}"),
            ConnectError::Tls(e) => write!(f, "TLS to backend: {e}"),
        }
    }
}

/// Keyed by configuration values, not by anything a client sends, so the
/// faster non-keyed hash is safe here.
type IdleList = rustc_hash::FxHashMap<Target, VecDeque<(Box<BackendConn>, Instant)>>;

/// Idle backend connections, by target, kept apart per connection worker
/// ([`crate::workers`]): a backend connection's socket is registered with
/// the worker that opened it, so only requests on that worker reuse it.
pub(crate) struct Upstreams {
    /// Per worker slot. Oldest at the front; `take` uses the newest, which
    /// is the most likely to still be open, and expired ones are pruned from
    /// the front.
    idle: Vec<Mutex<IdleList>>,
    max_idle: usize,
    keep: Duration,
}

impl Upstreams {
    pub fn new(config: &ProxyConfig, slots: usize) -> Self {
        Upstreams {
            idle: (0..slots.max(1)).map(|_| Mutex::default()).collect(),
            max_idle: config.max_idle_per_member,
            keep: config.backend_idle_keep,
        }
    }

    fn mine(&self) -> std::sync::MutexGuard<'_, IdleList> {
        let slot = crate::workers::slot().min(self.idle.len() - 1);
        self.idle[slot].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A pooled connection that still looks open, newest first. `now` is
    /// the caller's recent reading of the clock.
    pub fn take(&self, target: &Target, now: Instant) -> Option<Box<BackendConn>> {
        let mut idle = self.mine();
        let list = idle.get_mut(target)?;
        while let Some((mut conn, since)) = list.pop_back() {
            if now.duration_since(since) < self.keep && conn.probably_open() {
                return Some(conn);
            }
        }
        None
    }

    /// Returns a connection after a cleanly completed exchange, at `now`.
    pub fn put(&self, target: Target, conn: Box<BackendConn>, now: Instant) {
        let mut idle = self.mine();
        let list = idle.entry(target).or_default();
        while list.front().is_some_and(|(_, t)| now.duration_since(*t) >= self.keep) {
            list.pop_front();
        }
        if list.len() < self.max_idle {
            list.push_back((conn, now));
        }
    }

    /// Opens a new connection. `tls` is the pool's client config when bridging.
    pub async fn connect(
        &self,
        target: &Target,
        tls: Option<Arc<ClientConfig>>,
        timeout: Duration,
    ) -> Result<Box<BackendConn>, ConnectError> {
        let fut = async {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((&*target.host, target.port))
                .await
                .map_err(ConnectError::Io)?
                .collect();
            let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
            let mut tcp = None;
            for a in addrs {
                match TcpStream::connect(a).await {
                    Ok(s) => {
                        tcp = Some(s);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            let tcp = tcp.ok_or(ConnectError::Io(last))?;
            let _ = tcp.set_nodelay(true);
            let io = match (&target.tls, tls) {
                (Some((_, sni)), Some(config)) => {
                    let name = ServerName::try_from(sni.to_string())
                        .map_err(|e| ConnectError::Tls(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
                    let tls = tokio_rustls::TlsConnector::from(config)
                        .connect(name, tcp)
                        .await
                        .map_err(ConnectError::Tls)?;
                    BackendIo::Tls(Box::new(tls))
                }
                _ => BackendIo::Plain(tcp),
            };
            Ok(BackendConn::new(io))
        };
        tokio::time::timeout(timeout, fut)
            .await
            .unwrap_or(Err(ConnectError::Timeout))
    }
}

/// Builds the TLS client config of every pool that bridges.
pub(crate) fn backend_tls_configs(
    config: &ProxyConfig,
    base_dir: &Path,
    front: &HashMap<String, Arc<FrontCert>>,
) -> Result<HashMap<String, Arc<ClientConfig>>, ProxyError> {
    let mut out = HashMap::new();
    for (pool, backend) in &config.backends {
        let Some(tls) = &backend.tls else { continue };
        let provider = tls::provider();
        let err = |m: String| ProxyError::Backend {
            pool: pool.clone(),
            message: m,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match &tls.verify {
            BackendVerify::CaBundle(file) => {
                let path = tls::resolve(base_dir, file);
                let mut roots = RootCertStore::empty();
                for c in CertificateDer::pem_file_iter(&path)
                    .map_err(|e| err(format!("cannot read CA bundle {}: {e}", path.display())))?
                {
                    let c = c.map_err(|e| err(format!("{}: {e}", path.display())))?;
                    roots
                        .add(c)
                        .map_err(|e| err(format!("{}: unusable CA certificate: {e}", path.display())))?;
                }
                if roots.is_empty() {
                    return Err(err(format!("CA bundle {} holds no certificate", path.display())));
                }
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| err(format!("CA bundle: {e}")))?
            }
            BackendVerify::Fingerprint(hex) => {
                let pin = parse_fingerprint(hex)
                    .ok_or_else(|| err(format!("\"{hex}\" is not a SHA-256 fingerprint (64 hex digits)")))?;
                Arc::new(PinnedVerifier {
                    pin,
                    provider: provider.clone(),
                })
            }
            BackendVerify::SameAsFront(name) => {
                let cert = front
                    .get(name)
                    .ok_or_else(|| err(format!("no front-end certificate named \"{name}\"")))?;
                Arc::new(PinnedVerifier {
                    pin: cert.fingerprint,
                    provider: provider.clone(),
                })
            }
        };
        let mut c = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(tls::VERSIONS)
            .map_err(|e| err(format!("TLS setup: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        c.alpn_protocols = vec![b"http/1.1".to_vec()];
        out.insert(pool.clone(), Arc::new(c));
    }
    Ok(out)
}

fn parse_fingerprint(s: &str) -> Option<[u8; 32]> {
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    let hex = hex.strip_prefix("sha256/").unwrap_or(&hex);
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Trusts exactly one certificate, by its SHA-256. Signatures are still
/// checked, so the backend must hold the key.
#[derive(Debug)]
struct PinnedVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = tls::sha256(end_entity);
        if tls::same_bytes(&got, &self.pin) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
