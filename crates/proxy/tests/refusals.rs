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
