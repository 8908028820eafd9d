//! Routing, headers, redirects, zones, error pages, retries, reload and
//! shutdown, tested through real TLS connections to a running proxy.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use gatehouse_proxy::HttpProxy;
use hyper::body::Incoming;
use hyper::Request;

struct Lab {
    _proxy: HttpProxy,
    log: Arc<Capture>,
    https: SocketAddr,
    http: SocketAddr,
    _backends: Vec<Backend>,
}

async fn lab() -> Lab {
    let (owa, web, api, lync, lync8080) = (
        echo("owa").await,
        echo("web").await,
        echo("api").await,
        echo("lync-4443").await,
        echo("lync-8080").await,
    );
    let slow = backend(|_req: Request<Incoming>, _c| async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        text(200, "late")
    })
    .await;
    let dead = free_port();
    let (https, http) = (free_port(), free_port());
    let topology = format!(
        r#"
[certificates.lab]
names = ["mail.lab.test", "www.lab.test", "meet.lab.test", "admin.lab.test", "deny.lab.test",
         "dead.lab.test", "slow.lab.test", "lyncdiscover.lab.test"]

[pools.owa]
service = "exchange"
members = ["127.0.0.1:{owa}"]

[pools.web]
service = "web"
members = ["127.0.0.1:{web}"]

[pools.api]
service = "web"
members = ["127.0.0.1:{api}"]

[pools.lync]
service = "web"
members = ["127.0.0.1"]

[pools.dead]
service = "web"
members = ["127.0.0.1:{dead}"]

[pools.slow]
service = "web"
members = ["127.0.0.1:{slow}"]

[listeners.https]
address = "127.0.0.1"
port = {https}
protocol = "https"
zones = ["lab"]
certificates = ["lab"]

[listeners.http]
address = "127.0.0.1"
port = {http}
protocol = "http"
zones = ["lab"]

[routes.owa]
listeners = ["https"]
hosts = ["mail.lab.test"]
paths = ["/owa"]
pool = "owa"

[routes.mail-root]
listeners = ["https"]
hosts = ["mail.lab.test"]
pool = "web"

[routes.www]
listeners = ["https"]
hosts = ["www.lab.test"]
pool = "web"

[routes.www-api]
listeners = ["https"]
hosts = ["www.lab.test"]
paths = ["/api"]
pool = "api"

[routes.meet]
listeners = ["https"]
hosts = ["meet.lab.test"]
pool = "lync"
backend_port = {lync_port}
host_rewrite = "pool01.lab.internal"

[routes.admin]
listeners = ["https"]
hosts = ["admin.lab.test"]
pool = "web"
zones = ["outside"]

[routes.deny]
listeners = ["https"]
hosts = ["deny.lab.test"]
pool = "web"
auth_default = "deny"

[routes.dead]
listeners = ["https"]
hosts = ["dead.lab.test"]
pool = "dead"

[routes.slow]
listeners = ["https"]
hosts = ["slow.lab.test"]
pool = "slow"
timeouts = {{ idle = "300ms" }}

[routes.lyncdiscover-plain]
listeners = ["http"]
hosts = ["lyncdiscover.lab.test"]
pool = "lync"
backend_port = {lync8080_port}
plain = true
"#,
        owa = owa.port(),
        web = web.port(),
        api = api.port(),
        slow = slow.port(),
        lync_port = lync.port(),
        lync8080_port = lync8080.port(),
    );
    let (proxy, log) = start(plan(&topology), |_| {}).await;
    Lab {
        _proxy: proxy,
        log,
        https: SocketAddr::from(([127, 0, 0, 1], https)),
        http: SocketAddr::from(([127, 0, 0, 1], http)),
        _backends: vec![owa, web, api, lync, lync8080, slow],
    }
}

fn member(body: &str) -> &str {
    body.lines().next().unwrap_or("").trim_start_matches("member=")
}

fn header<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[tokio::test]
async fn exchange_virtual_directories_match_case_insensitively() {
    let lab = lab().await;
    let mut c = h1(lab.https, "mail.lab.test").await;
    for path in ["/owa/", "/OWA/", "/Owa/auth/logon.aspx", "/owa", "/%6fwa/"] {
        let (status, _, body) = send(&mut c, get("mail.lab.test", path)).await;
        assert_eq!((status, member(&body)), (200, "owa"), "{path}");
    }
    // A segment boundary matters: /owax is not /owa.
    let (_, _, body) = send(&mut c, get("mail.lab.test", "/owax")).await;
    assert_eq!(member(&body), "web");
    // Dot segments cannot smuggle a path past its route: IIS resolves them
    // after its own decoding, so they are refused (docs/refusals.md).
    let (status, _, _) = send(&mut c, get("mail.lab.test", "/x/../owa/")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn routes_by_host_then_longest_path_prefix() {
    let lab = lab().await;
    let mut c = h1(lab.https, "www.lab.test").await;
    let cases = [
        ("/api/v1", "api"),
        ("/api", "api"),
        ("/apix", "web"),
        ("/", "web"),
        ("/API/v1", "web"),
    ];
    for (path, want) in cases {
        let (_, _, body) = send(&mut c, get("www.lab.test", path)).await;
        assert_eq!(member(&body), want, "{path}");
    }
    let (status, _, _) = send(&mut c, get("unknown.lab.test", "/")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn host_is_preserved_by_default_and_rewritten_per_route_with_port_mapping() {
    let lab = lab().await;
    let mut c = h1(lab.https, "www.lab.test").await;
    let host = format!("www.lab.test:{}", lab.https.port());
    let (_, _, body) = send(&mut c, get(&host, "/")).await;
    assert_eq!(header(&body, "host"), Some(host.as_str()));

    // meet.lab.test: members have no port; the route maps to backend_port,
    // and the Host header is rewritten.
    let (status, _, body) = send(&mut c, get("meet.lab.test", "/meet/x")).await;
    assert_eq!(status, 200);
    assert_eq!(member(&body), "lync-4443");
    assert_eq!(header(&body, "host"), Some("pool01.lab.internal"));
    assert_eq!(header(&body, "x-forwarded-host"), Some("meet.lab.test"));
}

#[tokio::test]
async fn forwarding_headers_are_set_and_client_forgeries_stripped() {
    let lab = lab().await;
    let mut c = h1(lab.https, "www.lab.test").await;
    let req = Request::builder()
        .uri("/")
        .header("host", "www.lab.test")
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", "evil.example")
        .header("forwarded", "for=6.6.6.6")
        .header("x-real-ip", "6.6.6.6")
        .header("x-gatehouse-user", "administrator")
        .header("connection", "x-hop")
        .header("x-hop", "1")
        .header("proxy-authorization", "Basic Zm9v")
        .body(full(""))
        .unwrap();
    let (_, _, body) = send(&mut c, req).await;
    assert_eq!(header(&body, "x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(header(&body, "x-forwarded-proto"), Some("https"));
    assert_eq!(header(&body, "x-forwarded-host"), Some("www.lab.test"));
    assert_eq!(
        header(&body, "forwarded"),
        Some("for=127.0.0.1;proto=https;host=www.lab.test")
    );
    for gone in [
        "x-real-ip",
        "x-gatehouse-user",
        "x-hop",
        "connection",
        "proxy-authorization",
    ] {
        assert_eq!(header(&body, gone), None, "{gone} reached the backend:\n{body}");
    }
}

#[tokio::test]
async fn route_zone_restriction_answers_404_and_deny_policy_403() {
    let lab = lab().await;
    let mut c = h1(lab.https, "admin.lab.test").await;
    let (status, _, body) = send(&mut c, get("admin.lab.test", "/")).await;
    assert_eq!(status, 404, "admin is not revealed to the lab zone");
    assert!(!body.contains("member="));
    let (status, _, _) = send(&mut c, get("deny.lab.test", "/")).await;
    assert_eq!(status, 403);
    let records = lab.log.records();
    assert!(records.iter().any(|r| r.status == 404 && r.zone.as_ref() == "lab"));
    assert!(records.iter().any(|r| r.status == 403 && r.route.as_ref() == "deny"));
}

#[tokio::test]
async fn plain_listener_redirects_to_https_except_plain_routes() {
    let lab = lab().await;
    let mut c = h1_plain(lab.http).await;
    let (status, headers, _) = send(&mut c, get("www.lab.test", "/owa/x?y=1")).await;
    assert_eq!(status, 301);
    assert_eq!(
        headers["location"],
        format!("https://www.lab.test:{}/owa/x?y=1", lab.https.port()).as_str()
    );
    // Lync discovery is served on port 80, by the front ends' port 8080.
    let (status, _, body) = send(&mut c, get("lyncdiscover.lab.test", "/")).await;
    assert_eq!(status, 200);
    assert_eq!(member(&body), "lync-8080");
    assert_eq!(header(&body, "x-forwarded-proto"), Some("http"));
    // Names published nowhere are not redirected.
    let (status, _, _) = send(&mut c, get("elsewhere.example", "/")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn error_pages_speak_the_client_language_and_reveal_nothing() {
    let lab = lab().await;
    let mut c = h1(lab.https, "dead.lab.test").await;
    for (lang, word) in [
        ("fr-FR,fr;q=0.9", "Passerelle"),
        ("es", "Puerta de enlace"),
        ("de", "Bad gateway"),
    ] {
        let req = Request::builder()
            .uri("/")
            .header("host", "dead.lab.test")
            .header("accept-language", lang)
            .body(full(""))
            .unwrap();
        // One member, and connecting to it fails: no other member to try,
        // so 502. The first failure ejects it (passive health), but an
        // ejected member that passes its checks is still tried when no
        // other is up, so every later request is 502 too.
        let (status, headers, body) = send(&mut c, req).await;
        assert_eq!(status, 502, "{lang}: {body}");
        assert!(body.contains(word), "{lang}: {body}");
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(
            !body.contains("127.0.0.1") && !body.to_lowercase().contains("refused"),
            "{body}"
        );
    }
    // After the connect failures the member is ejected, and the last
    // resort: still tried, still 502.
    assert_eq!(lab._proxy.pools().is_up("dead", 0), Some(false), "ejected");
    let (status, _, body) = send(&mut c, get("dead.lab.test", "/")).await;
    assert_eq!(status, 502, "{body}");
    // A backend slower than the route's idle timeout: 504, in Spanish.
    let req = Request::builder()
        .uri("/")
        .header("host", "slow.lab.test")
        .header("accept-language", "es-ES")
        .body(full(""))
        .unwrap();
    let (status, _, body) = send(&mut c, req).await;
    assert_eq!(status, 504);
    assert!(body.contains("Tiempo de espera agotado"), "{body}");
}

#[tokio::test]
async fn access_log_has_one_line_per_request_with_zone_route_member_status() {
    let lab = lab().await;
    let mut c = h1(lab.https, "www.lab.test").await;
    let upload = Request::builder()
        .method("POST")
        .uri("/api/x")
        .header("host", "www.lab.test")
        .body(full("0123456789"))
        .unwrap();
    let (_, _, body) = send(&mut c, upload).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let records = lab.log.records();
    assert_eq!(records.len(), 1, "{records:#?}");
    let r = &records[0];
    assert_eq!((r.zone.as_ref(), r.route.as_ref(), r.status), ("lab", "www-api", 200));
    assert!(r.member.starts_with("127.0.0.1:"));
    assert_eq!((r.bytes_in, r.bytes_out), (10, body.len() as u64));
    assert!(r.bytes_out > 0);
    assert!(!r.pinned);
    assert_eq!(r.user, None);
}

async fn deny_topology(listener_zones: &str, deny_port: bool) -> (HttpProxy, SocketAddr) {
    let web = echo("web").await;
    let port = free_port();
    let acl = if deny_port {
        format!(
            "[[acl]]\nname = \"block\"\naction = \"deny\"\nfrom = [\"lab\"]\nprotocol = \"tcp\"\nports = [{port}]\n"
        )
    } else {
        String::new()
    };
    // The deny rule must come before LAB's allow-all; prepend via a new file order.
    let text = format!(
        r#"
{acl}
[certificates.lab]
names = ["www.lab.test"]
[pools.web]
service = "web"
members = ["127.0.0.1:{w}"]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = {listener_zones}
certificates = ["lab"]
[routes.www]
listeners = ["https"]
hosts = ["www.lab.test"]
pool = "web"
"#,
        w = web.port()
    );
    std::mem::forget(web);
    let plan = if deny_port {
        // ACL rules are ordered: the block rule goes first.
        let full = format!("{acl}\n{}", common::LAB) + &text.replace(&acl, "");
        let checked = gatehouse_model::check(&full);
        Arc::new(checked.plan.unwrap_or_else(|| panic!("{:#?}", checked.diagnostics)))
    } else {
        plan(&text)
    };
    let (proxy, _) = start(plan, |_| {}).await;
    (proxy, SocketAddr::from(([127, 0, 0, 1], port)))
}

async fn closed_before_handshake(addr: SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // A ClientHello-shaped first record; gatehouse must not answer it.
    let _ = tcp.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0]).await;
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("gatehouse closed the connection")
        .unwrap_or(0);
    assert_eq!(n, 0, "gatehouse sent bytes to a denied client");
    let out = tool(
        "openssl",
        &["s_client", "-connect", &addr.to_string(), "-servername", "www.lab.test"],
        Some(b""),
    )
    .await;
    assert!(!out.status.success() || !stdout(&out).contains("BEGIN CERTIFICATE"));
}

#[tokio::test]
async fn listener_zone_denial_closes_the_connection_before_tls() {
    let (proxy, addr) = deny_topology("[\"outside\"]", false).await;
    closed_before_handshake(addr).await;
    assert_eq!(proxy.connections(), 0);
}

#[tokio::test]
async fn gateway_acl_denial_is_counted_and_closes_before_tls() {
    let (proxy, addr) = deny_topology("[\"lab\"]", true).await;
    closed_before_handshake(addr).await;
    let hits = proxy.acl_hits();
    assert!(hits[0] >= 2, "the block rule counted the denials: {hits:?}");
}
