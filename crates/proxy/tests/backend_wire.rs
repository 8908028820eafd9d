//! gatehouse's own HTTP/1.1 towards backends, against backends that write
//! raw bytes: idle connections the backend closed, answers that come before
//! the upload ends, responses framed by the close, HEAD, unknown-length
//! uploads from HTTP/2 clients, and responses too broken to pass on.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use http_body_util::BodyExt;
use hyper::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A backend that runs `script` on every connection it accepts, counting them.
async fn raw_backend<F, Fut>(script: F) -> (u16, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = socket.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(script(s));
        }
    });
    (port, connections)
}

/// Reads one request head; returns it, or `None` when the peer closed.
async fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

async fn site(backend_port: u16) -> (gatehouse_proxy::HttpProxy, SocketAddr) {
    let port = free_port();
    let (proxy, _) = start(plan(&www_site(port, &[backend_port])), |o| o.workers = 1).await;
    (proxy, SocketAddr::from(([127, 0, 0, 1], port)))
}

fn request(method: &str, path: &str, body: impl Into<bytes::Bytes>) -> Request<TestBody> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "www.lab.test")
        .body(full(body))
        .unwrap()
}

#[tokio::test]
async fn an_idle_connection_the_backend_closed_is_never_used() {
    // Keeps a connection alive after its answer, then closes it soon after:
    // a backend whose keep-alive timeout is shorter than gatehouse's.
    let (bport, connections) = raw_backend(|mut s| async move {
        if read_head(&mut s).await.is_some() {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    })
    .await;
    let (_proxy, addr) = site(bport).await;
    let mut c = h1(addr, "www.lab.test").await;
    for (i, method) in ["GET", "POST", "GET", "POST"].into_iter().enumerate() {
        // No body: a backend that closes with unread bytes resets the
        // connection, and that is caught anyway when sending; this is about
        // the clean close, which only the check before reuse can see.
        let (status, _, body) = send(&mut c, request(method, "/", "")).await;
        assert_eq!((status, body.as_str()), (200, "ok"), "request {i} ({method})");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        4,
        "one fresh connection per request"
    );
}

/// Refuses every upload from its head, as a server with a size limit does,
/// then reads and discards the rest until the connection closes.
async fn refusing_backend() -> (u16, Arc<AtomicUsize>) {
    raw_backend(|mut s| async move {
        if read_head(&mut s).await.is_some() {
            let _ = s
                .write_all(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 8\r\n\r\ntoo much")
                .await;
            let mut sink = vec![0u8; 64 * 1024];
            while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
        }
    })
    .await
}

#[tokio::test]
async fn an_answer_before_the_upload_ends_reaches_the_client() {
    let (bport, connections) = refusing_backend().await;
    let (_proxy, addr) = site(bport).await;
    // A client that announces 32 MiB, sends 1 MiB and then waits for an
    // answer, as curl does: the upload cannot have ended when the answer
    // comes. (A client that keeps writing races gatehouse's close of the
    // connection, and may see a broken pipe before it reads the answer.)
    let mut tls = tls_connect(addr, Some("www.lab.test"), &[b"http/1.1"]).await;
    tls.write_all(b"POST /upload HTTP/1.1\r\nhost: www.lab.test\r\ncontent-length: 33554432\r\n\r\n")
        .await
        .unwrap();
    tls.write_all(&vec![b'x'; 1 << 20]).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while !answer.ends_with(b"too much") {
            match tls.read(&mut buf).await {
                Ok(n) if n > 0 => answer.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
    });
    assert!(read.await.is_ok(), "the answer came before the upload ended");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 413") && answer.ends_with("too much"),
        "{answer}"
    );
    // The connection that carried the unfinished upload is not reused.
    let mut c = h1(addr, "www.lab.test").await;
    let (status, _, _) = send(&mut c, request("POST", "/upload", "small")).await;
    assert_eq!(status, 413);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_client_still_writing_when_the_early_answer_comes_reads_it() {
    // hyper's client writes its whole upload before it reads; gatehouse
    // closes the connection after the early answer, and only lingering
    // (reading and dropping the rest) keeps the client from a broken pipe.
    let (bport, _) = refusing_backend().await;
    let (_proxy, addr) = site(bport).await;
    for i in 0..3 {
        let mut c = h1(addr, "www.lab.test").await;
        let (status, _, body) = send(&mut c, request("POST", "/upload", vec![b'x'; 32 << 20])).await;
        assert_eq!((status, body.as_str()), (413, "too much"), "upload {i}");
    }
}

#[tokio::test]
async fn a_body_framed_by_the_close_arrives_whole_and_its_connection_is_closed() {
    let (bport, connections) = raw_backend(|mut s| async move {
        while let Some(head) = read_head(&mut s).await {
            if head.starts_with("HEAD") {
                // A HEAD answer announces a length but carries no body.
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n").await;
                continue;
            }
            let mut resp = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n".to_vec();
            resp.extend(std::iter::repeat_n(b'z', 100_000));
            let _ = s.write_all(&resp).await;
            return;
        }
    })
    .await;
    let (_proxy, addr) = site(bport).await;
    let mut c = h1(addr, "www.lab.test").await;
    for _ in 0..2 {
        let (status, _, body) = send(&mut c, request("GET", "/", "")).await;
        assert_eq!((status, body.len()), (200, 100_000));
        assert!(body.bytes().all(|b| b == b'z'));
    }
    assert_eq!(connections.load(Ordering::SeqCst), 2, "read to the close: no reuse");
    for _ in 0..3 {
        let (status, headers, body) = send(&mut c, request("HEAD", "/", "")).await;
        assert_eq!((status, body.len()), (200, 0));
        assert_eq!(headers.get("content-length").unwrap(), "5000");
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        3,
        "HEAD answers keep one connection"
    );
}

#[tokio::test]
async fn an_http2_upload_of_unknown_length_goes_to_the_backend_chunked() {
    let seen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let record = seen.clone();
    let (bport, _) = raw_backend(move |mut s| {
        let record = record.clone();
        async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            // Up to the end of the chunked body: the last chunk and trailers.
            while !got.ends_with(b"\r\n0\r\nx-sum: 42\r\n\r\n") {
                match s.read(&mut buf).await {
                    Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                    _ => return,
                }
            }
            *record.lock().unwrap() = got;
            let _ = s.write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n").await;
        }
    })
    .await;
    let (_proxy, addr) = site(bport).await;
    let mut c = h2(addr, "www.lab.test").await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let req = Request::builder()
        .method("POST")
        .uri("https://www.lab.test/ews")
        .body(ChannelBody(rx).boxed())
        .unwrap();
    let sending = tokio::spawn(async move {
        tx.send(hyper::body::Frame::data(bytes::Bytes::from_static(b"hello ")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        tx.send(hyper::body::Frame::data(bytes::Bytes::from_static(b"world")))
            .await
            .unwrap();
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-sum", "42".parse().unwrap());
        tx.send(hyper::body::Frame::trailers(trailers)).await.unwrap();
    });
    let resp = c.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 201);
    sending.await.unwrap();
    let wire = String::from_utf8(seen.lock().unwrap().clone()).unwrap();
    let (head, body) = wire.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("POST /ews HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("\r\ntransfer-encoding: chunked"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    assert_eq!(body, "6\r\nhello \r\n5\r\nworld\r\n0\r\nx-sum: 42\r\n\r\n");
}

#[tokio::test]
async fn broken_backend_answers_get_502_and_gatehouse_keeps_serving() {
    let (bport, _) = raw_backend(|mut s| async move {
        while let Some(head) = read_head(&mut s).await {
            let path = head.split(' ').nth(1).unwrap_or("").to_string();
            let answer: &[u8] = match path.as_str() {
                "/conflicting-lengths" => b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd",
                "/not-http" => b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
                "/unasked-switch" => b"HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\nconnection: upgrade\r\n\r\n",
                "/bad-chunk" => b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
                "/cut-short" => b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this",
                _ => b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nfine",
            };
            let _ = s.write_all(answer).await;
            if path != "/" {
                return;
            }
        }
    })
    .await;
    let (_proxy, addr) = site(bport).await;
    for path in ["/conflicting-lengths", "/not-http", "/unasked-switch"] {
        let mut c = h1(addr, "www.lab.test").await;
        let (status, _, body) = send(&mut c, request("GET", path, "")).await;
        assert_eq!(status, 502, "{path}");
        assert!(!body.contains("content-length"), "{path}: no internals in the page");
        let (status, _, body) = send(&mut c, request("GET", "/", "")).await;
        assert_eq!((status, body.as_str()), (200, "fine"), "after {path}");
    }
    // Broken after the head: the client sees the exchange fail (before
    // the head if nothing of the body could be sent), never a truncated
    // body passed off as whole.
    for path in ["/bad-chunk", "/cut-short"] {
        let mut c = h1(addr, "www.lab.test").await;
        c.ready().await.unwrap();
        if let Ok(resp) = c.send_request(request("GET", path, "")).await {
            assert_eq!(resp.status(), 200, "{path}");
            assert!(resp.into_body().collect().await.is_err(), "{path}: body must fail");
        }
        let mut c = h1(addr, "www.lab.test").await;
        let (status, _, _) = send(&mut c, request("GET", "/", "")).await;
        assert_eq!(status, 200, "after {path}");
    }
}
