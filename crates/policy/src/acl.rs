//! Listener ACLs: an ordered list of rules evaluated first-match-wins, with
//! an implicit deny after the last rule.
//!
//! An [`Acl`] is compiled once per plan and consulted for every accepted
//! connection or datagram (the *accept* phase), so [`Acl::decide`] never
//! allocates. Beside it live [`AclCounters`] (hits per rule, for metrics and
//! `gatehouse explain`) and a [`LogLimiter`] so that a flood of denied
//! packets cannot turn into a flood of log lines.
//!
//! What a rule matches is described on [`Match`].

use std::net::IpAddr;

use ipnet::IpNet;

use crate::addr::{canonical, v4_mask, v6_mask};
use crate::zones::ZoneId;

mod counters;
mod limiter;
#[cfg(test)]
mod tests;

pub use counters::AclCounters;
pub use limiter::LogLimiter;

/// What happens to traffic a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Allow,
    Deny,
}

/// Transport protocol of the traffic being decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

/// An inclusive range of destination ports: `first..=last`.
///
/// A range with `first > last` matches no port. The model rejects such
/// ranges; here they are simply inert rather than a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    /// The range `first..=last`.
    pub const fn new(first: u16, last: u16) -> PortRange {
        PortRange { first, last }
    }

    /// The range holding exactly `port`.
    pub const fn single(port: u16) -> PortRange {
        PortRange {
            first: port,
            last: port,
        }
    }

    /// Whether `port` is in the range, both ends included.
    pub const fn contains(self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }
}

/// The conditions a rule places on traffic. Every empty or `None` field
/// means "any", so `Match::default()` matches everything.
///
/// The source is described by zones and prefixes together:
/// - neither given: any source;
/// - only `zones`: the client's zone must be one of them;
/// - only `prefixes`: the client's address must be in one of them;
/// - **both given: the source matches when EITHER matches** (the client is
///   in one of the zones *or* its address is in one of the prefixes). This
///   lets one rule say "the partner zone, plus this one monitoring host".
///
/// Prefix matching treats IPv4-mapped IPv6 sources (`::ffff:a.b.c.d`) as
/// IPv4, ignores host bits in the prefixes, and never matches across
/// families. The source, protocol and port conditions must all hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Match {
    /// Zones the client may be in; empty = any zone (see above).
    pub zones: Vec<ZoneId>,
    /// Prefixes the client address may be in; empty = any address (see above).
    pub prefixes: Vec<IpNet>,
    /// Required protocol; `None` = TCP or UDP.
    pub proto: Option<Proto>,
    /// Destination port ranges; empty = any port.
    pub ports: Vec<PortRange>,
}

/// One named ACL entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Shown in logs, metrics and `gatehouse explain`.
    pub name: String,
    pub action: Action,
    pub matcher: Match,
}

/// The outcome of [`Acl::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    pub action: Action,
    /// Index of the rule that matched, or `None` for the implicit deny after
    /// the last rule.
    pub rule: Option<usize>,
}

impl Decision {
    /// What traffic matching no rule gets.
    pub const IMPLICIT_DENY: Decision = Decision {
        action: Action::Deny,
        rule: None,
    };

    /// Shorthand for `action == Action::Allow`.
    pub fn is_allowed(&self) -> bool {
        self.action == Action::Allow
    }
}

/// A compiled ACL.
///
/// # Compilation
///
/// Each rule is turned into integer form: zones sorted for binary search,
/// prefixes as `(network, mask)` pairs split by family, and port ranges
/// sorted and merged for binary search. Then, per protocol, we keep the list
/// of rule indices that can match that protocol at all, in rule order;
/// rules that can match nothing (every port range inverted) are left out.
/// Deciding walks the candidate list for the packet's protocol and stops at
/// the first match, so each packet costs at most one cheap test per
/// candidate rule. We stop there on purpose: listener ACLs are tens of
/// rules, and a decision-tree compiler would cost far more clarity than it
/// would save time.
#[derive(Debug, Clone)]
pub struct Acl {
    rules: Vec<Rule>,
    compiled: Vec<CompiledRule>,
    tcp: Vec<usize>,
    udp: Vec<usize>,
}

impl Acl {
    /// Compiles `rules`, which are evaluated in order.
    pub fn new(rules: Vec<Rule>) -> Acl {
        let compiled: Vec<CompiledRule> = rules.iter().map(CompiledRule::new).collect();
        let candidates = |proto: Proto| -> Vec<usize> {
            rules
                .iter()
                .zip(&compiled)
                .enumerate()
                .filter(|(_, (rule, c))| rule.matcher.proto.is_none_or(|p| p == proto) && c.can_match())
                .map(|(i, _)| i)
                .collect()
        };
        let tcp = candidates(Proto::Tcp);
        let udp = candidates(Proto::Udp);
        Acl {
            rules,
            compiled,
            tcp,
            udp,
        }
    }

    /// Decides traffic from `src` (in `zone`) to destination `port` over
    /// `proto`: the action of the first matching rule, or the implicit deny.
    pub fn decide(&self, zone: ZoneId, src: IpAddr, proto: Proto, port: u16) -> Decision {
        let src = canonical(src);
        let candidates = match proto {
            Proto::Tcp => &self.tcp,
            Proto::Udp => &self.udp,
        };
        candidates
            .iter()
            .find(|&&i| self.compiled[i].matches(zone, src, port))
            .map_or(Decision::IMPLICIT_DENY, |&i| Decision {
                action: self.compiled[i].action,
                rule: Some(i),
            })
    }

    /// The rules as given, so a [`Decision`]'s index can be named.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Number of rules (not counting the implicit deny).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules, so everything is denied.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Fresh zeroed counters sized for this ACL.
    pub fn counters(&self) -> AclCounters {
        AclCounters::new(self.rules.len())
    }
}

/// A rule in the integer form [`Acl::decide`] tests against.
#[derive(Debug, Clone)]
struct CompiledRule {
    action: Action,
    /// Neither zones nor prefixes were given.
    any_source: bool,
    zones: Box<[ZoneId]>,
    v4: Box<[(u32, u32)]>,
    v6: Box<[(u128, u128)]>,
    /// `None` = any port; otherwise sorted, disjoint, non-adjacent ranges.
    ports: Option<Box<[PortRange]>>,
}

impl CompiledRule {
    fn new(rule: &Rule) -> CompiledRule {
        let m = &rule.matcher;
        let mut zones = m.zones.clone();
        zones.sort_unstable();
        zones.dedup();
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for net in &m.prefixes {
            match net {
                IpNet::V4(n) => {
                    let mask = v4_mask(n.prefix_len());
                    v4.push((u32::from(n.addr()) & mask, mask));
                }
                IpNet::V6(n) => {
                    let mask = v6_mask(n.prefix_len());
                    v6.push((u128::from(n.addr()) & mask, mask));
                }
            }
        }
        let ports = (!m.ports.is_empty()).then(|| merge_ports(&m.ports));
        CompiledRule {
            action: rule.action,
            any_source: m.zones.is_empty() && m.prefixes.is_empty(),
            zones: zones.into(),
            v4: v4.into(),
            v6: v6.into(),
            ports,
        }
    }

    /// False when every port range was inverted, so no packet can match.
    fn can_match(&self) -> bool {
        self.ports.as_deref().is_none_or(|p| !p.is_empty())
    }

    /// Source, then port; `src` must already be canonical.
    fn matches(&self, zone: ZoneId, src: IpAddr, port: u16) -> bool {
        self.source_matches(zone, src) && self.port_matches(port)
    }

    fn source_matches(&self, zone: ZoneId, src: IpAddr) -> bool {
        if self.any_source || self.zones.binary_search(&zone).is_ok() {
            return true;
        }
        match src {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(net, mask)| a & mask == net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(net, mask)| a & mask == net)
            }
        }
    }

    fn port_matches(&self, port: u16) -> bool {
        let Some(ranges) = &self.ports else {
            return true;
        };
        // First range not entirely below `port`; ranges are disjoint and
        // sorted, so it is the only one that can hold it.
        let i = ranges.partition_point(|r| r.last < port);
        ranges.get(i).is_some_and(|r| r.first <= port)
    }
}

/// Sorts and merges port ranges, dropping inverted ones, so that a port
/// test is one binary search.
fn merge_ports(ports: &[PortRange]) -> Box<[PortRange]> {
    let mut sorted: Vec<PortRange> = ports.iter().copied().filter(|r| r.first <= r.last).collect();
    sorted.sort_unstable_by_key(|r| r.first);
    let mut merged: Vec<PortRange> = Vec::with_capacity(sorted.len());
    for r in sorted {
        match merged.last_mut() {
            // Overlapping or adjacent; saturating so 65535 cannot wrap.
            Some(cur) if r.first <= cur.last.saturating_add(1) => {
                cur.last = cur.last.max(r.last);
            }
            _ => merged.push(r),
        }
    }
    merged.into()
}
