//! Each balancing algorithm over real sockets: 1,000 connections through a
//! TCP VIP to three backends, and the share each backend got.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use common::*;

async fn backends(n: usize) -> Vec<Backend> {
    let mut out = Vec::new();
    for i in 0..n {
        let addr = SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")));
        out.push(Backend::start(&format!("b{i}"), addr).await);
    }
    out
}

fn members(bs: &[Backend], weights: &[u32]) -> String {
    bs.iter()
        .zip(weights)
        .map(|(b, w)| format!("{{ address = \"{}\", weight = {w} }}", b.addr))
        .collect::<Vec<_>>()
        .join(", ")
}

fn vip_addr() -> SocketAddr {
    SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")))
}

fn assert_share(counts: &HashMap<String, usize>, name: &str, expected: f64, total: usize, tolerance: f64) {
    let got = *counts.get(name).unwrap_or(&0) as f64 / total as f64;
    assert!(
        (got - expected).abs() <= tolerance,
        "{name} got {:.1}% of {total}, expected {:.1}% ± {:.1}: {counts:?}",
        got * 100.0,
        expected * 100.0,
        tolerance * 100.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_spreads_1000_connections_evenly() {
    let bs = backends(3).await;
    let vip = vip_addr();
    let rt = start(&topology(
        vip,
        &members(&bs, &[1, 1, 1]),
        "algorithm = \"round-robin\"",
        "",
    ));
    let counts = distribution(ip("127.0.0.1"), vip, 1000).await;
    for b in &bs {
        assert_share(&counts, &b.name, 1.0 / 3.0, 1000, 0.02);
    }
    rt.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_round_robin_follows_weights() {
    let bs = backends(3).await;
    let vip = vip_addr();
    let rt = start(&topology(
        vip,
        &members(&bs, &[3, 2, 1]),
        "algorithm = \"weighted-round-robin\"",
        "",
    ));
    let counts = distribution(ip("127.0.0.1"), vip, 1000).await;
    assert_share(&counts, "b0", 3.0 / 6.0, 1000, 0.02);
    assert_share(&counts, "b1", 2.0 / 6.0, 1000, 0.02);
    assert_share(&counts, "b2", 1.0 / 6.0, 1000, 0.02);
    rt.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_connections_balances_1000_open_connections_by_weight() {
    let bs = backends(3).await;
    let vip = vip_addr();
    let rt = start(&topology(
        vip,
        &members(&bs, &[2, 1, 1]),
        "algorithm = \"least-connections\"",
        "",
    ));
    // Hold every connection open: each new one must go to the member with
    // the fewest open connections per unit of weight.
    let mut held = Vec::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..1000 {
        let (name, conn) = who(ip("127.0.0.1"), vip).await;
        *counts.entry(name).or_default() += 1;
        held.push(conn);
    }
    assert_share(&counts, "b0", 0.5, 1000, 0.01);
    assert_share(&counts, "b1", 0.25, 1000, 0.01);
    assert_share(&counts, "b2", 0.25, 1000, 0.01);
    let pool = rt.pools();
    let active: Vec<u32> = pool.get("p").unwrap().members().iter().map(|m| m.active()).collect();
    assert_eq!(
        active.iter().sum::<u32>(),
        1000,
        "the pool counts every open connection: {active:?}"
    );
    rt.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_connections_sends_new_connections_to_the_emptied_member() {
    let bs = backends(3).await;
    let vip = vip_addr();
    let rt = start(&topology(
        vip,
        &members(&bs, &[1, 1, 1]),
        "algorithm = \"least-connections\"",
        "",
    ));
    let mut held = Vec::new();
    for _ in 0..30 {
        held.push(who(ip("127.0.0.1"), vip).await);
    }
    // Close the ten on b1; the next ten must all go there.
    held.retain(|(name, _)| name != "b1");
    let pool = rt.pools();
    let b1 = pool.get("p").unwrap().index_of(&bs[1].addr.to_string()).unwrap();
    eventually(std::time::Duration::from_secs(5), "b1's connections close", || {
        pool.get("p").unwrap().members()[b1].active() == 0
    })
    .await;
    for _ in 0..10 {
        let (name, conn) = who(ip("127.0.0.1"), vip).await;
        assert_eq!(name, "b1");
        held.push((name, conn));
    }
    rt.shutdown(std::time::Duration::from_secs(1)).await;
}

/// 1,000 clients, each from its own source address in 127.1.0.0/16.
fn client(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8))
}

async fn placement(vip: SocketAddr, clients: usize) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..clients {
        out.push(who(client(i), vip).await.0);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_hash_spreads_clients_sticks_and_moves_only_a_removed_members_share() {
    let bs = backends(3).await;
    let vip = vip_addr();
    let text = |bs: &[&Backend]| {
        let m = bs
            .iter()
            .map(|b| format!("\"{}\"", b.addr))
            .collect::<Vec<_>>()
            .join(", ");
        topology(vip, &m, "algorithm = \"source-hash\"", "")
    };
    let rt = start(&text(&[&bs[0], &bs[1], &bs[2]]));
    let first = placement(vip, 1000).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for name in &first {
        *counts.entry(name.clone()).or_default() += 1;
    }
    for b in &bs {
        // Hashing 1,000 addresses: about 15 connections of standard deviation.
        assert_share(&counts, &b.name, 1.0 / 3.0, 1000, 0.06);
    }
    // Every client comes back to its member.
    let again = placement(vip, 200).await;
    assert_eq!(&again[..], &first[..200], "source hash is sticky");

    // Remove b2: its clients move, the others' (almost) do not.
    rt.reload(plan(&text(&[&bs[0], &bs[1]]))).unwrap();
    let after = placement(vip, 1000).await;
    let kept = first.iter().filter(|n| *n != "b2").count();
    let moved = first
        .iter()
        .zip(&after)
        .filter(|(before, now)| *before != "b2" && before != now)
        .count();
    assert!(
        moved * 100 <= kept * 3,
        "{moved} of {kept} clients of the remaining members moved"
    );
    assert!(after.iter().all(|n| n != "b2"));
    rt.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_hash_keeps_clients_of_healthy_members_when_one_goes_down() {
    let bs = backends(3).await;
    let vip = vip_addr();
    let m = bs
        .iter()
        .map(|b| format!("\"{}\"", b.addr))
        .collect::<Vec<_>>()
        .join(", ");
    let rt = start(&topology(vip, &m, "algorithm = \"source-hash\"", ""));
    let first = placement(vip, 300).await;
    assert!(rt.set_draining("p", &bs[0].addr.to_string(), true).is_ok());
    let after = placement(vip, 300).await;
    for (before, now) in first.iter().zip(&after) {
        if before != "b0" {
            assert_eq!(before, now, "a client of a healthy member moved");
        } else {
            assert_ne!(now, "b0");
        }
    }
    rt.set_draining("p", &bs[0].addr.to_string(), false).unwrap();
    assert_eq!(
        placement(vip, 300).await,
        first,
        "clients come back when the member does"
    );
    rt.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_max_connections_caps_open_connections() {
    let bs = backends(2).await;
    let vip = vip_addr();
    let m = format!(
        "{{ address = \"{}\", max_connections = 5 }}, \"{}\"",
        bs[0].addr, bs[1].addr
    );
    let rt = start(&topology(vip, &m, "algorithm = \"round-robin\"", ""));
    let mut held = Vec::new();
    for _ in 0..40 {
        held.push(who(ip("127.0.0.1"), vip).await);
    }
    let on_b0 = held.iter().filter(|(n, _)| n == "b0").count();
    assert_eq!(on_b0, 5, "b0 is capped at 5 open connections");
    rt.shutdown(std::time::Duration::from_secs(1)).await;
}
