//! Tests for zone lookup: behaviour-named unit tests, then property tests
//! against a naive reference (a linear scan for the longest containing
//! prefix).

use super::*;
use proptest::prelude::*;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const DEFAULT: ZoneId = ZoneId(0);

fn table(entries: &[(&str, u16)]) -> ZoneTable {
    ZoneTable::new(DEFAULT, entries.iter().map(|&(n, z)| (net(n), ZoneId(z))))
}

#[test]
fn longest_prefix_wins() {
    let t = table(&[("10.0.0.0/8", 1), ("10.1.0.0/16", 2), ("10.1.2.0/24", 3)]);
    assert_eq!(t.lookup(ip("10.1.2.3")), ZoneId(3));
    assert_eq!(t.lookup(ip("10.1.3.3")), ZoneId(2));
    assert_eq!(t.lookup(ip("10.2.0.1")), ZoneId(1));
}

#[test]
fn longest_prefix_wins_regardless_of_entry_order() {
    let t = table(&[("10.1.2.0/24", 3), ("10.0.0.0/8", 1), ("10.1.0.0/16", 2)]);
    assert_eq!(t.lookup(ip("10.1.2.3")), ZoneId(3));
    assert_eq!(t.lookup(ip("10.1.3.3")), ZoneId(2));
}

#[test]
fn v6_longest_prefix_wins() {
    let t = table(&[("2001:db8::/32", 1), ("2001:db8:1::/48", 2)]);
    assert_eq!(t.lookup(ip("2001:db8:1::5")), ZoneId(2));
    assert_eq!(t.lookup(ip("2001:db8:2::5")), ZoneId(1));
    assert_eq!(t.lookup(ip("2001:db9::1")), DEFAULT);
}

#[test]
fn mapped_v6_is_looked_up_as_v4() {
    let t = table(&[("192.0.2.0/24", 4)]);
    assert_eq!(t.lookup(ip("::ffff:192.0.2.10")), ZoneId(4));
    assert_eq!(
        t.lookup_prefix(ip("::ffff:192.0.2.10")),
        Some((net("192.0.2.0/24"), ZoneId(4)))
    );
}

#[test]
fn v6_prefixes_never_match_v4_clients() {
    // A v4 client on a dual-stack socket is still a v4 client.
    let t = table(&[("::/0", 6), ("::ffff:0:0/96", 7)]);
    assert_eq!(t.lookup(ip("192.0.2.10")), DEFAULT);
    assert_eq!(t.lookup(ip("::ffff:192.0.2.10")), DEFAULT);
    assert_eq!(t.lookup(ip("2001:db8::1")), ZoneId(6));
}

#[test]
fn compatible_v6_form_stays_v6() {
    let t = table(&[("10.0.0.0/8", 1), ("::/96", 2)]);
    assert_eq!(t.lookup(ip("::10.1.2.3")), ZoneId(2));
}

#[test]
fn unmatched_falls_into_default_zone() {
    let t = ZoneTable::new(ZoneId(9), [(net("10.0.0.0/8"), ZoneId(1))]);
    assert_eq!(t.lookup(ip("192.0.2.1")), ZoneId(9));
    assert_eq!(t.lookup(ip("2001:db8::1")), ZoneId(9));
    assert_eq!(t.lookup_prefix(ip("192.0.2.1")), None);
    assert_eq!(t.default_zone(), ZoneId(9));
}

#[test]
fn empty_table_puts_everything_in_default_zone() {
    let t = ZoneTable::new(ZoneId(5), []);
    assert!(t.is_empty());
    assert_eq!(t.lookup(ip("0.0.0.0")), ZoneId(5));
    assert_eq!(t.lookup(ip("::")), ZoneId(5));
}

#[test]
fn zero_length_prefix_catches_its_whole_family() {
    let t = table(&[("0.0.0.0/0", 1), ("10.0.0.0/8", 2)]);
    assert_eq!(t.lookup(ip("203.0.113.9")), ZoneId(1));
    assert_eq!(t.lookup(ip("10.9.9.9")), ZoneId(2));
    assert_eq!(t.lookup(ip("2001:db8::1")), DEFAULT);
}

#[test]
fn host_prefixes_match_exactly_one_address() {
    let t = table(&[("192.0.2.7/32", 1), ("2001:db8::7/128", 2)]);
    assert_eq!(t.lookup(ip("192.0.2.7")), ZoneId(1));
    assert_eq!(t.lookup(ip("192.0.2.8")), DEFAULT);
    assert_eq!(t.lookup(ip("2001:db8::7")), ZoneId(2));
    assert_eq!(t.lookup(ip("2001:db8::8")), DEFAULT);
}

#[test]
fn host_bits_are_cleared() {
    let t = table(&[("10.1.2.3/8", 1)]);
    assert_eq!(t.lookup(ip("10.200.0.1")), ZoneId(1));
    assert_eq!(t.lookup_prefix(ip("10.200.0.1")), Some((net("10.0.0.0/8"), ZoneId(1))));
}

#[test]
fn duplicate_prefix_first_entry_wins() {
    // `10.9.9.9/8` truncates to the same prefix as `10.0.0.0/8`.
    let t = table(&[("10.0.0.0/8", 1), ("10.9.9.9/8", 2), ("10.0.0.0/8", 3)]);
    assert_eq!(t.lookup(ip("10.1.1.1")), ZoneId(1));
    assert_eq!(t.len(), 1);
}

#[test]
fn lookup_prefix_reports_the_longest_match() {
    let t = table(&[("2001:db8::/32", 1), ("2001:db8:ab::/48", 2)]);
    assert_eq!(
        t.lookup_prefix(ip("2001:db8:ab::1")),
        Some((net("2001:db8:ab::/48"), ZoneId(2)))
    );
}

#[test]
fn table_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ZoneTable>();
}

// ---- property tests --------------------------------------------------------

/// The obviously-correct definition: canonicalise, then scan every entry and
/// keep the longest containing prefix; on equal length (only possible for
/// duplicates) the earlier entry wins.
fn reference(entries: &[(IpNet, ZoneId)], addr: IpAddr) -> Option<(IpNet, ZoneId)> {
    let addr = addr.to_canonical();
    let mut best: Option<(IpNet, ZoneId)> = None;
    for &(n, z) in entries {
        let n = n.trunc();
        if n.contains(&addr) && best.is_none_or(|(b, _)| n.prefix_len() > b.prefix_len()) {
            best = Some((n, z));
        }
    }
    best
}

fn check(entries: &[(IpNet, ZoneId)], probes: &[IpAddr]) -> Result<(), TestCaseError> {
    let t = ZoneTable::new(DEFAULT, entries.iter().copied());
    for &a in probes {
        let want = reference(entries, a);
        prop_assert_eq!(t.lookup_prefix(a), want, "lookup_prefix({})", a);
        prop_assert_eq!(t.lookup(a), want.map_or(DEFAULT, |(_, z)| z), "lookup({})", a);
    }
    Ok(())
}

/// A few base addresses; prefixes are bases cut at random lengths, and
/// probes are bases with a random number of low bits randomised. Prefixes of
/// one base nest, and a probe is inside every prefix of its base up to some
/// length, so lookups are dominated by real longest-prefix decisions rather
/// than misses.
fn v4_case() -> impl Strategy<Value = (Vec<(IpNet, ZoneId)>, Vec<IpAddr>)> {
    prop::collection::vec(any::<u32>(), 1..4)
        .prop_flat_map(|bases| {
            let n = bases.len();
            let entries = prop::collection::vec((0..n, 0u8..=32, 1u16..6), 0..24);
            let probes = prop::collection::vec((0..n, 0u32..=32, any::<u32>()), 1..32);
            (Just(bases), entries, probes)
        })
        .prop_map(|(bases, entries, probes)| {
            let entries = entries
                .into_iter()
                .map(|(b, len, z)| {
                    let n = Ipv4Net::new_assert(Ipv4Addr::from(bases[b]), len);
                    (IpNet::V4(n), ZoneId(z))
                })
                .collect();
            let probes = probes
                .into_iter()
                .map(|(b, k, noise)| {
                    let low = !v4_mask(32 - k as u8);
                    IpAddr::V4(Ipv4Addr::from(bases[b] ^ (noise & low)))
                })
                .collect();
            (entries, probes)
        })
}

/// As [`v4_case`], for IPv6. One base sits in `::ffff:0:0/96` so that v6
/// prefixes over the mapped range are exercised too.
fn v6_case() -> impl Strategy<Value = (Vec<(IpNet, ZoneId)>, Vec<IpAddr>)> {
    let mapped_base = any::<u32>().prop_map(|a| u128::from(Ipv4Addr::from(a).to_ipv6_mapped()));
    (prop::collection::vec(any::<u128>(), 1..4), mapped_base)
        .prop_flat_map(|(mut bases, mapped)| {
            bases.push(mapped);
            let n = bases.len();
            let entries = prop::collection::vec((0..n, 0u8..=128, 1u16..6), 0..24);
            let probes = prop::collection::vec((0..n, 0u32..=128, any::<u128>()), 1..32);
            (Just(bases), entries, probes)
        })
        .prop_map(|(bases, entries, probes)| {
            let entries = entries
                .into_iter()
                .map(|(b, len, z)| {
                    let n = Ipv6Net::new_assert(Ipv6Addr::from(bases[b]), len);
                    (IpNet::V6(n), ZoneId(z))
                })
                .collect();
            let probes = probes
                .into_iter()
                .map(|(b, k, noise)| {
                    let low = !v6_mask(128 - k as u8);
                    IpAddr::V6(Ipv6Addr::from(bases[b] ^ (noise & low)))
                })
                .collect();
            (entries, probes)
        })
}

proptest! {
    #[test]
    fn v4_lookup_matches_reference((entries, probes) in v4_case()) {
        check(&entries, &probes)?;
    }

    #[test]
    fn v6_lookup_matches_reference((entries, probes) in v6_case()) {
        check(&entries, &probes)?;
    }

    /// Both families in one table, probed with v4 addresses, their mapped v6
    /// forms, and v6 addresses.
    #[test]
    fn mixed_lookup_matches_reference(
        (v4_entries, v4_probes) in v4_case(),
        (v6_entries, v6_probes) in v6_case(),
        interleave in any::<bool>(),
    ) {
        let mut entries = Vec::new();
        if interleave {
            let mut a = v4_entries.iter();
            let mut b = v6_entries.iter();
            loop {
                match (a.next(), b.next()) {
                    (None, None) => break,
                    (x, y) => entries.extend(x.into_iter().chain(y).copied()),
                }
            }
        } else {
            entries.extend(v6_entries.iter().chain(&v4_entries).copied());
        }
        let mut probes = v6_probes;
        for &p in &v4_probes {
            let IpAddr::V4(a) = p else { unreachable!() };
            probes.push(p);
            probes.push(IpAddr::V6(a.to_ipv6_mapped()));
        }
        check(&entries, &probes)?;

        // A mapped address and its v4 form must always agree.
        let t = ZoneTable::new(DEFAULT, entries.iter().copied());
        for &p in &v4_probes {
            let IpAddr::V4(a) = p else { unreachable!() };
            prop_assert_eq!(t.lookup(p), t.lookup(IpAddr::V6(a.to_ipv6_mapped())));
        }
    }
}
