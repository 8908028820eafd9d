//! HTTP/2 from clients: streams multiplexed on one connection, a reset
//! cancelling its backend exchange, `100 Continue`, the headers gatehouse
//! fills in, and graceful shutdown with requests in flight.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::Request;
use tokio::io::AsyncReadExt;

fn h2_get(path: &str) -> Request<TestBody> {
    Request::builder()
        .uri(format!("https://www.lab.test{path}"))
        .body(full(""))
        .unwrap()
}

#[tokio::test]
async fn streams_on_one_connection_are_served_concurrently() {
    // Each answer waits for its path's delay: served one after another,
    // 20 requests would take 2 s.
    let web = backend(|r: Request<Incoming>, _| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        text(200, r.uri().path().to_string())
    })
    .await;
    let port = free_port();
    let (_proxy, _) = start(plan(&www_site(port, &[web.port()])), |_| {}).await;
    let c = h2(SocketAddr::from(([127, 0, 0, 1], port)), "www.lab.test").await;
    let started = std::time::Instant::now();
    let mut all = tokio::task::JoinSet::new();
    for i in 0..20 {
        let mut c = c.clone();
        all.spawn(async move {
            let resp = c.send_request(h2_get(&format!("/{i}"))).await.unwrap();
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (i, status, String::from_utf8(body.to_vec()).unwrap())
        });
    }
    while let Some(done) = all.join_next().await {
        let (i, status, body) = done.unwrap();
        assert_eq!((status, body), (200, format!("/{i}")));
    }
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_stream_reset_by_the_client_cancels_its_backend_exchange() {
    // Never answers; records when gatehouse gives up the connection.
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bport = socket.local_addr().unwrap().port();
    let closed = Arc::new(AtomicUsize::new(0));
    let seen = closed.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = socket.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
                seen.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    let port = free_port();
    let (_proxy, log) = start(plan(&www_site(port, &[bport])), |_| {}).await;
    let mut c = h2(SocketAddr::from(([127, 0, 0, 1], port)), "www.lab.test").await;
    let waiting = c.send_request(h2_get("/long-poll"));
    // Dropping the response future resets the stream.
    assert!(tokio::time::timeout(Duration::from_millis(300), waiting).await.is_err());
    assert!(
        reaches(&closed, 1).await,
        "the backend connection of a cancelled request must close"
    );
    let records = log.records();
    let r = records
        .iter()
        .find(|r| r.host.as_ref() == "www.lab.test")
        .expect("logged");
    assert_eq!((r.status, r.outcome), (499, Some("client went away")));
    // The connection itself still serves.
    let resp = c.send_request(
        Request::builder()
            .uri("https://nowhere.lab.test/")
            .body(full(""))
            .unwrap(),
    );
    assert_eq!(resp.await.unwrap().status(), 404);
}

/// Whether `count` reaches `n` within a second.
async fn reaches(count: &AtomicUsize, n: usize) -> bool {
    for _ in 0..50 {
        if count.load(Ordering::SeqCst) == n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A raw HTTP/1.1 backend that answers every request with `head`, then
/// writes `body_len` bytes as fast as it is let (none when 0), counting
/// what it wrote in `written` and connections that ended in `closed`.
async fn raw_backend(head: String, body_len: usize, written: Arc<AtomicUsize>, closed: Arc<AtomicUsize>) -> u16 {
    use tokio::io::AsyncWriteExt;
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = socket.accept().await {
            let (head, written, closed) = (head.clone(), written.clone(), closed.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                if s.write_all(head.as_bytes()).await.is_ok() {
                    let chunk = vec![b'x'; 64 * 1024];
                    let mut left = body_len;
                    while left > 0 {
                        let n = left.min(chunk.len());
                        if s.write_all(&chunk[..n]).await.is_err() {
                            break;
                        }
                        written.fetch_add(n, Ordering::SeqCst);
                        left -= n;
                    }
                    while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
                }
                closed.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    port
}

#[tokio::test]
async fn a_client_that_stops_reading_holds_the_backend_back() {
    // 64 MiB to a client that reads nothing for a second: the client's
    // HTTP/2 window, gatehouse's send buffer and the sockets' buffers hold
    // a few MiB; without backpressure gatehouse would read it all.
    const BODY: usize = 64 << 20;
    let written = Arc::new(AtomicUsize::new(0));
    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {BODY}\r\n\r\n");
    let bport = raw_backend(head, BODY, written.clone(), Arc::default()).await;
    let port = free_port();
    let (_proxy, _) = start(plan(&www_site(port, &[bport])), |_| {}).await;
    let mut c = h2(SocketAddr::from(([127, 0, 0, 1], port)), "www.lab.test").await;
    let resp = c.send_request(h2_get("/big")).await.unwrap();
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_reading = written.load(Ordering::SeqCst);
    assert!(
        before_reading < 32 << 20,
        "the backend wrote {before_reading} bytes to a client that read none"
    );
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), BODY, "and all of it arrives once the client reads");
}

#[tokio::test]
async fn a_reset_while_the_body_stalls_cancels_the_backend_exchange() {
    // The head comes at once, the body never: a long poll.
    let closed = Arc::new(AtomicUsize::new(0));
    let head = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n".to_string();
    let bport = raw_backend(head, 0, Arc::default(), closed.clone()).await;
    let port = free_port();
    let (_proxy, log) = start(plan(&www_site(port, &[bport])), |_| {}).await;
    let mut c = h2(SocketAddr::from(([127, 0, 0, 1], port)), "www.lab.test").await;
    let resp = c.send_request(h2_get("/long-poll")).await.unwrap();
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(closed.load(Ordering::SeqCst), 0, "still waiting for the body");
    // Dropping the body resets the stream.
    drop(resp);
    assert!(
        reaches(&closed, 1).await,
        "the backend connection of a cancelled response must close"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let records = log.records();
    let r = records
        .iter()
        .find(|r| r.host.as_ref() == "www.lab.test")
        .expect("logged");
    assert_eq!((r.status, r.outcome), (200, Some("client went away")));
}

#[tokio::test]
async fn expect_100_continue_is_answered_over_http2() {
    let web = backend(|r: Request<Incoming>, _| async move {
        let body = r.into_body().collect().await.unwrap().to_bytes();
        text(200, format!("got {} bytes", body.len()))
    })
    .await;
    let port = free_port();
    let (_proxy, _) = start(plan(&www_site(port, &[web.port()])), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let body = "x".repeat(5000);
    let out = curl(
        addr,
        "www.lab.test",
        &[
            "--http2",
            "-v",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            &body,
            &format!("https://www.lab.test:{port}/upload"),
        ],
    )
    .await;
    assert_eq!(stdout(&out), "got 5000 bytes", "{}", stderr(&out));
    assert!(stderr(&out).contains("< HTTP/2 100"), "{}", stderr(&out));
}

#[tokio::test]
async fn gatehouse_pages_over_http2_carry_date_and_length() {
    let web = echo("web").await;
    let port = free_port();
    let (_proxy, _) = start(plan(&www_site(port, &[web.port()])), |_| {}).await;
    let mut c = h2(SocketAddr::from(([127, 0, 0, 1], port)), "www.lab.test").await;
    let resp = c
        .send_request(
            Request::builder()
                .uri("https://nowhere.lab.test/")
                .body(full(""))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let date = resp
        .headers()
        .get("date")
        .expect("a Date header")
        .to_str()
        .unwrap()
        .to_string();
    assert!(httpdate::parse_http_date(&date).is_ok(), "{date}");
    let length: usize = resp.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), length);
}

#[tokio::test]
async fn shutdown_lets_http2_streams_finish_and_sends_goaway() {
    let slow = backend(|_r: Request<Incoming>, _| async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        text(200, "done")
    })
    .await;
    let port = free_port();
    let (proxy, _) = start(plan(&www_site(port, &[slow.port()])), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = h2(addr, "www.lab.test").await;
    let in_flight = tokio::spawn({
        let mut c = c.clone();
        async move {
            let resp = c.send_request(h2_get("/")).await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.into_body().collect().await.unwrap().to_bytes())
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = tokio::spawn(proxy.shutdown(Duration::from_secs(10)));
    let (status, body) = in_flight.await.unwrap();
    assert_eq!((status, &body[..]), (200, &b"done"[..]));
    stopping.await.unwrap();
    // After GOAWAY the connection takes no new stream.
    let refused = tokio::time::timeout(Duration::from_secs(2), async {
        c.ready().await?;
        c.send_request(h2_get("/")).await
    })
    .await
    .expect("answered at once");
    assert!(refused.is_err());
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still listening");
}
