//! UDP VIPs over real sockets: per-client stickiness, replies from the VIP
//! address, idle expiry of flows, and the gate on new flows.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// A UDP member that answers "<name>:<payload>".
async fn udp_backend(name: &str) -> (SocketAddr, JoinHandle<()>) {
    let s = UdpSocket::bind((ip("127.0.0.1"), free_port(ip("127.0.0.1"))))
        .await
        .unwrap();
    let addr = s.local_addr().unwrap();
    let name = name.to_string();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        loop {
            let (n, from) = s.recv_from(&mut buf).await.unwrap();
            let reply = format!("{name}:{}", String::from_utf8_lossy(&buf[..n]));
            let _ = s.send_to(reply.as_bytes(), from).await;
        }
    });
    (addr, task)
}

fn udp_topology(vip: SocketAddr, members: &[SocketAddr], idle: &str) -> String {
    let members = members
        .iter()
        .map(|m| format!("\"{m}\""))
        .collect::<Vec<_>>()
        .join(", ");
    topology(
        vip,
        &members,
        "algorithm = \"round-robin\"",
        &format!("idle_timeout = \"{idle}\""),
    )
    .replace("protocol = \"tcp\"", "protocol = \"udp\"")
}

/// Sends `payload` and returns the reply's text and where it came from.
async fn ask(s: &UdpSocket, vip: SocketAddr, payload: &str) -> Option<(String, SocketAddr)> {
    s.send_to(payload.as_bytes(), vip).await.unwrap();
    let mut buf = [0u8; 2048];
    match tokio::time::timeout(Duration::from_millis(1000), s.recv_from(&mut buf)).await {
        Ok(Ok((n, from))) => Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_udp_client_sticks_to_one_member_and_hears_back_from_the_vip() {
    let mut members = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..3 {
        let (addr, t) = udp_backend(&format!("m{i}")).await;
        members.push(addr);
        tasks.push(t);
    }
    let vip = SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")));
    let rt = start(&udp_topology(vip, &members, "5s"));
    let mut used = HashSet::new();
    for c in 0..9 {
        let client = UdpSocket::bind((ip("127.0.0.1"), 0)).await.unwrap();
        let mut member_of_client = None;
        for k in 0..5 {
            let (reply, from) = ask(&client, vip, &format!("c{c}-{k}")).await.expect("a reply");
            assert_eq!(from, vip, "replies come from the VIP's address");
            let (member, echoed) = reply.split_once(':').unwrap();
            assert_eq!(echoed, format!("c{c}-{k}"));
            match &member_of_client {
                None => member_of_client = Some(member.to_string()),
                Some(m) => assert_eq!(m, member, "client {c} moved between members"),
            }
        }
        used.insert(member_of_client.unwrap());
    }
    assert_eq!(used.len(), 3, "new flows are balanced over the members");
    let m = rt.metrics();
    assert_eq!(m.vips[0].connections, 9, "one flow per client");
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_udp_flow_expires_and_releases_its_member() {
    let (m0, _t0) = udp_backend("m0").await;
    let (m1, _t1) = udp_backend("m1").await;
    let vip = SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")));
    let rt = Arc::new(start(&udp_topology(vip, &[m0, m1], "300ms")));
    let client = UdpSocket::bind((ip("127.0.0.1"), 0)).await.unwrap();
    let (first, _) = ask(&client, vip, "a").await.unwrap();
    let pools = rt.pools();
    let active = || {
        pools
            .get("p")
            .unwrap()
            .members()
            .iter()
            .map(|m| m.active())
            .sum::<u32>()
    };
    assert_eq!(active(), 1, "the flow holds its member");
    // Traffic within the idle timeout keeps the flow.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (again, _) = ask(&client, vip, "a").await.unwrap();
        assert_eq!(again[..2], first[..2]);
    }
    eventually(Duration::from_secs(3), "the idle flow expires", || active() == 0).await;
    assert_eq!(rt.metrics().vips[0].idle_timeouts, 1);
    // The next datagram opens a new flow: round robin now picks the other member.
    let (next, _) = ask(&client, vip, "b").await.unwrap();
    assert_ne!(next[..2], first[..2], "a new flow after expiry");
    assert_eq!(rt.metrics().vips[0].connections, 2);
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_client_from_a_zone_the_listener_does_not_admit_gets_nothing() {
    let (m0, _t0) = udp_backend("m0").await;
    let vip = SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")));
    let rt = start(&udp_topology(vip, &[m0], "5s").replace("protocol = \"tcp\"", "protocol = \"udp\""));
    let partner = UdpSocket::bind((ip("127.0.0.2"), 0)).await.unwrap();
    assert!(ask(&partner, vip, "x").await.is_none());
    let m = rt.metrics();
    assert_eq!((m.vips[0].denied, m.vips[0].connections), (1, 0));
    // The ACL rule is tcp-only: the udp datagram fell to the implicit deny.
    assert_eq!(rt.gate().counters().snapshot(), vec![0, 1]);
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_keeps_open_udp_flows_until_the_deadline_and_opens_no_new_ones() {
    let (m0, _t0) = udp_backend("m0").await;
    let vip = SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")));
    let rt = Arc::new(start(&udp_topology(vip, &[m0], "5s")));
    let open = UdpSocket::bind((ip("127.0.0.1"), 0)).await.unwrap();
    assert!(ask(&open, vip, "before").await.is_some());
    let stopping = {
        let rt = rt.clone();
        tokio::spawn(async move { rt.shutdown(Duration::from_millis(1500)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (reply, _) = ask(&open, vip, "during").await.expect("the open flow still relays");
    assert_eq!(reply, "m0:during");
    let newcomer = UdpSocket::bind((ip("127.0.0.1"), 0)).await.unwrap();
    assert!(
        ask(&newcomer, vip, "hello").await.is_none(),
        "no new flow while shutting down"
    );
    stopping.await.unwrap();
    assert!(ask(&open, vip, "after").await.is_none(), "closed at the deadline");
}
