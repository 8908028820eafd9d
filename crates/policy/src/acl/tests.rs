//! Tests for ACL decisions, counters and the log limiter: behaviour-named
//! unit tests, then a property test against a naive reference evaluator.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn rule(name: &str, action: Action, matcher: Match) -> Rule {
    Rule {
        name: name.to_owned(),
        action,
        matcher,
    }
}

fn allow(name: &str, matcher: Match) -> Rule {
    rule(name, Action::Allow, matcher)
}

fn deny(name: &str, matcher: Match) -> Rule {
    rule(name, Action::Deny, matcher)
}

fn ports(ranges: &[(u16, u16)]) -> Match {
    Match {
        ports: ranges.iter().map(|&(a, b)| PortRange::new(a, b)).collect(),
        ..Match::default()
    }
}

const Z0: ZoneId = ZoneId(0);
const Z1: ZoneId = ZoneId(1);
const Z2: ZoneId = ZoneId(2);

fn allowed(d: Decision, rule: usize) {
    assert_eq!(
        d,
        Decision {
            action: Action::Allow,
            rule: Some(rule)
        }
    );
}

#[test]
fn first_match_wins() {
    let acl = Acl::new(vec![
        deny("block-telnet", ports(&[(23, 23)])),
        allow("anything", Match::default()),
        deny("never-reached", ports(&[(23, 23)])),
    ]);
    let d = acl.decide(Z0, ip("192.0.2.1"), Proto::Tcp, 23);
    assert_eq!(
        d,
        Decision {
            action: Action::Deny,
            rule: Some(0)
        }
    );
    allowed(acl.decide(Z0, ip("192.0.2.1"), Proto::Tcp, 22), 1);
}

#[test]
fn implicit_deny_when_nothing_matches() {
    let acl = Acl::new(vec![allow("https", ports(&[(443, 443)]))]);
    let d = acl.decide(Z0, ip("192.0.2.1"), Proto::Tcp, 80);
    assert_eq!(d, Decision::IMPLICIT_DENY);
    assert_eq!(d.rule, None);
    assert!(!d.is_allowed());
}

#[test]
fn empty_acl_denies_everything() {
    let acl = Acl::new(Vec::new());
    assert!(acl.is_empty());
    assert_eq!(acl.decide(Z0, ip("::1"), Proto::Udp, 53), Decision::IMPLICIT_DENY);
}

#[test]
fn empty_match_matches_everything() {
    let acl = Acl::new(vec![allow("all", Match::default())]);
    allowed(acl.decide(Z2, ip("2001:db8::1"), Proto::Udp, 0), 0);
    allowed(acl.decide(Z0, ip("10.0.0.1"), Proto::Tcp, 65535), 0);
}

#[test]
fn port_ranges_are_inclusive_at_both_ends() {
    let acl = Acl::new(vec![allow("range", ports(&[(8000, 8080)]))]);
    let at = |p| acl.decide(Z0, ip("10.0.0.1"), Proto::Tcp, p).is_allowed();
    assert!(!at(7999));
    assert!(at(8000));
    assert!(at(8040));
    assert!(at(8080));
    assert!(!at(8081));
}

#[test]
fn port_range_reaching_65535_does_not_wrap() {
    let acl = Acl::new(vec![allow("high", ports(&[(65000, 65535), (0, 0)]))]);
    let at = |p| acl.decide(Z0, ip("10.0.0.1"), Proto::Tcp, p).is_allowed();
    assert!(at(0));
    assert!(!at(1));
    assert!(at(65535));
    assert!(!at(64999));
}

#[test]
fn any_of_several_port_ranges_matches() {
    let acl = Acl::new(vec![allow(
        "web",
        ports(&[(443, 443), (80, 80), (8080, 8090), (81, 81)]),
    )]);
    let at = |p| acl.decide(Z0, ip("10.0.0.1"), Proto::Tcp, p).is_allowed();
    assert!(at(80) && at(81) && at(443) && at(8085));
    assert!(!at(82) && !at(442) && !at(8091));
}

#[test]
fn inverted_port_range_matches_nothing() {
    // Non-empty but inverted must not fall back to "any port".
    let acl = Acl::new(vec![
        deny("inverted", ports(&[(90, 10)])),
        allow("rest", Match::default()),
    ]);
    allowed(acl.decide(Z0, ip("10.0.0.1"), Proto::Tcp, 50), 1);
}

#[test]
fn proto_any_matches_tcp_and_udp() {
    let acl = Acl::new(vec![allow("dns", ports(&[(53, 53)]))]);
    allowed(acl.decide(Z0, ip("10.0.0.1"), Proto::Tcp, 53), 0);
    allowed(acl.decide(Z0, ip("10.0.0.1"), Proto::Udp, 53), 0);
}

#[test]
fn proto_tcp_does_not_match_udp() {
    let acl = Acl::new(vec![
        allow(
            "tcp-only",
            Match {
                proto: Some(Proto::Tcp),
                ..Match::default()
            },
        ),
        deny(
            "udp-only",
            Match {
                proto: Some(Proto::Udp),
                ..Match::default()
            },
        ),
    ]);
    allowed(acl.decide(Z0, ip("10.0.0.1"), Proto::Tcp, 1), 0);
    let d = acl.decide(Z0, ip("10.0.0.1"), Proto::Udp, 1);
    assert_eq!(
        d,
        Decision {
            action: Action::Deny,
            rule: Some(1)
        }
    );
}

#[test]
fn zones_only_requires_the_zone() {
    let acl = Acl::new(vec![allow(
        "internal",
        Match {
            zones: vec![Z1],
            ..Match::default()
        },
    )]);
    allowed(acl.decide(Z1, ip("203.0.113.5"), Proto::Tcp, 443), 0);
    assert!(!acl.decide(Z2, ip("203.0.113.5"), Proto::Tcp, 443).is_allowed());
}

#[test]
fn prefixes_only_require_the_prefix() {
    let m = Match {
        prefixes: vec![net("10.0.0.0/8")],
        ..Match::default()
    };
    let acl = Acl::new(vec![allow("ten", m)]);
    allowed(acl.decide(Z2, ip("10.9.8.7"), Proto::Tcp, 443), 0);
    assert!(!acl.decide(Z2, ip("11.0.0.1"), Proto::Tcp, 443).is_allowed());
}

#[test]
fn zone_or_prefix_either_matches() {
    let m = Match {
        zones: vec![Z1],
        prefixes: vec![net("198.51.100.7/32")],
        ..Match::default()
    };
    let acl = Acl::new(vec![allow("partners-and-monitor", m)]);
    // Zone matches, prefix does not.
    allowed(acl.decide(Z1, ip("203.0.113.5"), Proto::Tcp, 443), 0);
    // Prefix matches, zone does not.
    allowed(acl.decide(Z2, ip("198.51.100.7"), Proto::Tcp, 443), 0);
    // Neither.
    assert!(!acl.decide(Z2, ip("198.51.100.8"), Proto::Tcp, 443).is_allowed());
}

#[test]
fn source_and_port_must_both_match() {
    let m = Match {
        zones: vec![Z1],
        ports: vec![PortRange::single(443)],
        ..Match::default()
    };
    let acl = Acl::new(vec![allow("z1-https", m)]);
    assert!(!acl.decide(Z1, ip("10.0.0.1"), Proto::Tcp, 80).is_allowed());
    assert!(!acl.decide(Z0, ip("10.0.0.1"), Proto::Tcp, 443).is_allowed());
    allowed(acl.decide(Z1, ip("10.0.0.1"), Proto::Tcp, 443), 0);
}

#[test]
fn mapped_v6_source_matches_v4_prefix() {
    let m = Match {
        prefixes: vec![net("192.0.2.0/24")],
        ..Match::default()
    };
    let acl = Acl::new(vec![allow("v4", m)]);
    allowed(acl.decide(Z0, ip("::ffff:192.0.2.44"), Proto::Tcp, 443), 0);
}

#[test]
fn prefixes_never_match_across_families() {
    let m = Match {
        prefixes: vec![net("::/0")],
        ..Match::default()
    };
    let acl = Acl::new(vec![allow("all-v6", m)]);
    assert!(!acl.decide(Z0, ip("192.0.2.1"), Proto::Tcp, 1).is_allowed());
    assert!(!acl.decide(Z0, ip("::ffff:192.0.2.1"), Proto::Tcp, 1).is_allowed());
    allowed(acl.decide(Z0, ip("2001:db8::1"), Proto::Tcp, 1), 0);
}

#[test]
fn prefix_host_bits_are_ignored() {
    let m = Match {
        prefixes: vec![net("10.1.2.3/16")],
        ..Match::default()
    };
    let acl = Acl::new(vec![allow("ten-one", m)]);
    allowed(acl.decide(Z0, ip("10.1.200.200"), Proto::Tcp, 1), 0);
}

#[test]
fn counters_count_each_rule_and_the_implicit_deny() {
    let acl = Acl::new(vec![
        allow("https", ports(&[(443, 443)])),
        deny("ssh", ports(&[(22, 22)])),
    ]);
    let counters = acl.counters();
    for port in [443, 443, 22, 80, 81, 82] {
        counters.count(&acl.decide(Z0, ip("10.0.0.1"), Proto::Tcp, port));
    }
    assert_eq!(counters.snapshot(), vec![2, 1, 3]);
}

#[test]
fn counters_sum_what_many_threads_count() {
    // More threads than shards, so that some share one.
    let acl = Acl::new(vec![allow("https", ports(&[(443, 443)]))]);
    let counters = std::sync::Arc::new(acl.counters());
    let threads: Vec<_> = (0..40)
        .map(|t| {
            let (counters, decision) = (
                counters.clone(),
                acl.decide(Z0, ip("10.0.0.1"), Proto::Tcp, 443 + t % 2),
            );
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    counters.count(&decision);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(counters.snapshot(), vec![20_000, 20_000]);
}

#[test]
fn counters_for_an_empty_acl_hold_only_the_implicit_deny() {
    let counters = AclCounters::new(0);
    counters.count(&Decision::IMPLICIT_DENY);
    assert_eq!(counters.snapshot(), vec![1]);
}

#[test]
fn log_limiter_allows_per_window_then_suppresses() {
    let t0 = Instant::now();
    let limiter = LogLimiter::new(3, Duration::from_secs(1));
    let allowed: Vec<bool> = (0..5).map(|i| limiter.allow(t0 + Duration::from_millis(i))).collect();
    assert_eq!(allowed, [true, true, true, false, false]);
    assert_eq!(limiter.take_suppressed(), 2);
    assert_eq!(limiter.take_suppressed(), 0);
}

#[test]
fn log_limiter_resets_after_the_window() {
    let t0 = Instant::now();
    let limiter = LogLimiter::new(1, Duration::from_secs(10));
    assert!(limiter.allow(t0));
    assert!(!limiter.allow(t0 + Duration::from_millis(9_999)));
    assert!(limiter.allow(t0 + Duration::from_secs(10)));
    assert!(!limiter.allow(t0 + Duration::from_secs(11)));
    // The new window began at t0 + 10s, so it ends at t0 + 20s.
    assert!(!limiter.allow(t0 + Duration::from_millis(19_999)));
    assert!(limiter.allow(t0 + Duration::from_secs(20)));
}

#[test]
fn log_limiter_bounds_a_flood() {
    let t0 = Instant::now();
    let limiter = LogLimiter::new(10, Duration::from_secs(1));
    // 100k denials over 5 seconds: at most 10 lines per started window.
    let logged = (0..100_000u64)
        .filter(|i| limiter.allow(t0 + Duration::from_micros(i * 50)))
        .count();
    assert_eq!(logged, 50);
    assert_eq!(limiter.take_suppressed(), 100_000 - 50);
}

#[test]
fn log_limiter_with_zero_per_window_never_allows() {
    let t0 = Instant::now();
    let limiter = LogLimiter::new(0, Duration::from_secs(1));
    assert!(!limiter.allow(t0));
    assert!(!limiter.allow(t0 + Duration::from_secs(5)));
}

#[test]
fn log_limiter_treats_earlier_instants_as_current_window() {
    let t0 = Instant::now() + Duration::from_secs(1);
    let limiter = LogLimiter::new(1, Duration::from_secs(1));
    assert!(limiter.allow(t0));
    // A racing thread read the clock a little before t0.
    assert!(!limiter.allow(t0 - Duration::from_millis(1)));
}

#[test]
fn acl_types_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Acl>();
    assert_send_sync::<AclCounters>();
    assert_send_sync::<LogLimiter>();
}

// ---- property test ---------------------------------------------------------

/// The definition, read straight off the docs: scan rules in order.
fn reference(rules: &[Rule], zone: ZoneId, src: IpAddr, proto: Proto, port: u16) -> Decision {
    let src = src.to_canonical();
    for (i, r) in rules.iter().enumerate() {
        let m = &r.matcher;
        let source = (m.zones.is_empty() && m.prefixes.is_empty())
            || m.zones.contains(&zone)
            || m.prefixes.iter().any(|n| n.contains(&src));
        let proto_ok = m.proto.is_none_or(|p| p == proto);
        let port_ok = m.ports.is_empty() || m.ports.iter().any(|r| r.first <= port && port <= r.last);
        if source && proto_ok && port_ok {
            return Decision {
                action: r.action,
                rule: Some(i),
            };
        }
    }
    Decision::IMPLICIT_DENY
}

/// Small domains so that rules and packets collide often: 4 zones, ports
/// near 0 and near 65535, and addresses derived from a few base addresses
/// (v4, v6, and v6 over the mapped range).
const PORTS: [u16; 8] = [0, 1, 2, 3, 4, 5, 65534, 65535];

#[derive(Debug, Clone)]
struct Bases {
    v4: [u32; 2],
    v6: [u128; 2],
}

fn bases() -> impl Strategy<Value = Bases> {
    (any::<[u32; 2]>(), any::<u128>()).prop_map(|(v4, v6)| Bases {
        v4,
        v6: [v6, u128::from(Ipv4Addr::from(v4[0]).to_ipv6_mapped())],
    })
}

fn prefix(b: &Bases, family: u8, which: usize, len: u8) -> IpNet {
    if family == 0 {
        IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::from(b.v4[which]), len % 33))
    } else {
        IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::from(b.v6[which]), len % 129))
    }
}

/// A source near a base: family 0 = v4, 1 = v6, 2 = v4 written as mapped v6.
fn source(b: &Bases, family: u8, which: usize, k: u8, noise: u128) -> IpAddr {
    let v4 = || Ipv4Addr::from(b.v4[which] ^ (noise as u32 & !v4_mask(32 - k % 33)));
    match family {
        0 => IpAddr::V4(v4()),
        1 => IpAddr::V6(Ipv6Addr::from(b.v6[which] ^ (noise & !v6_mask(128 - k % 129)))),
        _ => IpAddr::V6(v4().to_ipv6_mapped()),
    }
}

fn proto() -> impl Strategy<Value = Proto> {
    prop_oneof![Just(Proto::Tcp), Just(Proto::Udp)]
}

fn rules(b: Bases) -> impl Strategy<Value = Vec<Rule>> {
    let port = prop::sample::select(&PORTS[..]);
    let one = (
        any::<bool>(),
        prop::collection::vec((0u16..4).prop_map(ZoneId), 0..3),
        prop::collection::vec((0u8..2, 0usize..2, any::<u8>()), 0..3),
        prop::option::of(proto()),
        prop::collection::vec((port.clone(), port), 0..3),
    );
    prop::collection::vec(one, 0..10).prop_map(move |rs| {
        rs.into_iter()
            .enumerate()
            .map(|(i, (allow, zones, prefixes, proto, ports))| Rule {
                name: format!("r{i}"),
                action: if allow { Action::Allow } else { Action::Deny },
                matcher: Match {
                    zones,
                    prefixes: prefixes.into_iter().map(|(f, w, l)| prefix(&b, f, w, l)).collect(),
                    proto,
                    ports: ports.into_iter().map(|(a, z)| PortRange::new(a, z)).collect(),
                },
            })
            .collect()
    })
}

type Packet = (ZoneId, IpAddr, Proto, u16);

fn case() -> impl Strategy<Value = (Vec<Rule>, Vec<Packet>)> {
    bases().prop_flat_map(|b| {
        let packet = (
            (0u16..4).prop_map(ZoneId),
            (0u8..3, 0usize..2, any::<u8>(), any::<u128>()),
            proto(),
            prop::sample::select(&PORTS[..]),
        );
        let b2 = b.clone();
        let packets = prop::collection::vec(packet, 1..24).prop_map(move |ps| {
            ps.into_iter()
                .map(|(z, (f, w, k, noise), p, port)| (z, source(&b2, f, w, k, noise), p, port))
                .collect()
        });
        (rules(b), packets)
    })
}

proptest! {
    #[test]
    fn decide_matches_reference((rules, packets) in case()) {
        let acl = Acl::new(rules.clone());
        for (zone, src, proto, port) in packets {
            prop_assert_eq!(
                acl.decide(zone, src, proto, port),
                reference(&rules, zone, src, proto, port),
                "zone {:?} src {} {:?} port {}", zone, src, proto, port
            );
        }
    }
}
