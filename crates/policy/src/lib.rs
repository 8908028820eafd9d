//! Policy decisions for gatehouse: which zone a client is in, and whether a
//! listener's ACL lets its traffic through.
//!
//! This crate is pure: no I/O, no async runtime, no logging. The plan
//! compiler builds a [`ZoneTable`] and one [`Acl`] per listener; the runtime
//! calls [`ZoneTable::lookup`] and [`Acl::decide`] in the *accept* phase of
//! every connection, which is why both are compiled up front and never
//! allocate when consulted.
//!
//! - [`zones`]: longest-prefix-match from source address to [`ZoneId`].
//! - [`acl`]: first-match-wins rules with an implicit deny, per-rule
//!   counters, and a rate limiter for denial logs.
//! - [`proxy_header`]: the PROXY protocol (v1 and v2) header parser that
//!   the L4 runtime and the HTTP proxy use for trusted load balancers.

pub mod acl;
mod addr;
pub mod proxy_header;
pub mod zones;

pub use acl::{Acl, AclCounters, Action, Decision, LogLimiter, Match, PortRange, Proto, Rule};
pub use addr::is_public;
pub use zones::{ZoneId, ZoneTable};
