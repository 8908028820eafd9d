//! Member health as the DNS server sees it.
//!
//! The server only asks [`MemberHealth::is_up`] while it builds answers, and
//! rebuilds when told that health changed ([`crate::DnsServer::refresh_health`]).
//! The runtime's health registry, with its checks, implements the trait in
//! production; there is no health checker of the DNS server's own.

/// Whether a pool member may be handed out. `member` indexes the pool's
/// `members` as written in the topology.
pub trait MemberHealth: Send + Sync {
    fn is_up(&self, pool: &str, member: usize) -> bool;
}

/// Every member is up: for servers without health checks.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllUp;

impl MemberHealth for AllUp {
    fn is_up(&self, _pool: &str, _member: usize) -> bool {
        true
    }
}
