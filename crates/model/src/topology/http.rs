//! The reverse proxy's settings as written: `[http]` and each pool's backend TLS.

use std::time::Duration;

use super::Spanned;
use crate::diag::Span;

/// How the reverse proxy trusts a pool's members when it re-encrypts.
#[derive(Clone, Debug)]
pub struct BackendTls {
    pub verify: BackendVerify,
    /// The name sent in SNI and checked against the member's certificate;
    /// `None` uses the request's Host (after `host_rewrite`).
    pub server_name: Option<Spanned<String>>,
    pub span: Span,
}

/// Ways to trust a member's certificate. There is deliberately no way not to.
#[derive(Clone, Debug)]
pub enum BackendVerify {
    /// A PEM file of CA certificates (relative to the topology file).
    CaBundle(Spanned<String>),
    /// The SHA-256 fingerprint of the member's certificate.
    Fingerprint(Spanned<String>),
    /// The member presents this front-end certificate (Exchange Extended
    /// Protection needs the front and back ends to share one).
    SameAs(Spanned<String>),
}

/// `[http]`: the reverse proxy's own limits, for every web listener.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Time a client has to send a request head (slowloris guard).
    pub header_timeout: Spanned<Duration>,
    /// Longest silence inside a request body; `None` uses the route's idle
    /// timeout (Outlook Anywhere's RPC_IN_DATA sits idle mid-body).
    pub body_timeout: Option<Spanned<Duration>>,
    /// Time allowed for the TLS handshake.
    pub handshake_timeout: Spanned<Duration>,
    /// HTTP/2 streams a client may have open at once.
    pub h2_max_streams: u32,
    /// Further members tried when a request may be retried (connect failed,
    /// or an idempotent request sent nothing yet); 0 turns retries off.
    pub retries: u32,
    /// Idle backend connections kept per member for reuse.
    pub idle_per_member: u32,
    /// How long an idle backend connection is kept.
    pub backend_keepalive: Spanned<Duration>,
    /// A file holding the key that signs affinity cookies (at least 32
    /// bytes); without it each start makes a random key.
    pub affinity_secret_file: Option<Spanned<String>>,
}

impl HttpSettings {
    /// The documented defaults, pointing at `span` for diagnostics.
    pub fn defaults(span: Span) -> HttpSettings {
        use crate::decode::defaults::*;
        HttpSettings {
            header_timeout: Spanned::new(HTTP_HEADER_TIMEOUT, span.clone()),
            body_timeout: None,
            handshake_timeout: Spanned::new(HTTP_HANDSHAKE_TIMEOUT, span.clone()),
            h2_max_streams: HTTP_H2_MAX_STREAMS,
            retries: HTTP_RETRIES,
            idle_per_member: HTTP_IDLE_PER_MEMBER,
            backend_keepalive: Spanned::new(HTTP_BACKEND_KEEPALIVE, span),
            affinity_secret_file: None,
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings::defaults(0..0)
    }
}

/// `Strict-Transport-Security` (RFC 6797): browsers that saw it use HTTPS
/// alone for the host until `max_age` passes, so a later downgrade to plain
/// HTTP (a rogue Wi-Fi stripping the redirect) finds nothing to strip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hsts {
    pub max_age: Duration,
    pub include_subdomains: bool,
    pub preload: bool,
}

impl Hsts {
    /// One year: what browsers' preload lists ask for, and long enough that
    /// a user who signs in monthly is never without it.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(31_536_000);

    /// What an https listener sends when the topology says nothing.
    pub fn default_policy() -> Hsts {
        Hsts {
            max_age: Hsts::DEFAULT_MAX_AGE,
            // Off by default: a sub-domain may serve plain HTTP that this
            // gateway does not know of.
            include_subdomains: false,
            preload: false,
        }
    }

    /// The header's value, e.g. `max-age=31536000; includeSubDomains`.
    pub fn header_value(&self) -> String {
        let mut v = format!("max-age={}", self.max_age.as_secs());
        if self.include_subdomains {
            v.push_str("; includeSubDomains");
        }
        if self.preload {
            v.push_str("; preload");
        }
        v
    }
}

/// An `hsts` key as written: `false` turns it off, `true` or a table turns
/// it on. Absent, the listener's default applies.
pub type HstsSetting = Spanned<Option<Hsts>>;
