//! `gatehouse export nftables`: the gateway policy as one nftables `inet`
//! table, so that the host firewall (or the real router) enforces the same
//! zones, ACL and listener restrictions that gatehouse enforces itself.
//!
//! # Shape of the ruleset
//!
//! - **Zone sets.** One interval set per zone and family
//!   (`zone_<name>_v4`, `zone_<name>_v6`). nftables sets match *any* element
//!   containing an address and reject overlapping elements, so nested zones
//!   (vpn 10.200.0.0/16 inside intranet 10.0.0.0/8) cannot be written as
//!   they are. Each set instead holds exactly the addresses that classify
//!   into its zone under longest-prefix match: its own prefixes minus the
//!   more specific prefixes of other zones. The default zone's sets hold
//!   every address no other zone claims. The sets are therefore disjoint and
//!   together cover every address, and `ip saddr @zone_vpn_v4` means "the
//!   client is in zone vpn" exactly as gatehouse means it; no rule order or
//!   packet mark is needed. (See `nftables/intervals.rs`.)
//! - **Listener dispatch.** `input` looks up `daddr . l4proto . dport` in a
//!   verdict map of the listeners' sockets (and the DNS server's), so only
//!   traffic to a listener is judged; everything else passes this table
//!   untouched (`policy accept`). Established and related packets are
//!   accepted first, so a flow is judged once, like a connection at accept.
//! - **Gateway ACL.** `gateway_acl` holds the ACL rules in order. A rule
//!   naming several zones or prefixes becomes one nft rule per zone set (and
//!   one per family of prefixes), consecutive and with the same verdict, so
//!   first-match-wins is preserved. Allow is `return` (the listener's own
//!   restriction comes next), deny is `drop`, and the chain ends in the
//!   implicit deny. Each ACL rule counts into a named counter
//!   `acl_<n>_<name>` (`nft list counters`), like gatehouse's per-rule
//!   counters; nft counts packets, and with the established shortcut that is
//!   about one per new flow.
//! - **Listener restriction.** One chain per listener: the ACL, then accept
//!   for the zones the listener admits, then a counted drop.
//! - **IPv4-mapped sources.** gatehouse classifies `::ffff:a.b.c.d` as the
//!   IPv4 client it stands for, because dual-stack sockets report IPv4
//!   clients that way. On the wire IPv4 clients arrive as IPv4 packets, so an
//!   IPv6 packet with such a source is spoofed; the ruleset drops it before
//!   the ACL, and the v6 zone sets leave that range out.
//!
//! The file starts with `table` + `delete table`, so `nft -f` replaces an
//! earlier export atomically. Per-route (HTTP) restrictions cannot be seen
//! at this layer and stay with gatehouse. A listener on `::` is taken as
//! IPv6-only, as validation treats it. Routing and NAT are left to the host.

mod intervals;
mod text;

use std::fmt::Write as _;
use std::net::IpAddr;

use gatehouse_model::topology::{PortRange, Transport};
use gatehouse_model::Plan;
use gatehouse_policy::{acl, ZoneId};
use ipnet::IpNet;

use intervals::{addr_bits, addr_text, merge, partition, subtract, Family, Range};
use text::{element_set, merge_ports, port_set, quoted, Idents};

/// The table every export defines.
pub const TABLE: &str = "gatehouse";

/// Renders the plan's gateway policy as an nftables ruleset for `nft -f`.
pub fn nftables(plan: &Plan) -> String {
    let mut ids = Idents::default();
    let zones = ZoneSets::new(plan, &mut ids);
    let sockets = sockets(plan, &mut ids);
    let counters: Vec<String> = plan
        .acl
        .rules()
        .iter()
        .enumerate()
        .map(|(i, r)| ids.make("acl", &format!("{}_{}", i + 1, r.name)))
        .collect();
    let implicit = ids.make("acl", "implicit_deny");
    let bogus = ids.make("bogus", "v4_mapped_source");

    let mut out = String::new();
    header(&mut out, plan);
    let _ = writeln!(out, "table inet {TABLE}\ndelete table inet {TABLE}\n");
    let _ = writeln!(out, "table inet {TABLE} {{");
    let _ = writeln!(
        out,
        "\tcomment {}\n",
        quoted(&format!("gatehouse gateway policy: {}", plan.topology.name))
    );
    zones.write(&mut out, plan);

    out.push_str("\t# Counters: one per ACL rule, plus the implicit deny.\n");
    for ((rule, id), n) in plan.acl.rules().iter().zip(&counters).zip(1..) {
        let _ = writeln!(
            out,
            "\tcounter {id} {{ comment {} }}",
            quoted(&describe_rule(plan, n, rule))
        );
    }
    let _ = writeln!(
        out,
        "\tcounter {implicit} {{ comment \"implicit deny: no ACL rule matched\" }}"
    );
    let _ = writeln!(
        out,
        "\tcounter {bogus} {{ comment \"IPv6 packets with an IPv4-mapped source\" }}\n"
    );

    write_dispatch(&mut out, &sockets);

    out.push_str("\t# The gateway ACL, in order; the first match wins. Allow returns to the\n");
    out.push_str("\t# listener's chain, which applies the listener's zone restriction.\n");
    out.push_str("\tchain gateway_acl {\n");
    let _ = writeln!(out, "\t\tip6 saddr ::ffff:0.0.0.0/96 counter name \"{bogus}\" drop");
    for ((rule, id), n) in plan.acl.rules().iter().zip(&counters).zip(1..) {
        let _ = writeln!(out, "\t\t# {}", describe_rule(plan, n, rule));
        let lines = acl_rule(rule, &zones, id);
        if lines.is_empty() {
            out.push_str("\t\t# (matches no traffic: no source address or port can satisfy it)\n");
        }
        for line in lines {
            let _ = writeln!(out, "\t\t{line}");
        }
    }
    let _ = writeln!(out, "\t\tcounter name \"{implicit}\" drop comment \"implicit deny\"");
    out.push_str("\t}\n");

    for s in sockets.iter().filter(|s| s.first_of_chain) {
        out.push('\n');
        write_socket_chain(&mut out, plan, &zones, s);
    }
    out.push_str("}\n");
    out
}

fn header(out: &mut String, plan: &Plan) {
    let _ = writeln!(out, "#!/usr/sbin/nft -f");
    let _ = writeln!(
        out,
        "# Generated by `gatehouse export nftables` from topology \"{}\".",
        plan.topology.name
    );
    out.push_str(
        "# Do not edit: change the topology and export again. Loading this file\n\
         # replaces an earlier export atomically.\n\
         #\n\
         # Zone sets are disjoint: each holds exactly the addresses that gatehouse\n\
         # classifies into that zone by longest-prefix match. Only traffic to the\n\
         # listeners below is judged: the gateway ACL in order (first match wins,\n\
         # implicit deny), then the listener's own zone restriction. Per-route HTTP\n\
         # restrictions (404 for hidden routes) stay with gatehouse.\n\n",
    );
}

/// Per zone and family, the ranges of addresses that classify into the zone.
struct ZoneSets {
    /// Indexed by zone id: (set name prefix, v4 ranges, v6 ranges).
    zones: Vec<(String, Vec<Range>, Vec<Range>)>,
}

impl ZoneSets {
    fn new(plan: &Plan, ids: &mut Idents) -> ZoneSets {
        let prefixes: Vec<(IpNet, usize)> = plan
            .topology
            .zones
            .iter()
            .enumerate()
            .flat_map(|(i, z)| z.prefixes.iter().map(move |p| (p.value, i)))
            .collect();
        let default = usize::from(plan.zones.default_zone().0);
        let mut zones: Vec<(String, Vec<Range>, Vec<Range>)> = plan
            .zone_names
            .iter()
            .map(|n| (ids.make("zone", n), Vec::new(), Vec::new()))
            .collect();
        for (range, zone) in partition(Family::V4, &prefixes, default) {
            zones[zone].1.push(range);
        }
        for (range, zone) in partition(Family::V6, &prefixes, default) {
            zones[zone].2.push(range);
        }
        let mapped = Range::of_net(&"::ffff:0:0/96".parse().expect("literal prefix"));
        for z in &mut zones {
            z.2 = subtract(&z.2, mapped);
        }
        ZoneSets { zones }
    }

    fn ranges(&self, zone: ZoneId, family: Family) -> &[Range] {
        let z = &self.zones[usize::from(zone.0)];
        match family {
            Family::V4 => &z.1,
            Family::V6 => &z.2,
        }
    }

    fn set_name(&self, zone: ZoneId, family: Family) -> String {
        format!("{}_{}", self.zones[usize::from(zone.0)].0, family.suffix())
    }

    /// `ip saddr @zone_x_v4`, or `None` when no address of that family is in the zone.
    fn matcher(&self, zone: ZoneId, family: Family) -> Option<String> {
        (!self.ranges(zone, family).is_empty()).then(|| format!("{} @{}", family.saddr(), self.set_name(zone, family)))
    }

    fn write(&self, out: &mut String, plan: &Plan) {
        out.push_str("\t# Zones: where clients come from. Disjoint by construction (see the header).\n");
        let default = plan.zones.default_zone();
        for (i, z) in plan.topology.zones.iter().enumerate() {
            let id = ZoneId(i as u16);
            for family in [Family::V4, Family::V6] {
                let written: Vec<String> = z
                    .prefixes
                    .iter()
                    .filter(|p| Family::of(&p.value) == family)
                    .map(|p| p.value.to_string())
                    .collect();
                let what = match (id == default, written.is_empty()) {
                    (true, true) => format!("{} (default zone): every address no other zone claims", z.name.value),
                    (true, false) => format!(
                        "{} (default zone): {} and every address no other zone claims",
                        z.name.value,
                        written.join(", ")
                    ),
                    (false, _) if written.is_empty() => format!("{}: no {} prefixes", z.name.value, family.suffix()),
                    (false, _) => format!(
                        "{}: {}, less more specific prefixes of other zones",
                        z.name.value,
                        written.join(", ")
                    ),
                };
                let _ = writeln!(out, "\tset {} {{", self.set_name(id, family));
                let _ = writeln!(out, "\t\ttype {}", family.addr_type());
                out.push_str("\t\tflags interval\n");
                let _ = writeln!(out, "\t\tcomment {}", quoted(&what));
                let ranges = self.ranges(id, family);
                if !ranges.is_empty() {
                    let elements: Vec<String> = ranges.iter().map(|r| r.render(family)).collect();
                    let _ = writeln!(out, "\t\telements = {{ {} }}", elements.join(",\n\t\t\t     "));
                }
                out.push_str("\t}\n");
            }
        }
        out.push('\n');
    }
}

/// One socket gatehouse accepts on: a listener's, or the DNS server's.
struct Socket {
    family: Family,
    /// `None` for a wildcard address.
    addr: Option<u128>,
    transport: Transport,
    ports: PortRange,
    /// The chain that judges it; DNS sockets share one.
    chain: String,
    /// The first socket of its chain writes the chain.
    first_of_chain: bool,
    /// The listener's name; `None` for the DNS server.
    listener: Option<String>,
    /// Why this socket was left out, when it overlaps an earlier one.
    skipped: Option<String>,
}

impl Socket {
    fn new(addr: IpAddr, transport: Transport, ports: PortRange, chain: String, listener: Option<String>) -> Socket {
        let addr = addr.to_canonical();
        let (bits, family) = addr_bits(addr);
        Socket {
            family,
            addr: (!addr.is_unspecified()).then_some(bits),
            transport,
            ports,
            chain,
            first_of_chain: true,
            listener,
            skipped: None,
        }
    }

    fn overlaps(&self, other: &Socket) -> bool {
        self.family == other.family
            && self.transport == other.transport
            && self.ports.overlaps(other.ports)
            && (self.addr.is_none() || other.addr.is_none() || self.addr == other.addr)
    }

    fn what(&self) -> String {
        let addr = self.addr.map_or_else(
            || format!("any {} address", self.family.suffix()),
            |a| addr_text(a, self.family),
        );
        format!("{addr} {}/{}", self.transport.keyword(), self.ports)
    }
}

fn sockets(plan: &Plan, ids: &mut Idents) -> Vec<Socket> {
    let mut out: Vec<Socket> = plan
        .topology
        .listeners
        .iter()
        .map(|l| {
            let chain = ids.make("listener", &l.name.value);
            let transport = l.protocol.value.transport();
            Socket::new(
                l.address.value,
                transport,
                l.ports.value,
                chain,
                Some(l.name.value.clone()),
            )
        })
        .collect();
    if let Some(dns) = &plan.topology.dns {
        let chain = ids.make("dns", "server");
        for addr in &dns.listen {
            for transport in [Transport::Udp, Transport::Tcp] {
                let port = PortRange::single(addr.value.port());
                let mut s = Socket::new(addr.value.ip(), transport, port, chain.clone(), None);
                s.first_of_chain = !out.iter().any(|o| o.chain == chain);
                out.push(s);
            }
        }
    }
    // Validation rejects sockets that overlap (listeners, and DNS sockets on a
    // listener's port). Should one slip through, nft would refuse the
    // overlapping verdict-map elements and load nothing, so the first keeps it.
    for i in 0..out.len() {
        if let Some(earlier) = out[..i].iter().find(|e| e.skipped.is_none() && e.overlaps(&out[i])) {
            let by = earlier.listener.as_deref().unwrap_or("the DNS server").to_string();
            out[i].skipped = Some(format!("overlaps {by}"));
        }
    }
    out
}

fn write_dispatch(out: &mut String, sockets: &[Socket]) {
    out.push_str("\t# Listeners: the sockets gatehouse accepts on, and the chain that judges each.\n");
    let mut selectors = Vec::new();
    for family in [Family::V4, Family::V6] {
        let mine: Vec<&Socket> = sockets.iter().filter(|s| s.family == family).collect();
        for s in mine.iter().filter(|s| s.skipped.is_some()) {
            let _ = writeln!(
                out,
                "\t# left out: {} ({})",
                s.what(),
                s.skipped.as_deref().unwrap_or_default()
            );
        }
        let elements: Vec<String> = mine
            .iter()
            .filter(|s| s.skipped.is_none())
            .map(|s| {
                let addr = s.addr.map_or_else(
                    || {
                        Range {
                            lo: 0,
                            hi: family.max(),
                        }
                        .render(family)
                    },
                    |a| addr_text(a, family),
                );
                format!("{addr} . {} . {} : goto {}", s.transport.keyword(), s.ports, s.chain)
            })
            .collect();
        if elements.is_empty() {
            continue;
        }
        let map = format!("listeners_{}", family.suffix());
        let _ = writeln!(out, "\tmap {map} {{");
        let _ = writeln!(
            out,
            "\t\ttype {} . inet_proto . inet_service : verdict",
            family.addr_type()
        );
        out.push_str("\t\tflags interval\n");
        let _ = writeln!(out, "\t\telements = {{ {} }}", elements.join(",\n\t\t\t     "));
        out.push_str("\t}\n");
        let daddr = match family {
            Family::V4 => "ip daddr",
            Family::V6 => "ip6 daddr",
        };
        selectors.push(format!("{daddr} . meta l4proto . th dport vmap @{map}"));
    }
    out.push_str("\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n");
    out.push_str("\t\t# Only traffic to a listener is judged; a flow is judged once.\n");
    out.push_str("\t\tct state established,related accept\n");
    for s in selectors {
        let _ = writeln!(out, "\t\t{s}");
    }
    out.push_str("\t}\n\n");
}

fn write_socket_chain(out: &mut String, plan: &Plan, zones: &ZoneSets, s: &Socket) {
    let _ = writeln!(out, "\tchain {} {{", s.chain);
    let Some(name) = &s.listener else {
        out.push_str("\t\t# The split-DNS server: every zone the ACL lets through may ask;\n");
        out.push_str("\t\t# its view answers, or refuses a zone that has no view.\n");
        out.push_str("\t\tjump gateway_acl\n\t\tcounter accept\n\t}\n");
        return;
    };
    let listener = plan.listener(name).expect("socket of a listener in the plan");
    let admitted: Vec<ZoneId> = (0..plan.zone_names.len())
        .map(|i| ZoneId(i as u16))
        .filter(|z| plan.listener_admits(listener, *z))
        .collect();
    let names: Vec<&str> = admitted.iter().map(|z| plan.zone_name(*z)).collect();
    let _ = writeln!(
        out,
        "\t\t# {name}: {} ({}); admits {}",
        s.what(),
        listener.protocol.value.keyword(),
        if names.is_empty() {
            "no zone".to_string()
        } else {
            names.join(", ")
        }
    );
    out.push_str("\t\tjump gateway_acl\n");
    if admitted.len() == plan.zone_names.len() {
        out.push_str("\t\tcounter accept comment \"every zone is admitted\"\n");
    } else {
        for zone in &admitted {
            for family in [Family::V4, Family::V6] {
                if let Some(m) = zones.matcher(*zone, family) {
                    let _ = writeln!(out, "\t\t{m} counter accept");
                }
            }
        }
        let _ = writeln!(
            out,
            "\t\tcounter drop comment {}",
            quoted(&format!("zone not admitted by listener {name}"))
        );
    }
    out.push_str("\t}\n");
}

/// The nft rules for one ACL rule: one per source set, same verdict, consecutive.
fn acl_rule(rule: &acl::Rule, zones: &ZoneSets, counter: &str) -> Vec<String> {
    let m = &rule.matcher;
    let ports = merge_ports(&m.ports);
    if !m.ports.is_empty() && ports.is_empty() {
        return Vec::new();
    }
    let traffic = match (m.proto, ports.is_empty()) {
        (Some(p), true) => format!("meta l4proto {}", proto_word(p)),
        (Some(p), false) => format!("{} dport {}", proto_word(p), port_set(&ports)),
        (None, false) => format!("meta l4proto {{ tcp, udp }} th dport {}", port_set(&ports)),
        (None, true) => String::new(),
    };
    let verdict = match rule.action {
        acl::Action::Allow => "return",
        acl::Action::Deny => "drop",
    };
    let tail = format!("counter name \"{counter}\" {verdict}");
    let mut sources: Vec<String> = Vec::new();
    if m.zones.is_empty() && m.prefixes.is_empty() {
        sources.push(String::new());
    }
    let mut seen = Vec::new();
    for zone in &m.zones {
        if seen.contains(zone) {
            continue;
        }
        seen.push(*zone);
        for family in [Family::V4, Family::V6] {
            sources.extend(zones.matcher(*zone, family));
        }
    }
    for family in [Family::V4, Family::V6] {
        let ranges = merge(
            m.prefixes
                .iter()
                .filter(|p| Family::of(p) == family)
                .map(Range::of_net)
                .collect(),
        );
        if !ranges.is_empty() {
            let elements: Vec<String> = ranges.iter().map(|r| r.render(family)).collect();
            sources.push(format!("{} {}", family.saddr(), element_set(&elements)));
        }
    }
    sources
        .into_iter()
        .map(|source| {
            [source.as_str(), traffic.as_str(), tail.as_str()]
                .into_iter()
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn proto_word(p: acl::Proto) -> &'static str {
    match p {
        acl::Proto::Tcp => "tcp",
        acl::Proto::Udp => "udp",
    }
}

/// `2 web: allow tcp 80,443 from internet, partners`.
fn describe_rule(plan: &Plan, n: usize, rule: &acl::Rule) -> String {
    let m = &rule.matcher;
    let action = match rule.action {
        acl::Action::Allow => "allow",
        acl::Action::Deny => "deny",
    };
    let proto = m.proto.map_or("tcp+udp", proto_word);
    let ports = if m.ports.is_empty() {
        "any port".to_string()
    } else {
        merge_ports(&m.ports)
            .iter()
            .map(|p| text::port_text(*p))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut from: Vec<String> = m.zones.iter().map(|z| plan.zone_name(*z).to_string()).collect();
    from.extend(m.prefixes.iter().map(|p| p.to_string()));
    let from = if from.is_empty() {
        "anywhere".to_string()
    } else {
        from.join(", ")
    };
    format!("{n} {}: {action} {proto} {ports} from {from}", rule.name)
}
