//! A TCP VIP behind another load balancer (`trusted_proxies` and
//! `client_address = "proxy-protocol"`), over real sockets: the trusted
//! balancer's PROXY header names the client whose zone and ACL decide, the
//! member and source hashing see that client, a trusted peer without a
//! good header is closed, and anyone else's "header" is just payload.
//!
//! Addresses: 127.0.0.5 is the trusted balancer, 127.0.0.6 is "partners"
//! (allowed), 127.0.0.7 is "blocked" (denied by the ACL), and everything
//! else (127.0.0.8, 127.0.1.x) is the "internet" zone (allowed).

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use gatehouse_model::topology::Transport;
use gatehouse_runtime::l4::proxy_protocol::{v1, v2};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const BALANCER: &str = "127.0.0.5";
const PARTNER: &str = "127.0.0.6";
const BLOCKED: &str = "127.0.0.7";
const STRANGER: &str = "127.0.0.8";

fn topology(vip: SocketAddr, members: &str, pool_extra: &str, listener_extra: &str) -> String {
    format!(
        r#"
[gatehouse]
name = "test"

[zones.internet]
[zones.partners]
prefixes = ["{PARTNER}/32"]
[zones.blocked]
prefixes = ["{BLOCKED}/32"]

[services.mail]
product = "exchange"
class = "exchange-mail"

[pools.p]
service = "mail"
members = [{members}]
{pool_extra}

[listeners.vip]
address = "{ip}"
port = {port}
protocol = "tcp"
zones = ["internet", "partners"]
pool = "p"
trusted_proxies = ["{BALANCER}/32"]
client_address = "proxy-protocol"
{listener_extra}

[[acl]]
name = "no-blocked"
action = "deny"
from = ["blocked"]

[[acl]]
name = "vip"
action = "allow"
from = ["internet", "partners"]
protocol = "tcp"
ports = [{port}]
"#,
        ip = vip.ip(),
        port = vip.port(),
    )
}

fn vip_addr() -> SocketAddr {
    SocketAddr::new(ip("127.0.0.3"), free_port(ip("127.0.0.3")))
}

fn claim(client: &str, vip: SocketAddr) -> (SocketAddr, SocketAddr) {
    (SocketAddr::new(ip(client), 40000), vip)
}

/// Connects from `from`, sends `first` and reads the member's name line;
/// `None` when the VIP closed (or reset) instead.
async fn via(from: &str, vip: SocketAddr, first: &[u8]) -> Option<(String, BufReader<TcpStream>)> {
    // A VIP that resets before reading may do so before connect() returns.
    let mut s = match connect_from(ip(from), vip).await {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
        Err(e) => panic!("connect to the VIP: {e}"),
    };
    // A write racing the VIP's reset may fail; the read below says what happened.
    let _ = s.write_all(first).await;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    match tokio::time::timeout(Duration::from_secs(5), r.read_line(&mut line)).await {
        Ok(Ok(n)) if n > 0 && line.ends_with('\n') => {
            line.pop();
            Some((line, r))
        }
        Ok(_) => None,
        Err(_) => panic!("neither served nor closed within 5 s"),
    }
}

async fn served_by(b: &Backend, vip: SocketAddr, from: &str, first: &[u8]) -> bool {
    match via(from, vip, first).await {
        Some((name, _)) => {
            assert_eq!(name, b.name);
            true
        }
        None => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_balancers_v2_header_decides_the_zone_not_the_balancer() {
    let b = Backend::start("b0", SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")))).await;
    let vip = vip_addr();
    let rt = start(&topology(vip, &format!("\"{}\"", b.addr), "", ""));
    let (partner, to) = claim(PARTNER, vip);
    assert!(served_by(&b, vip, BALANCER, &v2(partner, to, Transport::Tcp)).await);
    let (blocked, to) = claim(BLOCKED, vip);
    assert!(!served_by(&b, vip, BALANCER, &v2(blocked, to, Transport::Tcp)).await);
    assert_eq!(
        b.accepted.load(Ordering::SeqCst),
        1,
        "the blocked client never reached a member"
    );
    // ACL: "vip" allowed the partner; "no-blocked" denied the claimed client.
    assert_eq!(rt.gate().counters().snapshot(), vec![1, 1, 0]);
    let m = &rt.metrics().vips[0];
    assert_eq!((m.connections, m.denied, m.bad_proxy_headers), (1, 1, 0));
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_balancers_v1_header_decides_the_zone_and_the_payload_follows_intact() {
    let b = Backend::start("b0", SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")))).await;
    let vip = vip_addr();
    let rt = start(&topology(vip, &format!("\"{}\"", b.addr), "", ""));
    let (partner, to) = claim(PARTNER, vip);
    let mut first = v1(partner, to).into_bytes();
    first.extend_from_slice(b"EHLO partner\n");
    let (_, mut r) = via(BALANCER, vip, &first).await.expect("the partner is served");
    // The echo member got exactly the bytes after the header.
    let mut echoed = String::new();
    r.read_line(&mut echoed).await.unwrap();
    assert_eq!(echoed, "EHLO partner\n");
    let (blocked, to) = claim(BLOCKED, vip);
    assert!(!served_by(&b, vip, BALANCER, v1(blocked, to).as_bytes()).await);
    // v1 UNKNOWN (and v2 LOCAL) name no client: the balancer's own zone
    // (internet) decides, as for its health checks.
    assert!(served_by(&b, vip, BALANCER, b"PROXY UNKNOWN\r\n").await);
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_peer_without_a_good_header_is_closed_and_counted() {
    let b = Backend::start("b0", SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")))).await;
    let vip = vip_addr();
    let rt = start(&topology(vip, &format!("\"{}\"", b.addr), "", ""));
    assert!(!served_by(&b, vip, BALANCER, b"GET / HTTP/1.0\r\n\r\n").await);
    assert!(!served_by(&b, vip, BALANCER, b"PROXY TCP4 127.0.0.6 nonsense\r\n").await);
    let mut bad_v2 = v2(claim(PARTNER, vip).0, vip, Transport::Tcp);
    bad_v2[12] = 0x13; // version 1 under the v2 signature
    assert!(!served_by(&b, vip, BALANCER, &bad_v2).await);
    // Closing before the header is complete.
    let mut s = connect_from(ip(BALANCER), vip).await.unwrap();
    s.write_all(b"PROXY TCP4 127.0.0.6").await.unwrap();
    s.shutdown().await.unwrap();
    assert!(matches!(
        read_outcome(&mut s).await,
        Ok(0) | Err(std::io::ErrorKind::ConnectionReset)
    ));
    eventually(Duration::from_secs(5), "four refused headers counted", || {
        rt.metrics().vips[0].bad_proxy_headers == 4
    })
    .await;
    assert_eq!(b.accepted.load(Ordering::SeqCst), 0);
    assert_eq!(
        rt.gate().counters().snapshot(),
        vec![0, 0, 0],
        "no ACL decision was made"
    );
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_clients_proxy_header_is_payload_and_its_own_zone_decides() {
    let b = Backend::start("b0", SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")))).await;
    let vip = vip_addr();
    let rt = start(&topology(vip, &format!("\"{}\"", b.addr), "", ""));
    let forged = v1(claim(PARTNER, vip).0, vip);
    let (_, mut r) = via(STRANGER, vip, forged.as_bytes())
        .await
        .expect("the stranger is in the internet zone, which is allowed");
    let mut echoed = String::new();
    r.read_line(&mut echoed).await.unwrap();
    assert_eq!(echoed, forged, "the forged header reached the member as payload");
    // A blocked client claiming to be a partner is still blocked.
    let forged = v2(claim(PARTNER, vip).0, vip, Transport::Tcp);
    assert!(!served_by(&b, vip, BLOCKED, &forged).await);
    let m = &rt.metrics().vips[0];
    assert_eq!((m.connections, m.denied, m.bad_proxy_headers), (1, 1, 0));
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_sent_on_to_the_member_names_the_client_not_the_balancer() {
    let member = bind_reusable(SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1"))));
    let at = member.local_addr().unwrap();
    let vip = vip_addr();
    let rt = start(&topology(vip, &format!("\"{at}\""), "", "proxy_protocol = \"v1\""));
    let got = tokio::spawn(async move {
        let (s, _) = member.accept().await.unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).await.unwrap();
        line
    });
    let mut s = connect_from(ip(BALANCER), vip).await.unwrap();
    s.write_all(&v2(SocketAddr::new(ip(PARTNER), 51000), vip, Transport::Tcp))
        .await
        .unwrap();
    let line = tokio::time::timeout(Duration::from_secs(5), got)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        line,
        format!("PROXY TCP4 {PARTNER} {} 51000 {}\r\n", vip.ip(), vip.port())
    );
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_hashing_places_a_client_named_by_the_balancer_where_it_places_that_client_directly() {
    let mut bs = Vec::new();
    for i in 0..3 {
        bs.push(
            Backend::start(
                &format!("b{i}"),
                SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1"))),
            )
            .await,
        );
    }
    let members = bs
        .iter()
        .map(|b| format!("\"{}\"", b.addr))
        .collect::<Vec<_>>()
        .join(", ");
    let vip = vip_addr();
    let rt = start(&topology(vip, &members, "algorithm = \"source-hash\"", ""));
    let mut seen = std::collections::HashSet::new();
    for i in 1..=12u8 {
        let client = IpAddr::from([127, 0, 1, i]);
        let direct = who(client, vip).await.0;
        let header = v2(SocketAddr::new(client, 40000), vip, Transport::Tcp);
        let (named, _) = via(BALANCER, vip, &header).await.expect("served");
        assert_eq!(named, direct, "{client}");
        seen.insert(named);
    }
    assert!(seen.len() > 1, "every claimed client went to one member: {seen:?}");
    rt.shutdown(Duration::from_secs(1)).await;
}
