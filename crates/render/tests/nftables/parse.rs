//! Reads an exported ruleset back, as far as the tests need: the zone sets'
//! elements, and the lines of one chain. Deliberately independent of the
//! exporter's code, so that the tests check the text nft will read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One `zone_<name>_<v4|v6>` set: its zone and its elements as inclusive ranges.
#[derive(Debug)]
pub struct ZoneSet {
    pub zone: String,
    pub v6: bool,
    pub ranges: Vec<(u128, u128)>,
}

impl ZoneSet {
    pub fn contains(&self, addr: IpAddr) -> bool {
        let (bits, v6) = bits(addr);
        v6 == self.v6 && self.ranges.iter().any(|&(lo, hi)| lo <= bits && bits <= hi)
    }
}

/// An address as `u128`, and whether it is IPv6 (no canonicalisation).
pub fn bits(addr: IpAddr) -> (u128, bool) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), false),
        IpAddr::V6(a) => (u128::from(a), true),
    }
}

pub fn zone_sets(text: &str) -> Vec<ZoneSet> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim().strip_prefix("set zone_").and_then(|s| s.strip_suffix(" {")) else {
            continue;
        };
        let (zone, v6) = match (name.strip_suffix("_v4"), name.strip_suffix("_v6")) {
            (Some(z), _) => (z.to_string(), false),
            (_, Some(z)) => (z.to_string(), true),
            _ => panic!("zone set without a family suffix: {name}"),
        };
        let mut body = String::new();
        for l in lines.by_ref() {
            if l.trim() == "}" {
                break;
            }
            body.push_str(l.trim());
            body.push(' ');
        }
        let ranges = body
            .split_once("elements = {")
            .map(|(_, rest)| rest.split('}').next().unwrap_or_default())
            .map(|list| list.split(',').map(|e| element(e.trim(), v6)).collect())
            .unwrap_or_default();
        out.push(ZoneSet { zone, v6, ranges });
    }
    out
}

/// `a`, `a/len` or `a-b` as an inclusive range.
fn element(e: &str, v6: bool) -> (u128, u128) {
    let addr = |s: &str| -> u128 {
        if v6 {
            u128::from(s.parse::<Ipv6Addr>().unwrap_or_else(|_| panic!("bad v6 element {s}")))
        } else {
            u128::from(u32::from(
                s.parse::<Ipv4Addr>().unwrap_or_else(|_| panic!("bad v4 element {s}")),
            ))
        }
    };
    let width = if v6 { 128 } else { 32 };
    if let Some((lo, hi)) = e.split_once('-') {
        return (addr(lo), addr(hi));
    }
    if let Some((a, len)) = e.split_once('/') {
        let len: u32 = len.parse().unwrap();
        let host = if width - len == 128 {
            u128::MAX
        } else {
            (1u128 << (width - len)) - 1
        };
        let lo = addr(a);
        assert_eq!(lo & host, 0, "element {e} has host bits set");
        return (lo, lo | host);
    }
    let a = addr(e);
    (a, a)
}

/// The trimmed, non-empty, non-comment lines of `chain NAME { ... }`.
pub fn chain<'t>(text: &'t str, name: &str) -> Vec<&'t str> {
    let start = format!("chain {name} {{");
    text.lines()
        .skip_while(|l| l.trim() != start)
        .skip(1)
        .take_while(|l| l.trim() != "}")
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Addresses on and just around every boundary of the given prefixes, in
/// both families, plus the ends of each family.
pub fn boundary_samples(prefixes: &[ipnet::IpNet]) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = vec![
        Ipv4Addr::UNSPECIFIED.into(),
        Ipv4Addr::BROADCAST.into(),
        Ipv6Addr::UNSPECIFIED.into(),
        Ipv6Addr::from(u128::MAX).into(),
    ];
    for p in prefixes {
        let (lo, hi) = match p {
            ipnet::IpNet::V4(n) => (u128::from(u32::from(n.network())), u128::from(u32::from(n.broadcast()))),
            ipnet::IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast())),
        };
        let v6 = matches!(p, ipnet::IpNet::V6(_));
        let max = if v6 { u128::MAX } else { u128::from(u32::MAX) };
        for b in [
            lo.checked_sub(1),
            Some(lo),
            lo.checked_add(1),
            hi.checked_sub(1),
            Some(hi),
            hi.checked_add(1),
        ]
        .into_iter()
        .flatten()
        .filter(|b| *b <= max)
        {
            // Truncation is safe: `b` is within the v4 range when !v6.
            out.push(if v6 {
                Ipv6Addr::from(b).into()
            } else {
                Ipv4Addr::from(b as u32).into()
            });
        }
    }
    out
}
