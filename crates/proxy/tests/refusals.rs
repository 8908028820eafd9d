//! What gatehouse refuses or drops before a request reaches a member,
//! over real sockets (docs/refusals.md).

mod common;

use common::*;

#[tokio::test]
async fn header_names_with_underscores_never_reach_the_member() {
    let member = echo("a").await;
    let port = free_port();
    let (proxy, _log) = start(plan(&www_site(port, &[member.port()])), |_| {}).await;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = h1(addr, "www.lab.test").await;
    let mut req = get("www.lab.test", "/");
    for n in ["x_forwarded_for", "transfer_encoding", "x_custom"] {
        req.headers_mut().insert(
            http::HeaderName::from_static(n),
            http::HeaderValue::from_static("6.6.6.6"),
        );
    }
    let (status, _, body) = send(&mut c, req).await;
    assert_eq!(status, 200, "{body}");
    let mut names = body.lines().filter_map(|l| l.split_once(": ")).map(|(n, _)| n);
    assert!(!names.any(|n| n.contains('_')), "{body}");
    assert!(!body.contains("6.6.6.6"), "{body}");
    drop(proxy);
}

/// Sends raw HTTP/1.1 bytes over TLS and returns the status line.
async fn raw_status(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tls_connect(addr, Some("www.lab.test"), &[b"http/1.1"]).await;
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0; 4096];
    let n = s.read(&mut buf).await.unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn invalid_host_values_are_refused_before_any_member() {
    let member = echo("a").await;
    let port = free_port();
    let (proxy, _log) = start(plan(&www_site(port, &[member.port()])), |_| {}).await;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    for (why, req) in [
        ("userinfo", "GET / HTTP/1.1\r\nHost: x@www.lab.test\r\n\r\n"),
        (
            "two hosts",
            "GET / HTTP/1.1\r\nHost: www.lab.test\r\nHost: other.lab.test\r\n\r\n",
        ),
        (
            "userinfo in absolute form",
            "GET https://x@www.lab.test/ HTTP/1.1\r\nHost: www.lab.test\r\n\r\n",
        ),
        (
            "absolute form differs from Host",
            "GET https://other.lab.test/ HTTP/1.1\r\nHost: www.lab.test\r\n\r\n",
        ),
        ("port not a number", "GET / HTTP/1.1\r\nHost: www.lab.test:abc\r\n\r\n"),
        ("empty port", "GET / HTTP/1.1\r\nHost: www.lab.test:\r\n\r\n"),
        ("empty host", "GET / HTTP/1.1\r\nHost: \r\n\r\n"),
        ("no host", "GET / HTTP/1.1\r\n\r\n"),
    ] {
        let status = raw_status(addr, req).await;
        assert!(status.starts_with("HTTP/1.1 400"), "{why}: {status}");
    }
    assert_eq!(member.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
    let ok = raw_status(addr, "GET / HTTP/1.1\r\nHost: WWW.lab.test.:8443\r\n\r\n").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    drop(proxy);
}

#[tokio::test]
async fn http2_scheme_and_authority_are_checked() {
    let member = echo("a").await;
    let port = free_port();
    let (proxy, _log) = start(plan(&www_site(port, &[member.port()])), |_| {}).await;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = h2(addr, "www.lab.test").await;
    for (why, uri, host) in [
        ("scheme http over TLS", "http://www.lab.test/", None),
        ("userinfo in :authority", "https://x@www.lab.test/", None),
        (
            "host differs from :authority",
            "https://www.lab.test/",
            Some("other.lab.test"),
        ),
    ] {
        let mut b = http::Request::builder().uri(uri);
        if let Some(h) = host {
            b = b.header("host", h);
        }
        let resp = c.send_request(b.body(full("")).unwrap()).await.unwrap();
        assert_eq!(resp.status(), 400, "{why}");
    }
    assert_eq!(member.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
    let resp = c
        .send_request(
            http::Request::builder()
                .uri("https://www.lab.test/")
                .body(full(""))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    drop(proxy);
}

/// Paths IIS decodes differently from a proxy, as raw HTTP/1.1 targets.
const AMBIGUOUS_PATHS: &[&str] = &[
    "/owa/..\\ecp/",
    "/owa/..%5cecp/",
    "/owa/..%5Cecp/",
    "/owa/%2e%2e/ecp/",
    "/owa/../ecp/",
    "/owa/./ecp/",
    "/owa%2fecp/",
    "/owa/%00/",
    "/owa/%u005c../ecp/",
    "/owa/%c0%af../ecp/",
    "/owa/%e0%80%af../ecp/",
    "/owa/%255c../ecp/",
    "/owa/..;/ecp/",
];

#[tokio::test]
async fn paths_whose_meaning_depends_on_the_backend_are_refused_on_http1_and_http2() {
    let member = echo("a").await;
    let port = free_port();
    let (proxy, _log) = start(plan(&www_site(port, &[member.port()])), |_| {}).await;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    for path in AMBIGUOUS_PATHS {
        let status = raw_status(addr, &format!("GET {path} HTTP/1.1\r\nHost: www.lab.test\r\n\r\n")).await;
        assert!(status.starts_with("HTTP/1.1 400"), "HTTP/1.1 {path:?}: {status}");
    }
    let mut c = h2(addr, "www.lab.test").await;
    for path in AMBIGUOUS_PATHS {
        // A :path the h2 client itself will not send (NUL, backslash) is
        // refused before it leaves; every other one must get 400.
        let Ok(req) = http::Request::builder()
            .uri(format!("https://www.lab.test{path}"))
            .body(full(""))
        else {
            continue;
        };
        let resp = c.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 400, "HTTP/2 {path:?}");
    }
    assert_eq!(member.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
    drop(proxy);
}

#[tokio::test]
async fn the_member_receives_the_normal_path_that_was_routed() {
    let member = echo("a").await;
    let port = free_port();
    let (proxy, _log) = start(plan(&www_site(port, &[member.port()])), |_| {}).await;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = h1(addr, "www.lab.test").await;
    for (sent, received) in [
        ("//%6Fwa//x?a=%2F..", "GET /owa/x?a=%2F.."),
        ("/owa/a%20b", "GET /owa/a%20b"),
    ] {
        let (status, _, body) = send(&mut c, get("www.lab.test", sent)).await;
        assert_eq!(status, 200, "{sent}: {body}");
        assert!(body.lines().any(|l| l == received), "{sent}: {body}");
    }
    drop(proxy);
}

#[tokio::test]
async fn the_forwarded_header_quotes_a_host_with_a_port() {
    let member = echo("a").await;
    let port = free_port();
    let (_proxy, _log) = start(plan(&www_site(port, &[member.port()])), |_| {}).await;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = h1(addr, "www.lab.test").await;
    let host = format!("www.lab.test:{port}");
    let (status, _, body) = send(&mut c, get(&host, "/")).await;
    assert_eq!(status, 200, "{body}");
    let forwarded = body
        .lines()
        .find_map(|l| l.strip_prefix("forwarded: "))
        .unwrap_or_else(|| panic!("no Forwarded header: {body}"));
    // RFC 7239 4: a value with `:` is a quoted-string.
    assert!(forwarded.contains(&format!("host=\"{host}\"")), "{forwarded}");
}
