//! Pre-authentication fails closed: a route whose auth policy names a
//! provider that gatehouse does not enforce answers 503 "sign-in
//! unavailable" in the client's language, and its pool never sees a
//! connection; the same route from a pass-through zone is forwarded.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::*;
use gatehouse_proxy::HttpProxy;
use http_body_util::BodyExt;

/// The client address curl binds to for the "internet" zone; loopback
/// clients on 127.0.0.1 are zone "lab".
const INTERNET_CLIENT: &str = "127.0.0.2";

struct Owa {
    _proxy: HttpProxy,
    log: Arc<Capture>,
    addr: SocketAddr,
    owa: Backend,
    sso: Backend,
}

/// Contoso's OWA route in small: forms for the internet zone, pass-through
/// (the default) for the lab; and a route pre-authenticated for everyone.
async fn owa() -> Owa {
    let (owa, sso) = (echo("owa").await, echo("sso").await);
    let port = free_port();
    let topology = format!(
        r#"
[zones.internet]
prefixes = ["{INTERNET_CLIENT}/32"]

[[acl]]
name = "internet-web"
action = "allow"
from = ["internet"]
protocol = "tcp"

[auth_providers.corp-forms]
method = "forms"
url = "ldaps://dc.lab.test"

[auth_providers.corp-basic]
method = "basic"
url = "ldaps://dc.lab.test"

[certificates.lab]
names = ["mail.lab.test", "sso.lab.test"]

[pools.owa]
service = "exchange"
members = ["127.0.0.1:{owa}"]

[pools.sso]
service = "web"
members = ["127.0.0.1:{sso}"]

[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab", "internet"]
certificates = ["lab"]

[routes.owa]
listeners = ["https"]
hosts = ["mail.lab.test"]
paths = ["/owa"]
pool = "owa"
auth = {{ internet = "corp-forms" }}

[routes.sso]
listeners = ["https"]
hosts = ["sso.lab.test"]
pool = "sso"
auth_default = "corp-basic"
"#,
        owa = owa.port(),
        sso = sso.port(),
    );
    let (proxy, log) = start(plan(&topology), |_| {}).await;
    Owa {
        _proxy: proxy,
        log,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        owa,
        sso,
    }
}

/// curl from the internet zone: status line, headers and body.
async fn from_internet(lab: &Owa, host: &str, path: &str, extra: &[&str]) -> String {
    let url = format!("https://{host}:{}{path}", lab.addr.port());
    let mut args = vec!["-i", "--interface", INTERNET_CLIENT];
    args.extend_from_slice(extra);
    args.push(&url);
    let out = curl(lab.addr, host, &args).await;
    assert!(out.status.success(), "curl failed: {}", stderr(&out));
    stdout(&out)
}

#[tokio::test]
async fn unenforced_forms_refuses_internet_clients_with_503_in_their_language() {
    let lab = owa().await;
    let cases = [
        (None, "en", "Sign-in unavailable"),
        (Some("es-ES,es;q=0.9"), "es", "Inicio de sesión no disponible"),
        (Some("fr"), "fr", "Connexion indisponible"),
    ];
    for (accept, lang, title) in cases {
        let header = accept.map(|a| format!("accept-language: {a}"));
        let extra: Vec<&str> = header.iter().flat_map(|h| ["-H", h.as_str()]).collect();
        let out = from_internet(&lab, "mail.lab.test", "/owa/", &extra).await;
        let lower = out.to_ascii_lowercase();
        assert!(
            out.starts_with("HTTP/1.1 503") || out.starts_with("HTTP/2 503"),
            "{out}"
        );
        assert!(lower.contains(&format!("content-language: {lang}")), "{out}");
        assert!(lower.contains("cache-control: no-store"), "{out}");
        // A configuration state, not a passing one: no retry is promised.
        assert!(!lower.contains("retry-after"), "{out}");
        assert!(out.contains(&format!("<h1>{title}</h1>")), "{out}");
        assert!(
            !out.contains("127.0.0.1") && !out.contains("owa") && !out.contains("corp-forms"),
            "{out}"
        );
    }
    // Credentials the gateway cannot check change nothing.
    let out = from_internet(&lab, "mail.lab.test", "/owa/", &["-u", "alice:secret"]).await;
    assert!(
        out.starts_with("HTTP/1.1 503") || out.starts_with("HTTP/2 503"),
        "{out}"
    );
    assert_eq!(lab.owa.connections.load(Ordering::SeqCst), 0, "the member was reached");
    let records = lab.log.records();
    assert_eq!(records.len(), 4);
    for r in &records {
        assert_eq!((r.status, r.zone.as_ref(), r.route.as_ref()), (503, "internet", "owa"));
        assert_eq!(r.outcome, Some("pre-authentication not enforced"));
        assert_eq!(r.member.as_ref(), "-");
    }
}

#[tokio::test]
async fn the_same_route_from_a_pass_through_zone_is_forwarded() {
    let lab = owa().await;
    let url = format!("https://mail.lab.test:{}/owa/", lab.addr.port());
    let out = curl(lab.addr, "mail.lab.test", &["-i", &url]).await;
    let out = stdout(&out);
    assert!(out.contains(" 200"), "{out}");
    assert!(out.contains("member=owa"), "{out}");
    assert_eq!(lab.owa.connections.load(Ordering::SeqCst), 1);
    let refused = from_internet(&lab, "mail.lab.test", "/owa/", &[]).await;
    assert!(refused.contains(" 503"), "{refused}");
    assert_eq!(
        lab.owa.requests.load(Ordering::SeqCst),
        1,
        "only the lab request reached the member"
    );
}

#[tokio::test]
async fn auth_default_provider_refuses_every_zone_over_http2_too() {
    // Two requests on one connection: a refusal is an answer, not a reset.
    let lab = owa().await;
    let mut c = h2(lab.addr, "sso.lab.test").await;
    for _ in 0..2 {
        let req = http::Request::builder()
            .uri(format!("https://sso.lab.test:{}/", lab.addr.port()))
            .header("accept-language", "fr")
            .body(full(""))
            .unwrap();
        c.ready().await.unwrap();
        let resp = c.send_request(req).await.expect("an answer on the stream");
        assert_eq!(resp.status(), 503);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("Connexion indisponible"));
    }
    assert_eq!(lab.sso.connections.load(Ordering::SeqCst), 0, "the member was reached");
    assert_eq!(lab.log.records().len(), 2);
}
