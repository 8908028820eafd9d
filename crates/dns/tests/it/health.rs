//! DNS load balancing: a pool's name answers with its healthy members,
//! rotated, and follows member health as it changes. Health itself comes
//! from the runtime's checks in production (`gatehouse run`, tested in
//! `crates/gatehouse/tests/dns_balancing.rs`); here a switch per member
//! stands in for it, so that the DNS side is tested on its own.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gatehouse_dns::{DnsConfig, MemberHealth};

use crate::common::*;

const POOL: [&str; 3] = ["127.0.1.11", "127.0.1.12", "127.0.1.13"];

/// The up/down of pool01's three members, switched by the test.
struct Switches([AtomicBool; 3]);

impl MemberHealth for Switches {
    fn is_up(&self, pool: &str, member: usize) -> bool {
        pool != "lync-fe-sip" || self.0.get(member).is_some_and(|m| m.load(Ordering::SeqCst))
    }
}

fn pool01(addr: SocketAddr) -> Vec<String> {
    dig(addr, INTRANET, &["A", "pool01.contoso.com"]).answers("A")
}

#[test]
fn balanced_pool_drops_a_down_member_and_returns_it_on_recovery() {
    let health = Arc::new(Switches([true, true, true].map(AtomicBool::new)));
    let server = server_with(plan(5061), health.clone(), DnsConfig::default());
    let addr = server.local_addrs()[0];
    let r = dig(addr, INTRANET, &["A", "pool01.contoso.com"]);
    assert_eq!(r.answers("A"), POOL, "{}", r.raw);
    assert!(
        r.records.iter().all(|x| x.3 != "A" || x.2 == 10),
        "the pool's own TTL: {}",
        r.raw
    );

    health.0[1].store(false, Ordering::SeqCst);
    assert_eq!(pool01(addr), POOL, "answers change only when the server is told");
    assert!(server.refresh_health(), "health changed");
    assert_eq!(pool01(addr), ["127.0.1.11", "127.0.1.13"]);
    assert!(!server.refresh_health(), "nothing changed since");

    health.0[1].store(true, Ordering::SeqCst);
    assert!(server.refresh_health());
    assert_eq!(pool01(addr), POOL);

    // No member healthy: answer with all of them rather than nothing.
    for m in &health.0 {
        m.store(false, Ordering::SeqCst);
    }
    assert!(server.refresh_health());
    assert_eq!(pool01(addr), POOL);
    assert!(
        server.warnings().iter().any(|w| w.contains("no member is healthy")),
        "{:?}",
        server.warnings()
    );
    server.shutdown();
}

#[test]
fn balanced_answers_rotate_between_queries() {
    let (_s, addr) = server();
    let mut firsts = std::collections::HashSet::new();
    for _ in 0..12 {
        let r = dig(addr, INTRANET, &["A", "pool01.contoso.com"]);
        let first = r.records.iter().find(|x| x.0 == "ANSWER").map(|x| x.4.clone()).unwrap();
        firsts.insert(first);
    }
    assert!(
        firsts.len() >= 2,
        "every answer started with the same member: {firsts:?}"
    );
}

#[test]
fn balanced_pool_answers_only_in_its_views() {
    let (_s, addr) = server();
    assert_eq!(dig(addr, VPN, &["A", "pool01.contoso.com"]).answers("A"), POOL);
    assert_eq!(dig(addr, PARTNERS, &["A", "pool01.contoso.com"]).status, "NXDOMAIN");
}
