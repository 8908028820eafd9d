//! Upgrade rules from the outside: only WebSocket, only on routes that allow
//! it, and only when the backend switches to what was asked.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use hyper::body::Incoming;
use hyper::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A backend that answers 101 to any Upgrade, switching to `switch_to`, and
/// keeps every byte that reaches it through a tunnel.
async fn switching_backend(switch_to: &'static str, tunnelled: Arc<Mutex<Vec<u8>>>) -> Backend {
    backend(move |mut req: Request<Incoming>, _c| {
        let tunnelled = tunnelled.clone();
        async move {
            if !req.headers().contains_key("upgrade") {
                return text(200, "plain");
            }
            let upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(up) = upgrade.await {
                    let mut io = hyper_util::rt::TokioIo::new(up);
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = io.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        tunnelled.lock().unwrap().extend_from_slice(&buf[..n]);
                        let _ = io
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nleaked!")
                            .await;
                    }
                }
            });
            hyper::Response::builder()
                .status(101)
                .header("connection", "upgrade")
                .header("upgrade", switch_to)
                .body(full(""))
                .unwrap()
        }
    })
    .await
}

/// `ws.lab.test` allows WebSocket; `owa.lab.test` does not and serves `/owa` only.
async fn lab(backend: &Backend) -> (gatehouse_proxy::HttpProxy, SocketAddr) {
    let port = free_port();
    let text = format!(
        r#"
[certificates.lab]
names = ["ws.lab.test", "owa.lab.test"]
[pools.web]
service = "web"
members = ["127.0.0.1:{b}"]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["lab"]

[routes.ws]
listeners = ["https"]
hosts = ["ws.lab.test"]
pool = "web"
websocket = true

[routes.owa]
listeners = ["https"]
hosts = ["owa.lab.test"]
paths = ["/owa"]
pool = "web"
"#,
        b = backend.port()
    );
    let (proxy, _) = start(plan(&text), |_| {}).await;
    (proxy, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Sends `bytes` on one TLS connection and reads what comes back for a while.
async fn exchange(addr: SocketAddr, sni: &str, bytes: &[u8]) -> String {
    let mut tls = tls_connect(addr, Some(sni), &[b"http/1.1"]).await;
    tls.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), tls.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn h2c_upgrade_is_refused_and_a_raw_request_after_it_is_routed() {
    let tunnelled = Arc::new(Mutex::new(Vec::new()));
    let backend = switching_backend("h2c", tunnelled.clone()).await;
    let (_proxy, addr) = lab(&backend).await;
    // The issue's attack: h2c on an allowed path, then a raw GET /ecp/ that
    // must not ride a tunnel past routing.
    let answer = exchange(
        addr,
        "owa.lab.test",
        b"GET /owa/ HTTP/1.1\r\nHost: owa.lab.test\r\nConnection: Upgrade, HTTP2-Settings\r\n\
Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n\
GET /ecp/ HTTP/1.1\r\nHost: owa.lab.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(!answer.contains("101"), "{answer}");
    assert!(!answer.contains("leaked!"), "{answer}");
    assert!(tunnelled.lock().unwrap().is_empty());
    assert_eq!(backend.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn websocket_on_a_route_without_it_and_other_tokens_are_refused() {
    let tunnelled = Arc::new(Mutex::new(Vec::new()));
    let backend = switching_backend("websocket", tunnelled.clone()).await;
    let (_proxy, addr) = lab(&backend).await;
    for (sni, upgrade) in [
        ("owa.lab.test", "websocket"),
        ("ws.lab.test", "h2c"),
        ("ws.lab.test", "TLS/1.2"),
    ] {
        let path = if sni == "owa.lab.test" { "/owa/" } else { "/" };
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: {sni}\r\nConnection: Upgrade, close\r\nUpgrade: {upgrade}\r\n\r\n");
        let answer = exchange(addr, sni, req.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{sni} {upgrade}: {answer}");
    }
    assert_eq!(backend.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(tunnelled.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_101_to_another_protocol_than_websocket_is_not_tunnelled() {
    let tunnelled = Arc::new(Mutex::new(Vec::new()));
    let backend = switching_backend("h2c", tunnelled.clone()).await;
    let (_proxy, addr) = lab(&backend).await;
    let answer = exchange(
        addr,
        "ws.lab.test",
        b"GET / HTTP/1.1\r\nHost: ws.lab.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nGET /ecp/ HTTP/1.1\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    assert!(!answer.contains("leaked!"), "{answer}");
}

#[tokio::test]
async fn an_upgrade_request_answered_without_a_tunnel_ends_the_connection() {
    // The smuggling guard does not judge bytes after an Upgrade head, so no
    // request may follow one on the connection, whoever answered it: the
    // route phase (404), the upgrade rule (400) or the backend (200).
    let tunnelled = Arc::new(Mutex::new(Vec::new()));
    let backend = switching_backend("websocket", tunnelled.clone()).await;
    let (_proxy, addr) = lab(&backend).await;
    for (first, status) in [
        (
            "GET /nowhere HTTP/1.1\r\nHost: owa.lab.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            "404",
        ),
        (
            "GET /owa/ HTTP/1.1\r\nHost: owa.lab.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            "400",
        ),
        (
            "CONNECT owa.lab.test:443 HTTP/1.1\r\nHost: owa.lab.test:443\r\n\r\n",
            "405",
        ),
    ] {
        let bytes = format!("{first}GET /owa/ HTTP/1.1\r\nHost: owa.lab.test\r\n\r\n");
        let answer = exchange(addr, "owa.lab.test", bytes.as_bytes()).await;
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{first}: {answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{first}: {answer}"
        );
        assert_eq!(
            answer.matches("HTTP/1.1 ").count(),
            1,
            "{first}: a second answer: {answer}"
        );
    }
    assert_eq!(backend.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
}
