//! The proxy's settings, compiled from the topology: the `[http]` section
//! (client-side timeouts against slowloris, retries, backend connection
//! reuse, the affinity cookie key) and each pool's `tls` ("SSL bridging").
//! docs/topology.md documents the keys; the defaults are the model's.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use gatehouse_model::decode::defaults;
use gatehouse_model::topology::BackendVerify as ModelVerify;
use gatehouse_model::Plan;

use crate::error::ProxyError;

/// Settings for the whole proxy. `ProxyConfig::default()` is safe for
/// production: TLS-free backends only where asked, bounded client timeouts.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// Backend settings per pool name. Pools not listed use
    /// [`BackendConfig::default`] (plain HTTP/1.1).
    pub backends: HashMap<String, BackendConfig>,
    /// Time a client has to send a complete request head (HTTP/1.1), from
    /// the first byte of the head or, between keep-alive requests, from the end
    /// of the previous response. Default 30 s. Guards against slowloris.
    pub client_header_timeout: Duration,
    /// Longest gap allowed between two pieces of a request body. Default
    /// `None`: the route's idle timeout applies, because Outlook Anywhere's
    /// `RPC_IN_DATA` legitimately sits idle for minutes mid-body.
    pub client_body_timeout: Option<Duration>,
    /// Time allowed for the TLS handshake after the TCP connection is
    /// accepted. Default 10 s.
    pub handshake_timeout: Duration,
    /// How many further members are tried when a request may be retried (see
    /// the crate docs for when that is). Default 2; 0 disables retries.
    pub retries: u32,
    /// Idle backend connections kept per member for reuse. Default 1024.
    pub max_idle_per_member: usize,
    /// How long an idle pooled backend connection is kept. Default 60 s.
    pub backend_idle_keep: Duration,
    /// Key that signs affinity cookies. Default `None`: a random key made at
    /// start-up (cookies then do not survive a restart; set it when several
    /// gatehouse instances share a VIP).
    pub affinity_secret: Option<Vec<u8>>,
    /// HTTP/2 streams a client may open at once. Default 128.
    pub h2_max_concurrent_streams: u32,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            backends: HashMap::new(),
            client_header_timeout: defaults::HTTP_HEADER_TIMEOUT,
            client_body_timeout: None,
            handshake_timeout: defaults::HTTP_HANDSHAKE_TIMEOUT,
            retries: defaults::HTTP_RETRIES,
            max_idle_per_member: defaults::HTTP_IDLE_PER_MEMBER as usize,
            backend_idle_keep: defaults::HTTP_BACKEND_KEEPALIVE,
            affinity_secret: None,
            h2_max_concurrent_streams: defaults::HTTP_H2_MAX_STREAMS,
        }
    }
}

/// The shortest affinity key accepted: 256 bits.
const MIN_SECRET: usize = 32;

impl ProxyConfig {
    /// The settings a plan states. Reads the affinity key file (relative to
    /// `base_dir`), which must hold at least 32 bytes.
    pub fn from_plan(plan: &Plan, base_dir: &Path) -> Result<ProxyConfig, ProxyError> {
        let h = &plan.topology.http;
        let affinity_secret = match &h.affinity_secret_file {
            None => None,
            Some(file) => {
                let path = crate::tls::resolve(base_dir, &file.value);
                let bytes = std::fs::read(&path).map_err(|e| ProxyError::Settings {
                    message: format!("cannot read the affinity key {}: {e}", path.display()),
                })?;
                let key: Vec<u8> = bytes.trim_ascii().to_vec();
                if key.len() < MIN_SECRET {
                    return Err(ProxyError::Settings {
                        message: format!(
                            "the affinity key {} holds {} bytes; it needs at least {MIN_SECRET} (try `head -c 48 /dev/urandom | base64`)",
                            path.display(),
                            key.len()
                        ),
                    });
                }
                Some(key)
            }
        };
        let backends = plan
            .topology
            .pools
            .iter()
            .filter_map(|p| {
                let tls = p.tls.as_ref()?;
                let verify = match &tls.verify {
                    ModelVerify::CaBundle(f) => BackendVerify::CaBundle(f.value.clone()),
                    ModelVerify::Fingerprint(f) => BackendVerify::Fingerprint(f.value.clone()),
                    ModelVerify::SameAs(c) => BackendVerify::SameAsFront(c.value.clone()),
                };
                let server_name = tls.server_name.as_ref().map(|n| n.value.clone());
                Some((
                    p.name.value.clone(),
                    BackendConfig {
                        tls: Some(BackendTls { verify, server_name }),
                    },
                ))
            })
            .collect();
        Ok(ProxyConfig {
            backends,
            client_header_timeout: h.header_timeout.value,
            client_body_timeout: h.body_timeout.as_ref().map(|d| d.value),
            handshake_timeout: h.handshake_timeout.value,
            retries: h.retries,
            max_idle_per_member: h.idle_per_member as usize,
            backend_idle_keep: h.backend_keepalive.value,
            affinity_secret,
            h2_max_concurrent_streams: h.h2_max_streams,
        })
    }
}

impl ProxyConfig {
    /// The backend settings of a pool.
    pub fn backend(&self, pool: &str) -> &BackendConfig {
        static PLAIN: BackendConfig = BackendConfig { tls: None };
        self.backends.get(pool).unwrap_or(&PLAIN)
    }
}

/// How gatehouse talks to one pool's members.
#[derive(Clone, Debug, Default)]
pub struct BackendConfig {
    /// `None` (the default): plain HTTP/1.1. `Some`: re-encrypt ("SSL
    /// bridging"), verifying the member's certificate as described.
    pub tls: Option<BackendTls>,
}

/// Re-encryption to a pool's members.
#[derive(Clone, Debug)]
pub struct BackendTls {
    /// How the member's certificate is verified. There is deliberately no
    /// "do not verify" choice.
    pub verify: BackendVerify,
    /// The server name sent in SNI and checked against the certificate (for
    /// [`BackendVerify::CaBundle`]). Default `None`: the request's Host (after
    /// `host_rewrite`), which is what IIS uses to pick its binding.
    pub server_name: Option<String>,
}

/// Ways to trust a backend certificate.
#[derive(Clone, Debug)]
pub enum BackendVerify {
    /// A PEM file of CA certificates, relative to the topology's directory.
    /// The certificate must chain to one of them and name the server.
    CaBundle(String),
    /// The SHA-256 fingerprint of the member's certificate (hex, colons
    /// allowed). Names are not checked: the pin is the identity.
    Fingerprint(String),
    /// The member must present the same certificate as this front-end
    /// certificate (a `[certificates.NAME]`). Exchange Extended Protection
    /// needs the front end and the back end to share one certificate.
    SameAsFront(String),
}
