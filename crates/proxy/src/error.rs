//! Why things fail: the proxy's own start and reload errors, and the
//! boxed errors bodies and exchanges pass on. A leaf: it uses no module of
//! the crate.

use std::net::SocketAddr;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A timeout error that names what ran out.
#[derive(Debug)]
pub(crate) struct TimedOut(pub &'static str);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} timed out", self.0)
    }
}

impl std::error::Error for TimedOut {}

/// Why the proxy could not start or reload. The message says what to fix.
#[derive(Debug)]
pub enum ProxyError {
    Certificate {
        certificate: String,
        message: String,
    },
    Listener {
        listener: String,
        message: String,
    },
    Backend {
        pool: String,
        message: String,
    },
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    /// An `[http]` setting that cannot be used (an unreadable key file).
    Settings {
        message: String,
    },
}

impl ProxyError {
    pub(crate) fn certificate(name: &str, message: impl Into<String>) -> Self {
        ProxyError::Certificate {
            certificate: name.to_string(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyError::Certificate { certificate, message } => write!(f, "certificate \"{certificate}\": {message}"),
            ProxyError::Listener { listener, message } => write!(f, "listener \"{listener}\": {message}"),
            ProxyError::Backend { pool, message } => write!(f, "backend TLS of pool \"{pool}\": {message}"),
            ProxyError::Settings { message } => write!(f, "[http]: {message}"),
            ProxyError::Bind { address, source } => write!(
                f,
                "cannot listen on {address}: {source} (is another program using the port, or is the address not on this host?)"
            ),
        }
    }
}

impl std::error::Error for ProxyError {}
