//! The lab CA: one CA generated per lab run, the certificates of the
//! topology (and of the demo backends) signed by it, all written as PEM to
//! the lab's state directory so that curl (`--cacert`), a browser, and the
//! proxy itself (the topology's `cert`/`key` paths) use the same files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The CA and the files written for it.
pub struct LabCa {
    pub ca_path: PathBuf,
    /// Certificate name → (cert path, key path).
    pub files: BTreeMap<String, (String, String)>,
    /// The backends' certificate and key (DER), for their TLS ports.
    pub backend_chain: Vec<CertificateDer<'static>>,
    pub backend_key: Vec<u8>,
    pub ca_der: CertificateDer<'static>,
}

fn err(e: impl std::fmt::Display) -> String {
    format!("lab CA: {e}")
}

/// Generates the CA and one leaf per `(name, dns names)`, plus the
/// backends' leaf for `backend_names`, and writes them under `dir`.
pub fn generate(dir: &Path, certs: &[(String, Vec<String>)], backend_names: &[String]) -> Result<LabCa, String> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "gatehouse lab CA");
    dn.push(DnType::OrganizationName, "gatehouse lab (not for production)");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(err)?;
    let ca = rcgen::CertifiedIssuer::self_signed(params, ca_key).map_err(err)?;
    let ca_path = dir.join("lab-ca.pem");
    write(&ca_path, &ca.pem())?;

    let leaf = |names: &[String]| -> Result<(rcgen::Certificate, KeyPair), String> {
        let mut p = CertificateParams::new(names.to_vec()).map_err(err)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names.first().cloned().unwrap_or_default());
        p.distinguished_name = dn;
        let key = KeyPair::generate().map_err(err)?;
        let cert = p.signed_by(&key, &ca).map_err(err)?;
        Ok((cert, key))
    };
    let mut files = BTreeMap::new();
    for (name, names) in certs {
        let (cert, key) = leaf(names)?;
        let cert_path = dir.join(format!("{name}.pem"));
        let key_path = dir.join(format!("{name}.key"));
        // The chain: leaf then CA, as a server sends it.
        write(&cert_path, &format!("{}{}", cert.pem(), ca.pem()))?;
        write(&key_path, &key.serialize_pem())?;
        files.insert(
            name.clone(),
            (cert_path.display().to_string(), key_path.display().to_string()),
        );
    }
    let (cert, key) = leaf(backend_names)?;
    Ok(LabCa {
        ca_path,
        files,
        backend_chain: vec![cert.der().clone(), ca.der().clone()],
        backend_key: key.serialize_der(),
        ca_der: ca.der().clone(),
    })
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A TLS server config for the backends (TLS 1.2 and 1.3, ring).
pub fn server_config(ca: &LabCa, alpn: &[&[u8]]) -> Result<Arc<rustls::ServerConfig>, String> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ca.backend_key.clone()));
    let mut c = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(err)?
        .with_no_client_auth()
        .with_single_cert(ca.backend_chain.clone(), key)
        .map_err(err)?;
    c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(c))
}

/// A TLS client config trusting only the lab CA, for the drive's own clients.
pub fn client_config(ca: &LabCa) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.ca_der.clone()).map_err(err)?;
    let c = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(err)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(c))
}
