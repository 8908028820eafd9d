//! Address intervals for the nftables export: the longest-prefix-match zone
//! table flattened into disjoint ranges, and the element syntax nft reads.
//!
//! nftables interval sets match any element that contains the address, and
//! `nft` rejects overlapping elements ("conflicting intervals specified"), so
//! nested zone prefixes (vpn 10.200.0.0/16 inside intranet 10.0.0.0/8) cannot
//! be written as they are. Instead we compute, per family, the partition of
//! the whole address space that longest-prefix matching induces: every
//! address belongs to exactly one range, and each range carries the zone of
//! the most specific prefix containing it (or the default zone). Both
//! families are handled as `u128` with a bit width, so one sweep serves both.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The two address families, with the width of their addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    V4,
    V6,
}

impl Family {
    pub(crate) fn of(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    fn bits(self) -> u32 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// The highest address of the family.
    pub(crate) fn max(self) -> u128 {
        match self {
            Family::V4 => u128::from(u32::MAX),
            Family::V6 => u128::MAX,
        }
    }

    /// The nft selector for a packet's source address in this family.
    pub(crate) fn saddr(self) -> &'static str {
        match self {
            Family::V4 => "ip saddr",
            Family::V6 => "ip6 saddr",
        }
    }

    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Family::V4 => "v4",
            Family::V6 => "v6",
        }
    }

    pub(crate) fn addr_type(self) -> &'static str {
        match self {
            Family::V4 => "ipv4_addr",
            Family::V6 => "ipv6_addr",
        }
    }
}

/// An inclusive range of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Range {
    pub lo: u128,
    pub hi: u128,
}

impl Range {
    /// The addresses of a prefix, host bits ignored.
    pub(crate) fn of_net(net: &IpNet) -> Range {
        let (addr, len, family) = match net {
            IpNet::V4(n) => (u128::from(u32::from(n.addr())), n.prefix_len(), Family::V4),
            IpNet::V6(n) => (u128::from(n.addr()), n.prefix_len(), Family::V6),
        };
        let host_bits = family.bits() - u32::from(len);
        let host_mask = if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        Range {
            lo: addr & !host_mask,
            hi: (addr | host_mask) & family.max(),
        }
    }

    #[cfg(test)]
    pub(crate) fn contains(self, a: u128) -> bool {
        self.lo <= a && a <= self.hi
    }

    /// The prefix length when the range is exactly one CIDR block.
    fn prefix_len(self, family: Family) -> Option<u32> {
        let size = self.hi.wrapping_sub(self.lo).wrapping_add(1);
        // A whole-space v6 range has size 2^128, which wraps to 0.
        if size == 0 {
            return (self.lo == 0).then_some(0);
        }
        if !size.is_power_of_two() || self.lo & (size - 1) != 0 {
            return None;
        }
        Some(family.bits() - size.trailing_zeros())
    }

    /// The element as nft writes it: `a`, `a/len` or `a-b`.
    pub(crate) fn render(self, family: Family) -> String {
        if self.lo == self.hi {
            return addr_text(self.lo, family);
        }
        match self.prefix_len(family) {
            Some(len) => format!("{}/{len}", addr_text(self.lo, family)),
            None => format!("{}-{}", addr_text(self.lo, family), addr_text(self.hi, family)),
        }
    }
}

/// An address as text in its family.
pub(crate) fn addr_text(a: u128, family: Family) -> String {
    match family {
        // Truncation is safe: v4 values never exceed u32::MAX.
        Family::V4 => Ipv4Addr::from(a as u32).to_string(),
        Family::V6 => Ipv6Addr::from(a).to_string(),
    }
}

/// An address as `u128` and its family.
pub(crate) fn addr_bits(addr: IpAddr) -> (u128, Family) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), Family::V4),
        IpAddr::V6(a) => (u128::from(a), Family::V6),
    }
}

/// The partition of one family's address space by longest-prefix match.
///
/// `prefixes` are `(prefix, zone)` in table order; when the same prefix is
/// given twice the first one wins, as in `gatehouse_policy::ZoneTable`.
/// Returns sorted, disjoint ranges covering the whole family, each with the
/// zone its addresses classify into; neighbours of the same zone are merged.
pub(crate) fn partition(family: Family, prefixes: &[(IpNet, usize)], default: usize) -> Vec<(Range, usize)> {
    let mut nets: Vec<(Range, usize)> = prefixes
        .iter()
        .filter(|(n, _)| Family::of(n) == family)
        .map(|(n, z)| (Range::of_net(n), *z))
        .collect();
    // Stable sort, broader first at equal starts, so a prefix's stack frame
    // sits below the ones it contains; dedup keeps the first of duplicates.
    nets.sort_by(|a, b| a.0.lo.cmp(&b.0.lo).then(b.0.hi.cmp(&a.0.hi)));
    nets.dedup_by(|later, earlier| later.0 == earlier.0);

    let mut out: Vec<(Range, usize)> = Vec::new();
    let mut emit = |lo: u128, hi: u128, zone: usize| match out.last_mut() {
        Some((last, z)) if *z == zone && last.hi.checked_add(1) == Some(lo) => last.hi = hi,
        _ => out.push((Range { lo, hi }, zone)),
    };
    // Prefixes either nest or are disjoint, so a stack of open prefixes
    // (innermost on top) tells which zone owns the addresses at the cursor.
    let mut stack: Vec<(u128, usize)> = vec![(family.max(), default)];
    // `None` once the cursor has passed the last address of the family.
    let mut cursor = Some(0u128);
    for (net, zone) in nets {
        while let Some(&(end, owner)) = stack.last() {
            if end >= net.lo {
                break;
            }
            if let Some(c) = cursor.filter(|c| *c <= end) {
                emit(c, end, owner);
            }
            cursor = end.checked_add(1);
            stack.pop();
        }
        let owner = stack.last().map_or(default, |&(_, z)| z);
        if let Some(c) = cursor.filter(|c| *c < net.lo) {
            emit(c, net.lo - 1, owner);
            cursor = Some(net.lo);
        }
        stack.push((net.hi, zone));
    }
    while let Some((end, owner)) = stack.pop() {
        if let Some(c) = cursor.filter(|c| *c <= end) {
            emit(c, end, owner);
            cursor = end.checked_add(1);
        }
    }
    out
}

/// Sorted, disjoint, non-adjacent ranges covering the same addresses.
pub(crate) fn merge(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.sort();
    let mut out: Vec<Range> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if last.hi.checked_add(1).is_none_or(|next| r.lo <= next) => last.hi = last.hi.max(r.hi),
            _ => out.push(r),
        }
    }
    out
}

/// `ranges` (sorted and disjoint) without the addresses of `cut`.
pub(crate) fn subtract(ranges: &[Range], cut: Range) -> Vec<Range> {
    let mut out = Vec::with_capacity(ranges.len() + 1);
    for &r in ranges {
        if r.hi < cut.lo || r.lo > cut.hi {
            out.push(r);
            continue;
        }
        if r.lo < cut.lo {
            out.push(Range {
                lo: r.lo,
                hi: cut.lo - 1,
            });
        }
        if r.hi > cut.hi {
            out.push(Range {
                lo: cut.hi + 1,
                hi: r.hi,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn v4(s: &str) -> u128 {
        u128::from(u32::from(s.parse::<Ipv4Addr>().unwrap()))
    }

    #[test]
    fn nested_prefix_carves_a_hole_in_the_broader_zone() {
        let parts = partition(Family::V4, &[(net("10.0.0.0/8"), 1), (net("10.200.0.0/16"), 2)], 0);
        let rendered: Vec<(String, usize)> = parts.iter().map(|(r, z)| (r.render(Family::V4), *z)).collect();
        assert_eq!(
            rendered,
            vec![
                ("0.0.0.0-9.255.255.255".to_string(), 0),
                ("10.0.0.0-10.199.255.255".to_string(), 1),
                ("10.200.0.0/16".to_string(), 2),
                ("10.201.0.0-10.255.255.255".to_string(), 1),
                ("11.0.0.0-255.255.255.255".to_string(), 0),
            ]
        );
    }

    #[test]
    fn first_of_duplicate_prefixes_wins_and_host_bits_are_ignored() {
        let parts = partition(Family::V4, &[(net("10.1.2.3/8"), 1), (net("10.0.0.0/8"), 2)], 0);
        assert!(parts.iter().any(|(r, z)| r.contains(v4("10.9.9.9")) && *z == 1));
        assert!(!parts.iter().any(|(_, z)| *z == 2));
    }

    #[test]
    fn partition_reaches_the_last_address_of_each_family() {
        let v6 = partition(Family::V6, &[(net("ffff::/16"), 1)], 0);
        assert_eq!(v6.last().unwrap().0.hi, u128::MAX);
        assert_eq!(v6.last().unwrap().1, 1);
        let v4 = partition(Family::V4, &[(net("0.0.0.0/0"), 3)], 0);
        assert_eq!(
            v4,
            vec![(
                Range {
                    lo: 0,
                    hi: u128::from(u32::MAX)
                },
                3
            )]
        );
        assert_eq!(v4[0].0.render(Family::V4), "0.0.0.0/0");
        assert_eq!(partition(Family::V6, &[], 0)[0].0.render(Family::V6), "::/0");
    }

    #[test]
    fn merge_joins_overlapping_and_adjacent_ranges() {
        let r = |lo, hi| Range { lo, hi };
        assert_eq!(
            merge(vec![r(5, 9), r(0, 4), r(20, 30), r(25, 26)]),
            vec![r(0, 9), r(20, 30)]
        );
        assert_eq!(merge(vec![r(0, u128::MAX), r(7, 8)]), vec![r(0, u128::MAX)]);
    }

    #[test]
    fn subtract_splits_a_range_around_the_cut() {
        let r = |lo, hi| Range { lo, hi };
        assert_eq!(subtract(&[r(0, 100)], r(10, 20)), vec![r(0, 9), r(21, 100)]);
        assert_eq!(subtract(&[r(10, 20)], r(0, 100)), vec![]);
        assert_eq!(subtract(&[r(0, 5), r(30, 40)], r(10, 20)), vec![r(0, 5), r(30, 40)]);
    }

    #[test]
    fn single_addresses_and_blocks_render_compactly() {
        let one = Range::of_net(&net("2001:db8::1/128"));
        assert_eq!(one.render(Family::V6), "2001:db8::1");
        assert_eq!(Range::of_net(&net("2001:db8::/32")).render(Family::V6), "2001:db8::/32");
        let odd = Range {
            lo: v4("10.0.0.1"),
            hi: v4("10.0.0.2"),
        };
        assert_eq!(odd.render(Family::V4), "10.0.0.1-10.0.0.2");
    }
}
