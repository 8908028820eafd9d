//! Active and passive health over real sockets: failover, rise, backups,
//! draining, and http(s) checks that hold Exchange's healthcheck.htm to
//! its status and body.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::http::HttpBackend;
use common::*;
use gatehouse_runtime::Status;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

const INTERVAL_MS: u64 = 200;
const FALL: u64 = 3;

fn local() -> SocketAddr {
    SocketAddr::new(ip("127.0.0.1"), free_port(ip("127.0.0.1")))
}

fn tcp_check() -> String {
    format!(
        "health = {{ type = \"tcp\", interval = \"{INTERVAL_MS}ms\", timeout = \"100ms\", rise = 2, fall = {FALL} }}"
    )
}

async fn backends(n: usize) -> Vec<Backend> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(Backend::start(&format!("b{i}"), local()).await);
    }
    out
}

fn quoted(bs: &[&Backend]) -> String {
    bs.iter()
        .map(|b| format!("\"{}\"", b.addr))
        .collect::<Vec<_>>()
        .join(", ")
}

fn status(rt: &gatehouse_runtime::Runtime, member: &Backend) -> Status {
    let pools = rt.pools();
    let p = pools.get("p").unwrap();
    p.members()[p.index_of(&member.addr.to_string()).unwrap()].status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_check_marks_a_killed_member_down_within_interval_times_fall() {
    let bs = backends(2).await;
    let vip = local();
    let rt = start(&topology(vip, &quoted(&[&bs[0], &bs[1]]), &tcp_check(), ""));
    let mut events = rt.health().subscribe();
    // Let the first checks pass.
    tokio::time::sleep(Duration::from_millis(3 * INTERVAL_MS)).await;
    assert_eq!(status(&rt, &bs[1]), Status::Up);

    let killed = Instant::now();
    bs[1].kill().await;
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("a health event")
        .unwrap();
    let took = killed.elapsed();
    assert_eq!(event.member.member, bs[1].addr.to_string());
    assert_eq!((event.from, event.to), (Status::Up, Status::Down));
    assert!(event.reason.contains("3 failed checks"), "reason: {}", event.reason);
    // interval × fall, plus generous slack for a loaded CI machine.
    let bound = Duration::from_millis(INTERVAL_MS * FALL) + Duration::from_millis(700);
    assert!(took <= bound, "marked down after {took:?}, bound {bound:?}");
    assert!(
        took >= Duration::from_millis(INTERVAL_MS * (FALL - 1)),
        "down after only {took:?}: fall ignored?"
    );

    // And back up after `rise` passing checks once it listens again.
    let _back = Backend::start("b1-again", bs[1].addr).await;
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((event.from, event.to), (Status::Down, Status::Up));
    assert!(event.reason.contains("2 passed checks"), "reason: {}", event.reason);
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_avoids_a_killed_member_without_failing_new_connections_and_resets_its_clients() {
    let bs = backends(3).await;
    let vip = local();
    let rt = Arc::new(start(&topology(
        vip,
        &quoted(&[&bs[0], &bs[1], &bs[2]]),
        &format!("algorithm = \"round-robin\"\n{}", tcp_check()),
        "",
    )));
    tokio::time::sleep(Duration::from_millis(2 * INTERVAL_MS)).await;
    // Connections open on every member.
    let mut held = Vec::new();
    for _ in 0..9 {
        held.push(who(ip("127.0.0.1"), vip).await);
    }
    // A steady stream of new connections while the member dies.
    let made = Arc::new(AtomicUsize::new(0));
    let traffic = {
        let made = made.clone();
        tokio::spawn(async move {
            let (mut names, mut failed) = (Vec::new(), Vec::new());
            let end = Instant::now() + Duration::from_millis(1500);
            while Instant::now() < end {
                let started = Instant::now();
                let mut s = connect_from(ip("127.0.0.1"), vip).await.expect("connect");
                let mut r = tokio::io::BufReader::new(&mut s);
                let mut line = String::new();
                let n = tokio::time::timeout(Duration::from_secs(5), r.read_line(&mut line)).await;
                match n {
                    Ok(Ok(n)) if n > 0 => names.push((Instant::now(), line.trim().to_string())),
                    other => failed.push((started, format!("{other:?}"))),
                }
                made.fetch_add(1, Ordering::SeqCst);
            }
            (names, failed)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = Instant::now();
    bs[1].kill().await;
    eventually(
        Duration::from_millis(INTERVAL_MS * FALL + 700),
        "the killed member is marked down",
        || status(&rt, &bs[1]) == Status::Down,
    )
    .await;
    let (names, failed) = traffic.await.expect("the traffic loop ran to its end");
    assert!(made.load(Ordering::SeqCst) > 20, "the traffic loop ran");
    // A connection the VIP had already handed to b1 when it died (b1's
    // kernel completes handshakes until its listener is gone) is reset
    // with it, like the held ones: that is in flight, not a failover
    // failure. Every connection begun after that is served.
    let in_flight = |t: &Instant| *t < killed + Duration::from_millis(20);
    assert!(
        failed.iter().all(|(t, _)| in_flight(t)) && failed.len() <= 3,
        "new connections failed after the kill: {:?}",
        failed
            .iter()
            .map(|(t, e)| (t.saturating_duration_since(killed), e))
            .collect::<Vec<_>>()
    );
    let after_kill: Vec<_> = names
        .iter()
        .filter(|(t, _)| *t > killed + Duration::from_millis(100))
        .collect();
    assert!(!after_kill.is_empty());
    assert!(
        after_kill.iter().all(|(_, n)| n != "b1"),
        "a new connection reached the dead member"
    );
    // The connections that were on b1 see a reset; the others still work.
    for (name, conn) in &mut held {
        if name == "b1" {
            let outcome = read_outcome(conn).await;
            assert_eq!(
                outcome,
                Err(std::io::ErrorKind::ConnectionReset),
                "client of the dead member"
            );
        } else {
            conn.get_mut().write_all(b"ping\n").await.unwrap();
            let mut line = String::new();
            conn.read_line(&mut line).await.unwrap();
            assert_eq!(line, "ping\n");
        }
    }
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_members_serve_only_while_every_primary_is_down() {
    let bs = backends(3).await;
    let vip = local();
    let members = format!(
        "\"{}\", \"{}\", {{ address = \"{}\", backup = true }}",
        bs[0].addr, bs[1].addr, bs[2].addr
    );
    let rt = start(&topology(vip, &members, &tcp_check(), ""));
    tokio::time::sleep(Duration::from_millis(2 * INTERVAL_MS)).await;
    let counts = distribution(ip("127.0.0.1"), vip, 60).await;
    assert!(
        !counts.contains_key("b2"),
        "the backup served while primaries were up: {counts:?}"
    );

    bs[0].kill().await;
    eventually(Duration::from_secs(3), "b0 down", || {
        status(&rt, &bs[0]) == Status::Down
    })
    .await;
    let counts = distribution(ip("127.0.0.1"), vip, 30).await;
    assert_eq!(
        counts.get("b1"),
        Some(&30),
        "one primary left takes everything: {counts:?}"
    );

    bs[1].kill().await;
    eventually(Duration::from_secs(3), "b1 down", || {
        status(&rt, &bs[1]) == Status::Down
    })
    .await;
    let counts = distribution(ip("127.0.0.1"), vip, 30).await;
    assert_eq!(
        counts.get("b2"),
        Some(&30),
        "the backup serves when every primary is down: {counts:?}"
    );

    let _b0 = Backend::start("b0-again", bs[0].addr).await;
    eventually(Duration::from_secs(3), "b0 up", || status(&rt, &bs[0]) == Status::Up).await;
    let counts = distribution(ip("127.0.0.1"), vip, 30).await;
    assert_eq!(
        counts.get("b0-again"),
        Some(&30),
        "the backup stops when a primary returns: {counts:?}"
    );
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_member_finishes_its_open_connections_and_gets_no_new_ones() {
    let bs = backends(2).await;
    let vip = local();
    let rt = start(&topology(
        vip,
        &quoted(&[&bs[0], &bs[1]]),
        "algorithm = \"round-robin\"",
        "",
    ));
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(who(ip("127.0.0.1"), vip).await);
    }
    let mut events = rt.health().subscribe();
    rt.set_draining("p", &bs[0].addr.to_string(), true).unwrap();
    let event = events.recv().await.unwrap();
    assert_eq!(event.to, Status::Draining);
    assert!(
        rt.set_draining("p", "127.0.0.1:1", true).is_err(),
        "unknown members are an error"
    );

    let counts = distribution(ip("127.0.0.1"), vip, 20).await;
    assert_eq!(
        counts.get("b1"),
        Some(&20),
        "a draining member takes no new connection: {counts:?}"
    );
    let pools = rt.pools();
    let b0 = &pools.get("p").unwrap().members()[0];
    assert_eq!(b0.active(), 2);
    // Its open connections still carry data both ways, then finish.
    for (name, conn) in open.iter_mut().filter(|(n, _)| n == "b0") {
        conn.get_mut().write_all(b"still here\n").await.unwrap();
        let mut line = String::new();
        conn.read_line(&mut line).await.unwrap();
        assert_eq!(line, "still here\n", "connection on draining {name}");
    }
    open.clear();
    eventually(Duration::from_secs(5), "drained", || b0.active() == 0).await;
    assert_eq!(b0.status(), Status::Draining);
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_connect_ejects_the_member_for_the_back_off_then_it_returns() {
    let live = Backend::start("live", local()).await;
    let dead = local(); // nothing listens here
    let vip = local();
    let rt = start(&topology(
        vip,
        &format!("\"{dead}\", \"{}\"", live.addr),
        "algorithm = \"round-robin\"",
        "",
    ));
    let mut events = rt.health().subscribe();
    // Every connection succeeds: the refused connect is retried on `live`.
    let counts = distribution(ip("127.0.0.1"), vip, 10).await;
    assert_eq!(counts.get("live"), Some(&10));
    let event = events.recv().await.unwrap();
    assert_eq!(event.to, Status::Down);
    assert!(event.reason.contains("ejected for 2s"), "reason: {}", event.reason);
    // The test options eject for 2 s; then the member is tried again.
    let event = tokio::time::timeout(Duration::from_secs(4), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((event.to, event.reason.as_str()), (Status::Up, "ejection ended"));
    let metrics = rt.metrics();
    let vip_metrics = metrics.vips.iter().find(|v| v.listener == "vip").unwrap();
    assert_eq!(vip_metrics.connections, 10);
    assert_eq!(vip_metrics.connect_errors, 1, "one refused connect, then ejected");
    rt.shutdown(Duration::from_secs(1)).await;
}

fn http_check(kind: &str, extra: &str) -> String {
    format!(
        "health = {{ type = \"{kind}\", path = \"/owa/healthcheck.htm\", host = \"mail.contoso.com\", \
         interval = \"{INTERVAL_MS}ms\", timeout = \"150ms\", rise = 1, fall = 1{extra} }}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_check_requires_the_expected_status_and_body_and_a_redirect_is_down() {
    let good = HttpBackend::start(local(), "200 OK", "<html>200 OK healthy</html>", false).await;
    let redirect = HttpBackend::start(local(), "302 Found", "", false).await;
    let wrong_body = HttpBackend::start(local(), "200 OK", "maintenance", false).await;
    let members = format!("\"{}\", \"{}\", \"{}\"", good.addr, redirect.addr, wrong_body.addr);
    let rt = start(&topology(
        local(),
        &members,
        &http_check("http", ", expect_body = \"200 OK\""),
        "",
    ));
    let pools = rt.pools();
    let p = pools.get("p").unwrap();
    eventually(Duration::from_secs(3), "checks settle", || {
        !p.members()[1].is_up() && !p.members()[2].is_up()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2 * INTERVAL_MS)).await;
    assert!(p.is_up(0), "200 with the expected body is up");
    assert!(!p.is_up(1), "a redirect is not up unless listed");
    assert!(!p.is_up(2), "a 200 without the expected body is not up");
    let seen = good.seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    assert_eq!(seen[0].request_line, "GET /owa/healthcheck.htm HTTP/1.1");
    assert_eq!(seen[0].host, "mail.contoso.com", "the Host header is set explicitly");
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_passes_when_its_status_is_listed() {
    let redirect = HttpBackend::start(local(), "302 Found", "", false).await;
    let rt = start(&topology(
        local(),
        &format!("\"{}\"", redirect.addr),
        &http_check("http", ", expect_status = [200, 302]"),
        "",
    ));
    tokio::time::sleep(Duration::from_millis(3 * INTERVAL_MS)).await;
    assert!(rt.pools().is_up("p", 0).unwrap());
    assert!(!redirect.seen.lock().unwrap().is_empty());
    rt.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_check_talks_tls_to_the_member() {
    let tls = HttpBackend::start(local(), "200 OK", "healthy", true).await;
    let plain_http = HttpBackend::start(local(), "200 OK", "healthy", false).await;
    let members = format!("\"{}\", \"{}\"", tls.addr, plain_http.addr);
    let rt = start(&topology(local(), &members, &http_check("https", ""), ""));
    let pools = rt.pools();
    eventually(Duration::from_secs(3), "the plain member fails its https check", || {
        !pools.is_up("p", 1).unwrap()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2 * INTERVAL_MS)).await;
    assert!(pools.is_up("p", 0).unwrap(), "the TLS member passes");
    let seen = tls.seen.lock().unwrap().clone();
    assert_eq!(seen[0].host, "mail.contoso.com");
    rt.shutdown(Duration::from_secs(1)).await;
}
