//! DNS load balancing: a pool's name answers with its healthy members,
//! rotated, and follows real TCP health checks as members die and recover.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gatehouse_dns::{DnsConfig, TcpHealthChecker};

use crate::common::*;

const POOL: [&str; 3] = ["127.0.1.11", "127.0.1.12", "127.0.1.13"];

/// Polls `pool01` from the intranet until its addresses are `want`.
fn wait_for(addr: SocketAddr, want: &[&str], limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let r = dig(addr, INTRANET, &["A", "pool01.contoso.com"]);
        if r.answers("A") == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "pool01 still answers {:?} after {limit:?}, want {want:?}",
            r.answers("A")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn balanced_pool_drops_a_killed_member_and_returns_it_on_recovery() {
    // Three SIP front ends on one port; the first picks it.
    let first = Backend::start("127.0.1.11:0".parse().unwrap());
    let port = first.addr.port();
    let mut backends = vec![first];
    for ip in &POOL[1..] {
        backends.push(Backend::start(format!("{ip}:{port}").parse().unwrap()));
    }
    let plan = plan(port);
    let checker = TcpHealthChecker::start(&plan).unwrap();
    let server = server_with(plan, checker.clone(), DnsConfig::default());
    let handle = server.clone();
    checker.on_change(move || {
        handle.refresh_health();
    });
    let addr = server.local_addrs()[0];

    let r = dig(addr, INTRANET, &["A", "pool01.contoso.com"]);
    assert_eq!(r.answers("A"), POOL, "{}", r.raw);
    assert!(
        r.records.iter().all(|x| x.3 != "A" || x.2 == 10),
        "the pool's own TTL: {}",
        r.raw
    );

    // Health checks run every 300 ms with fall = 1: a killed member should
    // be gone in well under a second; allow far more on a loaded machine.
    backends[1].kill();
    let gone = wait_for(addr, &["127.0.1.11", "127.0.1.13"], Duration::from_secs(10));
    eprintln!("killed member dropped from DNS after {gone:?}");
    backends[1].revive();
    let back = wait_for(addr, &POOL, Duration::from_secs(10));
    eprintln!("recovered member back in DNS after {back:?}");

    // No member healthy: answer with all of them rather than nothing.
    for b in &mut backends {
        b.kill();
    }
    std::thread::sleep(Duration::from_millis(1500));
    wait_for(addr, &POOL, Duration::from_secs(10));
    assert!(
        server.warnings().iter().any(|w| w.contains("no member is healthy")),
        "{:?}",
        server.warnings()
    );
    checker.stop();
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
