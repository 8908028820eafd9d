//! The *accept* phase: may this client use this listener at all?
//!
//! Three checks, in order, for every TCP connection (before a byte is read)
//! and every new UDP flow:
//! 1. the client's zone, by longest prefix ([`Plan::classify`]);
//! 2. the gateway ACL for the destination port and transport
//!    ([`Plan::gateway`]), first match wins, deny by default;
//! 3. the listener's own `zones` ([`Plan::listener_admits`]).
//!
//! The client is the TCP peer, except on a listener with
//! `client_address = "proxy-protocol"` when the peer is one of its
//! `trusted_proxies` ([`Plan::trusts`]): that peer is a load balancer, and
//! the client is the address its PROXY header names, read before the
//! checks ([`crate::l4::proxy_protocol::read_header`]). A peer that is not
//! trusted is a client itself; nothing it sends is taken as a header.
//!
//! Every ACL decision is counted per rule ([`AclCounters`]); denials and
//! refused PROXY headers are logged through [`LogLimiter`]s so a flood of
//! bad clients cannot flood the log, with a count of the lines left out.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_model::topology::{Listener, Transport};
use gatehouse_model::{Accept, Plan};
use gatehouse_policy::{AclCounters, LogLimiter};

/// At most this many denial lines per window.
const DENIALS_LOGGED: u32 = 20;
const DENIAL_WINDOW: Duration = Duration::from_secs(1);

/// The accept phase of one plan for the L4 VIPs: the decision is the plan's
/// own ([`Plan::accept`], the one the reverse proxy and the DNS server make
/// too, counted in the plan's one set of ACL counters); this adds the
/// rate-limited denial log. A reload starts a new `Gate`, as it starts a
/// new plan.
#[derive(Debug)]
pub struct Gate {
    plan: Arc<Plan>,
    limiter: LogLimiter,
    /// Refused PROXY headers have their own budget, so that a broken
    /// balancer does not hide the denials (or the other way round).
    header_limiter: LogLimiter,
}

/// The outcome of [`Gate::admit`]: the plan's accept decision.
pub type Admission = Accept;

impl Gate {
    pub fn new(plan: &Arc<Plan>) -> Gate {
        Gate {
            plan: plan.clone(),
            limiter: LogLimiter::new(DENIALS_LOGGED, DENIAL_WINDOW),
            header_limiter: LogLimiter::new(DENIALS_LOGGED, DENIAL_WINDOW),
        }
    }

    /// Logs (rate-limited) a trusted peer whose PROXY header was missing,
    /// broken or late; the caller closes the connection.
    pub fn header_refused(&self, listener: &Listener, peer: SocketAddr, why: &dyn fmt::Display) {
        if self.header_limiter.allow(Instant::now()) {
            tracing::warn!(
                listener = %listener.name.value,
                %peer,
                reason = %why,
                suppressed = self.header_limiter.take_suppressed(),
                "trusted proxy sent no usable PROXY header; closed"
            );
        }
    }

    /// Decides whether `client` may reach `listener` on `port` (counted in
    /// the plan's ACL counters), and logs a denial (rate-limited).
    pub fn admit(&self, listener: &Listener, client: IpAddr, transport: Transport, port: u16) -> Admission {
        let plan = &self.plan;
        let accept = plan.accept(client, transport, port, Some(listener));
        if !accept.is_allowed() && self.limiter.allow(Instant::now()) {
            let suppressed = self.limiter.take_suppressed();
            tracing::warn!(
                listener = %listener.name.value,
                %client,
                zone = plan.zone_name(accept.zone),
                transport = transport.keyword(),
                port,
                reason = %plan.refusal(accept.verdict),
                suppressed,
                "denied"
            );
        }
        accept
    }

    /// Hits per ACL rule of the plan, counted by every part that serves
    /// it; the last entry is the implicit deny.
    pub fn counters(&self) -> &AclCounters {
        &self.plan.acl_hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_model::AcceptVerdict;

    #[test]
    fn contoso_smtp_vip_admits_only_the_hygiene_service_and_counts_each_decision() {
        let plan = Arc::new(gatehouse_model::check(gatehouse_model::CONTOSO).plan.expect("valid"));
        let smtp = plan.listener("smtp-public").unwrap();
        let gate = Gate::new(&plan);
        let eop = gate.admit(smtp, "40.107.3.4".parse().unwrap(), Transport::Tcp, 25);
        assert!(eop.is_allowed());
        let internet = gate.admit(smtp, "192.0.2.9".parse().unwrap(), Transport::Tcp, 25);
        assert_eq!(internet.verdict, AcceptVerdict::AclDenied(None));
        // The web rule lets partners reach 443, but the Edge's webconf VIP
        // on 443 admits them while the SMTP VIP would not.
        let webconf = plan.listener("edge-webconf").unwrap();
        let partner = gate.admit(webconf, "198.51.100.20".parse().unwrap(), Transport::Tcp, 443);
        assert!(partner.is_allowed());
        let intranet_to_edge = gate.admit(webconf, "10.1.2.3".parse().unwrap(), Transport::Tcp, 443);
        assert_eq!(intranet_to_edge.verdict, AcceptVerdict::ZoneNotAdmitted);
        let hits = gate.counters().snapshot();
        assert_eq!(hits[0], 1, "smtp-from-eop");
        assert_eq!(hits[1], 2, "web");
        assert_eq!(*hits.last().unwrap(), 1, "implicit deny");
    }
}
