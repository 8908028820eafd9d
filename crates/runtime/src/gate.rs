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
use std::time::{Duration, Instant};

use gatehouse_model::topology::{Listener, Transport};
use gatehouse_model::Plan;
use gatehouse_policy::{AclCounters, LogLimiter, ZoneId};

/// At most this many denial lines per window.
const DENIALS_LOGGED: u32 = 20;
const DENIAL_WINDOW: Duration = Duration::from_secs(1);

/// The accept-phase state of one plan: its ACL counters and denial log
/// limiter. A reload starts a new `Gate`, as it starts a new ACL.
#[derive(Debug)]
pub struct Gate {
    counters: AclCounters,
    limiter: LogLimiter,
    /// Refused PROXY headers have their own budget, so that a broken
    /// balancer does not hide the denials (or the other way round).
    header_limiter: LogLimiter,
}

/// The outcome of [`Gate::admit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    pub zone: ZoneId,
    pub verdict: Verdict,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// The gateway ACL denied it: rule index, or `None` for the implicit deny.
    AclDenied(Option<usize>),
    /// The ACL allowed it but the listener does not admit the client's zone.
    ZoneNotAdmitted,
}

impl Admission {
    pub fn is_allowed(&self) -> bool {
        self.verdict == Verdict::Allowed
    }
}

impl Gate {
    pub fn new(plan: &Plan) -> Gate {
        Gate {
            counters: plan.acl.counters(),
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

    /// Decides whether `client` may reach `listener` on `port`, counts the
    /// ACL decision, and logs a denial (rate-limited).
    pub fn admit(
        &self,
        plan: &Plan,
        listener: &Listener,
        client: IpAddr,
        transport: Transport,
        port: u16,
    ) -> Admission {
        let zone = plan.classify(client);
        let decision = plan.gateway(zone, client, transport, port);
        self.counters.count(&decision);
        let verdict = if !decision.is_allowed() {
            Verdict::AclDenied(decision.rule)
        } else if !plan.listener_admits(listener, zone) {
            Verdict::ZoneNotAdmitted
        } else {
            Verdict::Allowed
        };
        if verdict != Verdict::Allowed && self.limiter.allow(Instant::now()) {
            let suppressed = self.limiter.take_suppressed();
            tracing::warn!(
                listener = %listener.name.value,
                %client,
                zone = plan.zone_name(zone),
                transport = transport.keyword(),
                port,
                reason = %Reason(plan, verdict),
                suppressed,
                "denied"
            );
        }
        Admission { zone, verdict }
    }

    /// Hits per ACL rule; the last entry is the implicit deny.
    pub fn counters(&self) -> &AclCounters {
        &self.counters
    }
}

struct Reason<'a>(&'a Plan, Verdict);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Verdict::Allowed => f.write_str("allowed"),
            Verdict::AclDenied(Some(rule)) => write!(f, "ACL rule \"{}\" denies", self.0.acl.rules()[rule].name),
            Verdict::AclDenied(None) => f.write_str("no ACL rule allows it"),
            Verdict::ZoneNotAdmitted => f.write_str("the listener does not admit this zone"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contoso_smtp_vip_admits_only_the_hygiene_service_and_counts_each_decision() {
        let plan = gatehouse_model::check(gatehouse_model::CONTOSO).plan.expect("valid");
        let smtp = plan.listener("smtp-public").unwrap();
        let gate = Gate::new(&plan);
        let eop = gate.admit(&plan, smtp, "40.107.3.4".parse().unwrap(), Transport::Tcp, 25);
        assert!(eop.is_allowed());
        let internet = gate.admit(&plan, smtp, "192.0.2.9".parse().unwrap(), Transport::Tcp, 25);
        assert_eq!(internet.verdict, Verdict::AclDenied(None));
        // The web rule lets partners reach 443, but the Edge's webconf VIP
        // on 443 admits them while the SMTP VIP would not.
        let webconf = plan.listener("edge-webconf").unwrap();
        let partner = gate.admit(&plan, webconf, "198.51.100.20".parse().unwrap(), Transport::Tcp, 443);
        assert!(partner.is_allowed());
        let intranet_to_edge = gate.admit(&plan, webconf, "10.1.2.3".parse().unwrap(), Transport::Tcp, 443);
        assert_eq!(intranet_to_edge.verdict, Verdict::ZoneNotAdmitted);
        let hits = gate.counters().snapshot();
        assert_eq!(hits[0], 1, "smtp-from-eop");
        assert_eq!(hits[1], 2, "web");
        assert_eq!(*hits.last().unwrap(), 1, "implicit deny");
    }
}
