//! HTTP(S) listeners behind another load balancer (`trusted_proxies` and
//! `client_address`), over real sockets from chosen loopback addresses:
//! the client a trusted balancer names (PROXY header before TLS, or each
//! request's `X-Forwarded-For`) decides the zone, the ACL, the routes' zone
//! restrictions, the forwarding headers and the access log; anyone else is
//! its own client and its forwarding headers are stripped.
//!
//! Addresses: 127.0.0.5 is the trusted balancer, 127.0.0.6 is "partners",
//! 127.0.0.7 is "blocked" (denied by the ACL), everything else on loopback
//! (127.0.0.8, 127.0.0.9) is "lab". partners.lab.test admits partners only.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use gatehouse_proxy::HttpProxy;
use http_body_util::BodyExt;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const BALANCER: &str = "127.0.0.5";
const PARTNER: &str = "127.0.0.6";
const BLOCKED: &str = "127.0.0.7";
const STRANGER: &str = "127.0.0.8";
const LAB_CLIENT: &str = "127.0.0.9";

struct Lab {
    proxy: HttpProxy,
    log: Arc<Capture>,
    /// https, `client_address = "proxy-protocol"`.
    pp: SocketAddr,
    /// http, `client_address = "x-forwarded-for"`.
    xff: SocketAddr,
    /// https, `client_address = "x-forwarded-for"`.
    xff_tls: SocketAddr,
    _web: Backend,
}

async fn lab() -> Lab {
    let web = echo("web").await;
    let (pp, xff, xff_tls) = (free_port(), free_port(), free_port());
    let text = format!(
        r#"
[gatehouse]
name = "lab"
default_zone = "outside"

[zones.outside]
[zones.lab]
prefixes = ["127.0.0.0/8"]
[zones.partners]
prefixes = ["{PARTNER}/32"]
[zones.blocked]
prefixes = ["{BLOCKED}/32"]

[services.web]
product = "generic"
class = "sharepoint"

[certificates.lab]
names = ["www.lab.test", "partners.lab.test"]

[pools.web]
service = "web"
members = ["127.0.0.1:{web}"]

[listeners.pp]
address = "127.0.0.1"
port = {pp}
protocol = "https"
zones = ["lab", "partners"]
certificates = ["lab"]
trusted_proxies = ["{BALANCER}/32"]
client_address = "proxy-protocol"

[listeners.xff]
address = "127.0.0.1"
port = {xff}
protocol = "http"
zones = ["lab", "partners"]
trusted_proxies = ["{BALANCER}/32"]
client_address = "x-forwarded-for"

[listeners.xff-tls]
address = "127.0.0.1"
port = {xff_tls}
protocol = "https"
zones = ["lab", "partners"]
certificates = ["lab"]
trusted_proxies = ["{BALANCER}/32"]
client_address = "x-forwarded-for"

[routes.www]
listeners = ["pp", "xff-tls"]
hosts = ["www.lab.test"]
pool = "web"

[routes.partners]
listeners = ["pp", "xff-tls"]
hosts = ["partners.lab.test"]
pool = "web"
zones = ["partners"]

[routes.www-plain]
listeners = ["xff"]
hosts = ["www.lab.test"]
pool = "web"
plain = true

[routes.partners-plain]
listeners = ["xff"]
hosts = ["partners.lab.test"]
pool = "web"
zones = ["partners"]
plain = true

[[acl]]
name = "no-blocked"
action = "deny"
from = ["blocked"]

[[acl]]
name = "web"
action = "allow"
from = ["lab", "partners"]
protocol = "tcp"
"#,
        web = web.port(),
    );
    let checked = gatehouse_model::check(&text);
    let plan = match checked.plan {
        Some(p) => Arc::new(p),
        None => panic!("test topology is invalid:\n{:#?}", checked.diagnostics),
    };
    let (proxy, log) = start(plan, |_| {}).await;
    let at = |port| SocketAddr::from(([127, 0, 0, 1], port));
    Lab {
        proxy,
        log,
        pp: at(pp),
        xff: at(xff),
        xff_tls: at(xff_tls),
        _web: web,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Connects to `to` from source address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(ip(from), 0)).unwrap();
    socket.connect(to).await.expect("connect to gatehouse")
}

/// A TLS client over an already connected stream; `None` if gatehouse
/// closed the connection instead of completing the handshake.
async fn tls_over(tcp: TcpStream, sni: &str) -> Option<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let handshake = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp);
    tokio::time::timeout(Duration::from_secs(5), handshake)
        .await
        .expect("gatehouse answers or closes within 5 s")
        .ok()
}

/// One GET over `io`; `None` if the connection closed without an answer.
async fn get_over<S>(io: S, host: &str, path: &str, headers: &[(&str, &str)]) -> Option<(u16, String)>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await.ok()?;
    tokio::spawn(conn);
    let mut req = Request::builder().uri(path).header("host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = send.send_request(req.body(full("")).unwrap()).await.ok()?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.ok()?.to_bytes();
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Through the PROXY-protocol listener: connect from `from`, send `first`
/// (a header, or nothing), then TLS and one GET.
async fn via_pp(lab: &Lab, from: &str, first: &[u8], host: &str) -> Option<(u16, String)> {
    let mut tcp = connect_from(from, lab.pp).await;
    tcp.write_all(first).await.ok()?;
    let tls = tls_over(tcp, host).await?;
    get_over(tls, host, "/", &[]).await
}

/// Through a plain or TLS x-forwarded-for listener.
async fn via_xff(lab: &Lab, tls: bool, from: &str, host: &str, headers: &[(&str, &str)]) -> Option<(u16, String)> {
    if tls {
        let tcp = connect_from(from, lab.xff_tls).await;
        get_over(tls_over(tcp, host).await?, host, "/", headers).await
    } else {
        get_over(connect_from(from, lab.xff).await, host, "/", headers).await
    }
}

fn header<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

fn v1(client: &str, to: SocketAddr) -> Vec<u8> {
    format!("PROXY TCP4 {client} {} 40000 {}\r\n", to.ip(), to.port()).into_bytes()
}

fn v2(client: &str, to: SocketAddr) -> Vec<u8> {
    let mut h = gatehouse_policy::proxy_header::V2_SIGNATURE.to_vec();
    h.extend_from_slice(&[0x21, 0x11, 0x00, 0x0c]);
    h.extend_from_slice(&client.parse::<std::net::Ipv4Addr>().unwrap().octets());
    h.extend_from_slice(&[127, 0, 0, 1]);
    h.extend_from_slice(&40000u16.to_be_bytes());
    h.extend_from_slice(&to.port().to_be_bytes());
    h
}

/// The access record of the last request for `host`.
fn last(log: &Capture, host: &str) -> gatehouse_proxy::AccessRecord {
    let records = log.records();
    records
        .iter()
        .rev()
        .find(|r| &*r.host == host)
        .cloned()
        .unwrap_or_else(|| panic!("no access record for {host}: {records:#?}"))
}

#[tokio::test]
async fn a_trusted_balancers_proxy_header_before_tls_names_the_client_whose_zone_decides() {
    let lab = lab().await;
    let (status, body) = via_pp(&lab, BALANCER, &v2(PARTNER, lab.pp), "partners.lab.test")
        .await
        .expect("the partner is served");
    assert_eq!(status, 200, "partners.lab.test admits the partner the header names");
    assert_eq!(header(&body, "x-forwarded-for"), Some(PARTNER));
    let r = last(&lab.log, "partners.lab.test");
    assert_eq!(
        (r.client, r.via, &*r.zone),
        (ip(PARTNER), Some(ip(BALANCER)), "partners")
    );

    let (status, _) = via_pp(&lab, BALANCER, &v1(LAB_CLIENT, lab.pp), "partners.lab.test")
        .await
        .expect("a lab client is served");
    assert_eq!(status, 404, "a lab client named by v1 is not a partner");
    let (status, body) = via_pp(&lab, BALANCER, &v1(LAB_CLIENT, lab.pp), "www.lab.test")
        .await
        .unwrap();
    assert_eq!((status, header(&body, "x-forwarded-for")), (200, Some(LAB_CLIENT)));

    // A blocked client is closed before TLS, whichever version names it.
    assert!(via_pp(&lab, BALANCER, &v2(BLOCKED, lab.pp), "www.lab.test")
        .await
        .is_none());
    assert!(via_pp(&lab, BALANCER, &v1(BLOCKED, lab.pp), "www.lab.test")
        .await
        .is_none());
    // The balancer's own checks (LOCAL) are its own client, in "lab".
    let local = [&gatehouse_policy::proxy_header::V2_SIGNATURE[..], &[0x20, 0, 0, 0]].concat();
    let (status, body) = via_pp(&lab, BALANCER, &local, "www.lab.test").await.unwrap();
    assert_eq!((status, header(&body, "x-forwarded-for")), (200, Some(BALANCER)));
    // ACL: two blocked clients denied; partner, lab client twice and LOCAL allowed.
    assert_eq!(lab.proxy.acl_hits(), vec![2, 4, 0]);
    assert_eq!(lab.proxy.refused_proxy_headers(), 0);
}

#[tokio::test]
async fn a_trusted_balancer_without_a_good_proxy_header_is_closed_and_counted() {
    let lab = lab().await;
    // TLS straight away: the ClientHello is not a PROXY header.
    assert!(via_pp(&lab, BALANCER, b"", "www.lab.test").await.is_none());
    assert!(
        via_pp(&lab, BALANCER, b"PROXY TCP4 127.0.0.6 garbage\r\n", "www.lab.test")
            .await
            .is_none()
    );
    let mut s = connect_from(BALANCER, lab.pp).await;
    s.write_all(b"PROXY TCP4 127.0.0.6").await.unwrap();
    s.shutdown().await.unwrap();
    drop(s);
    let start = std::time::Instant::now();
    while lab.proxy.refused_proxy_headers() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "three refused headers counted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(lab.proxy.refused_proxy_headers(), 3);
    assert_eq!(lab.proxy.acl_hits(), vec![0, 0, 0], "nobody was admitted or denied");
    assert!(lab.log.records().is_empty());
}

#[tokio::test]
async fn an_untrusted_peers_proxy_header_is_not_honoured() {
    let lab = lab().await;
    // A blocked client claiming to be a partner is closed at accept.
    assert!(via_pp(&lab, BLOCKED, &v2(PARTNER, lab.pp), "partners.lab.test")
        .await
        .is_none());
    // An allowed stranger's header is not read: it is bytes where TLS
    // should start, so the handshake fails and nothing is served.
    assert!(via_pp(&lab, STRANGER, &v2(PARTNER, lab.pp), "partners.lab.test")
        .await
        .is_none());
    // Without a header the stranger is served as itself, in "lab".
    let (status, body) = via_pp(&lab, STRANGER, b"", "www.lab.test").await.unwrap();
    assert_eq!((status, header(&body, "x-forwarded-for")), (200, Some(STRANGER)));
    assert_eq!(lab.proxy.refused_proxy_headers(), 0, "nothing was read as a header");
    assert_eq!(lab.proxy.acl_hits(), vec![1, 2, 0]);
}

#[tokio::test]
async fn a_trusted_proxys_x_forwarded_for_names_each_requests_client() {
    let lab = lab().await;
    for tls in [false, true] {
        let what = if tls { "https" } else { "http" };
        let xff = |v: &'static str| [("x-forwarded-for", v)];
        let (status, body) = via_xff(&lab, tls, BALANCER, "www.lab.test", &xff(BLOCKED))
            .await
            .unwrap();
        assert_eq!(status, 403, "{what}: a blocked client behind the balancer");
        assert!(!body.contains("member="), "{what}: the backend was not reached");
        let r = last(&lab.log, "www.lab.test");
        assert_eq!(
            (r.client, r.status, r.outcome),
            (ip(BLOCKED), 403, Some("client denied"))
        );

        let (status, body) = via_xff(&lab, tls, BALANCER, "www.lab.test", &xff(PARTNER))
            .await
            .unwrap();
        assert_eq!(status, 200, "{what}");
        assert_eq!(
            header(&body, "x-forwarded-for"),
            Some("127.0.0.6, 127.0.0.5"),
            "{what}: the chain as received, with the balancer appended"
        );
        assert_eq!(
            header(&body, "forwarded").map(|f| f.starts_with("for=127.0.0.6;")),
            Some(true)
        );
        let r = last(&lab.log, "www.lab.test");
        assert_eq!(
            (r.client, r.via, &*r.zone),
            (ip(PARTNER), Some(ip(BALANCER)), "partners")
        );

        // Route zones follow the named client.
        let (status, _) = via_xff(&lab, tls, BALANCER, "partners.lab.test", &xff(PARTNER))
            .await
            .unwrap();
        assert_eq!(status, 200, "{what}: a partner on the partners-only route");
        let (status, _) = via_xff(&lab, tls, BALANCER, "partners.lab.test", &xff(LAB_CLIENT))
            .await
            .unwrap();
        assert_eq!(status, 404, "{what}: a lab client on the partners-only route");
        // The rightmost untrusted entry wins over what the client forged on the left.
        let forged = [
            ("x-forwarded-for", "127.0.0.6"),
            ("x-forwarded-for", "127.0.0.9, 127.0.0.5"),
        ];
        let (status, body) = via_xff(&lab, tls, BALANCER, "partners.lab.test", &forged)
            .await
            .unwrap();
        assert_eq!(status, 404, "{what}: {body}");
        // No X-Forwarded-For (Forwarded is not consulted): the balancer itself.
        let fwd = [("forwarded", "for=127.0.0.6")];
        let (status, _) = via_xff(&lab, tls, BALANCER, "partners.lab.test", &fwd).await.unwrap();
        assert_eq!(status, 404, "{what}: Forwarded: for= is not believed");
        let (status, body) = via_xff(&lab, tls, BALANCER, "www.lab.test", &[]).await.unwrap();
        assert_eq!(
            (status, header(&body, "x-forwarded-for")),
            (200, Some(BALANCER)),
            "{what}"
        );
    }
}

#[tokio::test]
async fn one_trusted_proxy_connection_carries_clients_decided_request_by_request() {
    let lab = lab().await;
    let tcp = connect_from(BALANCER, lab.xff).await;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    for (client, want) in [(PARTNER, 200), (BLOCKED, 403), (LAB_CLIENT, 404), (PARTNER, 200)] {
        send.ready().await.unwrap();
        let req = Request::builder()
            .uri("/")
            .header("host", "partners.lab.test")
            .header("x-forwarded-for", client)
            .body(full(""))
            .unwrap();
        let resp = send.send_request(req).await.unwrap();
        let status = resp.status().as_u16();
        let _ = resp.into_body().collect().await;
        assert_eq!(status, want, "{client}");
    }
}

#[tokio::test]
async fn an_untrusted_peers_x_forwarded_for_is_stripped_and_its_own_zone_decides() {
    let lab = lab().await;
    let xff = [("x-forwarded-for", PARTNER), ("x-real-ip", PARTNER)];
    let (status, _) = via_xff(&lab, false, STRANGER, "partners.lab.test", &xff).await.unwrap();
    assert_eq!(status, 404, "the stranger is in lab, whatever it claims");
    let (status, body) = via_xff(&lab, false, STRANGER, "www.lab.test", &xff).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        header(&body, "x-forwarded-for"),
        Some(STRANGER),
        "the forged entry is gone"
    );
    assert_eq!(header(&body, "x-real-ip"), None);
    let r = last(&lab.log, "www.lab.test");
    assert_eq!((r.client, r.via, &*r.zone), (ip(STRANGER), None, "lab"));
    // A blocked peer is closed at accept, whatever it claims.
    assert!(via_xff(&lab, false, BLOCKED, "www.lab.test", &xff).await.is_none());
}
