//! Split-horizon authoritative DNS for gatehouse.
//!
//! The topology's `[dns]` section becomes one view per `[dns.views.NAME]`;
//! a client gets the view of its zone (the same zones the gateway ACL and
//! the listeners use), so the DNS can never disagree with the listeners:
//! every published name resolves to the VIP that serves it for that client,
//! internal-only names do not exist outside, and DNS-balanced pools answer
//! with their healthy members.
//!
//! Answers are precomputed per view in wire form; a query costs a zone
//! lookup, an ACL decision, a hash probe and a copy with the ID and the
//! question patched in. See [`engine`] for the phases of a query and
//! [`server`] for the sockets.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use gatehouse_dns::{AllUp, DnsServer};
//! let plan = Arc::new(gatehouse_model::check(gatehouse_model::CONTOSO).plan.unwrap());
//! let server = DnsServer::start(plan, Arc::new(AllUp), &["127.0.0.1:5353".parse().unwrap()])?;
//! // ... later: server.reload(new_plan)?; server.refresh_health(); server.shutdown();
//! # Ok::<(), gatehouse_dns::DnsError>(())
//! ```

pub mod answer;
#[cfg(target_os = "linux")]
mod batch;
pub mod config;
pub mod engine;
pub mod health;
pub mod rrl;
pub mod server;
pub mod stats;
pub mod wire;
pub mod zone;

use std::fmt;
use std::net::SocketAddr;

pub use config::{DnsConfig, RrlConfig, SoaConfig};
pub use engine::{Engine, PreparedData, Verdict, Worker};
pub use health::{AllUp, MemberHealth};
pub use server::{DnsServer, PreparedServer};
pub use stats::{DnsStats, QueryCount};

/// Why the server could not start or reload.
#[derive(Debug)]
pub enum DnsError {
    /// The topology has no `[dns]` section.
    NoDns,
    /// The DNS data cannot be served as written.
    Config(String),
    /// A listen address could not be bound.
    Io(SocketAddr, std::io::Error),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::NoDns => write!(f, "the topology has no [dns] section, so there is nothing to serve"),
            DnsError::Config(m) => write!(f, "DNS data: {m}"),
            DnsError::Io(a, e) => write!(f, "cannot listen for DNS on {a}: {e}"),
        }
    }
}

impl std::error::Error for DnsError {}
