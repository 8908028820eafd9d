//! Backend connection reuse, retries, reload and graceful shutdown, through
//! real TLS connections to a running proxy.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hyper::body::Incoming;
use hyper::Request;

fn member(body: &str) -> &str {
    body.lines().next().unwrap_or("").trim_start_matches("member=")
}

#[tokio::test]
async fn connect_failures_are_retried_on_another_member() {
    let live = echo("live").await;
    let port = free_port();
    let text = format!(
        r#"
[certificates.lab]
names = ["www.lab.test"]
[pools.web]
service = "web"
algorithm = "round-robin"
members = ["127.0.0.1:{dead}", "127.0.0.1:{live}"]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["lab"]
[routes.www]
listeners = ["https"]
hosts = ["www.lab.test"]
pool = "web"
"#,
        dead = free_port(),
        live = live.port()
    );
    let (_proxy, _) = start(plan(&text), |_| {}).await;
    let mut c = h1(SocketAddr::from(([127, 0, 0, 1], port)), "www.lab.test").await;
    for method in ["GET", "POST", "GET", "POST"] {
        let req = Request::builder()
            .method(method)
            .uri("/")
            .header("host", "www.lab.test")
            .body(full("x"))
            .unwrap();
        let (status, _, body) = send(&mut c, req).await;
        assert_eq!((status, member(&body)), (200, "live"), "{method}");
    }
}

#[tokio::test]
async fn requests_are_not_retried_once_bytes_went_upstream() {
    // A backend that reads the request and drops the connection unanswered.
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bport = socket.local_addr().unwrap().port();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        loop {
            let (mut s, _) = socket.accept().await.unwrap();
            let h = h.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                if s.read(&mut buf).await.unwrap_or(0) > 0 {
                    h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    let port = free_port();
    let text = www_site(port, &[bport]);
    let (_proxy, _) = start(plan(&text), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for method in ["POST", "GET"] {
        let mut c = h1(addr, "www.lab.test").await;
        let before = hits.load(std::sync::atomic::Ordering::SeqCst);
        let req = Request::builder()
            .method(method)
            .uri("/")
            .header("host", "www.lab.test")
            .body(full("x"))
            .unwrap();
        let (status, _, _) = send(&mut c, req).await;
        assert_eq!(status, 502, "{method}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            hits.load(std::sync::atomic::Ordering::SeqCst) - before,
            1,
            "{method} was sent once"
        );
    }
}

#[tokio::test]
async fn reload_swaps_the_plan_and_in_flight_requests_finish_on_theirs() {
    let slow_a = backend(|_r: Request<Incoming>, _c| async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        text(200, "member=a\n")
    })
    .await;
    let b = echo("b").await;
    let port = free_port();
    let text = |p: u16| {
        format!(
            r#"
[certificates.lab]
names = ["www.lab.test"]
[pools.web]
service = "web"
members = ["127.0.0.1:{p}"]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["lab"]
[routes.www]
listeners = ["https"]
hosts = ["www.lab.test"]
pool = "web"
"#
        )
    };
    let (proxy, _) = start(plan(&text(slow_a.port())), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut early = h1(addr, "www.lab.test").await;
    let in_flight = tokio::spawn(async move { send(&mut early, get("www.lab.test", "/")).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.reload(plan(&text(b.port()))).await.expect("reload");
    let mut late = h1(addr, "www.lab.test").await;
    let (_, _, body) = send(&mut late, get("www.lab.test", "/")).await;
    assert_eq!(member(&body), "b");
    let (status, _, body) = in_flight.await.unwrap();
    assert_eq!((status, member(&body)), (200, "a"));
    // A reload with a broken certificate is refused; the old plan stays.
    let broken = text(b.port()).replace(
        "names = [\"www.lab.test\"]",
        "cert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"",
    );
    let err = proxy.reload(plan(&broken)).await.unwrap_err();
    assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    let (status, _, _) = send(&mut late, get("www.lab.test", "/")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_then_stops_listening() {
    let slow = backend(|_r: Request<Incoming>, _c| async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        text(200, "done")
    })
    .await;
    let port = free_port();
    let text = www_site(port, &[slow.port()]);
    let (proxy, _) = start(plan(&text), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = h1(addr, "www.lab.test").await;
    let in_flight = tokio::spawn(async move { send(&mut c, get("www.lab.test", "/")).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.shutdown(Duration::from_secs(10)).await;
    let (status, _, body) = in_flight.await.unwrap();
    assert_eq!((status, body.as_str()), (200, "done"));
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still listening");
}

#[tokio::test]
async fn backend_connections_are_pooled_per_member_and_reused() {
    let web = echo("web").await;
    let port = free_port();
    let text = www_site(port, &[web.port()]);
    let (_proxy, _) = start(plan(&text), |o| o.workers = 1).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // Sequential requests from several client connections share one backend connection.
    for _ in 0..3 {
        let mut c = h1(addr, "www.lab.test").await;
        for _ in 0..10 {
            let (status, _, _) = send(&mut c, get("www.lab.test", "/")).await;
            assert_eq!(status, 200);
        }
    }
    assert_eq!(web.requests.load(std::sync::atomic::Ordering::SeqCst), 30);
    assert_eq!(web.connections.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn each_worker_reuses_its_own_backend_connections() {
    let web = echo("web").await;
    let port = free_port();
    let text = www_site(port, &[web.port()]);
    let (_proxy, _) = start(plan(&text), |o| o.workers = 2).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // Six client connections open at once, spread over the two workers as
    // the kernel hands them out; their sequential requests need one backend
    // connection per worker at most.
    let mut clients = Vec::new();
    for _ in 0..6 {
        clients.push(h1(addr, "www.lab.test").await);
    }
    for _ in 0..5 {
        for c in clients.iter_mut() {
            let (status, _, _) = send(c, get("www.lab.test", "/")).await;
            assert_eq!(status, 200);
        }
    }
    assert_eq!(web.requests.load(std::sync::atomic::Ordering::SeqCst), 30);
    let opened = web.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=2).contains(&opened),
        "{opened} backend connections for two workers"
    );
}

#[tokio::test]
async fn connect_timeout_of_the_route_applies_to_a_member_that_never_answers() {
    // A listener whose accept queue is full: further SYNs are dropped, so a
    // connect hangs (on loopback, without sending anything off the machine).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let full = socket.listen(0).unwrap();
    let bport = full.local_addr().unwrap().port();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        if let Ok(Ok(c)) = tokio::time::timeout(
            Duration::from_millis(200),
            s.connect(SocketAddr::from(([127, 0, 0, 1], bport))),
        )
        .await
        {
            fillers.push(c);
        }
    }
    let port = free_port();
    let text = www_site(port, &[bport]) + "timeouts = { connect = \"300ms\" }\n[http]\nretries = 0\n";
    let (_proxy, _) = start(plan(&text), |_| {}).await;
    let mut c = h1(SocketAddr::from(([127, 0, 0, 1], port)), "www.lab.test").await;
    let started = std::time::Instant::now();
    let (status, _, _) = send(&mut c, get("www.lab.test", "/")).await;
    assert_eq!(status, 504, "a connect timeout is a gateway timeout");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    drop((full, fillers));
}

#[tokio::test]
async fn listener_connection_limit_closes_connections_beyond_it() {
    let web = echo("web").await;
    let port = free_port();
    let text = format!(
        r#"
[certificates.lab]
names = ["www.lab.test"]
[pools.web]
service = "web"
members = ["127.0.0.1:{w}"]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["lab"]
max_connections = 1
[routes.www]
listeners = ["https"]
hosts = ["www.lab.test"]
pool = "web"
"#,
        w = web.port()
    );
    let (proxy, _) = start(plan(&text), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut first = h1(addr, "www.lab.test").await;
    let (status, _, _) = send(&mut first, get("www.lab.test", "/")).await;
    assert_eq!(status, 200);
    // The second connection is accepted by the kernel, then closed unanswered.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tcp.write_all(b"\x16\x03\x01\x00\x05hello").await;
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert_eq!(proxy.connections(), 1);
    // Once the first goes away, a new one is served.
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = h1(addr, "www.lab.test").await;
    let (status, _, _) = send(&mut again, get("www.lab.test", "/")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn reload_that_cannot_bind_a_new_listener_keeps_the_old_plan() {
    let a = echo("a").await;
    let b = echo("b").await;
    let port = free_port();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let text = |member: u16, extra: &str| {
        format!(
            r#"
[certificates.lab]
names = ["www.lab.test"]
[pools.web]
service = "web"
members = ["127.0.0.1:{member}"]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["lab"]
{extra}
[routes.www]
listeners = ["https"{more}]
hosts = ["www.lab.test"]
pool = "web"
"#,
            more = if extra.is_empty() { "" } else { ", \"second\"" }
        )
    };
    let (proxy, _) = start(plan(&text(a.port(), "")), |_| {}).await;
    let second = format!(
        "[listeners.second]\naddress = \"127.0.0.1\"\nport = {busy_port}\nprotocol = \"https\"\nzones = [\"lab\"]\ncertificates = [\"lab\"]\n"
    );
    let err = proxy.reload(plan(&text(b.port(), &second))).await.unwrap_err();
    assert!(err.to_string().contains(&busy_port.to_string()), "{err}");
    let mut c = h1(SocketAddr::from(([127, 0, 0, 1], port)), "www.lab.test").await;
    let (_, _, body) = send(&mut c, get("www.lab.test", "/")).await;
    assert_eq!(member(&body), "a", "the old plan is still in force");
    drop(busy);
}

#[tokio::test]
async fn dropping_the_proxy_stops_every_workers_accept_loop() {
    let web = echo("web").await;
    let port = free_port();
    let text = www_site(port, &[web.port()]);
    let (proxy, _) = start(plan(&text), |o| o.workers = 2).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = h1(addr, "www.lab.test").await;
    assert_eq!(send(&mut c, get("www.lab.test", "/")).await.0, 200);
    drop(proxy);
    // The loops end on their workers' threads, each closing its copy of the
    // socket; the port is free once the last one has.
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "still listening after the proxy was dropped");
}
