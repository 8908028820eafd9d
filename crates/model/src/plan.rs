//! The compiled plan: what the runtime needs, resolved once from a valid
//! topology. Nothing on a hot path consults the raw topology.

use std::net::IpAddr;

use gatehouse_policy::{acl, Acl, AclCounters, Decision, ZoneId, ZoneTable};

use crate::dns_views::DnsViews;
use crate::routing::RouteTable;
use crate::topology::{AclProtocol, Action, Listener, Pool, Route, Source, Topology, Transport};
use crate::validate::{published_names, Published};
use crate::web::Web;

/// A valid topology compiled for the runtime. Immutable; shared behind an
/// `Arc` and swapped whole on reload.
#[derive(Debug)]
pub struct Plan {
    pub topology: Topology,
    /// Longest-prefix table from client address to zone.
    pub zones: ZoneTable,
    /// Zone names, indexed by [`ZoneId`].
    pub zone_names: Vec<String>,
    /// The gateway's ordered ACL with the implicit deny at the end.
    pub acl: Acl,
    /// Every published name with the listener, ports and zones that serve it.
    pub published: Vec<Published>,
    /// Hits per ACL rule (the implicit deny last), one set for every part
    /// serving this plan: [`Plan::accept`] counts into it, whichever part
    /// asks. A reload's plan starts at zero.
    pub acl_hits: AclCounters,
    /// The http(s) listeners' route tables, the routes' rules with their
    /// zones and pools resolved, and where plain HTTP redirects.
    pub web: Web,
    /// Which view answers each zone, and what each view publishes.
    pub dns: DnsViews,
}

/// The accept decision for one client of one listener: see [`Plan::accept`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accept {
    pub zone: ZoneId,
    /// The gateway ACL's decision, with the rule that matched.
    pub decision: Decision,
    pub verdict: AcceptVerdict,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptVerdict {
    Allowed,
    /// The gateway ACL denied it: rule index, or `None` for the implicit deny.
    AclDenied(Option<usize>),
    /// The ACL allowed it but the listener does not admit the client's zone.
    ZoneNotAdmitted,
}

impl Accept {
    pub fn is_allowed(&self) -> bool {
        self.verdict == AcceptVerdict::Allowed
    }
}

impl Plan {
    /// Compiles a topology that validated without errors.
    ///
    /// # Panics
    /// On a topology with dangling zone references, which validation rejects.
    pub fn compile(topology: Topology) -> Plan {
        let zone_names: Vec<String> = topology.zones.iter().map(|z| z.name.value.clone()).collect();
        let id = |name: &str| {
            ZoneId(
                zone_names
                    .iter()
                    .position(|z| z == name)
                    .expect("validated zone reference") as u16,
            )
        };
        let default = id(&topology.default_zone.value);
        let zones = ZoneTable::new(
            default,
            topology
                .zones
                .iter()
                .flat_map(|z| z.prefixes.iter().map(move |p| (p.value, z)))
                .map(|(p, z)| (p, id(&z.name.value))),
        );
        let rules = topology
            .acl
            .iter()
            .enumerate()
            .map(|(i, r)| acl::Rule {
                name: r.name.clone().unwrap_or_else(|| format!("rule-{}", i + 1)),
                action: match r.action {
                    Action::Allow => acl::Action::Allow,
                    Action::Deny => acl::Action::Deny,
                },
                matcher: acl::Match {
                    zones: r
                        .from
                        .iter()
                        .filter_map(|s| match &s.value {
                            Source::Zone(z) => Some(id(z)),
                            Source::Prefix(_) => None,
                        })
                        .collect(),
                    prefixes: r
                        .from
                        .iter()
                        .filter_map(|s| match &s.value {
                            Source::Prefix(p) => Some(*p),
                            Source::Zone(_) => None,
                        })
                        .collect(),
                    proto: match r.protocol {
                        AclProtocol::Any => None,
                        AclProtocol::Tcp => Some(acl::Proto::Tcp),
                        AclProtocol::Udp => Some(acl::Proto::Udp),
                    },
                    ports: r
                        .ports
                        .iter()
                        .map(|p| acl::PortRange::new(p.value.first, p.value.last))
                        .collect(),
                },
            })
            .collect();
        let published = published_names(&topology);
        let acl = Acl::new(rules);
        let zone_id = |name: &str| zone_names.iter().position(|z| z == name).map(|i| ZoneId(i as u16));
        let web = Web::compile(&topology, zone_id);
        let dns = DnsViews::compile(&topology, &published, zone_id);
        Plan {
            web,
            dns,
            zones,
            zone_names,
            acl_hits: acl.counters(),
            acl,
            published,
            topology,
        }
    }

    /// The zone of a client address.
    pub fn classify(&self, addr: IpAddr) -> ZoneId {
        self.zones.lookup(addr)
    }

    pub fn zone_id(&self, name: &str) -> Option<ZoneId> {
        self.zone_names.iter().position(|z| z == name).map(|i| ZoneId(i as u16))
    }

    pub fn zone_name(&self, id: ZoneId) -> &str {
        &self.zone_names[id.0 as usize]
    }

    /// The gateway ACL's decision for a packet or connection.
    pub fn gateway(&self, zone: ZoneId, src: IpAddr, transport: Transport, port: u16) -> Decision {
        let proto = match transport {
            Transport::Tcp => acl::Proto::Tcp,
            Transport::Udp => acl::Proto::Udp,
        };
        self.acl.decide(zone, src, proto, port)
    }

    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.topology.pools.iter().find(|p| p.name.value == name)
    }

    pub fn listener(&self, name: &str) -> Option<&Listener> {
        self.topology.listeners.iter().find(|l| l.name.value == name)
    }

    /// The index of a listener in the topology.
    pub fn listener_index(&self, name: &str) -> Option<usize> {
        self.topology.listeners.iter().position(|l| l.name.value == name)
    }

    /// The route table of an http(s) listener.
    pub fn route_table(&self, listener: &str) -> Option<&RouteTable> {
        self.web.listeners[self.listener_index(listener)?]
            .as_ref()
            .map(|w| &w.table)
    }

    /// The routes on a listener, in topology order.
    pub fn routes_on<'a>(&'a self, listener: &'a str) -> impl Iterator<Item = &'a Route> + 'a {
        self.topology
            .routes
            .iter()
            .filter(move |r| r.listeners.iter().any(|l| l.value == listener))
    }

    /// Whether a listener takes `peer`'s word about the client's address
    /// (the peer is one of its `trusted_proxies`). IPv4-mapped IPv6 peers
    /// count as their IPv4 address.
    pub fn trusts(&self, listener: &Listener, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        listener.trusted_proxies.iter().any(|p| p.value.contains(&peer))
    }

    /// The accept phase's decision, the same for the L4 VIPs, the reverse
    /// proxy and the DNS server: the client's zone by longest prefix, the
    /// gateway ACL for `transport` and `port`, then the listener's own
    /// `zones` (DNS queries reach no listener: `None`). The ACL decision is
    /// counted in [`Plan::acl_hits`].
    pub fn accept(&self, client: IpAddr, transport: Transport, port: u16, listener: Option<&Listener>) -> Accept {
        let accept = self.decide_accept(client, transport, port, listener);
        self.acl_hits.count(&accept.decision);
        accept
    }

    /// [`Plan::accept`] without counting: what `explain` shows.
    pub fn decide_accept(
        &self,
        client: IpAddr,
        transport: Transport,
        port: u16,
        listener: Option<&Listener>,
    ) -> Accept {
        let zone = self.classify(client);
        let decision = self.gateway(zone, client, transport, port);
        let verdict = if !decision.is_allowed() {
            AcceptVerdict::AclDenied(decision.rule)
        } else if listener.is_some_and(|l| !self.listener_admits(l, zone)) {
            AcceptVerdict::ZoneNotAdmitted
        } else {
            AcceptVerdict::Allowed
        };
        Accept {
            zone,
            decision,
            verdict,
        }
    }

    /// Why an accept decision refused, for logs.
    pub fn refusal(&self, verdict: AcceptVerdict) -> String {
        match verdict {
            AcceptVerdict::Allowed => "allowed".to_string(),
            AcceptVerdict::AclDenied(Some(rule)) => format!("ACL rule \"{}\" denies", self.acl.rules()[rule].name),
            AcceptVerdict::AclDenied(None) => "no ACL rule allows it".to_string(),
            AcceptVerdict::ZoneNotAdmitted => "the listener does not admit this zone".to_string(),
        }
    }

    /// Whether a listener admits a zone (the listener's own restriction,
    /// applied on top of the gateway ACL).
    pub fn listener_admits(&self, listener: &Listener, zone: ZoneId) -> bool {
        let name = self.zone_name(zone);
        listener.zones.iter().any(|z| z.value == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contoso() -> Plan {
        crate::check(crate::CONTOSO)
            .plan
            .expect("the built-in topology is valid")
    }

    #[test]
    fn contoso_classifies_clients_by_longest_prefix() {
        let plan = contoso();
        let zone = |a: &str| plan.zone_name(plan.classify(a.parse().unwrap())).to_string();
        assert_eq!(zone("10.1.2.3"), "intranet");
        // The VPN pool sits inside 10/8; the longer prefix wins.
        assert_eq!(zone("10.200.7.7"), "vpn");
        assert_eq!(zone("40.92.1.1"), "eop");
        assert_eq!(zone("198.51.100.20"), "partners");
        assert_eq!(zone("2001:db8:da::5"), "directaccess");
        assert_eq!(zone("192.0.2.99"), "internet");
        assert_eq!(zone("::ffff:10.1.2.3"), "intranet");
    }

    #[test]
    fn contoso_gateway_allows_smtp_only_from_eop() {
        let plan = contoso();
        let smtp = |a: &str| {
            let addr: IpAddr = a.parse().unwrap();
            plan.gateway(plan.classify(addr), addr, Transport::Tcp, 25).is_allowed()
        };
        assert!(smtp("40.107.3.4"));
        assert!(!smtp("192.0.2.99"));
        assert!(!smtp("198.51.100.20"));
        assert!(!smtp("10.1.2.3"));
    }
}
