//! Streaming, timeouts, upgrades and request smuggling, over real TLS.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// A backend for streaming tests, by path:
/// - `/hold/MS`: answers after MS milliseconds of silence;
/// - `/pending/N`: MAPI-style chunked `PENDING` every 300 ms, N times, then `DONE`;
/// - `/ws`: accepts `Upgrade` and echoes bytes;
/// - `/trailers`: reports the request trailer and answers with a trailer;
/// - anything else: echoes the body size.
async fn streaming_backend() -> Backend {
    backend(|mut req: Request<Incoming>, _c| async move {
        let path = req.uri().path().to_string();
        if let Some(ms) = path.strip_prefix("/hold/") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
            return text(200, "held");
        }
        if let Some(n) = path.strip_prefix("/pending/") {
            let n: u32 = n.parse().unwrap();
            let (tx, rx) = mpsc::channel(4);
            tokio::spawn(async move {
                for _ in 0..n {
                    let _ = tx.send(Frame::data(Bytes::from_static(b"PENDING\r\n"))).await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                let _ = tx.send(Frame::data(Bytes::from_static(b"DONE\r\n"))).await;
            });
            return hyper::Response::new(ChannelBody(rx).boxed());
        }
        if path == "/ws" {
            let upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(up) = upgrade.await {
                    let mut io = hyper_util::rt::TokioIo::new(up);
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = io.read(&mut buf).await {
                        if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            });
            return hyper::Response::builder()
                .status(101)
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .body(full(""))
                .unwrap();
        }
        if path == "/trailers" {
            let collected = req.into_body().collect().await.unwrap();
            let got = collected
                .trailers()
                .and_then(|t| t.get("x-checksum"))
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let (tx, rx) = mpsc::channel(4);
            let mut trailers = http::HeaderMap::new();
            trailers.insert("x-server-checksum", "abc123".parse().unwrap());
            tokio::spawn(async move {
                let _ = tx.send(Frame::data(Bytes::from(format!("client-trailer={got}")))).await;
                let _ = tx.send(Frame::trailers(trailers)).await;
            });
            return hyper::Response::builder()
                .header("trailer", "x-server-checksum")
                .body(ChannelBody(rx).boxed())
                .unwrap();
        }
        let n = req.into_body().collect().await.map(|b| b.to_bytes().len()).unwrap_or(0);
        text(200, format!("body-bytes: {n}"))
    })
    .await
}

struct Lab {
    _proxy: gatehouse_proxy::HttpProxy,
    addr: SocketAddr,
    backend: Backend,
}

async fn lab() -> Lab {
    let backend = streaming_backend().await;
    let port = free_port();
    let text = format!(
        r#"
[certificates.lab]
names = ["long.lab.test", "short.lab.test", "total.lab.test"]
[pools.stream]
service = "web"
members = ["127.0.0.1:{b}"]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["lab"]

# Stands for ActiveSync's 61-minute-capable route.
[routes.long]
listeners = ["https"]
hosts = ["long.lab.test"]
pool = "stream"
websocket = true
timeouts = {{ idle = "3s" }}

# Stands for a route with the default 60 s idle timeout.
[routes.short]
listeners = ["https"]
hosts = ["short.lab.test"]
pool = "stream"
timeouts = {{ idle = "1s" }}

[routes.total]
listeners = ["https"]
hosts = ["total.lab.test"]
pool = "stream"
timeouts = {{ connect = "500ms", idle = "1s", total = "1500ms" }}

# Short client-side limits, so that slowloris is cut within the test.
[http]
header_timeout = "1s"
body_timeout = "1s"
"#,
        b = backend.port()
    );
    let (proxy, _) = start(plan(&text), |_| {}).await;
    Lab {
        _proxy: proxy,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        backend,
    }
}

#[tokio::test]
async fn long_idle_route_outlives_a_silence_that_the_short_route_cuts() {
    let lab = lab().await;
    let mut c = h1(lab.addr, "long.lab.test").await;
    let (status, _, body) = send(&mut c, get("long.lab.test", "/hold/2000")).await;
    assert_eq!((status, body.as_str()), (200, "held"));
    let mut c = h1(lab.addr, "short.lab.test").await;
    let started = Instant::now();
    let (status, _, _) = send(&mut c, get("short.lab.test", "/hold/2000")).await;
    assert_eq!(status, 504);
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "cut at the idle timeout"
    );
}

#[tokio::test]
async fn total_timeout_cuts_the_wait_for_an_answer_while_the_upload_keeps_it_busy() {
    let lab = lab().await;
    let mut c = h1(lab.addr, "total.lab.test").await;
    // A chunk every 100 ms for 3 s: never idle for the route's 1 s, and the
    // backend answers only once the body has ended.
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        for _ in 0..30 {
            if tx.send(Frame::data(Bytes::from_static(b"chunk"))).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let req = Request::builder()
        .method("POST")
        .uri("/upload")
        .header("host", "total.lab.test")
        .body(ChannelBody(rx).boxed())
        .unwrap();
    let started = Instant::now();
    c.ready().await.unwrap();
    let resp = c.send_request(req).await.unwrap();
    let took = started.elapsed();
    assert_eq!(resp.status(), 504);
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(1900),
        "cut at the 1.5 s total timeout, not at the idle timer's next turn: {took:?}"
    );
}

#[tokio::test]
async fn mapi_pending_keepalives_stream_through_as_they_are_sent() {
    let lab = lab().await;
    // Five PENDING chunks 300 ms apart: 1.5 s in all, beyond the 1 s idle
    // timeout of the short route, but never idle for 1 s.
    let mut c = h1(lab.addr, "short.lab.test").await;
    let started = Instant::now();
    let resp = c.send_request(get("short.lab.test", "/pending/5")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers().get("transfer-encoding").unwrap(), "chunked");
    let mut body = resp.into_body();
    let mut arrivals = Vec::new();
    let mut all = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(d) = frame.unwrap().into_data() {
            arrivals.push(started.elapsed());
            all.extend_from_slice(&d);
        }
    }
    let text = String::from_utf8(all).unwrap();
    assert_eq!(text.matches("PENDING").count(), 5);
    assert!(text.ends_with("DONE\r\n"));
    assert!(
        arrivals[0] < Duration::from_millis(1000),
        "first chunk was not held back: {arrivals:?}"
    );
    assert!(*arrivals.last().unwrap() >= Duration::from_millis(1400));
}

#[tokio::test]
async fn total_timeout_ends_a_stream_that_is_never_idle() {
    let lab = lab().await;
    let mut c = h1(lab.addr, "total.lab.test").await;
    let started = Instant::now();
    let resp = c.send_request(get("total.lab.test", "/pending/10")).await.unwrap();
    let result = resp.into_body().collect().await;
    assert!(result.is_err(), "the body was cut");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(2900),
        "{took:?}"
    );
}

#[tokio::test]
async fn chunked_bodies_and_trailers_pass_both_ways() {
    let lab = lab().await;
    let mut c = h1(lab.addr, "long.lab.test").await;
    let (tx, rx) = mpsc::channel(4);
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-checksum", "c0ffee".parse().unwrap());
    tokio::spawn(async move {
        tx.send(Frame::data(Bytes::from_static(b"part one,"))).await.unwrap();
        tx.send(Frame::data(Bytes::from_static(b"part two"))).await.unwrap();
        tx.send(Frame::trailers(trailers)).await.unwrap();
    });
    let req = Request::builder()
        .method("POST")
        .uri("/trailers")
        .header("host", "long.lab.test")
        .header("trailer", "x-checksum")
        .header("te", "trailers")
        .body(ChannelBody(rx).boxed())
        .unwrap();
    c.ready().await.unwrap();
    let resp = c.send_request(req).await.unwrap();
    let collected = resp.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    assert_eq!(collected.to_bytes(), "client-trailer=c0ffee");
    assert_eq!(trailers.expect("response trailers")["x-server-checksum"], "abc123");
}

#[tokio::test]
async fn expect_100_continue_is_answered_and_the_body_follows() {
    let lab = lab().await;
    let body = vec![b'x'; 300_000];
    let path = std::env::temp_dir().join(format!("gatehouse-100-{}", lab.addr.port()));
    std::fs::write(&path, &body).unwrap();
    let out = curl(
        lab.addr,
        "long.lab.test",
        &[
            "-v",
            "--http1.1",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            &format!("@{}", path.display()),
            &format!("https://long.lab.test:{}/upload", lab.addr.port()),
        ],
    )
    .await;
    assert!(stderr(&out).contains("HTTP/1.1 100 Continue"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "body-bytes: 300000");
    // Over HTTP/2 no 100 is sent (hyper's HTTP/2 server cannot send one);
    // the client sends the body after its own wait and it still arrives whole.
    let out = curl(
        lab.addr,
        "long.lab.test",
        &[
            "--http2",
            // Shorter than the lab's 1 s client body timeout.
            "--expect100-timeout",
            "0.3",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            &format!("@{}", path.display()),
            &format!("https://long.lab.test:{}/upload", lab.addr.port()),
        ],
    )
    .await;
    let _ = std::fs::remove_file(&path);
    assert_eq!(stdout(&out), "body-bytes: 300000");
}

async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut tls = tls_connect(addr, Some("long.lab.test"), &[b"http/1.1"]).await;
    tls.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn websocket_upgrade_is_tunnelled() {
    let lab = lab().await;
    let mut tls = tls_connect(lab.addr, Some("long.lab.test"), &[b"http/1.1"]).await;
    tls.write_all(
        b"GET /ws HTTP/1.1\r\nHost: long.lab.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tls.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.to_ascii_lowercase().contains("upgrade: websocket"), "{head}");
    for msg in [&b"hello through gatehouse"[..], b"second frame"] {
        tls.write_all(msg).await.unwrap();
        let mut back = vec![0u8; msg.len()];
        tls.read_exact(&mut back).await.unwrap();
        assert_eq!(back, msg);
    }
}

#[tokio::test]
async fn smuggling_attempts_get_400_and_never_reach_a_backend() {
    let lab = lab().await;
    let attempts: [&[u8]; 5] = [
        // Content-Length and Transfer-Encoding together (CL.TE / TE.CL).
        b"POST / HTTP/1.1\r\nHost: long.lab.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: long.lab.test\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: long.lab.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
        // Duplicate Content-Length, even with equal values.
        b"POST / HTTP/1.1\r\nHost: long.lab.test\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        // obs-fold.
        b"GET / HTTP/1.1\r\nHost: long.lab.test\r\nX-Folded: a\r\n b\r\n\r\n",
        // A transfer coding other than chunked.
        b"POST / HTTP/1.1\r\nHost: long.lab.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    ];
    for attempt in attempts {
        let answer = raw(lab.addr, attempt).await;
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{:?} got {answer:?}",
            String::from_utf8_lossy(attempt)
        );
        assert!(!answer.contains("body-bytes"));
    }
    // A smuggled request after a well-framed one is judged too.
    let answer = raw(
        lab.addr,
        b"GET /a HTTP/1.1\r\nHost: long.lab.test\r\n\r\nPOST / HTTP/1.1\r\nHost: long.lab.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("HTTP/1.1 400"), "{answer}");
    assert_eq!(
        lab.backend.requests.load(Ordering::SeqCst),
        1,
        "only GET /a reached the backend"
    );
}

#[tokio::test]
async fn slowloris_headers_and_stalled_bodies_are_cut() {
    let lab = lab().await;
    // Headers that never finish: closed after the 1 s header timeout.
    let mut tls = tls_connect(lab.addr, Some("long.lab.test"), &[b"http/1.1"]).await;
    tls.write_all(b"GET / HTTP/1.1\r\nHost: long.lab.test\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "connection was closed");
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(lab.backend.requests.load(Ordering::SeqCst), 0);

    // A body that stalls: 408 after the 1 s body timeout.
    let mut tls = tls_connect(lab.addr, Some("long.lab.test"), &[b"http/1.1"]).await;
    tls.write_all(b"POST /upload HTTP/1.1\r\nHost: long.lab.test\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut buf)).await;
    let answer = String::from_utf8_lossy(&buf);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}
