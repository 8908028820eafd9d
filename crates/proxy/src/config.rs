//! Proxy settings the topology model does not have keys for yet: backend TLS
//! ("SSL bridging"), retries, client-side timeouts against slowloris, and the
//! affinity cookie secret.
//!
//! Every field documents its default and unit, in the manner of HAProxy's
//! manual. The lead is asked to add matching topology keys (see the crate
//! report); until then callers build a [`ProxyConfig`] in code.

use std::collections::HashMap;
use std::time::Duration;

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
    /// Idle backend connections kept per member for reuse. Default 64.
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
            client_header_timeout: Duration::from_secs(30),
            client_body_timeout: None,
            handshake_timeout: Duration::from_secs(10),
            retries: 2,
            max_idle_per_member: 64,
            backend_idle_keep: Duration::from_secs(60),
            affinity_secret: None,
            h2_max_concurrent_streams: 128,
        }
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
