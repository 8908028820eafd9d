//! Front-end TLS (SNI, default certificate, versions, ALPN, OCSP stapling,
//! generated certificates), certificate warnings, and re-encryption to
//! backends, checked with openssl, curl and rustls clients.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

fn ca() -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "gatehouse test CA");
    Ca {
        issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
    }
}

/// Writes `NAME.pem` and `NAME.key` for a leaf certificate; returns its DER.
fn leaf(dir: &Path, name: &str, sans: &[&str], ca: &Ca, not_after: Option<(i32, u8, u8)>) -> Vec<u8> {
    let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, sans[0]);
    if let Some((y, m, d)) = not_after {
        params.not_after = rcgen::date_time_ymd(y, m, d);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    cert.der().to_vec()
}

async fn presented_sans(addr: SocketAddr, servername: Option<&str>) -> String {
    let target = addr.to_string();
    let mut args = vec!["s_client", "-connect", &target];
    match servername {
        Some(n) => args.extend(["-servername", n]),
        None => args.push("-noservername"),
    }
    let hello = tool("openssl", &args, Some(b"")).await;
    let cert = tool(
        "openssl",
        &["x509", "-noout", "-ext", "subjectAltName"],
        Some(&hello.stdout),
    )
    .await;
    stdout(&cert)
}

#[tokio::test]
async fn sni_picks_the_certificate_and_clients_without_sni_get_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca();
    leaf(dir.path(), "a", &["a.lab.test"], &ca, None);
    leaf(dir.path(), "b", &["b.lab.test", "*.wild.lab.test"], &ca, None);
    let web = echo("web").await;
    let port = free_port();
    let text = format!(
        r#"
[certificates.a]
cert = "a.pem"
key = "a.key"
[certificates.b]
cert = "b.pem"
key = "b.key"
[pools.web]
service = "web"
members = ["127.0.0.1:{w}"]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["a", "b"]
default_certificate = "b"
[routes.www]
listeners = ["https"]
hosts = ["a.lab.test", "b.lab.test", "x.wild.lab.test"]
pool = "web"
"#,
        w = web.port()
    );
    let base = dir.path().to_path_buf();
    let (_proxy, _) = start(plan(&text), move |o| o.base_dir = base).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let sans = presented_sans(addr, Some("a.lab.test")).await;
    assert!(
        sans.contains("DNS:a.lab.test") && !sans.contains("b.lab.test"),
        "{sans}"
    );
    let sans = presented_sans(addr, Some("x.wild.lab.test")).await;
    assert!(sans.contains("DNS:*.wild.lab.test"), "{sans}");
    let sans = presented_sans(addr, None).await;
    assert!(sans.contains("DNS:b.lab.test"), "no SNI gets the default: {sans}");
    // And the certificate is usable: a request through it works.
    let mut c = h1(addr, "a.lab.test").await;
    let (status, _, _) = send(&mut c, get("a.lab.test", "/")).await;
    assert_eq!(status, 200);
}

async fn generated_lab() -> (gatehouse_proxy::HttpProxy, SocketAddr, Backend) {
    let web = echo("web").await;
    let port = free_port();
    let text = format!(
        r#"
[certificates.lab]
names = ["www.lab.test", "mail.lab.test"]
[pools.web]
service = "web"
members = ["127.0.0.1:{w}"]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["lab"]
[routes.www]
listeners = ["https"]
hosts = ["www.lab.test"]
pool = "web"
"#,
        w = web.port()
    );
    let (proxy, _) = start(plan(&text), |_| {}).await;
    (proxy, SocketAddr::from(([127, 0, 0, 1], port)), web)
}

#[tokio::test]
async fn a_certificate_without_files_is_generated_for_its_names() {
    let (_p, addr, _w) = generated_lab().await;
    let sans = presented_sans(addr, Some("www.lab.test")).await;
    assert!(
        sans.contains("DNS:www.lab.test") && sans.contains("DNS:mail.lab.test"),
        "{sans}"
    );
}

#[tokio::test]
async fn only_tls_1_2_and_1_3_are_accepted() {
    let (_p, addr, _w) = generated_lab().await;
    let target = addr.to_string();
    for (flag, ok) in [
        ("-tls1_3", true),
        ("-tls1_2", true),
        ("-tls1_1", false),
        ("-tls1", false),
    ] {
        // SECLEVEL=0 lets the client offer old versions, so the refusal is gatehouse's.
        let out = tool(
            "openssl",
            &[
                "s_client",
                "-connect",
                &target,
                "-servername",
                "www.lab.test",
                flag,
                "-cipher",
                "DEFAULT@SECLEVEL=0",
            ],
            Some(b""),
        )
        .await;
        let text = stdout(&out);
        assert_eq!(
            text.contains("BEGIN CERTIFICATE"),
            ok,
            "{flag}:\n{text}\n{}",
            stderr(&out)
        );
    }
}

#[tokio::test]
async fn alpn_offers_h2_and_http_1_1() {
    let (_p, addr, _w) = generated_lab().await;
    let url = format!("https://www.lab.test:{}/", addr.port());
    let out = curl(addr, "www.lab.test", &["-v", "--http2", &url]).await;
    assert!(stderr(&out).contains("ALPN: server accepted h2"), "{}", stderr(&out));
    assert!(stdout(&out).contains("member=web"));
    let out = curl(addr, "www.lab.test", &["-v", "--http1.1", &url]).await;
    assert!(
        stderr(&out).contains("ALPN: server accepted http/1.1"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("member=web"));
}

#[tokio::test]
async fn ocsp_staple_is_sent_when_a_staple_file_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = ca();
    std::fs::write(d.join("ca.pem"), ca.issuer.pem()).unwrap();
    std::fs::write(d.join("ca.key"), ca.issuer.key().serialize_pem()).unwrap();
    leaf(d, "leaf", &["ocsp.lab.test"], &ca, None);
    let p = |f: &str| d.join(f).to_str().unwrap().to_string();
    let serial = stdout(&tool("openssl", &["x509", "-noout", "-serial", "-in", &p("leaf.pem")], None).await);
    let serial = serial.trim().trim_start_matches("serial=").to_string();
    std::fs::write(
        d.join("index.txt"),
        format!("V\t300101000000Z\t\t{serial}\tunknown\t/CN=ocsp.lab.test\n"),
    )
    .unwrap();
    let out = tool(
        "openssl",
        &[
            "ocsp",
            "-issuer",
            &p("ca.pem"),
            "-cert",
            &p("leaf.pem"),
            "-no_nonce",
            "-reqout",
            &p("req.der"),
        ],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = tool(
        "openssl",
        &[
            "ocsp",
            "-index",
            &p("index.txt"),
            "-rsigner",
            &p("ca.pem"),
            "-rkey",
            &p("ca.key"),
            "-CA",
            &p("ca.pem"),
            "-reqin",
            &p("req.der"),
            "-respout",
            &p("resp.der"),
            "-ndays",
            "1",
        ],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));

    let web = echo("web").await;
    let port = free_port();
    let text = format!(
        r#"
[certificates.leaf]
cert = "leaf.pem"
key = "leaf.key"
ocsp = "resp.der"
[pools.web]
service = "web"
members = ["127.0.0.1:{w}"]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["leaf"]
[routes.www]
listeners = ["https"]
hosts = ["ocsp.lab.test"]
pool = "web"
"#,
        w = web.port()
    );
    let base = d.to_path_buf();
    let (_proxy, _) = start(plan(&text), move |o| o.base_dir = base).await;
    let target = format!("127.0.0.1:{port}");
    let out = tool(
        "openssl",
        &[
            "s_client",
            "-connect",
            &target,
            "-servername",
            "ocsp.lab.test",
            "-status",
        ],
        Some(b""),
    )
    .await;
    let text = stdout(&out);
    assert!(text.contains("OCSP Response Status: successful"), "{text}");
    assert!(text.contains("Cert Status: good"), "{text}");
}

fn at(y: i32, m: u32, d: u32) -> SystemTime {
    // Days from the civil date (proleptic Gregorian), enough for tests.
    let (y, m) = if m <= 2 { (y - 1, m + 12) } else { (y, m) };
    let days =
        365 * y as i64 + y as i64 / 4 - y as i64 / 100 + y as i64 / 400 + (153 * (m as i64 - 3) + 2) / 5 + d as i64
            - 719469;
    UNIX_EPOCH + Duration::from_secs(days as u64 * 86400)
}

#[tokio::test]
async fn check_warns_about_expiring_certificates_and_uncovered_names() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca();
    leaf(dir.path(), "soon", &["mail.lab.test"], &ca, Some((2030, 1, 1)));
    let text = format!(
        r#"
[certificates.soon]
cert = "soon.pem"
key = "soon.key"
names = ["mail.lab.test", "autodiscover.lab.test"]
[pools.web]
service = "web"
members = ["127.0.0.1:1"]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["soon"]
[routes.mail]
listeners = ["https"]
hosts = ["mail.lab.test", "owa.lab.test"]
pool = "web"
"#,
        port = free_port()
    );
    let plan = plan(&text);
    let warnings = gatehouse_proxy::certificate_warnings_at(&plan, dir.path(), at(2029, 12, 20));
    let messages: Vec<&str> = warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("expires in 12 days")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("\"autodiscover.lab.test\"") && m.contains("does not cover")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("owa.lab.test") && m.contains("no certificate")),
        "{messages:#?}"
    );
    assert!(
        !messages.iter().any(|m| m.contains("serves mail.lab.test")),
        "{messages:#?}"
    );
    let later = gatehouse_proxy::certificate_warnings_at(&plan, dir.path(), at(2031, 1, 1));
    assert!(later.iter().any(|w| w.message.contains("expired")), "{later:#?}");
    let early = gatehouse_proxy::certificate_warnings_at(&plan, dir.path(), at(2029, 6, 1));
    assert!(!early.iter().any(|w| w.message.contains("expire")), "{early:#?}");
    // A missing file is a warning with its path, not a panic.
    let missing = gatehouse_proxy::certificate_warnings(&plan, Path::new("/nonexistent"));
    assert!(missing.iter().any(|w| w.message.contains("/nonexistent/soon.pem")));
}

/// A TLS backend presenting `cert`/`key` from `dir`.
async fn tls_backend(dir: &Path, name: &str) -> Backend {
    use rustls_pki_types::pem::PemObject;
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(dir.join(format!("{name}.pem")))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(dir.join(format!("{name}.key"))).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    backend_on(
        socket,
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        |_req, _c| async { text(200, "bridged") },
    )
    .await
}

#[tokio::test]
async fn bridging_verifies_backends_by_ca_bundle_fingerprint_or_the_front_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = ca();
    std::fs::write(d.join("ca.pem"), ca.issuer.pem()).unwrap();
    let cas_der = leaf(d, "cas", &["cas.lab.internal"], &ca, None);
    leaf(d, "front", &["mail.lab.test"], &ca, None);
    let cas = tls_backend(d, "cas").await;
    // Exchange Extended Protection: the backend presents the front certificate.
    let shared = tls_backend(d, "front").await;
    let pin: String = ring::digest::digest(&ring::digest::SHA256, &cas_der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let port = free_port();
    let routes = [
        ("ca", cas.port()),
        ("wrongname", cas.port()),
        ("pin", cas.port()),
        ("badpin", cas.port()),
        ("same", shared.port()),
        ("notsame", cas.port()),
    ];
    let mut text = format!(
        r#"
[certificates.front]
cert = "front.pem"
key = "front.key"
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["front"]
"#
    );
    // Each pool's `tls` key says how its members are trusted.
    let bad_pin = "00".repeat(32);
    let trust = [
        ("ca", "ca = \"ca.pem\", server_name = \"cas.lab.internal\"".to_string()),
        (
            "wrongname",
            "ca = \"ca.pem\", server_name = \"other.lab.internal\"".to_string(),
        ),
        ("pin", format!("fingerprint = \"{pin}\"")),
        ("badpin", format!("fingerprint = \"{bad_pin}\"")),
        ("same", "same_as = \"front\"".to_string()),
        ("notsame", "same_as = \"front\"".to_string()),
    ];
    for ((name, p), (_, tls)) in routes.iter().zip(trust.iter()) {
        text.push_str(&format!(
            "[pools.{name}]\nservice = \"exchange\"\nmembers = [\"127.0.0.1:{p}\"]\ntls = {{ {tls} }}\n\
             [routes.{name}]\nlisteners = [\"https\"]\nhosts = [\"mail.lab.test\"]\npaths = [\"/{name}\"]\npool = \"{name}\"\n"
        ));
    }
    let base = d.to_path_buf();
    let (_proxy, _) = start(plan(&text), move |o| o.base_dir = base).await;
    let mut c = h1(SocketAddr::from(([127, 0, 0, 1], port)), "mail.lab.test").await;
    for (path, want) in [
        ("/ca", 200),
        ("/wrongname", 502),
        ("/pin", 200),
        ("/badpin", 502),
        ("/same", 200),
        ("/notsame", 502),
    ] {
        let (status, _, body) = send(&mut c, get("mail.lab.test", path)).await;
        assert_eq!(status, want, "{path}: {body}");
        if want == 200 {
            assert_eq!(body, "bridged");
        }
    }
}
