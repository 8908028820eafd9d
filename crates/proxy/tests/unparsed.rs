//! Requests refused before they were requests still leave a trace: a head
//! that does not parse, one too large, ambiguous framing, an HTTP/2
//! preface on HTTP/1.1. Each gets its answer and one access-log line with
//! the client, the listener and why; the listener keeps serving.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use gatehouse_proxy::AccessRecord;
use tokio::io::AsyncWriteExt;

/// The records written so far, waiting briefly for the one a closing
/// connection writes after its last byte went out.
async fn records_until(log: &Capture, n: usize) -> Vec<AccessRecord> {
    for _ in 0..100 {
        let r = log.records();
        if r.len() >= n {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    log.records()
}

#[tokio::test]
async fn every_head_the_parser_refuses_is_logged_with_its_answer() {
    let member = echo("a").await;
    let https = free_port();
    let (_proxy, log) = start(plan(&www_site(https, &[member.port()])), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], https));
    let cases: Vec<(&str, Vec<u8>, &str, u16, &str)> = vec![
        (
            "space in a header name",
            b"GET / HTTP/1.1\r\nHost: www.lab.test\r\nBad Name: x\r\n\r\n".to_vec(),
            "HTTP/1.1 400",
            400,
            "unparsable request head",
        ),
        (
            "head over 128 KiB",
            format!(
                "GET / HTTP/1.1\r\nHost: www.lab.test\r\nX-Pad: {}\r\n\r\n",
                "p".repeat(140_000)
            )
            .into_bytes(),
            "HTTP/1.1 431",
            431,
            "request head too large",
        ),
        (
            "URI over 64 KiB",
            format!("GET /{} HTTP/1.1\r\nHost: www.lab.test\r\n\r\n", "u".repeat(70_000)).into_bytes(),
            "HTTP/1.1 414",
            414,
            "request URI too long",
        ),
        (
            "Content-Length and Transfer-Encoding",
            b"POST / HTTP/1.1\r\nHost: www.lab.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            "HTTP/1.1 400",
            400,
            "ambiguous request framing",
        ),
        (
            "HTTP/2 preface on an HTTP/1.1 connection",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            "HTTP/1.1 400",
            400,
            "unparsable request head",
        ),
    ];
    for (i, (what, bytes, answer, status, why)) in cases.into_iter().enumerate() {
        let got = raw_exchange(addr, &bytes).await;
        assert!(got.starts_with(answer), "{what}: {got:.200}");
        let records = records_until(&log, i + 1).await;
        assert_eq!(records.len(), i + 1, "{what}: one line each: {records:#?}");
        let r = &records[i];
        assert_eq!((r.status, r.outcome), (status, Some(why)), "{what}");
        assert_eq!(r.client.to_string(), "127.0.0.1", "{what}");
        assert_eq!(&*r.listener, "https", "{what}");
        assert_eq!(&*r.zone, "lab", "{what}");
        assert_eq!((r.method.as_str(), &*r.host, &*r.route), ("-", "-", "-"), "{what}");
    }
    assert_eq!(member.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
    // And the listener still serves.
    let mut c = h1(addr, "www.lab.test").await;
    assert_eq!(send(&mut c, get("www.lab.test", "/")).await.0, 200);
}

#[tokio::test]
async fn a_client_leaving_between_requests_leaves_no_refusal_line() {
    let member = echo("a").await;
    let https = free_port();
    let (_proxy, log) = start(plan(&www_site(https, &[member.port()])), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], https));
    // A whole request, then the client closes: one ordinary line.
    let got = raw_exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: www.lab.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got:.200}");
    // Half a head, then the client goes: nothing was refused.
    {
        let mut s = tls_connect(addr, Some("www.lab.test"), &[b"http/1.1"]).await;
        s.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let records = log.records();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!((records[0].status, records[0].outcome), (200, None));
}
