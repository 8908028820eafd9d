//! NTLM/Negotiate connection pinning (HTTP/1.1 and HTTP/2 clients) and
//! member affinity (cookie, source address), with real TLS clients.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hyper::body::Incoming;
use hyper::Request;

/// A backend running an NTLM-style three-message handshake: message 1 gets a
/// 401 with a per-connection challenge, message 3 must carry that challenge
/// and must arrive on the same connection; the connection is then
/// authenticated as the client named in message 3. Requests on any other
/// connection get 401.
async fn ntlm_backend() -> Backend {
    backend(|req: Request<Incoming>, conn: Arc<BackendConn>| async move {
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut state = conn.state.lock().unwrap();
        let challenge_401 = |challenge: Option<String>| {
            let mut r = text(401, "authenticate");
            let v = match challenge {
                Some(c) => format!("NTLM T2:{c}"),
                None => "NTLM".to_string(),
            };
            r.headers_mut().insert("www-authenticate", v.parse().unwrap());
            r
        };
        match auth.as_deref().and_then(|a| a.strip_prefix("NTLM ")) {
            Some(t1) if t1.starts_with("T1:") => {
                let challenge = format!("{}-{}", conn.id, rand_nonce());
                *state = vec![format!("challenge={challenge}")];
                challenge_401(Some(challenge))
            }
            Some(t3) if t3.starts_with("T3:") => {
                let mut parts = t3[3..].splitn(2, ':');
                let (user, nonce) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                if state.first().map(String::as_str) == Some(&format!("challenge={nonce}")) {
                    *state = vec![format!("user={user}")];
                    text(200, format!("user={user} conn={}", conn.id))
                } else {
                    challenge_401(None)
                }
            }
            _ => match state.first().and_then(|s| s.strip_prefix("user=")) {
                Some(user) => text(200, format!("user={user} conn={}", conn.id)),
                None => challenge_401(None),
            },
        }
    })
    .await
}

fn rand_nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(42);
    h.finish()
}

fn topology(port: u16, pool_members: &str, affinity: &str) -> String {
    format!(
        r#"
[certificates.lab]
names = ["mail.lab.test"]
[pools.cas]
service = "exchange"
members = [{pool_members}]
[listeners.https]
address = "127.0.0.1"
port = {port}
protocol = "https"
zones = ["lab"]
certificates = ["lab"]
[routes.ews]
listeners = ["https"]
hosts = ["mail.lab.test"]
pool = "cas"
affinity = "{affinity}"
"#
    )
}

fn req(auth: Option<String>) -> Request<TestBody> {
    let mut b = Request::builder()
        .uri("/EWS/Exchange.asmx")
        .header("host", "mail.lab.test");
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    b.body(full("")).unwrap()
}

#[tokio::test]
async fn ntlm_handshake_is_pinned_per_client_connection_under_50_concurrent_clients() {
    // Two members so that an unpinned proxy would spread the three messages.
    let (a, b) = (ntlm_backend().await, ntlm_backend().await);
    let port = free_port();
    let members = format!("\"127.0.0.1:{}\", \"127.0.0.1:{}\"", a.port(), b.port());
    let (_proxy, log) = start(plan(&topology(port, &members, "none")), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut clients = Vec::new();
    for i in 0..50 {
        clients.push(tokio::spawn(async move {
            let user = format!("user{i}");
            let mut c = h1(addr, "mail.lab.test").await;
            // Before authenticating, the backend asks for NTLM.
            let (status, headers, _) = send(&mut c, req(None)).await;
            assert_eq!(status, 401);
            assert_eq!(headers["www-authenticate"], "NTLM");
            let (status, headers, _) = send(&mut c, req(Some(format!("NTLM T1:{user}")))).await;
            assert_eq!(status, 401);
            let challenge = headers["www-authenticate"]
                .to_str()
                .unwrap()
                .strip_prefix("NTLM T2:")
                .unwrap()
                .to_string();
            let (status, _, body) = send(&mut c, req(Some(format!("NTLM T3:{user}:{challenge}")))).await;
            assert_eq!(
                status, 200,
                "message 3 reached the connection that issued the challenge"
            );
            assert!(body.starts_with(&format!("user={user} ")), "{body}");
            let conn = body.split("conn=").nth(1).unwrap().to_string();
            // Later requests, without credentials, ride the authenticated connection.
            for _ in 0..5 {
                let (status, _, body) = send(&mut c, req(None)).await;
                assert_eq!(status, 200);
                assert_eq!(body, format!("user={user} conn={conn}"), "cross-talk");
            }
            conn
        }));
    }
    let mut done = 0;
    for c in clients {
        c.await.expect("client succeeded");
        done += 1;
    }
    // Each client had one backend connection of its own, and only one.
    let opened = a.connections.load(std::sync::atomic::Ordering::SeqCst)
        + b.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(opened, 50);
    assert_eq!(done, 50);
    let records = log.records();
    assert_eq!(records.iter().filter(|r| r.pinned).count(), 50 * 8);
}

#[tokio::test]
async fn pinned_backend_connection_closes_with_the_client_connection() {
    let a = ntlm_backend().await;
    let port = free_port();
    let (_proxy, _) = start(
        plan(&topology(port, &format!("\"127.0.0.1:{}\"", a.port()), "none")),
        |_| {},
    )
    .await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = h1(addr, "mail.lab.test").await;
    let (_, headers, _) = send(&mut c, req(Some("NTLM T1:alice".into()))).await;
    let challenge = headers["www-authenticate"].to_str().unwrap()[8..].to_string();
    let (status, _, _) = send(&mut c, req(Some(format!("NTLM T3:alice:{challenge}")))).await;
    assert_eq!(status, 200);
    drop(c);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // A new client connection does not inherit alice's backend connection.
    let mut d = h1(addr, "mail.lab.test").await;
    let (status, _, body) = send(&mut d, req(None)).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn http2_clients_are_told_http_1_1_required_for_ntlm() {
    let a = ntlm_backend().await;
    let port = free_port();
    let (_proxy, _) = start(
        plan(&topology(port, &format!("\"127.0.0.1:{}\"", a.port()), "none")),
        |_| {},
    )
    .await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = h2(addr, "mail.lab.test").await;
    // A request carrying NTLM credentials.
    let r = Request::builder()
        .uri(format!("https://mail.lab.test:{port}/EWS/"))
        .header("authorization", "NTLM T1:bob")
        .body(full(""))
        .unwrap();
    let err = c.send_request(r).await.expect_err("stream is reset");
    let reason = std::error::Error::source(&err)
        .and_then(|e| e.downcast_ref::<h2::Error>())
        .and_then(|e| e.reason());
    assert_eq!(reason, Some(h2::Reason::HTTP_1_1_REQUIRED), "{err:?}");
    // A request the backend answers with 401 NTLM.
    let r = Request::builder()
        .uri(format!("https://mail.lab.test:{port}/EWS/"))
        .body(full(""))
        .unwrap();
    let err = c.send_request(r).await.expect_err("stream is reset");
    let reason = std::error::Error::source(&err)
        .and_then(|e| e.downcast_ref::<h2::Error>())
        .and_then(|e| e.reason());
    assert_eq!(reason, Some(h2::Reason::HTTP_1_1_REQUIRED));

    // curl, asked for HTTP/2, falls back to HTTP/1.1 and completes the exchange.
    let out = curl(
        addr,
        "mail.lab.test",
        &[
            "--http2",
            "-v",
            "-H",
            "Authorization: NTLM T1:carol",
            &format!("https://mail.lab.test:{port}/EWS/"),
        ],
    )
    .await;
    let err = stderr(&out);
    assert!(err.contains("HTTP/1.1 401"), "curl retried over HTTP/1.1:\n{err}");
    assert!(err.contains("NTLM T2:"), "{err}");
}

#[tokio::test]
async fn cookie_affinity_keeps_100_requests_on_one_member_and_fails_over() {
    let mut members = [echo("m0").await, echo("m1").await, echo("m2").await];
    let port = free_port();
    let list = members
        .iter()
        .map(|m| format!("\"127.0.0.1:{}\"", m.port()))
        .collect::<Vec<_>>()
        .join(", ");
    let (_proxy, _) = start(plan(&topology(port, &list, "cookie")), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let jar = std::env::temp_dir().join(format!("gatehouse-jar-{port}"));
    let jar = jar.to_str().unwrap();
    let url = format!("https://mail.lab.test:{port}/owa/");
    let mut first = None;
    // Each curl run is a new TCP connection: only the cookie keeps the member.
    for i in 0..100 {
        let out = curl(addr, "mail.lab.test", &["-b", jar, "-c", jar, "-D", "-", &url]).await;
        let s = stdout(&out);
        let m = s.lines().find_map(|l| l.strip_prefix("member=")).unwrap().to_string();
        if i == 0 {
            let cookie = s
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
                .unwrap_or_else(|| panic!("first answer sets the cookie:\n{s}"));
            for attr in ["HttpOnly", "Secure", "SameSite=Lax", "gatehouse-cas="] {
                assert!(cookie.contains(attr), "{cookie}");
            }
            assert!(!cookie.contains("127.0.0.1"), "the cookie is opaque: {cookie}");
        }
        let first = first.get_or_insert(m.clone());
        assert_eq!(&m, first, "request {i}");
    }
    // The member dies: the next request goes elsewhere and resets the cookie.
    let dead: usize = first.as_ref().unwrap()[1..].parse().unwrap();
    members[dead].kill();
    let out = curl(addr, "mail.lab.test", &["-b", jar, "-c", jar, "-D", "-", &url]).await;
    let s = stdout(&out);
    let m = s
        .lines()
        .find_map(|l| l.strip_prefix("member="))
        .unwrap_or_else(|| panic!("{s}"));
    assert_ne!(m, format!("m{dead}"));
    assert!(
        s.to_ascii_lowercase().contains("set-cookie: gatehouse-cas="),
        "cookie reset:\n{s}"
    );
    // ... and the new member sticks.
    let out = curl(addr, "mail.lab.test", &["-b", jar, "-c", jar, &url]).await;
    assert!(stdout(&out).contains(&format!("member={m}")));
    // The backend never sees gatehouse's cookie.
    assert!(!stdout(&out).contains("gatehouse-cas"), "{}", stdout(&out));
    let _ = std::fs::remove_file(jar);
}

#[tokio::test]
async fn source_ip_affinity_keeps_a_client_on_one_member() {
    let members = [echo("m0").await, echo("m1").await, echo("m2").await];
    let port = free_port();
    let list = members
        .iter()
        .map(|m| format!("\"127.0.0.1:{}\"", m.port()))
        .collect::<Vec<_>>()
        .join(", ");
    let (_proxy, _) = start(plan(&topology(port, &list, "source-ip")), |_| {}).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut seen = HashSet::new();
    for _ in 0..20 {
        let mut c = h1(addr, "mail.lab.test").await;
        let (_, _, body) = send(&mut c, get("mail.lab.test", "/owa/")).await;
        seen.insert(body.lines().next().unwrap().to_string());
    }
    assert_eq!(seen.len(), 1, "{seen:?}");
}

/// The member a cookie jar's cookie pins, by asking through a proxy, and
/// whether the proxy (re)set the cookie.
async fn member_for(addr: SocketAddr, jar: &str, url: &str) -> (String, bool) {
    let out = curl(addr, "mail.lab.test", &["-b", jar, "-c", jar, "-D", "-", url]).await;
    let s = stdout(&out);
    let member = s
        .lines()
        .find_map(|l| l.strip_prefix("member="))
        .unwrap_or_else(|| panic!("{s}"))
        .to_string();
    (member, s.to_ascii_lowercase().contains("set-cookie: gatehouse-cas="))
}

#[tokio::test]
async fn an_affinity_key_file_keeps_cookies_valid_across_restarts() {
    let members = [echo("m0").await, echo("m1").await, echo("m2").await];
    let list = members
        .iter()
        .map(|m| format!("\"127.0.0.1:{}\"", m.port()))
        .collect::<Vec<_>>()
        .join(", ");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("affinity.key"), "k".repeat(48)).unwrap();
    std::fs::write(dir.path().join("other.key"), "o".repeat(48)).unwrap();
    let jar = dir.path().join("jar");
    let jar = jar.to_str().unwrap().to_string();
    let run = |port: u16, key: &str| {
        let text = format!(
            "{}[http]\naffinity_secret_file = \"{key}\"\n",
            topology(port, &list, "cookie")
        );
        let base = dir.path().to_path_buf();
        async move { restart(plan(&text), move |o| o.base_dir = base.clone()).await.0 }
    };
    let port = free_port();
    let url = format!("https://mail.lab.test:{port}/owa/");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let proxy = run(port, "affinity.key").await;
    let (pinned, set) = member_for(addr, &jar, &url).await;
    assert!(set, "the first answer sets the cookie");
    proxy.shutdown(Duration::from_secs(1)).await;
    // A new process with the same key honours the cookie as it is.
    let proxy = run(port, "affinity.key").await;
    for _ in 0..6 {
        assert_eq!(member_for(addr, &jar, &url).await, (pinned.clone(), false));
    }
    proxy.shutdown(Duration::from_secs(1)).await;
    // With another key the cookie is not trusted: it is set anew.
    let proxy = run(port, "other.key").await;
    assert!(
        member_for(addr, &jar, &url).await.1,
        "a cookie signed with another key is replaced"
    );
    proxy.shutdown(Duration::from_secs(1)).await;
    // A key that is too short is refused at start, with the reason.
    std::fs::write(dir.path().join("short.key"), "tiny").unwrap();
    let text = format!(
        "{}[http]\naffinity_secret_file = \"short.key\"\n",
        topology(port, &list, "cookie")
    );
    let options = gatehouse_proxy::ProxyOptions::new(dir.path());
    let err = gatehouse_proxy::HttpProxy::start_with(plan(&text), options)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("needs at least 32"), "{err}");
}
