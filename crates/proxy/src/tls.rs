//! Front-end TLS: certificates and keys from PEM files (or a self-signed one
//! generated at start-up for the lab), SNI picking among a listener's
//! certificates with a default for clients that send no SNI, OCSP stapling,
//! ALPN `h2` and `http/1.1`, TLS 1.2 and 1.3 only (rustls with ring).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gatehouse_model::topology::{Certificate, Listener};
use gatehouse_model::Plan;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::ProxyError;

/// The ring provider with TLS 1.3 and 1.2 only; every TLS config uses it.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) const VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// One loaded front-end certificate.
#[derive(Debug)]
pub(crate) struct FrontCert {
    pub key: Arc<CertifiedKey>,
    /// Lower-case DNS names it covers (its SANs, or the generated names).
    pub names: Vec<String>,
    /// SHA-256 of the end-entity certificate, for pinning and for the log.
    pub fingerprint: [u8; 32],
}

/// Self-signed certificates generated so far, by their name list, so that a
/// reload does not change the lab's fingerprints.
#[derive(Default, Debug)]
pub(crate) struct GeneratedCache(Mutex<HashMap<Vec<String>, DerPair>>);

/// A generated certificate and its PKCS#8 key, both DER.
type DerPair = (Vec<u8>, Vec<u8>);

/// Loads (or generates) every certificate of the plan, by name.
pub(crate) fn load_all(
    plan: &Plan,
    base_dir: &Path,
    cache: &GeneratedCache,
) -> Result<HashMap<String, Arc<FrontCert>>, ProxyError> {
    let mut out = HashMap::new();
    for c in &plan.topology.certificates {
        let cert = load_one(c, base_dir, cache)?;
        out.insert(c.name.value.clone(), Arc::new(cert));
    }
    Ok(out)
}

pub(crate) fn resolve(base_dir: &Path, file: &str) -> PathBuf {
    base_dir.join(file)
}

fn load_one(c: &Certificate, base_dir: &Path, cache: &GeneratedCache) -> Result<FrontCert, ProxyError> {
    let name = &c.name.value;
    let (chain, key) = match (&c.cert, &c.key) {
        (Some(cert), Some(key)) => {
            let cert_path = resolve(base_dir, &cert.value);
            let key_path = resolve(base_dir, &key.value);
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
                .map_err(|e| ProxyError::certificate(name, format!("cannot read {}: {e}", cert_path.display())))?
                .collect::<Result<_, _>>()
                .map_err(|e| ProxyError::certificate(name, format!("{}: {e}", cert_path.display())))?;
            if chain.is_empty() {
                return Err(ProxyError::certificate(
                    name,
                    format!("{} holds no CERTIFICATE block", cert_path.display()),
                ));
            }
            let key = PrivateKeyDer::from_pem_file(&key_path)
                .map_err(|e| ProxyError::certificate(name, format!("cannot read key {}: {e}", key_path.display())))?;
            (chain, key)
        }
        _ => {
            let names: Vec<String> = c.names.iter().map(|n| n.value.to_ascii_lowercase()).collect();
            let mut cache = cache.0.lock().unwrap_or_else(|e| e.into_inner());
            let (cert, key) = match cache.get(&names) {
                Some(pair) => pair.clone(),
                None => {
                    let generated = rcgen::generate_simple_self_signed(names.clone())
                        .map_err(|e| ProxyError::certificate(name, format!("cannot generate: {e}")))?;
                    let pair = (generated.cert.der().to_vec(), generated.signing_key.serialize_der());
                    cache.insert(names.clone(), pair.clone());
                    pair
                }
            };
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key));
            (vec![CertificateDer::from(cert)], key)
        }
    };
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| ProxyError::certificate(name, format!("unusable private key: {e}")))?;
    let fingerprint = sha256(&chain[0]);
    let names = match &c.cert {
        Some(_) => dns_names(&chain[0]).map_err(|e| ProxyError::certificate(name, e))?,
        None => c.names.iter().map(|n| n.value.to_ascii_lowercase()).collect(),
    };
    let mut certified = CertifiedKey::new(chain, signing);
    if let Some(ocsp) = &c.ocsp {
        let path = resolve(base_dir, &ocsp.value);
        let staple = std::fs::read(&path)
            .map_err(|e| ProxyError::certificate(name, format!("cannot read OCSP staple {}: {e}", path.display())))?;
        certified.ocsp = Some(staple);
    }
    if c.cert.is_none() {
        tracing::info!(
            certificate = %name,
            sha256 = %hex(&fingerprint),
            "generated a self-signed certificate (no cert/key files given)"
        );
    }
    Ok(FrontCert {
        key: Arc::new(certified),
        names,
        fingerprint,
    })
}

pub(crate) fn sha256(der: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Compares secrets without an early exit on the first differing byte.
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// The DNS names of a certificate: its subjectAltName DNS entries, or its
/// common name when it has none.
pub(crate) fn dns_names(der: &[u8]) -> Result<Vec<String>, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| format!("not a valid certificate: {e}"))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                names.push(d.to_ascii_lowercase());
            }
        }
    }
    if names.is_empty() {
        for cn in cert.subject().iter_common_name() {
            if let Ok(s) = cn.as_str() {
                names.push(s.to_ascii_lowercase());
            }
        }
    }
    Ok(names)
}

/// Picks a listener's certificate from the SNI name; clients without SNI
/// (older ActiveSync devices) and names no certificate covers get the
/// listener's default certificate.
#[derive(Debug)]
struct SniResolver {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `*.example.com` certificates, by `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let Some(sni) = hello.server_name() else {
            return Some(self.default.clone());
        };
        let sni = sni.trim_end_matches('.').to_ascii_lowercase();
        if let Some(k) = self.exact.get(&sni) {
            return Some(k.clone());
        }
        if let Some((_, parent)) = sni.split_once('.') {
            if let Some(k) = self.wildcard.get(parent) {
                return Some(k.clone());
            }
        }
        Some(self.default.clone())
    }
}

/// The rustls server config of an https listener.
pub(crate) fn server_config(
    listener: &Listener,
    certs: &HashMap<String, Arc<FrontCert>>,
) -> Result<Arc<ServerConfig>, ProxyError> {
    let who = &listener.name.value;
    let offered: Vec<&Arc<FrontCert>> = listener
        .certificates
        .iter()
        .filter_map(|c| certs.get(&c.value))
        .collect();
    let default_name = listener
        .default_certificate
        .as_ref()
        .or(listener.certificates.first())
        .map(|c| c.value.clone());
    let default = default_name
        .as_ref()
        .and_then(|n| certs.get(n))
        .ok_or_else(|| ProxyError::Listener {
            listener: who.clone(),
            message: "an https listener needs at least one certificate".into(),
        })?;
    let mut resolver = SniResolver {
        exact: HashMap::new(),
        wildcard: HashMap::new(),
        default: default.key.clone(),
    };
    // In listing order, so the first certificate that names a host wins.
    for c in offered {
        for n in &c.names {
            match n.strip_prefix("*.") {
                Some(parent) => resolver.wildcard.entry(parent.to_string()),
                None => resolver.exact.entry(n.clone()),
            }
            .or_insert_with(|| c.key.clone());
        }
    }
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| ProxyError::Listener {
            listener: who.clone(),
            message: format!("TLS setup: {e}"),
        })?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // The provider lists AEAD, forward-secret suites strongest first; a client
    // offering a weaker one first must not get it.
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}
