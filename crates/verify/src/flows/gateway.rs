//! The gateway ACL's answer for a whole zone and a whole port range, where
//! the runtime asks about one address and one port.
//!
//! The range is cut where rules' port ranges start and end, so that every
//! piece is decided the same way for every port in it. For each piece the
//! rules are walked in order: a rule naming the zone (or any source, or a
//! prefix covering all the zone's prefixes) decides for the whole zone; a
//! rule on a prefix that covers only part of the zone decides for those
//! addresses only, and the walk goes on for the rest. The answer is
//! [`Access::Open`] when every address and port is allowed,
//! [`Access::Blocked`] when none is, and [`Access::Partial`] otherwise.

use gatehouse_model::topology::{PortRange, Transport};
use gatehouse_model::Plan;
use gatehouse_policy::{acl, ZoneId};
use ipnet::IpNet;

use super::report::Access;

/// The gateway's decision for a zone, a transport and a port range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayVerdict {
    pub access: Access,
    /// A sentence naming the deciding rules.
    pub detail: String,
    /// The rule that allows the most of the traffic, if any rule allows it.
    pub allowed_by: Option<usize>,
    /// The rule that decides when one rule decides everything (allow or deny).
    pub decided_by: Option<usize>,
}

/// How a rule's source relates to the addresses of a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SourceMatch {
    All,
    Some,
    None,
}

/// One piece of the port range and how it is decided.
struct Piece {
    ports: PortRange,
    /// (rule, action) of a rule that decides it for the whole zone; `None` is the implicit deny.
    full: Option<(usize, acl::Action)>,
    /// Rules that decide it for part of the zone first.
    partial: Vec<(usize, acl::Action, Vec<IpNet>)>,
}

impl Piece {
    fn access(&self) -> Access {
        let full_allows = matches!(self.full, Some((_, acl::Action::Allow)));
        let differs = self
            .partial
            .iter()
            .any(|(_, action, _)| (*action == acl::Action::Allow) != full_allows);
        match (full_allows, differs) {
            (_, true) => Access::Partial,
            (true, false) => Access::Open,
            (false, false) => Access::Blocked,
        }
    }
}

/// Decides traffic from every address of `zone` to every port of `ports`.
pub fn decide(plan: &Plan, zone: ZoneId, transport: Transport, ports: PortRange) -> GatewayVerdict {
    let rules = plan.acl.rules();
    let proto = match transport {
        Transport::Tcp => acl::Proto::Tcp,
        Transport::Udp => acl::Proto::Udp,
    };
    let pieces: Vec<Piece> = cut(rules, ports)
        .into_iter()
        .map(|range| {
            let mut piece = Piece {
                ports: range,
                full: None,
                partial: Vec::new(),
            };
            for (i, rule) in rules.iter().enumerate() {
                let m = &rule.matcher;
                let proto_ok = m.proto.is_none_or(|p| p == proto);
                let port_ok = m.ports.is_empty() || m.ports.iter().any(|r| r.contains(range.first));
                if !proto_ok || !port_ok {
                    continue;
                }
                match source_match(plan, m, zone) {
                    (SourceMatch::All, _) => {
                        piece.full = Some((i, rule.action));
                        break;
                    }
                    (SourceMatch::Some, nets) => piece.partial.push((i, rule.action, nets)),
                    (SourceMatch::None, _) => {}
                }
            }
            piece
        })
        .collect();
    verdict(plan, zone, transport, &merge(pieces))
}

/// Joins neighbouring pieces decided the same way, so that a wide range
/// (a DNS-balanced pool's members take any port) reads as a few pieces.
fn merge(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match out.last_mut() {
            Some(last) if last.full == p.full && last.partial == p.partial => last.ports.last = p.ports.last,
            _ => out.push(p),
        }
    }
    out
}

fn verdict(plan: &Plan, zone: ZoneId, transport: Transport, pieces: &[Piece]) -> GatewayVerdict {
    let accesses: Vec<Access> = pieces.iter().map(Piece::access).collect();
    let access = if accesses.iter().all(|a| *a == Access::Open) {
        Access::Open
    } else if accesses.iter().all(|a| *a == Access::Blocked) {
        Access::Blocked
    } else {
        Access::Partial
    };
    let rules = plan.acl.rules();
    let zone_name = plan.zone_name(zone);
    let proto = transport.keyword();
    let describe = |p: &Piece| -> String {
        let mut parts = Vec::new();
        for (i, action, nets) in &p.partial {
            let nets: Vec<String> = nets.iter().map(ToString::to_string).collect();
            parts.push(format!(
                "rule \"{}\" {} {proto}/{} from {} only",
                rules[*i].name,
                verb(*action),
                p.ports,
                nets.join(", ")
            ));
        }
        let rest = if p.partial.is_empty() {
            ""
        } else {
            " for the rest of the zone"
        };
        parts.push(match p.full {
            Some((i, action)) => format!(
                "rule \"{}\" {} {proto}/{} from zone {zone_name}{rest}",
                rules[i].name,
                verb(action),
                p.ports
            ),
            None => format!(
                "no rule allows {proto}/{} from zone {zone_name}{rest}: the implicit deny at the end of the ACL",
                p.ports
            ),
        });
        parts.join("; ")
    };
    let detail = pieces.iter().map(describe).collect::<Vec<_>>().join("; ");
    let allowing = |p: &Piece| {
        p.full
            .filter(|(_, a)| *a == acl::Action::Allow)
            .map(|(i, _)| i)
            .or_else(|| {
                p.partial
                    .iter()
                    .find(|(_, a, _)| *a == acl::Action::Allow)
                    .map(|(i, _, _)| *i)
            })
    };
    let allowed_by = pieces.iter().find_map(allowing);
    let first = pieces.first().and_then(|p| p.full.map(|(i, _)| i));
    let uniform = pieces
        .iter()
        .all(|p| p.partial.is_empty() && p.full.map(|(i, _)| i) == first);
    GatewayVerdict {
        access,
        detail,
        allowed_by,
        decided_by: if uniform { first } else { None },
    }
}

fn verb(action: acl::Action) -> &'static str {
    match action {
        acl::Action::Allow => "allows",
        acl::Action::Deny => "denies",
    }
}

/// Cuts `ports` wherever a rule's port range starts or ends.
fn cut(rules: &[acl::Rule], ports: PortRange) -> Vec<PortRange> {
    let end = u32::from(ports.last) + 1;
    let mut bounds = vec![u32::from(ports.first), end];
    for r in rules
        .iter()
        .flat_map(|r| &r.matcher.ports)
        .filter(|r| r.first <= r.last)
    {
        for b in [u32::from(r.first), u32::from(r.last) + 1] {
            if b > u32::from(ports.first) && b < end {
                bounds.push(b);
            }
        }
    }
    bounds.sort_unstable();
    bounds.dedup();
    bounds
        .windows(2)
        .map(|w| PortRange {
            first: w[0] as u16,
            last: (w[1] - 1) as u16,
        })
        .collect()
}

/// Whether a rule's source matches all, some or none of a zone's addresses,
/// and (for some) which of its prefixes do.
fn source_match(plan: &Plan, m: &acl::Match, zone: ZoneId) -> (SourceMatch, Vec<IpNet>) {
    if (m.zones.is_empty() && m.prefixes.is_empty()) || m.zones.contains(&zone) {
        return (SourceMatch::All, Vec::new());
    }
    let zones = &plan.topology.zones;
    let own: Vec<IpNet> = zones[zone.0 as usize].prefixes.iter().map(|p| p.value).collect();
    let is_default = zone == plan.zones.default_zone();
    let others: Vec<(IpNet, usize)> = zones
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != zone.0 as usize)
        .flat_map(|(i, z)| z.prefixes.iter().map(move |p| (p.value, i)))
        .collect();
    let covers_all = if is_default {
        // The default zone spans both address families.
        let v4 = m
            .prefixes
            .iter()
            .any(|p| matches!(p, IpNet::V4(n) if n.prefix_len() == 0));
        let v6 = m
            .prefixes
            .iter()
            .any(|p| matches!(p, IpNet::V6(n) if n.prefix_len() == 0));
        v4 && v6
    } else {
        !own.is_empty() && own.iter().all(|q| m.prefixes.iter().any(|p| p.contains(q)))
    };
    if covers_all {
        return (SourceMatch::All, Vec::new());
    }
    let touching: Vec<IpNet> = m
        .prefixes
        .iter()
        .copied()
        .filter(|p| {
            if is_default {
                // Unless another zone claims all of it, some of it falls to the default zone.
                !others.iter().any(|(q, _)| q.contains(p))
            } else {
                own.iter().any(|q| {
                    p.contains(q)
                        || (q.contains(p)
                            && !others
                                .iter()
                                .any(|(r, _)| r.prefix_len() > q.prefix_len() && r.contains(p)))
                })
            }
        })
        .collect();
    if touching.is_empty() {
        (SourceMatch::None, Vec::new())
    } else {
        (SourceMatch::Some, touching)
    }
}
