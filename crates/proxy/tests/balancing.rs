//! Balancing through the proxy: the runtime's pools and health
//! (`gatehouse_runtime::pool`) decide which member gets each request,
//! as under `gatehouse run`. Algorithms, backups, draining, passive
//! ejection, and picks that follow the pools in service across a reload.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::*;
use gatehouse_proxy::HttpProxy;
use gatehouse_runtime::Runtime;

/// A site whose pool `web` uses `algorithm` over `members` (TOML values).
fn site(port: u16, algorithm: &str, members: &[String]) -> String {
    format!(
        "[certificates.lab]\nnames = [\"www.lab.test\"]\n[pools.web]\nservice = \"web\"\nalgorithm = \"{algorithm}\"\n\
         members = [{}]\n[listeners.https]\naddress = \"127.0.0.1\"\nport = {port}\nprotocol = \"https\"\n\
         zones = [\"lab\"]\ncertificates = [\"lab\"]\n[routes.www]\nlisteners = [\"https\"]\n\
         hosts = [\"www.lab.test\"]\npool = \"web\"\n",
        members.join(", ")
    )
}

fn addr(port: u16) -> String {
    format!("\"127.0.0.1:{port}\"")
}

/// The member (echo name, or the status when not 200) of `n` requests on
/// one client connection.
async fn members(c: &mut H1, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let (status, _, body) = send(c, get("www.lab.test", "/")).await;
        out.push(match status {
            200 => body
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("member=")
                .to_string(),
            other => other.to_string(),
        });
    }
    out
}

/// How many of `seen` are each of `names`.
fn counts(seen: &[String], names: &[&str]) -> Vec<usize> {
    names.iter().map(|n| seen.iter().filter(|s| s == n).count()).collect()
}

async fn connect(port: u16) -> H1 {
    h1(SocketAddr::from(([127, 0, 0, 1], port)), "www.lab.test").await
}

#[tokio::test]
async fn round_robin_turns_over_the_primaries_and_backups_serve_only_when_no_primary_is_up() {
    let m = [echo("a").await, echo("b").await, echo("c").await, echo("backup").await];
    let port = free_port();
    let mut list: Vec<String> = m[..3].iter().map(|b| addr(b.port())).collect();
    list.push(format!("{{ address = \"127.0.0.1:{}\", backup = true }}", m[3].port()));
    let (proxy, _) = start(plan(&site(port, "round-robin", &list)), |_| {}).await;
    let names = ["a", "b", "c", "backup"];
    let mut c = connect(port).await;
    assert_eq!(counts(&members(&mut c, 30).await, &names), [10, 10, 10, 0]);

    // A draining member takes no new requests; the others share them.
    let pools = proxy.pools();
    let name = |i: usize| format!("127.0.0.1:{}", m[i].port());
    assert!(pools.set_draining("web", &name(1), true));
    assert_eq!(counts(&members(&mut c, 30).await, &names), [15, 0, 15, 0]);

    // Backups only once no primary is left.
    assert!(pools.set_draining("web", &name(0), true));
    assert!(pools.set_draining("web", &name(2), true));
    assert_eq!(counts(&members(&mut c, 5).await, &names), [0, 0, 0, 5]);

    // Nothing left: 503.
    assert!(pools.set_draining("web", &name(3), true));
    assert_eq!(members(&mut c, 1).await, ["503"]);

    // A primary back in service takes over from the backup at once.
    assert!(pools.set_draining("web", &name(1), false));
    assert!(pools.set_draining("web", &name(3), false));
    assert_eq!(counts(&members(&mut c, 5).await, &names), [0, 5, 0, 0]);
}

/// A weighted-round-robin site over echo members a, b, c with `weights`,
/// and a client connection to it.
async fn weighted(weights: [u32; 3]) -> (HttpProxy, Vec<Backend>, H1) {
    let m = vec![echo("a").await, echo("b").await, echo("c").await];
    let port = free_port();
    let list: Vec<String> = m
        .iter()
        .zip(weights)
        .map(|(b, w)| format!("{{ address = \"127.0.0.1:{}\", weight = {w} }}", b.port()))
        .collect();
    let (proxy, _) = start(plan(&site(port, "weighted-round-robin", &list)), |_| {}).await;
    (proxy, m, connect(port).await)
}

#[tokio::test]
async fn weighted_round_robin_follows_the_weights_and_weight_0_gets_nothing() {
    let (_proxy, _m, mut c) = weighted([3, 1, 0]).await;
    assert_eq!(counts(&members(&mut c, 40).await, &["a", "b", "c"]), [30, 10, 0]);
}

#[tokio::test]
async fn weighted_round_robin_is_smooth() {
    let (_proxy, _m, mut c) = weighted([5, 1, 1]).await;
    let seen = members(&mut c, 14).await;
    // nginx's smooth order, a a b a c a a, never five a's in a row.
    assert_eq!(seen[..7], ["a", "a", "b", "a", "c", "a", "a"], "{seen:?}");
    assert!(!seen.windows(5).any(|w| w.iter().all(|s| s == "a")), "{seen:?}");
}

#[tokio::test]
async fn source_hash_keeps_a_client_on_one_member() {
    let m = [echo("a").await, echo("b").await, echo("c").await];
    let port = free_port();
    let list: Vec<String> = m.iter().map(|b| addr(b.port())).collect();
    let (_proxy, _) = start(plan(&site(port, "source-hash", &list)), |_| {}).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        // A new client connection each time: only the address is the same.
        seen.extend(members(&mut connect(port).await, 4).await);
    }
    assert!(seen.iter().all(|s| *s == seen[0]), "{seen:?}");
    assert!(["a", "b", "c"].contains(&seen[0].as_str()), "{seen:?}");
}

#[tokio::test]
async fn connect_failures_eject_a_member_after_the_configured_count() {
    let live = echo("live").await;
    let dead = free_port();
    let port = free_port();
    let list = [addr(dead), addr(live.port())];
    let (proxy, _) = start(plan(&site(port, "round-robin", &list)), |o| o.passive.failures = 2).await;
    let pools = proxy.pools();
    let failures = || {
        pools.get("web").unwrap().members()[0]
            .metrics()
            .connect_failures
            .load(Ordering::Relaxed)
    };
    let mut c = connect(port).await;
    // Every request reaches the live member: a failed connect is retried.
    for _ in 0..10 {
        if failures() >= 2 {
            break;
        }
        assert_eq!(pools.is_up("web", 0), Some(true), "one failure does not eject");
        assert_eq!(members(&mut c, 1).await, ["live"]);
    }
    assert_eq!(
        (failures(), pools.is_up("web", 0)),
        (2, Some(false)),
        "ejected after two"
    );
    // Ejected: not tried any more while the live member is up.
    assert_eq!(counts(&members(&mut c, 6).await, &["live"]), [6]);
    assert_eq!(failures(), 2);
}

#[tokio::test]
async fn picks_follow_the_runtimes_pools_in_service_across_a_reload() {
    let (a, b) = (echo("a").await, echo("b").await);
    let port = free_port();
    let first = plan(&site(port, "round-robin", &[addr(a.port())]));
    let runtime = Arc::new(Runtime::start(first.clone()).expect("runtime starts"));
    let rt = runtime.clone();
    let (proxy, _) = start(first, move |o| o.runtime = Some(rt)).await;
    let mut old = connect(port).await;
    assert_eq!(members(&mut old, 2).await, ["a", "a"]);

    // The runtime serves the next plan before the proxy does (as between
    // the two commits of `gatehouse run`'s reload), and a connection
    // accepted under the first plan stays on its route table: both pick
    // from the pool in service.
    let second = plan(&site(port, "round-robin", &[addr(b.port())]));
    runtime.reload(second.clone()).expect("runtime reloads");
    assert_eq!(members(&mut old, 2).await, ["b", "b"]);
    proxy.reload(second).await.expect("proxy reloads");
    assert_eq!(members(&mut old, 1).await, ["b"]);
    assert_eq!(members(&mut connect(port).await, 1).await, ["b"]);

    // The runtime's draining is the proxy's.
    runtime
        .set_draining("web", &format!("127.0.0.1:{}", b.port()), true)
        .unwrap();
    assert_eq!(members(&mut old, 1).await, ["503"]);
    shut(proxy, &runtime).await;
}

#[tokio::test]
async fn a_proxy_on_its_own_reloads_its_pools_and_keeps_member_state() {
    let (a, b) = (echo("a").await, echo("b").await);
    let port = free_port();
    let (proxy, _) = start(plan(&site(port, "round-robin", &[addr(a.port())])), |_| {}).await;
    let mut old = connect(port).await;
    assert_eq!(members(&mut old, 1).await, ["a"]);
    let a_name = format!("127.0.0.1:{}", a.port());
    assert!(proxy.pools().set_draining("web", &a_name, true));
    let second = plan(&site(port, "round-robin", &[addr(a.port()), addr(b.port())]));
    proxy.reload(second).await.expect("proxy reloads");
    // The connection accepted before picks from the new pool; `a` is still
    // draining there (state is kept by member across reloads).
    assert_eq!(members(&mut old, 3).await, ["b", "b", "b"]);
    assert!(proxy.pools().set_draining("web", &a_name, false));
    assert_eq!(counts(&members(&mut old, 4).await, &["a", "b"]), [2, 2]);
}

async fn shut(proxy: HttpProxy, runtime: &Runtime) {
    proxy.shutdown(std::time::Duration::ZERO).await;
    runtime.shutdown(std::time::Duration::ZERO).await;
}
