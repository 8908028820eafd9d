//! How the network analysis reads the topology's rules for a whole zone:
//! the gateway ACL's decision, a route's authentication, whether addresses
//! are public, which zones are outside, and how pools group into servers.

use gatehouse_policy::is_public;
use std::collections::BTreeSet;

use gatehouse_model::topology::{AclProtocol, Action, AuthPolicy, Product, Route, Source, Tier, Transport, Zone};
use gatehouse_model::{Admission, Plan};

use super::{FlowAuth, Gate, RemoteAccess, ServerGroup};

pub(super) fn route_auth(t: &gatehouse_model::Topology, route: &Route, zone: &str) -> FlowAuth {
    let policy = route
        .auth
        .iter()
        .find(|(z, _)| z.value == zone)
        .map_or(&route.auth_default.value, |(_, p)| &p.value);
    match policy {
        AuthPolicy::Anonymous => FlowAuth::Anonymous,
        AuthPolicy::PassThrough => FlowAuth::PassThrough,
        AuthPolicy::Deny => FlowAuth::Refused,
        AuthPolicy::Provider(name) => {
            // Whether gatehouse signs the user in is the admit phase's answer,
            // so the words change by themselves when a method is enforced.
            let enforced = !matches!(t.admission(policy), Admission::SignInUnavailable { .. });
            t.auth_providers
                .iter()
                .find(|p| &p.name.value == name)
                .map_or(FlowAuth::Refused, |p| FlowAuth::PreAuth {
                    provider: name.clone(),
                    method: p.method.value,
                    enforced,
                })
        }
    }
}

/// The gateway ACL's decision for a whole zone: the first rule that names
/// the zone (or any source) and matches the protocol and port. Rules that
/// name only prefixes cover part of a zone at most, so they are skipped.
pub(crate) fn gate(t: &gatehouse_model::Topology, zone: &str, transport: Transport, port: u16) -> Gate {
    for (i, rule) in t.acl.iter().enumerate() {
        let from_zone = rule.from.is_empty() || rule.from.iter().any(|s| s.value == Source::Zone(zone.to_string()));
        let proto = match rule.protocol {
            AclProtocol::Any => true,
            AclProtocol::Tcp => transport == Transport::Tcp,
            AclProtocol::Udp => transport == Transport::Udp,
        };
        let ports = rule.ports.is_empty() || rule.ports.iter().any(|p| p.value.contains(port));
        if from_zone && proto && ports {
            let name = rule.name.clone().unwrap_or_else(|| format!("rule-{}", i + 1));
            return match rule.action {
                Action::Allow => Gate::Allowed(name),
                Action::Deny => Gate::Denied(Some(name)),
            };
        }
    }
    Gate::Denied(None)
}

/// Whether a zone's clients are outside the intranet: the default zone, and
/// any zone with public prefixes that no inside (private-address) listener admits.
pub(super) fn zone_outside(t: &gatehouse_model::Topology, zone: &Zone) -> bool {
    let name = zone.name.value.as_str();
    let behind_private_listener = t
        .listeners
        .iter()
        .any(|l| !is_public(l.address.value) && l.zones.iter().any(|z| z.value == name));
    let all_private = !zone.prefixes.is_empty() && zone.prefixes.iter().all(|p| !is_public(p.value.addr()));
    t.default_zone.value == name || !(behind_private_listener || all_private)
}

/// Names the remote-access device from the zone's own name or description.
pub(super) fn remote_access_kind(zone: &Zone) -> RemoteAccess {
    let words = format!("{} {}", zone.name.value, zone.description.as_deref().unwrap_or("")).to_ascii_lowercase();
    if words.contains("directaccess") || words.contains("direct access") {
        RemoteAccess::DirectAccess
    } else if words.contains("vpn") {
        RemoteAccess::Vpn
    } else {
        RemoteAccess::Other
    }
}

/// Groups pools by product, tier and the set of hosts they run on.
pub(super) fn server_groups(plan: &Plan) -> Vec<ServerGroup<'_>> {
    let t = &plan.topology;
    let mut groups: Vec<ServerGroup> = Vec::new();
    for pool in &t.pools {
        let product = t
            .services
            .iter()
            .find(|s| s.name.value == pool.service.value)
            .map_or(Product::Generic, |s| s.product.value);
        let mut hosts: Vec<String> = pool.members.iter().map(|m| m.host.value.clone()).collect();
        hosts.dedup();
        let set: BTreeSet<&String> = hosts.iter().collect();
        match groups
            .iter_mut()
            .find(|g| g.product == product && g.tier == pool.tier && g.hosts.iter().collect::<BTreeSet<_>>() == set)
        {
            Some(g) => g.pools.push(pool),
            None => groups.push(ServerGroup {
                id: String::new(),
                product,
                tier: pool.tier,
                pools: vec![pool],
                hosts,
            }),
        }
    }
    groups.sort_by_key(|g| (g.product, tier_rank(g.tier)));
    for i in 0..groups.len() {
        let base = format!("{}-{}", groups[i].product.keyword(), groups[i].tier.keyword());
        let same = groups[..i].iter().filter(|g| g.id.starts_with(&base)).count();
        groups[i].id = if same == 0 {
            base
        } else {
            format!("{base}-{}", same + 1)
        };
    }
    groups
}

pub(crate) fn tier_rank(tier: Tier) -> u8 {
    match tier {
        Tier::Edge => 0,
        Tier::FrontEnd => 1,
        Tier::Application => 2,
        Tier::Database => 3,
    }
}
