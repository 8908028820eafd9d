//! The two TLS policies of a listener, from outside: `strict_sni` (a Host
//! that is not the TLS server name is refused, 400 on HTTP/1.1 and 421 on
//! HTTP/2) and `hsts` (`Strict-Transport-Security` on https answers, never
//! on plain HTTP); and the server's own cipher order, with openssl.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use common::*;
use gatehouse_proxy::HttpProxy;

struct Site {
    _proxy: HttpProxy,
    https: SocketAddr,
    http: SocketAddr,
    web: Backend,
}

/// Two generated certificates on one https listener (so `strict_sni` is on
/// unless `listener` says otherwise), a plain listener, and routes for
/// a.lab.test and b.lab.test. `listener` and `route` are extra lines for
/// the https listener and for route "a".
async fn site(listener: &str, route: &str, web: Backend) -> Site {
    let (port, plain) = (free_port(), free_port());
    let text = format!(
        r#"
[certificates.a]
names = ["a.lab.test"]
[certificates.b]
names = ["b.lab.test"]
[pools.web]
service = "web"
members = ["127.0.0.1:{w}"]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["a", "b"]
{listener}
[listeners.http]
address = "127.0.0.1"
port = {plain}
protocol = "http"
zones = ["lab"]
[routes.a]
listeners = ["https", "http"]
hosts = ["a.lab.test"]
pool = "web"
plain = true
{route}
[routes.b]
listeners = ["https"]
hosts = ["b.lab.test"]
pool = "web"
"#,
        w = web.port()
    );
    let (proxy, _) = start(plan(&text), |_| {}).await;
    Site {
        _proxy: proxy,
        https: SocketAddr::from(([127, 0, 0, 1], port)),
        http: SocketAddr::from(([127, 0, 0, 1], plain)),
        web,
    }
}

/// curl to `https://NAME:port/` (so NAME is the TLS server name) with the
/// given Host header; `-w` prints the status last.
async fn status_for(addr: SocketAddr, sni: &str, host: &str, version: &str) -> (u16, String) {
    let url = format!("https://{sni}:{}/", addr.port());
    let host = format!("Host: {host}");
    let out = curl(addr, sni, &[version, "-H", &host, "-w", "\n%{http_code}", &url]).await;
    let text = stdout(&out);
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[tokio::test]
async fn a_host_that_is_not_the_sni_name_is_refused_where_the_listener_has_two_certificates() {
    let s = site("", "", echo("web").await).await;
    // The name that chose the certificate routes the request.
    assert_eq!(
        status_for(s.https, "a.lab.test", "a.lab.test", "--http1.1").await.0,
        200
    );
    let before = s.web.requests.load(Ordering::SeqCst);
    // HTTP/1.1: a 400, the request never forwarded.
    let (status, body) = status_for(s.https, "a.lab.test", "b.lab.test", "--http1.1").await;
    assert_eq!(status, 400, "{body}");
    // HTTP/2: 421, so that a browser which reused the connection for
    // another name retries on a connection of its own.
    let (status, body) = status_for(s.https, "a.lab.test", "b.lab.test", "--http2").await;
    assert_eq!(status, 421, "{body}");
    assert!(body.contains("Misdirected request"), "{body}");
    assert_eq!(
        s.web.requests.load(Ordering::SeqCst),
        before,
        "nothing reached the member"
    );
    // Case and port do not make a name differ.
    let port = s.https.port();
    let (status, _) = status_for(s.https, "a.lab.test", &format!("A.Lab.Test:{port}"), "--http1.1").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_client_without_sni_is_routed_by_host_alone() {
    let s = site("", "", echo("web").await).await;
    // A raw rustls client that sends no server name, as old clients do.
    let mut c = {
        let tls = tls_connect(s.https, None, &[b"http/1.1"]).await;
        let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        send
    };
    let (status, _, _) = send(&mut c, get("b.lab.test", "/")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn strict_sni_can_be_turned_off_and_one_certificate_does_not_turn_it_on() {
    let off = site("strict_sni = false", "", echo("web").await).await;
    assert_eq!(
        status_for(off.https, "a.lab.test", "b.lab.test", "--http1.1").await.0,
        200
    );
    assert_eq!(
        status_for(off.https, "a.lab.test", "b.lab.test", "--http2").await.0,
        200
    );
    // One certificate for both names: HTTP/2 coalescing is legitimate there.
    let web = echo("web").await;
    let port = free_port();
    let one = format!(
        "[certificates.ab]\nnames = [\"a.lab.test\", \"b.lab.test\"]\n[pools.web]\nservice = \"web\"\n\
         members = [\"127.0.0.1:{w}\"]\n[listeners.https]\naddress = \"127.0.0.1\"\nport = {port}\n\
         protocol = \"https\"\nzones = [\"lab\"]\ncertificates = [\"ab\"]\n[routes.ab]\nlisteners = [\"https\"]\n\
         hosts = [\"a.lab.test\", \"b.lab.test\"]\npool = \"web\"\n",
        w = web.port()
    );
    let (_proxy, _) = start(plan(&one), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(status_for(addr, "a.lab.test", "b.lab.test", "--http2").await.0, 200);
}

/// The `strict-transport-security` lines of curl's response headers.
async fn sts(addr: SocketAddr, url: &str, host: &str) -> Vec<String> {
    let out = curl(addr, host, &["-o", "/dev/null", "-D", "-", url]).await;
    stdout(&out)
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("strict-transport-security:"))
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// A backend that sends a weak HSTS header of its own.
async fn weak_hsts_backend() -> Backend {
    backend(|_req, _conn| async {
        let mut r = text(200, "ok");
        r.headers_mut()
            .insert("strict-transport-security", http::HeaderValue::from_static("max-age=5"));
        r
    })
    .await
}

#[tokio::test]
async fn https_answers_carry_a_year_of_hsts_and_plain_http_answers_none() {
    let mut s = site("", "", echo("web").await).await;
    let https = format!("https://a.lab.test:{}/", s.https.port());
    assert_eq!(
        sts(s.https, &https, "a.lab.test").await,
        ["strict-transport-security: max-age=31536000"]
    );
    // RFC 6797 7.2: never over plain HTTP, even on a route that has it.
    let plain = format!("http://a.lab.test:{}/", s.http.port());
    assert_eq!(sts(s.http, &plain, "a.lab.test").await, Vec::<String>::new());
    // gatehouse's own answers on a route (a 502: the member is gone) teach
    // HTTPS too.
    s.web.kill();
    let (status, _) = status_for(s.https, "a.lab.test", "a.lab.test", "--http1.1").await;
    assert_eq!(status, 502);
    assert_eq!(
        sts(s.https, &https, "a.lab.test").await,
        ["strict-transport-security: max-age=31536000"]
    );
}

#[tokio::test]
async fn the_gateway_hsts_replaces_the_backend_one_and_off_lets_it_through() {
    let on = site(
        "hsts = { max_age = \"730d\", include_subdomains = true, preload = true }",
        "",
        weak_hsts_backend().await,
    )
    .await;
    let url = format!("https://a.lab.test:{}/", on.https.port());
    assert_eq!(
        sts(on.https, &url, "a.lab.test").await,
        ["strict-transport-security: max-age=63072000; includeSubDomains; preload"]
    );
    // Route "a" turns it off: the backend's own header is what the client gets.
    let off = site("", "hsts = false", weak_hsts_backend().await).await;
    let url = format!("https://a.lab.test:{}/", off.https.port());
    assert_eq!(
        sts(off.https, &url, "a.lab.test").await,
        ["strict-transport-security: max-age=5"]
    );
    let url = format!("https://b.lab.test:{}/", off.https.port());
    assert_eq!(
        sts(off.https, &url, "b.lab.test").await,
        ["strict-transport-security: max-age=31536000"],
        "route b keeps the listener's"
    );
}

/// The suite openssl says was negotiated when offering `offer`, in that order.
async fn negotiated(addr: SocketAddr, args: &[&str]) -> String {
    let target = addr.to_string();
    let mut all = vec!["s_client", "-connect", &target, "-servername", "a.lab.test"];
    all.extend_from_slice(args);
    let out = tool("openssl", &all, Some(b"")).await;
    let text = stdout(&out);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Cipher    :").map(|c| c.trim().to_string()))
        .or_else(|| {
            text.lines()
                .find_map(|l| l.split_once(", Cipher is ").map(|(_, c)| c.trim().to_string()))
        })
        .unwrap_or_else(|| panic!("no cipher in openssl output:\n{text}\n{}", stderr(&out)))
}

#[tokio::test]
async fn the_server_picks_the_suite_by_its_own_order_not_the_client_one() {
    let s = site("", "", echo("web").await).await;
    // TLS 1.3: a client preferring AES-128 still gets AES-256, the first of
    // the server's list, whichever order it offers them in.
    for offer in [
        "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384",
        "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256",
    ] {
        let got = negotiated(s.https, &["-tls1_3", "-ciphersuites", offer]).await;
        assert_eq!(got, "TLS_AES_256_GCM_SHA384", "offered {offer}");
    }
    // TLS 1.2 likewise (the generated certificates are ECDSA).
    for offer in [
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256",
    ] {
        let got = negotiated(s.https, &["-tls1_2", "-cipher", offer]).await;
        assert_eq!(got, "ECDHE-ECDSA-AES256-GCM-SHA384", "offered {offer}");
    }
}
