//! TCP VIPs over real sockets: half-close, idle timeout, the accept-phase
//! zone/ACL decision, connection limits, port ranges with port-less
//! members, reload and graceful shutdown.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn local() -> SocketAddr {
    SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")))
}

async fn read_to_end(s: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("EOF within 5s")
        .expect("clean EOF");
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_half_close_reaches_the_member_and_its_answer_still_comes_back() {
    let b = Backend::start("b0", local()).await;
    let vip = local();
    let rt = start(&topology(vip, &format!("\"{}\"", b.addr), "", ""));
    let mut s = TcpStream::connect(vip).await.unwrap();
    s.write_all(b"request").await.unwrap();
    s.shutdown().await.unwrap(); // FIN: "that is all I send"
                                 // The echo backend sees EOF only if the FIN was passed on; it then
                                 // echoes and closes, and both reach us.
    assert_eq!(read_to_end(&mut s).await, "b0\nrequest");
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_half_close_reaches_the_client_who_can_still_send() {
    // A member that greets, closes its side, then reads what the client sends.
    let listener = bind_reusable(local());
    let member = listener.local_addr().unwrap();
    let got = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"220 bye\r\n").await.unwrap();
        s.shutdown().await.unwrap();
        let mut rest = String::new();
        s.read_to_string(&mut rest).await.unwrap();
        rest
    });
    let vip = local();
    let rt = start(&topology(vip, &format!("\"{member}\""), "", ""));
    let mut s = TcpStream::connect(vip).await.unwrap();
    assert_eq!(read_to_end(&mut s).await, "220 bye\r\n");
    s.write_all(b"late data").await.unwrap();
    s.shutdown().await.unwrap();
    assert_eq!(got.await.unwrap(), "late data");
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_closes_quiet_connections_but_not_busy_ones() {
    let b = Backend::start("b0", local()).await;
    let vip = local();
    let rt = start(&topology(
        vip,
        &format!("\"{}\"", b.addr),
        "",
        "idle_timeout = \"400ms\"",
    ));
    let (_, mut quiet) = who(ip("127.0.0.1"), vip).await;
    let (_, mut busy) = who(ip("127.0.0.1"), vip).await;
    let started = Instant::now();
    // The busy one talks every 100 ms for 1 s.
    for _ in 0..10 {
        busy.get_mut().write_all(b"x\n").await.unwrap();
        let mut line = String::new();
        busy.read_line(&mut line).await.unwrap();
        assert_eq!(line, "x\n");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(read_outcome(&mut quiet).await, Ok(0), "the quiet connection was closed");
    assert!(started.elapsed() >= Duration::from_millis(400));
    let m = rt.metrics();
    assert_eq!(m.vips[0].idle_timeouts, 1);
    rt.shutdown(Duration::from_secs(1)).await;
}

/// The VIP resets the connection at once. The reset can win the race with
/// the client's own connect, which then reports it.
async fn assert_reset(from: std::net::IpAddr, vip: SocketAddr) {
    match connect_from(from, vip).await {
        Ok(mut s) => assert_eq!(read_outcome(&mut s).await, Err(std::io::ErrorKind::ConnectionReset)),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_zone_is_closed_before_a_byte_is_read_and_counted_per_rule() {
    let b = Backend::start("b0", local()).await;
    let vip = SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")));
    // The ACL admits partners too, but the listener admits only the internet.
    let text = topology(vip, &format!("\"{}\"", b.addr), "", "")
        .replace("from = [\"internet\"]", "from = [\"internet\", \"partners\"]");
    let mut text = text;
    text.push_str(&format!(
        "\n[[acl]]\nname = \"no-udp\"\naction = \"deny\"\nfrom = [\"partners\"]\nprotocol = \"udp\"\nports = [{}]\n",
        vip.port()
    ));
    let rt = start(&text);
    // 127.0.0.2 is in "partners": allowed by the ACL, refused by the listener.
    assert_reset(ip("127.0.0.2"), vip).await;
    // 127.0.0.1 is in "internet": served.
    assert_eq!(who(ip("127.0.0.1"), vip).await.0, "b0");
    assert_eq!(
        b.accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the denied client never reached a member"
    );
    // The gateway rule "vip-from-internet" counted both decisions.
    assert_eq!(rt.gate().counters().snapshot(), vec![2, 0, 0]);
    assert_eq!(rt.metrics().vips[0].denied, 1);

    // A port the ACL does not open: the implicit deny.
    let plan = plan(&text.replace(
        &format!("ports = [{}]\n\n[[acl]]", vip.port()),
        "ports = [1]\n\n[[acl]]",
    ));
    rt.reload(plan).unwrap();
    assert_reset(ip("127.0.0.1"), vip).await;
    assert_eq!(
        rt.gate().counters().snapshot(),
        vec![0, 0, 1],
        "counted as the implicit deny"
    );
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vip_max_connections_holds_new_clients_until_a_slot_frees() {
    let b = Backend::start("b0", local()).await;
    let vip = local();
    let rt = start(&topology(vip, &format!("\"{}\"", b.addr), "", "max_connections = 2"));
    let first = who(ip("127.0.0.1"), vip).await;
    let _second = who(ip("127.0.0.1"), vip).await;
    // The third connects (kernel backlog) but is not served yet.
    let third = TcpStream::connect(vip).await.unwrap();
    let mut third = BufReader::new(third);
    let mut line = String::new();
    let waited = tokio::time::timeout(Duration::from_millis(300), third.read_line(&mut line)).await;
    assert!(waited.is_err(), "served beyond max_connections: {line:?}");
    drop(first);
    tokio::time::timeout(Duration::from_secs(5), third.read_line(&mut line))
        .await
        .expect("served once a slot freed")
        .unwrap();
    assert_eq!(line, "b0\n");
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_range_vip_reaches_portless_members_on_the_clients_port() {
    let first = free_range(ip("127.0.0.3"), 3);
    let mut backends = Vec::new();
    for port in first..first + 3 {
        // The member is 127.0.0.4 on every port of the range.
        backends.push(Backend::start(&format!("port {port}"), SocketAddr::new(ip("127.0.0.4"), port)).await);
    }
    let text = format!(
        r#"
[gatehouse]
name = "test"
[zones.internet]
[services.av]
product = "lync"
class = "lync-sip"
[pools.edge]
service = "av"
members = ["127.0.0.4"]
[listeners.media]
address = "127.0.0.3"
port = "{first}-{last}"
protocol = "tcp"
zones = ["internet"]
pool = "edge"
[[acl]]
action = "allow"
from = ["internet"]
protocol = "tcp"
ports = ["{first}-{last}"]
"#,
        last = first + 2
    );
    let rt = start(&text);
    for port in first..first + 3 {
        let (name, _) = who(ip("127.0.0.1"), SocketAddr::new(ip("127.0.0.3"), port)).await;
        assert_eq!(name, format!("port {port}"));
    }
    rt.shutdown(Duration::from_secs(1)).await;
}

fn two_vips(a: SocketAddr, a_member: SocketAddr, b: Option<(SocketAddr, SocketAddr)>) -> String {
    let mut text = topology(a, &format!("\"{a_member}\""), "", "");
    if let Some((vip, member)) = b {
        text.push_str(&format!(
            r#"
[pools.q]
service = "mail"
members = ["{member}"]
[listeners.second]
address = "{}"
port = {}
protocol = "tcp"
zones = ["internet"]
pool = "q"
[[acl]]
action = "allow"
from = ["internet"]
protocol = "tcp"
ports = [{}]
"#,
            vip.ip(),
            vip.port(),
            vip.port()
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_plans_keeps_in_flight_connections_and_adds_and_removes_listeners() {
    let old = Backend::start("old", local()).await;
    let new = Backend::start("new", local()).await;
    let (a, b) = (local(), local());
    let rt = start(&two_vips(a, old.addr, None));
    let (name, mut in_flight) = who(ip("127.0.0.1"), a).await;
    assert_eq!(name, "old");
    assert!(TcpStream::connect(b).await.is_err(), "b is not a listener yet");

    // VIP a now goes to `new`, and VIP b appears.
    rt.reload(plan(&two_vips(a, new.addr, Some((b, old.addr))))).unwrap();
    assert_eq!(
        who(ip("127.0.0.1"), a).await.0,
        "new",
        "new connections use the new plan"
    );
    assert_eq!(who(ip("127.0.0.1"), b).await.0, "old");
    in_flight.get_mut().write_all(b"still old\n").await.unwrap();
    let mut line = String::new();
    in_flight.read_line(&mut line).await.unwrap();
    assert_eq!(line, "still old\n", "the in-flight connection finishes on its plan");

    // Only b remains: a stops accepting.
    let only_b = two_vips(b, old.addr, None).replace("[listeners.vip]", "[listeners.second]");
    rt.reload(plan(&only_b)).unwrap();
    eventually(Duration::from_secs(2), "a stops accepting", || {
        std::net::TcpStream::connect(a).is_err()
    })
    .await;
    assert_eq!(who(ip("127.0.0.1"), b).await.0, "old");
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_cannot_bind_keeps_the_old_plan_running() {
    let member = Backend::start("b0", local()).await;
    let (a, taken) = (local(), local());
    let _squatter = std::net::TcpListener::bind(taken).unwrap();
    let rt = start(&two_vips(a, member.addr, None));
    let before = rt.plan();
    let err = rt
        .reload(plan(&two_vips(a, member.addr, Some((taken, member.addr)))))
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("listener \"second\""), "{text}");
    assert!(text.contains(&taken.to_string()), "{text}");
    assert!(text.contains("already uses this port"), "{text}");
    assert!(Arc::ptr_eq(&before, &rt.plan()), "the old plan is still current");
    assert_eq!(who(ip("127.0.0.1"), a).await.0, "b0", "and still serving");
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_fails_with_the_listener_and_address_that_cannot_bind() {
    let taken = local();
    let _squatter = std::net::TcpListener::bind(taken).unwrap();
    let err = gatehouse_runtime::Runtime::start(plan(&topology(taken, "\"127.0.0.1:9\"", "", ""))).unwrap_err();
    assert_eq!(err.listener, "vip");
    assert_eq!(err.addr, taken);
    assert!(err
        .to_string()
        .starts_with(&format!("listener \"vip\" cannot listen on tcp {taken}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_lets_connections_finish_then_closes_at_the_deadline() {
    let b = Backend::start("b0", local()).await;
    let vip = local();
    let rt = Arc::new(start(&topology(vip, &format!("\"{}\"", b.addr), "", "")));
    let (_, mut open) = who(ip("127.0.0.1"), vip).await;
    assert_eq!(rt.open_connections(), 1);
    let started = Instant::now();
    let stopping = {
        let rt = rt.clone();
        tokio::spawn(async move { rt.shutdown(Duration::from_millis(800)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(vip).await.is_err(), "no longer accepting");
    // The open connection still works during the grace period...
    open.get_mut().write_all(b"draining\n").await.unwrap();
    let mut line = String::new();
    open.read_line(&mut line).await.unwrap();
    assert_eq!(line, "draining\n");
    // ...and is closed at the deadline.
    assert_eq!(read_outcome(&mut open).await, Ok(0));
    stopping.await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(4),
        "shutdown took {took:?}"
    );
    assert_eq!(rt.open_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_as_soon_as_the_last_connection_finishes() {
    let b = Backend::start("b0", local()).await;
    let vip = local();
    let rt = Arc::new(start(&topology(vip, &format!("\"{}\"", b.addr), "", "")));
    let (_, open) = who(ip("127.0.0.1"), vip).await;
    let started = Instant::now();
    let stopping = {
        let rt = rt.clone();
        tokio::spawn(async move { rt.shutdown(Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(open);
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("shutdown ends early")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_state_survives_a_reload_for_members_that_still_exist() {
    let (b0, b1) = (Backend::start("b0", local()).await, Backend::start("b1", local()).await);
    let vip = local();
    let members = format!("\"{}\", \"{}\"", b0.addr, b1.addr);
    let rt = start(&topology(vip, &members, "", ""));
    rt.set_draining("p", &b0.addr.to_string(), true).unwrap();
    let (_, _held) = who(ip("127.0.0.1"), vip).await;
    // Same members, another algorithm: state and counts carry over.
    rt.reload(plan(&topology(
        vip,
        &members,
        "algorithm = \"least-connections\"",
        "idle_timeout = \"1h\"",
    )))
    .unwrap();
    let pools = rt.pools();
    let p = pools.get("p").unwrap();
    assert_eq!(p.members()[0].status(), gatehouse_runtime::Status::Draining);
    assert_eq!(p.members()[1].active(), 1, "the open connection still counts");
    assert_eq!(who(ip("127.0.0.1"), vip).await.0, "b1");
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_vip_serves_ipv6_clients() {
    let b = Backend::start("v6", SocketAddr::new(ip("::1"), free_port(ip("::1")))).await;
    let vip = SocketAddr::new(ip("::1"), free_port(ip("::1")));
    let rt = start(&topology(vip, &format!("\"{}\"", b.addr), "", ""));
    assert_eq!(who(ip("::1"), vip).await.0, "v6");
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_named_by_host_name_is_resolved_and_served() {
    // "localhost" may resolve to 127.0.0.1 or ::1 first: listen on both.
    let port = loop {
        let p = free_port(ip("127.0.0.1"));
        if std::net::TcpListener::bind((ip("::1"), p)).is_ok() {
            break p;
        }
    };
    let _v4 = Backend::start("named", SocketAddr::new(ip("127.0.0.1"), port)).await;
    let _v6 = Backend::start("named", SocketAddr::new(ip("::1"), port)).await;
    let vip = local();
    let rt = start(&topology(vip, &format!("\"localhost:{port}\""), "", ""));
    let pools = rt.pools();
    eventually(Duration::from_secs(5), "localhost resolves", || {
        pools.is_up("p", 0) == Some(true)
    })
    .await;
    assert_eq!(who(ip("127.0.0.1"), vip).await.0, "named");
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_queues_while_every_member_is_at_max_connections() {
    let b = Backend::start("b0", local()).await;
    let vip = local();
    let text = topology(
        vip,
        &format!("{{ address = \"{}\", max_connections = 1 }}", b.addr),
        "",
        "",
    );
    init_logs();
    let options = gatehouse_runtime::RuntimeOptions {
        queue_timeout: Duration::from_millis(800),
        ..options()
    };
    let rt = gatehouse_runtime::Runtime::start_with(plan(&text), options).unwrap();
    let first = who(ip("127.0.0.1"), vip).await;

    // Queued, then served when the first connection closes.
    let mut queued = BufReader::new(TcpStream::connect(vip).await.unwrap());
    let mut line = String::new();
    let waited = tokio::time::timeout(Duration::from_millis(300), queued.read_line(&mut line)).await;
    assert!(waited.is_err(), "served beyond the member's max_connections: {line:?}");
    drop(first);
    tokio::time::timeout(Duration::from_secs(2), queued.read_line(&mut line))
        .await
        .expect("served from the queue")
        .unwrap();
    assert_eq!(line, "b0\n");

    // Nobody leaves: the queued connection gives up after the queue timeout.
    let started = Instant::now();
    let mut late = TcpStream::connect(vip).await.unwrap();
    assert_eq!(read_outcome(&mut late).await, Err(std::io::ErrorKind::ConnectionReset));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(700) && waited < Duration::from_secs(4),
        "waited {waited:?}"
    );
    assert_eq!(rt.metrics().vips[0].no_member, 1);
    rt.shutdown(Duration::from_secs(1)).await;
}
