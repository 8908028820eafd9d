//! Certificate warnings for `gatehouse check`: certificates that expire within
//! 30 days (or already have), certificate files that cannot be read, and
//! published names that no certificate on their https listener covers.
//!
//! This reads the certificate files, so it lives here rather than in the
//! (I/O-free) model crate.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gatehouse_model::topology::Protocol;
use gatehouse_model::validate::name_covers;
use gatehouse_model::Plan;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::tls;

/// How close to expiry a certificate must be to be reported.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

/// One warning about the topology's certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateWarning {
    /// The `[certificates.NAME]` concerned, when there is one.
    pub certificate: Option<String>,
    /// The listener concerned, for names no certificate covers.
    pub listener: Option<String>,
    /// A sentence for the user, with the fix.
    pub message: String,
}

/// Checks every certificate file of `plan` (paths relative to `base_dir`)
/// and every published name on its https listeners.
pub fn certificate_warnings(plan: &Plan, base_dir: &Path) -> Vec<CertificateWarning> {
    certificate_warnings_at(plan, base_dir, SystemTime::now())
}

/// [`certificate_warnings`] as if the time were `now`.
pub fn certificate_warnings_at(plan: &Plan, base_dir: &Path, now: SystemTime) -> Vec<CertificateWarning> {
    let mut out = Vec::new();
    // The names each certificate covers: its SANs when it has files.
    let mut covers: HashMap<&str, Vec<String>> = HashMap::new();
    for c in &plan.topology.certificates {
        let name = c.name.value.as_str();
        let warn = |message: String| CertificateWarning {
            certificate: Some(name.to_string()),
            listener: None,
            message,
        };
        let Some(file) = &c.cert else {
            covers.insert(name, c.names.iter().map(|n| n.value.to_ascii_lowercase()).collect());
            continue;
        };
        let path = tls::resolve(base_dir, &file.value);
        let der = match CertificateDer::pem_file_iter(&path).map(|mut i| i.next()) {
            Ok(Some(Ok(der))) => der,
            Ok(_) => {
                out.push(warn(format!(
                    "certificate \"{name}\": {} holds no PEM certificate",
                    path.display()
                )));
                continue;
            }
            Err(e) => {
                out.push(warn(format!(
                    "certificate \"{name}\": cannot read {}: {e}",
                    path.display()
                )));
                continue;
            }
        };
        match x509_parser::parse_x509_certificate(&der) {
            Ok((_, cert)) => {
                let not_after = cert.validity().not_after.timestamp();
                let now_s = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
                let left = not_after - now_s;
                if left <= 0 {
                    out.push(warn(format!(
                        "certificate \"{name}\" ({}) expired on {}; renew it",
                        path.display(),
                        cert.validity().not_after
                    )));
                } else if left < EXPIRY_WARNING.as_secs() as i64 {
                    out.push(warn(format!(
                        "certificate \"{name}\" ({}) expires in {} days, on {}; renew it",
                        path.display(),
                        left / 86400,
                        cert.validity().not_after
                    )));
                }
            }
            Err(e) => out.push(warn(format!(
                "certificate \"{name}\": {} is not a valid certificate: {e}",
                path.display()
            ))),
        }
        let sans = tls::dns_names(&der).unwrap_or_default();
        for n in &c.names {
            if !sans.iter().any(|s| name_covers(s, &n.value)) {
                out.push(warn(format!(
                    "certificate \"{name}\" lists \"{}\" in `names`, but {} does not cover it",
                    n.value,
                    path.display()
                )));
            }
        }
        covers.insert(name, sans);
    }
    for l in plan
        .topology
        .listeners
        .iter()
        .filter(|l| l.protocol.value == Protocol::Https)
    {
        for route in plan.routes_on(&l.name.value) {
            for host in &route.hosts {
                let covered = l
                    .certificates
                    .iter()
                    .filter_map(|c| covers.get(c.value.as_str()))
                    .any(|names| names.iter().any(|n| name_covers(n, &host.value)));
                if !covered {
                    out.push(CertificateWarning {
                        certificate: None,
                        listener: Some(l.name.value.clone()),
                        message: format!(
                            "route \"{}\" serves {} on https listener \"{}\", but no certificate there covers it; \
                             clients will see a name mismatch",
                            route.name.value, host.value, l.name.value
                        ),
                    });
                }
            }
        }
    }
    out
}
