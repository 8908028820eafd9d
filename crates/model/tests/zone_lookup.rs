//! Zone lookup through the whole model: random zones are written as a
//! topology file, checked and compiled, and the plan's classification must
//! pick the zone with the longest matching prefix — for IPv4 and IPv6 —
//! exactly as a naive scan over every prefix does.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use proptest::prelude::*;

/// Zone `z{i}` holds `prefixes[i]`; the default zone `internet` holds none.
fn topology(zones: &[Vec<IpNet>]) -> String {
    let mut t = String::from("[zones.internet]\n");
    for (i, prefixes) in zones.iter().enumerate() {
        let list: Vec<String> = prefixes.iter().map(|p| format!("\"{p}\"")).collect();
        t.push_str(&format!("\n[zones.z{i}]\nprefixes = [{}]\n", list.join(", ")));
    }
    t
}

/// The reference: scan every prefix, keep the longest that contains `addr`.
fn naive(zones: &[Vec<IpNet>], addr: IpAddr) -> String {
    let addr = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    };
    let mut best: Option<(u8, usize)> = None;
    for (i, prefixes) in zones.iter().enumerate() {
        for p in prefixes {
            if p.contains(&addr) && best.is_none_or(|(len, _)| p.prefix_len() > len) {
                best = Some((p.prefix_len(), i));
            }
        }
    }
    best.map_or("internet".to_string(), |(_, i)| format!("z{i}"))
}

/// Prefixes near a few base addresses, so that they nest and overlap.
fn v4_prefix() -> BoxedStrategy<IpNet> {
    (
        prop::sample::select(vec![0x0a00_0000u32, 0xc633_6400, 0xac10_0000]),
        any::<u32>(),
        0u8..=32,
    )
        .prop_map(|(base, noise, len)| {
            let addr = Ipv4Addr::from(base ^ (noise >> 8));
            IpNet::new(IpAddr::V4(addr), len).unwrap().trunc()
        })
        .boxed()
}

fn v6_prefix() -> BoxedStrategy<IpNet> {
    (
        prop::sample::select(vec![0x2001_0db8u128 << 96, 0xfd12_3456u128 << 96]),
        any::<u128>(),
        0u8..=128,
    )
        .prop_map(|(base, noise, len)| {
            let addr = Ipv6Addr::from(base ^ (noise >> 40));
            IpNet::new(IpAddr::V6(addr), len).unwrap().trunc()
        })
        .boxed()
}

/// Zones with distinct prefixes (identical prefixes in two zones are an error).
fn zones(prefix: impl Strategy<Value = IpNet>) -> impl Strategy<Value = Vec<Vec<IpNet>>> {
    prop::collection::vec(prop::collection::vec(prefix, 1..5), 1..6).prop_map(|zones| {
        let mut seen = BTreeSet::new();
        zones
            .into_iter()
            .map(|z| z.into_iter().filter(|p| seen.insert(*p)).collect::<Vec<_>>())
            .filter(|z: &Vec<IpNet>| !z.is_empty())
            .collect()
    })
}

/// Addresses inside the generated prefixes (and a few outside).
fn probes(zones: &[Vec<IpNet>], noise: &[u128]) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for (p, n) in zones.iter().flatten().zip(noise.iter().cycle()) {
        match p {
            IpNet::V4(v4) => {
                let host_bits = 32 - u32::from(v4.prefix_len());
                let mask = if host_bits == 32 {
                    u32::MAX
                } else {
                    (1u32 << host_bits) - 1
                };
                let a = Ipv4Addr::from(u32::from(v4.network()) | (*n as u32 & mask));
                out.push(IpAddr::V4(a));
                out.push(IpAddr::V6(a.to_ipv6_mapped()));
            }
            IpNet::V6(v6) => {
                let host_bits = 128 - u32::from(v6.prefix_len());
                let mask = if host_bits == 128 {
                    u128::MAX
                } else {
                    (1u128 << host_bits) - 1
                };
                out.push(IpAddr::V6(Ipv6Addr::from(u128::from(v6.network()) | (n & mask))));
            }
        }
    }
    out.push("192.0.2.1".parse().unwrap());
    out.push("2001:db9::1".parse().unwrap());
    out
}

fn assert_lookup_agrees(zones: &[Vec<IpNet>], noise: &[u128]) {
    let text = topology(zones);
    let checked = gatehouse_model::check(&text);
    let plan = checked
        .plan
        .unwrap_or_else(|| panic!("{:?}\n{text}", checked.diagnostics));
    for addr in probes(zones, noise) {
        assert_eq!(
            plan.zone_name(plan.classify(addr)),
            naive(zones, addr),
            "{addr} in\n{text}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn ipv4_clients_get_the_zone_of_their_longest_prefix(z in zones(v4_prefix()), noise in prop::collection::vec(any::<u128>(), 1..8)) {
        assert_lookup_agrees(&z, &noise);
    }

    #[test]
    fn ipv6_clients_get_the_zone_of_their_longest_prefix(z in zones(v6_prefix()), noise in prop::collection::vec(any::<u128>(), 1..8)) {
        assert_lookup_agrees(&z, &noise);
    }

    #[test]
    fn mixed_families_never_cross(z in zones(prop_oneof![v4_prefix(), v6_prefix()]), noise in prop::collection::vec(any::<u128>(), 1..8)) {
        assert_lookup_agrees(&z, &noise);
    }
}

#[test]
fn a_nested_prefix_wins_over_the_one_around_it() {
    let zones = vec![
        vec!["10.0.0.0/8".parse().unwrap()],
        vec!["10.200.0.0/16".parse().unwrap()],
    ];
    let plan = gatehouse_model::check(&topology(&zones)).plan.unwrap();
    assert_eq!(plan.zone_name(plan.classify("10.200.1.1".parse().unwrap())), "z1");
    assert_eq!(plan.zone_name(plan.classify("10.1.1.1".parse().unwrap())), "z0");
    assert_eq!(plan.zone_name(plan.classify("11.1.1.1".parse().unwrap())), "internet");
}
