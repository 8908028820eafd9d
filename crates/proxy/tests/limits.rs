//! Request-head limits, from the outside: a large Kerberos token gets
//! through on both protocols, and the smuggling guard sees every request of
//! a connection whatever came before it.

mod common;

use std::net::SocketAddr;

use common::*;
use hyper::Request;

/// A `Negotiate` credential of `len` characters, as a large ticket is.
fn negotiate(len: usize) -> String {
    format!("Negotiate {}", "Y".repeat(len))
}

#[tokio::test]
async fn a_large_negotiate_token_over_http2_is_told_http_1_1_required() {
    let member = echo("a").await;
    let https = free_port();
    let (_proxy, _) = start(plan(&www_site(https, &[member.port()])), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], https));
    for len in [17_000, 60_000] {
        let mut c = h2(addr, "www.lab.test").await;
        let r = Request::builder()
            .uri(format!("https://www.lab.test:{https}/"))
            .header("authorization", negotiate(len))
            .body(full(""))
            .unwrap();
        let err = c.send_request(r).await.expect_err("stream is reset");
        let reason = std::error::Error::source(&err)
            .and_then(|e| e.downcast_ref::<h2::Error>())
            .and_then(|e| e.reason());
        assert_eq!(reason, Some(h2::Reason::HTTP_1_1_REQUIRED), "{len}: {err:?}");
    }
    assert_eq!(member.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_large_negotiate_token_over_http1_reaches_the_backend() {
    let member = echo("a").await;
    let https = free_port();
    let (_proxy, _) = start(plan(&www_site(https, &[member.port()])), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], https));
    for len in [17_000, 60_000, 65_534] {
        let mut c = h1(addr, "www.lab.test").await;
        let r = Request::builder()
            .uri("/")
            .header("host", "www.lab.test")
            .header("authorization", negotiate(len))
            .body(full(""))
            .unwrap();
        let (status, _, body) = send(&mut c, r).await;
        assert_eq!(status, 200, "{len}");
        assert!(body.contains(&negotiate(len)), "{len}: the backend got the token");
    }
}

#[tokio::test]
async fn a_large_request_does_not_switch_the_smuggling_guard_off() {
    let member = echo("a").await;
    let https = free_port();
    let (_proxy, _) = start(plan(&www_site(https, &[member.port()])), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], https));
    let large = format!(
        "GET /large HTTP/1.1\r\nHost: www.lab.test\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(70_000)
    );
    let smuggle = "POST /smuggle HTTP/1.1\r\nHost: www.lab.test\r\nTransfer-Encoding: chunked\r\n\
                   Transfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n0\r\n\r\nGET /hidden HTTP/1.1\r\n\r\n";
    let out = raw_exchange(addr, format!("{large}{smuggle}").as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("GET /large"), "{out}");
    let second = &out[out.find("body-bytes").unwrap()..];
    assert!(second.contains("HTTP/1.1 400"), "{out}");
    assert!(!out.contains("/smuggle") && !out.contains("/hidden"), "{out}");
    assert_eq!(member.requests.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_head_over_the_limit_or_with_too_many_fields_gets_431_and_the_connection_closes() {
    let member = echo("a").await;
    let https = free_port();
    let (_proxy, _) = start(plan(&www_site(https, &[member.port()])), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], https));
    let after = "GET /after HTTP/1.1\r\nHost: www.lab.test\r\n\r\n";
    let too_long = format!(
        "GET / HTTP/1.1\r\nHost: www.lab.test\r\nX-Pad: {}\r\n\r\n{after}",
        "p".repeat(200 * 1024)
    );
    let fields: String = (0..101).map(|i| format!("X-F{i}: v\r\n")).collect();
    let too_many = format!("GET / HTTP/1.1\r\nHost: www.lab.test\r\n{fields}\r\n{after}");
    for head in [too_long, too_many] {
        let out = raw_exchange(addr, head.as_bytes()).await;
        assert!(out.starts_with("HTTP/1.1 431"), "{out}");
        assert_eq!(out.matches("HTTP/1.1").count(), 1, "{out}");
    }
    assert_eq!(member.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// Log lines written while it is the thread's subscriber.
#[derive(Clone, Default)]
struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_smuggling_warning_names_client_and_listener() {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // Global: the proxy's connections may run on other threads. Only this
    // test of the binary sets it, and no other provokes the warning.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let member = echo("a").await;
    let https = free_port();
    let (_proxy, _) = start(plan(&www_site(https, &[member.port()])), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], https));
    let smuggle =
        "POST / HTTP/1.1\r\nHost: www.lab.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n";
    let out = raw_exchange(addr, smuggle.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    let text = String::from_utf8_lossy(&lines.0.lock().unwrap()).into_owned();
    let warning = text
        .lines()
        .find(|l| l.contains("ambiguous request framing"))
        .unwrap_or_else(|| panic!("no warning in {text}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("listener=https"), "{warning}");
    assert!(warning.contains("client=127.0.0.1"), "{warning}");
}

#[tokio::test]
async fn an_own_page_is_logged_with_its_size() {
    let member = echo("a").await;
    let https = free_port();
    let (_proxy, log) = start(plan(&www_site(https, &[member.port()])), |_| {}).await;
    let mut c = h1(SocketAddr::from(([127, 0, 0, 1], https)), "www.lab.test").await;
    let r = Request::builder()
        .uri("/")
        .header("host", "nowhere.lab.test")
        .body(full(""))
        .unwrap();
    let (status, _, body) = send(&mut c, r).await;
    assert!(status >= 400 && !body.is_empty(), "{status} {body}");
    let records = log.records();
    let record = records
        .iter()
        .find(|r| r.status == status)
        .expect("a line for the page");
    assert_eq!(record.bytes_out, body.len() as u64, "{record:?}");
}
