//! The nftables export read back from its text: the zone sets partition the
//! address space exactly as gatehouse's own zone lookup does, the ACL keeps
//! its order and counters, and each listener's chain admits only its zones.
//! (`nftables_nft.rs` hands the same text to the real `nft`.)

#[path = "nftables/parse.rs"]
mod parse;

use std::net::{IpAddr, Ipv6Addr};

use gatehouse_model::Plan;
use gatehouse_render::nftables::nftables;
use proptest::prelude::*;

fn plan(text: &str) -> Plan {
    let checked = gatehouse_model::check(text);
    checked
        .plan
        .unwrap_or_else(|| panic!("topology should be valid: {:#?}", checked.diagnostics))
}

const EDGE_CASES: &str = include_str!("nftables/edge-cases.toml");

fn all_prefixes(plan: &Plan) -> Vec<ipnet::IpNet> {
    plan.topology
        .zones
        .iter()
        .flat_map(|z| z.prefixes.iter().map(|p| p.value))
        .collect()
}

/// Every sample address is in exactly one zone set of its family, and that
/// set's zone is the one gatehouse classifies the address into.
fn assert_sets_agree_with_classify(plan: &Plan, text: &str, samples: &[IpAddr]) {
    let sets = parse::zone_sets(text);
    assert_eq!(sets.len(), plan.zone_names.len() * 2, "one v4 and one v6 set per zone");
    for &addr in samples {
        let holders: Vec<&str> = sets
            .iter()
            .filter(|s| s.contains(addr))
            .map(|s| s.zone.as_str())
            .collect();
        if addr.to_canonical() != addr {
            assert!(
                holders.is_empty(),
                "IPv4-mapped {addr} must be in no zone set (it is dropped), got {holders:?}"
            );
            continue;
        }
        let expected = plan.zone_name(plan.classify(addr));
        assert_eq!(holders, vec![expected], "zone sets holding {addr}");
    }
}

#[test]
fn contoso_zone_sets_put_every_address_in_the_zone_gatehouse_classifies() {
    let plan = plan(gatehouse_model::CONTOSO);
    let text = nftables(&plan);
    let mut samples = parse::boundary_samples(&all_prefixes(&plan));
    // The nesting the brief names: vpn inside intranet.
    samples.extend(
        ["10.200.7.7", "10.199.255.255", "10.201.0.0", "::ffff:10.200.7.7"].map(|a| a.parse::<IpAddr>().unwrap()),
    );
    assert_sets_agree_with_classify(&plan, &text, &samples);
    let vpn = parse::zone_sets(&text)
        .into_iter()
        .find(|s| s.zone == "vpn" && !s.v6)
        .unwrap();
    assert!(vpn.contains("10.200.7.7".parse().unwrap()));
}

#[test]
fn zones_nested_three_deep_and_a_default_zone_with_prefixes_keep_longest_prefix_semantics() {
    let plan = plan(EDGE_CASES);
    let text = nftables(&plan);
    assert_sets_agree_with_classify(&plan, &text, &parse::boundary_samples(&all_prefixes(&plan)));
    let zone_of = |a: &str| plan.zone_name(plan.classify(a.parse().unwrap())).to_string();
    // corp 10/8 > lab 10.1/16 > corp 10.1.2/24: the innermost wins.
    assert_eq!(zone_of("10.1.2.9"), "corp");
    assert_eq!(zone_of("10.1.3.9"), "lab");
}

#[test]
fn ipv4_mapped_sources_are_dropped_before_any_acl_rule() {
    let text = nftables(&plan(gatehouse_model::CONTOSO));
    let acl = parse::chain(&text, "gateway_acl");
    assert!(
        acl[0].starts_with("ip6 saddr ::ffff:0.0.0.0/96 ") && acl[0].ends_with(" drop"),
        "{}",
        acl[0]
    );
    let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
    assert!(parse::zone_sets(&text).iter().all(|s| !s.contains(mapped)));
}

#[test]
fn acl_rules_keep_their_order_and_each_counts_into_its_own_named_counter() {
    let plan = plan(EDGE_CASES);
    let text = nftables(&plan);
    let acl = parse::chain(&text, "gateway_acl");
    let counters: Vec<&str> = acl
        .iter()
        .filter_map(|l| l.split("counter name \"").nth(1))
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    let mut order: Vec<&str> = counters.clone();
    order.dedup();
    assert_eq!(
        order,
        [
            "bogus_v4_mapped_source",
            "acl_1_block-one-host",
            "acl_2_web",
            "acl_3_rule-3",
            "acl_4_media",
            "acl_implicit_deny"
        ],
        "each rule's nft rules are consecutive and in ACL order"
    );
    for c in &order {
        assert!(text.contains(&format!("\tcounter {c} {{")), "counter {c} is declared");
    }
    // The deny comes first and drops; allows return to the listener's chain.
    assert!(
        acl[1].contains("ip saddr 10.1.2.3 tcp dport { 443, 8443 }") && acl[1].ends_with(" drop"),
        "{}",
        acl[1]
    );
    assert!(acl
        .iter()
        .filter(|l| l.contains("acl_2_web"))
        .all(|l| l.ends_with(" return")));
    assert_eq!(
        *acl.last().unwrap(),
        "counter name \"acl_implicit_deny\" drop comment \"implicit deny\""
    );
}

#[test]
fn overlapping_ports_and_prefixes_are_merged_because_nft_rejects_overlapping_elements() {
    let text = nftables(&plan(EDGE_CASES));
    let web: Vec<&str> = parse::chain(&text, "gateway_acl")
        .into_iter()
        .filter(|l| l.contains("acl_2_web"))
        .collect();
    assert!(
        web.iter().all(|l| l.contains("tcp dport { 443, 8000-8200, 8443 }")),
        "{web:#?}"
    );
    // 192.0.2.0/25 + 192.0.2.128/25 touch; 2001:db8:ffff:1::/64 lies inside 2001:db8:ffff::/48.
    assert!(web.contains(&"ip saddr 192.0.2.0/24 tcp dport { 443, 8000-8200, 8443 } counter name \"acl_2_web\" return"));
    assert!(web.iter().any(|l| l.starts_with("ip6 saddr 2001:db8:ffff::/48 tcp")));
    assert!(
        !text.contains("2001:db8:ffff:1::/64 "),
        "the nested prefix is merged away"
    );
}

#[test]
fn each_listener_dispatches_to_a_chain_that_accepts_only_the_zones_it_admits() {
    let plan = plan(gatehouse_model::CONTOSO);
    let text = nftables(&plan);
    let sets = parse::zone_sets(&text);
    for l in &plan.topology.listeners {
        let name = &l.name.value;
        let element = format!(
            "{} . {} . {} : goto listener_{name}",
            l.address.value,
            l.protocol.value.transport().keyword(),
            l.ports.value
        );
        assert!(text.contains(&element), "map element for {name}: {element}");
        let chain = parse::chain(&text, &format!("listener_{name}"));
        assert_eq!(chain[0], "jump gateway_acl", "{name}: the ACL comes first");
        assert!(
            chain.last().unwrap().starts_with("counter drop"),
            "{name}: other zones are dropped"
        );
        let mut accepted: Vec<String> = chain[1..chain.len() - 1]
            .iter()
            .map(|l| l.split('@').nth(1).unwrap().split(' ').next().unwrap().to_string())
            .collect();
        accepted.sort();
        let mut expected: Vec<String> = sets
            .iter()
            .filter(|s| !s.ranges.is_empty() && l.zones.iter().any(|z| z.value == s.zone))
            .map(|s| format!("zone_{}_{}", s.zone, if s.v6 { "v6" } else { "v4" }))
            .collect();
        expected.sort();
        assert_eq!(accepted, expected, "zones accepted by listener {name}");
    }
}

#[test]
fn wildcard_listeners_match_their_whole_family_and_dns_sockets_share_a_chain() {
    let text = nftables(&plan(EDGE_CASES));
    assert!(text.contains("0.0.0.0/0 . tcp . 8443 : goto listener_any-v4"));
    assert!(text.contains("192.0.2.53 . udp . 53 : goto dns_server"));
    assert!(text.contains("192.0.2.53 . udp . 514 : goto listener_syslog"));
    assert!(!text.contains("# left out"));
    assert!(text.contains("192.0.2.53 . tcp . 53 : goto dns_server"));
    assert!(text.contains("2001:db8:ffff::53 . udp . 53 : goto dns_server"));
    assert_eq!(
        parse::chain(&text, "dns_server"),
        ["jump gateway_acl", "counter accept"]
    );
}

#[test]
fn the_export_replaces_an_earlier_one_atomically_and_only_judges_listener_traffic() {
    let text = nftables(&plan(gatehouse_model::CONTOSO));
    let first: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .take(3)
        .collect();
    assert_eq!(
        first,
        [
            "table inet gatehouse",
            "delete table inet gatehouse",
            "table inet gatehouse {"
        ]
    );
    assert_eq!(
        parse::chain(&text, "input"),
        [
            "type filter hook input priority filter; policy accept;",
            "ct state established,related accept",
            "ip daddr . meta l4proto . th dport vmap @listeners_v4",
        ]
    );
}

/// A small topology with the given zones (zone `z0` is the default).
fn topology_with_zones(zones: &[Vec<String>]) -> String {
    let mut t = String::from("[gatehouse]\nname = \"Random\"\ndefault_zone = \"z0\"\n\n");
    for (i, prefixes) in zones.iter().enumerate() {
        let list: Vec<String> = prefixes.iter().map(|p| format!("\"{p}\"")).collect();
        t.push_str(&format!("[zones.z{i}]\nprefixes = [{}]\n\n", list.join(", ")));
    }
    t.push_str(
        "[services.web]\nproduct = \"generic\"\nclass = \"sharepoint\"\n\n\
         [pools.p]\nservice = \"web\"\nmembers = [\"127.0.0.1:8080\"]\n\n\
         [listeners.l]\naddress = \"192.0.2.1\"\nport = 443\nprotocol = \"tcp\"\nzones = [\"z0\"]\npool = \"p\"\n",
    );
    t
}

/// Prefixes crowded into a small space so that they nest and touch; host
/// bits are left set on purpose (gatehouse ignores them).
fn prefix() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            0u8..3,
            0u8..3,
            any::<u8>(),
            prop::sample::select(vec![8u8, 15, 16, 17, 23, 24, 30, 32])
        )
            .prop_map(|(b, c, d, len)| format!("10.{b}.{c}.{d}/{len}")),
        (
            0u16..3,
            any::<u16>(),
            prop::sample::select(vec![32u8, 47, 48, 64, 127, 128])
        )
            .prop_map(|(c, h, len)| format!("2001:db8:{c}::{h:x}/{len}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_nested_zones_export_to_sets_that_agree_with_zone_lookup(
        zones in prop::collection::vec(prop::collection::vec(prefix(), 0..5), 2..5),
        extra in prop::collection::vec(any::<u32>(), 8),
    ) {
        let checked = gatehouse_model::check(&topology_with_zones(&zones));
        // The same prefix in two zones is a configuration error: no plan.
        prop_assume!(checked.plan.is_some());
        let plan = checked.plan.unwrap();
        let mut samples = parse::boundary_samples(&all_prefixes(&plan));
        for x in extra {
            samples.push(IpAddr::from((0x0a00_0000 | (x & 0x00ff_ffff)).to_be_bytes()));
            samples.push(Ipv6Addr::from((0x2001_0db8_u128 << 96) | (u128::from(x) << 40)).into());
        }
        assert_sets_agree_with_classify(&plan, &nftables(&plan), &samples);
    }
}
